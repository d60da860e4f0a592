// Package jobs runs durable background work: jobs kept in the database,
// claimed by whichever node of "ward serve" is free, retried until they
// succeed or are given up.
//
// Delivery is at least once. A Runner claims a due job by taking a lease
// on it (Runner.Lease) and renews the lease while the handler runs. The job
// is done only once its handler has returned nil and the completion is
// recorded; if the node dies first, or cannot renew the lease in time, the
// lease runs out and another runner runs the job again. A handler must
// therefore be idempotent: running it twice, or (rarely, when a paused
// node resumes after its lease was taken over) twice at the same time,
// must have the effect of running it once. The handler's context ends when
// the runner notices that the lease was lost.
//
// A failed job is retried with exponential backoff. It is dead-lettered
// (kept, listed by Store.DeadJobs, revivable by a person) when its handler
// returns an error wrapped with Permanent, or when it is still failing
// Spec.DeadAfter after it was created or revived. A job whose attempts
// stop with their node (a crash, perhaps caused by the job) is
// dead-lettered, without running again, after five such attempts in a
// row or once past its Spec.DeadAfter: it must not stop one node after
// another for ever.
//
// Handler errors are logged and stored with the job, so they must not
// contain secrets or personal data.
//
// # Why not river
//
// This queue was measured against riverqueue/river v0.51.2 (riverpgxv5,
// riversqlite on modernc.org/sqlite through database/sql), both on one
// fresh database per run, 2 shared cores, 16 goroutines or workers (issue
// 10). We keep ours, because river would slow intake, slow recovery from a
// dead node and put a ceiling on how long a job may run:
//
//	                                       SQLite          PostgreSQL
//	                                     ours   river     ours   river
//	intake tx: report + its job, /s      6135    2348     5933    3164
//	  (ours through CreateDraft; the same insert + our job row: 8235 and
//	  4777/s; river is InsertTx inside the store's transaction)
//	enqueue, own tx each, 20k jobs, /s  14077    1418     8358    3143
//	work 20k trivial jobs, /s            1355    1796     1165    6534
//	  (river with FetchCooldown 1 ms; at its default 100 ms, 16 workers
//	  fetch 16 jobs per 100 ms: 160/s on both engines)
//	node SIGKILLed mid-job: rerun after   4.6 s  22.1 s    4.6 s  23.2 s
//	  (ours: 5 s lease; river: JobTimeout 4 s, RescueStuckJobsAfter 5 s)
//
// Both keep the transactional guarantee: a job inserted in the change's
// transaction exists if and only if it commits, on both engines, river
// inside SQLite's group commit savepoints too (it would need the store's
// raw transaction). Both keep a failed job for staff to retry (river's
// discarded state and JobRetry, if DiscardedJobRetentionPeriod is -1: by
// default it deletes them after 7 days, and a dead job here is never lost).
//
// What decides it:
//   - Intake is slower: intake transactions with river's insert ran at 38 %
//     (SQLite) and 53 % (PostgreSQL) of the rate of ours; SQLite's one
//     writer pays river's heavier insert for every report.
//   - River renews no lease: a job counts as stuck once it has run for
//     RescueStuckJobsAfter (default 1 h), found by the leader's rescuer
//     every 30 s, so recovery waits for that, for a new leader if the dead
//     node led, and for a retry backoff; and a job that runs longer is run
//     again while still running (river's documentation says so). Ours
//     renews the lease while the handler runs: recovery takes one lease
//     (1 min by default) whatever the job's length.
//   - No deadline to dead-letter by (Spec.DeadAfter) and no Permanent:
//     river discards after MaxAttempts, and JobCancel makes another state.
//   - Cost: river's own migration runner and 5 tables on each engine
//     (river_job, river_leader, river_migration, river_notification,
//     river_queue; 8 migrations) beside our numbered SQL; 12 more modules
//     in go.sum (10 linked); ward's binary 38.5 to 41.4 MB; riversqlite
//     calls itself early testing, wants a pool of one connection apart from
//     the store's writer, polls a notification table for LISTEN/NOTIFY, and
//     lacks advisory locks (unique jobs, periodic jobs and leader election
//     do work on SQLite).
//
// River works trivial jobs faster, with a low FetchCooldown, because it
// completes them in batches; ours records each outcome in a transaction of
// its own. Batching completions is the change to make here if the rate of
// work, not the handlers, ever limits the queue.
package jobs

import (
	"context"
	"errors"
	"time"
)

// KindPurge is the kind of the periodic job that deletes jobs done long
// ago (the store's PurgeJobs); its ref is "".
const KindPurge = "jobs.purge"

// Job is a job as claimed or listed.
type Job struct {
	ID        int64
	Kind, Ref string
	Attempts  int // claims so far, this one included
	// Abandoned is how many attempts in a row, just before this one,
	// never recorded an outcome: their node stopped while running them.
	Abandoned int
	CreatedAt time.Time
	RunAt     time.Time // due: not run before
	LastError string    // of the previous failed attempt, if any
	DeadAt    time.Time // zero unless dead
	RevivedAt time.Time // zero unless revived; Spec.DeadAfter then counts from it
}

// Handler does the work of a job. It must be idempotent (see the package
// documentation) and stop when ctx ends.
type Handler func(ctx context.Context, j Job) error

// Spec says how a Runner handles the jobs of one kind, Kind (the name in
// Job.Kind).
type Spec struct {
	Kind   string
	Handle Handler
	// DeadAfter: a job still failing this long after it was created (or
	// revived) is dead-lettered (kept, listed by DeadJobs, revivable);
	// 0 means retry forever.
	DeadAfter time.Duration
	// MaxBackoff caps the exponential backoff between attempts (default
	// 5 min; the first retry comes after Runner.FirstBackoff, then the
	// delay doubles, with jitter).
	MaxBackoff time.Duration
}

// Permanent wraps an error so that the job is dead-lettered at once: the
// input is bad and trying again cannot help. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was made by
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Store keeps the jobs. Package store implements it.
//
// ExtendJob, CompleteJob, RepeatJob, RetryJob and KillJob act on a job only
// as the owner of its lease: the claim's owner, even once the lease has run
// out, as long as no other claim took the job since. They fail with
// core.ErrConflict if the lease was lost or the job is no longer pending,
// and core.ErrNotFound if there is no such job. Times are kept in UTC, to
// the microsecond.
type Store interface {
	// EnqueueJob queues a job of kind about ref, due at runAt, and
	// returns its id.
	EnqueueJob(ctx context.Context, kind, ref string, runAt time.Time) (int64, error)
	// EnsureJob enqueues unless a pending (not done, not dead) job of
	// that kind and ref exists; safe across nodes.
	EnsureJob(ctx context.Context, kind, ref string, runAt time.Time) error
	// ClaimJobs leases to owner, until now+lease, up to limit pending
	// jobs of the given kinds that are due at now and not leased, the
	// earliest due first, and counts an attempt for each.
	ClaimJobs(ctx context.Context, owner string, kinds []string, now time.Time, lease time.Duration, limit int) ([]Job, error)
	// ExtendJob moves the end of owner's lease on job id to until.
	ExtendJob(ctx context.Context, id int64, owner string, until time.Time) error
	// CompleteJob records job id as done at at.
	CompleteJob(ctx context.Context, id int64, owner string, at time.Time) error
	// RepeatJob records job id as done at at and, in the same
	// transaction, enqueues a job of the same kind and ref due at next,
	// so that a periodic job cannot be lost between the two.
	RepeatJob(ctx context.Context, id int64, owner string, at, next time.Time) error
	// RetryJob releases job id, to run again at runAt; msg is the error
	// of this attempt.
	RetryJob(ctx context.Context, id int64, owner string, runAt time.Time, msg string) error
	// KillJob dead-letters job id at at; msg is why.
	KillJob(ctx context.Context, id int64, owner string, at time.Time, msg string) error
	// DeadJobs returns up to limit dead jobs, the most recently dead first.
	DeadJobs(ctx context.Context, limit int) ([]Job, error)
	// ReviveJob makes dead job id pending again, due at at, with its
	// attempts kept; core.ErrConflict if it is not dead.
	ReviveJob(ctx context.Context, id int64, at time.Time) error
	// PendingJobs returns the number of pending jobs of each kind that
	// has any.
	PendingJobs(ctx context.Context) (map[string]int, error)
}

// KindStats is the state of the jobs of one kind at a moment, for
// monitoring (package store's JobStats).
type KindStats struct {
	Kind    string
	Pending int // neither done nor dead, nor leased now (due or not)
	Running int // under a lease that has not run out
	Dead    int
	// OldestDue is when the earliest pending job that is due was due;
	// zero if none is.
	OldestDue time.Time
}

// Outcome is what became of one attempt at a job, as recorded.
type Outcome string

// The outcomes Runner.Observe is told of.
const (
	Done        Outcome = "done"        // succeeded
	Retry       Outcome = "retry"       // failed; it will be retried
	Dead        Outcome = "dead"        // failed and given up (dead-lettered)
	Interrupted Outcome = "interrupted" // stopped by shutdown; due again at once
)

// errLeaseLost ends the context of a handler whose job another runner has
// claimed.
var errLeaseLost = errors.New("the job's lease was lost to another runner")
