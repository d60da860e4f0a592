package matcher

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
)

// flipAt returns h with n bits from bit from on inverted.
func flipAt(h pdq.Hash, from, n int) pdq.Hash {
	for k := from; k < from+n; k++ {
		h[k/64] ^= 1 << (k % 64)
	}
	return h
}

// describe lists matches as "list:indicator@distance".
func describe(ms []Match) string {
	var b []string
	for _, m := range ms {
		b = append(b, fmt.Sprintf("%s:%d@%d", m.List, m.Indicator, m.Distance))
	}
	return strings.Join(b, " ")
}

func digest(t *testing.T, sig indicator.Signal, n int) Item {
	t.Helper()
	v := fmt.Sprintf("%032x", n)
	if sig == indicator.SHA256 {
		v = fmt.Sprintf("%064x", n)
	}
	it, err := ParseItem(sig, v)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// TestSuppress matches content against two lists of known material and
// two suppress lists. Its PDQ items are at a bits from base in one region
// and b bits in another (item(a, b)), so that the distances are:
// indicators 1 and 10: a+b; 20 (stock): |a-20|+b; 5: |a-20|+|b-2|.
func TestSuppress(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	base := randomHash(r)
	item := func(a, b int) Item {
		return Item{Signal: indicator.PDQ, PDQ: flipAt(flipAt(base, 0, a), 128, b)}
	}
	stock := flipAt(base, 0, 20)
	const (
		md5Known   = 1 // in known
		md5Logo    = 2 // in logos
		shaBoth    = 3 // in known and stock
		shaStock   = 4 // in stock only
		shaNowhere = 5
		shaKnown   = 6 // in known only
	)
	m := New()
	b := NewBuilder()
	for _, e := range []Entry{
		{ID: 1, List: "known", Signal: indicator.PDQ, Value: base.String(), Category: indicator.A1},
		{ID: 2, List: "known", Signal: indicator.SHA256, Value: fmt.Sprintf("%064x", shaBoth), Category: indicator.A1},
		{ID: 3, List: "known", Signal: indicator.MD5, Value: fmt.Sprintf("%032x", md5Known), Category: indicator.A1},
		{ID: 4, List: "known", Signal: indicator.SHA256, Value: fmt.Sprintf("%064x", shaKnown), Category: indicator.A1},
		{ID: 5, List: "known", Signal: indicator.PDQ, Value: flipAt(stock, 128, 2).String(), Category: indicator.A2},
		{ID: 10, List: "strict", Signal: indicator.PDQ, Value: base.String(), Category: indicator.B1},
		{ID: 20, List: "stock", Signal: indicator.PDQ, Value: stock.String(), Category: indicator.Baseline},
		{ID: 21, List: "stock", Signal: indicator.SHA256, Value: fmt.Sprintf("%064x", shaBoth), Category: indicator.Baseline},
		{ID: 22, List: "stock", Signal: indicator.SHA256, Value: fmt.Sprintf("%064x", shaStock), Category: indicator.Baseline},
		{ID: 30, List: "logos", Signal: indicator.MD5, Value: fmt.Sprintf("%032x", md5Logo), Category: indicator.Baseline},
	} {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	b.Install(m, []indicator.List{
		matchList("known", 31, 31),
		matchList("strict", 20, 8),
		{Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 6},
		{Name: "logos", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 31},
	})
	def := Query{Threshold: ListThresholds}
	explicit := func(t int, lists ...string) Query { return Query{Threshold: t, Lists: lists} }

	for _, tt := range []struct {
		name       string
		q          Query
		items      []Item
		matches    string
		suppressed string
	}{
		{"each list within its own threshold", def, []Item{item(5, 0)}, "known:1@5 strict:10@5 known:5@17", ""},
		{"a list's threshold excludes what another's includes", def, []Item{item(12, 0)}, "known:5@10 known:1@12", ""},
		{"an explicit threshold applies to every list", explicit(15), []Item{item(12, 0)}, "known:5@10 known:1@12 strict:10@12", ""},
		{"capped by each list's maximum distance", explicit(40), []Item{item(33, 0)}, "known:5@15", ""},
		{"suppressed by PDQ within the suppress list's threshold", def, []Item{item(17, 0)}, "", "stock:20@3"},
		{"an explicit threshold does not widen suppression", explicit(31), []Item{item(12, 0)}, "known:5@10 known:1@12 strict:10@12", ""},
		{"nor narrow it", explicit(3), []Item{item(20, 4)}, "", "stock:20@4"},
		{"restricted lists still meet every suppress list", explicit(20, "strict"), []Item{item(17, 0)}, "", "stock:20@3"},
		{"restricted lists without suppression", explicit(20, "strict"), []Item{item(12, 0)}, "strict:10@12", ""},
		{"a suppress list's indicators are never matches", explicit(31, "stock"), []Item{item(20, 0)}, "", "stock:20@0"},
		{"a digest in a list of known material", def, []Item{digest(t, indicator.MD5, md5Known)}, "known:3@0", ""},
		{"a digest in both kinds of list", def, []Item{digest(t, indicator.SHA256, shaBoth)}, "", "stock:21@0"},
		{"a file's SHA-256 removes its PDQ matches", def,
			[]Item{item(12, 0), digest(t, indicator.MD5, md5Known), digest(t, indicator.SHA256, shaStock)}, "", "stock:22@0"},
		{"another suppress list's MD5 removes them too", def,
			[]Item{item(5, 0), digest(t, indicator.MD5, md5Logo), digest(t, indicator.SHA256, shaNowhere)}, "", "logos:30@0"},
		{"an MD5 suppression never removes a SHA-256 match (MD5 collisions can be made)", def,
			[]Item{item(5, 0), digest(t, indicator.MD5, md5Logo), digest(t, indicator.SHA256, shaKnown)}, "known:4@0", "logos:30@0"},
		{"but removes the file's MD5 and PDQ matches", def,
			[]Item{item(5, 0), digest(t, indicator.MD5, md5Logo), digest(t, indicator.SHA256, shaNowhere)}, "", "logos:30@0"},
		{"a PDQ suppression keeps the file's exact digest matches", def,
			[]Item{item(17, 0), digest(t, indicator.MD5, md5Known), digest(t, indicator.SHA256, shaNowhere)}, "known:3@0", "stock:20@3"},
		{"a file nothing suppresses", def,
			[]Item{item(12, 0), digest(t, indicator.MD5, md5Known), digest(t, indicator.SHA256, shaNowhere)}, "known:3@0 known:5@10 known:1@12", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := m.MatchContent(tt.q, nil, tt.items...)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(res.Matches); got != tt.matches {
				t.Errorf("matches %q, want %q", got, tt.matches)
			}
			if got := describe(res.SuppressedBy); got != tt.suppressed {
				t.Errorf("suppressed by %q, want %q", got, tt.suppressed)
			}
			if len(tt.items) == 1 {
				ms, err := m.Match(tt.q, tt.items[0], nil)
				if err != nil || describe(ms) != tt.matches {
					t.Errorf("Match: %q, %v; want %q", describe(ms), err, tt.matches)
				}
			}
		})
	}

	// Metrics count each item's matches left after suppression.
	var observed []string
	m.Observe = func(sig indicator.Signal, _ time.Duration, n int) {
		observed = append(observed, fmt.Sprintf("%s:%d", sig, n))
	}
	if _, err := m.MatchContent(def, nil, item(17, 0), digest(t, indicator.MD5, md5Known), digest(t, indicator.SHA256, shaNowhere)); err != nil {
		t.Fatal(err)
	}
	m.Observe = nil
	if got := strings.Join(observed, " "); got != "pdq:0 md5:1 sha256:0" {
		t.Errorf("observed %s", got)
	}

	// File is the same as the content of its hashes.
	ms, err := m.File(def, item(17, 0).PDQ, nil, fmt.Sprintf("%032x", md5Known), fmt.Sprintf("%064x", shaNowhere))
	if err != nil || describe(ms) != "known:3@0" {
		t.Errorf("File: %q, %v", describe(ms), err)
	}

	for _, tt := range []struct {
		q    Query
		want int
	}{
		{def, 31}, {explicit(12), 12}, {Query{Threshold: ListThresholds, Lists: []string{"strict"}}, 8},
		{Query{Threshold: ListThresholds, Lists: []string{"stock"}}, 0},
	} {
		if got := m.Threshold(tt.q); got != tt.want {
			t.Errorf("Threshold(%+v) = %d, want %d", tt.q, got, tt.want)
		}
	}

	// A list whose kind changes moves between the two.
	m.SetList(matchList("stock", 31, 6))
	if res, err := m.MatchContent(def, nil, item(17, 0)); err != nil || describe(res.Matches) != "stock:20@3 known:5@5 known:1@17" || res.SuppressedBy != nil {
		t.Errorf("stock as a match list: %+v, %v", res, err)
	}
	m.SetList(indicator.List{Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 6})
	if res, err := m.MatchContent(def, nil, item(17, 0)); err != nil || len(res.Matches) != 0 || describe(res.SuppressedBy) != "stock:20@3" {
		t.Errorf("stock a suppress list again: %+v, %v", res, err)
	}
}

// TestSuppressDihedral: a rotated copy of a suppressed image, matched
// with its variants, is suppressed as the image is.
func TestSuppressDihedral(t *testing.T) {
	img := synth.Image(200, 160, 3)
	h, _ := pdq.FromImage(img)
	d, _ := pdq.DihedralFromImage(image90(img))
	m := New()
	b := NewBuilder()
	for _, e := range []Entry{
		{ID: 1, List: "known", Signal: indicator.PDQ, Value: h.String(), Category: indicator.A1},
		{ID: 2, List: "stock", Signal: indicator.PDQ, Value: h.String(), Category: indicator.Baseline},
	} {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	b.Install(m, []indicator.List{matchList("known", 31, 31), {Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 31}})
	res, err := m.MatchContent(Query{Threshold: ListThresholds, Dihedral: true}, &d, Item{Signal: indicator.PDQ, PDQ: d.Orig})
	if err != nil || len(res.Matches) != 0 || len(res.SuppressedBy) != 1 || res.SuppressedBy[0].Variant != "rot90" {
		t.Errorf("rotated: %+v, %v; want suppressed by indicator 2 as rot90", res, err)
	}
}
