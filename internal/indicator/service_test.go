package indicator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
)

// fakeStore records calls and tracks which organisation attested which
// value, enough to test the service's own logic; the rules themselves are
// tested against the real stores by storetest.
type fakeStore struct {
	Store   // methods not overridden panic
	batches [][]Submission
	ids     map[string]int64          // value -> indicator ID
	by      map[string]map[int64]bool // value -> attesting orgs
	atts    []Attestation
	limit   int // last Changes limit
	failAt  int // fail the Attest call with this index (1-based)
}

func (f *fakeStore) List(_ context.Context, name string) (List, error) {
	if name != Known {
		return List{}, core.Errorf(core.ErrNotFound, "no list named %q", name)
	}
	return List{Name: Known, Policy: DefaultPolicy}, nil
}

func (f *fakeStore) Attest(_ context.Context, list string, by org.Principal, subs []Submission, _ time.Time) ([]Result, error) {
	f.batches = append(f.batches, subs)
	if len(f.batches) == f.failAt {
		return nil, errors.New("disk full")
	}
	if f.ids == nil {
		f.ids, f.by = map[string]int64{}, map[string]map[int64]bool{}
	}
	var res []Result
	for _, s := range subs {
		r := Result{State: Pending}
		if _, ok := f.ids[s.Value]; !ok {
			f.ids[s.Value] = int64(len(f.ids) + 1)
			f.by[s.Value] = map[int64]bool{}
			r.Created = true
		} else if !f.by[s.Value][by.OrgID] {
			r.Attested = true
		}
		f.by[s.Value][by.OrgID] = true
		r.IndicatorID = f.ids[s.Value]
		res = append(res, r)
	}
	return res, nil
}

func (f *fakeStore) Indicator(_ context.Context, id int64) (Indicator, []Attestation, error) {
	if id != 1 {
		return Indicator{}, nil, core.Errorf(core.ErrNotFound, "no indicator %d", id)
	}
	return Indicator{ID: 1}, f.atts, nil
}

func (f *fakeStore) Withdraw(_ context.Context, id int64, by org.Principal, reason string, _ time.Time) (Indicator, error) {
	return Indicator{ID: id, State: Withdrawn, WithdrawnBy: by.OrgID, WithdrawReason: reason}, nil
}

func (f *fakeStore) Changes(_ context.Context, _ string, _ int64, limit int) ([]Change, error) {
	f.limit = limit
	return nil, nil
}

var (
	hotline  = org.Principal{OrgID: 1, Kind: org.Hotline, Country: "NL"}
	lea      = org.Principal{OrgID: 2, Kind: org.LEA, Country: "DE"}
	provider = org.Principal{OrgID: 3, Kind: org.Provider, Country: "IE"}
	centre   = org.Principal{OrgID: 4, Kind: org.Centre, Country: "NL"}
)

func sub(n int) Submission {
	return Submission{Signal: PDQ, Value: fmt.Sprintf("%064x", n+1), Category: A1}
}

func TestSubmit(t *testing.T) {
	f := &fakeStore{}
	s := NewService(f)
	ctx := context.Background()
	upper := sub(1)
	upper.Value = strings.ToUpper(upper.Value)
	res, err := s.Submit(ctx, Known, hotline, []Submission{sub(1), sub(2), upper, sub(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 1 || len(f.batches[0]) != 2 {
		t.Errorf("store got %v, want the two distinct values", f.batches)
	}
	want := []Result{
		{IndicatorID: 1, State: Pending, Created: true},
		{IndicatorID: 2, State: Pending, Created: true},
		{IndicatorID: 1, State: Pending},
		{IndicatorID: 1, State: Pending},
	}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("results %v, want %v", res, want)
	}

	_, err = s.Submit(ctx, Known, provider, []Submission{sub(3)})
	if !errors.Is(err, core.ErrForbidden) {
		t.Errorf("provider: %v", err)
	}
	_, err = s.Submit(ctx, Known, hotline, make([]Submission, MaxSubmissions+1))
	if !errors.Is(err, core.ErrInvalid) {
		t.Errorf("too many: %v", err)
	}
	bad := make([]Submission, 30)
	_, err = s.Submit(ctx, Known, hotline, bad)
	if !errors.Is(err, core.ErrInvalid) || strings.Count(err.Error(), "item ") != maxItemErrors {
		t.Errorf("30 invalid items: %v", err)
	}
	if len(f.batches) != 1 {
		t.Errorf("rejected submissions reached the store")
	}
}

func TestWithdrawPermission(t *testing.T) {
	ctx := context.Background()
	f := &fakeStore{atts: []Attestation{{OrgID: hotline.OrgID}}}
	s := NewService(f)
	if _, err := s.Withdraw(ctx, 1, hotline, "mistake"); err != nil {
		t.Errorf("attester: %v", err)
	}
	if _, err := s.Withdraw(ctx, 1, centre, "mistake"); err != nil {
		t.Errorf("centre: %v", err)
	}
	for _, p := range []org.Principal{lea, provider} {
		if _, err := s.Withdraw(ctx, 1, p, "mistake"); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("%s that did not attest: %v, want ErrForbidden", p.Kind, err)
		}
	}
	if _, err := s.Withdraw(ctx, 2, centre, "x"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	for _, reason := range []string{"", " \n", strings.Repeat("x", 1001)} {
		if _, err := s.Withdraw(ctx, 1, centre, reason); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("reason %.10q: %v, want ErrInvalid", reason, err)
		}
	}
	ind, err := s.Withdraw(ctx, 1, centre, "  spaces  ")
	if err != nil || ind.WithdrawReason != "spaces" {
		t.Errorf("reason not trimmed: %q, %v", ind.WithdrawReason, err)
	}
}

func TestChangesLimits(t *testing.T) {
	f := &fakeStore{}
	s := NewService(f)
	ctx := context.Background()
	if _, err := s.Changes(ctx, Known, 0, MaxChanges+5); err != nil || f.limit != MaxChanges {
		t.Errorf("limit over the maximum: %v, store asked for %d", err, f.limit)
	}
	for _, c := range []struct {
		after int64
		limit int
	}{{-1, 10}, {0, 0}, {0, -3}} {
		if _, err := s.Changes(ctx, Known, c.after, c.limit); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("after %d limit %d: %v", c.after, c.limit, err)
		}
	}
}

func importText(n int, every int) string {
	var b strings.Builder
	for i := range n {
		if every > 0 && i%every == every-1 {
			b.WriteString("pdq,bad,A1\n")
			continue
		}
		fmt.Fprintf(&b, "pdq,%064x,A1\n", i%(n-n/10)+1) // the last tenth repeats earlier values
	}
	return b.String()
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	f := &fakeStore{}
	s := NewService(f)
	n := 2*DefaultImportBatch + 500
	var progress []int
	st, err := s.Import(ctx, Known, hotline, ParseImport(strings.NewReader(importText(n, 0))),
		ImportOptions{Progress: func(rows int) { progress = append(progress, rows) }})
	if err != nil {
		t.Fatal(err)
	}
	distinct := n - n/10
	if st.Rows != n || st.Created != distinct || st.Unchanged != n/10 || st.Attested != 0 || st.Invalid != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(f.batches) != 3 || len(f.batches[0]) != DefaultImportBatch {
		t.Errorf("%d batches", len(f.batches))
	}
	if fmt.Sprint(progress) != fmt.Sprint([]int{DefaultImportBatch, 2 * DefaultImportBatch, n}) {
		t.Errorf("progress %v", progress)
	}

	st, err = s.Import(ctx, Known, lea, ParseImport(strings.NewReader(importText(100, 10))), ImportOptions{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	// Rows 10, 20, ... 100 are invalid; 91-99 repeat the values of 1-9.
	if st.Rows != 100 || st.Invalid != 10 || st.Attested != 81 || st.Unchanged != 9 || st.Created != 0 ||
		len(st.InvalidRows) != 10 || st.InvalidRows[0].Line != 10 {
		t.Errorf("skipping invalid rows: %+v", st)
	}

	_, err = s.Import(ctx, Known, lea, ParseImport(strings.NewReader(importText(100, 10))), ImportOptions{})
	var re *RowError
	if !errors.As(err, &re) || re.Line != 10 {
		t.Errorf("stopping at an invalid row: %v", err)
	}

	f.failAt = len(f.batches) + 2
	st, err = s.Import(ctx, Known, centre, ParseImport(strings.NewReader(importText(n, 0))), ImportOptions{})
	if err == nil || st.Created != 0 || st.Attested != DefaultImportBatch {
		t.Errorf("failing store: %+v, %v", st, err)
	}
	if _, err := s.Import(ctx, "nope", centre, ParseImport(strings.NewReader("")), ImportOptions{}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown list: %v", err)
	}
	if _, err := s.Import(ctx, Known, provider, ParseImport(strings.NewReader("")), ImportOptions{}); !errors.Is(err, core.ErrForbidden) {
		t.Errorf("provider: %v", err)
	}
}
