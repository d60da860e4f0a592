package indicator_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestStore runs organisations, their keys, and the lists of indicators
// (attestations, activation, withdrawal, the change feed, imports) with
// the rules of package indicator, through org.Store and indicator.Store,
// on a new database of each engine per subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Orgs", testOrgs},
		{"Keys", testKeys},
		{"Lists", testLists},
		{"ListSettings", testListSettings},
		{"ActivationRule", testActivationRule},
		{"Policies", testPolicies},
		{"PolicyProperty", testPolicyProperty},
		{"SubmitValidation", testSubmitValidation},
		{"Withdraw", testWithdraw},
		{"VictimReported", testVictimReported},
		{"Quarantine", testQuarantine},
		{"ChangeFeed", testChangeFeed},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentAttestation", testConcurrentAttestation},
		{"Import", testImport},
		{"ImportIntersection", testImportIntersection},
		{"ImportBatches", testImportBatches},
		{"ForEachActive", testForEachActive},
		{"Retry", testRetry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			tc.fn(t, &env{
				ctx:  t.Context(),
				db:   db,
				orgs: org.NewService(db),
				ind:  indicator.NewService(db),
			})
		})
	}
}

type env struct {
	ctx  context.Context
	db   *store.DB
	orgs *org.Service
	ind  *indicator.Service
}

// org creates an organisation and returns it acting directly.
func (e *env) org(t *testing.T, name string, kind org.Kind, country string) org.Principal {
	t.Helper()
	o, err := e.orgs.Create(e.ctx, name, kind, country)
	if err != nil {
		t.Fatal(err)
	}
	return o.Principal()
}

// value returns the n-th test value of a signal type (n >= 0), never zero.
func value(sig indicator.Signal, n int) string {
	if sig == indicator.MD5 {
		return fmt.Sprintf("%032x", n+1)
	}
	return fmt.Sprintf("%064x", n+1)
}

func pdq(n int, ref string) indicator.Submission {
	return indicator.Submission{Signal: indicator.PDQ, Value: value(indicator.PDQ, n), Category: indicator.A1, Reference: ref}
}

func (e *env) submit(t *testing.T, list string, by org.Principal, subs ...indicator.Submission) []indicator.Result {
	t.Helper()
	res, err := e.ind.Submit(e.ctx, list, by, subs)
	if err != nil {
		t.Fatalf("%s submitting: %v", by.OrgName, err)
	}
	return res
}

func (e *env) changes(t *testing.T, list string, after int64) []indicator.Change {
	t.Helper()
	cs, err := e.ind.Changes(e.ctx, list, after, indicator.MaxChanges)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (e *env) listInfo(t *testing.T, name string) indicator.ListInfo {
	t.Helper()
	lists, err := e.ind.Lists(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no list %q in %+v", name, lists)
	return indicator.ListInfo{}
}

func (e *env) get(t *testing.T, id int64) (indicator.Indicator, []indicator.Attestation) {
	t.Helper()
	ind, atts, err := e.ind.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return ind, atts
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// feed describes changes compactly, as "seq:kind:indicator:org ...".
func feed(cs []indicator.Change) string {
	var b []string
	for _, c := range cs {
		b = append(b, fmt.Sprintf("%d:%s:%d:%d", c.Seq, c.Kind, c.IndicatorID, c.OrgID))
	}
	return strings.Join(b, " ")
}

func testOrgs(t *testing.T, e *env) {
	before := time.Now().Truncate(time.Microsecond)
	o, err := e.orgs.Create(e.ctx, "Hotline NL", org.Hotline, "nl")
	if err != nil {
		t.Fatal(err)
	}
	if o.ID == 0 || o.Country != "NL" || o.Kind != org.Hotline {
		t.Errorf("created %+v", o)
	}
	_, err = e.orgs.Create(e.ctx, "Hotline NL", org.Provider, "DE")
	wantErr(t, "duplicate name", err, core.ErrConflict)
	_, err = e.orgs.Create(e.ctx, "Bad", org.Kind("police"), "DE")
	wantErr(t, "bad kind", err, core.ErrInvalid)
	_, err = e.orgs.Create(e.ctx, "Bad", org.LEA, "XX")
	wantErr(t, "bad country", err, core.ErrInvalid)
	if _, err := e.orgs.Create(e.ctx, "BKA", org.LEA, "DE"); err != nil {
		t.Fatal(err)
	}

	got, err := e.orgs.ByName(e.ctx, "Hotline NL")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.Name != o.Name || got.Kind != o.Kind || got.Country != o.Country ||
		got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("read back %+v, created %+v", got, o)
	}
	_, err = e.orgs.ByName(e.ctx, "hotline nl")
	wantErr(t, "name in another case", err, core.ErrNotFound)

	all, err := e.orgs.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range all {
		names = append(names, o.Name)
	}
	if strings.Join(names, ",") != "BKA,Hotline NL" {
		t.Errorf("orgs %q, want BKA and Hotline NL in order", names)
	}
}

func testKeys(t *testing.T, e *env) {
	p := e.org(t, "Provider", org.Provider, "IE")
	key, k, err := e.orgs.CreateKey(e.ctx, "Provider", org.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.orgs.Authenticate(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.OrgID != p.OrgID || got.OrgName != "Provider" || got.Kind != org.Provider || got.Country != "IE" || got.KeyID != k.ID {
		t.Errorf("authenticated as %+v", got)
	}
	key2, _, err := e.orgs.CreateKey(e.ctx, "Provider", org.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.orgs.Authenticate(e.ctx, key2); err != nil {
		t.Errorf("second key: %v", err)
	}
	wrongSecret := key[:len(key)-43] + key2[len(key2)-43:]
	_, err = e.orgs.Authenticate(e.ctx, wrongSecret)
	wantErr(t, "wrong secret", err, org.ErrBadKey)
	_, err = e.orgs.Authenticate(e.ctx, "ward_0123456789abcdef_"+key[len(key)-43:])
	wantErr(t, "unknown key", err, org.ErrBadKey)
	_, _, err = e.orgs.CreateKey(e.ctx, "Nobody", org.KeyOptions{})
	wantErr(t, "key for unknown org", err, core.ErrNotFound)
}

func testLists(t *testing.T, e *env) {
	known := e.listInfo(t, indicator.Known)
	want := indicator.ListInfo{List: indicator.List{Name: "known", Policy: indicator.DefaultPolicy, Kind: indicator.MatchList, MaxDistance: 31, Threshold: 31}}
	known.CreatedAt = time.Time{}
	if known != want {
		t.Errorf("known list %+v, want %+v", known, want)
	}
	l := indicator.List{Name: "national-de", Policy: indicator.Policy{MinAttestations: 1}, MaxDistance: 20}
	created, err := e.ind.CreateList(e.ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ind.CreateList(e.ctx, l)
	wantErr(t, "duplicate list", err, core.ErrConflict)
	_, err = e.ind.CreateList(e.ctx, indicator.List{Name: "Bad Name", Policy: indicator.DefaultPolicy})
	wantErr(t, "bad list name", err, core.ErrInvalid)
	_, err = e.ind.CreateList(e.ctx, indicator.List{Name: "zero", Policy: indicator.Policy{}})
	wantErr(t, "no minimum", err, core.ErrInvalid)

	got, err := e.ind.EnsureList(e.ctx, indicator.List{Name: "national-de", Policy: indicator.DefaultPolicy, MaxDistance: 31})
	if err != nil {
		t.Fatal(err)
	}
	if got.Policy != l.Policy || got.Kind != indicator.MatchList || got.MaxDistance != 20 || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("EnsureList of an existing list = %+v, want it unchanged: %+v", got, created)
	}
	if _, err := e.ind.EnsureList(e.ctx, indicator.List{Name: "fresh", Policy: indicator.DefaultPolicy, MaxDistance: 31}); err != nil {
		t.Fatal(err)
	}
	lists, err := e.ind.Lists(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range lists {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "fresh,known,national-de,victim-reported" {
		t.Errorf("lists %q", names)
	}
	_, err = e.db.List(e.ctx, "nope")
	wantErr(t, "unknown list", err, core.ErrNotFound)
}

// testListSettings: a list keeps its kind and threshold, and SetList
// changes its distances, only together valid, and nothing else.
func testListSettings(t *testing.T, e *env) {
	created, err := e.ind.CreateList(e.ctx, indicator.List{Name: "stock", Policy: indicator.Policy{MinAttestations: 1},
		Kind: indicator.SuppressList, MaxDistance: 20, Threshold: 8})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ind.CreateList(e.ctx, indicator.List{Name: "wide", Policy: indicator.DefaultPolicy, MaxDistance: 10, Threshold: 11})
	wantErr(t, "threshold above the maximum distance", err, core.ErrInvalid)
	_, err = e.ind.CreateList(e.ctx, indicator.List{Name: "odd", Policy: indicator.DefaultPolicy, Kind: "allow"})
	wantErr(t, "unknown kind", err, core.ErrInvalid)

	settings := func() string {
		t.Helper()
		l := e.listInfo(t, "stock")
		if l.Name != created.Name || l.Policy != created.Policy || !l.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("the list changed: %+v, created as %+v", l, created)
		}
		return fmt.Sprintf("%s %d/%d", l.Kind, l.Threshold, l.MaxDistance)
	}
	if got := settings(); got != "suppress 8/20" {
		t.Errorf("created: %s", got)
	}
	n := func(v int) *int { return &v }
	for _, tt := range []struct {
		name   string
		change indicator.ListChange
		want   string // the settings afterwards
		err    error
	}{
		{"threshold", indicator.ListChange{Threshold: n(12)}, "suppress 12/20", nil},
		{"max distance", indicator.ListChange{MaxDistance: n(40)}, "suppress 12/40", nil},
		{"both", indicator.ListChange{MaxDistance: n(5), Threshold: n(0)}, "suppress 0/5", nil},
		{"threshold above the max", indicator.ListChange{Threshold: n(6)}, "suppress 0/5", core.ErrInvalid},
		{"max below the threshold", indicator.ListChange{MaxDistance: n(30), Threshold: n(25)}, "suppress 25/30", nil},
		{"lowering the max under it", indicator.ListChange{MaxDistance: n(24)}, "suppress 25/30", core.ErrInvalid},
		{"a max out of range", indicator.ListChange{MaxDistance: n(129)}, "suppress 25/30", core.ErrInvalid},
		{"nothing", indicator.ListChange{}, "suppress 25/30", core.ErrInvalid},
	} {
		l, err := e.ind.SetList(e.ctx, "stock", tt.change)
		if tt.err != nil {
			wantErr(t, tt.name, err, tt.err)
		} else if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		} else if got := fmt.Sprintf("%s %d/%d", l.Kind, l.Threshold, l.MaxDistance); got != tt.want {
			t.Errorf("%s: SetList returned %s, want %s", tt.name, got, tt.want)
		}
		if got := settings(); got != tt.want {
			t.Errorf("%s: stored %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err = e.ind.SetList(e.ctx, "nope", indicator.ListChange{Threshold: n(1)})
	wantErr(t, "unknown list", err, core.ErrNotFound)
	if l := e.listInfo(t, indicator.Known); l.Threshold != 31 || l.MaxDistance != 31 {
		t.Errorf("another list changed: %+v", l)
	}
}

func testActivationRule(t *testing.T, e *env) {
	hotNL := e.org(t, "Hotline NL", org.Hotline, "NL")
	leaNL := e.org(t, "Politie", org.LEA, "NL")
	leaDE := e.org(t, "BKA", org.LEA, "DE")
	prov := e.org(t, "Provider", org.Provider, "IE")

	r := e.submit(t, "known", hotNL, pdq(1, "NL-1"))[0]
	if !r.Created || r.Attested || r.Activated || r.State != indicator.Pending || r.IndicatorID == 0 {
		t.Errorf("first submission: %+v", r)
	}
	id := r.IndicatorID
	r = e.submit(t, "known", hotNL, pdq(1, "NL-1 again"))[0]
	if r != (indicator.Result{IndicatorID: id, State: indicator.Pending}) {
		t.Errorf("same organisation again: %+v, want no change", r)
	}
	r = e.submit(t, "known", leaNL, pdq(1, "P-7"))[0]
	if r != (indicator.Result{IndicatorID: id, State: indicator.Pending, Attested: true}) {
		t.Errorf("second organisation of the same country: %+v, want attested and still pending", r)
	}
	r = e.submit(t, "known", leaDE, pdq(1, "BKA-3"))[0]
	if r != (indicator.Result{IndicatorID: id, State: indicator.Active, Attested: true, Activated: true}) {
		t.Errorf("organisation of a second country: %+v, want activated", r)
	}
	r = e.submit(t, "known", leaDE, pdq(1, "BKA-3"))[0]
	if r != (indicator.Result{IndicatorID: id, State: indicator.Active}) {
		t.Errorf("repeat after activation: %+v", r)
	}

	_, err := e.ind.Submit(e.ctx, "known", prov, []indicator.Submission{pdq(2, "")})
	wantErr(t, "provider submitting", err, core.ErrForbidden)
	_, err = e.ind.Submit(e.ctx, "nope", hotNL, []indicator.Submission{pdq(2, "")})
	wantErr(t, "unknown list", err, core.ErrNotFound)

	ind, atts := e.get(t, id)
	if ind.State != indicator.Active || ind.ActivatedAt.IsZero() || ind.Value != value(indicator.PDQ, 1) ||
		ind.List != "known" || ind.Category != indicator.A1 || !ind.WithdrawnAt.IsZero() {
		t.Errorf("indicator %+v", ind)
	}
	var who []string
	for _, a := range atts {
		who = append(who, fmt.Sprintf("%s/%s/%s", a.OrgName, a.OrgCountry, a.Reference))
		if a.IndicatorID != id || a.At.IsZero() {
			t.Errorf("attestation %+v", a)
		}
	}
	if g := strings.Join(who, " "); g != "Hotline NL/NL/NL-1 Politie/NL/P-7 BKA/DE/BKA-3" {
		t.Errorf("attestations %s", g)
	}

	want := fmt.Sprintf("1:add:%d:%d 2:attest:%d:%d 3:attest:%d:%d 4:activate:%d:%d",
		id, hotNL.OrgID, id, leaNL.OrgID, id, leaDE.OrgID, id, leaDE.OrgID)
	cs := e.changes(t, "known", 0)
	if g := feed(cs); g != want {
		t.Errorf("feed\n%s\nwant\n%s", g, want)
	}
	for _, c := range cs {
		if c.List != "known" || c.Signal != indicator.PDQ || c.Value != ind.Value || c.Category != indicator.A1 || c.At.IsZero() {
			t.Errorf("change %+v", c)
		}
	}
	if l := e.listInfo(t, "known"); l.Head != 4 || l.Active != 1 {
		t.Errorf("list head %d active %d, want 4 and 1", l.Head, l.Active)
	}
}

func testPolicies(t *testing.T, e *env) {
	var orgs []org.Principal
	for i, cc := range []string{"NL", "NL", "DE", "FR"} {
		orgs = append(orgs, e.org(t, fmt.Sprintf("org%d", i), org.Hotline, cc))
	}
	newList := func(name string, p indicator.Policy) {
		if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: name, Policy: p, MaxDistance: 31}); err != nil {
			t.Fatal(err)
		}
	}
	newList("three", indicator.Policy{MinAttestations: 3, DistinctCountries: true})
	newList("two-any", indicator.Policy{MinAttestations: 2})
	newList("one", indicator.Policy{MinAttestations: 1, DistinctCountries: true})

	states := func(list string, by ...org.Principal) string {
		var s []string
		for _, p := range by {
			s = append(s, string(e.submit(t, list, p, pdq(7, ""))[0].State))
		}
		return strings.Join(s, " ")
	}
	if g := states("three", orgs[0], orgs[1], orgs[2], orgs[3]); g != "pending pending pending active" {
		t.Errorf("three countries: states %s; want active only at the third country", g)
	}
	if g := states("two-any", orgs[0], orgs[1]); g != "pending active" {
		t.Errorf("two of any country: states %s", g)
	}
	r := e.submit(t, "one", orgs[0], pdq(7, ""))[0]
	if !r.Created || !r.Activated || r.State != indicator.Active {
		t.Errorf("a one-attestation list: %+v, want created active", r)
	}
	if cs := e.changes(t, "one", 0); feed(cs) != fmt.Sprintf("1:add:%d:%d 2:activate:%d:%d", r.IndicatorID, orgs[0].OrgID, r.IndicatorID, orgs[0].OrgID) {
		t.Errorf("feed of the one-attestation list: %s", feed(cs))
	}
	// The same value in another list is another indicator.
	if a, b := e.submit(t, "two-any", orgs[2], pdq(7, ""))[0].IndicatorID, r.IndicatorID; a == b {
		t.Errorf("lists share indicator %d", a)
	}
}

// testPolicyProperty attests random values by random organisations and
// checks every indicator's state against Policy.Satisfied.
func testPolicyProperty(t *testing.T, e *env) {
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"NL", "DE", "FR"}
	var orgs []org.Principal
	for i := range 6 {
		orgs = append(orgs, e.org(t, fmt.Sprintf("org%d", i), org.LEA, countries[i%3]))
	}
	policies := []indicator.Policy{
		{MinAttestations: 2, DistinctCountries: true},
		{MinAttestations: 3, DistinctCountries: true},
		{MinAttestations: 2},
		{MinAttestations: 3},
		{MinAttestations: 1, DistinctCountries: true},
	}
	for pi, p := range policies {
		list := fmt.Sprintf("p%d", pi)
		if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: list, Policy: p}); err != nil {
			t.Fatal(err)
		}
		attested := map[int]map[int64]string{} // value -> org -> country
		ids := map[int]int64{}
		for range 8 {
			by := orgs[rng.IntN(len(orgs))]
			var subs []indicator.Submission
			var ns []int
			for range 1 + rng.IntN(12) {
				n := rng.IntN(15)
				ns = append(ns, n)
				subs = append(subs, pdq(n, ""))
				if attested[n] == nil {
					attested[n] = map[int64]string{}
				}
				attested[n][by.OrgID] = by.Country
			}
			for i, r := range e.submit(t, list, by, subs...) {
				ids[ns[i]] = r.IndicatorID
			}
		}
		for n, by := range attested {
			cs := map[string]bool{}
			for _, c := range by {
				cs[c] = true
			}
			want := indicator.Pending
			if p.Satisfied(len(by), len(cs)) {
				want = indicator.Active
			}
			ind, atts := e.get(t, ids[n])
			if len(atts) != len(by) || ind.State != want {
				t.Errorf("list %s %+v: value %d attested by %v: %d attestations, %s; want %d, %s",
					list, p, n, by, len(atts), ind.State, len(by), want)
			}
		}
	}
}

func testSubmitValidation(t *testing.T, e *env) {
	hot := e.org(t, "Hotline", org.Hotline, "NL")
	bad := []indicator.Submission{
		pdq(1, ""),
		{Signal: "phash", Value: value(indicator.PDQ, 1), Category: indicator.A1},
		{Signal: indicator.PDQ, Value: strings.Repeat("0", 64), Category: indicator.A1},
		{Signal: indicator.MD5, Value: value(indicator.PDQ, 1), Category: indicator.A1},
		{Signal: indicator.SHA256, Value: strings.Repeat("g", 64), Category: indicator.A1},
		{Signal: indicator.PDQ, Value: value(indicator.PDQ, 2), Category: "C"},
		{Signal: indicator.PDQ, Value: value(indicator.PDQ, 3), Category: indicator.B1, Reference: strings.Repeat("r", 201)},
	}
	_, err := e.ind.Submit(e.ctx, "known", hot, bad)
	wantErr(t, "invalid submissions", err, core.ErrInvalid)
	for i := 1; i < len(bad); i++ {
		if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("item %d:", i)) {
			t.Errorf("error does not describe item %d: %v", i, err)
		}
	}
	if l := e.listInfo(t, "known"); l.Head != 0 {
		t.Errorf("head %d after a rejected submission, want nothing recorded", l.Head)
	}
	_, err = e.ind.Submit(e.ctx, "known", hot, nil)
	wantErr(t, "no submissions", err, core.ErrInvalid)

	// Values are normalised, and a value twice in one call counts once.
	upper := strings.ToUpper(value(indicator.SHA256, 0xabc))
	res := e.submit(t, "known", hot,
		indicator.Submission{Signal: "SHA256", Value: upper, Category: "b2"},
		indicator.Submission{Signal: indicator.SHA256, Value: value(indicator.SHA256, 0xabc), Category: indicator.B2},
		indicator.Submission{Signal: indicator.MD5, Value: value(indicator.MD5, 0xabc), Category: indicator.Baseline})
	if !res[0].Created || res[1].Created || res[1].Attested || res[1].IndicatorID != res[0].IndicatorID || !res[2].Created {
		t.Errorf("results %+v", res)
	}
	ind, _ := e.get(t, res[0].IndicatorID)
	if ind.Signal != indicator.SHA256 || ind.Value != strings.ToLower(upper) || ind.Category != indicator.B2 {
		t.Errorf("stored %+v", ind)
	}
	if l := e.listInfo(t, "known"); l.Head != 2 {
		t.Errorf("head %d, want 2 adds", l.Head)
	}
}

func testWithdraw(t *testing.T, e *env) {
	hotNL := e.org(t, "Hotline NL", org.Hotline, "NL")
	leaDE := e.org(t, "BKA", org.LEA, "DE")
	hotFR := e.org(t, "Hotline FR", org.Hotline, "FR")
	prov := e.org(t, "Provider", org.Provider, "IE")
	centre := e.org(t, "Centre", org.Centre, "NL")

	e.submit(t, "known", hotNL, pdq(1, ""), pdq(2, ""), pdq(3, ""))
	res := e.submit(t, "known", leaDE, pdq(1, ""), pdq(2, ""), pdq(3, ""))
	a, b := res[0].IndicatorID, res[1].IndicatorID
	pending := e.submit(t, "known", hotNL, pdq(4, ""))[0].IndicatorID
	if l := e.listInfo(t, "known"); l.Active != 3 {
		t.Fatalf("%d active, want 3", l.Active)
	}
	head := e.listInfo(t, "known").Head

	_, err := e.ind.Withdraw(e.ctx, a, hotFR, "wrong")
	wantErr(t, "withdrawal by a hotline that did not attest", err, core.ErrForbidden)
	_, err = e.ind.Withdraw(e.ctx, a, prov, "false positive")
	wantErr(t, "withdrawal by a provider", err, core.ErrForbidden)
	_, err = e.ind.Withdraw(e.ctx, a, hotNL, "  ")
	wantErr(t, "withdrawal without reason", err, core.ErrInvalid)
	_, err = e.ind.Withdraw(e.ctx, 1<<40, centre, "gone")
	wantErr(t, "withdrawal of an unknown indicator", err, core.ErrNotFound)

	ind, err := e.ind.Withdraw(e.ctx, a, hotNL, "assessed again: not illegal")
	if err != nil {
		t.Fatal(err)
	}
	if ind.State != indicator.Withdrawn || ind.WithdrawnAt.IsZero() || ind.WithdrawnBy != hotNL.OrgID ||
		ind.WithdrawReason != "assessed again: not illegal" || ind.ActivatedAt.IsZero() {
		t.Errorf("withdrawn %+v", ind)
	}
	again, err := e.ind.Withdraw(e.ctx, a, leaDE, "also")
	if err != nil {
		t.Fatal(err)
	}
	if again.WithdrawnBy != hotNL.OrgID || !again.WithdrawnAt.Equal(ind.WithdrawnAt) {
		t.Errorf("second withdrawal changed %+v to %+v", ind, again)
	}
	if _, err := e.ind.Withdraw(e.ctx, b, centre, "centre decision"); err != nil {
		t.Errorf("centre withdrawing an indicator it did not attest: %v", err)
	}
	if _, err := e.ind.Withdraw(e.ctx, pending, hotNL, "retracted"); err != nil {
		t.Errorf("withdrawing a pending indicator: %v", err)
	}

	// A withdrawal is final: a new attestation is recorded, nothing else.
	r := e.submit(t, "known", hotFR, pdq(1, "FR-9"))[0]
	if r != (indicator.Result{IndicatorID: a, State: indicator.Withdrawn, Attested: true}) {
		t.Errorf("attesting a withdrawn indicator: %+v", r)
	}
	if _, atts := e.get(t, a); len(atts) != 3 {
		t.Errorf("%d attestations, want the later one recorded too", len(atts))
	}

	want := fmt.Sprintf("%d:withdraw:%d:%d %d:withdraw:%d:%d %d:withdraw:%d:%d %d:attest:%d:%d",
		head+1, a, hotNL.OrgID, head+2, b, centre.OrgID, head+3, pending, hotNL.OrgID, head+4, a, hotFR.OrgID)
	if g := feed(e.changes(t, "known", head)); g != want {
		t.Errorf("feed\n%s\nwant\n%s", g, want)
	}
	if l := e.listInfo(t, "known"); l.Active != 1 || l.Head != head+4 {
		t.Errorf("after withdrawals: active %d head %d, want 1 and %d", l.Active, l.Head, head+4)
	}
}

// testQuarantine: an active indicator is quarantined and released
// through the store, each once, each a change of the feed that moves the
// active count; a quarantined one is not streamed as active, is not made
// active by attestations, and can be withdrawn.
func testQuarantine(t *testing.T, e *env) {
	nl := e.org(t, "Hotline NL", org.Hotline, "NL")
	de := e.org(t, "BKA", org.LEA, "DE")
	fr := e.org(t, "Hotline FR", org.Hotline, "FR")
	centre := e.org(t, "Centre", org.Centre, "NL")
	e.submit(t, "known", nl, pdq(1, ""), pdq(2, ""), pdq(3, ""))
	res := e.submit(t, "known", de, pdq(1, ""), pdq(2, ""))
	a, b := res[0].IndicatorID, res[1].IndicatorID
	pending := e.submit(t, "known", nl, pdq(3, ""))[0].IndicatorID
	head := e.listInfo(t, "known").Head
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	ind, err := e.db.Quarantine(e.ctx, a, centre, "test", at)
	if err != nil {
		t.Fatal(err)
	}
	if ind.State != indicator.Quarantined || ind.ActivatedAt.IsZero() || !ind.WithdrawnAt.IsZero() {
		t.Errorf("quarantined %+v", ind)
	}
	if l := e.listInfo(t, "known"); l.Active != 1 || l.Head != head+1 {
		t.Errorf("after quarantine: active %d head %d, want 1 and %d", l.Active, l.Head, head+1)
	}
	again, err := e.db.Quarantine(e.ctx, a, centre, "test", at.Add(time.Minute))
	if err != nil || again.State != indicator.Quarantined {
		t.Errorf("quarantining again: %+v, %v", again, err)
	}
	_, err = e.db.Quarantine(e.ctx, pending, centre, "test", at)
	wantErr(t, "quarantining a pending indicator", err, core.ErrConflict)
	_, err = e.db.Release(e.ctx, b, centre, at)
	if err != nil {
		t.Errorf("releasing an active indicator: %v, want no change", err)
	}
	_, err = e.db.Release(e.ctx, pending, centre, at)
	wantErr(t, "releasing a pending indicator", err, core.ErrConflict)
	_, err = e.db.Quarantine(e.ctx, 1<<40, centre, "test", at)
	wantErr(t, "quarantining an unknown indicator", err, core.ErrNotFound)
	_, err = e.db.Release(e.ctx, 1<<40, centre, at)
	wantErr(t, "releasing an unknown indicator", err, core.ErrNotFound)

	// Not active, so not streamed; a further attestation is recorded and
	// changes nothing else.
	var streamed []int64
	if _, err := e.ind.ForEachActive(e.ctx, "known", func(i indicator.Indicator) error {
		streamed = append(streamed, i.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(streamed, []int64{b}) {
		t.Errorf("streamed %v, want only %d", streamed, b)
	}
	r := e.submit(t, "known", fr, pdq(1, "FR-1"))[0]
	if r != (indicator.Result{IndicatorID: a, State: indicator.Quarantined, Attested: true}) {
		t.Errorf("attesting a quarantined indicator: %+v", r)
	}

	ind, err = e.db.Release(e.ctx, a, centre, at.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if ind.State != indicator.Active {
		t.Errorf("released %+v", ind)
	}
	if l := e.listInfo(t, "known"); l.Active != 2 {
		t.Errorf("after release: active %d, want 2", l.Active)
	}
	if _, err := e.db.Quarantine(e.ctx, b, centre, "test", at.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	w, err := e.ind.Withdraw(e.ctx, b, nl, "not illegal after all")
	if err != nil {
		t.Fatal(err)
	}
	if w.State != indicator.Withdrawn {
		t.Errorf("withdrawn from quarantine: %+v", w)
	}
	_, err = e.db.Quarantine(e.ctx, b, centre, "test", at)
	wantErr(t, "quarantining a withdrawn indicator", err, core.ErrConflict)
	_, err = e.db.Release(e.ctx, b, centre, at)
	wantErr(t, "releasing a withdrawn indicator", err, core.ErrConflict)

	cs := e.changes(t, "known", head)
	want := fmt.Sprintf("%d:quarantine:%d:%d %d:attest:%d:%d %d:release:%d:%d %d:quarantine:%d:%d %d:withdraw:%d:%d",
		head+1, a, centre.OrgID, head+2, a, fr.OrgID, head+3, a, centre.OrgID, head+4, b, centre.OrgID, head+5, b, nl.OrgID)
	if g := feed(cs); g != want {
		t.Errorf("feed\n%s\nwant\n%s", g, want)
	}
	if !cs[0].At.Equal(at) || cs[0].Value != value(indicator.PDQ, 1) || cs[0].Signal != indicator.PDQ || cs[0].Category != indicator.A1 {
		t.Errorf("quarantine change %+v", cs[0])
	}
	if !cs[4].WasActive {
		t.Errorf("withdrawal from quarantine %+v: want WasActive, it was distributed", cs[4])
	}
	if l := e.listInfo(t, "known"); l.Active != 1 || l.Head != head+5 {
		t.Errorf("at the end: active %d head %d, want 1 and %d", l.Active, l.Head, head+5)
	}
}

func testChangeFeed(t *testing.T, e *env) {
	hot := e.org(t, "Hotline", org.Hotline, "NL")
	var subs []indicator.Submission
	for i := range 25 {
		subs = append(subs, pdq(i, ""))
	}
	e.submit(t, "known", hot, subs...)
	all := e.changes(t, "known", 0)
	if len(all) != 25 {
		t.Fatalf("%d changes, want 25", len(all))
	}
	for i, c := range all {
		if c.Seq != int64(i+1) || c.Value != value(indicator.PDQ, i) || c.Kind != indicator.Add {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	page, err := e.ind.Changes(e.ctx, "known", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
		t.Errorf("page after 10 limit 5: %s", feed(page))
	}
	if cs := e.changes(t, "known", 25); len(cs) != 0 {
		t.Errorf("changes after the head: %s", feed(cs))
	}
	_, err = e.ind.Changes(e.ctx, "nope", 0, 10)
	wantErr(t, "changes of an unknown list", err, core.ErrNotFound)
	_, err = e.ind.Changes(e.ctx, "known", -1, 10)
	wantErr(t, "negative after", err, core.ErrInvalid)
	_, err = e.ind.Changes(e.ctx, "known", 0, 0)
	wantErr(t, "zero limit", err, core.ErrInvalid)
}

// testConcurrentWriters submits from many goroutines while a reader
// follows the feed: the reader must never see a gap (a later seq visible
// before an earlier one), and the feed must end up 1..n.
func testConcurrentWriters(t *testing.T, e *env) {
	const writers, perWriter = 8, 15
	var orgs []org.Principal
	for i := range writers {
		orgs = append(orgs, e.org(t, fmt.Sprintf("org%d", i), org.Hotline, []string{"NL", "DE"}[i%2]))
	}
	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		var last int64
		for {
			select {
			case <-done:
				readerErr <- nil
				return
			default:
			}
			cs, err := e.ind.Changes(e.ctx, "known", last, 7)
			if err != nil {
				readerErr <- err
				return
			}
			for _, c := range cs {
				if c.Seq != last+1 {
					readerErr <- fmt.Errorf("after seq %d the feed showed %d", last, c.Seq)
					return
				}
				last = c.Seq
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Every writer attests every value: the first of each
				// adds it and, from the other country, activates it.
				if _, err := e.ind.Submit(e.ctx, "known", orgs[w], []indicator.Submission{pdq(i, "")}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	cs := e.changes(t, "known", 0)
	kinds := map[indicator.ChangeKind]int{}
	for i, c := range cs {
		if c.Seq != int64(i+1) {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
		kinds[c.Kind]++
	}
	want := map[indicator.ChangeKind]int{indicator.Add: perWriter, indicator.Attest: perWriter * (writers - 1), indicator.Activate: perWriter}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("changes by kind %v, want %v", kinds, want)
	}
	if l := e.listInfo(t, "known"); l.Head != int64(len(cs)) || l.Active != perWriter {
		t.Errorf("head %d active %d, want %d and %d", l.Head, l.Active, len(cs), perWriter)
	}
}

// testConcurrentAttestation has two organisations of different countries
// attest the same values at the same time: each must be activated exactly
// once, whichever commits second.
func testConcurrentAttestation(t *testing.T, e *env) {
	nl := e.org(t, "NL", org.Hotline, "NL")
	de := e.org(t, "DE", org.LEA, "DE")
	const n = 40
	var wg sync.WaitGroup
	for _, by := range []org.Principal{nl, de} {
		wg.Go(func() {
			for i := range n {
				if _, err := e.ind.Submit(e.ctx, "known", by, []indicator.Submission{pdq(i, "")}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	activations := 0
	for _, c := range e.changes(t, "known", 0) {
		if c.Kind == indicator.Activate {
			activations++
		}
	}
	if l := e.listInfo(t, "known"); activations != n || l.Active != n || l.Head != 3*n {
		t.Errorf("%d activations, %d active, head %d; want %d, %d, %d", activations, l.Active, l.Head, n, n, 3*n)
	}
}

// importFile makes an import file of the PDQ values from..to-1 in the
// given format.
func importFile(from, to int, sep string) string {
	var b strings.Builder
	b.WriteString("# test file\n" + strings.Join([]string{"type", "value", "category", "reference"}, sep) + "\n\n")
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "pdq%s%s%sA1%sref-%d\n", sep, value(indicator.PDQ, i), sep, sep, i)
	}
	return b.String()
}

func (e *env) importText(t *testing.T, list string, by org.Principal, text string) indicator.ImportStats {
	t.Helper()
	st, err := e.ind.Import(e.ctx, list, by, indicator.ParseImport(strings.NewReader(text)), indicator.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testImport(t *testing.T, e *env) {
	nl := e.org(t, "Hotline NL", org.Hotline, "NL")
	text := importFile(0, 300, "\t") + importFile(100, 110, "\t")[len("# test file\ntype\tvalue\tcategory\treference\n"):]
	st := e.importText(t, "known", nl, text)
	if st.Rows != 310 || st.Created != 300 || st.Attested != 0 || st.Activated != 0 || st.Unchanged != 10 || st.Invalid != 0 {
		t.Errorf("first import %+v", st)
	}
	st = e.importText(t, "known", nl, text)
	if st.Rows != 310 || st.Created != 0 || st.Unchanged != 310 {
		t.Errorf("same import again %+v, want all unchanged", st)
	}
	if l := e.listInfo(t, "known"); l.Head != 300 || l.Active != 0 {
		t.Errorf("head %d active %d, want 300 adds only", l.Head, l.Active)
	}

	bad := "pdq,zz,A1\nmd5," + value(indicator.MD5, 1) + ",B1\nsha256,abc,A1\n"
	_, err := e.ind.Import(e.ctx, "known", nl, indicator.ParseImport(strings.NewReader(bad)), indicator.ImportOptions{})
	wantErr(t, "import with an invalid row", err, core.ErrInvalid)
	if l := e.listInfo(t, "known"); l.Head != 300 {
		t.Errorf("head %d after a failed import, want 300", l.Head)
	}
	st, err = e.ind.Import(e.ctx, "known", nl, indicator.ParseImport(strings.NewReader(bad)), indicator.ImportOptions{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 3 || st.Invalid != 2 || st.Created != 1 || len(st.InvalidRows) != 2 || st.InvalidRows[1].Line != 3 {
		t.Errorf("import skipping invalid rows %+v", st)
	}

	prov := e.org(t, "Provider", org.Provider, "IE")
	_, err = e.ind.Import(e.ctx, "known", prov, indicator.ParseImport(strings.NewReader(text)), indicator.ImportOptions{})
	wantErr(t, "import by a provider", err, core.ErrForbidden)
	_, err = e.ind.Import(e.ctx, "nope", nl, indicator.ParseImport(strings.NewReader(text)), indicator.ImportOptions{})
	wantErr(t, "import into an unknown list", err, core.ErrNotFound)
}

// testImportIntersection imports overlapping files from organisations of
// two countries, and a third of the first country: only the overlap of
// the two countries becomes active.
func testImportIntersection(t *testing.T, e *env) {
	nl := e.org(t, "Hotline NL", org.Hotline, "NL")
	nl2 := e.org(t, "Politie", org.LEA, "NL")
	de := e.org(t, "BKA", org.LEA, "DE")
	e.importText(t, "known", nl, importFile(0, 200, ","))
	st := e.importText(t, "known", nl2, importFile(0, 200, "\t"))
	if st.Attested != 200 || st.Activated != 0 {
		t.Errorf("same-country import %+v, want 200 attested, none activated", st)
	}
	st = e.importText(t, "known", de, importFile(150, 400, ","))
	if st.Created != 200 || st.Attested != 50 || st.Activated != 50 {
		t.Errorf("second-country import %+v, want 200 created, 50 attested and activated", st)
	}
	var active []string
	heads, err := e.ind.ForEachActive(e.ctx, "known", func(ind indicator.Indicator) error {
		active = append(active, ind.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(active)
	var want []string
	for i := 150; i < 200; i++ {
		want = append(want, value(indicator.PDQ, i))
	}
	if !slices.Equal(active, want) {
		t.Errorf("active: %d values, want the 50 of the overlap", len(active))
	}
	// Adds 200 + attests 200 + (adds 200, attests 50, activations 50).
	if l := e.listInfo(t, "known"); heads["known"] != 700 || l.Head != 700 || l.Active != 50 {
		t.Errorf("head %d (snapshot %d) active %d, want 700 and 50", l.Head, heads["known"], l.Active)
	}
	// The activation is the attestation's change right after it.
	cs := e.changes(t, "known", 400)
	for i, c := range cs {
		if c.Kind == indicator.Activate && (i == 0 || cs[i-1].Kind != indicator.Attest || cs[i-1].IndicatorID != c.IndicatorID) {
			t.Errorf("activation %+v does not follow its attestation", c)
		}
	}
}

// testImportBatches imports more rows than one batch holds, in batches
// that overlap the earlier ones partly.
func testImportBatches(t *testing.T, e *env) {
	nl := e.org(t, "Hotline NL", org.Hotline, "NL")
	de := e.org(t, "BKA", org.LEA, "DE")
	const n, batch = 4500, 1000
	var calls []int
	st, err := e.ind.Import(e.ctx, "known", nl, indicator.ParseImport(strings.NewReader(importFile(0, n, ","))),
		indicator.ImportOptions{BatchSize: batch, Progress: func(rows int) { calls = append(calls, rows) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Created != n || fmt.Sprint(calls) != "[1000 2000 3000 4000 4500]" {
		t.Errorf("import %+v, progress %v", st, calls)
	}
	st, err = e.ind.Import(e.ctx, "known", de, indicator.ParseImport(strings.NewReader(importFile(n-3000, n+500, "\t"))),
		indicator.ImportOptions{BatchSize: 700})
	if err != nil {
		t.Fatal(err)
	}
	if st.Created != 500 || st.Attested != 3000 || st.Activated != 3000 {
		t.Errorf("second import %+v", st)
	}
	if l := e.listInfo(t, "known"); l.Head != n+500+2*3000 || l.Active != 3000 {
		t.Errorf("head %d active %d", l.Head, l.Active)
	}
	cs := e.changes(t, "known", n-5)
	for i, c := range cs {
		if c.Seq != int64(n-5+i+1) {
			t.Fatalf("seq %d at %d", c.Seq, i)
		}
	}
}

func testForEachActive(t *testing.T, e *env) {
	nl := e.org(t, "Hotline NL", org.Hotline, "NL")
	de := e.org(t, "BKA", org.LEA, "DE")
	if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: "other", Policy: indicator.Policy{MinAttestations: 1}}); err != nil {
		t.Fatal(err)
	}
	e.submit(t, "known", nl, pdq(1, ""), pdq(2, ""), pdq(3, ""))
	e.submit(t, "known", de, pdq(1, ""), pdq(2, ""))
	e.submit(t, "other", nl, pdq(1, ""), indicator.Submission{Signal: indicator.MD5, Value: value(indicator.MD5, 9), Category: indicator.National})

	load := func(list string) (map[string]int64, []string) {
		var got []string
		heads, err := e.ind.ForEachActive(e.ctx, list, func(ind indicator.Indicator) error {
			if ind.State != indicator.Active || ind.ActivatedAt.IsZero() || ind.CreatedAt.IsZero() || ind.ID == 0 {
				t.Errorf("streamed %+v", ind)
			}
			got = append(got, fmt.Sprintf("%s/%s/%s/%s", ind.List, ind.Signal, ind.Value[len(ind.Value)-2:], ind.Category))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return heads, got
	}
	heads, got := load("")
	if g := strings.Join(got, " "); g != "known/pdq/02/A1 known/pdq/03/A1 other/md5/0a/national other/pdq/02/A1" {
		t.Errorf("all active: %s", g)
	}
	if fmt.Sprint(heads) != "map[known:7 other:4 victim-reported:0]" {
		t.Errorf("heads %v", heads)
	}
	heads, got = load("other")
	if len(got) != 2 || fmt.Sprint(heads) != "map[other:4]" {
		t.Errorf("list other: %v, heads %v", got, heads)
	}

	// Following the feed after the snapshot's head brings exactly the
	// later changes.
	ind, err := e.ind.Withdraw(e.ctx, e.submit(t, "known", nl, pdq(1, ""))[0].IndicatorID, nl, "mistake")
	if err != nil {
		t.Fatal(err)
	}
	e.submit(t, "known", de, pdq(3, ""))
	if g := feed(e.changes(t, "known", 7)); g != fmt.Sprintf("8:withdraw:%d:%d 9:attest:%d:%d 10:activate:%d:%d",
		ind.ID, nl.OrgID, ind.ID+2, de.OrgID, ind.ID+2, de.OrgID) {
		t.Errorf("feed after the snapshot: %s", g)
	}

	_, err = e.ind.ForEachActive(e.ctx, "nope", func(indicator.Indicator) error { return nil })
	wantErr(t, "unknown list", err, core.ErrNotFound)
	stop := errors.New("stop")
	calls := 0
	_, err = e.ind.ForEachActive(e.ctx, "", func(indicator.Indicator) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn's error: %v after %d calls, want it returned after 1", err, calls)
	}
}

// testRetry checks that ReadWrite retries a transaction that lost a race,
// here a deadlock between two transactions that lock two lists in
// opposite orders (on SQLite, which has one writer, they simply queue).
func testRetry(t *testing.T, e *env) {
	for _, name := range []string{"a", "b"} {
		if _, err := e.ind.CreateList(e.ctx, indicator.List{Name: name, Policy: indicator.DefaultPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts int
		pg       bool
		both     = make(chan struct{}, 2)
	)
	for _, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
				mu.Lock()
				attempts++
				first := attempts <= 2
				pg = tx.Postgres()
				mu.Unlock()
				if _, err := tx.Exec(ctx, `UPDATE lists SET max_distance = max_distance + 1 WHERE name = $1`, order[0]); err != nil {
					return err
				}
				if first && tx.Postgres() {
					// Let both take their first lock before either
					// takes its second.
					both <- struct{}{}
					for len(both) < 2 {
						time.Sleep(time.Millisecond)
					}
				}
				_, err := tx.Exec(ctx, `UPDATE lists SET max_distance = max_distance + 1 WHERE name = $1`, order[1])
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, name := range []string{"a", "b"} {
		l, err := e.db.List(e.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if l.MaxDistance != 2 {
			t.Errorf("list %s max distance %d, want 2: each transaction applied once", name, l.MaxDistance)
		}
	}
	if pg && attempts < 3 { // only PostgreSQL runs two writers at once
		t.Errorf("%d attempts; want a retry after the deadlock", attempts)
	}
}

// testVictimReported checks the unverified list: a hash the centre reports
// for a person is active at once, of category unverified, logged and in
// the feed; organisations cannot submit or import into it, nor give the
// category elsewhere; no second unverified list can be made.
func testVictimReported(t *testing.T, e *env) {
	centre := e.org(t, "Centre", org.Centre, "NL")
	hot := e.org(t, "Hotline", org.Hotline, "DE")
	hashes := []indicator.Hash{
		{Signal: indicator.PDQ, Value: strings.ToUpper(value(indicator.PDQ, 1))},
		{Signal: indicator.MD5, Value: value(indicator.MD5, 2)},
		{Signal: indicator.PDQ, Value: value(indicator.PDQ, 1)},
	}
	res, err := e.ind.Report(e.ctx, indicator.VictimReported, centre, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].Activated || res[0].State != indicator.Active || !res[1].Activated ||
		res[2].IndicatorID != res[0].IndicatorID || res[2].Created || res[2].Activated {
		t.Fatalf("results %+v", res)
	}
	ind, atts, err := e.ind.Get(e.ctx, res[0].IndicatorID)
	if err != nil || ind.Category != indicator.Unverified || ind.Value != value(indicator.PDQ, 1) || len(atts) != 1 || atts[0].OrgID != centre.OrgID {
		t.Errorf("indicator %+v %+v %v", ind, atts, err)
	}
	feed, err := e.ind.Changes(e.ctx, indicator.VictimReported, 0, 10)
	var kinds []string
	for _, c := range feed {
		kinds = append(kinds, string(c.Kind)+"/"+string(c.Category))
	}
	if err != nil || strings.Join(kinds, " ") != "add/unverified activate/unverified add/unverified activate/unverified" {
		t.Errorf("feed %q, %v", kinds, err)
	}
	again, err := e.ind.Report(e.ctx, indicator.VictimReported, centre, hashes[:1])
	if err != nil || again[0].Created || again[0].Activated || again[0].IndicatorID != res[0].IndicatorID {
		t.Errorf("the same hash again: %+v, %v", again, err)
	}

	for _, tt := range []struct {
		name string
		err  error
	}{
		{"a hotline submits", func() error {
			_, err := e.ind.Submit(e.ctx, indicator.VictimReported, hot, []indicator.Submission{pdq(5, "")})
			return err
		}()},
		{"a hotline imports", func() error {
			_, err := e.ind.Import(e.ctx, indicator.VictimReported, hot, func(yield func(indicator.Row, error) bool) {}, indicator.ImportOptions{})
			return err
		}()},
		{"category unverified in a match list", func() error {
			s := pdq(6, "")
			s.Category = indicator.Unverified
			_, err := e.ind.Submit(e.ctx, indicator.Known, hot, []indicator.Submission{s})
			return err
		}()},
		{"a report into a match list", func() error {
			_, err := e.ind.Report(e.ctx, indicator.Known, centre, hashes[:1])
			return err
		}()},
		{"an invalid hash", func() error {
			_, err := e.ind.Report(e.ctx, indicator.VictimReported, centre, []indicator.Hash{{Signal: indicator.PDQ, Value: "00"}})
			return err
		}()},
		{"a second unverified list", func() error {
			_, err := e.ind.CreateList(e.ctx, indicator.List{Name: "more", Kind: indicator.UnverifiedList, Policy: indicator.Policy{MinAttestations: 1}, MaxDistance: 31, Threshold: 31})
			return err
		}()},
	} {
		if !errors.Is(tt.err, core.ErrInvalid) {
			t.Errorf("%s: %v, want an ErrInvalid error", tt.name, tt.err)
		}
	}
	if feed, _ := e.ind.Changes(e.ctx, indicator.VictimReported, 0, 100); len(feed) != 4 {
		t.Errorf("refused submissions changed the feed: %d changes", len(feed))
	}

	// A hash the person withdrew is active again when sent again, so that
	// no one can keep an image out of the list by sending and withdrawing
	// it first; one the centre withdrew for a reason of its own stays out.
	for _, tt := range []struct {
		reason string
		want   indicator.State
	}{
		{indicator.PersonWithdrew, indicator.Active},
		{"a reviewer found it matched a stock photo", indicator.Withdrawn},
	} {
		id := res[0].IndicatorID
		if tt.want == indicator.Withdrawn {
			id = res[1].IndicatorID
		}
		if _, err := e.ind.Withdraw(e.ctx, id, centre, tt.reason); err != nil {
			t.Fatal(err)
		}
		ind, _, _ := e.ind.Get(e.ctx, id)
		sent := []indicator.Hash{{Signal: ind.Signal, Value: ind.Value}}
		again, err := e.ind.Report(e.ctx, indicator.VictimReported, centre, sent)
		after, _, _ := e.ind.Get(e.ctx, id)
		if err != nil || again[0].State != tt.want || after.State != tt.want || again[0].Activated != (tt.want == indicator.Active) {
			t.Errorf("withdrawn (%s), sent again: %+v, %v; now %s, want %s", tt.reason, again, err, after.State, tt.want)
		}
		if tt.want == indicator.Active && (after.WithdrawReason != "" || !after.WithdrawnAt.IsZero()) {
			t.Errorf("active again but still marked withdrawn: %+v", after)
		}
	}
	feed, err = e.ind.Changes(e.ctx, indicator.VictimReported, 4, 100)
	kinds = nil
	for _, c := range feed {
		kinds = append(kinds, string(c.Kind))
	}
	if err != nil || strings.Join(kinds, " ") != "withdraw activate withdraw" {
		t.Errorf("the feed after the withdrawals: %q, %v", kinds, err)
	}
}
