package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestSQLiteBusyRetry has two handles on one file, as "ward admin" and
// "ward serve" would: a write that finds the other holding the write lock
// beyond its busy timeout gets SQLITE_BUSY, and ReadWrite retries it until
// the lock is free.
func TestSQLiteBusyRetry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ward.db")
	open := func() *DB {
		db, err := openSQLite(path, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.migrate(ctx, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()

	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE lists SET max_distance = 1`); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	const hold = 300 * time.Millisecond // many busy timeouts
	time.AfterFunc(hold, func() { close(release) })
	start := time.Now()
	err := b.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE lists SET max_distance = max_distance + 1`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < hold-50*time.Millisecond {
		t.Errorf("the second write went through after %v, while the first held the lock", waited)
	}
	var d int
	if err := b.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT max_distance FROM lists WHERE name = 'known'`).Scan(&d)
	}); err != nil || d != 2 {
		t.Errorf("max distance %d, %v; want 2, both writes applied in order", d, err)
	}
}

// TestRetryGivesUp checks that retrying stops when the context ends.
func TestRetryGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	path := filepath.Join(t.TempDir(), "ward.db")
	a, err := openSQLite(path, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := openSQLite(path, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release := make(chan struct{})
	locked := make(chan struct{})
	go a.ReadWrite(context.Background(), func(ctx context.Context, tx *Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE t (x integer)`); err != nil {
			return err
		}
		close(locked)
		<-release
		return nil
	})
	<-locked
	defer close(release)
	start := time.Now()
	err = b.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE u (x integer)`)
		return err
	})
	if err == nil || !(retryable(err) || errors.Is(err, context.DeadlineExceeded)) || time.Since(start) > time.Second {
		t.Errorf("after %v: %v; want the busy error once the context ended", time.Since(start), err)
	}
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		&pgconn.PgError{Code: "40001"}:                            true, // serialization_failure
		&pgconn.PgError{Code: "40P01"}:                            true, // deadlock_detected
		fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40001"}): true,
		&pgconn.PgError{Code: "23505"}:                            false, // unique_violation
		errors.New("other"):                                       false,
		context.Canceled:                                          false,
	} {
		if got := retryable(err); got != want {
			t.Errorf("retryable(%v) = %v", err, got)
		}
	}
}
