package quarantine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
)

// ItemKey is the key a sighting keeps of a queried item: a short hash of
// its signal and value, enough to tell items apart, never the value.
func ItemKey(it matcher.Item) [16]byte {
	b := []byte("ward sighting v1\x00" + string(it.Signal) + "\x00")
	switch it.Signal {
	case indicator.PDQ:
		for _, w := range it.PDQ {
			b = binary.BigEndian.AppendUint64(b, w)
		}
	case indicator.MD5:
		b = append(b, it.MD5[:]...)
	default:
		b = append(b, it.SHA256[:]...)
	}
	sum := sha256.Sum256(b)
	return [16]byte(sum[:16])
}

// FlushEvery is how often a Tracker writes its sightings to the store
// (Tracker.Run): a flood is noticed within about this much of its
// crossing the threshold.
const FlushEvery = 250 * time.Millisecond

// PurgeEvery is how often cmd/ward runs JobPurge.
const PurgeEvery = 10 * time.Minute

// JobPurge is the periodic job that deletes sightings older than the
// flood window (Service.PurgeSightings); cmd/ward registers it.
const JobPurge = "quarantine.purge"

// purgeBatch bounds the sightings one statement deletes.
const purgeBatch = 10000

// Tracker counts, on one node, the distinct items each indicator matched,
// and flushes them to the store, where the matches of every node add up
// and the flood rule is applied. It holds at most Options.FloodMatches+1
// items per indicator and Options.MaxPending in all between flushes (more
// would not change a verdict of this flush, or would be a flood of
// queries itself); what it drops beyond is counted (Dropped). Its methods
// are safe for concurrent use.
type Tracker struct {
	s *Service

	mu      sync.Mutex
	pending map[int64]map[[16]byte]struct{}
	n       int // items in pending

	dropped atomic.Int64
}

// NewTracker returns a tracker of s's flood rule.
func (s *Service) NewTracker() *Tracker {
	return &Tracker{s: s, pending: map[int64]map[[16]byte]struct{}{}}
}

// Saw notes that indicator matched item (an ItemKey). It is quick, takes
// no I/O, and is called on the match path.
func (t *Tracker) Saw(indicator int64, item [16]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.pending[indicator]
	if _, ok := set[item]; ok {
		return
	}
	if t.n >= t.s.o.MaxPending || len(set) > t.s.o.FloodMatches {
		t.dropped.Add(1)
		return
	}
	if set == nil {
		set = map[[16]byte]struct{}{}
		t.pending[indicator] = set
	}
	set[item] = struct{}{}
	t.n++
}

// Dropped returns the number of sightings dropped since the tracker
// started because it held as many as it may.
func (t *Tracker) Dropped() int64 { return t.dropped.Load() }

// Flush writes the sightings noted since the last flush to the store and
// quarantines (cause Flood) each of their indicators that matched more
// than Options.FloodMatches distinct items within Options.FloodWindow.
// Sightings it could not write are lost: they are a measure, not a
// record.
func (t *Tracker) Flush(ctx context.Context) error {
	t.mu.Lock()
	pending := t.pending
	t.pending, t.n = map[int64]map[[16]byte]struct{}{}, 0
	t.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	var ss []Sighting
	for id, set := range pending {
		for k := range set {
			ss = append(ss, Sighting{Indicator: id, Item: k})
		}
	}
	now := t.s.o.Clock.Now()
	counts, err := t.s.st.AddSightings(ctx, ss, now, now.Add(-t.s.o.FloodWindow))
	if err != nil {
		return fmt.Errorf("recording sightings: %w", err)
	}
	var errs []error
	for id, n := range counts {
		if n > t.s.o.FloodMatches {
			if err := t.s.flood(ctx, id, n); err != nil {
				errs = append(errs, fmt.Errorf("quarantining flooded indicator %d: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Run flushes every interval until ctx is done, and once more then (with
// a short deadline of its own), reporting errors to onError.
func (t *Tracker) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := t.Flush(final); err != nil {
				onError(err)
			}
			return
		case <-tick.C:
			if err := t.Flush(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// PurgeSightings deletes the sightings older than the flood window, which
// no longer count: JobPurge.
func (s *Service) PurgeSightings(ctx context.Context) error {
	before := s.o.Clock.Now().Add(-s.o.FloodWindow)
	for {
		n, err := s.st.PurgeSightings(ctx, before, purgeBatch)
		if err != nil || n < purgeBatch {
			return err
		}
	}
}
