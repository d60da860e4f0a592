package search

import (
	"context"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// maxHosts is how many hosts a Pacer remembers before it forgets those
// whose spacing has passed.
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
	p.mu.Lock()
	now := p.clock.Now()
	if len(p.next) >= maxHosts {
		for h, t := range p.next {
			if !t.After(now) {
				delete(p.next, h)
			}
		}
	}
	at := now
	if t := p.next[host]; t.After(now) {
		at = t
	}
	p.next[host] = at.Add(p.delay)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}
