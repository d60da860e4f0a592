package store

import (
	"context"
	"embed"
	"fmt"
	"path"
	"time"

	"github.com/wardhq/ward/internal/platform/sqldb"
)

// migrations holds the schema of each dialect as numbered files
// (sqldb.Migration), migrations/sqlite and migrations/postgres, applied
// in order; a change to the schema is a new file in both folders, with
// the same number and name.
//
//go:embed migrations
var migrations embed.FS

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
	ms, err := sqldb.LoadMigrations(migrations, path.Join("migrations", dialect))
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
		if _, err := tx.Exec(ctx, fmt.Sprintf(sqldb.MigrationsTable, timeType)); err != nil {
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
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done > 0 { // another server applied it meanwhile
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UTC())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s/%s: %w", dialect, m.Name, err)
		}
	}
	return nil
}
