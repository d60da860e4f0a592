// Package mirror keeps a provider's offline copy of one indicator list in
// a local SQLite file, so that matching ("ward scan") needs no network and
// no content ever leaves the provider. The file is brought up to date from
// the list's change feed ("ward sync"); each page of changes is applied in
// one transaction together with the cursor, so an interrupted sync leaves a
// consistent mirror that resumes where it stopped. Each sync also records
// the list's kind, maximum distance and threshold as the server has them
// then, so that matching against several mirrors (Matcher) applies a
// mirrored suppress list as the server does.
package mirror

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/sqldb"
)

// ErrMismatch is returned when a mirror file is used with another server or
// list than the one it was made from.
var ErrMismatch = errors.New("mirror belongs to another server or list")

// Entry is one active indicator in the mirror.
type Entry struct {
	ID       int64
	Signal   string
	Value    string
	Category string
}

// State says what a mirror copies and how far it has got.
type State struct {
	Server string // base URL of the server it follows
	List   string
	Seq    int64 // the last change applied
	Count  int64 // active indicators held
	// Kind, MaxDistance and Threshold are the list's settings as of the
	// last sync; Kind is "" if no sync recorded them (a mirror made
	// before lists had kinds).
	Kind        indicator.ListKind
	MaxDistance int
	Threshold   int
	// LogKey is the verifier key of the list's log the mirror trusts,
	// and Checkpoint the signed checkpoint of the log it last verified
	// and applied up to; both are "" in a mirror no verified sync made.
	LogKey     string
	Checkpoint string
}

// Mirror is an open mirror file.
type Mirror struct {
	db   *sql.DB
	path string
}

// migrations holds the mirror's schema as numbered files
// (sqldb.Migration); a change to the schema is a new file.
//
//go:embed migrations
var migrations embed.FS

// busyTimeout is how long a statement waits for another process's lock
// ("ward sync" while "ward scan" reads) before failing.
const busyTimeout = 5 * time.Second

// Open opens the mirror file at path, creating it when create is true.
func Open(ctx context.Context, path string, create bool) (*Mirror, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("mirror %s: %w (create it with ward sync)", path, err)
		}
	} else if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	uri, err := sqldb.SQLiteURI(path, busyTimeout)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", uri+sqldb.SQLiteWriter)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := sqldb.MigrateSQLite(ctx, db, ms); err != nil {
		db.Close()
		return nil, fmt.Errorf("mirror %s: %w", path, err)
	}
	return &Mirror{db: db, path: path}, nil
}

// Close closes the file.
func (m *Mirror) Close() error { return m.db.Close() }

// State returns the mirror's state; Server and List are empty for a new
// mirror.
func (m *Mirror) State(ctx context.Context) (State, error) {
	var s State
	rows, err := m.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return s, err
		}
		switch k {
		case "server":
			s.Server = v
		case "list":
			s.List = v
		case "seq":
			if s.Seq, err = strconv.ParseInt(v, 10, 64); err != nil {
				return s, fmt.Errorf("mirror %s: bad sequence number %q", m.path, v)
			}
		case "kind":
			s.Kind = indicator.ListKind(v)
		case "log_key":
			s.LogKey = v
		case "checkpoint":
			s.Checkpoint = v
		case "max_distance", "threshold":
			n, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("mirror %s: bad %s %q", m.path, k, v)
			}
			if k == "threshold" {
				s.Threshold = n
			} else {
				s.MaxDistance = n
			}
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	err = m.db.QueryRowContext(ctx, `SELECT count(*) FROM indicators`).Scan(&s.Count)
	return s, err
}

// Bind records which server and list the mirror copies, or checks that
// they are the ones it already copies.
func (m *Mirror) Bind(ctx context.Context, server, list string) error {
	s, err := m.State(ctx)
	if err != nil {
		return err
	}
	if s.Server == "" && s.List == "" {
		_, err := m.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('server', ?), ('list', ?), ('seq', '0')`, server, list)
		return err
	}
	if s.Server != server || s.List != list {
		return fmt.Errorf("%w: %s copies list %q of %s, not list %q of %s", ErrMismatch, m.path, s.List, s.Server, list, server)
	}
	return nil
}

// SetList records the list's settings, as the server has them now.
func (m *Mirror) SetList(ctx context.Context, kind indicator.ListKind, maxDistance, threshold int) error {
	return m.update(ctx, func(tx *sql.Tx) error {
		return setMeta(ctx, tx, map[string]string{"kind": string(kind), "max_distance": strconv.Itoa(maxDistance), "threshold": strconv.Itoa(threshold)})
	})
}

// setMeta sets keys of the meta table.
func setMeta(ctx context.Context, tx *sql.Tx, kv map[string]string) error {
	for k, v := range kv {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return err
		}
	}
	return nil
}

// update runs fn in a transaction, committed if fn returns nil.
func (m *Mirror) update(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Change is one change to apply: an activation or release adds the
// entry, a withdrawal or quarantine removes it. Other kinds are ignored.
type Change struct {
	Seq   int64
	Kind  string // "activate", "release", "withdraw" or "quarantine"
	Entry Entry
}

// Apply applies changes and moves the cursor to next in one transaction.
// Applying the same page twice is harmless.
func (m *Mirror) Apply(ctx context.Context, changes []Change, next int64) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var cur string
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'seq'`).Scan(&cur); err != nil {
		return fmt.Errorf("mirror %s is not bound to a list: %w", m.path, err)
	}
	if c, _ := strconv.ParseInt(cur, 10, 64); next < c {
		return fmt.Errorf("mirror %s is at change %d; refusing to go back to %d", m.path, c, next)
	}
	for _, c := range changes {
		e := c.Entry
		switch c.Kind {
		case "activate", "release":
			_, err = tx.ExecContext(ctx, `INSERT INTO indicators (id, signal, value, category) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET signal = excluded.signal, value = excluded.value, category = excluded.category`,
				e.ID, e.Signal, e.Value, e.Category)
		case "withdraw", "quarantine":
			_, err = tx.ExecContext(ctx, `DELETE FROM indicators WHERE id = ?`, e.ID)
		}
		if err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'seq'`, strconv.FormatInt(next, 10)); err != nil {
		return err
	}
	return tx.Commit()
}

// ForEach calls fn for every entry, in ID order.
func (m *Mirror) ForEach(ctx context.Context, fn func(Entry) error) error {
	rows, err := m.db.QueryContext(ctx, `SELECT id, signal, value, category FROM indicators ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Signal, &e.Value, &e.Category); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
