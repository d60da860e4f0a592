package seal

import "testing"

func TestKeyCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newKeyCache(3)
	for id := int64(1); id <= 3; id++ {
		c.put(id, []byte{byte(id)})
	}
	c.get(1)            // 2 is now the least recently used
	c.put(4, []byte{4}) // evicts 2
	for id, want := range map[int64]bool{1: true, 2: false, 3: true, 4: true} {
		if k, ok := c.get(id); ok != want || ok && k[0] != byte(id) {
			t.Errorf("key %d: %v, %v", id, k, ok)
		}
	}
	if c.lru.Len() != 3 || len(c.byID) != 3 {
		t.Errorf("%d keys in the list, %d in the map; want 3", c.lru.Len(), len(c.byID))
	}
}
