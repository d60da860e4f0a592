package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// TestGroupCommit writes from many goroutines at once, so that SQLite's
// writer commits them in groups, and checks that each write still commits
// or fails alone: a write whose function fails, panics or breaks a
// constraint leaves nothing behind, and the others of its group commit.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	exec := func(q string, args ...any) error {
		return db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, q, args...)
			return err
		})
	}
	if err := exec(`CREATE TABLE group_test (x INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := exec(`INSERT INTO group_test (x) VALUES (-1)`); err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fails on purpose")
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO group_test (x) VALUES ($1)`, i); err != nil {
					return err
				}
				switch {
				case i%7 == 3:
					return errFail
				case i%50 == 13:
					panic(fmt.Sprint("panic ", i))
				case i%11 == 5:
					_, err := tx.Exec(ctx, `INSERT INTO group_test (x) VALUES (-1)`) // taken
					return err
				}
				return nil
			})
		})
	}
	wg.Wait()
	want := map[int]bool{-1: true}
	for i := range n {
		switch {
		case i%7 == 3:
			if !errors.Is(errs[i], errFail) {
				t.Errorf("write %d: %v, want its own error", i, errs[i])
			}
		case i%50 == 13:
			if panics[i] != fmt.Sprint("panic ", i) {
				t.Errorf("write %d: panic %v reached the caller as %v", i, panics[i], errs[i])
			}
		case i%11 == 5:
			if errs[i] == nil {
				t.Errorf("write %d broke a constraint without an error", i)
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("write %d: %v %v", i, errs[i], panics[i])
			}
			want[i] = true
		}
	}
	got := map[int]bool{}
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *store.Tx) error {
		rows, err := tx.Query(ctx, `SELECT x FROM group_test`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var x int
			if err := rows.Scan(&x); err != nil {
				return err
			}
			got[x] = true
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	for x := range got {
		if !want[x] {
			t.Errorf("row %d of a failed write was committed", x)
		}
	}
	for x := range want {
		if !got[x] {
			t.Errorf("row %d of a successful write is missing", x)
		}
	}

	// A write whose context has ended while it queued does not run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err = db.ReadWrite(cctx, func(context.Context, *store.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled write: ran %v, %v", ran, err)
	}
}

// TestGroupCommitCancelled ends the context of one write of a group while
// its statement runs: the others of the group still commit. (SQLite rolls
// a whole transaction back when a statement in it is interrupted, as the
// driver does when the statement's context ends.)
func TestGroupCommitCancelled(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE group_test (x INTEGER PRIMARY KEY)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A first write holds the writer while the two others queue, so that
	// they run in one group.
	hold, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		db.ReadWrite(ctx, func(context.Context, *store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	})
	<-held
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var slowErr, fastErr error
	wg.Go(func() {
		slowErr = db.ReadWrite(cctx, func(ctx context.Context, tx *store.Tx) error {
			time.AfterFunc(5*time.Millisecond, cancel)
			_, err := tx.Exec(ctx, `INSERT INTO group_test (x) SELECT 1000000000 + count(*) FROM
				(WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) SELECT i FROM c)`)
			return err
		})
	})
	wg.Go(func() {
		fastErr = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO group_test (x) VALUES (1)`)
			return err
		})
	})
	time.Sleep(100 * time.Millisecond) // both queue behind the first
	close(hold)
	wg.Wait()
	if fastErr != nil {
		t.Errorf("a write failed because another of its group was cancelled: %v (the other: %v)", fastErr, slowErr)
	}
	var n int
	err = db.ReadOnly(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM group_test WHERE x = 1`).Scan(&n)
	})
	if err != nil || n != 1 {
		t.Errorf("the successful write's row: %d, %v", n, err)
	}
}

// TestGroupCommitShares checks that writes queued behind a busy writer do
// share a transaction: a write sees rows of its group that a reader, which
// sees only what is committed, does not. Without this, the tests above
// could pass with every write alone, never taking the savepoint path.
func TestGroupCommitShares(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE share_test (x INTEGER PRIMARY KEY)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	hold, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		db.ReadWrite(ctx, func(context.Context, *store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	})
	<-held
	var shared atomic.Int64
	for i := range 20 {
		wg.Go(func() {
			err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO share_test (x) VALUES ($1)`, i); err != nil {
					return err
				}
				var inTx, committed int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_test`).Scan(&inTx); err != nil {
					return err
				}
				err := db.ReadOnly(ctx, func(ctx context.Context, rtx *store.Tx) error {
					return rtx.QueryRow(ctx, `SELECT count(*) FROM share_test`).Scan(&committed)
				})
				if inTx-committed > 1 { // more than its own row is uncommitted
					shared.Add(1)
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // all queue behind the first
	close(hold)
	wg.Wait()
	if shared.Load() == 0 {
		t.Error("no write shared its transaction with another: writes are not grouped")
	}
}
