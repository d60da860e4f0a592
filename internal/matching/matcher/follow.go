package matcher

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardhq/ward/internal/indicator"
)

// Source is where the server's matcher comes from: the indicator store.
type Source interface {
	Lists(ctx context.Context) ([]indicator.ListInfo, error)
	ForEachActive(ctx context.Context, list string, fn func(indicator.Indicator) error) (map[string]int64, error)
	Changes(ctx context.Context, list string, after int64, limit int) ([]indicator.Change, error)
}

// Follower loads a Matcher from a Source and then keeps it current by
// reading each list's change feed from where the load's snapshot ended, so
// that nothing is missed or applied twice. Every server node runs its own.
type Follower struct {
	m   *Matcher
	src Source

	mu    sync.Mutex
	heads map[string]int64 // last change applied, per list

	ready    atomic.Bool
	lastPoll atomic.Int64 // unix nanoseconds of the last successful poll
}

// NewFollower returns a follower that fills m from src.
func NewFollower(m *Matcher, src Source) *Follower {
	return &Follower{m: m, src: src, heads: map[string]int64{}}
}

// Ready reports whether the initial load has finished.
func (f *Follower) Ready() bool { return f.ready.Load() }

// LastPoll is when the feeds were last read without error.
func (f *Follower) LastPoll() time.Time { return time.Unix(0, f.lastPoll.Load()) }

// Load reads every active indicator and builds the indexes in bulk.
func (f *Follower) Load(ctx context.Context) error {
	lists, err := f.src.Lists(ctx)
	if err != nil {
		return err
	}
	b := NewBuilder()
	heads, err := f.src.ForEachActive(ctx, "", func(in indicator.Indicator) error {
		return b.Add(entryOf(in.ID, in.List, in.Signal, in.Value, in.Category))
	})
	if err != nil {
		return fmt.Errorf("loading indicators: %w", err)
	}
	caps := map[string]int{}
	for _, l := range lists {
		caps[l.Name] = l.MaxDistance
	}
	b.Install(f.m, caps)
	f.mu.Lock()
	for name := range caps {
		f.heads[name] = heads[name]
	}
	f.mu.Unlock()
	f.ready.Store(true)
	f.lastPoll.Store(time.Now().UnixNano())
	return nil
}

func entryOf(id int64, list string, sig indicator.Signal, value string, c indicator.Category) Entry {
	return Entry{ID: id, List: list, Signal: sig, Value: value, Category: c}
}

// Poll applies every change made since the last poll, and picks up new
// lists and changed distance caps.
func (f *Follower) Poll(ctx context.Context) error {
	lists, err := f.src.Lists(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lists {
		if _, ok := f.heads[l.Name]; !ok {
			f.heads[l.Name] = 0 // a new list: its whole feed follows
		}
		f.m.SetList(l.Name, l.MaxDistance)
		if l.Head <= f.heads[l.Name] {
			continue
		}
		for {
			changes, err := f.src.Changes(ctx, l.Name, f.heads[l.Name], indicator.MaxChanges)
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				break
			}
			for _, c := range changes {
				e := entryOf(c.IndicatorID, c.List, c.Signal, c.Value, c.Category)
				switch c.Kind {
				case indicator.Activate, indicator.Release:
					err = f.m.Add(e)
				case indicator.Withdraw, indicator.Quarantine:
					err = f.m.Remove(e)
				}
				if err != nil {
					return fmt.Errorf("applying change %d of list %s: %w", c.Seq, c.List, err)
				}
				f.heads[l.Name] = c.Seq
			}
		}
	}
	f.lastPoll.Store(time.Now().UnixNano())
	return nil
}

// Run polls every interval until ctx is done, reporting poll errors to
// onError and carrying on.
func (f *Follower) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.Poll(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
