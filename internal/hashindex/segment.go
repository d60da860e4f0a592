package hashindex

import (
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// A segment is the immutable bulk of an index: rows of (id, hash) sorted by
// id, and one substring table per key. Only its tombstones change, by atomic
// bit sets, so searches never wait for a writer.
type segment struct {
	ids    []uint64 // ascending, unique; row r holds ids[r]
	hashes []Hash   // row r's hash, permuted
	dead   []atomic.Uint64
	ndead  atomic.Int64
	tables []table
	// steps and cost give the probing plan for each distance; see greedyPlan.
	steps []int8
	cost  []float64
}

// A table maps the key of every row, width bits of the permuted hash from
// bit shift of word word, to the rows that have it, in CSR form.
type table struct {
	word, shift, width uint8
	mask               uint32
	// offsets[k]..offsets[k+1] are the positions in postings of the rows
	// with key k, in ascending row order.
	offsets  []uint32
	postings []uint32
	// lambda is the mean number of other rows in a row's bucket: the
	// expected candidates from probing one key near a stored hash.
	lambda float64
}

func (t *table) key(h *Hash) uint32 {
	v := h[t.word] >> t.shift
	if t.word < 3 {
		v |= h[t.word+1] << (64 - t.shift) // a shift by 64 gives 0
	}
	return uint32(v) & t.mask
}

// newSegment indexes rows already sorted by unique id, with permuted
// hashes, building its tables on up to workers goroutines. The segment
// takes ownership of both slices.
func newSegment(ids []uint64, hashes []Hash, workers int) *segment {
	return newSegmentTables(ids, hashes, workers, chooseTables(len(ids)))
}

// newSegmentTables is newSegment with m tables.
func newSegmentTables(ids []uint64, hashes []Hash, workers, m int) *segment {
	s := &segment{ids: ids, hashes: hashes, dead: make([]atomic.Uint64, (len(ids)+63)/64)}
	s.tables = make([]table, m)
	pos := 0
	for i, w := range segmentWidths(m) {
		s.tables[i] = table{word: uint8(pos / 64), shift: uint8(pos % 64), width: uint8(w), mask: 1<<w - 1}
		pos += w
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, m)) {
		wg.Go(func() {
			for {
				t := int(next.Add(1) - 1)
				if t >= m {
					return
				}
				s.tables[t].build(hashes)
			}
		})
	}
	wg.Wait()
	widths := make([]int, m)
	lambdas := make([]float64, m)
	for i := range s.tables {
		widths[i] = int(s.tables[i].width)
		lambdas[i] = s.tables[i].lambda
	}
	if m > 0 {
		s.steps, s.cost = greedyPlan(widths, lambdas)
	}
	return s
}

// build fills the table by a counting sort of the rows by key.
func (t *table) build(hashes []Hash) {
	size := 1 << t.width
	off := makeLarge[uint32](size + 1)
	for i := range hashes {
		off[t.key(&hashes[i])]++
	}
	// Turn counts into bucket ends, then fill each bucket from its end
	// backwards, which leaves offsets[k] at the bucket's start.
	var sum uint32
	pairs := 0.0
	for k, c := range off[:size] {
		pairs += float64(c) * (float64(c) - 1)
		sum += c
		off[k] = sum
	}
	off[size] = sum
	post := makeLarge[uint32](len(hashes))
	for i := len(hashes) - 1; i >= 0; i-- {
		k := t.key(&hashes[i])
		off[k]--
		post[off[k]] = uint32(i)
	}
	t.offsets, t.postings = off, post
	if len(hashes) > 0 {
		t.lambda = pairs / float64(len(hashes))
	}
}

// row returns the row of id, if the segment has it.
func (s *segment) row(id uint64) (int, bool) {
	return slices.BinarySearch(s.ids, id)
}

func (s *segment) isDead(r int) bool { return s.dead[r/64].Load()>>(r%64)&1 == 1 }

// kill marks row r removed; it reports whether it was live.
func (s *segment) kill(r int) bool {
	bit := uint64(1) << (r % 64)
	if s.dead[r/64].Or(bit)&bit != 0 {
		return false
	}
	s.ndead.Add(1)
	return true
}

func (s *segment) live() int { return len(s.ids) - int(s.ndead.Load()) }

func (s *segment) memBytes() int64 {
	b := int64(cap(s.ids))*8 + int64(cap(s.hashes))*32 + int64(cap(s.dead))*8
	for i := range s.tables {
		b += int64(cap(s.tables[i].offsets)+cap(s.tables[i].postings)) * 4
	}
	return b
}

// The probes of one table are handled a chunk at a time.
const chunk = 512

// scratch is one search's working memory, pooled.
type scratch struct {
	masks  []uint32
	bounds [][2]uint32
	cand   []uint32
	// candidates counts the rows compared, for measurements.
	candidates int
}

func newScratch() *scratch {
	return &scratch{masks: make([]uint32, chunk), bounds: make([][2]uint32, chunk), cand: make([]uint32, 0, 4*chunk)}
}

// search appends the live rows within maxDist (0..256) of the permuted
// query q. It probes the tables unless a scan is expected to be cheaper
// or there are none; probe forces probing whenever there are tables.
func (s *segment) search(q *Hash, maxDist int, sc *scratch, dst []Match, probe bool) []Match {
	if len(s.ids) == 0 {
		return dst
	}
	if len(s.tables) == 0 || !probe && s.cost[maxDist] > costScan*float64(len(s.ids)) {
		return s.scan(q, maxDist, dst, sc)
	}
	m := len(s.tables)
	var radius [maxTables]int8
	for t := range m {
		radius[t] = -1
	}
	for _, t := range s.steps[:maxDist+1] {
		radius[t]++
	}
	var keys [maxTables]uint32
	for t := range m {
		keys[t] = s.tables[t].key(q)
	}
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	for t := range m {
		if radius[t] < 0 {
			continue
		}
		tb := &s.tables[t]
		off, post, key := tb.offsets, tb.postings, keys[t]
		it := newMaskIter(int(tb.width), int(radius[t]))
		for {
			masks := it.next(sc.masks)
			if len(masks) == 0 {
				break
			}
			// Three passes over the chunk: bucket bounds, then rows, then
			// hashes. The loads within a pass do not depend on each other,
			// so the processor overlaps their cache misses.
			bounds := sc.bounds[:len(masks)]
			for i, mk := range masks {
				k := key ^ mk
				bounds[i] = [2]uint32{off[k], off[k+1]}
			}
			cand := sc.cand[:0]
			for _, b := range bounds {
				for _, r := range post[b[0]:b[1]] {
					cand = append(cand, r)
				}
			}
			sc.cand = cand
			sc.candidates += len(cand)
			for _, r := range cand {
				h := &s.hashes[r]
				d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
					bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
				if d <= maxDist && s.firstFind(h, t, &radius, &keys) && !s.isDead(int(r)) {
					dst = append(dst, Match{ID: s.ids[r], Distance: d})
				}
			}
		}
	}
	return dst
}

// firstFind reports whether table t is the first table whose probes reach
// hash h, so that a row found by several tables is reported once.
func (s *segment) firstFind(h *Hash, t int, radius *[maxTables]int8, keys *[maxTables]uint32) bool {
	for u := range t {
		if r := int(radius[u]); r >= 0 && bits.OnesCount32(keys[u]^s.tables[u].key(h)) <= r {
			return false
		}
	}
	return true
}

// scan compares q with every row.
func (s *segment) scan(q *Hash, maxDist int, dst []Match, sc *scratch) []Match {
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	sc.candidates += len(s.hashes)
	for r := range s.hashes {
		h := &s.hashes[r]
		d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
			bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if d <= maxDist && !s.isDead(r) {
			dst = append(dst, Match{ID: s.ids[r], Distance: d})
		}
	}
	return dst
}
