package hashindex

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestDigestSet(t *testing.T) {
	a, b, c := md5.Sum([]byte("a")), md5.Sum([]byte("b")), md5.Sum([]byte("c"))
	var s MD5Set // the zero value is ready
	if got := s.Lookup(a); got != nil {
		t.Fatalf("empty set: Lookup = %v", got)
	}
	s.Remove(1) // unknown: no effect
	for _, step := range []struct {
		op     string
		id     uint64
		digest [16]byte
		want   map[[16]byte][]uint64
	}{
		{"add", 1, a, map[[16]byte][]uint64{a: {1}}},
		{"add", 3, a, map[[16]byte][]uint64{a: {1, 3}}},
		{"add", 2, a, map[[16]byte][]uint64{a: {1, 2, 3}}},
		{"add", 2, a, map[[16]byte][]uint64{a: {1, 2, 3}}},      // again: no change
		{"add", 3, b, map[[16]byte][]uint64{a: {1, 2}, b: {3}}}, // replaces
		{"remove", 1, a, map[[16]byte][]uint64{a: {2}, b: {3}}}, // back to one id
		{"remove", 9, a, map[[16]byte][]uint64{a: {2}, b: {3}}}, // unknown
		{"remove", 2, a, map[[16]byte][]uint64{b: {3}}},         // gone
		{"add", 2, b, map[[16]byte][]uint64{b: {2, 3}}},         // re-added
		{"remove", 3, b, map[[16]byte][]uint64{b: {2}, c: nil}}, //
	} {
		if step.op == "add" {
			s.Add(step.id, step.digest)
		} else {
			s.Remove(step.id)
		}
		n := 0
		for _, d := range [][16]byte{a, b, c} {
			got, want := s.Lookup(d), step.want[d]
			n += len(want)
			if !slices.Equal(got, want) {
				t.Fatalf("after %s %d: Lookup(%x) = %v, want %v", step.op, step.id, d[:2], got, want)
			}
		}
		if s.Len() != n {
			t.Fatalf("after %s %d: Len = %d, want %d", step.op, step.id, s.Len(), n)
		}
	}
}

func TestDigestSetConcurrent(t *testing.T) {
	s := NewDigestSet[[32]byte]()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				id := uint64(g*10000 + i)
				d := sha256.Sum256(fmt.Appendf(nil, "%d", i%100))
				s.Add(id, d)
				if !slices.Contains(s.Lookup(d), id) {
					t.Errorf("id %d missing right after Add", id)
					return
				}
				if i%3 == 0 {
					s.Remove(id)
				}
			}
		})
	}
	wg.Wait()
	want := 4 * (2000 - 667)
	if s.Len() != want {
		t.Errorf("Len = %d, want %d", s.Len(), want)
	}
}
