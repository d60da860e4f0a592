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
// its signal and value, enough to tell items apart, never the value. The
// item is the hash that matched the indicator, not another of the same
// content.
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

// refreshParts: a sighting's stored time is refreshed at most every
// FloodWindow/refreshParts, and a Tracker sends a repeat at most as often,
// so that one key matching the same items again and again keeps neither
// the store nor its writer busy. A stored time is thus at most
// FloodWindow/4 behind the latest match of its item: an item counts for at
// least three quarters of the window after it was last matched.
const refreshParts = 8

// pair is an indicator and a provider that matched it.
type pair struct{ indicator, provider int64 }

// sighting is a Sighting as a Tracker keeps it.
type sighting struct {
	pair
	item [16]byte
}

// flushed is a generation of what a Tracker flushed recently: sightings,
// and the pairs whose provider has more than FloodMatches items counted
// (more of its items cannot change a verdict).
type flushed struct {
	sightings map[sighting]struct{}
	full      map[pair]struct{}
}

func newFlushed() flushed {
	return flushed{sightings: map[sighting]struct{}{}, full: map[pair]struct{}{}}
}

func (f flushed) len() int { return len(f.sightings) + len(f.full) }

// Tracker counts, on one node, the distinct items each indicator matched
// by each provider, and flushes them to the store, where the matches of
// every node add up and the flood rule is applied. It holds at most
// Options.FloodMatches+1 items per indicator and provider and
// Options.MaxPending in all between flushes (more would not change a
// verdict of this flush, or would be a flood of queries itself); what it
// drops beyond is counted (Dropped).
//
// It also remembers, in two generations of at most Options.MaxPending
// entries each (about 60 bytes an entry: some 12 MB at the default), the
// sightings it flushed within about FloodWindow/refreshParts, and the
// indicators whose provider has more than FloodMatches items counted:
// their repeats, and such a provider's further items, are not even sent.
// Its methods are safe for concurrent use.
type Tracker struct {
	s *Service

	mu      sync.Mutex
	pending map[sighting]struct{}
	per     map[pair]int // items in pending per pair
	// cur and prev are the generations of what was flushed recently;
	// rotated is when cur began.
	cur, prev flushed
	rotated   time.Time

	dropped atomic.Int64
}

// NewTracker returns a tracker of s's flood rule.
func (s *Service) NewTracker() *Tracker {
	return &Tracker{s: s, pending: map[sighting]struct{}{}, per: map[pair]int{}, cur: newFlushed(), prev: newFlushed(),
		rotated: s.o.Clock.Now()}
}

// refresh is how often a sighting's time is refreshed.
func (s *Service) refresh() time.Duration { return s.o.FloodWindow / refreshParts }

// Saw notes that indicator matched item (an ItemKey) for provider. It is
// quick, takes no I/O, and is called on the match path.
func (t *Tracker) Saw(indicator, provider int64, item [16]byte) {
	k := sighting{pair{indicator, provider}, item}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.pending[k]; ok || t.recent(k) {
		return
	}
	if len(t.pending) >= t.s.o.MaxPending || t.per[k.pair] > t.s.o.FloodMatches {
		t.dropped.Add(1)
		return
	}
	t.pending[k] = struct{}{}
	t.per[k.pair]++
}

// recent reports whether k need not be sent: it was flushed recently, or
// its provider's items of the indicator are enough already.
func (t *Tracker) recent(k sighting) bool {
	for _, g := range []flushed{t.cur, t.prev} {
		_, seen := g.sightings[k]
		_, full := g.full[k.pair]
		if seen || full {
			return true
		}
	}
	return false
}

// rotate starts a new generation every half refresh, so that nothing is
// remembered for much more than a refresh, or when cur is full.
func (t *Tracker) rotate(now time.Time) {
	switch age := now.Sub(t.rotated); {
	case age >= t.s.refresh():
		t.cur, t.prev, t.rotated = newFlushed(), newFlushed(), now
	case age >= t.s.refresh()/2 || t.cur.len() >= t.s.o.MaxPending:
		t.cur, t.prev, t.rotated = newFlushed(), t.cur, now
	}
}

// Dropped returns the number of sightings dropped since the tracker
// started because it held as many as it may.
func (t *Tracker) Dropped() int64 { return t.dropped.Load() }

// Flush writes the sightings noted since the last flush to the store and
// quarantines (cause Flood) each of their indicators that is flooded, as
// the package's rules say. Sightings it could not write are lost: they are
// a measure, not a record.
func (t *Tracker) Flush(ctx context.Context) error {
	now := t.s.o.Clock.Now()
	t.mu.Lock()
	t.rotate(now)
	pending := t.pending
	t.pending, t.per = map[sighting]struct{}{}, map[pair]int{}
	t.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	ss := make([]Sighting, 0, len(pending))
	for k := range pending {
		ss = append(ss, Sighting{Indicator: k.indicator, Provider: k.provider, Item: k.item})
	}
	counts, err := t.s.st.AddSightings(ctx, ss, now, now.Add(-t.s.refresh()), now.Add(-t.s.o.FloodWindow))
	if err != nil {
		return fmt.Errorf("recording sightings: %w", err)
	}
	t.mu.Lock()
	for k := range pending {
		t.rotate(now)
		t.cur.sightings[k] = struct{}{}
	}
	for id, c := range counts {
		for p, n := range c.ByProvider {
			if n > t.s.o.FloodMatches {
				t.rotate(now)
				t.cur.full[pair{id, p}] = struct{}{}
			}
		}
	}
	t.mu.Unlock()
	var errs []error
	for id, c := range counts {
		if t.s.flooded(c) {
			if err := t.s.flood(ctx, id, c); err != nil {
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
