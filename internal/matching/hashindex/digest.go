package hashindex

import (
	"slices"
	"sync"
)

// A DigestSet finds ids by exact digest (MD5, SHA-256). Each id has at most
// one digest: adding an id again replaces it. Its methods may be called
// concurrently. The zero value is an empty set.
type DigestSet[K comparable] struct {
	mu   sync.RWMutex
	byID map[uint64]K
	// one holds digests with a single id, the common case; more those with
	// several, which are then absent from one.
	one  map[K]uint64
	more map[K][]uint64
}

// MD5Set and SHA256Set are the digest sets Ward keeps.
type (
	MD5Set    = DigestSet[[16]byte]
	SHA256Set = DigestSet[[32]byte]
)

// NewDigestSet returns an empty set.
func NewDigestSet[K comparable]() *DigestSet[K] { return &DigestSet[K]{} }

// Add stores digest under id.
func (s *DigestSet[K]) Add(id uint64, digest K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID, s.one, s.more = make(map[uint64]K), make(map[K]uint64), make(map[K][]uint64)
	}
	if old, ok := s.byID[id]; ok {
		if old == digest {
			return
		}
		s.removeLocked(id, old)
	}
	s.byID[id] = digest
	if ids, ok := s.more[digest]; ok {
		s.more[digest] = append(ids, id)
	} else if other, ok := s.one[digest]; ok {
		delete(s.one, digest)
		s.more[digest] = []uint64{other, id}
	} else {
		s.one[digest] = id
	}
}

// Remove withdraws id's digest; an unknown id is ignored.
func (s *DigestSet[K]) Remove(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.byID[id]; ok {
		s.removeLocked(id, d)
	}
}

func (s *DigestSet[K]) removeLocked(id uint64, d K) {
	delete(s.byID, id)
	ids, ok := s.more[d]
	if !ok {
		delete(s.one, d)
		return
	}
	ids = slices.DeleteFunc(ids, func(x uint64) bool { return x == id })
	if len(ids) == 1 {
		delete(s.more, d)
		s.one[d] = ids[0]
	} else {
		s.more[d] = ids
	}
}

// Lookup returns the ids stored under digest, ascending, in a new slice;
// nil if there are none.
func (s *DigestSet[K]) Lookup(digest K) []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id, ok := s.one[digest]; ok {
		return []uint64{id}
	}
	ids := slices.Clone(s.more[digest])
	slices.Sort(ids)
	return ids
}

// Len returns the number of ids with a digest.
func (s *DigestSet[K]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
