package takedown_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
)

// TestStore checks the store's rows of the takedown flow on each engine:
// lists, search and paging, the due scans, content, contacts, and the
// figures computed from constructed cases.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, e *env)
		}{
			{"Cases", testStoreCases},
			{"Due", testStoreDue},
			{"Checks", testStoreChecks},
			{"Content", testStoreContent},
			{"Figures", testStoreFigures},
			{"Notices", testStoreNotices},
			{"FetchAttempts", testStoreFetchAttempts},
			{"ItemMatches", testStoreItemMatches},
			{"FoundCases", testStoreFoundCases},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newEnv(t, open(t), nil))
			})
		}
	})
}

func (e *env) update(t *testing.T, fn func(ctx context.Context, tx takedown.Tx) error) {
	t.Helper()
	if err := e.db.Takedown().Update(e.ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// noticed makes case id, reported at received, hosted by host, noticed
// with one notice sent sends times, and removed after removedAfter unless
// it is 0; its item 0 has hash sha256 and is due for a recheck at check.
func (e *env) noticed(t *testing.T, id string, received time.Time, host int64, sends int, removedAfter time.Duration, check time.Time) {
	t.Helper()
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		r := takedown.Record{Case: takedown.Case{ID: id, URL: "https://files.example/" + id, ReceivedAt: received}}
		if _, _, _, err := tx.AddCase(ctx, r); err != nil {
			return err
		}
		c := takedown.Case{ID: id, State: takedown.Noticed, FetchedAt: received, Hosting: takedown.Hosting{Country: "NL", Host: host}}
		if err := tx.SetFetched(ctx, c); err != nil {
			return err
		}
		it := takedown.Item{Index: 0, URL: r.URL, SHA256: fmt.Sprintf("%064x", len(id)+int(received.Unix()%1000))}
		if err := tx.AddItem(ctx, id, it, []byte("sealed")); err != nil {
			return err
		}
		if err := tx.Classify(ctx, id, 0, takedown.Baseline, false, check); err != nil {
			return err
		}
		n := takedown.Notice{ID: "n-" + id, Case: id, Host: host, Channel: takedown.ByWebhook, URLs: []string{r.URL},
			Classification: takedown.Baseline, CreatedAt: received}
		if err := tx.AddNotice(ctx, n); err != nil {
			return err
		}
		for i := range sends {
			at := received.Add(time.Duration(i) * time.Hour)
			if err := tx.RecordSend(ctx, n.ID, at, at.Add(24*time.Hour), ""); err != nil {
				return err
			}
		}
		if removedAfter != 0 {
			return tx.SetRemoved(ctx, id, received.Add(removedAfter))
		}
		return nil
	})
}

func ids(cs []takedown.Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testStoreCases(t *testing.T, e *env) {
	for i, id := range []string{"c1", "c2", "c3"} {
		e.noticed(t, id, start.Add(time.Duration(i)*time.Minute), e.host.ID, 1, 0, time.Time{})
	}
	e.exec(t, `UPDATE takedown_cases SET queue_org = $1 WHERE id = 'c2'`, e.hotlineNL.ID)
	e.exec(t, `UPDATE takedown_cases SET source_org = $1, state = 'closed' WHERE id = 'c3'`, e.hotlineNL.ID)
	st := e.db.Takedown()
	for _, tc := range []struct {
		f    takedown.CaseFilter
		want []string
	}{
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 2}}, []string{"c1", "c2"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 2, After: "c2"}}, []string{"c3"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, State: takedown.Noticed}}, []string{"c1", "c2"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9}, Org: e.hotlineNL.ID}, []string{"c2", "c3"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, Search: "c3"}}, []string{"c3"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, Search: "https://files.example/c2"}}, []string{"c2"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, Search: "FILES.example/c"}}, []string{"c1", "c2", "c3"}},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, Search: "%"}}, nil},
		{takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9, Search: fmt.Sprintf("%064X", 2+int(start.Add(time.Minute).Unix()%1000))}},
			[]string{"c2"}},
	} {
		cs, err := st.TakedownCases(e.ctx, tc.f)
		if err != nil || !slices.Equal(ids(cs), tc.want) {
			t.Errorf("%+v: %v, %v; want %v", tc.f, ids(cs), err, tc.want)
		}
	}
	if _, err := st.TakedownCases(e.ctx, takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 2, After: "nope"}}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("after an unknown case: %v", err)
	}
	cs, _ := st.TakedownCases(e.ctx, takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 1}})
	if c := cs[0]; c.URL != "https://files.example/c1" || c.Hosting.Host != e.host.ID || c.Hosting.HostName != "Hosting NL" ||
		!c.ReceivedAt.Equal(start) || c.Items != nil {
		t.Errorf("listed case %+v", c)
	}
	if _, err := st.TakedownCase(e.ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown case: %v", err)
	}
	if _, err := st.TakedownNotice(e.ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown notice: %v", err)
	}
}

func testStoreDue(t *testing.T, e *env) {
	st := e.db.Takedown()
	for i := range 5 {
		e.noticed(t, fmt.Sprint("d", i), start, e.host.ID, 1, 0, start.Add(time.Duration(5-i)*time.Minute))
	}
	e.noticed(t, "removed", start, e.host.ID, 1, time.Hour, start)
	due, err := st.DueChecks(e.ctx, start.Add(3*time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range due {
		got = append(got, c.Case)
	}
	// d4 is due first (at +1 min), then d3 (+2); d2 (+3) is past the
	// limit; the removed case's item is never due.
	if !slices.Equal(got, []string{"d4", "d3"}) || due[0].URL != "https://files.example/d4" || due[0].Page != "https://files.example/d4" ||
		len(due[0].SHA256) != 64 {
		t.Fatalf("due checks %+v", due)
	}
	// Notices: sent at start, due again at +24h; one with a pending job
	// is left out, and the removed case's are stopped.
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		return tx.QueueJob(ctx, takedown.JobNotice, "n-d0", start)
	})
	ns, err := st.DueNotices(e.ctx, start.Add(24*time.Hour), 10)
	slices.Sort(ns)
	if err != nil || !slices.Equal(ns, []string{"n-d1", "n-d2", "n-d3", "n-d4"}) {
		t.Fatalf("due notices %v, %v", ns, err)
	}
	if ns, _ := st.DueNotices(e.ctx, start.Add(23*time.Hour), 10); len(ns) != 0 {
		t.Fatalf("notices due early: %v", ns)
	}
	e.exec(t, `UPDATE takedown_cases SET assessed_at = $1 WHERE id IN ('d1', 'd2')`, start)
	e.exec(t, `UPDATE takedown_cases SET escalated = TRUE WHERE id = 'd2'`)
	if es, err := st.DueEscalations(e.ctx, start, 10); err != nil || !slices.Equal(es, []string{"d1"}) {
		t.Fatalf("due escalations %v, %v", es, err)
	}
}

// testStoreChecks: what the rows of rechecks, answers and the content's
// retention report, so that two sweeps at once record each change once.
func testStoreChecks(t *testing.T, e *env) {
	st := e.db.Takedown()
	e.noticed(t, "k", start, e.host.ID, 1, 0, start)
	tx := func(fn func(ctx context.Context, tx takedown.Tx) (bool, error)) bool {
		t.Helper()
		var ok bool
		e.update(t, func(ctx context.Context, tx takedown.Tx) error {
			var err error
			ok, err = fn(ctx, tx)
			return err
		})
		return ok
	}
	record := func(r takedown.CheckResult) bool {
		return tx(func(ctx context.Context, tx takedown.Tx) (bool, error) { return tx.RecordCheck(ctx, r) })
	}
	later := start.Add(time.Minute)
	if !record(takedown.CheckResult{Case: "k", Index: 0, At: start, Next: later, Gone: start}) {
		t.Fatal("a first finding of gone not recorded")
	}
	if due, err := st.DueChecks(e.ctx, later, 9); err != nil || len(due) != 1 || !due[0].GoneAt.Equal(start) {
		t.Fatalf("due checks %+v, %v", due, err)
	}
	// An answer does not bring a confirmation forward.
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		return tx.CheckNow(ctx, "k", []string{"https://files.example/k"}, start)
	})
	if due, _ := st.DueChecks(e.ctx, start, 9); len(due) != 0 {
		t.Fatalf("due after CheckNow while confirming: %+v", due)
	}
	removed := takedown.CheckResult{Case: "k", Index: 0, At: later, Gone: start, Removed: start, PrevCheck: start, PrevGone: start}
	if !record(removed) || record(removed) {
		t.Fatal("a removal recorded not once")
	}
	if it := e.get(t, "k").Items[0]; !it.RemovedAt.Equal(start) || !it.GoneAt.Equal(start) || !it.LastCheckAt.Equal(later) {
		t.Fatalf("removed item %+v", it)
	}

	answer := func(at, since time.Time) bool {
		return tx(func(ctx context.Context, tx takedown.Tx) (bool, error) { return tx.AnswerNotice(ctx, "n-k", at, since) })
	}
	if !answer(start, start.Add(-time.Minute)) || answer(start.Add(30*time.Second), start.Add(-30*time.Second)) ||
		!answer(start.Add(2*time.Minute), start.Add(time.Minute)) {
		t.Fatal("answers recorded wrong")
	}
	if n, _ := st.TakedownNotice(e.ctx, "n-k"); !n.AnsweredAt.Equal(start.Add(2 * time.Minute)) {
		t.Fatalf("answered at %v", n.AnsweredAt)
	}

	// The case was fetched at start, with content.
	if ids, err := st.ExpiredContent(e.ctx, start.Add(-time.Second), 9); err != nil || len(ids) != 0 {
		t.Fatalf("expired before the fetch: %v, %v", ids, err)
	}
	if ids, err := st.ExpiredContent(e.ctx, start, 9); err != nil || !slices.Equal(ids, []string{"k"}) {
		t.Fatalf("expired: %v, %v", ids, err)
	}
	expire := func(before time.Time) bool {
		return tx(func(ctx context.Context, tx takedown.Tx) (bool, error) { return tx.ExpireContent(ctx, "k", before) })
	}
	if expire(start.Add(-time.Second)) || !expire(start) || expire(start) {
		t.Fatal("content expired wrong")
	}
	if ids, _ := st.ExpiredContent(e.ctx, start, 9); len(ids) != 0 {
		t.Fatalf("expired after the deletion: %v", ids)
	}

	// Two sweeps that read item s at once: the later result, from the
	// stale read, changes nothing, whether it would wipe a fresh first
	// finding or remove the item at a finding another check cleared.
	e.noticed(t, "s", start, e.host.ID, 1, 0, start)
	read := func(at time.Time) takedown.Check {
		t.Helper()
		due, err := st.DueChecks(e.ctx, at, 9)
		i := slices.IndexFunc(due, func(c takedown.Check) bool { return c.Case == "s" })
		if err != nil || i < 0 {
			t.Fatalf("s not due at %v: %+v, %v", at, due, err)
		}
		return due[i]
	}
	stale := read(start)
	if !stale.LastCheckAt.IsZero() || !stale.GoneAt.IsZero() {
		t.Fatalf("s before any check: %+v", stale)
	}
	found := func(c takedown.Check, at, gone, removed time.Time) takedown.CheckResult {
		r := takedown.CheckResult{Case: "s", At: at, Gone: gone, Removed: removed, PrevCheck: c.LastCheckAt, PrevGone: c.GoneAt}
		if removed.IsZero() {
			r.Next = at.Add(time.Minute)
		}
		return r
	}
	if !record(found(stale, later, later, time.Time{})) || record(found(stale, later.Add(time.Second), time.Time{}, time.Time{})) {
		t.Fatal("a stale check of s recorded over a fresh first finding")
	}
	if it := e.get(t, "s").Items[0]; !it.GoneAt.Equal(later) || !it.LastCheckAt.Equal(later) {
		t.Fatalf("s after a first finding: %+v", it)
	}
	stale = read(later.Add(time.Minute))
	if !record(found(stale, later.Add(2*time.Minute), time.Time{}, time.Time{})) || record(found(stale, later.Add(3*time.Minute), later, later)) {
		t.Fatal("a stale check of s removed it after another found it there")
	}
	if it := e.get(t, "s").Items[0]; !it.RemovedAt.IsZero() || !it.GoneAt.IsZero() || !it.LastCheckAt.Equal(later.Add(2*time.Minute)) {
		t.Fatalf("s after a finding cleared: %+v", it)
	}
}

func testStoreContent(t *testing.T, e *env) {
	st := e.db.Takedown()
	e.noticed(t, "c", start, 0, 0, 0, time.Time{})
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		return tx.AddItem(ctx, "c", takedown.Item{Index: 1, URL: "https://files.example/x"}, nil)
	})
	if b, err := st.TakedownContent(e.ctx, "c", 0); err != nil || string(b) != "sealed" {
		t.Fatalf("content 0: %q, %v", b, err)
	}
	if b, err := st.TakedownContent(e.ctx, "c", 1); err != nil || b != nil {
		t.Fatalf("content 1, not kept: %q, %v", b, err)
	}
	if _, err := st.TakedownContent(e.ctx, "c", 2); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("content 2: %v", err)
	}
	e.update(t, func(ctx context.Context, tx takedown.Tx) error { return tx.DropContent(ctx, "c", []int{0}) })
	if b, err := st.TakedownContent(e.ctx, "c", 0); err != nil || b != nil {
		t.Fatalf("content 0 dropped: %q, %v", b, err)
	}
	ct, err := st.NoticeContact(e.ctx, e.mailHost.ID)
	if err != nil || ct.Email != "abuse@files.example" || ct.HasWebhook || ct.Org.Name != "Mail Host" {
		t.Fatalf("contact %+v, %v", ct, err)
	}
	if ct, err := st.NoticeContact(e.ctx, e.host.ID); err != nil || ct.Email != "" || !ct.HasWebhook {
		t.Fatalf("contact %+v, %v", ct, err)
	}
	if _, err := st.NoticeContact(e.ctx, 9999); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("contact of no organisation: %v", err)
	}
}

// testStoreFigures checks the figures of constructed cases exactly.
func testStoreFigures(t *testing.T, e *env) {
	h := time.Hour
	// The host's cases: removed after 2h and 30h, one open; cases of no
	// registered host: removed after 50h and 100h.
	e.noticed(t, "a1", start, e.host.ID, 1, 2*h, time.Time{})
	e.noticed(t, "a2", start.Add(h), e.host.ID, 2, 30*h, time.Time{})
	e.noticed(t, "a3", start.Add(2*h), e.host.ID, 3, 0, time.Time{})
	e.noticed(t, "u1", start.Add(3*h), 0, 1, 50*h, time.Time{})
	e.noticed(t, "u2", start.Add(4*h), 0, 1, 100*h, time.Time{})
	// Not counted: outside the period, and a case closed.
	e.noticed(t, "later", start.Add(48*h), e.host.ID, 1, h, time.Time{})
	e.noticed(t, "closed", start, e.host.ID, 1, 0, time.Time{})
	e.exec(t, `UPDATE takedown_cases SET state = 'closed' WHERE id = 'closed'`)

	rep, err := e.svc.Figures(e.ctx, start, start.Add(24*h))
	if err != nil {
		t.Fatal(err)
	}
	s := func(d time.Duration) float64 { return d.Seconds() }
	want := takedown.Figures{Cases: 5, Removed: 4, Open: 1, Notices: 8,
		MedianS: (s(30*h) + s(50*h)) / 2, P90S: s(100 * h), Within1d: 0.2, Within3d: 0.6, Within7d: 0.8}
	if rep.Figures != want {
		t.Errorf("figures\n%+v, want\n%+v", rep.Figures, want)
	}
	if len(rep.Hosts) != 2 {
		t.Fatalf("hosts %+v", rep.Hosts)
	}
	wantHosts := []takedown.HostFigures{
		{Host: 0, Figures: takedown.Figures{Cases: 2, Removed: 2, Open: 0, Notices: 2, MedianS: (s(50*h) + s(100*h)) / 2, P90S: s(100 * h),
			Within1d: 0, Within3d: 0.5, Within7d: 1}},
		{Host: e.host.ID, Name: "Hosting NL", Country: "NL", Figures: takedown.Figures{Cases: 3, Removed: 2, Open: 1, Notices: 6,
			MedianS: (s(2*h) + s(30*h)) / 2, P90S: s(30 * h), Within1d: 1.0 / 3, Within3d: 2.0 / 3, Within7d: 2.0 / 3}},
	}
	for i, w := range wantHosts {
		if rep.Hosts[i] != w {
			t.Errorf("host %d\n%+v, want\n%+v", i, rep.Hosts[i], w)
		}
	}
	if _, err := e.svc.Figures(e.ctx, start, start); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("an empty period: %v", err)
	}
	if rep, err := e.svc.Figures(e.ctx, start.Add(-48*h), start); err != nil || rep.Cases != 0 || rep.MedianS != 0 || rep.Within1d != 0 {
		t.Errorf("a period without cases: %+v, %v", rep, err)
	}
}

// testStoreNotices: the rows of notices that wait, go with a report, or
// change their way, and the cases a hotline sees through its notices.
func testStoreNotices(t *testing.T, e *env) {
	st := e.db.Takedown()
	e.noticed(t, "w", start, 0, 0, 0, time.Time{})
	later := start.Add(time.Hour)
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		if err := tx.DeferNotice(ctx, "n-w", later, "waits"); err != nil {
			return err
		}
		if err := tx.DeferNotice(ctx, "nope", later, "waits"); !errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("deferring no notice: %v", err)
		}
		return tx.SetNoticeRoute(ctx, "n-w", takedown.ByEuropol, e.europol.ID)
	})
	if n, err := st.TakedownNotice(e.ctx, "n-w"); err != nil || n.LastError != "waits" || !n.NextSendAt.Equal(later) || n.Sends != 0 ||
		n.Channel != takedown.ByEuropol || n.Via != e.europol.ID {
		t.Fatalf("deferred notice %+v, %v", n, err)
	}
	if ns, err := st.DueNotices(e.ctx, later, 9); err != nil || !slices.Equal(ns, []string{"n-w"}) {
		t.Fatalf("due notices %v, %v", ns, err)
	}
	var once [2]bool
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		for i := range once {
			var err error
			if once[i], err = tx.DeliverOnce(ctx, "n-w", start.Add(time.Duration(i)*time.Minute)); err != nil {
				return err
			}
		}
		return nil
	})
	if !once[0] || once[1] {
		t.Fatalf("delivered once: %v", once)
	}
	if n, _ := st.TakedownNotice(e.ctx, "n-w"); n.Sends != 1 || !n.SentAt.Equal(start) || !n.NextSendAt.IsZero() || n.LastError != "" {
		t.Fatalf("delivered notice %+v", n)
	}
	if ns, _ := st.DueNotices(e.ctx, later.Add(48*time.Hour), 9); len(ns) != 0 {
		t.Fatalf("a notice delivered with its report is due: %v", ns)
	}
	// The hotline the notice goes through sees the case; another does not.
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		return tx.SetNoticeRoute(ctx, "n-w", takedown.ByHotline, e.hotlineDE.ID)
	})
	for _, tc := range []struct {
		org  int64
		want []string
	}{{e.hotlineDE.ID, []string{"w"}}, {e.hotlineNL.ID, nil}} {
		cs, err := st.TakedownCases(e.ctx, takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9}, Org: tc.org})
		if err != nil || !slices.Equal(ids(cs), tc.want) {
			t.Errorf("cases of %d: %v, %v; want %v", tc.org, ids(cs), err, tc.want)
		}
	}
}

// testStoreFetchAttempts: the failed fetches counted on a case, and the
// count kept by the fetch.
func testStoreFetchAttempts(t *testing.T, e *env) {
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		if _, _, _, err := tx.AddCase(ctx, takedown.Record{Case: takedown.Case{ID: "f", URL: "https://files.example/f", ReceivedAt: start}}); err != nil {
			return err
		}
		for _, msg := range []string{"timed out", "the server answered 502 Bad Gateway"} {
			if err := tx.RecordFetchAttempt(ctx, "f", msg); err != nil {
				return err
			}
		}
		return nil
	})
	c := e.get(t, "f")
	if c.FetchAttempts != 2 || c.FetchError != "the server answered 502 Bad Gateway" || c.State != takedown.Fetching {
		t.Fatalf("after two failed fetches %+v", c)
	}
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		c.State, c.FetchedAt, c.FetchError, c.FetchAttempts = takedown.Assessing, start, "", 2
		return tx.SetFetched(ctx, c)
	})
	if got := e.get(t, "f"); got.FetchAttempts != 2 || got.FetchError != "" || got.State != takedown.Assessing {
		t.Fatalf("fetched %+v", got)
	}
	cs, err := e.db.Takedown().TakedownCases(e.ctx, takedown.CaseFilter{CaseQuery: takedown.CaseQuery{Limit: 9}})
	if err != nil || len(cs) != 1 || cs[0].FetchAttempts != 2 {
		t.Fatalf("listed %+v, %v", cs, err)
	}
}

// testStoreItemMatches: an item's matches are also rows of
// takedown_item_matches, one per indicator (matched by two signals, one
// row), in the item's transaction.
func testStoreItemMatches(t *testing.T, e *env) {
	e.update(t, func(ctx context.Context, tx takedown.Tx) error {
		r := takedown.Record{Case: takedown.Case{ID: "m", URL: "https://files.example/m", ReceivedAt: start}}
		if _, _, _, err := tx.AddCase(ctx, r); err != nil {
			return err
		}
		for i, ms := range [][]takedown.Match{nil, {
			{Indicator: 5, List: indicator.VictimReported, Signal: indicator.PDQ, Category: indicator.Unverified, Distance: 3},
			{Indicator: 5, List: indicator.VictimReported, Signal: indicator.SHA256, Category: indicator.Unverified},
			{Indicator: 9, List: indicator.Known, Signal: indicator.SHA256, Category: indicator.A1},
		}} {
			if err := tx.AddItem(ctx, "m", takedown.Item{Index: i, URL: fmt.Sprintf("https://files.example/m/%d", i), Matches: ms}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	got := storetest.Strings(t, e.db, `SELECT case_id || '/' || idx || '/' || indicator_id FROM takedown_item_matches ORDER BY indicator_id`)
	if want := []string{"m/1/5", "m/1/9"}; !slices.Equal(got, want) {
		t.Errorf("takedown_item_matches %q; want %q", got, want)
	}
	// A failed transaction leaves none.
	err := e.db.Takedown().Update(e.ctx, func(ctx context.Context, tx takedown.Tx) error {
		if err := tx.AddItem(ctx, "m", takedown.Item{Index: 2, URL: "https://files.example/m/2", Matches: []takedown.Match{{Indicator: 11}}}, nil); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil || storetest.Count(t, e.db, `SELECT count(*) FROM takedown_item_matches WHERE indicator_id = 11`) != 0 {
		t.Errorf("a rolled back item left its matches (%v)", err)
	}
}

// testStoreFoundCases: a case found by the search is not added while a
// case of its URL is open, from anyone, nor while one ended (closed when
// assessed or fetched, or removed) at or after since; it is once that
// one ended before since.
func testStoreFoundCases(t *testing.T, e *env) {
	add := func(id, u string, since time.Time) (string, bool) {
		t.Helper()
		var got string
		var added bool
		e.update(t, func(ctx context.Context, tx takedown.Tx) error {
			var err error
			got, added, err = tx.AddFoundCase(ctx, takedown.Record{Case: takedown.Case{ID: id, URL: u, Place: 3, ReceivedAt: start}}, since)
			return err
		})
		return got, added
	}
	const f = "https://files.example/f"
	if id, added := add("f1", f, start); id != "f1" || !added {
		t.Fatalf("first: %s %v", id, added)
	}
	if id, added := add("f2", f, start.Add(time.Hour)); id != "f1" || added {
		t.Errorf("again while open: %s %v; want f1, not added", id, added)
	}
	e.noticed(t, "pub", start, e.host.ID, 1, 0, time.Time{}) // a public case of files.example/pub, noticed
	if id, added := add("f3", "https://files.example/pub", start); id != "pub" || added {
		t.Errorf("a URL with an open public case: %s %v; want pub, not added", id, added)
	}
	// f1 closed when assessed an hour in (fetched before).
	e.exec(t, `UPDATE takedown_cases SET state = 'closed', fetched_at = $1, assessed_at = $2 WHERE id = 'f1'`,
		start.Add(time.Minute), start.Add(time.Hour))
	for _, since := range []time.Time{start, start.Add(time.Hour)} {
		if id, added := add("f4", f, since); id != "f1" || added {
			t.Errorf("closed at 1h, since %v: %s %v; want f1, not added", since.Sub(start), id, added)
		}
	}
	if id, added := add("f4", f, start.Add(time.Hour+time.Second)); id != "f4" || !added {
		t.Errorf("closed before since: %s %v; want f4, added", id, added)
	}
	r, err := e.db.TakedownCase(e.ctx, "f4")
	if err != nil || r.Place != 3 || r.Source != 0 || r.State != takedown.Fetching {
		t.Errorf("found case %+v, %v; want place 3, fetching", r.Case, err)
	}
	// f4 removed two hours in (assessed at one): its removal counts.
	e.exec(t, `UPDATE takedown_cases SET state = 'removed', assessed_at = $1, removed_at = $2 WHERE id = 'f4'`,
		start.Add(time.Hour), start.Add(2*time.Hour))
	if id, added := add("f5", f, start.Add(90*time.Minute)); id != "f4" || added {
		t.Errorf("removed at 2h, since 1h30: %s %v; want f4, not added", id, added)
	}
	if id, added := add("f5", f, start.Add(3*time.Hour)); id != "f5" || !added {
		t.Errorf("removed before since: %s %v; want f5, added", id, added)
	}
	if id, added := add("f6", f, start); id != "f5" || added {
		t.Errorf("open and ended cases: %s %v; want the open f5, not added", id, added)
	}
}
