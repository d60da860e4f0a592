package matcher

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
)

// benchMatcher holds n random PDQ indicators in list "known", and
// suppressed in suppress list "stock", built in bulk as a server loads
// them, and returns those of "known".
func benchMatcher(b *testing.B, n, suppressed int) (*Matcher, []pdq.Hash) {
	b.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	stored := make([]pdq.Hash, n)
	bl := NewBuilder()
	for i := range stored {
		stored[i] = randomHash(r)
		if err := bl.Add(Entry{ID: int64(i + 1), List: "known", Signal: indicator.PDQ, Value: stored[i].String(), Category: indicator.A1}); err != nil {
			b.Fatal(err)
		}
	}
	lists := []indicator.List{matchList("known", 31, 31)}
	if suppressed > 0 {
		lists = append(lists, indicator.List{Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 31})
	}
	for i := range suppressed {
		if err := bl.Add(Entry{ID: int64(n + i + 1), List: "stock", Signal: indicator.PDQ, Value: randomHash(r).String(), Category: indicator.Baseline}); err != nil {
			b.Fatal(err)
		}
	}
	m := New()
	bl.Install(m, lists)
	return m, stored
}

// BenchmarkMatch matches one item against 100,000 PDQ indicators: a near
// duplicate (one match), an unrelated hash (none) and an MD5.
func BenchmarkMatch(b *testing.B) {
	m, stored := benchMatcher(b, 100000, 0)
	r := rand.New(rand.NewPCG(7, 8))
	near := make([]Item, 1000)
	far := make([]Item, len(near))
	for i := range near {
		near[i] = Item{Signal: indicator.PDQ, PDQ: flip(stored[r.IntN(len(stored))], 10)}
		far[i] = Item{Signal: indicator.PDQ, PDQ: randomHash(r)}
	}
	md5, err := ParseItem(indicator.MD5, fmt.Sprintf("%032x", 1))
	if err != nil {
		b.Fatal(err)
	}
	q := Query{Threshold: 31}
	for _, bc := range []struct {
		name  string
		items []Item
	}{{"pdq-near", near}, {"pdq-far", far}, {"md5", []Item{md5}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := m.Match(q, bc.items[i%len(bc.items)], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatchSuppress is BenchmarkMatch's PDQ queries with a suppress
// list of 10,000 indicators beside the list: its cost, each query
// searching it too.
func BenchmarkMatchSuppress(b *testing.B) {
	m, stored := benchMatcher(b, 100000, 10000)
	r := rand.New(rand.NewPCG(9, 10))
	near := make([]Item, 1000)
	far := make([]Item, len(near))
	for i := range near {
		near[i] = Item{Signal: indicator.PDQ, PDQ: flip(stored[r.IntN(len(stored))], 10)}
		far[i] = Item{Signal: indicator.PDQ, PDQ: randomHash(r)}
	}
	q := Query{Threshold: ListThresholds}
	for _, bc := range []struct {
		name  string
		items []Item
	}{{"pdq-near", near}, {"pdq-far", far}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := m.Match(q, bc.items[i%len(bc.items)], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
