package stats_test

import (
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core/coretest"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
)

// env is the report handling, the lists and the takedown store on a
// database of one engine, all on one clock, and the statistics of them.
type env struct {
	ctx     context.Context
	db      *store.DB
	clock   *coretest.Clock
	reports *report.Service
	triage  *triage.Service
	forward *forward.Service
	ind     *indicator.Service
	m       *matcher.Matcher
	stats   *stats.Service
	// complaints runs complaints; reviewer decides them.
	complaints *complaint.Service
	reviewer   complaint.Reviewer
	// progress holds what the roll-ups reported.
	progress []stats.Progress

	photos, chat, bka, politie, europol, hotNL, hotDE, centre org.Organisation
	n                                                         int // reports made
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := t.Context()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, db: db, clock: coretest.NewClock(time.Time{}), m: matcher.New(), ind: indicator.NewService(db)}
	e.reports = report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))
	e.reports.Clock = e.clock.Now
	e.m.SetList(indicator.List{Name: indicator.Known, MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold})
	e.triage = triage.New(db.Triage(), e.reports, e.m, triage.Options{})
	e.triage.Clock = e.clock.Now
	e.forward = forward.NewService(db.Forward(), e.reports, key)
	e.forward.Clock = e.clock.Now
	e.ind.Clock = e.clock.Now
	e.complaints = complaint.New(db.Complaints(), complaint.Options{Sealer: seal.NewSealer(seal.NewKeyring(), db), Key: key, Clock: e.clock.Now})
	e.stats = stats.New(db.Stats(), stats.Options{Clock: e.clock.Now, Progress: func(p stats.Progress) { e.progress = append(e.progress, p) }})
	storetest.CreateOrgs(t, db,
		storetest.NewOrg(&e.photos, "PhotoShare", org.Provider, "IE"),
		storetest.NewOrg(&e.chat, "ChatApp", org.Provider, "FR"),
		storetest.NewOrg(&e.bka, "BKA", org.LEA, "DE"),
		storetest.NewOrg(&e.politie, "Politie", org.LEA, "NL"),
		storetest.NewOrg(&e.europol, "Europol", org.Europol, "NL"),
		storetest.NewOrg(&e.hotNL, "Hotline NL", org.Hotline, "NL"),
		storetest.NewOrg(&e.hotDE, "Hotline DE", org.Hotline, "DE"),
		storetest.NewOrg(&e.centre, "Centre", org.Centre, "BE"),
	)
	e.reviewer = complaint.Reviewer{Actor: "user:1", Org: e.centre.ID, OrgName: e.centre.Name, Scope: policy.AllData}
	return e
}

func (e *env) at(t time.Time) *env { e.clock.Set(t); return e }

// md5Of is a distinct MD5 value for name.
func md5Of(name string) string {
	s := md5.Sum([]byte(name))
	return hex.EncodeToString(s[:])
}

// report makes and finishes a report of provider with one hashed item of
// MD5 value, of type typ, urgent or not, whose user states country, and
// triages it; it returns its ID.
func (e *env) report(t *testing.T, provider org.Organisation, value string, typ report.Type, urgent bool, country string) string {
	t.Helper()
	e.n++
	d := storetest.Draft()
	d.Type = typ
	d.Items = []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: value}}}
	d.User.Country = country
	d.User.IPCaptures = nil
	d.Urgency = report.Urgency{Urgent: urgent}
	if urgent {
		d.Urgency.Reason = "A meeting is planned."
	}
	r, _, err := e.reports.CreateDraft(e.ctx, provider.ID, fmt.Sprint("key-", e.n), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reports.Finish(e.ctx, provider.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.triage.Triage(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// decide decides on report id, and routes it if forwarded.
func (e *env) decide(t *testing.T, id string, kind triage.DecisionKind) {
	t.Helper()
	d := triage.Decision{Kind: kind}
	if kind != triage.Forward {
		d.Text = "not child sexual abuse material"
	}
	if err := e.triage.Decide(e.ctx, "user:1", id, d); err != nil {
		t.Fatal(err)
	}
	if kind == triage.Forward {
		if err := e.forward.Route(e.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// indicator submits MD5 value by the hotlines given (two of different
// countries activate it) and reloads the matcher; it returns its ID.
func (e *env) indicator(t *testing.T, value string, by ...org.Organisation) int64 {
	t.Helper()
	var id int64
	for _, o := range by {
		res, err := e.ind.Submit(e.ctx, indicator.Known, o.Principal(), []indicator.Submission{{Signal: indicator.MD5, Value: value, Category: indicator.A1}})
		if err != nil {
			t.Fatal(err)
		}
		id = res[0].IndicatorID
	}
	if err := matcher.NewFollower(e.m, e.ind).Load(e.ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) withdraw(t *testing.T, id int64, by org.Organisation) {
	t.Helper()
	if _, err := e.ind.Withdraw(e.ctx, id, by.Principal(), "matched the wrong content"); err != nil {
		t.Fatal(err)
	}
}

// takedown reports a URL received now, noticed after noticed and removed
// after removed (not if 0), through the takedown store.
func (e *env) takedown(t *testing.T, id string, noticed, removed time.Duration) {
	t.Helper()
	at := e.clock.Now()
	err := e.db.Takedown().Update(e.ctx, func(ctx context.Context, tx takedown.Tx) error {
		var r takedown.Record
		r.ID, r.URL, r.ReceivedAt = id, "https://files.example/"+id, at
		if _, _, _, err := tx.AddCase(ctx, r); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, id, takedown.Event{At: at.Add(noticed), Kind: takedown.EventNoticed, Actor: audit.System,
			Detail: "notice n-" + id + " by webhook"}); err != nil {
			return err
		}
		if removed > 0 {
			return tx.SetRemoved(ctx, id, at.Add(removed))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// complaint files a complaint from the public about provider's removal,
// and decides it with outcome if not "".
func (e *env) complaint(t *testing.T, provider org.Organisation, outcome complaint.State) {
	t.Helper()
	rc, err := e.complaints.File(e.ctx, org.Principal{}, complaint.Filing{Provider: provider.Name, Reference: "ref-1",
		Description: "my holiday photo was removed", Contact: "complainant@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if outcome != "" {
		if _, err := e.complaints.Decide(e.ctx, e.reviewer, rc.Case, complaint.Decision{Outcome: outcome, Reasons: "checked"}); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs a statement directly, for rows no service of this branch
// writes yet (quarantines, verdicts).
func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) rollup(t *testing.T, at time.Time) {
	t.Helper()
	e.clock.Set(at)
	if err := e.stats.Rollup(e.ctx); err != nil {
		t.Fatal(err)
	}
}

func (e *env) statistics(t *testing.T, from, to string) stats.Statistics {
	t.Helper()
	f, _ := time.Parse(stats.DateLayout, from)
	l, _ := time.Parse(stats.DateLayout, to)
	s, err := e.stats.Statistics(e.ctx, stats.Period{From: f, To: l})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, e *env)
		}{
			{"Figures", testFigures},
			{"Final", testFinal},
			{"Empty", testEmpty},
			{"Progress", testProgress},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newEnv(t, open(t)))
			})
		}
	})
}

var (
	jan30 = time.Date(2026, 1, 30, 10, 0, 0, 0, time.UTC)
	jan31 = jan30.AddDate(0, 0, 1)
	feb1  = jan30.AddDate(0, 0, 2)
)

// flows makes the events of three days around the end of January, every
// figure's at least once: on Jan 30 an indicator activated and another
// withdrawn while pending, three reports (one matching it), three
// complaints (one upheld at once); on Jan 31 a
// report forwarded to Germany and one unfounded, a URL reported and
// noticed, a quarantine begun and a false-positive verdict; on Feb 1 a
// report forwarded to the Netherlands, the indicator withdrawn, the URL's
// removal verified, the quarantine ended, a complaint rejected.
func flows(t *testing.T, e *env) {
	known := md5Of("known")
	e.at(jan30)
	k := e.indicator(t, known, e.hotNL, e.hotDE)
	pending := e.indicator(t, md5Of("pending"), e.hotNL)
	e.withdraw(t, pending, e.hotNL)
	a := e.report(t, e.photos, known, report.TypeNew, true, "DE")
	e.at(jan30.Add(time.Hour))
	b := e.report(t, e.photos, md5Of("b"), report.TypeKnown, false, "DE")
	c := e.report(t, e.chat, md5Of("c"), report.TypeNew, false, "NL")
	e.complaint(t, e.photos, complaint.Upheld) // received and upheld on Jan 30
	e.complaint(t, e.chat, "")                 // received on Jan 30, rejected on Feb 1
	e.complaint(t, e.chat, "")                 // open

	e.at(jan31.Add(13*time.Hour + 30*time.Minute)) // 23:30
	e.decide(t, a, triage.Forward)                 // 37.5 h after its receipt
	e.decide(t, b, triage.Unfounded)
	e.takedown(t, "t1", time.Minute, 24*time.Hour) // removed on Feb 1, 23:30
	e.exec(t, `INSERT INTO quarantines (indicator_id, cause, actor, at) VALUES ($1, 'false_positive', 'system', $2)`, k, e.clock.Now())
	e.exec(t, `INSERT INTO match_feedback (provider_id, indicator_id, verdict, at) VALUES ($1, $2, 'false_positive', $3)`,
		e.photos.ID, k, e.clock.Now())

	e.at(feb1.Add(-time.Hour))     // 09:00
	e.decide(t, c, triage.Forward) // 47 h after its receipt
	e.withdraw(t, k, e.hotDE)
	e.exec(t, `UPDATE quarantines SET ended_at = $1, outcome = 'withdrawn', ended_by = 'user:1' WHERE indicator_id = $2`, e.clock.Now(), k)
	open, err := e.complaints.Queue(e.ctx, e.reviewer, complaint.Query{State: complaint.Open})
	if err != nil || len(open) != 2 {
		t.Fatalf("open complaints %v, %v", open, err)
	}
	if _, err := e.complaints.Decide(e.ctx, e.reviewer, open[0].ID, complaint.Decision{Outcome: complaint.Rejected, Reasons: "the removal was right"}); err != nil {
		t.Fatal(err)
	}
}

func testFigures(t *testing.T, e *env) {
	flows(t, e)
	e.rollup(t, feb1.Add(14*time.Hour)) // Feb 2, 00:00: the removal is counted
	all := e.statistics(t, "2026-01-30", "2026-02-01")
	if all.Reports.Received != 3 || all.Reports.Urgent != 1 || all.Reports.Known != 1 || all.Reports.New != 2 ||
		all.Reports.Forwarded != 2 || all.Reports.Unfounded != 1 {
		t.Errorf("reports %+v", all.Reports)
	}
	for what, m := range map[string][2]map[string]int64{
		"by provider": {all.Reports.ByProvider, {"PhotoShare": 2, "ChatApp": 1}},
		"by type":     {all.Reports.TypeCounts(), {"known": 1, "new": 2, "solicitation": 0}},
		"by country":  {all.Reports.ByCountry, {"DE": 1, "NL": 1}},
	} {
		if !maps.Equal(m[0], m[1]) {
			t.Errorf("%s: %v, want %v", what, m[0], m[1])
		}
	}
	// The exact median is (37.5 + 47) / 2 hours.
	if h, ok := all.Reports.MedianHoursToForward(); !ok || math.Abs(h-42.25)/42.25 > 0.05 {
		t.Errorf("median hours to forward %v %v, want 42.25 within 5 %%", h, ok)
	}
	if i := all.Indicators; i != (stats.IndicatorFigures{Active: 0, Added: 1, Withdrawn: 2, Quarantined: 1, FalsePositives: 1}) {
		t.Errorf("indicators %+v", i)
	}
	if c := all.Complaints; c != (stats.ComplaintFigures{Received: 3, Upheld: 1, Rejected: 1}) {
		t.Errorf("complaints %+v", c)
	}
	if c := e.statistics(t, "2026-02-01", "2026-02-01").Complaints; c != (stats.ComplaintFigures{Rejected: 1}) {
		t.Errorf("complaints of Feb 1 %+v", c)
	}
	td := all.Takedown
	if td.URLsReported != 1 || td.Notices != 1 || td.Removed != 1 || td.RemovedIn3Days != 1 {
		t.Errorf("takedown %+v", td)
	}
	if h, ok := td.MedianHoursToRemoval(); !ok || math.Abs(h-24)/24 > 0.05 {
		t.Errorf("median hours to removal %v %v, want 24 within 5 %%", h, ok)
	}
	if !all.UpdatedAt.Equal(feb1.Add(14*time.Hour)) || !all.FinalThrough.Equal(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("updated %v, final through %v", all.UpdatedAt, all.FinalThrough)
	}
	if len(all.Months) != 2 || all.Months[0] != (stats.Month{Month: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Received: 3, Forwarded: 1, Added: 1, URLsReported: 1}) ||
		all.Months[1] != (stats.Month{Month: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Forwarded: 1, Removed: 1}) {
		t.Errorf("months %+v", all.Months)
	}

	// Each day alone, and ranges read from January's monthly sums.
	for _, tc := range []struct {
		from, to                            string
		received, forwarded, removed, added int64
		active, inQuarantine                int64
		countries                           map[string]int64
	}{
		{"2026-01-30", "2026-01-30", 3, 0, 0, 1, 1, 0, map[string]int64{}},
		{"2026-01-31", "2026-01-31", 0, 1, 0, 0, 0, 1, map[string]int64{"DE": 1}},
		{"2026-02-01", "2026-02-01", 0, 1, 1, 0, 0, 0, map[string]int64{"NL": 1}},
		{"2026-01-01", "2026-01-31", 3, 1, 0, 1, 0, 1, map[string]int64{"DE": 1}},
		{"2025-12-15", "2026-02-01", 3, 2, 1, 1, 0, 0, map[string]int64{"DE": 1, "NL": 1}},
		{"2025-12-01", "2025-12-31", 0, 0, 0, 0, 0, 0, map[string]int64{}},
		{"2026-01-31", "2026-02-28", 0, 2, 1, 0, 0, 0, map[string]int64{"DE": 1, "NL": 1}},
	} {
		s := e.statistics(t, tc.from, tc.to)
		got := []int64{s.Reports.Received, s.Reports.Forwarded, s.Takedown.Removed, s.Indicators.Added, s.Indicators.Active, s.Indicators.InQuarantine}
		want := []int64{tc.received, tc.forwarded, tc.removed, tc.added, tc.active, tc.inQuarantine}
		if fmt.Sprint(got) != fmt.Sprint(want) || !maps.Equal(s.Reports.ByCountry, tc.countries) {
			t.Errorf("%s to %s: received, forwarded, removed, added, active, in quarantine %v, by country %v; want %v, %v",
				tc.from, tc.to, got, s.Reports.ByCountry, want, tc.countries)
		}
	}

	// Rolled up again, everything counts the same.
	e.rollup(t, feb1.Add(15*time.Hour))
	again := e.statistics(t, "2026-01-30", "2026-02-01")
	again.UpdatedAt = all.UpdatedAt
	if fmt.Sprint(again) != fmt.Sprint(all) {
		t.Errorf("a second roll-up counts otherwise:\n%+v\n%+v", again, all)
	}
}

// testFinal: a day is counted again until it has settled, then never.
func testFinal(t *testing.T, e *env) {
	e.at(jan30)
	e.report(t, e.photos, md5Of("1"), report.TypeNew, false, "DE")
	e.rollup(t, jan31.Add(time.Hour)) // Jan 30 not final: it ended an hour ago
	if s := e.statistics(t, "2026-01-30", "2026-01-31"); s.Reports.Received != 1 || !s.FinalThrough.IsZero() {
		t.Fatalf("received %d, final through %v", s.Reports.Received, s.FinalThrough)
	}
	// An event committed late, with a time on Jan 30, is still counted.
	e.at(jan30.Add(13*time.Hour + 59*time.Minute))
	e.report(t, e.photos, md5Of("2"), report.TypeNew, false, "DE")
	e.rollup(t, feb1.Add(time.Hour)) // Jan 30 final now
	if s := e.statistics(t, "2026-01-30", "2026-01-30"); s.Reports.Received != 2 || !s.FinalThrough.Equal(dayOf(jan30)) {
		t.Fatalf("received %d, final through %v", s.Reports.Received, s.FinalThrough)
	}
	// Later ones are not: Jan 30 is final. Jan 31 is not yet.
	e.at(jan30.Add(12 * time.Hour))
	e.report(t, e.photos, md5Of("3"), report.TypeNew, false, "DE")
	e.at(jan31.Add(12 * time.Hour))
	e.report(t, e.photos, md5Of("4"), report.TypeNew, false, "DE")
	e.rollup(t, feb1.Add(2*time.Hour))
	for day, want := range map[string]int64{"2026-01-30": 2, "2026-01-31": 1} {
		if s := e.statistics(t, day, day); s.Reports.Received != want {
			t.Errorf("%s: received %d, want %d", day, s.Reports.Received, want)
		}
	}
}

// testEmpty: without any event, a roll-up counts today and every figure
// is zero; medians are absent.
func testEmpty(t *testing.T, e *env) {
	e.rollup(t, jan30)
	s := e.statistics(t, "2025-01-31", "2026-01-30")
	if s.Reports.Received != 0 || s.Indicators.Active != 0 || len(s.Months) != 13 || !s.UpdatedAt.Equal(jan30) {
		t.Errorf("statistics %+v", s)
	}
	if _, ok := s.Reports.MedianHoursToForward(); ok {
		t.Error("a median of nothing forwarded")
	}
}

// testProgress: a first roll-up over many days reports its progress, and
// counts the stock of every day from the first event.
func testProgress(t *testing.T, e *env) {
	e.at(jan30.AddDate(0, 0, -20))
	e.indicator(t, md5Of("k"), e.hotNL, e.hotDE)
	// An entry of a suppress list is benign content: no indicator figure
	// counts it.
	if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: "stock", Kind: indicator.SuppressList, Policy: indicator.Policy{MinAttestations: 1},
		MaxDistance: 31, Threshold: 31}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ind.Submit(e.ctx, "stock", e.hotNL.Principal(), []indicator.Submission{{Signal: indicator.MD5, Value: md5Of("stock"), Category: indicator.A1}}); err != nil {
		t.Fatal(err)
	}
	// Nor one of victim-reported: no one assessed it.
	if _, err := e.ind.Report(e.ctx, indicator.VictimReported, e.hotNL.Principal(), []indicator.Hash{{Signal: indicator.MD5, Value: md5Of("victim")}}); err != nil {
		t.Fatal(err)
	}
	e.rollup(t, jan30)
	if n := len(e.progress); n == 0 || e.progress[n-1].Done != 21 || e.progress[n-1].Total != 21 || !e.progress[n-1].Day.Equal(dayOf(jan30)) {
		t.Errorf("progress %+v", e.progress)
	}
	for _, day := range []string{"2026-01-10", "2026-01-20", "2026-01-30"} {
		if s := e.statistics(t, day, day); s.Indicators.Active != 1 || (day == "2026-01-10" && s.Indicators.Added != 1) {
			t.Errorf("%s: active %d, added %d, want 1 (the suppress and victim-reported lists' entries not counted)", day, s.Indicators.Active, s.Indicators.Added)
		}
	}
	if s := e.statistics(t, "2026-01-09", "2026-01-09"); s.Indicators.Active != 0 {
		t.Errorf("active before its activation: %d", s.Indicators.Active)
	}
	// The usual roll-up, of today and yesterday, is silent.
	e.progress = nil
	e.rollup(t, jan30.Add(time.Hour))
	if len(e.progress) != 0 {
		t.Errorf("progress of a short roll-up: %+v", e.progress)
	}
}

func dayOf(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
