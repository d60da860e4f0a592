// Package hashindex finds every stored 256-bit hash (PDQ) within a Hamming
// distance of a query, exactly, and keeps exact sets of MD5 and SHA-256
// digests.
//
// # Method
//
// The index is multi-index hashing (MIH): M. Norouzi, A. Punjani and
// D. J. Fleet, "Fast Search in Hamming Space with Multi-Index Hashing",
// CVPR 2012. The 256 bits (after one fixed bit permutation, which changes
// no distance) are cut into m disjoint substrings of near-equal width, m = 11
// for 10M hashes (widths 23 and 24). Table i maps each substring value to
// the rows holding it. A search for distance d probes, in each table i,
// every key within Hamming radius r_i of the query's substring, then checks
// the full distance of each row found.
//
// Exactness: the radii are chosen so that sum(r_i + 1) >= d + 1 (r_i = -1
// leaves a table unprobed). Substring distances add up to the full
// distance, so a hash within d of the query cannot differ by at least
// r_i + 1 bits in every substring: at least one substring is within r_i, and
// that table's probes find it. This is the generalised pigeonhole principle;
// for d = 31 and 11 tables, typically radius 2 in ten tables and 1 in one. Every row
// found is verified by its full distance, so there are no false matches
// either, and a row found by several tables is reported by the first only.
// Radii are handed out greedily by expected cost (bucket probes and
// candidates, from the real bucket sizes), and when probing is expected to
// cost more than comparing every hash, as for large distances, the search
// scans instead, which is exact too.
//
// # Cost
//
// On a 2-core AMD EPYC (KVM) with 10M uniform hashes and distance 31 a
// search makes about 2,900 probes and compares about 2,900 candidates; it
// is bound by memory latency (about 190 ns a cache miss there), so the
// search is written as passes of independent loads, and the big arrays
// are backed by 2 MiB pages where Linux allows. The index takes about
// 126 bytes a hash at 10M (1.26 GB) and 94 at 100M (9.4 GB).
//
// # Updates
//
// The bulk of an index is an immutable segment: rows sorted by id, a flat
// array of hashes, and per table a flat bucket array of 2^width uint32
// heads, each naming the bucket's single row or a list of rows in a second
// flat array (see table). Additions go to a small append-only delta that
// every search scans; removals set a tombstone bit. When the delta grows
// past a threshold, a background merge builds a new segment from the live
// rows and swaps it in atomically, so searches never wait and see every
// Add and Remove as soon as it returns. Until the swap both segments are
// held: a merge briefly needs the index's memory twice.
package hashindex

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// defaultMergeAt is the delta size at which a merge starts. Scanning the
// delta costs a search a few ns a hash; merging 10M hashes takes several
// seconds of one core.
const defaultMergeAt = 16384

// An Index finds stored hashes near a query; make one with New or Build.
// Search may run concurrently with everything else; Add and Remove are
// serialised. Each id has at most one hash: adding an id again replaces
// its hash.
type Index struct {
	state atomic.Pointer[state]
	live  atomic.Int64

	mu sync.Mutex // serialises Add, Remove and the start and end of merges
	// merged is non-nil while a merge runs, and closed when it ends.
	merged chan struct{}
	// removed lists the ids removed from the merge's inputs while it runs,
	// to remove again from its result.
	removed []uint64

	mergeAt      int  // delta size that starts a merge
	mergeWorkers int  // goroutines of a background merge
	probe        bool // never scan in place of probing (tests)

	scratch sync.Pool
}

// state is what a search reads: one segment and one or two deltas.
type state struct {
	base   *segment
	frozen *delta // the delta being merged into the next base, or nil
	active *delta
}

// New returns an empty index.
func New() *Index {
	return newIndex(newSegment(nil, nil, 1))
}

func newIndex(base *segment) *Index {
	x := &Index{mergeAt: defaultMergeAt, mergeWorkers: 1}
	x.scratch.New = func() any { return newScratch() }
	x.state.Store(&state{base: base, active: newDelta(64)})
	x.live.Store(int64(base.live()))
	return x
}

// Build indexes hashes[i] under ids[i], using every core. If an id occurs
// more than once, the last occurrence wins, as with Add. Build copies its
// inputs. It panics if the slices differ in length or hold 2^31-1 or
// more hashes.
func Build(ids []uint64, hashes []Hash) *Index {
	if len(ids) != len(hashes) {
		panic("hashindex: Build with different numbers of ids and hashes")
	}
	if len(ids) >= maxRows {
		panic("hashindex: Build with 2^31-1 or more hashes")
	}
	workers := runtime.GOMAXPROCS(0)
	order := orderByID(ids)
	n := len(ids)
	if order != nil {
		n = len(order)
	}
	rowIDs := make([]uint64, n)
	rowHashes := makeLarge[Hash](n)
	parallel(n, workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i := r
			if order != nil {
				i = int(order[r])
			}
			rowIDs[r] = ids[i]
			rowHashes[r] = permute(&hashes[i])
		}
	})
	return newIndex(newSegment(rowIDs, rowHashes, workers))
}

// parallel calls f on up to workers contiguous parts of [0, n) at once.
func parallel(n, workers int, f func(lo, hi int)) {
	workers = max(1, min(workers, n/4096))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(n*w/workers, n*(w+1)/workers) })
	}
	wg.Wait()
}

// Len returns the number of ids with a hash.
func (x *Index) Len() int { return int(x.live.Load()) }

// Add stores h under id, replacing any hash id had. Searches that start
// after Add returns find it.
func (x *Index) Add(id uint64, h Hash) {
	p := permute(&h)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(id)
	st := x.state.Load()
	if st.active.full() {
		st = &state{base: st.base, frozen: st.frozen, active: st.active.grown()}
		x.state.Store(st)
	}
	st.active.add(id, p)
	x.live.Add(1)
	x.maybeMergeLocked(st)
}

// Remove withdraws id's hash: searches that start after Remove returns do
// not return it. Removing an unknown id does nothing.
func (x *Index) Remove(id uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.removeLocked(id) {
		x.maybeMergeLocked(x.state.Load())
	}
}

func (x *Index) removeLocked(id uint64) bool {
	st := x.state.Load()
	removed := st.active.remove(id)
	if !removed && st.frozen != nil {
		removed = st.frozen.remove(id)
	}
	if !removed {
		if r, ok := st.base.row(id); ok {
			removed = st.base.kill(r)
		}
	}
	if !removed {
		return false
	}
	x.live.Add(-1)
	if x.merged != nil {
		x.removed = append(x.removed, id)
	}
	return true
}

// maybeMergeLocked starts a background merge when the delta is large, or
// when an eighth of the base is removed rows.
func (x *Index) maybeMergeLocked(st *state) {
	if x.merged != nil {
		return
	}
	dead := int(st.base.ndead.Load())
	if int(st.active.n.Load()) < x.mergeAt && (dead < x.mergeAt || dead < len(st.base.ids)/8) {
		return
	}
	base, frozen := x.freezeLocked()
	go x.merge(base, frozen, x.mergeWorkers)
}

// freezeLocked makes the active delta the frozen one, to be merged with
// the base, and marks a merge as running.
func (x *Index) freezeLocked() (*segment, *delta) {
	st := x.state.Load()
	x.state.Store(&state{base: st.base, frozen: st.active, active: newDelta(64)})
	x.merged = make(chan struct{})
	return st.base, st.active
}

// merge builds a segment from the live rows of base and frozen and swaps it
// in, with the removals made meanwhile applied again.
func (x *Index) merge(base *segment, frozen *delta, workers int) {
	ids, hashes := liveRows(base, frozen)
	seg := newSegment(ids, hashes, workers)
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range x.removed {
		if r, ok := seg.row(id); ok {
			seg.kill(r)
		}
	}
	x.removed = nil
	st := x.state.Load()
	x.state.Store(&state{base: seg, active: st.active})
	close(x.merged)
	x.merged = nil
}

// liveRows returns the live rows of base and frozen, sorted by id. Their
// ids are disjoint: Add removes an id's old hash before storing the new one
// in the active delta, and no Add goes to a frozen delta.
func liveRows(base *segment, frozen *delta) ([]uint64, []Hash) {
	type entry struct {
		id uint64
		i  int
	}
	var recent []entry
	for i, id := range frozen.ids[:frozen.n.Load()] {
		if !frozen.isDead(i) {
			recent = append(recent, entry{id, i})
		}
	}
	slices.SortFunc(recent, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	n := base.live() + len(recent)
	ids := make([]uint64, 0, n)
	hashes := makeLarge[Hash](n)[:0]
	j := 0
	for r, id := range base.ids {
		for j < len(recent) && recent[j].id < id {
			ids = append(ids, recent[j].id)
			hashes = append(hashes, frozen.hashes[recent[j].i])
			j++
		}
		if !base.isDead(r) {
			ids = append(ids, id)
			hashes = append(hashes, base.hashes[r])
		}
	}
	for _, e := range recent[j:] {
		ids = append(ids, e.id)
		hashes = append(hashes, frozen.hashes[e.i])
	}
	return ids, hashes
}

// Compact merges the delta into the base now, using every core, and
// returns when done. Searches go on meanwhile. Indexes merge on their own;
// Compact is for tests and for after loading many hashes with Add.
func (x *Index) Compact() {
	for {
		x.mu.Lock()
		if ch := x.merged; ch != nil {
			x.mu.Unlock()
			<-ch
			continue
		}
		st := x.state.Load()
		if st.active.n.Load() == 0 && st.base.ndead.Load() == 0 {
			x.mu.Unlock()
			return
		}
		base, frozen := x.freezeLocked()
		x.mu.Unlock()
		x.merge(base, frozen, runtime.GOMAXPROCS(0))
		return
	}
}

// Search appends to dst every stored hash within maxDist of q, nearest
// first and then by id, and returns the extended slice.
func (x *Index) Search(q Hash, maxDist int, dst []Match) []Match {
	dst, _ = x.search(q, maxDist, dst)
	return dst
}

// search is Search that also returns the number of hashes compared.
func (x *Index) search(q Hash, maxDist int, dst []Match) ([]Match, int) {
	if maxDist < 0 {
		return dst, 0
	}
	maxDist = min(maxDist, 256)
	start := len(dst)
	p := permute(&q)
	st := x.state.Load()
	sc := x.scratch.Get().(*scratch)
	sc.candidates = 0
	dst = st.base.search(&p, maxDist, sc, dst, x.probe)
	candidates := sc.candidates
	if cap(sc.hashes) <= 1<<18 { // else let a rare huge search's buffers go
		x.scratch.Put(sc)
	}
	if st.frozen != nil {
		dst = st.frozen.search(&p, maxDist, dst)
		candidates += int(st.frozen.n.Load())
	}
	dst = st.active.search(&p, maxDist, dst)
	candidates += int(st.active.n.Load())
	sortMatches(dst[start:])
	return dst, candidates
}

// MemBytes estimates the memory the index holds, in bytes.
func (x *Index) MemBytes() int64 {
	st := x.state.Load()
	b := st.base.memBytes() + st.active.memBytes()
	if st.frozen != nil {
		b += st.frozen.memBytes()
	}
	return b
}
