package seal

import (
	"container/list"
	"sync"
)

// keyCache holds the most recently used unwrapped data keys, so that
// opening a record read a moment ago costs no database read and no
// unwrapping. It evicts the least recently used key beyond its size.
// Rotation changes how a data key is wrapped, never the key, so cached
// keys stay valid.
type keyCache struct {
	mu   sync.Mutex
	size int
	lru  *list.List // of *cached, most recently used first
	byID map[int64]*list.Element
}

type cached struct {
	id  int64
	key []byte
}

func newKeyCache(size int) *keyCache {
	return &keyCache{size: size, lru: list.New(), byID: make(map[int64]*list.Element, size)}
}

func (c *keyCache) get(id int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cached).key, true
}

func (c *keyCache) put(id int64, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.byID[id] = c.lru.PushFront(&cached{id: id, key: key})
	if c.lru.Len() > c.size {
		old := c.lru.Remove(c.lru.Back()).(*cached)
		delete(c.byID, old.id)
	}
}
