package triage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// listIDs returns the report IDs of entries.
func listIDs(es []triage.ListEntry) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.ReportID)
	}
	return s
}

// searchFixture is a set of triaged and decided reports of both providers.
type searchFixture struct {
	r        [7]string // photos, finished at t0 + 0..6 min
	q        [2]string // chat, finished at t0 + 10, 11 min
	lea, eu  int64
	fileSHA  string // of r[3]'s file
	filePDQ  string
	fileMD5  string
	caseMD5  string // a content key of r[0]'s case
	svc      *triage.Service
	decidedQ time.Time // q[1]'s decision
}

func (e *reportEnv) searchFixture(t *testing.T) *searchFixture {
	t.Helper()
	f := &searchFixture{svc: triage.New(e.db.Triage(), e.svc, nil, triage.Options{})}
	for i := range f.r {
		f.r[i] = e.finished(t, e.providers[0], i)
	}
	for i := range f.q {
		f.q[i] = e.finished(t, e.providers[1], 10+i)
	}
	// Every test draft is urgent: only r[2] stays so.
	for _, id := range append(f.r[:], f.q[:]...) {
		e.exec(t, `UPDATE reports SET urgent = $1 WHERE id = $2`, id == f.r[2], id)
	}
	type tri struct {
		id       string
		priority int
		material string
	}
	for i, a := range []tri{
		{f.r[0], triage.PriorityKnown, triage.MaterialKnown}, {f.r[1], triage.PriorityNew, triage.MaterialNew},
		{f.r[2], triage.PriorityUrgent, triage.MaterialNew}, {f.r[3], triage.PriorityKnown, triage.MaterialKnown},
		{f.r[4], triage.PriorityNew, triage.MaterialNew}, {f.r[5], triage.PriorityNew, triage.MaterialNone},
		{f.r[6], triage.PriorityNew, triage.MaterialNew}, {f.q[0], triage.PriorityNew, triage.MaterialNew},
		{f.q[1], triage.PriorityKnown, triage.MaterialKnown},
	} {
		e.triage(t, triage.Assessment{ReportID: a.id, Priority: a.priority, Material: a.material, Keys: []string{fmt.Sprintf("md5:%032x", i+1)}})
	}
	f.caseMD5 = fmt.Sprintf("%032x", 1)
	f.fileSHA, f.filePDQ, f.fileMD5 = strings.Repeat("ab", 32), strings.Repeat("cd", 32), strings.Repeat("ef", 16)
	e.exec(t, `INSERT INTO report_files (report_id, file_index, size, md5, sha256, pdq, quality, content_sealed, created_at)
		VALUES ($1, 0, 10, $2, $3, $4, 90, $5, $6)`, f.r[3], f.fileMD5, f.fileSHA, f.filePDQ, []byte("sealed"), t0)

	decide := func(id string, kind triage.DecisionKind, at time.Time) {
		t.Helper()
		d := triage.CaseDecision{CaseID: id, Kind: kind, Actor: "user:7", At: at}
		if kind != triage.Forward {
			d.Details = details(id)
		}
		if err := triage.ApplyDecision(e.ctx, e.st, d); err != nil {
			t.Fatal(err)
		}
	}
	decide(f.r[4], triage.RequestInfo, t0.Add(90*time.Minute))
	decide(f.r[5], triage.Unfounded, t0.Add(2*time.Hour))
	decide(f.r[6], triage.Forward, t0.Add(3*time.Hour))
	f.decidedQ = t0.Add(4 * time.Hour)
	decide(f.q[1], triage.Forward, f.decidedQ)

	orgs := org.NewService(e.db)
	lea, err := orgs.Create(e.ctx, "bka", org.LEA, "DE")
	if err != nil {
		t.Fatal(err)
	}
	eu, err := orgs.Create(e.ctx, "europol", org.Europol, "NL")
	if err != nil {
		t.Fatal(err)
	}
	f.lea, f.eu = lea.ID, eu.ID
	at := t0.Add(3*time.Hour + time.Minute)
	err = e.db.Forward().Update(e.ctx, func(ctx context.Context, tx forward.Tx) error {
		_, err := forward.AddDeliveries(ctx, tx, f.r[6], []forward.Target{{Org: f.lea, Detail: []byte("s")}, {Org: f.eu, Detail: []byte("s")}}, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordPush(e.ctx, f.r[6], f.lea, at, "503 Service Unavailable"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordPush(e.ctx, f.r[6], f.eu, at, ""); err != nil {
		t.Fatal(err)
	}
	return f
}

func (e *reportEnv) list(t *testing.T, q triage.ListQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	es, err := e.db.ListReports(e.ctx, q)
	if err != nil {
		t.Fatalf("ListReports(%+v): %v", q, err)
	}
	return listIDs(es)
}

func testTriageList(t *testing.T, e *reportEnv) {
	f := e.searchFixture(t)
	r, q := f.r, f.q
	queue := []string{r[2], r[1], q[0], r[0], r[3]}
	all := []string{q[1], q[0], r[6], r[5], r[4], r[3], r[2], r[1], r[0]}
	day := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	for _, tc := range []struct {
		name string
		q    triage.ListQuery
		want []string
	}{
		{"queued", triage.ListQuery{View: triage.ViewQueued}, queue},
		{"info requested", triage.ListQuery{View: triage.ViewInfoRequested}, []string{r[4]}},
		{"decided", triage.ListQuery{View: triage.ViewDecided}, []string{q[1], r[6], r[5]}},
		{"forwarded", triage.ListQuery{View: triage.ViewForwarded}, []string{q[1], r[6]}},
		{"unfounded", triage.ListQuery{View: triage.ViewUnfounded}, []string{r[5]}},
		{"all", triage.ListQuery{View: triage.ViewAll}, all},
		{"id", triage.ListQuery{View: triage.ViewAll, ReportID: r[3]}, []string{r[3]}},
		{"id in another view", triage.ListQuery{View: triage.ViewDecided, ReportID: r[3]}, nil},
		{"no such id", triage.ListQuery{View: triage.ViewAll, ReportID: "NOPE"}, nil},
		{"sha256", triage.ListQuery{View: triage.ViewAll, Hash: f.fileSHA}, []string{r[3]}},
		{"sha256 upper case", triage.ListQuery{View: triage.ViewAll, Hash: strings.ToUpper(f.fileSHA)}, []string{r[3]}},
		{"pdq", triage.ListQuery{View: triage.ViewAll, Hash: f.filePDQ}, []string{r[3]}},
		{"md5 of a file", triage.ListQuery{View: triage.ViewAll, Hash: f.fileMD5}, []string{r[3]}},
		{"md5 of a case's content", triage.ListQuery{View: triage.ViewAll, Hash: f.caseMD5}, []string{r[0]}},
		{"unknown hash", triage.ListQuery{View: triage.ViewAll, Hash: strings.Repeat("0", 64)}, nil},
		{"provider", triage.ListQuery{View: triage.ViewAll, Provider: "CHA"}, []string{q[1], q[0]}},
		{"provider and view", triage.ListQuery{View: triage.ViewQueued, Provider: "chat"}, []string{q[0]}},
		{"provider wildcard is literal", triage.ListQuery{View: triage.ViewAll, Provider: "%"}, nil},
		{"provider quote", triage.ListQuery{View: triage.ViewAll, Provider: "' OR 1=1 --"}, nil},
		{"known material", triage.ListQuery{View: triage.ViewQueued, Material: triage.MaterialKnown}, []string{r[0], r[3]}},
		{"no material", triage.ListQuery{View: triage.ViewAll, Material: triage.MaterialNone}, []string{r[5]}},
		{"urgent", triage.ListQuery{View: triage.ViewQueued, Urgency: triage.Urgent}, []string{r[2]}},
		{"normal", triage.ListQuery{View: triage.ViewQueued, Urgency: triage.Normal}, []string{r[1], q[0], r[0], r[3]}},
		{"from", triage.ListQuery{View: triage.ViewAll, From: day(6)}, []string{q[1], q[0], r[6]}},
		{"to", triage.ListQuery{View: triage.ViewAll, To: day(1)}, []string{r[0]}},
		{"from to", triage.ListQuery{View: triage.ViewAll, From: day(1), To: day(4)}, []string{r[3], r[2], r[1]}},
		{"everything at once", triage.ListQuery{View: triage.ViewQueued, Provider: "photos", Material: triage.MaterialKnown,
			Urgency: triage.Normal, From: day(1), To: day(20)}, []string{r[3]}},
	} {
		if got := e.list(t, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Who decided, when, and where a forwarded report went.
	es, err := e.db.ListReports(e.ctx, triage.ListQuery{View: triage.ViewAll, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]triage.ListEntry{}
	for _, en := range es {
		by[en.ReportID] = en
	}
	if d := by[r[6]].Decided; d.Kind != report.EventForwarded || d.Actor != "user:7" || !d.At.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("decision of a forwarded report: %+v", d)
	}
	if !by[r[6]].DecidedAt.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("decided at %v", by[r[6]].DecidedAt)
	}
	if d := by[r[4]].Decided; d.Kind != report.EventInfoRequested || !by[r[4]].DecidedAt.IsZero() {
		t.Errorf("a request for information: %+v, decided at %v", d, by[r[4]].DecidedAt)
	}
	if d := by[r[1]].Decided; d.Kind != "" {
		t.Errorf("an undecided report has a decision: %+v", d)
	}
	ds := by[r[6]].Deliveries
	if len(ds) != 2 || ds[0].OrgName != "europol" || ds[1].OrgName != "bka" || ds[1].Country != "DE" || ds[1].OrgKind != org.LEA ||
		ds[1].Attempts != 1 || ds[1].LastError != "503 Service Unavailable" || !ds[1].PushedAt.IsZero() || ds[0].PushedAt.IsZero() {
		t.Errorf("deliveries %+v", ds)
	}
	if len(by[q[1]].Deliveries) != 0 {
		t.Errorf("an unrouted report has deliveries: %+v", by[q[1]].Deliveries)
	}
	if _, err := e.db.ListReports(e.ctx, triage.ListQuery{View: triage.ViewAll, Limit: triage.MaxPage + 2}); err == nil {
		t.Error("an unbounded page was accepted")
	}
}

// testTriageListPages walks each view a page at a time, forwards and
// back, while reports arrive.
func testTriageListPages(t *testing.T, e *reportEnv) {
	f := e.searchFixture(t)
	r, q := f.r, f.q
	page := func(lq triage.ListQuery) triage.Page {
		t.Helper()
		p, err := f.svc.List(e.ctx, lq)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		view triage.View
		want []string
	}{
		{triage.ViewQueued, []string{r[2], r[1], q[0], r[0], r[3]}},
		{triage.ViewDecided, []string{q[1], r[6], r[5]}},
		{triage.ViewAll, []string{q[1], q[0], r[6], r[5], r[4], r[3], r[2], r[1], r[0]}},
	} {
		for _, size := range []int{1, 2, 3, len(tc.want), len(tc.want) + 1} {
			var got []string
			var pages []triage.Page
			p := page(triage.ListQuery{View: tc.view, Limit: size})
			if p.Prev != nil {
				t.Errorf("%s/%d: the first page has a previous one", tc.view, size)
			}
			for {
				pages = append(pages, p)
				got = append(got, listIDs(p.Entries)...)
				if p.Next == nil {
					break
				}
				if len(pages) > 20 {
					t.Fatalf("%s/%d: endless pages", tc.view, size)
				}
				p = page(triage.ListQuery{View: tc.view, Limit: size, After: p.Next})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s by %d: %v, want %v", tc.view, size, got, tc.want)
			}
			// Back from the last page gives the same pages.
			for i := len(pages) - 1; i > 0; i-- {
				prev := pages[i].Prev
				if prev == nil {
					t.Fatalf("%s/%d: page %d has no previous one", tc.view, size, i)
				}
				b := page(triage.ListQuery{View: tc.view, Limit: size, Before: prev})
				if !slices.Equal(listIDs(b.Entries), listIDs(pages[i-1].Entries)) {
					t.Errorf("%s/%d: back to page %d: %v, want %v", tc.view, size, i-1, listIDs(b.Entries), listIDs(pages[i-1].Entries))
				}
				if (b.Prev == nil) != (i == 1) || b.Next == nil {
					t.Errorf("%s/%d: back to page %d: prev %v next %v", tc.view, size, i-1, b.Prev, b.Next)
				}
			}
		}
	}

	// A report that arrives, even one that goes first in the queue, does
	// not shift the next page.
	p := page(triage.ListQuery{View: triage.ViewQueued, Limit: 2})
	late := e.finished(t, e.providers[0], 30)
	e.triage(t, triage.Assessment{ReportID: late, Priority: triage.PriorityUrgent, Material: triage.MaterialNew, Keys: []string{"md5:late"}})
	if got := listIDs(page(triage.ListQuery{View: triage.ViewQueued, Limit: 2, After: p.Next}).Entries); !slices.Equal(got, []string{q[0], r[0]}) {
		t.Errorf("the second page after an arrival: %v", got)
	}
	if got := listIDs(page(triage.ListQuery{View: triage.ViewQueued, Limit: 2}).Entries); !slices.Equal(got, []string{r[2], late}) {
		t.Errorf("the first page after an arrival: %v", got)
	}
	for _, bad := range []triage.ListQuery{
		{View: "nope"}, {View: triage.ViewAll, Limit: triage.MaxPage + 1}, {View: triage.ViewAll, Material: "old"},
		{View: triage.ViewAll, Urgency: "soon"}, {View: triage.ViewAll, Hash: "xyz"},
		{View: triage.ViewAll, Provider: strings.Repeat("a", triage.MaxSearch+1)},
		{View: triage.ViewAll, After: &triage.Cursor{}, Before: &triage.Cursor{}},
	} {
		if _, err := f.svc.List(e.ctx, bad); err == nil {
			t.Errorf("List(%+v) accepted", bad)
		}
	}
}

func testTriageCounts(t *testing.T, e *reportEnv) {
	f := e.searchFixture(t)
	c, err := f.svc.Counts(e.ctx, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := triage.Counts{Urgent: 1, New: 2, Known: 2, InfoRequested: 1, ForwardedSince: 2, DeliveriesFailing: 1}
	if c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}
	e.exec(t, `UPDATE jobs SET dead_at = $1 WHERE id = (SELECT min(id) FROM jobs)`, t0)
	if c, err = f.svc.Counts(e.ctx, f.decidedQ.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want.ForwardedSince, want.DeadJobs = 0, 1
	if c != want {
		t.Errorf("counts later %+v, want %+v", c, want)
	}
}
