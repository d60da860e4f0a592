package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxGroup bounds the write transactions committed together: enough to
// absorb a burst, few enough that a failure (which fails the whole group)
// costs little.
const maxGroup = 64

// groupCommitter runs the write transactions of SQLite (one writer) on one
// goroutine and commits those that queue up meanwhile together, each inside
// a savepoint of one transaction: one fsync (synchronous=FULL) for many
// transactions instead of one each, which is what bounds SQLite's write
// rate. Each caller's fn still commits or fails alone: a fn that fails is
// rolled back to its savepoint and the others go on. If the commit itself
// fails, every fn of the group gets the error, and ReadWrite retries those
// the error allows.
type groupCommitter struct {
	db     *sql.DB
	reqs   chan *writeReq
	quit   chan struct{}
	closed sync.WaitGroup
}

type writeReq struct {
	ctx      context.Context
	fn       func(ctx context.Context, tx *Tx) error
	done     chan error
	panicked any // fn's panic, re-raised in the caller's goroutine
}

var errClosed = errors.New("the database is closed")

func newGroupCommitter(db *sql.DB) *groupCommitter {
	g := &groupCommitter{db: db, reqs: make(chan *writeReq), quit: make(chan struct{})}
	g.closed.Go(g.loop)
	return g
}

// close stops the committer once the group it runs, if any, is done.
func (g *groupCommitter) close() {
	close(g.quit)
	g.closed.Wait()
}

// write runs fn in a write transaction, possibly shared with others, and
// returns once that transaction has committed or fn has failed. Callers
// queue fairly and give up while queued when ctx ends.
func (g *groupCommitter) write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return errClosed
	}
	err := <-r.done // answered always, even if ctx ends now: fn may have committed
	if r.panicked != nil {
		panic(r.panicked)
	}
	return err
}

func (g *groupCommitter) loop() {
	group := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case r := <-g.reqs:
			group = append(group[:0], r)
		case <-g.quit:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		g.commit(group)
	}
}

// commit runs a group in one transaction and answers each caller.
func (g *groupCommitter) commit(group []*writeReq) {
	errs := make([]error, len(group))
	answer := func() {
		for i, r := range group {
			r.done <- errs[i]
		}
	}
	failAll := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
	}
	tx, err := g.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(err)
		return
	}
	// A single transaction needs no savepoint: fn's failure rolls it back.
	shared := len(group) > 1
	ran := 0
	for i, r := range group {
		if errs[i] = r.ctx.Err(); errs[i] != nil {
			continue
		}
		if shared {
			if _, err := tx.Exec("SAVEPOINT ward_write"); err != nil {
				tx.Rollback()
				failAll(fmt.Errorf("starting a savepoint: %w", err))
				return
			}
		}
		errs[i] = call(r, tx, shared)
		if !shared {
			break
		}
		if errs[i] != nil {
			// Undoes fn alone. If SQLite rolled the whole transaction
			// back (a full disk, an I/O error), this fails and so does
			// everyone's write.
			if _, err := tx.Exec("ROLLBACK TO ward_write"); err != nil {
				tx.Rollback()
				failAll(fmt.Errorf("rolling back a failed write (%v): %w", errs[i], err))
				return
			}
		}
		if _, err := tx.Exec("RELEASE ward_write"); err != nil {
			tx.Rollback()
			failAll(fmt.Errorf("releasing a savepoint: %w", err))
			return
		}
		if errs[i] == nil {
			ran++
		}
	}
	if !shared && errs[0] != nil || shared && ran == 0 {
		tx.Rollback()
		answer()
		return
	}
	if err := tx.Commit(); err != nil {
		failAll(err)
		return
	}
	answer()
}

// errPanicked stands for fn's panic until the caller re-raises it.
var errPanicked = errors.New("the transaction's function panicked")

// call runs r.fn in tx, turning a panic into errPanicked (the transaction,
// or its savepoint, is then rolled back) and keeping the panic for the
// caller. In a shared transaction fn's statements are not cancelled with
// r.ctx: SQLite rolls back the whole transaction, everyone's writes, when
// it interrupts a statement. The caller waits for its answer anyway.
func call(r *writeReq, tx *sql.Tx, shared bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked, err = p, errPanicked
		}
	}()
	ctx := r.ctx
	if shared {
		ctx = context.WithoutCancel(ctx)
	}
	return r.fn(ctx, &Tx{sq: tx})
}
