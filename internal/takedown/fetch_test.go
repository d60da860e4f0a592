package takedown_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// report reports raw as the public and returns the case's ID.
func (e *env) report(t *testing.T, raw string) string {
	t.Helper()
	rc, err := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: raw})
	if err != nil {
		t.Fatal(err)
	}
	return rc.ID
}

// TestFetchRetries: a URL that could not be fetched for a reason that
// may pass is fetched again, by the job's retries, each failure counted
// on the case, until it is fetched or the attempts run out; one gone,
// refused or answered with another 4xx closes its case at once.
func TestFetchRetries(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		// Package crawl's fetcher, as the server's: it tells a 5xx and a
		// refused connection from a page.
		e.reopen(func(o *takedown.Options) {
			o.Fetcher, o.FetchAttempts = crawl.New(crawl.Config{AllowPrivate: true}), 3
		})
		img := storetest.Image(t, 50)
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/forbidden":
				http.Error(w, "no", http.StatusForbidden)
			case calls.Add(1) <= 2:
				http.Error(w, "busy", http.StatusServiceUnavailable)
			default:
				w.Write(img)
			}
		}))
		t.Cleanup(srv.Close)

		// Fails twice, then serves.
		id := e.report(t, srv.URL+"/x.png")
		for attempt := 1; attempt <= 2; attempt++ {
			err := e.svc.Fetch(e.ctx, id)
			if err == nil || jobs.IsPermanent(err) || !strings.Contains(err.Error(), "to be tried again") {
				t.Fatalf("attempt %d: %v, want an error to retry", attempt, err)
			}
			if c := e.get(t, id); c.State != takedown.Fetching || c.FetchAttempts != attempt ||
				c.FetchError != "the server answered 503 Service Unavailable" || len(c.Items) != 0 {
				t.Fatalf("after attempt %d: %+v", attempt, c)
			}
		}
		if err := e.svc.Fetch(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		if c := e.get(t, id); c.State != takedown.Assessing || c.FetchAttempts != 2 || c.FetchError != "" || len(c.Items) != 1 ||
			c.Items[0].SHA256 == "" || !c.Items[0].HasContent {
			t.Fatalf("fetched at the third attempt: %+v", c)
		}

		// Never answers: closed at the last attempt, with its error.
		id = e.report(t, "http://127.0.0.1:1/x.png")
		for range 2 {
			if err := e.svc.Fetch(e.ctx, id); err == nil || jobs.IsPermanent(err) {
				t.Fatalf("a refused connection: %v, want an error to retry", err)
			}
		}
		if err := e.svc.Fetch(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		c := e.get(t, id)
		if c.State != takedown.Closed || c.FetchAttempts != 3 || !strings.Contains(c.FetchError, "connection refused") ||
			c.Reason != "the URL could not be fetched in 3 attempts: "+c.FetchError || countEvents(c, takedown.EventClosed) != 1 {
			t.Fatalf("given up: %+v", c)
		}

		// What fetching again would not change closes the case at once
		// (a URL gone too: TestFetchGone).
		for _, tc := range []struct {
			name, url string
			fetcher   takedown.Fetcher
		}{
			{"forbidden", srv.URL + "/forbidden", nil},
			{"refused", srv.URL + "/x.png", crawl.New(crawl.Config{})}, // loopback, not allowed
		} {
			if tc.fetcher != nil {
				e.reopen(func(o *takedown.Options) { o.Fetcher = tc.fetcher })
			}
			id := e.report(t, tc.url)
			if err := e.svc.Fetch(e.ctx, id); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if c := e.get(t, id); c.State != takedown.Closed || c.FetchAttempts != 0 || c.Reason != "nothing could be fetched" || c.FetchError == "" {
				t.Errorf("%s: %+v", tc.name, c)
			}
		}
	})
}
