package hashindex

import (
	"math/bits"
	"sync/atomic"
)

// A delta holds recent additions, scanned in full by every search until a
// merge moves them into a segment. It is append-only: the writer fills
// entry n, then publishes it by storing n+1, and readers look only below
// the count they loaded, so they never race with the writer.
type delta struct {
	ids    []uint64 // len is the capacity; the first n are published
	hashes []Hash   // permuted
	dead   []atomic.Uint64
	n      atomic.Int64
	// pos maps the id of each live entry to its place; only writers, under
	// Index.mu, use it.
	pos map[uint64]int
}

func newDelta(capacity int) *delta {
	return &delta{
		ids:    make([]uint64, capacity),
		hashes: make([]Hash, capacity),
		dead:   make([]atomic.Uint64, (capacity+63)/64),
		pos:    make(map[uint64]int),
	}
}

// add appends an entry; the caller holds Index.mu and has checked that
// there is room.
func (d *delta) add(id uint64, h Hash) {
	n := int(d.n.Load())
	d.ids[n] = id
	d.hashes[n] = h
	d.pos[id] = n
	d.n.Store(int64(n + 1))
}

func (d *delta) full() bool { return int(d.n.Load()) == len(d.ids) }

// grown returns a copy of d with twice the room. Readers of d are
// unaffected; writers must switch to the copy.
func (d *delta) grown() *delta {
	n := int(d.n.Load())
	g := newDelta(2 * max(len(d.ids), 64))
	copy(g.ids, d.ids[:n])
	copy(g.hashes, d.hashes[:n])
	for i := range d.dead {
		g.dead[i].Store(d.dead[i].Load())
	}
	g.pos = d.pos
	g.n.Store(int64(n))
	return g
}

// remove marks id removed; it reports whether id was live here.
func (d *delta) remove(id uint64) bool {
	i, ok := d.pos[id]
	if !ok {
		return false
	}
	delete(d.pos, id)
	d.dead[i/64].Or(1 << (i % 64))
	return true
}

func (d *delta) isDead(i int) bool { return d.dead[i/64].Load()>>(i%64)&1 == 1 }

func (d *delta) search(q *Hash, maxDist int, dst []Match) []Match {
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	hs := d.hashes[:d.n.Load()]
	for i := range hs {
		h := &hs[i]
		dist := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
			bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if dist <= maxDist && !d.isDead(i) {
			dst = append(dst, Match{ID: d.ids[i], Distance: dist})
		}
	}
	return dst
}

func (d *delta) memBytes() int64 {
	// A map entry costs about its key and value plus a control byte and slack.
	return int64(len(d.ids))*40 + int64(len(d.dead))*8 + int64(len(d.pos))*24
}
