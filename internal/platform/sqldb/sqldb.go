// Package sqldb is what Ward's SQL databases share: the numbered schema
// migrations that both the store (SQLite and PostgreSQL) and a provider's
// mirror file (SQLite) are made by, and the settings SQLite files are
// opened with.
package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Migration is one numbered schema change, a file NNNN_description.sql.
// A released file is never edited: a change to the schema is a new file.
type Migration struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// LoadMigrations reads the migrations in folder dir of fsys and checks
// that they are numbered 1, 2, 3, ... without a gap.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries { // sorted by name, so by version
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s is not named NNNN_description.sql", dir, e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s/%s: want version %d", dir, e.Name(), len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	return ms, nil
}

// MigrationsTable records the migrations applied to a database.
const MigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at %s NOT NULL
)`

// MigrateSQLite applies to db, an SQLite database with one writer, the
// migrations it lacks, each in its own transaction together with its
// record in schema_migrations, so that a failure leaves it at the
// previous version.
func MigrateSQLite(ctx context.Context, db *sql.DB, ms []Migration) error {
	if _, err := db.ExecContext(ctx, fmt.Sprintf(MigrationsTable, "TIMESTAMP")); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	var applied int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if applied > len(ms) {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d: run a newer ward", applied, len(ms))
	}
	for _, m := range ms[applied:] {
		if err := apply(ctx, db, m); err != nil {
			return fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UTC()); err != nil {
		return err
	}
	return tx.Commit()
}

// SQLiteURI returns the data source name of the SQLite file at path,
// created if missing, with the settings of every connection: foreign keys
// enforced, times stored as Unix microseconds in TIMESTAMP columns, and
// busyTimeout to wait for a lock another process holds before failing
// with SQLITE_BUSY. A writer appends SQLiteWriter.
func SQLiteURI(path string, busyTimeout time.Duration) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	// As a URI, so that any character can appear in the path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	return uri + fmt.Sprintf("?_busy_timeout=%d&_foreign_keys=1&_time_integer_format=unix_micro&_inttotime=1", busyTimeout.Milliseconds()), nil
}

// SQLiteWriter are the settings of the connection that writes, appended
// to SQLiteURI's. WAL: readers and the writer do not block each other.
// synchronous=FULL: with NORMAL a commit can be lost in a power failure
// even after it was acknowledged. BEGIN IMMEDIATE: the write lock is taken
// when a transaction begins rather than at its first write, so that a
// transaction that read first cannot fail to upgrade its lock half way.
const SQLiteWriter = "&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"
