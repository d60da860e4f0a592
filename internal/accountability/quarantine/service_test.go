package quarantine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestService runs the rules of the package through the store, on a new
// database of each engine per subtest, in parallel.
func TestService(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, e *env)
		}{
			{"FeedbackValidation", testFeedbackValidation},
			{"Threshold", testThreshold},
			{"ConcurrentVerdicts", testConcurrentVerdicts},
			{"ByHand", testByHand},
			{"Reviews", testReviews},
			{"QueueAndDetail", testQueueAndDetail},
			{"OrdinaryWithdrawal", testOrdinaryWithdrawal},
			{"Flood", testFlood},
			{"FloodNeedsTwoProviders", testFloodNeedsTwoProviders},
			{"Repeats", testRepeats},
			{"TrackerBounds", testTrackerBounds},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newEnv(t, open(t), 2, 5))
			})
		}
	})
}

type env struct {
	ctx   context.Context
	db    *store.DB
	orgs  *org.Service
	ind   *indicator.Service
	q     *quarantine.Service
	audit *audit.Log

	mu  sync.Mutex
	now time.Time

	hotNL, hotDE          org.Principal
	provA, provB, provC   org.Principal
	provD                 org.Principal
	reviewer, analyst     quarantine.Actor
	active, other, single int64 // active indicators
	pending               int64
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// newEnv makes the organisations, three active indicators and a pending
// one, and a service quarantining at after providers' verdicts or more
// than flood distinct items an hour.
func newEnv(t *testing.T, db *store.DB, after, flood int) *env {
	t.Helper()
	e := &env{ctx: t.Context(), db: db, orgs: org.NewService(db), ind: indicator.NewService(db), audit: audit.NewLog(db, nil),
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.q = quarantine.New(db.Quarantines(), quarantine.Options{After: after, FloodMatches: flood, FloodWindow: time.Hour,
		Sealer: seal.NewSealer(seal.NewKeyring(), db), Audit: e.audit, Clock: e.clock})
	mk := func(name string, kind org.Kind, country string) org.Principal {
		o, err := e.orgs.Create(e.ctx, name, kind, country)
		if err != nil {
			t.Fatal(err)
		}
		p := o.Principal()
		p.KeyID = strings.ToLower(strings.ReplaceAll(name, " ", "-"))
		return p
	}
	e.hotNL, e.hotDE = mk("Hotline NL", org.Hotline, "NL"), mk("Hotline DE", org.Hotline, "DE")
	e.provA, e.provB, e.provC = mk("Provider A", org.Provider, "IE"), mk("Provider B", org.Provider, "FR"), mk("Provider C", org.Provider, "DE")
	e.provD = mk("Provider D", org.Provider, "NL")
	centre := mk("Centre", org.Centre, "BE")
	e.reviewer = quarantine.Actor{Org: centre.OrgID, OrgName: centre.OrgName, Actor: "user:7", Kind: org.Centre, Scope: policy.AllData}
	e.analyst = quarantine.Actor{Org: centre.OrgID, OrgName: centre.OrgName, Actor: "user:8", Kind: org.Centre, Scope: policy.AllData}
	subs := []indicator.Submission{sub(1), sub(2), sub(3), sub(4)}
	if _, err := e.ind.Submit(e.ctx, indicator.Known, e.hotNL, subs); err != nil {
		t.Fatal(err)
	}
	res, err := e.ind.Submit(e.ctx, indicator.Known, e.hotDE, subs[:3])
	if err != nil {
		t.Fatal(err)
	}
	e.active, e.other, e.single = res[0].IndicatorID, res[1].IndicatorID, res[2].IndicatorID
	pending, err := e.ind.Submit(e.ctx, indicator.Known, e.hotNL, subs[3:])
	if err != nil {
		t.Fatal(err)
	}
	e.pending = pending[0].IndicatorID
	return e
}

func sub(n int) indicator.Submission {
	return indicator.Submission{Signal: indicator.PDQ, Value: fmt.Sprintf("%064x", n), Category: indicator.A1}
}

func (e *env) state(t *testing.T, id int64) indicator.State {
	t.Helper()
	ind, _, err := e.ind.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return ind.State
}

func (e *env) feedback(t *testing.T, by org.Principal, id int64, v quarantine.Verdict, note string) bool {
	t.Helper()
	q, err := e.q.Feedback(e.ctx, by, id, v, note)
	if err != nil {
		t.Fatalf("%s's verdict %s on %d: %v", by.OrgName, v, id, err)
	}
	return q
}

func (e *env) queue(t *testing.T) []quarantine.Entry {
	t.Helper()
	q, err := e.q.Queue(e.ctx, e.reviewer, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// feedKinds is the kinds of the known list's changes after seq after.
func (e *env) feedKinds(t *testing.T, after int64) string {
	t.Helper()
	cs, err := e.ind.Changes(e.ctx, indicator.Known, after, indicator.MaxChanges)
	if err != nil {
		t.Fatal(err)
	}
	var k []string
	for _, c := range cs {
		k = append(k, fmt.Sprintf("%s:%d", c.Kind, c.IndicatorID))
	}
	return strings.Join(k, " ")
}

func (e *env) head(t *testing.T) int64 {
	t.Helper()
	ls, err := e.ind.Lists(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Name == indicator.Known {
			return l.Head
		}
	}
	t.Fatal("no known list")
	return 0
}

// trail is the audit trail's entries as "action object actor", in order.
func (e *env) trail(t *testing.T) []string {
	t.Helper()
	es, err := e.audit.List(e.ctx, audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range es {
		out = append(out, x.Action+" "+x.Object+" "+x.Actor)
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testFeedbackValidation(t *testing.T, e *env) {
	head := e.head(t)
	_, err := e.q.Feedback(e.ctx, e.provA, e.active, "wrong", "")
	wantErr(t, "an unknown verdict", err, core.ErrInvalid)
	if err == nil || !strings.Contains(err.Error(), "false_positive or confirmed") {
		t.Errorf("unknown verdict's error %v does not list the verdicts", err)
	}
	_, err = e.q.Feedback(e.ctx, e.provA, e.active, quarantine.FalsePositive, strings.Repeat("x", quarantine.MaxNote+1))
	wantErr(t, "a note too long", err, core.ErrInvalid)
	_, err = e.q.Feedback(e.ctx, e.provA, e.active, quarantine.FalsePositive, "bidi \u202e")
	wantErr(t, "a note with a bidi control", err, core.ErrInvalid)
	_, err = e.q.Feedback(e.ctx, e.provA, 1<<40, quarantine.FalsePositive, "")
	wantErr(t, "an unknown indicator", err, core.ErrNotFound)
	_, err = e.q.Feedback(e.ctx, e.provA, e.pending, quarantine.FalsePositive, "")
	wantErr(t, "a pending indicator (never distributed)", err, core.ErrNotFound)
	_, err = e.q.Feedback(e.ctx, e.hotNL, e.active, quarantine.FalsePositive, "")
	wantErr(t, "a hotline's verdict", err, core.ErrForbidden)
	restricted := e.provA
	restricted.Scopes = []string{string(policy.Match)}
	_, err = e.q.Feedback(e.ctx, restricted, e.active, quarantine.FalsePositive, "")
	wantErr(t, "a key restricted to matching", err, core.ErrForbidden)

	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Verdicts) != 0 || len(d.Quarantines) != 0 || e.head(t) != head {
		t.Errorf("bad input changed something: %+v, head %d (was %d)", d, e.head(t), head)
	}
	for _, x := range e.trail(t) {
		if strings.HasPrefix(x, "match.feedback") {
			t.Errorf("bad input audited as a verdict: %s", x)
		}
	}
}

func testThreshold(t *testing.T, e *env) {
	head := e.head(t)
	if e.feedback(t, e.provA, e.active, quarantine.FalsePositive, "a cat") {
		t.Error("one provider's verdict quarantined")
	}
	if e.feedback(t, e.provA, e.active, quarantine.FalsePositive, "still a cat") {
		t.Error("one provider's verdict, twice, quarantined: providers are counted, not verdicts")
	}
	// A provider's later verdict replaces its earlier one.
	e.feedback(t, e.provB, e.active, quarantine.FalsePositive, "")
	if e.state(t, e.active) != indicator.Quarantined {
		// The second provider's verdict quarantines at once.
		t.Fatalf("state %s after two providers' verdicts", e.state(t, e.active))
	}
	if g := e.feedKinds(t, head); g != fmt.Sprintf("quarantine:%d", e.active) {
		t.Errorf("feed %q, want the quarantine only", g)
	}
	if !e.feedback(t, e.provC, e.active, quarantine.Confirmed, "") {
		t.Error("a verdict on a quarantined indicator reports it not quarantined")
	}
	if g := e.feedKinds(t, head); g != fmt.Sprintf("quarantine:%d", e.active) {
		t.Errorf("a third verdict changed the feed: %q", g)
	}

	// A provider that takes its verdict back leaves one that counts.
	e.feedback(t, e.provA, e.other, quarantine.FalsePositive, "")
	e.feedback(t, e.provA, e.other, quarantine.Confirmed, "my mistake")
	if e.feedback(t, e.provB, e.other, quarantine.FalsePositive, "") {
		t.Error("quarantined by one current false-positive verdict and one replaced")
	}

	// A confirmation answers the verdicts: the same verdicts sent again
	// count no more; a changed verdict, or another provider's, does.
	if err := e.q.Confirm(e.ctx, e.reviewer, e.active, "checked: it is the material"); err != nil {
		t.Fatal(err)
	}
	if e.state(t, e.active) != indicator.Active {
		t.Fatalf("state %s after confirmation", e.state(t, e.active))
	}
	for range 2 {
		for _, p := range []org.Principal{e.provA, e.provB} {
			if e.feedback(t, p, e.active, quarantine.FalsePositive, "still wrong") {
				t.Fatalf("quarantined again by %s's answered verdict, sent again", p.OrgName)
			}
		}
	}
	if e.feedback(t, e.provC, e.active, quarantine.FalsePositive, "") {
		t.Error("quarantined by one new verdict (C's, changed from confirmed) and answered ones")
	}
	if !e.feedback(t, e.provD, e.active, quarantine.FalsePositive, "") {
		t.Error("not quarantined by two new verdicts after the review")
	}
	if g := e.feedKinds(t, head); g != fmt.Sprintf("quarantine:%d release:%d quarantine:%d", e.active, e.active, e.active) {
		t.Errorf("feed %q", g)
	}
	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Verdicts {
		answered := v.ProviderName == "Provider A" || v.ProviderName == "Provider B"
		if answered == v.AnsweredAt.IsZero() || answered && v.Note != "still wrong" {
			t.Errorf("verdict %+v after the re-sending: want A's and B's answered, with their latest note", v)
		}
	}
	want := []string{
		"match.feedback indicator:%d key:provider-a",
		"match.feedback indicator:%d key:provider-a",
		"match.feedback indicator:%d key:provider-b",
		"indicator.quarantine indicator:%d system",
	}
	trail := e.trail(t)
	for i, w := range want {
		if w = fmt.Sprintf(w, e.active); i >= len(trail) || trail[i] != w {
			t.Errorf("audit entry %d: %q, want %q", i, trail[min(i, len(trail)-1)], w)
		}
	}
	if !slices.Contains(trail, fmt.Sprintf("indicator.release indicator:%d user:7", e.active)) {
		t.Errorf("no audit entry of the confirmation in %q", trail)
	}
}

// testConcurrentVerdicts: providers' verdicts sent at once are each
// counted, and quarantine the indicator exactly once.
func testConcurrentVerdicts(t *testing.T, e *env) {
	head := e.head(t)
	var wg sync.WaitGroup
	for _, p := range []org.Principal{e.provA, e.provB, e.provC} {
		wg.Go(func() {
			if _, err := e.q.Feedback(e.ctx, p, e.active, quarantine.FalsePositive, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if g := e.feedKinds(t, head); g != fmt.Sprintf("quarantine:%d", e.active) {
		t.Errorf("feed %q, want one quarantine", g)
	}
	if q := e.queue(t); len(q) != 1 || q[0].FalsePositives != 3 || q[0].Cause != quarantine.FalsePositiveCause {
		t.Errorf("queue %+v, want one quarantine for 3 verdicts", q)
	}
}

func testByHand(t *testing.T, e *env) {
	err := e.q.Quarantine(e.ctx, e.analyst, e.active, quarantine.Flood, "pretend")
	wantErr(t, "a quarantine by hand claiming a flood", err, core.ErrInvalid)
	err = e.q.Quarantine(e.ctx, e.analyst, e.active, quarantine.Manual, "  ")
	wantErr(t, "a quarantine without reason", err, core.ErrInvalid)
	err = e.q.Quarantine(e.ctx, e.analyst, e.pending, quarantine.Manual, "odd")
	wantErr(t, "a quarantine of a pending indicator", err, core.ErrConflict)
	err = e.q.Quarantine(e.ctx, e.analyst, 1<<40, quarantine.Manual, "odd")
	wantErr(t, "a quarantine of an unknown indicator", err, core.ErrNotFound)
	hotline := quarantine.Actor{Org: e.hotNL.OrgID, Actor: "user:9", Kind: org.Hotline}
	err = e.q.Quarantine(e.ctx, hotline, e.active, quarantine.Manual, "mine")
	wantErr(t, "a quarantine by a hotline", err, core.ErrForbidden)
	if q := e.queue(t); len(q) != 0 {
		t.Fatalf("refused quarantines queued %+v", q)
	}

	if err := e.q.Quarantine(e.ctx, e.analyst, e.active, quarantine.Manual, "matches holiday photos"); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Quarantine(e.ctx, e.reviewer, e.active, quarantine.Manual, "again"); err != nil {
		t.Errorf("quarantining a quarantined indicator: %v, want no change", err)
	}
	if err := e.q.Quarantine(e.ctx, e.reviewer, e.other, quarantine.Complaint, "complaint 12"); err != nil {
		t.Fatal(err)
	}
	q := e.queue(t)
	if len(q) != 2 || q[0].Indicator != e.active || q[0].Cause != quarantine.Manual || q[0].Reason != "matches holiday photos" ||
		q[1].Indicator != e.other || q[1].Cause != quarantine.Complaint || q[1].Reason != "complaint 12" {
		t.Errorf("queue %+v", q)
	}
	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Quarantines) != 1 || d.Quarantines[0].Actor != "user:8" || d.Quarantines[0].OrgName != "Centre" || !d.Quarantines[0].Open() {
		t.Errorf("quarantines %+v, want the first only, open", d.Quarantines)
	}
}

func testReviews(t *testing.T, e *env) {
	err := e.q.Confirm(e.ctx, e.reviewer, e.active, "")
	wantErr(t, "confirming an active indicator", err, core.ErrConflict)
	err = e.q.Withdraw(e.ctx, e.reviewer, e.active, "why not")
	wantErr(t, "withdrawing an active indicator through a review", err, core.ErrConflict)
	e.feedback(t, e.provA, e.active, quarantine.FalsePositive, "")
	e.feedback(t, e.provB, e.active, quarantine.FalsePositive, "")
	err = e.q.Withdraw(e.ctx, e.reviewer, e.active, "")
	wantErr(t, "a withdrawal without reason", err, core.ErrInvalid)
	err = e.q.Confirm(e.ctx, quarantine.Actor{Actor: "user:1", Scope: policy.OwnOrg}, e.active, "")
	wantErr(t, "a confirmation out of scope", err, core.ErrForbidden)
	if e.state(t, e.active) != indicator.Quarantined {
		t.Fatal("refused reviews changed the state")
	}

	head := e.head(t)
	e.advance(time.Minute)
	if err := e.q.Withdraw(e.ctx, e.reviewer, e.active, "not the material: a logo"); err != nil {
		t.Fatal(err)
	}
	ind, _, err := e.ind.Get(e.ctx, e.active)
	if err != nil {
		t.Fatal(err)
	}
	if ind.State != indicator.Withdrawn || ind.WithdrawReason != "not the material: a logo" || ind.WithdrawnBy != e.reviewer.Org {
		t.Errorf("withdrawn %+v", ind)
	}
	cs, err := e.ind.Changes(e.ctx, indicator.Known, head, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Kind != indicator.Withdraw || !cs[0].WasActive {
		t.Errorf("changes %+v, want one withdrawal of what was distributed", cs)
	}
	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Quarantines[0]
	if len(d.Quarantines) != 1 || r.Open() || r.Outcome != quarantine.WithdrawnOutcome || r.EndedBy != "user:7" ||
		r.EndedOrgName != "Centre" || r.Note != "not the material: a logo" || !r.EndedAt.Equal(e.clock()) {
		t.Errorf("quarantine %+v", r)
	}
	for _, v := range d.Verdicts {
		if !v.AnsweredAt.Equal(e.clock()) {
			t.Errorf("verdict %+v not answered by the withdrawal", v)
		}
	}
	err = e.q.Confirm(e.ctx, e.reviewer, e.active, "")
	wantErr(t, "confirming a withdrawn indicator", err, core.ErrConflict)
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue %+v after the review", q)
	}
}

func testQueueAndDetail(t *testing.T, e *env) {
	for _, id := range []int64{e.single, e.active, e.other} {
		if err := e.q.Quarantine(e.ctx, e.analyst, id, quarantine.Manual, fmt.Sprint("reason ", id)); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Second)
	}
	e.feedback(t, e.provA, e.active, quarantine.FalsePositive, "a cat")
	e.advance(time.Second)
	e.feedback(t, e.provB, e.active, quarantine.Confirmed, "")

	var ids []int64
	after := int64(0)
	for {
		page, err := e.q.Queue(e.ctx, e.reviewer, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			ids = append(ids, x.Indicator)
			if x.Indicator == e.active && x.FalsePositives != 1 {
				t.Errorf("entry %+v: want 1 false positive", x)
			}
			if x.List != indicator.Known || x.Signal != indicator.PDQ || x.Category != indicator.A1 || x.Value == "" || x.Since.IsZero() {
				t.Errorf("entry %+v", x)
			}
		}
		after = page[len(page)-1].Quarantine
	}
	if !slices.Equal(ids, []int64{e.single, e.active, e.other}) {
		t.Errorf("queue in pages: %v, want the order they began in", ids)
	}
	_, err := e.q.Queue(e.ctx, e.reviewer, quarantine.MaxLimit+1, 0)
	wantErr(t, "a page too large", err, core.ErrInvalid)

	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	if d.Indicator.ID != e.active || d.Indicator.State != indicator.Quarantined || len(d.Quarantines) != 1 {
		t.Errorf("detail %+v", d)
	}
	if len(d.Verdicts) != 2 || d.Verdicts[0].ProviderName != "Provider B" || d.Verdicts[0].Verdict != quarantine.Confirmed ||
		d.Verdicts[1].ProviderName != "Provider A" || d.Verdicts[1].Note != "a cat" || !d.Verdicts[1].AnsweredAt.IsZero() {
		t.Errorf("verdicts %+v, want B's then A's with its note opened", d.Verdicts)
	}
	if !slices.Contains(e.trail(t), fmt.Sprintf("quarantine.view indicator:%d user:7", e.active)) {
		t.Error("the view of the notes was not audited")
	}
	_, err = e.q.Detail(e.ctx, e.reviewer, 1<<40)
	wantErr(t, "the detail of an unknown indicator", err, core.ErrNotFound)

	// The notes are sealed at rest.
	var sealed []byte
	e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT note_sealed FROM match_feedback WHERE provider_id = $1`, e.provA.OrgID).Scan(&sealed)
	})
	if len(sealed) == 0 || strings.Contains(string(sealed), "a cat") {
		t.Errorf("note stored as %q, want it sealed", sealed)
	}
}

// testOrdinaryWithdrawal: an attester's withdrawal of a quarantined
// indicator ends its quarantine.
func testOrdinaryWithdrawal(t *testing.T, e *env) {
	if err := e.q.Quarantine(e.ctx, e.analyst, e.active, quarantine.Manual, "unsure"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ind.Withdraw(e.ctx, e.active, e.hotNL, "retracted"); err != nil {
		t.Fatal(err)
	}
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue %+v after the withdrawal", q)
	}
	d, err := e.q.Detail(e.ctx, e.reviewer, e.active)
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Quarantines[0]; r.Outcome != quarantine.WithdrawnOutcome || r.EndedBy != "key:hotline-nl" || r.Note != "retracted" {
		t.Errorf("quarantine %+v", r)
	}
}

func item(n int) [16]byte { return [16]byte{byte(n >> 8), byte(n)} }

// testFlood: more than 5 distinct items within the hour, from two
// providers and counted across two nodes' trackers, quarantine an
// indicator; repeats, old sightings and the items a confirmation answered
// do not count.
func testFlood(t *testing.T, e *env) {
	a, b, c := e.provA.OrgID, e.provB.OrgID, e.provC.OrgID
	node1, node2 := e.q.NewTracker(), e.q.NewTracker()
	for i := range 3 {
		node1.Saw(e.active, a, item(i))
		node1.Saw(e.active, a, item(i)) // a repeat
		node2.Saw(e.active, b, item(i+3))
		node1.Saw(e.other, a, item(i))
		node2.Saw(e.other, b, item(i)) // the same items by both providers
	}
	node2.Saw(e.other, b, item(3))
	e.flush(t, node1, node2)
	if s := e.state(t, e.active); s != indicator.Quarantined {
		t.Errorf("6 distinct items of 2 providers: %s", s)
	}
	if s := e.state(t, e.other); s != indicator.Active {
		t.Errorf("4 distinct items: %s", s)
	}
	q := e.queue(t)
	if len(q) != 1 || q[0].Cause != quarantine.Flood || !strings.Contains(q[0].Reason, "6 distinct items matched by 2 providers") {
		t.Errorf("queue %+v", q)
	}

	// An hour on, the old sightings no longer count.
	e.advance(time.Hour + time.Second)
	node1.Saw(e.other, a, item(10))
	node2.Saw(e.other, b, item(11))
	e.flush(t, node1, node2)
	if s := e.state(t, e.other); s != indicator.Active {
		t.Errorf("2 new and 4 old items: %s", s)
	}
	if err := e.q.PurgeSightings(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sightings(t); n != 2 {
		t.Errorf("%d sightings after the purge, want the 2 recent", n)
	}

	// Confirmed, the flooded indicator counts only items it had not
	// matched: the same flood again changes nothing, a new one does.
	for i := range 6 {
		node2.Saw(e.active, []int64{a, b}[i%2], item(100+i))
	}
	e.flush(t, node2)
	if err := e.q.Confirm(e.ctx, e.reviewer, e.active, "a popular image, rightly"); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		node1.Saw(e.active, []int64{a, b}[i%2], item(100+i))
	}
	e.flush(t, node1)
	if s := e.state(t, e.active); s != indicator.Active {
		t.Errorf("after the confirmation, the same 6 items: %s", s)
	}
	for i := range 6 {
		node1.Saw(e.active, []int64{a, c}[i%2], item(300+i))
	}
	e.flush(t, node1)
	if s := e.state(t, e.active); s != indicator.Quarantined {
		t.Errorf("after the confirmation, 6 new items: %s", s)
	}
	if !slices.Contains(e.trail(t), fmt.Sprintf("indicator.quarantine indicator:%d system", e.active)) {
		t.Error("the flood's quarantine was not audited")
	}
}

// testFloodNeedsTwoProviders: one provider alone never floods an
// indicator, however many items it matches, nor with a few matches of
// another; an item is the hash that matched, not another the request
// carried.
func testFloodNeedsTwoProviders(t *testing.T, e *env) {
	a, b := e.provA.OrgID, e.provB.OrgID
	node1, node2 := e.q.NewTracker(), e.q.NewTracker()
	for i := range 12 {
		[]*quarantine.Tracker{node1, node2}[i%2].Saw(e.active, a, item(i)) // 12 items of A's, across nodes
	}
	node2.Saw(e.active, b, item(0)) // one of them by B too
	node2.Saw(e.active, b, item(50))
	e.flush(t, node1, node2)
	if s := e.state(t, e.active); s != indicator.Active {
		t.Errorf("13 distinct items, 12 of them one provider's: %s", s)
	}
	// After a review, the same provider again: still nothing.
	if err := e.q.Quarantine(e.ctx, e.analyst, e.active, quarantine.Manual, "checking"); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Confirm(e.ctx, e.reviewer, e.active, ""); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour / 4)
	e.flush(t, node1, node2) // as the flush every 250 ms does, they forget what is old
	for i := range 12 {
		node1.Saw(e.active, a, item(200+i))
	}
	e.flush(t, node1)
	if s := e.state(t, e.active); s != indicator.Active {
		t.Errorf("after the review, 12 new items of one provider's: %s", s)
	}
	// A second provider matching a good part: a flood.
	for i := range 3 {
		node2.Saw(e.active, b, item(400+i))
	}
	e.flush(t, node2)
	if s := e.state(t, e.active); s != indicator.Quarantined {
		t.Errorf("6 of A's items counted and 3 of B's: %s", s)
	}
}

// countingStore counts the sightings a tracker sends to the store.
type countingStore struct {
	quarantine.Store
	mu   sync.Mutex
	sent int
}

func (s *countingStore) AddSightings(ctx context.Context, ss []quarantine.Sighting, at, refresh, since time.Time) (map[int64]quarantine.SightingCount, error) {
	s.mu.Lock()
	s.sent += len(ss)
	s.mu.Unlock()
	return s.Store.AddSightings(ctx, ss, at, refresh, since)
}

// testRepeats: a tracker does not send again what it flushed within an
// eighth of the window, nor items of a provider that has enough counted;
// the store refreshes a sighting's time only when it is older than that.
func testRepeats(t *testing.T, e *env) {
	a := e.provA.OrgID
	st := &countingStore{Store: e.db.Quarantines()}
	q := quarantine.New(st, quarantine.Options{FloodMatches: 5, FloodWindow: time.Hour,
		Sealer: seal.NewSealer(seal.NewKeyring(), e.db), Clock: e.clock})
	node1, node2 := q.NewTracker(), q.NewTracker()
	t0 := e.clock()
	sent := func(want int) {
		t.Helper()
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.sent != want {
			t.Errorf("%d sightings sent, want %d", st.sent, want)
		}
	}
	node1.Saw(e.active, a, item(1))
	e.flush(t, node1)
	e.advance(time.Minute)
	node1.Saw(e.active, a, item(1)) // a repeat: not sent
	node1.Saw(e.active, a, item(2))
	e.flush(t, node1)
	sent(2)
	node2.Saw(e.active, a, item(1)) // sent by another node, not written
	e.flush(t, node2)
	sent(3)
	if at := e.seenAt(t, item(1)); !at.Equal(t0) {
		t.Errorf("item seen at %v, want %v: refreshed within an eighth of the window", at, t0)
	}
	e.advance(10 * time.Minute)
	e.flush(t, node1) // as the flush every 250 ms does, it forgets what is old
	node1.Saw(e.active, a, item(1))
	e.flush(t, node1)
	sent(4)
	if at := e.seenAt(t, item(1)); !at.Equal(e.clock()) {
		t.Errorf("item seen at %v, want %v: refreshed after an eighth of the window", at, e.clock())
	}

	// A has more than 5 items counted: its further items are not sent.
	for i := range 6 {
		node1.Saw(e.other, a, item(10+i))
	}
	e.flush(t, node1)
	sent(10)
	node1.Saw(e.other, a, item(20))
	e.flush(t, node1)
	sent(10)
	if d := node1.Dropped(); d != 0 {
		t.Errorf("dropped %d: what is not sent is not dropped", d)
	}
}

// seenAt returns when the sighting of item was last seen, as stored.
func (e *env) seenAt(t *testing.T, it [16]byte) time.Time {
	t.Helper()
	var at time.Time
	if err := e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT seen_at FROM match_sightings WHERE item_key = $1`, it[:]).Scan(&at)
	}); err != nil {
		t.Fatal(err)
	}
	return at.UTC()
}

func (e *env) flush(t *testing.T, ts ...*quarantine.Tracker) {
	t.Helper()
	for _, tr := range ts {
		if err := tr.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) sightings(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM match_sightings`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// testTrackerBounds: a tracker holds at most FloodMatches+1 items of one
// indicator and provider and MaxPending in all, and counts what it drops.
func testTrackerBounds(t *testing.T, e *env) {
	a, b := e.provA.OrgID, e.provB.OrgID
	q := quarantine.New(e.db.Quarantines(), quarantine.Options{FloodMatches: 5, MaxPending: 8,
		Sealer: seal.NewSealer(seal.NewKeyring(), e.db), Clock: e.clock})
	tr := q.NewTracker()
	for i := range 10 {
		tr.Saw(e.active, a, item(i)) // 6 kept, 4 dropped
	}
	for i := range 4 {
		tr.Saw(e.active, b, item(i)) // 2 kept, 2 dropped: 8 in all
	}
	if d := tr.Dropped(); d != 6 {
		t.Errorf("dropped %d, want 6", d)
	}
	e.flush(t, tr)
	if n := e.sightings(t); n != 8 {
		t.Errorf("%d sightings flushed, want 8", n)
	}
	if s := e.state(t, e.active); s != indicator.Active {
		t.Errorf("6 items of one provider and 2 of another, over 5 but not a flood: %s", s)
	}
	tr.Saw(e.other, b, item(9))
	if d := tr.Dropped(); d != 6 {
		t.Errorf("after a flush: dropped %d, want room again", d)
	}
}
