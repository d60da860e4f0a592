package triage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// TestStore runs the triage of reports, through its transactions
// (triage.Record, triage.ApplyDecision) and the store's reads, on a new
// database of each engine per subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *reportEnv)
	}{
		{"Queue", testTriageQueue},
		{"Bundle", testTriageBundle},
		{"ConcurrentBundle", testTriageConcurrentBundle},
		{"Forward", testTriageForward},
		{"Decide", testTriageDecide},
		{"ConcurrentDecide", testTriageConcurrentDecide},
		{"Purge", testTriagePurge},
		{"List", testTriageList},
		{"ListPages", testTriageListPages},
		{"Counts", testTriageCounts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			e := &reportEnv{ctx: t.Context(), db: db, st: db.Triage(), svc: report.NewService(db.Reports(), seal.NewSealer(storetest.Keyring(t), db))}
			orgs := org.NewService(db)
			for i, name := range []string{"photos", "chat"} {
				o, err := orgs.Create(e.ctx, name, org.Provider, []string{"IE", "NL"}[i])
				if err != nil {
					t.Fatal(err)
				}
				e.providers[i] = o.ID
			}
			// Only a provider with a webhook has its reports' steps
			// notified: photos has one, chat not.
			if err := db.SetWebhook(e.ctx, e.providers[0], []byte("a sealed webhook")); err != nil {
				t.Fatal(err)
			}
			tc.fn(t, e)
		})
	}
}

type reportEnv struct {
	ctx       context.Context
	db        *store.DB
	st        triage.Store // db's
	svc       *report.Service
	providers [2]int64
}

func (e *reportEnv) create(t *testing.T, provider int64, key string, d report.Draft) report.Report {
	t.Helper()
	r, existed, err := e.svc.CreateDraft(e.ctx, provider, key, d)
	if err != nil {
		t.Fatal(err)
	}
	if existed {
		t.Fatalf("CreateDraft(%q): existed", key)
	}
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// t0 is the time the finished reports of the triage tests are finished
// at, plus a minute for each: their order is the order of creation.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// finished creates and finishes a report of the provider with one item of
// kind hash, and returns its ID. Its finish time is t0 plus minutes.
func (e *reportEnv) finished(t *testing.T, provider int64, minutes int) string {
	t.Helper()
	d := storetest.Draft()
	d.Items = d.Items[1:] // no file to upload
	r := e.create(t, provider, fmt.Sprintf("k-%d-%d", provider, minutes), d)
	if _, err := e.svc.Finish(e.ctx, provider, r.ID); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `UPDATE reports SET finished_at = $1 WHERE id = $2`, t0.Add(time.Duration(minutes)*time.Minute), r.ID)
	return r.ID
}

func (e *reportEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// jobRefs returns the refs of the jobs of a kind, sorted.
func (e *reportEnv) jobRefs(t *testing.T, kind string) []string {
	t.Helper()
	refs := storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1`, kind)
	slices.Sort(refs)
	return refs
}

// history returns the kinds of a report's events, in order, as
// "kind/actor".
func (e *reportEnv) history(t *testing.T, id string) string {
	t.Helper()
	evs, err := e.db.ReportEvents(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Kind)+"/"+ev.Actor)
	}
	return strings.Join(s, " ")
}

func (e *reportEnv) triage(t *testing.T, a triage.Assessment) triage.Triaged {
	t.Helper()
	if a.At.IsZero() {
		a.At = t0.Add(time.Hour)
	}
	if a.Material == "" {
		a.Material = triage.MaterialNew
	}
	res, err := triage.Record(e.ctx, e.st, a)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *reportEnv) entry(t *testing.T, id string) triage.QueueEntry {
	t.Helper()
	en, err := e.db.TriageEntry(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// ids returns the report IDs of entries.
func ids(es []triage.QueueEntry) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.ReportID)
	}
	return s
}

// details returns fake sealed details for reports (the transactions do
// not open them).
func details(ids ...string) map[string][]byte {
	m := map[string][]byte{}
	for _, id := range ids {
		m[id] = []byte("sealed for " + id)
	}
	return m
}

func testTriageQueue(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	knownOld, fresh, urgent, knownNew, solicit := e.finished(t, p, 0), e.finished(t, p, 1), e.finished(t, p, 4), e.finished(t, p, 2), e.finished(t, p, 3)
	untriaged := e.finished(t, p, 5)
	matches := []triage.Match{
		{Item: 0, Indicator: 9, List: "known", Signal: indicator.PDQ, Category: indicator.A1, Distance: 12},
		{Item: 0, Indicator: 7, List: "known", Signal: indicator.MD5, Category: indicator.B1},
		{Item: 0, Indicator: 8, List: "national", Signal: indicator.PDQ, Category: indicator.A2, Distance: 12},
	}
	for i, a := range []triage.Assessment{
		{ReportID: knownOld, Priority: triage.PriorityKnown, Material: triage.MaterialKnown, Matched: 1, Matches: matches},
		{ReportID: fresh, Priority: triage.PriorityNew, Material: triage.MaterialNew},
		{ReportID: urgent, Priority: triage.PriorityUrgent, Material: triage.MaterialNew},
		{ReportID: knownNew, Priority: triage.PriorityKnown, Material: triage.MaterialKnown, Matched: 1, Matches: matches[:1]},
		{ReportID: solicit, Priority: triage.PriorityNew, Material: triage.MaterialNone},
	} {
		a.Keys = []string{fmt.Sprintf("md5:%032x", i)}
		res := e.triage(t, a)
		if want := (triage.Triaged{State: report.StateQueued, CaseID: a.ReportID, LeadState: report.StateQueued}); res != want {
			t.Errorf("triage of %s: %+v, want %+v", a.ReportID, res, want)
		}
	}
	q, err := e.db.Queue(e.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(q), []string{urgent, fresh, solicit, knownOld, knownNew}; !slices.Equal(got, want) {
		t.Errorf("queue %v, want %v (urgent, new by age, known by age)", got, want)
	}
	want := triage.QueueEntry{ReportID: knownOld, CaseID: knownOld, Provider: p, ProviderName: "photos", Type: report.TypeNew,
		Urgent: true, Priority: triage.PriorityKnown, Material: triage.MaterialKnown, Matched: 1, State: report.StateQueued,
		FinishedAt: t0}
	if q[3] != want {
		t.Errorf("entry\n%+v\nwant\n%+v", q[3], want)
	}
	if q, err := e.db.Queue(e.ctx, 2); err != nil || !slices.Equal(ids(q), []string{urgent, fresh}) {
		t.Errorf("queue of 2: %v, %v", ids(q), err)
	}

	ms, err := e.db.ReportMatches(e.ctx, knownOld)
	if err != nil {
		t.Fatal(err)
	}
	if want := []triage.Match{matches[1], matches[2], matches[0]}; !slices.Equal(ms, want) {
		t.Errorf("matches\n%+v\nwant\n%+v", ms, want)
	}

	// Triage again changes nothing.
	res := e.triage(t, triage.Assessment{ReportID: knownOld, Priority: triage.PriorityUrgent, Material: triage.MaterialNew,
		Keys: []string{"md5:0"}, Matches: matches[:1], Forward: true})
	if want := (triage.Triaged{State: report.StateQueued, CaseID: knownOld, LeadState: report.StateQueued}); res != want {
		t.Errorf("second triage: %+v, want %+v", res, want)
	}
	if en := e.entry(t, knownOld); en != want {
		t.Errorf("after a second triage:\n%+v\nwant\n%+v", en, want)
	}
	if ms2, _ := e.db.ReportMatches(e.ctx, knownOld); len(ms2) != 3 {
		t.Errorf("after a second triage: %d matches", len(ms2))
	}
	if h := e.history(t, knownOld); h != "received/provider queued/system" {
		t.Errorf("history %s", h)
	}
	if refs := e.jobRefs(t, forward.JobRoute); len(refs) != 0 {
		t.Errorf("route jobs %v", refs)
	}

	// A report asked about goes after the queued ones.
	if err := triage.ApplyDecision(e.ctx, e.st, triage.CaseDecision{CaseID: fresh, Kind: triage.RequestInfo, Actor: "user:1",
		At: t0.Add(2 * time.Hour), Details: details(fresh)}); err != nil {
		t.Fatal(err)
	}
	if q, err := e.db.Queue(e.ctx, 10); err != nil || !slices.Equal(ids(q), []string{urgent, solicit, knownOld, knownNew, fresh}) {
		t.Errorf("queue after a request for information: %v, %v", ids(q), err)
	}

	en := e.entry(t, untriaged)
	if en.CaseID != "" || en.Priority != -1 || en.Material != "" || en.State != report.StateFinished {
		t.Errorf("untriaged entry %+v", en)
	}
	if _, err := e.db.TriageEntry(e.ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("TriageEntry of no report: %v", err)
	}
}

func testTriageBundle(t *testing.T, e *reportEnv) {
	p, other := e.providers[0], e.providers[1]
	lead, b1, b2, elsewhere := e.finished(t, p, 0), e.finished(t, p, 1), e.finished(t, p, 2), e.finished(t, other, 3)
	e.triage(t, triage.Assessment{ReportID: lead, Priority: triage.PriorityKnown, Material: triage.MaterialKnown, Keys: []string{"sha256:a"}})
	res := e.triage(t, triage.Assessment{ReportID: b1, Priority: triage.PriorityNew, Material: triage.MaterialNew, Keys: []string{"sha256:a", "sha256:b"}})
	if want := (triage.Triaged{State: report.StateBundled, CaseID: lead, LeadState: report.StateQueued}); res != want {
		t.Errorf("triage of a report with known content: %+v, want %+v", res, want)
	}
	// b1 registered its other key to the case.
	res = e.triage(t, triage.Assessment{ReportID: b2, Priority: triage.PriorityKnown, Material: triage.MaterialKnown, Keys: []string{"sha256:b"}})
	if res.State != report.StateBundled || res.CaseID != lead {
		t.Errorf("triage by a key a bundled report brought: %+v", res)
	}
	// Another provider's report of the same content is another case.
	if res := e.triage(t, triage.Assessment{ReportID: elsewhere, Priority: triage.PriorityKnown, Keys: []string{"sha256:a"}}); res.State != report.StateQueued || res.CaseID != elsewhere {
		t.Errorf("another provider's report: %+v", res)
	}

	es, err := e.db.CaseEntries(e.ctx, lead)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(es), []string{lead, b1, b2}) {
		t.Errorf("case %v", ids(es))
	}
	for _, en := range es {
		if en.Bundled != 2 || en.CaseID != lead {
			t.Errorf("entry %+v: want 2 others in case %s", en, lead)
		}
	}
	if es[0].Priority != triage.PriorityNew || es[2].Priority != triage.PriorityKnown {
		t.Errorf("priorities %d %d %d: the lead's should be raised to its bundled report's", es[0].Priority, es[1].Priority, es[2].Priority)
	}
	q, err := e.db.Queue(e.ctx, 10)
	if err != nil || !slices.Equal(ids(q), []string{lead, elsewhere}) {
		t.Errorf("queue %v, %v; want the two leads", ids(q), err)
	}
	if h := e.history(t, b1); h != "received/provider bundled/system" {
		t.Errorf("history of a bundled report: %s", h)
	}
	notified := e.jobRefs(t, forward.JobNotify)
	if len(notified) != 3 {
		t.Errorf("%d notify jobs, want one per triaged report of the provider with a webhook", len(notified))
	}

	// A report with keys of two cases joins the case of the earlier lead.
	later := e.finished(t, p, 10)
	e.triage(t, triage.Assessment{ReportID: later, Priority: triage.PriorityKnown, Keys: []string{"sha256:c"}})
	both := e.finished(t, p, 11)
	if res := e.triage(t, triage.Assessment{ReportID: both, Priority: triage.PriorityKnown, Keys: []string{"sha256:a", "sha256:c"}}); res.CaseID != lead {
		t.Errorf("a report in two cases joined %s, want the earlier lead %s", res.CaseID, lead)
	}
	// A report without keys (solicitation) leads a case of its own.
	alone := e.finished(t, p, 12)
	if res := e.triage(t, triage.Assessment{ReportID: alone, Priority: triage.PriorityNew, Material: triage.MaterialNone}); res.CaseID != alone {
		t.Errorf("a report without content: %+v", res)
	}
}

// testTriageConcurrentBundle triages identical reports at once: they end
// in one case.
func testTriageConcurrentBundle(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	const n = 8
	var reports []string
	for i := range n {
		reports = append(reports, e.finished(t, p, i))
	}
	res := make([]triage.Triaged, n)
	var wg sync.WaitGroup
	for i, id := range reports {
		wg.Go(func() {
			var err error
			res[i], err = triage.Record(e.ctx, e.st, triage.Assessment{ReportID: id, At: t0.Add(time.Hour),
				Priority: triage.PriorityNew, Material: triage.MaterialNew, Keys: []string{"md5:x", "sha256:y"}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var leads []string
	for i, r := range res {
		if r.State == report.StateQueued {
			leads = append(leads, reports[i])
		}
	}
	if len(leads) != 1 {
		t.Fatalf("%d leads %v, want 1: %+v", len(leads), leads, res)
	}
	for i, r := range res {
		if r.CaseID != leads[0] {
			t.Errorf("report %d: %+v, want case %s", i, r, leads[0])
		}
	}
	if es, err := e.db.CaseEntries(e.ctx, leads[0]); err != nil || len(es) != n {
		t.Errorf("case of %d reports, %v; want %d", len(es), err, n)
	}
}

func testTriageForward(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	urgent, joiner := e.finished(t, p, 0), e.finished(t, p, 1)
	at := t0.Add(time.Hour)
	res := e.triage(t, triage.Assessment{ReportID: urgent, At: at, Priority: triage.PriorityUrgent, Keys: []string{"sha256:u"}, Forward: true})
	if want := (triage.Triaged{State: report.StateForwarded, CaseID: urgent, LeadState: report.StateForwarded}); res != want {
		t.Errorf("triage of an urgent report to forward: %+v, want %+v", res, want)
	}
	if h := e.history(t, urgent); h != "received/provider forwarded/system" {
		t.Errorf("history %s", h)
	}
	if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, []string{urgent}) {
		t.Errorf("route jobs %v", refs)
	}
	if q, _ := e.db.Queue(e.ctx, 10); len(q) != 0 {
		t.Errorf("queue %v", ids(q))
	}
	// A report joining the forwarded case is bundled, and told so.
	res = e.triage(t, triage.Assessment{ReportID: joiner, At: at, Priority: triage.PriorityKnown, Keys: []string{"sha256:u"}})
	if want := (triage.Triaged{State: report.StateBundled, CaseID: urgent, LeadState: report.StateForwarded}); res != want {
		t.Errorf("triage of a late joiner: %+v, want %+v", res, want)
	}
	// Inheriting another decision than the lead's does nothing.
	if err := triage.ApplyDecision(e.ctx, e.st, triage.CaseDecision{CaseID: urgent, Kind: triage.Unfounded, Actor: "system", At: at,
		Inherit: true, Details: details(joiner)}); err != nil {
		t.Fatal(err)
	}
	if st := e.entry(t, joiner).State; st != report.StateBundled {
		t.Errorf("the joiner is %s after inheriting a decision the lead does not have", st)
	}
	if err := triage.ApplyDecision(e.ctx, e.st, triage.CaseDecision{CaseID: urgent, Kind: triage.Forward, Actor: "system", At: at, Inherit: true}); err != nil {
		t.Fatal(err)
	}
	if st := e.entry(t, joiner).State; st != report.StateForwarded {
		t.Errorf("the joiner is %s after inheriting the forward", st)
	}
	if h := e.history(t, joiner); h != "received/provider bundled/system forwarded/system" {
		t.Errorf("history of the joiner: %s", h)
	}
	if h := e.history(t, urgent); h != "received/provider forwarded/system" {
		t.Errorf("history of the lead after the joiner inherited: %s", h)
	}
	if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, sorted(urgent, joiner)) {
		t.Errorf("route jobs %v", refs)
	}
}

func testTriageDecide(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	lead, b1, b2, other, untriaged := e.finished(t, p, 0), e.finished(t, p, 1), e.finished(t, p, 2), e.finished(t, p, 3), e.finished(t, p, 4)
	for _, id := range []string{lead, b1, b2} {
		e.triage(t, triage.Assessment{ReportID: id, Priority: triage.PriorityKnown, Keys: []string{"sha256:same"}})
	}
	e.triage(t, triage.Assessment{ReportID: other, Priority: triage.PriorityNew, Keys: []string{"sha256:other"}})
	at := t0.Add(2 * time.Hour)
	decide := func(id string, kind triage.DecisionKind, d map[string][]byte) error {
		return triage.ApplyDecision(e.ctx, e.st, triage.CaseDecision{CaseID: id, Kind: kind, Actor: "user:7", At: at, Details: d})
	}
	states := func() string {
		var s []string
		for _, id := range []string{lead, b1, b2} {
			s = append(s, string(e.entry(t, id).State))
		}
		return strings.Join(s, " ")
	}

	err := decide(b1, triage.Forward, nil)
	if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), lead) {
		t.Errorf("decision on a bundled report: %v; want ErrInvalid naming the lead", err)
	}
	wantErr(t, "decision on no report", decide("nope", triage.Forward, nil), core.ErrNotFound)
	wantErr(t, "decision on an untriaged report", decide(untriaged, triage.Forward, nil), core.ErrConflict)
	wantErr(t, "unknown decision", decide(lead, "praise", nil), core.ErrInvalid)
	// Without a detail for every report it applies to, a decision is stale.
	if err := decide(lead, triage.Unfounded, details(lead, b1)); !errors.Is(err, triage.ErrStale) {
		t.Errorf("decision lacking a detail: %v, want ErrStale", err)
	}
	if s := states(); s != "queued bundled bundled" {
		t.Errorf("states after a stale decision: %s", s)
	}

	// A request for information is the lead's alone.
	if err := decide(lead, triage.RequestInfo, details(lead)); err != nil {
		t.Fatal(err)
	}
	if s := states(); s != "info_requested bundled bundled" {
		t.Errorf("states after a request for information: %s", s)
	}
	wantErr(t, "second request for information", decide(lead, triage.RequestInfo, details(lead)), core.ErrConflict)
	evs, err := e.db.ReportEvents(e.ctx, lead)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Kind != report.EventInfoRequested || last.Actor != "user:7" || string(last.Detail) != "sealed for "+lead || !last.At.Equal(at) {
		t.Errorf("event %+v", last)
	}

	// Forwarding from info_requested applies to the case.
	if err := decide(lead, triage.Forward, nil); err != nil {
		t.Fatal(err)
	}
	if s := states(); s != "forwarded forwarded forwarded" {
		t.Errorf("states after forwarding: %s", s)
	}
	if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, sorted(lead, b1, b2)) {
		t.Errorf("route jobs %v, want one per report of the case", refs)
	}
	if h := e.history(t, b2); h != "received/provider bundled/system forwarded/user:7" {
		t.Errorf("history of a bundled report: %s", h)
	}
	wantErr(t, "decision on a decided case", decide(lead, triage.Unfounded, details(lead, b1, b2)), core.ErrConflict)
	wantErr(t, "forward again", decide(lead, triage.Forward, nil), core.ErrConflict)

	if err := decide(other, triage.Unfounded, details(other)); err != nil {
		t.Fatal(err)
	}
	evs, _ = e.db.ReportEvents(e.ctx, other)
	if last := evs[len(evs)-1]; last.Kind != report.EventUnfounded || string(last.Detail) != "sealed for "+other {
		t.Errorf("event %+v", last)
	}
	// Decisions are due for retention, once delivered; a request for
	// information is not: the unfounded report goes, the forwarded ones
	// wait for their route jobs.
	n, err := e.db.PurgeDecided(e.ctx, at.Add(time.Second), at.Add(time.Minute), 10, triage.ClearedDetails, triage.PendingJobs)
	if err != nil || n != 1 {
		t.Errorf("purged %d, %v; want the unfounded report", n, err)
	}
}

// testTriageConcurrentDecide races decisions on a case against each other
// and against the triage of a report joining it: one decision wins, and
// the joiner either gets it or sees the lead decided.
func testTriageConcurrentDecide(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	for round := range 5 {
		key := []string{fmt.Sprintf("sha256:%d", round)}
		lead, b := e.finished(t, p, 10*round), e.finished(t, p, 10*round+1)
		joiner := e.finished(t, p, 10*round+2)
		e.triage(t, triage.Assessment{ReportID: lead, Keys: key})
		e.triage(t, triage.Assessment{ReportID: b, Keys: key})
		d := details(lead, b, joiner)
		var (
			wg       sync.WaitGroup
			errs     [2]error
			res      triage.Triaged
			joinErr  error
			decision = [2]triage.DecisionKind{triage.Forward, triage.Unfounded}
		)
		for i, k := range decision {
			wg.Go(func() {
				errs[i] = triage.ApplyDecision(e.ctx, e.st, triage.CaseDecision{CaseID: lead, Kind: k, Actor: "user:1", At: t0, Details: d})
			})
		}
		wg.Go(func() {
			res, joinErr = triage.Record(e.ctx, e.st, triage.Assessment{ReportID: joiner, At: t0, Priority: triage.PriorityNew,
				Material: triage.MaterialNew, Keys: key})
		})
		wg.Wait()
		if joinErr != nil {
			t.Fatal(joinErr)
		}
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs[:]...), core.ErrConflict) {
			t.Fatalf("round %d: decisions %v; want exactly one conflict", round, errs)
		}
		won := report.StateForwarded
		if errs[0] != nil {
			won = report.StateUnfounded
		}
		if st := e.entry(t, b).State; st != won || e.entry(t, lead).State != won {
			t.Errorf("round %d: the lead and its bundled report are %s and %s, want %s", round, e.entry(t, lead).State, st, won)
		}
		joined := e.entry(t, joiner).State
		if !(joined == won || joined == report.StateBundled && res.LeadState == won) {
			t.Errorf("round %d: the joiner is %s, seeing the lead %s; the decision was %s", round, joined, res.LeadState, won)
		}
	}
}

func testTriagePurge(t *testing.T, e *reportEnv) {
	p := e.providers[0]
	r := e.create(t, p, "with-file", storetest.Draft())
	if _, _, err := e.svc.AddFile(e.ctx, p, r.ID, 0, storetest.Image(t, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, p, r.ID); err != nil {
		t.Fatal(err)
	}
	later, queued := e.finished(t, p, 1), e.finished(t, p, 2)
	e.triage(t, triage.Assessment{ReportID: r.ID, At: t0, Forward: true, Keys: []string{"sha256:1"}})
	e.triage(t, triage.Assessment{ReportID: later, At: t0.Add(time.Hour), Forward: true, Keys: []string{"sha256:2"}})
	e.triage(t, triage.Assessment{ReportID: queued, At: t0, Keys: []string{"sha256:3"}})
	filesBefore, err := e.db.ReportFiles(e.ctx, p, r.ID)
	if err != nil {
		t.Fatal(err)
	}

	at := t0.Add(48 * time.Hour)
	// Not while it is still being routed.
	if n, err := e.db.PurgeDecided(e.ctx, t0.Add(time.Minute), at, 10, triage.ClearedDetails, triage.PendingJobs); err != nil || n != 0 {
		t.Fatalf("purged %d, %v, with its route job pending; want 0", n, err)
	}
	js, err := e.db.ClaimJobs(e.ctx, "test", []string{forward.JobRoute}, time.Now(), time.Minute, 10)
	if err != nil || len(js) != 2 {
		t.Fatalf("route jobs: %d, %v", len(js), err)
	}
	for _, j := range js {
		if err := e.db.CompleteJob(e.ctx, j.ID, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.db.PurgeDecided(e.ctx, t0.Add(time.Minute), at, 10, triage.ClearedDetails, triage.PendingJobs); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	rec, err := e.db.ReportByID(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Body) != 0 || rec.State != report.StateForwarded {
		t.Errorf("purged report: %d bytes of body, %s", len(rec.Body), rec.State)
	}
	if f, err := e.db.ReportFile(e.ctx, p, r.ID, 0); err != nil || len(f.Content) != 0 || f.SHA256 != filesBefore[0].SHA256 {
		t.Errorf("purged file: %d bytes, %v", len(f.Content), err)
	}
	if segs, err := e.db.FileSegments(e.ctx, p, r.ID, 0, 0, 100); err != nil || len(segs) != 0 {
		t.Errorf("purged file: %d segments left, %v", len(segs), err)
	}
	if files, err := e.db.ReportFiles(e.ctx, p, r.ID); err != nil || !reflect.DeepEqual(files, filesBefore) {
		t.Errorf("files after purge:\n%+v\nwant\n%+v", files, filesBefore)
	}
	if en := e.entry(t, r.ID); !en.PurgedAt.Equal(at) {
		t.Errorf("purged at %v, want %v", en.PurgedAt, at)
	}
	if h := e.history(t, r.ID); h != "received/provider forwarded/system purged/system" {
		t.Errorf("history %s", h)
	}
	if _, err := e.svc.Open(e.ctx, r.ID); err == nil {
		t.Error("a purged report opens")
	}
	if n, err := e.db.PurgeDecided(e.ctx, t0.Add(time.Minute), at, 10, triage.ClearedDetails, triage.PendingJobs); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v", n, err)
	}
	// In batches.
	if n, err := e.db.PurgeDecided(e.ctx, at, at, 1, triage.ClearedDetails, triage.PendingJobs); err != nil || n != 1 {
		t.Errorf("purge of the later: %d, %v", n, err)
	}
	if n, err := e.db.PurgeDecided(e.ctx, at, at, 1, triage.ClearedDetails, triage.PendingJobs); err != nil || n != 0 {
		t.Errorf("purge of the undecided: %d, %v", n, err)
	}
	if en := e.entry(t, queued); !en.PurgedAt.IsZero() {
		t.Error("an undecided report was purged")
	}
}
