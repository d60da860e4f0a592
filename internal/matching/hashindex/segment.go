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
	// steps gives the probing plan for each distance and cost its expected
	// cost; see greedyPlan and planCost.
	steps []int8
	cost  []float64
}

// maxRows bounds a segment's rows: a table head holds a row number below
// 2^31 - 1 (one value is used while building).
const maxRows = 1<<31 - 1

// A table maps the key of every row, width bits of the permuted hash from
// bit shift of word word, to the rows that have it.
//
// It is a bucket array without a separate offsets array, so that a probe
// usually costs one cache miss: head[k] is emptyHead when no row has key
// k, the row itself when exactly one has (the common case), and
// multiFlag|i when several have, multi[i] being their number and
// multi[i+1:] the rows, ascending. multi[0] is unused, so that emptyHead
// names no list.
type table struct {
	word, shift, width uint8
	mask               uint32
	head               []uint32
	multi              []uint32
	// lambda is the mean bucket size; own the mean number of other rows
	// in a row's bucket, the same for uniform data and more where rows
	// cluster.
	lambda, own float64
}

const (
	multiFlag   = 1 << 31
	emptyHead   = multiFlag
	pendingHead = maxRows // a bucket of one whose row is not yet placed
)

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
			var tmp []uint64
			for {
				t := int(next.Add(1) - 1)
				if t >= m {
					return
				}
				tmp = s.tables[t].build(hashes, tmp)
			}
		})
	}
	wg.Wait()
	widths := make([]int, m)
	lambdas, own := make([]float64, m), make([]float64, m)
	for i := range s.tables {
		widths[i] = int(s.tables[i].width)
		lambdas[i], own[i] = s.tables[i].lambda, s.tables[i].own
	}
	if m > 0 {
		// Radii are shared out by the bucket sizes stored hashes see, so
		// that tables crowded by skewed data are probed less; whether to
		// probe at all is judged on the cost nearer the truth.
		s.steps = greedyPlan(widths, own)
		s.cost = planCost(s.steps, widths, lambdas, own)
	}
	return s
}

// build fills the table. Writing rows straight to their buckets would
// touch the whole table at random for every row; instead rows are first
// partitioned by the high bits of their key (a few thousand sequential
// write streams), then each partition, whose buckets fit in the L1 cache,
// is placed. tmp is scratch space, returned for reuse.
func (t *table) build(hashes []Hash, tmp []uint64) []uint64 {
	n := len(hashes)
	low := min(int(t.width), 10)
	parts := make([]int, 1<<(int(t.width)-low)+1)
	for i := range hashes {
		parts[t.key(&hashes[i])>>low+1]++
	}
	for p := 1; p < len(parts); p++ {
		parts[p] += parts[p-1]
	}
	if cap(tmp) < n {
		tmp = make([]uint64, n)
	}
	ent := tmp[:n] // key<<32 | row, by partition, rows ascending within one
	for i := range hashes {
		k := t.key(&hashes[i])
		p := k >> low
		ent[parts[p]] = uint64(k)<<32 | uint64(i)
		parts[p]++
	}

	head := makeLarge[uint32](1 << t.width)
	for _, e := range ent {
		head[e>>32]++
	}
	size, pairs := 1, 0.0
	for _, c := range head {
		if c > 1 {
			size += int(c) + 1
		}
		pairs += float64(c) * (float64(c) - 1)
	}
	multi := makeLarge[uint32](size)
	pos := uint32(1)
	for k, c := range head {
		switch c {
		case 0:
			head[k] = emptyHead
		case 1:
			head[k] = pendingHead
		default:
			head[k] = multiFlag | pos // multi[pos] counts the rows placed so far
			pos += c + 1
		}
	}
	for _, e := range ent {
		k, r := e>>32, uint32(e)
		if v := head[k]; v == pendingHead {
			head[k] = r
		} else {
			p := v &^ multiFlag
			multi[p+1+multi[p]] = r
			multi[p]++
		}
	}
	t.head, t.multi = head, multi
	t.lambda = float64(n) / float64(len(head))
	if n > 0 {
		t.own = pairs / float64(n)
	}
	return tmp
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
		b += int64(cap(s.tables[i].head)+cap(s.tables[i].multi)) * 4
	}
	return b
}

// batch is the number of probes whose buckets are read together: enough
// for each pass over them to keep many cache misses in flight, few enough
// for the buffers to stay in the L2 cache.
const batch = 4096

// scratch is one search's working memory, pooled.
type scratch struct {
	masks  []uint32
	heads  []uint32 // bucket heads of the batch's probes
	spans  []span
	multis []uint32 // lists among the heads: positions in multi
	mtabs  []uint8  // and their tables
	counts []uint32 // and their lengths
	rows   []uint32 // candidate rows
	tabs   []uint8  // and the tables that found them
	hashes []Hash   // and their hashes
	// candidates counts the rows compared, for measurements.
	candidates int
}

// A span says that the heads before end, from the previous span's end,
// are of table t.
type span struct {
	t   uint8
	end uint32
}

func newScratch() *scratch {
	return &scratch{
		masks:  make([]uint32, batch),
		heads:  make([]uint32, batch),
		multis: make([]uint32, batch),
		mtabs:  make([]uint8, batch),
		counts: make([]uint32, batch),
		hashes: make([]Hash, 2*batch),
		rows:   make([]uint32, 2*batch),
		tabs:   make([]uint8, 2*batch),
	}
}

// search appends the live rows within maxDist (0..256) of the permuted
// query q. It probes the tables unless a scan is expected to be cheaper
// or there are none; probe forces probing whenever there are tables.
//
// Memory latency dominates, so probing works on a batch of probes at a
// time, in passes whose loads do not depend on each other and so overlap,
// and without branches on values loaded in the same pass: bucket heads;
// (in cache) sorting heads into single rows and lists; the lists; the
// candidates' hashes; (in cache) the distances.
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
	t := -1 // the table being probed
	it := maskIter{p: 1}
	for t < m {
		n := 0
		spans := sc.spans[:0]
		for n < batch {
			masks := it.next(sc.masks[:batch-n])
			if len(masks) == 0 {
				for t++; t < m && radius[t] < 0; t++ {
				}
				if t == m {
					break
				}
				it = newMaskIter(int(s.tables[t].width), int(radius[t]))
				continue
			}
			head, key := s.tables[t].head, keys[t]
			heads := sc.heads[n : n+len(masks)]
			for i, mk := range masks {
				heads[i] = head[key^mk]
			}
			n += len(masks)
			spans = append(spans, span{uint8(t), uint32(n)})
		}
		sc.spans = spans
		if n > 0 {
			rows, tabs := s.collect(sc, spans)
			dst = s.verify(q, maxDist, rows, tabs, &radius, &keys, sc, dst)
		}
	}
	return dst
}

// collect returns the rows in the buckets whose heads sc holds, and the
// tables that found them.
func (s *segment) collect(sc *scratch, spans []span) ([]uint32, []uint8) {
	rows, tabs := sc.rows, sc.tabs
	multis, mtabs := sc.multis, sc.mtabs
	nr, nm := 0, 0
	start := uint32(0)
	for _, sp := range spans {
		for _, v := range sc.heads[start:sp.end] {
			rows[nr], tabs[nr] = v, sp.t
			nr += int(^v >> 31)
			multis[nm], mtabs[nm] = v&^multiFlag, sp.t
			x := v ^ emptyHead
			nm += int(v >> 31 & ((x | -x) >> 31)) // a list, not empty
		}
		start = sp.end
	}
	// The lists' counts: one load each, independent. A miss costs the
	// same whatever is read from the line, but each load instruction
	// waiting on a miss takes a slot the processor has few of, so the
	// rows are read next, mostly from cache.
	counts := sc.counts[:nm]
	for i, p := range multis[:nm] {
		counts[i] = s.tables[mtabs[i]].multi[p]
	}
	for i, c := range counts {
		if nr+int(c) > len(rows) {
			rows = slices.Grow(rows[:nr], int(c))
			rows = rows[:cap(rows)]
			tabs = slices.Grow(tabs[:nr], len(rows)-nr)
			tabs = tabs[:len(rows)]
			sc.rows, sc.tabs = rows, tabs
		}
		p, t := multis[i], mtabs[i]
		copy(rows[nr:nr+int(c)], s.tables[t].multi[p+1:p+1+c])
		for j := range tabs[nr : nr+int(c)] {
			tabs[nr+j] = t
		}
		nr += int(c)
	}
	return rows[:nr], tabs[:nr]
}

// verify appends the rows within maxDist of q that are live and reported
// by no earlier table. It copies the candidates' hashes first, a pass of
// independent loads, then compares them in cache.
func (s *segment) verify(q *Hash, maxDist int, rows []uint32, tabs []uint8, radius *[maxTables]int8, keys *[maxTables]uint32, sc *scratch, dst []Match) []Match {
	sc.candidates += len(rows)
	if len(rows) > len(sc.hashes) {
		sc.hashes = make([]Hash, len(rows))
	}
	hs := sc.hashes[:len(rows)]
	all := s.hashes
	for i, r := range rows {
		hs[i] = all[r]
	}
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	for i := range hs {
		h := &hs[i]
		d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
			bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if d <= maxDist {
			dst = s.accept(h, rows[i], d, int(tabs[i]), radius, keys, dst)
		}
	}
	return dst
}

// accept appends row r, found by table t at distance d, unless an earlier
// table's probes also reach it (so each row is reported once) or it was
// removed.
func (s *segment) accept(h *Hash, r uint32, d, t int, radius *[maxTables]int8, keys *[maxTables]uint32, dst []Match) []Match {
	for u := range t {
		if ru := int(radius[u]); ru >= 0 && bits.OnesCount32(keys[u]^s.tables[u].key(h)) <= ru {
			return dst
		}
	}
	if s.isDead(int(r)) {
		return dst
	}
	return append(dst, Match{ID: s.ids[r], Distance: d})
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
