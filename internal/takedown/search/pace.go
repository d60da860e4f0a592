package search

import (
	"context"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// maxHosts is how many hosts a Pacer remembers at most: it forgets
// those whose spacing has passed, and a request to a new host waits
// while every one remembered is still spaced.
const maxHosts = 4096

// Pacer spaces requests to each host name by at least a delay, across
// every run that uses it: its Wait is crawl.Config.Pace of the search's
// fetcher. Safe for concurrent use.
type Pacer struct {
	delay time.Duration
	clock core.Clock
	mu    sync.Mutex
	next  map[string]time.Time // when the next request to a host may start
}

// NewPacer returns a Pacer of delay (0: no spacing).
func NewPacer(delay time.Duration) *Pacer {
	return &Pacer{delay: delay, next: map[string]time.Time{}}
}

// Wait waits until a request to host may start, and takes that turn: the
// next request to host waits a delay more. It returns ctx's cause if ctx
// ends first (the turn is then lost, which only spaces the next ones
// more).
func (p *Pacer) Wait(ctx context.Context, host string) error {
	if p.delay <= 0 {
		return nil
	}
	for {
		at, now, taken := p.turn(host)
		if d := at.Sub(now); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
		}
		if taken {
			return nil
		}
	}
}

// turn takes host's turn and returns when it starts, with the time now;
// or, for a new host while maxHosts are remembered and still spaced,
// takes none and returns when the first of them may be forgotten, for
// the caller to wait and try again: forgetting a host still spaced
// would let its next request come early.
func (p *Pacer) turn(host string) (at, now time.Time, taken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now = p.clock.Now()
	if _, ok := p.next[host]; !ok && len(p.next) >= maxHosts {
		var first time.Time
		for h, t := range p.next {
			if !t.After(now) {
				delete(p.next, h)
			} else if first.IsZero() || t.Before(first) {
				first = t
			}
		}
		if len(p.next) >= maxHosts {
			return first, now, false
		}
	}
	at = now
	if t := p.next[host]; t.After(now) {
		at = t
	}
	p.next[host] = at.Add(p.delay)
	return at, now, true
}
