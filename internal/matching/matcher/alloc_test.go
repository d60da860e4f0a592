//go:build !race

package matcher

import (
	"math/rand/v2"
	"testing"

	"github.com/wardhq/ward/internal/indicator"
)

// The race detector makes sync.Pool drop what is put into it at random,
// and the index keeps its search scratch space in one, so allocations are
// counted only without it.

// TestMatchAllocations: a query that matches nothing allocates nothing,
// with suppress lists as without.
func TestMatchAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	m := New()
	m.SetList(matchList("known", 31, 31))
	for i := range 1000 {
		if err := m.Add(Entry{ID: int64(i + 1), List: "known", Signal: indicator.PDQ, Value: randomHash(r).String(), Category: indicator.A1}); err != nil {
			t.Fatal(err)
		}
	}
	far := Item{Signal: indicator.PDQ, PDQ: randomHash(r)}
	md5 := digest(t, indicator.MD5, 1)
	for _, lists := range []string{"without suppress lists", "with one"} {
		for _, it := range []Item{far, md5} {
			for _, q := range []Query{{Threshold: ListThresholds}, {Threshold: 31}} {
				if n := testing.AllocsPerRun(100, func() { m.Match(q, it, nil) }); n != 0 {
					t.Errorf("%s: %s item, threshold %d: %.0f allocations", lists, it.Signal, q.Threshold, n)
				}
			}
		}
		m.SetList(indicator.List{Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 10})
		if err := m.Add(Entry{ID: 5000, List: "stock", Signal: indicator.PDQ, Value: randomHash(r).String(), Category: indicator.Baseline}); err != nil {
			t.Fatal(err)
		}
	}
}
