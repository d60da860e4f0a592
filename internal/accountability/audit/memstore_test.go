package audit_test

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
)

// memStore is an audit.Store in memory, for the tests and examples of this
// package, whose entries the tests tamper with directly; package store's
// is tested by storetest.Run.
type memStore struct {
	mu      sync.Mutex
	entries map[int64]audit.Entry
	head    audit.Head
	cps     []audit.Checkpoint
}

var _ audit.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{entries: map[int64]audit.Entry{}} }

func (m *memStore) AppendAudit(_ context.Context, ev audit.Event) (audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := audit.Next(m.head, ev)
	m.entries[e.Seq] = e
	m.head = audit.Head{Seq: e.Seq, Hash: e.Hash}
	return e, nil
}

func (m *memStore) AuditEntries(_ context.Context, f audit.Filter) ([]audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var es []audit.Entry
	for _, e := range m.entries {
		if e.Seq > f.After && (f.Action == "" || e.Action == f.Action) && (f.OrgID == 0 || e.OrgID == f.OrgID) &&
			(f.Since.IsZero() || !e.At.Before(f.Since)) && (f.Until.IsZero() || e.At.Before(f.Until)) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b audit.Entry) int { return int(a.Seq - b.Seq) })
	return es[:min(len(es), f.Limit)], nil
}

func (m *memStore) AuditHead(context.Context) (audit.Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.head, nil
}

func (m *memStore) AddAuditCheckpoint(_ context.Context, c audit.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps = append(m.cps, c)
	return nil
}

func (m *memStore) AuditCheckpoints(context.Context) ([]audit.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cps), nil
}

// event returns a valid event numbered i.
func event(i int) audit.Event {
	return audit.Event{
		At:      time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		OrgID:   int64(i%3 + 1),
		OrgName: "Org",
		Actor:   "user:1",
		Action:  []string{"report.view", "indicator.withdraw", "user.add"}[i%3],
		Object:  "report:1",
		Outcome: audit.OK,
	}
}
