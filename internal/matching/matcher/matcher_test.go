package matcher

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
)

func randomHash(r *rand.Rand) pdq.Hash {
	return pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
}

// flip returns h with its first n bits inverted.
func flip(h pdq.Hash, n int) pdq.Hash {
	for k := range n {
		h[k/64] ^= 1 << (k % 64)
	}
	return h
}

// matchList is a list of known material with the given distances.
func matchList(name string, maxDistance, threshold int) indicator.List {
	return indicator.List{Name: name, Kind: indicator.MatchList, MaxDistance: maxDistance, Threshold: threshold}
}

func mustMatch(t *testing.T, m *Matcher, q Query, it Item, d *pdq.Dihedral) []Match {
	t.Helper()
	ms, err := m.Match(q, it, d)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMatchPDQAndDigests(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := New()
	m.SetList(matchList("known", 31, 31))
	m.SetList(matchList("strict", 10, 10))
	base := randomHash(r)
	md5 := "0123456789abcdef0123456789abcdef"
	for _, e := range []Entry{
		{ID: 1, List: "known", Signal: indicator.PDQ, Value: base.String(), Category: indicator.A1},
		{ID: 2, List: "known", Signal: indicator.PDQ, Value: flip(base, 20).String(), Category: indicator.B2},
		{ID: 3, List: "strict", Signal: indicator.PDQ, Value: flip(base, 20).String(), Category: indicator.Baseline},
		{ID: 4, List: "known", Signal: indicator.MD5, Value: md5, Category: indicator.National},
		{ID: 5, List: "strict", Signal: indicator.MD5, Value: md5, Category: indicator.A2},
	} {
		if err := m.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	q := flip(base, 5) // 5 bits from 1, 15 from 2 and 3
	ms := mustMatch(t, m, Query{Threshold: 31}, Item{Signal: indicator.PDQ, PDQ: q}, nil)
	want := []Match{
		{Indicator: 1, List: "known", Category: indicator.A1, Signal: indicator.PDQ, Distance: 5},
		{Indicator: 2, List: "known", Category: indicator.B2, Signal: indicator.PDQ, Distance: 15},
	}
	// List "strict" caps the threshold at 10, so indicator 3 (15 bits) is out.
	if fmt.Sprint(ms) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", ms, want)
	}
	if ms := mustMatch(t, m, Query{Threshold: 4}, Item{Signal: indicator.PDQ, PDQ: q}, nil); len(ms) != 0 {
		t.Errorf("threshold 4: %v", ms)
	}
	it, err := ParseItem(indicator.MD5, "0123456789ABCDEF0123456789ABCDEF")
	if err != nil {
		t.Fatal(err)
	}
	ms = mustMatch(t, m, Query{Threshold: 31, Lists: []string{"strict"}}, it, nil)
	if len(ms) != 1 || ms[0].Indicator != 5 || ms[0].Category != indicator.A2 || ms[0].Distance != 0 {
		t.Errorf("md5 in strict: %v", ms)
	}
	if _, err := m.Match(Query{Lists: []string{"nope"}}, it, nil); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("unknown list: %v", err)
	}

	// Withdrawal removes exactly the indicator named.
	if err := m.Remove(Entry{ID: 1, List: "known", Signal: indicator.PDQ, Value: base.String(), Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(Entry{ID: 4, List: "known", Signal: indicator.MD5, Value: md5, Category: indicator.National}); err != nil {
		t.Fatal(err)
	}
	ms = mustMatch(t, m, Query{Threshold: 31}, Item{Signal: indicator.PDQ, PDQ: q}, nil)
	if len(ms) != 1 || ms[0].Indicator != 2 {
		t.Errorf("after withdrawal: %v", ms)
	}
	ms = mustMatch(t, m, Query{Threshold: 31}, it, nil)
	if len(ms) != 1 || ms[0].Indicator != 5 {
		t.Errorf("md5 after withdrawal: %v", ms)
	}
	if n := m.Len("known"); n != 1 {
		t.Errorf("known holds %d", n)
	}
}

func TestBadEntries(t *testing.T) {
	m := New()
	m.SetList(matchList("known", 31, 31))
	for _, e := range []Entry{
		{ID: 1, List: "known", Signal: indicator.PDQ, Value: "abc", Category: indicator.A1},
		{ID: 2, List: "known", Signal: indicator.PDQ, Value: fmt.Sprintf("%064d", 0), Category: indicator.A1},
		{ID: 3, List: "known", Signal: "crc32", Value: "00", Category: indicator.A1},
		{ID: 4, List: "known", Signal: indicator.MD5, Value: "0123456789abcdef0123456789abcdef", Category: "Z9"},
		{ID: 5, List: "other", Signal: indicator.MD5, Value: "0123456789abcdef0123456789abcdef", Category: indicator.A1},
	} {
		if err := m.Add(e); err == nil {
			t.Errorf("Add(%+v) succeeded", e)
		}
	}
}

// TestDihedral matches a rotated image against the original's indicator.
func TestDihedral(t *testing.T) {
	img := synth.Image(200, 160, 2)
	rot := image90(img)
	h, _ := pdq.FromImage(img)
	d, _ := pdq.DihedralFromImage(rot)

	m := New()
	b := NewBuilder()
	if err := b.Add(Entry{ID: 7, List: "known", Signal: indicator.PDQ, Value: h.String(), Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
	b.Install(m, []indicator.List{matchList("known", 31, 31)})
	item := Item{Signal: indicator.PDQ, PDQ: d.Orig}
	if ms := mustMatch(t, m, Query{Threshold: 31}, item, nil); len(ms) != 0 {
		t.Fatalf("rotated image matched without dihedral: %v", ms)
	}
	ms := mustMatch(t, m, Query{Threshold: 31, Dihedral: true}, item, &d)
	if len(ms) != 1 || ms[0].Indicator != 7 || ms[0].Variant != "rot90" {
		t.Fatalf("dihedral: %v", ms)
	}
	if _, err := m.Match(Query{Threshold: 31, Dihedral: true}, item, nil); err == nil {
		t.Error("dihedral without variants succeeded")
	}
}

func TestFile(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	h := randomHash(r)
	sha := fmt.Sprintf("%064x", 12345)
	m := New()
	b := NewBuilder()
	b.Add(Entry{ID: 1, List: "known", Signal: indicator.PDQ, Value: h.String(), Category: indicator.A1})
	b.Add(Entry{ID: 2, List: "known", Signal: indicator.SHA256, Value: sha, Category: indicator.B1})
	b.Install(m, []indicator.List{matchList("known", 31, 31), matchList("empty", 31, 31)})
	ms, err := m.File(Query{Threshold: 31}, flip(h, 3), nil, fmt.Sprintf("%032x", 1), sha)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Indicator != 2 || ms[1].Indicator != 1 || ms[1].Distance != 3 {
		t.Errorf("got %v", ms)
	}
	// The zero hash of a tiny image never matches, but its digests do.
	ms, err = m.File(Query{Threshold: 256}, pdq.Hash{}, nil, fmt.Sprintf("%032x", 1), sha)
	if err != nil || len(ms) != 1 || ms[0].Indicator != 2 {
		t.Errorf("zero hash: %v %v", ms, err)
	}
	if got := m.Lists(); fmt.Sprint(got) != "[empty known]" {
		t.Errorf("lists %v", got)
	}
}

// TestUnverified checks that an unverified list (victim-reported) is
// matched only when a query names it or asks for the unverified lists,
// and that its matches say what they are.
func TestUnverified(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	h := randomHash(r)
	m := New()
	b := NewBuilder()
	b.Add(Entry{ID: 1, List: "known", Signal: indicator.PDQ, Value: h.String(), Category: indicator.A1})
	b.Add(Entry{ID: 2, List: indicator.VictimReported, Signal: indicator.PDQ, Value: flip(h, 2).String(), Category: indicator.Unverified})
	victims := matchList(indicator.VictimReported, 31, 31)
	victims.Kind = indicator.UnverifiedList
	b.Install(m, []indicator.List{matchList("known", 31, 31), victims})
	for _, tt := range []struct {
		name string
		q    Query
		want string
	}{
		{"every list", Query{Threshold: 31}, "known:1@0"},
		{"each list's threshold", Query{Threshold: ListThresholds}, "known:1@0"},
		{"with the unverified", Query{Threshold: 31, Unverified: true}, "known:1@0 victim-reported:2@2"},
		{"named", Query{Threshold: 31, Lists: []string{indicator.VictimReported}}, "victim-reported:2@2"},
		{"the other named", Query{Threshold: 31, Lists: []string{"known"}, Unverified: true}, "known:1@0"},
	} {
		ms, err := m.Match(tt.q, Item{Signal: indicator.PDQ, PDQ: h}, nil)
		if got := describe(ms); err != nil || got != tt.want {
			t.Errorf("%s: %s, %v; want %s", tt.name, got, err, tt.want)
		}
		for _, x := range ms {
			if x.List == indicator.VictimReported && x.Category != indicator.Unverified {
				t.Errorf("%s: a victim-reported match of category %q", tt.name, x.Category)
			}
		}
	}
}
