package hashindex

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

var thresholds = []int{0, 1, 8, 31, 32, 40, 64, 100, 128, 200, 256, 300}

// testSet is a stored set with queries: near-duplicates of stored hashes
// at 0..40 bits, and fresh draws from the same distribution.
func testSet(t testing.TB, kind string, n, queries int, seed int64) (ids []uint64, hashes, qs []Hash) {
	t.Helper()
	hashes, err := genHashes(kind, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	ids = make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)*7 + 3
	}
	g, _ := newGenerator(kind, seed+1)
	r := rand.New(rand.NewPCG(uint64(seed), 2))
	for i := range queries {
		if i%2 == 0 {
			qs = append(qs, flip(r, hashes[r.IntN(n)], r.IntN(41)))
		} else {
			qs = append(qs, g.next())
		}
	}
	return ids, hashes, qs
}

// checkSearch compares the index with the brute-force oracle on every
// query and threshold.
func checkSearch(t *testing.T, x *Index, b *Brute, qs []Hash, thresholds []int) {
	t.Helper()
	var got, want []Match
	for _, d := range thresholds {
		total := 0
		for i, q := range qs {
			got = x.Search(q, d, got[:0])
			want = b.Search(q, d, want[:0])
			total += len(want)
			if !slices.Equal(got, want) {
				t.Fatalf("query %d, distance %d: index found %d matches, brute force %d\nindex: %v\nbrute: %v",
					i, d, len(got), len(want), head(got), head(want))
			}
		}
		t.Logf("distance %3d: %d matches over %d queries", d, total, len(qs))
	}
}

func head(m []Match) []Match { return m[:min(len(m), 10)] }

func TestSearchMatchesBrute(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		n       int
		tables  int // 0: as chosen for n
		queries int
		// probeMax is the largest threshold tested with probing forced:
		// beyond it, probing reads most of the tables, which takes long.
		probeMax int
	}{
		{Uniform, 20000, 0, 60, 128},
		{Clustered, 20000, 0, 60, 128},
		{Skewed, 20000, 0, 60, 128},
		{Uniform, 20000, 11, 30, 64}, // the layout used for 10M hashes
		{Skewed, 20000, 11, 30, 64},
		{Uniform, 500, 0, 40, 0}, // too few for tables
	} {
		for _, probe := range []bool{false, true} {
			name := fmt.Sprintf("%s/n=%d/tables=%d/probe=%v", tc.kind, tc.n, tc.tables, probe)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				queries := tc.queries
				if raceEnabled {
					queries = 4
				}
				ids, hashes, qs := testSet(t, tc.kind, tc.n, queries, int64(tc.n))
				x := buildTables(ids, hashes, tc.tables)
				x.probe = probe
				ds := thresholds
				if probe {
					ds = slices.DeleteFunc(slices.Clone(ds), func(d int) bool { return d > tc.probeMax })
				}
				checkSearch(t, x, NewBrute(ids, hashes), qs, ds)
			})
		}
	}
}

// buildTables is Build with the number of tables forced, when m > 0.
func buildTables(ids []uint64, hashes []Hash, m int) *Index {
	if m == 0 {
		return Build(ids, hashes)
	}
	ps := make([]Hash, len(hashes))
	for i := range hashes {
		ps[i] = permute(&hashes[i])
	}
	return newIndex(newSegmentTables(slices.Clone(ids), ps, 2, m))
}

func TestDuplicates(t *testing.T) {
	h := Hash{1, 2, 3, 4}
	near := h
	near[0] ^= 0b111
	// Same hash under many ids; one id given twice, the last hash winning.
	ids := []uint64{9, 3, 5, 7, 5}
	hashes := []Hash{h, h, Hash{5, 5, 5, 5}, near, h}
	x := Build(ids, hashes)
	if x.Len() != 4 {
		t.Errorf("Len = %d, want 4", x.Len())
	}
	got := x.Search(h, 3, nil)
	want := []Match{{3, 0}, {5, 0}, {9, 0}, {7, 3}}
	if !slices.Equal(got, want) {
		t.Errorf("Search = %v, want %v", got, want)
	}
	// dst is appended to, not overwritten.
	got = x.Search(h, 0, []Match{{100, 100}})
	if want := []Match{{100, 100}, {3, 0}, {5, 0}, {9, 0}}; !slices.Equal(got, want) {
		t.Errorf("Search with dst = %v, want %v", got, want)
	}
	if got := x.Search(h, -1, nil); len(got) != 0 {
		t.Errorf("Search at distance -1 = %v, want none", got)
	}
}

func TestBuildUnsortedIDs(t *testing.T) {
	const n = 30000
	r := rand.New(rand.NewPCG(1, 1))
	hashes, _ := genHashes(Uniform, n, 5)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = r.Uint64() >> r.IntN(64) // spread over all digits, some repeated
	}
	x := Build(ids, hashes)
	last := map[uint64]Hash{}
	for i, id := range ids {
		last[id] = hashes[i]
	}
	if x.Len() != len(last) {
		t.Fatalf("Len = %d, want %d", x.Len(), len(last))
	}
	var bids []uint64
	var bh []Hash
	for id, h := range last {
		bids = append(bids, id)
		bh = append(bh, h)
	}
	checkSearch(t, x, NewBrute(bids, bh), hashes[:50], []int{0, 31})
}

func TestOrderByID(t *testing.T) {
	for _, ids := range [][]uint64{
		nil, {1}, {1, 2, 3}, {3, 2, 1}, {5, 5, 5}, {1 << 63, 1, 1 << 40, 1<<40 + 1, 0, 1 << 63},
	} {
		order := orderByID(ids)
		var got []uint64
		if order == nil {
			got = slices.Clone(ids)
		}
		for _, i := range order {
			got = append(got, ids[i])
		}
		want := slices.Compact(slices.Sorted(slices.Values(ids)))
		if !slices.Equal(got, want) {
			t.Errorf("orderByID(%v) gives %v, want %v", ids, got, want)
		}
	}
}

func TestPermuteKeepsDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 1000 {
		a := Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
		b := flip(r, a, r.IntN(257))
		pa, pb := permute(&a), permute(&b)
		if Distance(a, b) != Distance(pa, pb) {
			t.Fatalf("permute changed a distance from %d to %d", Distance(a, b), Distance(pa, pb))
		}
	}
	// Each bit moves to a different place.
	seen := Hash{}
	for k := range 256 {
		var h Hash
		h[k/64] = 1 << (k % 64)
		p := permute(&h)
		if Distance(p, Hash{}) != 1 || Distance(p, seen)-Distance(seen, Hash{}) != 1 {
			t.Fatalf("bit %d is not moved to a new single bit", k)
		}
		for w := range seen {
			seen[w] |= p[w]
		}
	}
}

func TestMaskIter(t *testing.T) {
	for _, width := range []int{1, 3, 4, 9, 16} {
		for radius := 0; radius <= width; radius++ {
			it := newMaskIter(width, radius)
			buf := make([]uint32, 100)
			seen := map[uint32]bool{}
			for {
				ms := it.next(buf)
				if len(ms) == 0 {
					break
				}
				for _, m := range ms {
					if seen[m] || m >= 1<<width || bits.OnesCount32(m) > radius {
						t.Fatalf("width %d radius %d: bad or repeated mask %b", width, radius, m)
					}
					seen[m] = true
				}
			}
			want := 0
			for k := 0; k <= radius; k++ {
				want += int(binom[width][k])
			}
			if len(seen) != want {
				t.Fatalf("width %d radius %d: %d masks, want %d", width, radius, len(seen), want)
			}
		}
	}
}

// model is the expected content of an index under updates.
type model map[uint64]Hash

func (m model) brute() *Brute {
	var ids []uint64
	var hs []Hash
	for id, h := range m {
		ids = append(ids, id)
		hs = append(hs, h)
	}
	return NewBrute(ids, hs)
}

func TestAddRemove(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   int
		mergeAt int
	}{
		{"empty/no merges", 0, 1 << 30},
		{"empty/merging", 0, 300},
		{"built/merging", 5000, 500},
		{"built/merging often", 3000, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(7, uint64(tc.start)))
			ids, hashes, _ := testSet(t, Clustered, tc.start, 0, 11)
			m := model{}
			for i, id := range ids {
				m[id] = hashes[i]
			}
			x := Build(ids, hashes)
			x.mergeAt = tc.mergeAt
			pool := slices.Clone(hashes)
			for round := range 12 {
				for range 400 {
					id := uint64(r.IntN(tc.start + 2000))
					switch r.IntN(4) {
					case 0:
						x.Remove(id)
						delete(m, id)
					default:
						h := Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
						if len(pool) > 0 && r.IntN(2) == 0 {
							h = flip(r, pool[r.IntN(len(pool))], r.IntN(10))
						}
						pool = append(pool, h)
						x.Add(id, h)
						m[id] = h
						if got := x.Search(h, 0, nil); !slices.Contains(got, Match{id, 0}) {
							t.Fatalf("Search right after Add(%d) = %v", id, got)
						}
					}
				}
				if round%4 == 3 {
					x.Compact()
				}
				if x.Len() != len(m) {
					t.Fatalf("round %d: Len = %d, want %d", round, x.Len(), len(m))
				}
				var qs []Hash
				for range 30 {
					qs = append(qs, flip(r, pool[r.IntN(len(pool))], r.IntN(30)))
				}
				checkSearch(t, x, m.brute(), qs, []int{0, 8, 31, 64})
			}
		})
	}
}

func TestRemoveUnknownAndReAdd(t *testing.T) {
	h := Hash{7, 7, 7, 7}
	x := Build([]uint64{1, 2}, []Hash{h, h})
	x.Remove(99)
	x.Remove(1)
	x.Remove(1)
	if got := x.Search(h, 0, nil); !slices.Equal(got, []Match{{2, 0}}) {
		t.Fatalf("after Remove(1): %v", got)
	}
	x.Add(1, h)
	if got := x.Search(h, 0, nil); !slices.Equal(got, []Match{{1, 0}, {2, 0}}) {
		t.Fatalf("after Add(1): %v", got)
	}
	x.Compact()
	x.Remove(2)
	x.Add(3, Hash{1})
	x.Compact()
	if got := x.Search(h, 0, nil); !slices.Equal(got, []Match{{1, 0}}) || x.Len() != 2 {
		t.Fatalf("after Compact: %v, Len %d", got, x.Len())
	}
	e := New()
	if got := e.Search(h, 256, nil); len(got) != 0 || e.Len() != 0 {
		t.Fatalf("empty index: %v", got)
	}
}

// TestConcurrent runs searches against a writer that adds, replaces and
// removes hashes, with merges running often. Each id has a fixed hash, so
// any match a reader sees must carry that hash's distance; the writer
// checks that its own changes are visible as soon as they return.
func TestConcurrent(t *testing.T) {
	const ids = 3000
	hashOf := func(id uint64) Hash {
		r := rand.New(rand.NewPCG(id, 99))
		return Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	}
	all := make([]uint64, ids/2)
	hs := make([]Hash, ids/2)
	for i := range all {
		all[i] = uint64(i)
		hs[i] = hashOf(uint64(i))
	}
	x := Build(all, hs)
	x.mergeAt = 200
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range max(2, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 5))
			var got []Match
			for !stop.Load() {
				q := flip(r, hashOf(uint64(r.IntN(ids))), r.IntN(20))
				got = x.Search(q, 40, got[:0])
				for _, m := range got {
					if d := Distance(q, hashOf(m.ID)); d != m.Distance {
						t.Errorf("match %d at distance %d, its hash is at %d", m.ID, m.Distance, d)
						return
					}
				}
			}
		})
	}
	r := rand.New(rand.NewPCG(8, 8))
	for range 20000 {
		id := uint64(r.IntN(ids))
		h := hashOf(id)
		if r.IntN(3) == 0 {
			x.Remove(id)
			if got := x.Search(h, 0, nil); slices.Contains(got, Match{id, 0}) {
				t.Fatalf("id %d found after Remove", id)
			}
		} else {
			x.Add(id, h)
			if got := x.Search(h, 0, nil); !slices.Contains(got, Match{id, 0}) {
				t.Fatalf("id %d not found after Add", id)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	x.Compact()
}

func TestMemBytes(t *testing.T) {
	ids, hashes, _ := testSet(t, Uniform, 100000, 0, 1)
	x := Build(ids, hashes)
	// Rows cost 40 bytes and a posting 4 bytes a table; buckets come on top.
	if got, min := x.MemBytes(), int64(100000*(40+4*11)); got < min || got > 4*min {
		t.Errorf("MemBytes = %d for 100k hashes, want about %d", got, min)
	}
}

func BenchmarkSearch(b *testing.B) {
	for _, kind := range DataKinds {
		b.Run(kind, func(b *testing.B) {
			ids, hashes, qs := testSet(b, kind, 1<<20, 1000, 1)
			x := Build(ids, hashes)
			b.ResetTimer()
			var got []Match
			candidates := 0
			for i := 0; b.Loop(); i++ {
				var c int
				got, c = x.search(qs[i%len(qs)], 31, got[:0])
				candidates += c
			}
			b.ReportMetric(float64(candidates)/float64(b.N), "candidates/op")
		})
	}
}

func BenchmarkBruteSearch(b *testing.B) {
	ids, hashes, qs := testSet(b, Uniform, 1<<20, 100, 1)
	x := NewBrute(ids, hashes)
	var got []Match
	for i := 0; b.Loop(); i++ {
		got = x.Search(qs[i%len(qs)], 31, got[:0])
	}
}

func BenchmarkBuild(b *testing.B) {
	ids, hashes, _ := testSet(b, Uniform, 1<<20, 0, 1)
	for b.Loop() {
		Build(ids, hashes)
	}
}

// TestDegenerate stores hashes with almost no entropy: most buckets are
// empty and a few hold nearly everything, with many exact duplicates.
func TestDegenerate(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const n = 20000
	ids := make([]uint64, n)
	hashes := make([]Hash, n)
	base := Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	for i := range hashes {
		ids[i] = uint64(i)
		hashes[i] = flip(r, base, r.IntN(6))
	}
	qs := []Hash{base, flip(r, base, 3), flip(r, base, 40), {}}
	for _, probe := range []bool{false, true} {
		x := Build(ids, hashes)
		x.probe = probe
		checkSearch(t, x, NewBrute(ids, hashes), qs, []int{0, 2, 8, 31})
	}
}

// TestClusteredProbes checks that families of near-duplicates, whose
// buckets are large, do not make the planner give up probing for a scan.
func TestClusteredProbes(t *testing.T) {
	ids, hashes, _ := testSet(t, Clustered, 200000, 0, 9)
	x := Build(ids, hashes)
	r := rand.New(rand.NewPCG(9, 9))
	total := 0
	for range 200 {
		_, c := x.search(flip(r, hashes[r.IntN(len(hashes))], 8+r.IntN(13)), 31, nil)
		total += c
	}
	if mean := total / 200; mean > len(hashes)/10 {
		t.Errorf("%d hashes compared per query of %d", mean, len(hashes))
	}
}
