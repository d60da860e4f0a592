package forward_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// TestCorrect: a correction reaches every authority the report was
// delivered to: new in its inbox again until acknowledged, listed in the
// package, pushed, signed, to a webhook; a report never delivered has
// none to reach.
func TestCorrect(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		e := newEnv(t, open(t))
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		e.fwd.Clock = func() time.Time { return now }
		h := &hook{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		bka := e.org(t, "BKA", org.LEA, "DE")
		europol := e.org(t, "Europol", org.Europol, "NL")
		if err := e.setWebhook(bka, srv.URL+"/ward"); err != nil {
			t.Fatal(err)
		}
		correct := func(id, complaint string) int {
			t.Helper()
			detail, err := json.Marshal(forward.CorrectionDetail{Complaint: complaint, Reasons: "lawful: " + complaint})
			if err != nil {
				t.Fatal(err)
			}
			if detail, err = e.reports.SealDetail(e.ctx, id, detail); err != nil {
				t.Fatal(err)
			}
			var n int
			err = e.db.Forward().Update(e.ctx, func(ctx context.Context, tx forward.Tx) error {
				n, err = forward.Correct(ctx, tx, id, "user:7", detail, now)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		undelivered := e.forwarded(t, draft("DE"))
		if n := correct(undelivered, "K1"); n != 0 {
			t.Errorf("a report never delivered: %d corrected", n)
		}
		id := e.forwarded(t, draft("DE"))
		if err := e.fwd.Route(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		for _, o := range []int64{bka, europol} {
			if _, err := e.fwd.Ack(e.ctx, o, id, "key:k"); err != nil {
				t.Fatal(err)
			}
		}
		newFor := func(o int64) []forward.Delivery {
			t.Helper()
			ds, err := e.fwd.Inbox(e.ctx, o, forward.InboxQuery{Status: forward.StatusNew, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		for round, complaint := range []string{"K2", "K3"} {
			now = now.Add(time.Hour)
			if n := correct(id, complaint); n != 2 {
				t.Fatalf("corrected with %d authorities, want 2", n)
			}
			at := now
			for _, o := range []int64{bka, europol} {
				ds := newFor(o)
				if len(ds) != 1 || ds[0].ReportID != id || !ds[0].CorrectedAt.Equal(at) {
					t.Fatalf("round %d: authority %d's new reports %+v", round, o, ds)
				}
				body, _, err := e.fwd.Package(e.ctx, o, id)
				if err != nil {
					t.Fatal(err)
				}
				var p forward.Package
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatal(err)
				}
				if len(p.Corrections) != round+1 || p.Corrections[round].Complaint != complaint || p.Corrections[round].Reasons != "lawful: "+complaint {
					t.Errorf("round %d: package corrections %+v", round, p.Corrections)
				}
				now = now.Add(time.Minute)
				if _, err := e.fwd.Ack(e.ctx, o, id, "key:k"); err != nil {
					t.Fatal(err)
				}
				if ds := newFor(o); len(ds) != 0 {
					t.Errorf("round %d: still new after acknowledging: %+v", round, ds)
				}
				acked, err := e.fwd.Inbox(e.ctx, o, forward.InboxQuery{Status: forward.StatusAcknowledged, Limit: 10})
				if err != nil || len(acked) != 1 {
					t.Errorf("round %d: acknowledged %+v, %v", round, acked, err)
				}
			}
		}
		// Only the authority with a webhook has its corrections pushed.
		refs := storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 ORDER BY id`, forward.JobCorrection)
		if len(refs) != 2 {
			t.Fatalf("correction jobs %v, want one a round for BKA", refs)
		}
		for _, ref := range refs {
			if err := e.fwd.PushCorrection(e.ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
		if h.count() != 2 {
			t.Fatalf("%d pushes", h.count())
		}
		r, body := h.requests[1], h.bodies[1]
		verify(t, e.fwd.PublicKey(), forward.CorrectionContext, body, r.Header.Get(forward.SignatureHeader))
		var c forward.Correction
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		if c.ReportID != id || c.Complaint != "K3" || fmt.Sprint(c.Event) != refs[1] || r.Header.Get("Ward-Event-Id") != refs[1] ||
			r.Header.Get("Ward-Report-Id") != id {
			t.Errorf("pushed %s with %v", body, r.Header)
		}
		evs, err := e.db.ReportEvents(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == report.EventRouted {
				if err := e.fwd.PushCorrection(e.ctx, fmt.Sprint(ev.ID)); !jobs.IsPermanent(err) {
					t.Errorf("pushing a routed event as a correction: %v, want a permanent error", err)
				}
				break
			}
		}
	})
}
