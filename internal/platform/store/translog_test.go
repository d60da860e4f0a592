package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
)

// TestMigrationTranslog: migration 0021 gives each list of a database of
// schema 20, and the audit trail, an empty log behind its source; CatchUp
// then appends the changes already distributed (and the first checkpoint
// of each audit head), in feed order, once however often it runs; new
// changes are logged as they happen after that.
func TestMigrationTranslog(t *testing.T) {
	for _, engine := range migrationEngines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			url := engine.url(t)
			db, err := store.OpenAt(ctx, url, 20)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
			err = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				stmts := []string{
					`INSERT INTO orgs (name, kind, country, created_at) VALUES ('h', 'hotline', 'DE', $1)`,
					`INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, created_at) VALUES ('other', 1, false, 31, $1)`,
				}
				// 1 active, 2 withdrawn once active, 3 withdrawn while
				// pending, 4 quarantined and released.
				for i, st := range []struct{ state, activated string }{{"active", "$1"}, {"withdrawn", "$1"}, {"withdrawn", "NULL"}, {"active", "$1"}} {
					stmts = append(stmts, fmt.Sprintf(`INSERT INTO indicators (list_id, signal, value, category, state, created_at, activated_at)
						VALUES (1, 'md5', '%032x', 'A1', '%s', $1, %s)`, i+1, st.state, st.activated))
				}
				for i, c := range []struct {
					kind string
					id   int
				}{{"add", 1}, {"activate", 1}, {"add", 2}, {"activate", 2}, {"add", 3}, {"withdraw", 3}, {"withdraw", 2},
					{"add", 4}, {"activate", 4}, {"quarantine", 4}, {"release", 4}} {
					stmts = append(stmts, fmt.Sprintf(`INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at) VALUES (1, %d, '%s', %d, 1, $1)`,
						i+1, c.kind, c.id))
				}
				stmts = append(stmts, `UPDATE lists SET head = 11, active_count = 2 WHERE id = 1`)
				for _, seq := range []int{5, 5, 9} {
					stmts = append(stmts, fmt.Sprintf(`INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (%d, $2, $1, $3)`, seq))
				}
				for _, q := range stmts {
					var args []any
					if bytes.Contains([]byte(q), []byte("$1")) {
						args = append(args, now)
					}
					if bytes.Contains([]byte(q), []byte("$2")) {
						args = append(args, make([]byte, 32), make([]byte, 64))
						now = now.Add(time.Minute) // each checkpoint later
					}
					if _, err := tx.Exec(ctx, q, args...); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
				}
				return nil
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}

			db, err = store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			logs, err := db.Translog().Logs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range logs {
				got = append(got, fmt.Sprintf("%s:%d/%d/%d", l.Name, l.Size, l.Through, l.Behind))
			}
			if want := "[audit:0/0/9 lists/known:0/0/11 lists/other:0/0/0 lists/victim-reported:0/0/0]"; fmt.Sprint(got) != want {
				t.Fatalf("logs after migrating: %v, want %s", got, want)
			}
			_, key, _ := ed25519.GenerateKey(nil)
			svc, err := translog.New(db.Translog(), key, "ward.example.org")
			if err != nil {
				t.Fatal(err)
			}
			var progress []translog.Progress
			for range 2 { // the second run finds nothing to do
				if err := svc.CatchUp(ctx, func(p translog.Progress) { progress = append(progress, p) }); err != nil {
					t.Fatal(err)
				}
			}
			if len(progress) != 2 || progress[0].Log != "audit" || progress[1].Log != "lists/known" || progress[1].Size != 6 || progress[1].Behind != 0 {
				t.Errorf("progress %+v", progress)
			}
			inds := indicator.NewService(db)
			check := func(want int) {
				t.Helper()
				var entries [][]byte
				cs, err := inds.Changes(ctx, indicator.Known, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					if translog.Logged(c) {
						entries = append(entries, translog.EntryOf(c).Marshal())
					}
				}
				got, err := db.Translog().LogEntries(ctx, translog.ListLog(indicator.Known), 0, len(entries))
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != want {
					t.Fatalf("the feed has %d changes to log, want %d", len(entries), want)
				}
				for i := range entries {
					if !bytes.Equal(got[i], entries[i]) {
						t.Errorf("entry %d: %q, want %q", i, got[i], entries[i])
					}
				}
				if problems, err := svc.Check(ctx, inds, 100); err != nil || len(problems) != 0 {
					t.Errorf("check: %q, %v", problems, err)
				}
			}
			check(6)
			audits, err := db.Translog().LogEntries(ctx, translog.AuditLog, 0, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(audits[0], []byte("ward-audit-checkpoint-v1 5 ")) || !bytes.HasPrefix(audits[1], []byte("ward-audit-checkpoint-v1 9 ")) {
				t.Errorf("audit log %q", audits)
			}
			if _, err := db.Withdraw(ctx, 1, org.Principal{OrgID: 1}, "gone", now); err != nil {
				t.Fatal(err)
			}
			check(7)
			if l, _ := db.Translog().Log(ctx, translog.AuditLog); l.Size != 2 || l.Through != 9 {
				t.Errorf("audit log %+v", l)
			}
		})
	}
}
