package takedown_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// sweep runs RecheckDue once.
func (e *env) sweep(t *testing.T) {
	t.Helper()
	if err := e.svc.RecheckDue(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// noticedCase reports raw, fetches it and assesses every item as
// classified, and returns the case.
func (e *env) noticedCase(t *testing.T, raw string, cs ...takedown.Classification) takedown.Case {
	t.Helper()
	c := e.fetched(t, org.Principal{}, raw)
	c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{Items: classify(cs...)})
	if err != nil || c.State != takedown.Noticed {
		t.Fatalf("assessed: %+v, %v", c, err)
	}
	return c
}

func countEvents(c takedown.Case, k takedown.EventKind) int {
	n := 0
	for _, ev := range c.Events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// TestRecheckWithoutPDQ: an item without a PDQ hash (a page, a video)
// whose bytes change at every request (a view counter) is not gone: only
// an answer that it is not there (404, 410) is.
func TestRecheckWithoutPDQ(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		var views atomic.Int64
		var gone atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if gone.Load() {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><body><p>the page</p><p>views: %d</p></body></html>", views.Add(1))
		}))
		defer srv.Close()
		e.setHosting(srv.URL+"/", takedown.Hosting{Country: "NL", Host: e.host.ID})
		c := e.noticedCase(t, srv.URL+"/", takedown.National)
		if c.Items[0].PDQ != "" {
			t.Fatalf("the page has a PDQ hash: %+v", c.Items[0])
		}
		for range 3 {
			e.clock.Add(takedown.DefaultRecheck)
			e.sweep(t)
		}
		got := e.get(t, c.ID)
		if got.State != takedown.Noticed || !got.Items[0].RemovedAt.IsZero() || !got.Items[0].GoneAt.IsZero() ||
			!got.Items[0].LastCheckAt.Equal(e.clock.Now()) {
			t.Fatalf("a page still up, changed: state %s, item %+v", got.State, got.Items[0])
		}
		gone.Store(true)
		first := e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		e.clock.Add(takedown.DefaultConfirmAfter)
		e.sweep(t)
		if got := e.get(t, c.ID); got.State != takedown.Removed || !got.RemovedAt.Equal(first) {
			t.Fatalf("a page gone: state %s at %v, want removed at %v", got.State, got.RemovedAt, first)
		}
	})
}

// TestRecheckConfirms: one answer that an item is gone (a CDN's brief
// 404, a resolver filtering the name) does not verify removal: a second
// check ConfirmAfter later must find it gone too, and the item is then
// removed at the first; an item found up again is rechecked as before.
func TestRecheckConfirms(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		img := storetest.Image(t, 31)
		e.site.set("/x.png", img)
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		confirm := takedown.DefaultConfirmAfter

		// Gone once, then back.
		e.site.set("/x.png", nil)
		first := e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		it := e.get(t, c.ID).Items[0]
		if !it.RemovedAt.IsZero() || !it.GoneAt.Equal(first) || !it.NextCheckAt.Equal(first.Add(confirm)) {
			t.Fatalf("gone once: %+v", it)
		}
		// The host's answer does not bring the confirmation forward.
		e.clock.Add(time.Minute)
		if _, err := e.svc.Answer(e.ctx, e.hostKey(e.host), c.Notices[0].ID); err != nil {
			t.Fatal(err)
		}
		e.sweep(t)
		if it := e.get(t, c.ID).Items[0]; !it.LastCheckAt.Equal(first) || !it.NextCheckAt.Equal(first.Add(confirm)) {
			t.Fatalf("answered while confirming: %+v", it)
		}
		e.site.set("/x.png", img)
		back := e.clock.Add(confirm - time.Minute)
		e.sweep(t)
		got := e.get(t, c.ID)
		if it := got.Items[0]; got.State != takedown.Noticed || !it.RemovedAt.IsZero() || !it.GoneAt.IsZero() ||
			!it.NextCheckAt.Equal(back.Add(takedown.DefaultRecheck)) {
			t.Fatalf("back up: state %s, item %+v", got.State, it)
		}

		// Gone twice: removed at the first.
		e.site.set("/x.png", nil)
		first = e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		// A check that learns nothing (503) keeps the first observation.
		e.site.mu.Lock()
		e.site.failing = true
		e.site.mu.Unlock()
		e.clock.Add(confirm)
		e.sweep(t)
		if it := e.get(t, c.ID).Items[0]; !it.RemovedAt.IsZero() || !it.GoneAt.Equal(first) {
			t.Fatalf("503 while confirming: %+v", it)
		}
		e.site.mu.Lock()
		e.site.failing = false
		e.site.mu.Unlock()
		e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		got = e.get(t, c.ID)
		if got.State != takedown.Removed || !got.RemovedAt.Equal(first) || !got.Items[0].RemovedAt.Equal(first) ||
			countEvents(got, takedown.EventItemGone) != 1 {
			t.Fatalf("gone twice: state %s at %v (want %v), item %+v", got.State, got.RemovedAt, first, got.Items[0])
		}
	})
}

// tarpit is a fetcher whose rechecks hang while block is set, as a host
// answering a byte a minute makes them.
type tarpit struct {
	*httpFetcher
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (f *tarpit) Get(ctx context.Context, raw string) crawl.Resource {
	if f.block.Load() {
		select {
		case f.entered <- struct{}{}:
		default:
		}
		select {
		case <-f.release:
		case <-ctx.Done():
		}
	}
	return f.httpFetcher.Get(ctx, raw)
}

// TestRecheckRenoticesFirst: re-notices and escalations are queued
// before the rechecks, so that hosts slow to answer do not hold them up.
func TestRecheckRenoticesFirst(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		f := &tarpit{httpFetcher: newHTTPFetcher(), entered: make(chan struct{}, 16), release: make(chan struct{})}
		e.reopen(func(o *takedown.Options) { o.Fetcher = f })
		e.site.set("/x.png", storetest.Image(t, 32))
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		e.clock.Add(takedown.DefaultEscalateAfter + time.Minute)
		f.block.Store(true)
		done := make(chan error, 1)
		go func() { done <- e.svc.RecheckDue(e.ctx) }()
		select {
		case <-f.entered:
		case err := <-done:
			t.Fatalf("the sweep ended without a recheck: %v", err)
		}
		pending := e.pending(t, takedown.JobNotice)
		escalated := e.get(t, c.ID).Escalated
		close(f.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pending, []string{c.Notices[0].ID}) || !escalated {
			t.Fatalf("while the rechecks hang: notice jobs %v, escalated %v", pending, escalated)
		}
	})
}

// slowFetcher answers each recheck a minute later on the test's clock.
type slowFetcher struct {
	*httpFetcher
	clock *coretest.Clock
	gets  atomic.Int64
}

func (f *slowFetcher) Get(ctx context.Context, raw string) crawl.Resource {
	f.gets.Add(1)
	f.clock.Add(time.Minute)
	return f.httpFetcher.Get(ctx, raw)
}

// TestRecheckBudget: one sweep rechecks for at most Options.RecheckBudget
// and leaves the rest due for the next.
func TestRecheckBudget(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		const n = 8
		e.site.set("/x.png", storetest.Image(t, 33))
		var cases []string
		for range n {
			cases = append(cases, e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline).ID)
		}
		f := &slowFetcher{httpFetcher: newHTTPFetcher(), clock: e.clock}
		e.reopen(func(o *takedown.Options) { o.Fetcher, o.RecheckBudget, o.RecheckWorkers = f, 3*time.Minute, 1 })
		e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		if got := f.gets.Load(); got != 3 {
			t.Fatalf("%d rechecks in a sweep of 3 minutes at a minute each, want 3", got)
		}
		checked := 0
		for _, id := range cases {
			if !e.get(t, id).Items[0].LastCheckAt.IsZero() {
				checked++
			}
		}
		if checked != 3 {
			t.Fatalf("%d items recorded as checked, want 3", checked)
		}
		for range 2 {
			e.sweep(t)
		}
		if got := f.gets.Load(); got != n {
			t.Fatalf("%d rechecks after three sweeps, want %d", got, n)
		}
	})
}

// nestingFetcher runs a whole sweep inside the first recheck of each
// outer sweep, as a second sweep running at the same time would.
type nestingFetcher struct {
	*httpFetcher
	inner atomic.Bool
	sweep func()
}

func (f *nestingFetcher) Get(ctx context.Context, raw string) crawl.Resource {
	if f.inner.CompareAndSwap(false, true) {
		f.sweep()
		f.inner.Store(false)
	}
	return f.httpFetcher.Get(ctx, raw)
}

// TestConcurrentSweeps: two sweeps finding an item gone at the same time
// record it once.
func TestConcurrentSweeps(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		f := &nestingFetcher{httpFetcher: newHTTPFetcher()}
		e.reopen(func(o *takedown.Options) { o.Fetcher = f })
		f.sweep = func() {
			if err := e.svc.RecheckDue(e.ctx); err != nil {
				t.Error(err)
			}
		}
		e.site.set("/x.png", storetest.Image(t, 34))
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		e.site.set("/x.png", nil)
		e.clock.Add(takedown.DefaultRecheck)
		for range 3 {
			e.sweep(t)
			e.clock.Add(takedown.DefaultConfirmAfter)
		}
		got := e.get(t, c.ID)
		if got.State != takedown.Removed || countEvents(got, takedown.EventItemGone) != 1 || countEvents(got, takedown.EventRemoved) != 1 {
			t.Fatalf("state %s, events %+v", got.State, got.Events)
		}
	})
}
