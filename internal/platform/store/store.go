// Package store keeps Ward's data in a database: an embedded SQLite file
// (the default, nothing to set up) or PostgreSQL (production: several
// servers, replicas, backups). Both run the same SQL wherever the dialects
// agree, and the same conformance suite (package storetest).
//
// A DB implements the Store interfaces of the domain packages (org.Store,
// indicator.Store). Every operation runs in a transaction given as a closure
// to ReadWrite or ReadOnly, which retries it when the database reports a
// conflict with a concurrent transaction.
//
// Schema migrations are embedded numbered SQL files, one folder per
// dialect; Open applies the missing ones, each in its own transaction, and
// records them in schema_migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is an open database. It is safe for concurrent use.
type DB struct {
	// PostgreSQL goes through pgx's own interface rather than database/sql:
	// COPY for bulk imports, binary results for streaming millions of
	// indicators, and no second layer of value conversion.
	pg *pgxpool.Pool

	// SQLite allows one writer at a time. All writes go through a single
	// connection, so writers in this process queue in Go (fairly, and
	// giving up when their context ends) instead of spinning in SQLite's
	// busy handler, and those that queue up are committed together
	// (group); reads use a pool of other connections and, in WAL mode,
	// never wait for the writer.
	writer, readers *sql.DB
	group           *groupCommitter
}

// Open opens the database at url, creating and migrating it as needed. A
// url of the form postgres://... or postgresql://... is a PostgreSQL
// connection string (as understood by pgx, so query parameters such as
// sslmode or search_path apply); anything else is the path of an SQLite
// file, optionally prefixed with "sqlite:".
func Open(ctx context.Context, url string) (*DB, error) {
	return openAt(ctx, url, 0)
}

// openAt is Open migrating only up to schema version upTo, if positive
// (for tests of a migration on data of the schema before it).
func openAt(ctx context.Context, url string, upTo int) (*DB, error) {
	var (
		db  *DB
		err error
	)
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		db, err = openPostgres(ctx, url)
	} else {
		db, err = openSQLite(strings.TrimPrefix(url, "sqlite:"), defaultBusyTimeout)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, upTo); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.pg != nil {
		db.pg.Close()
		return nil
	}
	db.group.close()
	return errors.Join(db.writer.Close(), db.readers.Close())
}

// ReadWrite runs fn in a read-write transaction, committed if fn returns
// nil and rolled back otherwise. If the database reports a conflict with a
// concurrent transaction (PostgreSQL serialization failure or deadlock,
// SQLite busy), the whole transaction is retried with backoff until it
// succeeds, ctx ends or attempts run out, so fn may run more than once and
// must not keep state from an earlier run.
//
// On PostgreSQL the transaction is READ COMMITTED; code that must see a
// stable value locks its row (SELECT ... FOR UPDATE). On SQLite it is
// serializable: it holds the database's write lock from its start.
func (db *DB) ReadWrite(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return retry(ctx, func() error { return db.transact(ctx, false, fn) })
}

// ReadOnly runs fn in a read-only transaction that sees one snapshot of the
// database throughout, retried as ReadWrite is.
func (db *DB) ReadOnly(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return retry(ctx, func() error { return db.transact(ctx, true, fn) })
}

func (db *DB) transact(ctx context.Context, readOnly bool, fn func(ctx context.Context, tx *Tx) error) error {
	if db.pg != nil {
		opts := pgx.TxOptions{}
		if readOnly {
			opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
		}
		ptx, err := db.pg.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		// A rollback after Commit does nothing; one after an error must
		// reach the server even if ctx has ended.
		defer ptx.Rollback(context.WithoutCancel(ctx))
		if err := fn(ctx, &Tx{pg: ptx}); err != nil {
			return err
		}
		return ptx.Commit(ctx)
	}
	if !readOnly {
		return db.group.write(ctx, fn)
	}
	stx, err := db.readers.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer stx.Rollback()
	if err := fn(ctx, &Tx{sq: stx}); err != nil {
		return err
	}
	return stx.Commit()
}

const (
	maxAttempts  = 10
	firstBackoff = 5 * time.Millisecond
	maxBackoff   = time.Second
)

// retry runs f until it succeeds, fails with an error that retrying cannot
// cure, ctx ends, or maxAttempts runs out.
func retry(ctx context.Context, f func() error) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		// Full jitter, so that transactions that collided do not collide
		// again in lockstep.
		t := time.NewTimer(rand.N(backoff) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryable reports whether err means a transaction lost a race with
// another and would probably succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" // serialization_failure, deadlock_detected
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff // the primary code of an extended one
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// Tx is a transaction on either engine. Both take $1, $2, ... placeholders
// and time.Time values (SQLite stores them as Unix microseconds).
type Tx struct {
	pg pgx.Tx  // PostgreSQL
	sq *sql.Tx // SQLite
}

// Postgres reports whether tx is on PostgreSQL, for the few statements
// whose SQL differs.
func (tx *Tx) Postgres() bool { return tx.pg != nil }

// Exec runs a statement and returns the number of rows it affected.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if tx.pg != nil {
		tag, err := tx.pg.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
	res, err := tx.sq.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Rows is the result of Query, read as with database/sql: call Next, Scan
// each row, then Err; Close when done early.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Query runs a query that returns rows.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if tx.pg != nil {
		return tx.pg.Query(ctx, query, args...)
	}
	rows, err := tx.sq.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() } // its error is also Err's

// ErrNoRows is the error of Row.Scan when the query returned no row.
var ErrNoRows = errors.New("no rows in result set")

// Row is the result of QueryRow.
type Row struct {
	pg pgx.Row
	sq *sql.Row
}

// QueryRow runs a query that returns at most one row.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) Row {
	if tx.pg != nil {
		return Row{pg: tx.pg.QueryRow(ctx, query, args...)}
	}
	return Row{sq: tx.sq.QueryRowContext(ctx, query, args...)}
}

// Scan copies the row's columns into dest, or returns ErrNoRows.
func (r Row) Scan(dest ...any) error {
	var err error
	if r.pg != nil {
		err = r.pg.Scan(dest...)
	} else {
		err = r.sq.Scan(dest...)
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return ErrNoRows
	}
	return err
}

// filter builds a query's WHERE clause from conditions and numbers the
// placeholders of their arguments, for the lists filtered and paged by
// what their callers ask.
type filter struct {
	conds []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return fmt.Sprintf("$%d", len(f.args))
}

// and adds a condition, in SQL with placeholders from arg.
func (f *filter) and(cond string) { f.conds = append(f.conds, cond) }

// where is the WHERE clause of the conditions, "" if none.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return `WHERE ` + strings.Join(f.conds, ` AND `)
}
