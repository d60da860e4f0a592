package takedown_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
)

// TestFoundService: Found opens a case with its fetch job and a found
// event, once while it is open, and refuses a bad URL or no place.
func TestFoundService(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		for _, bad := range []struct {
			url   string
			place int64
		}{{"ftp://x.example/", 1}, {"https://u:p@x.example/", 1}, {"https://x.example/", 0}} {
			if _, _, err := e.svc.Found(e.ctx, bad.url, bad.place); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("Found(%q, %d): %v; want ErrInvalid", bad.url, bad.place, err)
			}
		}
		u := e.site.url("/page")
		id, opened, err := e.svc.Found(e.ctx, u, 4)
		if err != nil || !opened {
			t.Fatalf("Found: %v %v", opened, err)
		}
		again, opened, err := e.svc.Found(e.ctx, u, 5)
		if err != nil || opened || again != id {
			t.Errorf("Found again: %s %v %v; want %s, not opened", again, opened, err, id)
		}
		if got := e.pending(t, takedown.JobFetch); !slices.Equal(got, []string{id}) {
			t.Errorf("fetch jobs %q; want one of %s", got, id)
		}
		c := e.get(t, id)
		if c.Place != 4 || c.Source != 0 || len(c.Events) != 1 || c.Events[0].Kind != takedown.EventFound ||
			c.Events[0].Detail != "by the centre's search, place 4" {
			t.Errorf("case %+v, events %+v", c, c.Events)
		}
	})
}

// TestFoundCooldown: a URL whose case was assessed as not illegal gets
// no new case from the search within Options.FoundCooldown of the
// assessment, and gets one after it.
func TestFoundCooldown(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/harmless.png", storetest.Image(t, 3))
		u := e.site.url("/harmless.png")
		id, opened, err := e.svc.Found(e.ctx, u, 4)
		if err != nil || !opened {
			t.Fatalf("Found: %v %v", opened, err)
		}
		e.drain(t, takedown.JobFetch, e.svc.Fetch)
		e.clock.Add(time.Hour)
		c, err := e.svc.Assess(e.ctx, e.analyst(e.centre), id, takedown.Assessment{Items: classify(takedown.NotIllegal)})
		if err != nil || c.State != takedown.Closed {
			t.Fatalf("assessed: %s, %v; want closed", c.State, err)
		}
		e.clock.Add(takedown.DefaultFoundCooldown - time.Second)
		again, opened, err := e.svc.Found(e.ctx, u, 4)
		if err != nil || opened || again != id {
			t.Errorf("found within the cool-down: %s %v %v; want %s, not opened", again, opened, err, id)
		}
		if got := e.pending(t, takedown.JobFetch); len(got) != 0 {
			t.Errorf("fetch jobs %q within the cool-down; want none", got)
		}
		e.clock.Add(2 * time.Second)
		later, opened, err := e.svc.Found(e.ctx, u, 4)
		if err != nil || !opened || later == id {
			t.Fatalf("found after the cool-down: %s %v %v; want a new case", later, opened, err)
		}
		if got := e.pending(t, takedown.JobFetch); !slices.Equal(got, []string{later}) {
			t.Errorf("fetch jobs %q; want one of %s", got, later)
		}
	})
}
