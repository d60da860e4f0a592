package takedown_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
)

// TestAnswerRepeated: an answer repeated within a minute of the last
// changes nothing and is not an error; one later is recorded.
func TestAnswerRepeated(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/x.png", storetest.Image(t, 35))
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		id := c.Notices[0].ID
		answers := func() (events, audits int, jobs []string) {
			return countEvents(e.get(t, c.ID), takedown.EventAnswered),
				storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'takedown.notice.answer' AND object = $1`, "notice:"+id),
				e.pending(t, takedown.JobRecheck)
		}
		if err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
			t.Fatal(err)
		}
		first := e.clock.now()
		e.drain(t, takedown.JobRecheck, func(_ context.Context, _ string) error { return nil })
		for _, d := range []time.Duration{time.Second, 58 * time.Second} {
			e.clock.add(d)
			if err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
				t.Fatal(err)
			}
		}
		if ev, au, jobs := answers(); ev != 1 || au != 1 || len(jobs) != 0 {
			t.Fatalf("repeated within a minute: %d events, %d audit entries, recheck jobs %v", ev, au, jobs)
		}
		if n, _ := e.db.TakedownNotice(e.ctx, id); !n.AnsweredAt.Equal(first) {
			t.Fatalf("answered at %v, want %v", n.AnsweredAt, first)
		}
		e.clock.add(time.Minute)
		if err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
			t.Fatal(err)
		}
		if ev, au, jobs := answers(); ev != 2 || au != 2 || !slices.Equal(jobs, []string{"notice:" + id}) {
			t.Fatalf("a minute later: %d events, %d audit entries, recheck jobs %v", ev, au, jobs)
		}
	})
}

// noticeTo returns the "to" of a notice's body.
func noticeTo(t *testing.T, body []byte) string {
	t.Helper()
	var m struct{ To string }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m.To
}
