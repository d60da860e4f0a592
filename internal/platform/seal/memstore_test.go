package seal_test

import (
	"context"
	"slices"
	"sync"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
)

// memStore is a seal.DataKeyStore in memory, for the tests and examples of
// this package; package store's is tested by storetest.Run.
type memStore struct {
	mu   sync.Mutex
	keys map[int64]memKey
	// reads counts DataKey calls, to see the cache at work.
	reads int
}

type memKey struct {
	version string
	wrapped []byte
}

var _ seal.DataKeyStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{keys: map[int64]memKey{}} }

func (m *memStore) AddDataKey(_ context.Context, version string, wrapped []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := int64(len(m.keys) + 1)
	m.keys[id] = memKey{version, slices.Clone(wrapped)}
	return id, nil
}

func (m *memStore) DataKey(_ context.Context, id int64) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	k, ok := m.keys[id]
	if !ok {
		return "", nil, core.Errorf(core.ErrNotFound, "no data key %d", id)
	}
	return k.version, slices.Clone(k.wrapped), nil
}

func (m *memStore) RewrapDataKeys(_ context.Context, current string, rewrap func(int64, string, []byte) ([]byte, error)) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, k := range m.keys {
		if k.version == current {
			continue
		}
		w, err := rewrap(id, k.version, k.wrapped)
		if err != nil {
			return n, err
		}
		m.keys[id] = memKey{current, w}
		n++
	}
	return n, nil
}

func (m *memStore) DataKeyVersions(context.Context) (map[string]seal.VersionUse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	uses := map[string]seal.VersionUse{}
	for id, k := range m.keys {
		u := uses[k.version]
		u.Keys++
		u.LastID = max(u.LastID, id)
		uses[k.version] = u
	}
	return uses, nil
}
