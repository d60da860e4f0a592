package forward_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// TestStore runs forwarding's rules (forward.AddDeliveries over
// forward.Tx) and the store's reads and writes of deliveries, feedback and
// webhooks, on a new database of each engine per subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *forwardEnv)
	}{
		{"Route", testForwardRoute},
		{"ConcurrentRoute", testForwardConcurrentRoute},
		{"Inbox", testForwardInbox},
		{"Ack", testForwardAck},
		{"Feedback", testForwardFeedback},
		{"RecordPush", testForwardRecordPush},
		{"Webhook", testForwardWebhook},
		{"ReportEvent", testForwardReportEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			e := &forwardEnv{ctx: t.Context(), db: db, svc: report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))}
			orgs := org.NewService(db)
			for i, o := range []struct {
				name    string
				kind    org.Kind
				country string
			}{{"photos", org.Provider, "IE"}, {"BKA", org.LEA, "DE"}, {"Politie", org.LEA, "NL"}, {"Europol", org.Europol, "NL"}} {
				created, err := orgs.Create(e.ctx, o.name, o.kind, o.country)
				if err != nil {
					t.Fatal(err)
				}
				e.orgs[i] = created.ID
			}
			tc.fn(t, e)
		})
	}
}

type forwardEnv struct {
	ctx context.Context
	db  *store.DB
	svc *report.Service
	// orgs are a provider, two authorities and Europol.
	orgs [4]int64
}

func (e *forwardEnv) provider() int64 { return e.orgs[0] }

// forwarded returns a new report of the provider, finished and forwarded.
func (e *forwardEnv) forwarded(t *testing.T, key string) string {
	t.Helper()
	r, _, err := e.svc.CreateDraft(e.ctx, e.provider(), key, draft("BE"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AddFile(e.ctx, e.provider(), r.ID, 0, []byte(testFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, e.provider(), r.ID); err != nil {
		t.Fatal(err)
	}
	storetest.SetReportState(t, e.db, r.ID, report.StateForwarded)
	return r.ID
}

// route routes report id to orgs at time at.
func (e *forwardEnv) route(t *testing.T, id string, at time.Time, orgs ...int64) {
	t.Helper()
	var targets []forward.Target
	for _, o := range orgs {
		targets = append(targets, forward.Target{Org: o, Detail: []byte("why")})
	}
	if n, err := e.addDeliveries(id, targets, at); err != nil || n != len(orgs) {
		t.Fatalf("AddDeliveries: %d, %v; want %d", n, err, len(orgs))
	}
}

// addDeliveries routes report id to targets at time at, through
// forward's rules in a transaction of the store's forward.Tx.
func (e *forwardEnv) addDeliveries(id string, targets []forward.Target, at time.Time) (int, error) {
	var n int
	err := e.db.Forward().Update(e.ctx, func(ctx context.Context, tx forward.Tx) error {
		var err error
		n, err = forward.AddDeliveries(ctx, tx, id, targets, at)
		return err
	})
	return n, err
}

// events returns report id's events of kind as "org" strings, in order.
func (e *forwardEnv) events(t *testing.T, id string, kind report.EventKind) []string {
	t.Helper()
	evs, err := e.db.ReportEvents(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, fmt.Sprint(ev.Org))
		}
	}
	return out
}

// jobs returns the refs of the queued jobs of kind.
func (e *forwardEnv) jobs(t *testing.T, kind string) []string {
	t.Helper()
	return storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 ORDER BY id`, kind)
}

func testForwardRoute(t *testing.T, e *forwardEnv) {
	lea, europol := e.orgs[1], e.orgs[3]
	r, _, err := e.svc.CreateDraft(e.ctx, e.provider(), "r", draft("BE"))
	if err != nil {
		t.Fatal(err)
	}
	targets := []forward.Target{{Org: lea, Detail: []byte("lea")}, {Org: europol, Detail: []byte("europol")}}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, err := e.addDeliveries(r.ID, targets, at); !errors.Is(err, core.ErrConflict) {
		t.Errorf("routing a draft: %v, want ErrConflict", err)
	}
	if _, err := e.addDeliveries("NOSUCHREPORT", targets, at); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("routing an unknown report: %v, want ErrNotFound", err)
	}
	storetest.SetReportState(t, e.db, r.ID, report.StateForwarded)
	if err := e.db.SetWebhook(e.ctx, lea, []byte("a sealed webhook")); err != nil {
		t.Fatal(err)
	}
	n, err := e.addDeliveries(r.ID, targets, at)
	if err != nil || n != 2 {
		t.Fatalf("AddDeliveries: %d, %v", n, err)
	}
	// Routed already: nothing changes, whatever the targets.
	if n, err := e.addDeliveries(r.ID, append(targets, forward.Target{Org: e.orgs[2]}), at.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("routing again: %d, %v; want 0", n, err)
	}
	if got := e.events(t, r.ID, report.EventRouted); strings.Join(got, " ") != fmt.Sprint(lea, " ", europol) {
		t.Errorf("routed events to %v, want %d and %d", got, lea, europol)
	}
	evs, err := e.db.ReportEvents(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind == report.EventRouted && (!ev.At.Equal(at) || ev.Actor != "system" || (string(ev.Detail) != "lea" && string(ev.Detail) != "europol")) {
			t.Errorf("routed event %+v", ev)
		}
	}
	// A push only to the authority with a webhook.
	if got := e.jobs(t, forward.JobPush); !slices.Equal(got, []string{forward.PushRef(r.ID, lea)}) {
		t.Errorf("push jobs %v", got)
	}
	got, err := e.db.Delivery(e.ctx, r.ID, lea)
	if err != nil {
		t.Fatal(err)
	}
	want := forward.Delivery{ReportID: r.ID, Org: lea, CreatedAt: at, Urgent: true, Type: report.TypeNew}
	if got != want {
		t.Errorf("delivery\n%+v\nwant\n%+v", got, want)
	}
	for _, o := range []int64{e.orgs[2], e.provider()} {
		if _, err := e.db.Delivery(e.ctx, r.ID, o); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("delivery to organisation %d: %v, want ErrNotFound", o, err)
		}
	}
	if _, err := e.addDeliveries(e.forwarded(t, "other"), []forward.Target{{Org: 99999}}, at); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("routing to an unknown organisation: %v", err)
	}
}

func testForwardConcurrentRoute(t *testing.T, e *forwardEnv) {
	id := e.forwarded(t, "r")
	targets := []forward.Target{{Org: e.orgs[1]}, {Org: e.orgs[3]}}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 8 {
		wg.Go(func() {
			n, err := e.addDeliveries(id, targets, time.Now())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 2 || len(e.events(t, id, report.EventRouted)) != 2 {
		t.Errorf("8 concurrent routings created %d deliveries and %v events, want 2", total, e.events(t, id, report.EventRouted))
	}
}

func testForwardInbox(t *testing.T, e *forwardEnv) {
	lea, other := e.orgs[1], e.orgs[2]
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		id := e.forwarded(t, fmt.Sprint("r", i))
		// Two at the same time: the report ID orders them.
		e.route(t, id, t0.Add(time.Duration(min(i, 3))*time.Minute), lea)
		ids = append(ids, id)
	}
	slices.SortFunc(ids[3:], strings.Compare)
	e.route(t, e.forwarded(t, "theirs"), t0, other)

	page := func(org int64, st forward.Status, limit int) []string {
		var got []string
		after := forward.Cursor{}
		for range 10 {
			ds, err := e.db.Deliveries(e.ctx, org, forward.InboxQuery{Status: st, After: after, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 0 {
				return got
			}
			for _, d := range ds {
				got = append(got, d.ReportID)
				if d.Org != org {
					t.Errorf("organisation %d sees %+v", org, d)
				}
			}
			last := ds[len(ds)-1]
			after = forward.Cursor{At: last.CreatedAt, ReportID: last.ReportID}
		}
		t.Fatal("paging does not end")
		return nil
	}
	if got := page(lea, forward.StatusAll, 2); !slices.Equal(got, ids) {
		t.Errorf("inbox in pages of 2: %v, want %v", got, ids)
	}
	for _, id := range []string{ids[1], ids[3]} {
		if _, err := e.db.AckDelivery(e.ctx, id, lea, "key:x", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if got := page(lea, forward.StatusNew, 3); !slices.Equal(got, []string{ids[0], ids[2], ids[4]}) {
		t.Errorf("new: %v", got)
	}
	if got := page(lea, forward.StatusAcknowledged, 1); !slices.Equal(got, []string{ids[1], ids[3]}) {
		t.Errorf("acknowledged: %v", got)
	}
	if got := page(other, forward.StatusAll, 10); len(got) != 1 {
		t.Errorf("the other authority's inbox: %v", got)
	}
	if got := page(e.orgs[3], forward.StatusAll, 10); len(got) != 0 {
		t.Errorf("Europol's inbox: %v, want empty", got)
	}
}

func testForwardAck(t *testing.T, e *forwardEnv) {
	lea := e.orgs[1]
	id := e.forwarded(t, "r")
	e.route(t, id, time.Now(), lea, e.orgs[3])
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			d, err := e.db.AckDelivery(e.ctx, id, lea, "key:a", at.Add(time.Duration(i)*time.Second))
			if err != nil || d.AckedAt.IsZero() {
				t.Errorf("ack: %+v, %v", d, err)
			}
		})
	}
	wg.Wait()
	if got := e.events(t, id, report.EventAcknowledged); !slices.Equal(got, []string{fmt.Sprint(lea)}) {
		t.Errorf("acknowledged events %v, want one by %d", got, lea)
	}
	d1, _ := e.db.Delivery(e.ctx, id, lea)
	d2, err := e.db.AckDelivery(e.ctx, id, lea, "key:a", at.Add(time.Hour))
	if err != nil || !d2.AckedAt.Equal(d1.AckedAt) {
		t.Errorf("ack again: %v, acked at %v, want %v unchanged", err, d2.AckedAt, d1.AckedAt)
	}
	if d, _ := e.db.Delivery(e.ctx, id, e.orgs[3]); !d.AckedAt.IsZero() {
		t.Errorf("Europol's delivery acknowledged with the authority's: %+v", d)
	}
	if _, err := e.db.AckDelivery(e.ctx, id, e.orgs[2], "key:b", at); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("ack by an authority it was not routed to: %v", err)
	}
	if got := e.events(t, id, report.EventAcknowledged); len(got) != 1 {
		t.Errorf("acknowledged events %v after a refused ack", got)
	}
}

func testForwardFeedback(t *testing.T, e *forwardEnv) {
	lea, europol := e.orgs[1], e.orgs[3]
	id := e.forwarded(t, "r")
	e.route(t, id, time.Now(), lea, europol)
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	nd := func() time.Time {
		rec, err := e.db.ReportByID(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.NonDisclosureUntil
	}
	const note = "Suspect 4711 arrested"
	sealed, err := e.svc.SealDetail(e.ctx, id, []byte(note))
	if err != nil {
		t.Fatal(err)
	}
	give := func(o int64, outcome forward.Outcome, until time.Time) (forward.Feedback, error) {
		return e.db.AddFeedback(e.ctx, forward.Feedback{ReportID: id, Org: o, At: at, Outcome: outcome, Note: sealed},
			"key:k", []byte("detail"), until)
	}
	later, earlier := at.AddDate(0, 12, 0), at.AddDate(0, 6, 0)
	f, err := give(lea, forward.Investigating, later)
	if err != nil || f.ID == 0 || f.Outcome != forward.Investigating || f.Org != lea {
		t.Fatalf("AddFeedback: %+v, %v", f, err)
	}
	if !nd().Equal(later) {
		t.Errorf("non-disclosure until %v, want %v", nd(), later)
	}
	// Europol's shorter request does not shorten the authority's.
	if _, err := give(europol, forward.Received, earlier); err != nil {
		t.Fatal(err)
	}
	if !nd().Equal(later) {
		t.Errorf("non-disclosure until %v after a shorter request, want %v", nd(), later)
	}
	if _, err := give(lea, forward.OffenderIdentified, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !nd().Equal(later) {
		t.Errorf("non-disclosure until %v after feedback without, want %v", nd(), later)
	}
	evs := e.events(t, id, report.EventFeedback)
	if !slices.Equal(evs, []string{fmt.Sprint(lea), fmt.Sprint(europol), fmt.Sprint(lea)}) {
		t.Errorf("feedback events %v", evs)
	}
	// Only the request that set the date is a step the provider hears of.
	if nds := e.events(t, id, report.EventNonDisclosure); len(nds) != 1 {
		t.Errorf("non-disclosure events %v, want one", nds)
	}
	if _, err := give(e.orgs[2], forward.NoAction, time.Time{}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("feedback by an authority it was not routed to: %v", err)
	}
	var outcomes []string
	err = e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		outcomes = nil
		rows, err := tx.Query(ctx, `SELECT outcome FROM feedback WHERE report_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				return err
			}
			outcomes = append(outcomes, o)
		}
		return rows.Err()
	})
	if err != nil || strings.Join(outcomes, " ") != "investigating received offender_identified" {
		t.Errorf("feedback rows %v, %v", outcomes, err)
	}
	if bytes.Contains(storetest.DumpAll(t, e.db), []byte(note)) {
		t.Error("the feedback note is in the database in clear")
	}
}

func testForwardRecordPush(t *testing.T, e *forwardEnv) {
	lea := e.orgs[1]
	id := e.forwarded(t, "r")
	e.route(t, id, time.Now(), lea)
	t1 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if err := e.db.RecordPush(e.ctx, id, lea, t1, "webhook answered 503"); err != nil {
		t.Fatal(err)
	}
	d, _ := e.db.Delivery(e.ctx, id, lea)
	if d.Attempts != 1 || !d.LastAttemptAt.Equal(t1) || d.LastError != "webhook answered 503" || !d.PushedAt.IsZero() {
		t.Errorf("after a failed push: %+v", d)
	}
	t2 := t1.Add(time.Minute)
	if err := e.db.RecordPush(e.ctx, id, lea, t2, ""); err != nil {
		t.Fatal(err)
	}
	d, _ = e.db.Delivery(e.ctx, id, lea)
	if d.Attempts != 2 || !d.PushedAt.Equal(t2) || d.LastError != "" {
		t.Errorf("after a push: %+v", d)
	}
	if err := e.db.RecordPush(e.ctx, id, lea, t2.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if d, _ = e.db.Delivery(e.ctx, id, lea); !d.PushedAt.Equal(t2) {
		t.Errorf("a second push moved pushed_at to %v", d.PushedAt)
	}
	if err := e.db.RecordPush(e.ctx, id, e.orgs[2], t1, ""); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("push of a delivery that does not exist: %v", err)
	}
}

func testForwardWebhook(t *testing.T, e *forwardEnv) {
	o, s := e.orgs[1], e.svc.Sealer()
	webhook := func(o int64) (string, error) { return forward.OpenWebhook(e.ctx, e.db, s, o) }
	if h, err := webhook(o); err != nil || h != "" {
		t.Errorf("webhook before it is set: %q, %v", h, err)
	}
	const hook = "https://bka.example/ward?token=s3cret-token"
	if err := forward.SetWebhook(e.ctx, e.db, s, o, hook); err != nil {
		t.Fatal(err)
	}
	if h, err := webhook(o); err != nil || h != hook {
		t.Errorf("webhook: %q, %v", h, err)
	}
	// Sealed: a dump shows neither the URL nor its token, and the sealed
	// URL does not open as another organisation's.
	if dump := storetest.DumpAll(t, e.db); bytes.Contains(dump, []byte("s3cret-token")) || bytes.Contains(dump, []byte("bka.example")) {
		t.Error("a dump of the database holds the webhook URL")
	}
	sealed, err := e.db.Webhook(e.ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetWebhook(e.ctx, e.orgs[0], sealed); err != nil {
		t.Fatal(err)
	}
	if h, err := webhook(e.orgs[0]); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("a webhook moved to another organisation: %q, %v; want ErrOpen", h, err)
	}
	// A URL in clear, as stored before it was sealed, is sealed at start.
	const old = "https://old.example/hook?token=old-secret"
	err = e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE orgs SET webhook_url = $1, webhook_sealed = NULL WHERE id = $2`, old, o)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// On PostgreSQL the table is then written anew (VACUUM FULL), its old
	// file, with the clear URL in a dead row, removed. (SQLite's file is
	// checked in store's TestSealClearWebhooksVacuumSQLite.)
	fileNode := func() (node int64) {
		if err := e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
			if !tx.Postgres() {
				return nil
			}
			return tx.QueryRow(ctx, `SELECT pg_relation_filenode('orgs')::bigint`).Scan(&node)
		}); err != nil {
			t.Fatal(err)
		}
		return node
	}
	before := fileNode()
	if n, err := forward.SealClearWebhooks(e.ctx, e.db, s); err != nil || n != 1 {
		t.Errorf("SealClearWebhooks: %d, %v; want 1", n, err)
	}
	if after := fileNode(); before != 0 && after == before {
		t.Error("the orgs table was not rewritten after its clear URLs were sealed")
	}
	if h, err := webhook(o); err != nil || h != old {
		t.Errorf("webhook sealed at start: %q, %v", h, err)
	}
	if n, err := forward.SealClearWebhooks(e.ctx, e.db, s); err != nil || n != 0 {
		t.Errorf("SealClearWebhooks again: %d, %v; want 0", n, err)
	}
	if dump := storetest.DumpAll(t, e.db); bytes.Contains(dump, []byte("old-secret")) {
		t.Error("a dump of the database holds the webhook URL stored in clear before")
	}
	if err := forward.SetWebhook(e.ctx, e.db, s, o, ""); err != nil {
		t.Fatal(err)
	}
	if h, err := webhook(o); err != nil || h != "" {
		t.Errorf("webhook after removal: %q, %v", h, err)
	}
	if _, err := webhook(99999); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("webhook of an unknown organisation: %v", err)
	}
	if err := forward.SetWebhook(e.ctx, e.db, s, 99999, "https://x.example/"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("setting the webhook of an unknown organisation: %v", err)
	}
}

func testForwardReportEvent(t *testing.T, e *forwardEnv) {
	id := e.forwarded(t, "r")
	evs, err := e.db.ReportEvents(e.ctx, id)
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v, %v", evs, err)
	}
	got, err := e.db.ReportEvent(e.ctx, evs[0].ID)
	if err != nil || got.ID != evs[0].ID || got.ReportID != id || got.Kind != report.EventReceived || !got.At.Equal(evs[0].At) {
		t.Errorf("ReportEvent: %+v, %v; want %+v", got, err, evs[0])
	}
	if _, err := e.db.ReportEvent(e.ctx, 1<<40); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown event: %v", err)
	}
}
