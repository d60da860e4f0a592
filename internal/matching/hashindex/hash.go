package hashindex

import (
	"math/bits"
	"math/rand/v2"
)

// Hash is a 256-bit hash such as PDQ, as four 64-bit words. Bit k is bit
// k%64 of word k/64. The index only needs stored and query hashes to use
// the same layout; pdq.Hash converts with a plain type conversion.
type Hash [4]uint64

// Distance is the Hamming distance: the number of bits in which a and b
// differ.
func Distance(a, b Hash) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// A Match is one stored hash within the searched distance of the query.
type Match struct {
	ID       uint64
	Distance int
}

// The index keeps hashes with their bits moved by one fixed pseudo-random
// permutation and cuts its substrings from contiguous runs of the moved
// bits. A permutation changes no distance, since the query is moved the same
// way, but it spreads runs of correlated or constant bits (which real and
// skewed data have) over all substrings instead of letting them fill a few,
// whose buckets would then hold most of the data.

// spread[j][v] is byte j of a hash, holding value v, with its bits moved.
// Moving a hash is then 32 look-ups into this 256 KiB table.
var spread [32][256]Hash

func init() {
	r := rand.New(rand.NewPCG(0x5741_5244, 0x686173686964)) // fixed: any seed works, it must not vary within a process
	perm := r.Perm(256)
	for j := range 32 {
		for v := range 256 {
			var h Hash
			for k := range 8 {
				if v>>k&1 == 1 {
					p := perm[8*j+k]
					h[p/64] |= 1 << (p % 64)
				}
			}
			spread[j][v] = h
		}
	}
}

// permute moves the bits of h to their places in the index.
func permute(h *Hash) Hash {
	var p Hash
	for w, x := range h {
		for b := range 8 {
			e := &spread[8*w+b][byte(x>>(8*b))]
			p[0] |= e[0]
			p[1] |= e[1]
			p[2] |= e[2]
			p[3] |= e[3]
		}
	}
	return p
}
