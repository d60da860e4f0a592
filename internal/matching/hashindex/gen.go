package hashindex

import (
	"fmt"
	"math/rand/v2"
)

// Synthetic hash sets for tests and benchmarks. Real PDQ sets are not
// uniform: copies of one picture form families of near-duplicates, and
// pictures with large flat or repeated areas share many hash bits.
const (
	// Uniform hashes are independent random bits.
	Uniform = "uniform"
	// Clustered hashes come in families around a random centre, each member
	// 0 to 20 bits from it; family sizes follow a Pareto law (most alone or
	// in small families, some of hundreds, at most 1000).
	Clustered = "clustered"
	// Skewed hashes: half are random, half follow one of 16 templates (the
	// first far more often than the rest, weights 1/k) that fix 2 to 4 runs
	// of 12 to 32 identical bits, 64 on average, so many hashes share long
	// runs and the substrings they cover have low entropy.
	Skewed = "skewed"
)

// DataKinds lists the synthetic sets by name.
var DataKinds = []string{Uniform, Clustered, Skewed}

// A generator draws hashes of one kind, deterministically from its seed.
type generator struct {
	kind string
	r    *rand.Rand
	// clustered: the current family's centre and how many members remain.
	centre Hash
	left   int
	// skewed: the templates and the cumulative weights for choosing one.
	fixed, value []Hash
	weight       []float64
}

func newGenerator(kind string, seed int64) (*generator, error) {
	g := &generator{kind: kind, r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
	switch kind {
	case Uniform, Clustered:
	case Skewed:
		total := 0.0
		for k := range 16 {
			var fixed Hash
			for range 2 + g.r.IntN(3) {
				length := 12 + g.r.IntN(21)
				start := g.r.IntN(256 - length)
				for b := start; b < start+length; b++ {
					fixed[b/64] |= 1 << (b % 64)
				}
			}
			g.fixed = append(g.fixed, fixed)
			g.value = append(g.value, g.random())
			total += 1 / float64(k+1)
			g.weight = append(g.weight, total)
		}
		for k := range g.weight {
			g.weight[k] /= total
		}
	default:
		return nil, fmt.Errorf("unknown data %q (have uniform, clustered, skewed)", kind)
	}
	return g, nil
}

func (g *generator) random() Hash {
	return Hash{g.r.Uint64(), g.r.Uint64(), g.r.Uint64(), g.r.Uint64()}
}

// next draws one hash.
func (g *generator) next() Hash {
	switch g.kind {
	case Clustered:
		if g.left == 0 {
			g.centre = g.random()
			g.left = min(1000, int(1/(1-g.r.Float64())))
		}
		g.left--
		return flip(g.r, g.centre, g.r.IntN(21))
	case Skewed:
		h := g.random()
		if g.r.IntN(2) == 0 {
			return h
		}
		u := g.r.Float64()
		k := 0
		for k < len(g.weight)-1 && g.weight[k] < u {
			k++
		}
		for w := range h {
			h[w] = h[w]&^g.fixed[k][w] | g.value[k][w]&g.fixed[k][w]
		}
		return h
	}
	return g.random()
}

// flip returns h with k distinct random bits inverted.
func flip(r *rand.Rand, h Hash, k int) Hash {
	var done Hash
	for k > 0 {
		b := r.IntN(256)
		if done[b/64]>>(b%64)&1 == 0 {
			done[b/64] |= 1 << (b % 64)
			h[b/64] ^= 1 << (b % 64)
			k--
		}
	}
	return h
}

// genHashes draws n hashes of a kind.
func genHashes(kind string, n int, seed int64) ([]Hash, error) {
	g, err := newGenerator(kind, seed)
	if err != nil {
		return nil, err
	}
	hs := make([]Hash, n)
	for i := range hs {
		hs[i] = g.next()
	}
	return hs, nil
}
