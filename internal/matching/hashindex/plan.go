package hashindex

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// The cost model that shapes the tables and the probes, in units of one
// random memory access; tuned on a 2-core AMD EPYC with 10M hashes.
const (
	costProbe = 1.0  // reading one bucket's bounds
	costHit   = 1.0  // reading the rows of one non-empty bucket
	costCand  = 1.0  // loading and comparing one candidate hash
	costScan  = 0.08 // comparing one hash in a sequential scan
)

const (
	minTables  = 11   // at most 24 bits a key, so the bucket bounds of 100M hashes fit in 0.5 GB
	maxTables  = 64   // at least 4 bits a key
	minIndexed = 1024 // below this, a scan beats any table
	// planDist is the distance the table layout is chosen for: the PDQ
	// match threshold.
	planDist = 31
)

// binom[n][k] is n choose k as a float, for key widths up to 32 bits.
var binom [33][33]float64

func init() {
	for n := range binom {
		binom[n][0] = 1
		for k := 1; k <= n; k++ {
			binom[n][k] = binom[n-1][k-1] + binom[n-1][k]
		}
	}
}

// probeCost is the expected cost of probing one bucket of a table whose
// buckets hold lambda rows on average.
func probeCost(lambda float64) float64 {
	return costProbe + costHit*(1-math.Exp(-lambda)) + costCand*lambda
}

// greedyPlan returns the order in which probing radii grow for distances
// 0..256: step i raises the radius of table steps[i] by one, so the plan for
// distance d is the first d+1 steps, which gives sum(radius+1) = d+1 over the
// tables (a table with radius -1 is not probed). lambdas[t] is the expected
// size of the buckets probed in table t.
//
// Each step takes the table whose next ring of keys is cheapest. The cost of
// a ring, C(bits, r) keys, grows with r up to bits/2, so for every distance
// the index serves by probing (beyond that a scan is cheaper) this is the
// cheapest plan of the given size.
func greedyPlan(widths []int, lambdas []float64) []int8 {
	radius := make([]int, len(widths))
	for i := range radius {
		radius[i] = -1
	}
	steps := make([]int8, 0, 257)
	for range 257 {
		best, bestCost := -1, math.Inf(1)
		for t, w := range widths {
			next := radius[t] + 1
			if next > w {
				continue
			}
			if c := binom[w][next] * probeCost(lambdas[t]); c < bestCost {
				best, bestCost = t, c
			}
		}
		radius[best]++
		steps = append(steps, int8(best))
	}
	return steps
}

// planCost returns the expected cost of the plans given by steps, for
// each distance. lambdas[t] is the mean bucket size of table t and own[t]
// the mean number of other rows in a stored row's bucket: the same for
// uniform data, much more where hashes cluster. A query near stored data
// finds the cluster under its own key, but mostly not in the rings around,
// so only its own key is costed at own.
func planCost(steps []int8, widths []int, lambdas, own []float64) []float64 {
	radius := make([]int, len(widths))
	for i := range radius {
		radius[i] = -1
	}
	cost := make([]float64, len(steps))
	total := 0.0
	for d, t := range steps {
		radius[t]++
		total += binom[widths[t]][radius[t]] * probeCost(lambdas[t])
		if radius[t] == 0 {
			total += costCand * max(0, own[t]-lambdas[t])
		}
		cost[d] = total
	}
	return cost
}

// segmentWidths cuts 256 bits into m keys of near-equal width.
func segmentWidths(m int) []int {
	w := make([]int, m)
	for i := range w {
		w[i] = 256 / m
		if i < 256%m {
			w[i]++
		}
	}
	return w
}

// chooseTables picks the number of tables for n hashes: the one with the
// cheapest expected search at the PDQ threshold, among those whose buckets
// are not more than four times as many as the hashes on average (more
// would spend memory on empty buckets for little gain). It returns 0 when n
// is too small for tables to pay.
func chooseTables(n int) int {
	if n < minIndexed {
		return 0
	}
	bestM, bestCost := 0, math.Inf(1)
	for m := minTables; m <= maxTables; m++ {
		if 256/float64(m) > math.Log2(float64(n))+2 {
			continue
		}
		widths := segmentWidths(m)
		lambdas := make([]float64, m)
		for i, w := range widths {
			lambdas[i] = float64(n) / float64(uint64(1)<<w)
		}
		cost := planCost(greedyPlan(widths, lambdas), widths, lambdas, lambdas)
		if cost[planDist] < bestCost {
			bestM, bestCost = m, cost[planDist]
		}
	}
	return bestM
}

// maskList holds, for one key width and each radius r up to cachedRadius,
// every mask with at most r bits set. A list is ordered by the mask's bits
// above the lowest four, so that probes falling in one 64-byte line of
// bucket heads (16 keys) come one after the other and miss the cache once.
type maskList [cachedRadius + 1][]uint32

const cachedRadius = 3 // 2,626 masks for 24 bits

var (
	maskOnce  [33]sync.Once
	maskLists [33]maskList
)

func cachedMasks(width int) *maskList {
	maskOnce[width].Do(func() {
		l := &maskLists[width]
		var all []uint32
		for r := 0; r <= cachedRadius; r++ {
			it := maskIter{p: r, maxP: r, limit: 1 << width}
			it.m = 1<<r - 1
			buf := make([]uint32, 1024)
			for {
				got := it.next(buf)
				if len(got) == 0 {
					break
				}
				all = append(all, got...)
			}
			l[r] = slices.Clone(all)
			slices.SortFunc(l[r], func(a, b uint32) int { return cmp.Or(cmp.Compare(a>>4, b>>4), cmp.Compare(a, b)) })
		}
	})
	return &maskLists[width]
}

// maskIter yields every mask of width bits with at most maxP bits set, by
// number of bits set: first from the cached list, then by Gosper's hack.
type maskIter struct {
	list  []uint32 // cached masks not yet given
	p     int      // bits set in the masks being generated
	maxP  int
	m     uint64 // next mask to give, if below limit
	limit uint64 // 1 << width
}

func newMaskIter(width, radius int) maskIter {
	it := maskIter{list: cachedMasks(width)[min(radius, cachedRadius)], p: cachedRadius + 1, maxP: radius, limit: 1 << width}
	it.m = 1<<it.p - 1
	return it
}

// next returns the next masks, at most len(buf) of them, in buf or in the
// cached list; none when all were given.
func (it *maskIter) next(buf []uint32) []uint32 {
	if len(it.list) > 0 {
		n := min(len(it.list), len(buf))
		got := it.list[:n]
		it.list = it.list[n:]
		return got
	}
	n := 0
	for n < len(buf) && it.p <= it.maxP {
		if it.m >= it.limit {
			it.p++
			it.m = 1<<it.p - 1
			continue
		}
		buf[n] = uint32(it.m)
		n++
		if it.m == 0 { // the one mask with no bit set
			it.p++
			it.m = 1
			continue
		}
		c := it.m & -it.m
		r := it.m + c
		it.m = (r^it.m)>>2>>bits.TrailingZeros64(c) | r
	}
	return buf[:n]
}
