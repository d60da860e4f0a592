package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestStore runs the store's audit.Store, through audit.Log and
// audit.Verify, tampering with the stored trail by SQL as someone with
// access to the database could, on a new database of each engine per
// subtest, in parallel.
func TestStore(t *testing.T) {
	storetest.OnEachEngine(t, runStore)
}

func runStore(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Append", testAuditAppend},
		{"Concurrent", testAuditConcurrent},
		{"Checkpoint", testAuditCheckpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
	t.Run("Tamper", func(t *testing.T) {
		t.Parallel()
		testAuditTamper(t, open)
	})
	t.Run("TamperWithFile", func(t *testing.T) {
		t.Parallel()
		testAuditTamperWithFile(t, open)
	})
}

// auditEvent returns a valid event numbered i.
func auditEvent(i int) audit.Event {
	return audit.Event{
		At:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		OrgID:   int64(i%2 + 1),
		OrgName: []string{"Hotline NL", "BKA"}[i%2],
		Actor:   fmt.Sprintf("user:%d", 100+i%5),
		Action:  []string{"report.view", "indicator.withdraw", "user.add"}[i%3],
		Object:  fmt.Sprintf("report:%d", i),
		Purpose: "assessment – Art. 48",
		Outcome: audit.OK,
	}
}

// auditChain appends n events to a new Log on db, with a checkpoint after
// the first cp if cp > 0, and returns the Log and the checkpoints' key.
func auditChain(t *testing.T, db *store.DB, n, cp int) (*audit.Log, ed25519.PublicKey) {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(nil)
	l := audit.NewLog(db, key)
	for i := range n {
		if _, err := l.Append(t.Context(), auditEvent(i)); err != nil {
			t.Fatal(err)
		}
		if i+1 == cp {
			if _, err := l.Checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return l, pub
}

// verify runs audit.Verify and returns the problems as "kind first-last"
// strings.
func verify(t *testing.T, db *store.DB, pub ed25519.PublicKey) (audit.Report, string) {
	t.Helper()
	r, err := audit.Verify(t.Context(), db, pub)
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	for _, p := range r.Problems {
		ps = append(ps, fmt.Sprintf("%s %d-%d", p.Kind, p.Seq, p.Last))
	}
	return r, strings.Join(ps, ", ")
}

// execSQL runs statements on db in one transaction.
func execSQL(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	err := db.ReadWrite(t.Context(), func(ctx context.Context, tx *store.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAuditAppend(t *testing.T, db *store.DB) {
	ctx := t.Context()
	l, pub := auditChain(t, db, 30, 0)
	es, err := l.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 30 {
		t.Fatalf("%d entries", len(es))
	}
	for i, e := range es {
		want := auditEvent(i)
		if e.Seq != int64(i+1) || e.Event != want {
			t.Errorf("entry %d: %+v\nwant %+v", i+1, e, want)
		}
		if i > 0 && e.Prev != es[i-1].Hash {
			t.Errorf("entry %d does not link to %d", e.Seq, e.Seq-1)
		}
	}
	head, err := db.AuditHead(ctx)
	if err != nil || head.Seq != 30 || head.Hash != es[29].Hash {
		t.Errorf("head %+v, %v", head, err)
	}

	for _, tc := range []struct {
		f    audit.Filter
		want string
	}{
		{audit.Filter{After: 25}, "26 27 28 29 30"},
		{audit.Filter{After: 3, Limit: 4}, "4 5 6 7"},
		{audit.Filter{Action: "user.add", Limit: 3}, "3 6 9"},
		{audit.Filter{OrgID: 2, After: 20}, "22 24 26 28 30"},
		{audit.Filter{Since: auditEvent(10).At, Until: auditEvent(14).At}, "11 12 13 14"},
		{audit.Filter{Action: "report.view", OrgID: 1, Since: auditEvent(6).At}, "7 13 19 25"},
		{audit.Filter{Action: "report.delete"}, ""},
	} {
		es, err := l.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, fmt.Sprint(e.Seq))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("List(%+v): %v, want %s", tc.f, got, tc.want)
		}
	}
	latest, err := l.Latest(ctx, 2)
	if err != nil || len(latest) != 2 || latest[0].Seq != 30 || latest[1].Seq != 29 {
		t.Errorf("Latest: %v, %v", latest, err)
	}

	var csv, jsonl bytes.Buffer
	if err := l.Export(ctx, &csv, audit.Filter{Action: "indicator.withdraw"}, "csv"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(csv.String(), "\n"); n != 11 || !strings.Contains(csv.String(), "\n2,2026-03-01T12:00:01Z,2,BKA,user:101,indicator.withdraw,report:1,assessment – Art. 48,ok,") {
		t.Errorf("CSV export, %d lines:\n%s", n, csv.String())
	}
	if err := l.Export(ctx, &jsonl, audit.Filter{}, "jsonl"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(jsonl.String(), "\n"); n != 30 {
		t.Errorf("JSON lines export: %d lines", n)
	}
	if _, problems := verify(t, db, pub); problems != "" {
		t.Errorf("intact trail: %s", problems)
	}
}

// testAuditConcurrent appends from many goroutines at once: on PostgreSQL
// they run in concurrent transactions, which must queue on the chain head.
func testAuditConcurrent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	l := audit.NewLog(db, nil)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(ctx, auditEvent(w*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	es, err := l.List(ctx, audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != workers*each {
		t.Fatalf("%d entries, want %d", len(es), workers*each)
	}
	objects := map[string]bool{}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: the chain has a gap", i+1, e.Seq)
		}
		objects[e.Object] = true
	}
	if len(objects) != workers*each {
		t.Errorf("%d distinct events recorded", len(objects))
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if r, problems := verify(t, db, pub); problems != "" || r.Entries != workers*each {
		t.Errorf("%d entries, problems: %s", r.Entries, problems)
	}
}

func testAuditCheckpoint(t *testing.T, db *store.DB) {
	ctx := t.Context()
	l, pub := auditChain(t, db, 5, 3)
	c, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cps, err := db.AuditCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 2 || cps[0].Seq != 3 || cps[1].Seq != 5 || !cps[1].At.Equal(c.At) || cps[1].Hash != c.Hash {
		t.Fatalf("checkpoints %+v, want the last %+v", cps, c)
	}
	for _, c := range cps {
		if !c.Valid(pub) {
			t.Errorf("checkpoint %d: signature does not verify after a round trip", c.Seq)
		}
	}
	r, problems := verify(t, db, pub)
	if problems != "" || r.Checkpoints != 2 || r.LastCheckpoint.Seq != 5 || r.Entries != 5 {
		t.Errorf("report %+v, problems %s", r, problems)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, problems := verify(t, db, other); problems != "bad signature 3-3, bad signature 5-5" {
		t.Errorf("verified with another key: %s", problems)
	}
}

// auditTamperings tamper with a trail of 10 entries, with a checkpoint
// at the end, as someone with write access to the database but not the
// signing key could; want is what Verify must name.
var auditTamperings = []struct {
	name   string
	tamper func(t *testing.T, db *store.DB)
	want   string
}{
	{"Edit", func(t *testing.T, db *store.DB) {
		execSQL(t, db, `UPDATE audit_log SET outcome = 'denied' WHERE seq = 5`)
	}, "edited 5-5"},
	{"Delete", func(t *testing.T, db *store.DB) {
		execSQL(t, db, `DELETE FROM audit_log WHERE seq = 5`)
	}, "deleted 5-5"},
	{"Swap", func(t *testing.T, db *store.DB) {
		// Rows 3 and 4 exchange their contents, hashes included.
		execSQL(t, db, `UPDATE audit_log SET seq = 1000 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
			`UPDATE audit_log SET seq = 4 WHERE seq = 1000`)
	}, "reordered 3-3, reordered 4-4"},
	{"Copy", func(t *testing.T, db *store.DB) {
		// Row 7 replaced by a copy of row 2, hash included. Verify looks
		// for a moved entry only near where it is found, so it names 7
		// edited, and 8 no longer linked to what is at 7.
		const cols = `at, org_id, org_name, actor, action, object, purpose, outcome, prev_hash, hash`
		execSQL(t, db, `DELETE FROM audit_log WHERE seq = 7`,
			`INSERT INTO audit_log (seq, `+cols+`) SELECT 7, `+cols+` FROM audit_log WHERE seq = 2`)
	}, "edited 7-7, inserted 8-8"},
	{"Truncate", func(t *testing.T, db *store.DB) {
		execSQL(t, db, `DELETE FROM audit_log WHERE seq >= 9`)
	}, "truncated 9-10"},
	{"TruncateAndMoveHead", func(t *testing.T, db *store.DB) {
		// Only the checkpoint still shows what the tail was.
		execSQL(t, db, `DELETE FROM audit_log WHERE seq >= 9`,
			`UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8)`)
	}, "truncated 9-10"},
	{"EditAndRecompute", func(t *testing.T, db *store.DB) {
		// The whole chain recomputed after an edit, head included: only
		// the signed checkpoint still shows it.
		editAndRecompute(t, db)
	}, "rewritten 10-10"},
}

// editAndRecompute edits entry 6 of the trail and recomputes the chain
// from it, head included, as someone who knows the hashing but lacks the
// signing key could.
func editAndRecompute(t *testing.T, db *store.DB) {
	es, err := db.AuditEntries(t.Context(), audit.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	es[5].Outcome = audit.Denied
	err = db.ReadWrite(t.Context(), func(ctx context.Context, tx *store.Tx) error {
		var head audit.Head
		for _, e := range es {
			e = audit.Next(head, e.Event)
			if _, err := tx.Exec(ctx, `UPDATE audit_log SET outcome = $1, prev_hash = $2, hash = $3 WHERE seq = $4`,
				e.Outcome, e.Prev[:], e.Hash[:], e.Seq); err != nil {
				return err
			}
			head = audit.Head{Seq: e.Seq, Hash: e.Hash}
		}
		_, err := tx.Exec(ctx, `UPDATE audit_head SET hash = $1`, head.Hash[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testAuditTamper runs the auditTamperings, each on a new database.
func testAuditTamper(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range auditTamperings {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			_, pub := auditChain(t, db, 10, 10)
			tc.tamper(t, db)
			r, problems := verify(t, db, pub)
			if problems != tc.want {
				t.Errorf("problems: %s\nwant:     %s\n%v", problems, tc.want, r.Problems)
			}
		})
	}
}

// testAuditTamperWithFile wipes, recomputes or cuts the trail and deletes
// the checkpoints stored in the database too, head adjusted: the database
// alone then looks intact, and only the checkpoint file kept outside it
// shows what happened.
func testAuditTamperWithFile(t *testing.T, open func(testing.TB) *store.DB) {
	dropCheckpoints := func(t *testing.T, db *store.DB, head int64) {
		err := db.ReadWrite(t.Context(), func(ctx context.Context, tx *store.Tx) error {
			var zero audit.Hash
			if _, err := tx.Exec(ctx, `DELETE FROM audit_checkpoints`); err != nil {
				return err
			}
			if head == 0 {
				_, err := tx.Exec(ctx, `UPDATE audit_head SET seq = 0, hash = $1`, zero[:])
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_log WHERE seq = $1)`, head)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, db *store.DB)
		want   string
	}{
		{"Wipe", func(t *testing.T, db *store.DB) {
			execSQL(t, db, `DELETE FROM audit_log`)
			dropCheckpoints(t, db, 0)
		}, "truncated 1-10"},
		{"Recompute", func(t *testing.T, db *store.DB) {
			editAndRecompute(t, db)
			dropCheckpoints(t, db, 10)
		}, "rewritten 10-10"},
		{"Truncate", func(t *testing.T, db *store.DB) {
			execSQL(t, db, `DELETE FROM audit_log WHERE seq >= 9`)
			dropCheckpoints(t, db, 8)
		}, "truncated 9-10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			pub, key, _ := ed25519.GenerateKey(nil)
			l := audit.NewLog(db, key)
			l.CheckpointFile = filepath.Join(t.TempDir(), "audit.checkpoints")
			for i := range 10 {
				if _, err := l.Append(t.Context(), auditEvent(i)); err != nil {
					t.Fatal(err)
				}
				if i == 4 || i == 9 {
					if _, err := l.Checkpoint(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
			}
			tc.tamper(t, db)
			if r, problems := verify(t, db, pub); problems != "" || r.Checkpoints != 0 {
				t.Fatalf("the database alone shows: %q, %d checkpoints", problems, r.Checkpoints)
			}
			cf, err := audit.ReadCheckpointFile(l.CheckpointFile, pub)
			if err != nil || len(cf.Checkpoints) != 2 || len(cf.Damaged) != 0 {
				t.Fatalf("checkpoint file: %+v, %v", cf, err)
			}
			r, err := audit.Verify(t.Context(), db, pub, cf.Checkpoints...)
			if err != nil {
				t.Fatal(err)
			}
			var ps []string
			for _, p := range r.Problems {
				ps = append(ps, fmt.Sprintf("%s %d-%d", p.Kind, p.Seq, p.Last))
				if !strings.Contains(p.Detail, l.CheckpointFile+" line 2") {
					t.Errorf("%v does not name the checkpoint file's line", p)
				}
			}
			if got := strings.Join(ps, ", "); got != tc.want {
				t.Errorf("with the file: %s, want %s", got, tc.want)
			}
		})
	}
}
