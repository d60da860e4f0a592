package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrations holds the schema of each dialect as numbered files,
// NNNN_description.sql, applied in order. A released file is never edited:
// a change to the schema is a new file, in both folders.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of one dialect ("sqlite" or
// "postgres") and checks that they are numbered 1, 2, 3, ...
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // sorted by name, so by version
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s is not named NNNN_description.sql", dir, e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s/%s: want version %d", dir, e.Name(), len(ms)+1)
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations when several servers start at once.
const migrationLock = 0x77617264 // "ward"

// migrate applies the migrations the database lacks, each in its own
// transaction together with its record, so a failure leaves the database
// at the previous version. If upTo is positive, it stops after version
// upTo.
func (db *DB) migrate(ctx context.Context, upTo int) error {
	dialect := "sqlite"
	if db.pg != nil {
		dialect = "postgres"
	}
	ms, err := loadMigrations(dialect)
	if err != nil {
		return err
	}
	if upTo > 0 && upTo < len(ms) {
		ms = ms[:upTo]
	}
	// lock makes a PostgreSQL transaction wait for any other server's
	// migration; SQLite's write transactions are already exclusive.
	lock := func(ctx context.Context, tx *Tx) error {
		if tx.Postgres() {
			_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock)
			return err
		}
		return nil
	}
	var applied int
	err = db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		if err := lock(ctx, tx); err != nil {
			return err
		}
		timeType := "TIMESTAMP"
		if tx.Postgres() {
			timeType = "timestamptz"
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at `+timeType+` NOT NULL
		)`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&applied)
	})
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if applied > len(ms) {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d: run a newer ward", applied, len(ms))
	}
	for _, m := range ms[applied:] {
		err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
			if err := lock(ctx, tx); err != nil {
				return err
			}
			var done int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&done); err != nil {
				return err
			}
			if done > 0 { // another server applied it meanwhile
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UTC())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s/%s: %w", dialect, m.name, err)
		}
	}
	return nil
}
