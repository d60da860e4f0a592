package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestApplyAndResume(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "known.mirror")
	if _, err := Open(ctx, path, false); err == nil {
		t.Fatal("opening a missing mirror without create succeeded")
	}
	m, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(ctx, nil, 1); err == nil {
		t.Error("Apply before Bind succeeded")
	}
	if err := m.Bind(ctx, "http://a", "known"); err != nil {
		t.Fatal(err)
	}
	e1 := Entry{ID: 1, Signal: "pdq", Value: "aa", Category: "A1"}
	e2 := Entry{ID: 2, Signal: "md5", Value: "bb", Category: "B2"}
	page := []Change{{1, "add", e1}, {2, "activate", e1}, {3, "activate", e2}, {4, "withdraw", e1}}
	for range 2 { // applying a page twice is harmless
		if err := m.Apply(ctx, page, 4); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Apply(ctx, nil, 3); err == nil {
		t.Error("moving the cursor back succeeded")
	}
	m.Close()

	m, err = Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s != (State{Server: "http://a", List: "known", Seq: 4, Count: 1}) {
		t.Errorf("state %+v", s)
	}
	var got []Entry
	m.ForEach(ctx, func(e Entry) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0] != e2 {
		t.Errorf("entries %+v, want only %+v", got, e2)
	}
	if err := m.Bind(ctx, "http://a", "other"); !errors.Is(err, ErrMismatch) {
		t.Errorf("binding to another list: %v", err)
	}
	if err := m.Bind(ctx, "http://a", "known"); err != nil {
		t.Errorf("binding again to the same list: %v", err)
	}
}

// TestApplyQuarantine: a quarantine removes the entry as a withdrawal
// does, and a release adds it back.
func TestApplyQuarantine(t *testing.T) {
	ctx := context.Background()
	m, err := Open(ctx, filepath.Join(t.TempDir(), "known.mirror"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Bind(ctx, "http://a", "known"); err != nil {
		t.Fatal(err)
	}
	e1 := Entry{ID: 1, Signal: "pdq", Value: "aa", Category: "A1"}
	e2 := Entry{ID: 2, Signal: "md5", Value: "bb", Category: "B2"}
	entries := func() []Entry {
		var got []Entry
		if err := m.ForEach(ctx, func(e Entry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := m.Apply(ctx, []Change{{1, "activate", e1}, {2, "activate", e2}, {3, "quarantine", e1}, {4, "quarantine", e2}}, 4); err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != 0 {
		t.Errorf("after quarantines: %+v, want none", got)
	}
	if err := m.Apply(ctx, []Change{{5, "release", e2}}, 5); err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != 1 || got[0] != e2 {
		t.Errorf("after a release: %+v, want only %+v", got, e2)
	}
	if s, err := m.State(ctx); err != nil || s.Seq != 5 || s.Count != 1 {
		t.Errorf("state %+v, %v", s, err)
	}
}

// TestOpenUnversioned: a mirror made before mirrors had migrations
// (testdata/unversioned.mirror, written by that code: its tables, no
// schema_migrations) opens, keeps its content, is at version 1 and
// takes changes.
func TestOpenUnversioned(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("testdata/unversioned.mirror")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "known.mirror")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // and opens again once migrated
		m, err := Open(ctx, path, false)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.State(ctx)
		if err != nil || s != (State{Server: "http://ward.example", List: "known", Seq: 3, Count: 1}) {
			t.Errorf("state %+v, %v", s, err)
		}
		var got []Entry
		if err := m.ForEach(ctx, func(e Entry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := (Entry{ID: 2, Signal: "md5", Value: "bb", Category: "B2"}); len(got) != 1 || got[0] != want {
			t.Errorf("entries %+v, want only %+v", got, want)
		}
		var n, version int
		var name string
		if err := m.db.QueryRowContext(ctx, `SELECT count(*), max(version), max(name) FROM schema_migrations`).Scan(&n, &version, &name); err != nil ||
			n != 1 || version != 1 || name != "0001_mirror.sql" {
			t.Errorf("schema_migrations: %d rows, up to %d %q, %v; want only 1 0001_mirror.sql", n, version, name, err)
		}
		m.Close()
	}
	m, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Apply(ctx, []Change{{4, "activate", Entry{ID: 3, Signal: "sha256", Value: "cc", Category: "A1"}}}, 4); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(ctx); err != nil || s.Seq != 4 || s.Count != 2 {
		t.Errorf("state after applying a page: %+v, %v", s, err)
	}
}
