package hashindex

import (
	"cmp"
	"math/bits"
	"slices"
	"sync"
)

// Brute compares the query with every stored hash. It is the oracle the
// index is tested against and the baseline it is measured against, so it
// is kept as plain as possible.
type Brute struct {
	ids    []uint64
	hashes []Hash
}

// NewBrute stores hashes[i] under ids[i]; it keeps the slices, which the
// caller must not change afterwards.
func NewBrute(ids []uint64, hashes []Hash) *Brute {
	if len(ids) != len(hashes) {
		panic("hashindex: NewBrute with different numbers of ids and hashes")
	}
	return &Brute{ids: ids, hashes: hashes}
}

// Len returns the number of stored hashes.
func (b *Brute) Len() int { return len(b.ids) }

// Search appends every stored hash within maxDist of q, ordered like
// Index.Search.
func (b *Brute) Search(q Hash, maxDist int, dst []Match) []Match {
	start := len(dst)
	dst = b.scan(q, maxDist, 0, len(b.hashes), dst)
	sortMatches(dst[start:])
	return dst
}

// SearchParallel is Search split over workers goroutines.
func (b *Brute) SearchParallel(q Hash, maxDist, workers int, dst []Match) []Match {
	workers = max(1, workers)
	parts := make([][]Match, workers)
	var wg sync.WaitGroup
	n := len(b.hashes)
	for w := range workers {
		wg.Go(func() { parts[w] = b.scan(q, maxDist, n*w/workers, n*(w+1)/workers, nil) })
	}
	wg.Wait()
	start := len(dst)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	sortMatches(dst[start:])
	return dst
}

func (b *Brute) scan(q Hash, maxDist, lo, hi int, dst []Match) []Match {
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	hs := b.hashes[lo:hi]
	for i := range hs {
		h := &hs[i]
		d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
			bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if d <= maxDist {
			dst = append(dst, Match{ID: b.ids[lo+i], Distance: d})
		}
	}
	return dst
}

func sortMatches(m []Match) {
	slices.SortFunc(m, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(a.ID, b.ID))
	})
}
