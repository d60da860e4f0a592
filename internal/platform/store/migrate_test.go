package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// migrationEngines gives the tests of a migration a database URL of each
// engine, to open at the schema before it (store.OpenAt).
var migrationEngines = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "ward.db") }},
	{"postgres", storetest.PostgresURL},
}

// TestMigrationInboxScope: migration 0014 turns reports.read into
// inbox.read in the scopes of the authorities' keys, and only theirs.
func TestMigrationInboxScope(t *testing.T) {
	for _, engine := range migrationEngines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			url := engine.url(t)
			db, err := store.OpenAt(ctx, url, 13)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			err = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				var version int
				if err := tx.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil {
					return err
				}
				if version != 13 {
					t.Fatalf("schema version %d, want 13", version)
				}
				orgs := map[string]int64{}
				for _, kind := range []string{"lea", "europol", "provider"} {
					var id int64
					if err := tx.QueryRow(ctx, `INSERT INTO orgs (name, kind, country, created_at) VALUES ($1, $1, 'DE', $2) RETURNING id`,
						kind, now).Scan(&id); err != nil {
						return err
					}
					orgs[kind] = id
				}
				for _, k := range []struct{ id, org, scopes string }{
					{"lea", "lea", "reports.read match"}, {"lea-all", "lea", ""}, {"europol", "europol", "lists.read reports.read"},
					{"provider", "provider", "reports.read match"},
				} {
					if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, secret_hash, created_at, scopes) VALUES ($1, $2, $3, $4, $5)`,
						k.id, orgs[k.org], make([]byte, 32), now, k.scopes); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()

			db, err = store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for id, want := range map[string][]string{
				"lea":      {"inbox.read", "match"},
				"lea-all":  nil, // unrestricted stays so
				"europol":  {"lists.read", "inbox.read"},
				"provider": {"reports.read", "match"}, // reports.read is a provider's own action
			} {
				k, _, err := db.KeyByID(ctx, id)
				if err != nil || !slices.Equal(k.Scopes, want) {
					t.Errorf("key %s after migrating: scopes %q, %v; want %q", id, k.Scopes, err, want)
				}
			}
		})
	}
}

// TestMigrationHosts: migration 0015 lets organisations be of kind host
// on a database of schema 14 with organisations in it, still refuses
// unknown kinds, keeps the rows and foreign keys, and leaves an SQLite
// file that passes its integrity check, also when opened anew.
func TestMigrationHosts(t *testing.T) {
	for _, engine := range migrationEngines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			url := engine.url(t)
			db, err := store.OpenAt(ctx, url, 14)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			insert := func(db *store.DB, name, kind string) error {
				return db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
					var id int64
					if err := tx.QueryRow(ctx, `INSERT INTO orgs (name, kind, country, created_at) VALUES ($1, $2, 'DE', $3) RETURNING id`,
						name, kind, now).Scan(&id); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)`,
						name, id, make([]byte, 32), now)
					return err
				})
			}
			if err := insert(db, "hotline-de", "hotline"); err != nil {
				t.Fatal(err)
			}
			if err := insert(db, "early-host", "host"); err == nil {
				t.Fatal("schema 14 took an organisation of kind host")
			}
			db.Close()

			for range 2 { // migrated, then opened again
				db, err = store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.OrgByName(ctx, "hotline-de"); err != nil {
					t.Errorf("the hotline after migrating: %v", err)
				}
				db.Close()
			}
			db, err = store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := insert(db, "host-nl", "host"); err != nil {
				t.Errorf("a host after migrating: %v", err)
			}
			if err := insert(db, "bogus", "bogus"); err == nil {
				t.Error("an organisation of an unknown kind was stored")
			}
			if _, err := db.OrgByName(ctx, "ward migration 0015 probe"); err == nil {
				t.Error("the migration's probe row is still there")
			}
			if engine.name == "sqlite" {
				checkIntegrity(t, db)
			}
		})
	}
}

// TestMigrationQuarantine: migration 0017 lets indicators be quarantined
// and the feed carry quarantine and release on a database of schema 16
// with indicators in it, still refuses unknown states and kinds, keeps
// the rows, and leaves an SQLite file that passes its integrity check.
func TestMigrationQuarantine(t *testing.T) {
	for _, engine := range migrationEngines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			url := engine.url(t)
			db, err := store.OpenAt(ctx, url, 16)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			exec := func(db *store.DB, q string, args ...any) error {
				return db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
					_, err := tx.Exec(ctx, q, args...)
					return err
				})
			}
			indicator := func(db *store.DB, value, state string) error {
				return exec(db, `INSERT INTO indicators (list_id, signal, value, category, state, created_at) VALUES (1, 'md5', $1, 'A1', $2, $3)`,
					value, state, now)
			}
			change := func(db *store.DB, seq int, kind string) error {
				return exec(db, `INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at) VALUES (1, $1, $2, 1, 1, $3)`, seq, kind, now)
			}
			if err := indicator(db, "old", "active"); err != nil {
				t.Fatal(err)
			}
			if err := indicator(db, "early", "quarantined"); err == nil {
				t.Fatal("schema 16 took a quarantined indicator")
			}
			if err := change(db, 1, "quarantine"); err == nil {
				t.Fatal("schema 16 took a quarantine change")
			}
			db.Close()

			for range 2 { // migrated, then opened again
				if db, err = store.Open(ctx, url); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			db, err = store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			db.ReadOnly(ctx, func(ctx context.Context, tx *store.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM indicators WHERE list_id = 1 AND value = 'old' AND state = 'active'`).Scan(&n)
			})
			if n != 1 {
				t.Errorf("%d old indicators after migrating, want 1", n)
			}
			if err := indicator(db, "new", "quarantined"); err != nil {
				t.Errorf("a quarantined indicator after migrating: %v", err)
			}
			if err := indicator(db, "bogus", "bogus"); err == nil {
				t.Error("an indicator of an unknown state was stored")
			}
			for i, kind := range []string{"quarantine", "release"} {
				if err := change(db, i+1, kind); err != nil {
					t.Errorf("a %s change after migrating: %v", kind, err)
				}
			}
			if err := change(db, 3, "bogus"); err == nil {
				t.Error("a change of an unknown kind was stored")
			}
			db.ReadOnly(ctx, func(ctx context.Context, tx *store.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM indicators WHERE list_id = 0`).Scan(&n)
			})
			if n != 0 {
				t.Error("the migration's probe row is still there")
			}
			if engine.name == "sqlite" {
				checkIntegrity(t, db)
			}
		})
	}
}

// TestMigrationSuppress: migration 0018 makes every list a match list
// whose threshold is 31, or its max_distance if lower, and refuses kinds
// and thresholds it does not know.
func TestMigrationSuppress(t *testing.T) {
	for _, engine := range migrationEngines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			url := engine.url(t)
			db, err := store.OpenAt(ctx, url, 17)
			if err != nil {
				t.Fatal(err)
			}
			err = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				for _, d := range []int{20, 40} {
					if _, err := tx.Exec(ctx, `INSERT INTO lists (name, min_attestations, distinct_countries, max_distance, created_at)
						VALUES ($1, 1, false, $2, $3)`, fmt.Sprintf("d%d", d), d, time.Now().UTC()); err != nil {
						return err
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
			lists, err := db.Lists(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lists {
				got = append(got, fmt.Sprintf("%s %s %d/%d", l.Name, l.Kind, l.Threshold, l.MaxDistance))
			}
			if want := "d20 match 20/20, d40 match 31/40, known match 31/31, victim-reported unverified 31/31"; strings.Join(got, ", ") != want {
				t.Errorf("lists after migrating: %s, want %s", strings.Join(got, ", "), want)
			}
			for _, set := range []string{`kind = 'allow'`, `threshold = 257`, `threshold = -1`} {
				err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
					_, err := tx.Exec(ctx, `UPDATE lists SET `+set+` WHERE name = 'd20'`)
					return err
				})
				if err == nil {
					t.Errorf("the schema took %s", set)
				}
			}
		})
	}
}

// checkIntegrity checks that an SQLite database passes its integrity check
// (a schema edited in place by a migration must).
func checkIntegrity(t *testing.T, db *store.DB) {
	t.Helper()
	var check string
	db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `PRAGMA integrity_check`).Scan(&check)
	})
	if check != "ok" {
		t.Errorf("integrity check: %q", check)
	}
}
