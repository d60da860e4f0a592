package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
)

var _ jobs.Store = (*DB)(nil)

// enqueueJob queues a job of kind about ref, due at runAt, in the caller's
// transaction: it exists if and only if the change that needs it commits.
func enqueueJob(ctx context.Context, tx *Tx, kind, ref string, runAt time.Time) error {
	_, err := insertJob(ctx, tx, kind, ref, runAt)
	return err
}

// insertJob queues a job and returns its id.
func insertJob(ctx context.Context, tx *Tx, kind, ref string, runAt time.Time) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO jobs (kind, ref, created_at, run_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		kind, ref, jobTime(time.Now()), jobTime(runAt)).Scan(&id)
	return id, err
}

// jobTime is t as the jobs table keeps it: UTC, in microseconds.
func jobTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkJob checks kind and ref against the limits of the jobs table.
func checkJob(kind, ref string) error {
	if n := utf8.RuneCountInString(kind); n < 1 || n > 64 {
		return core.Errorf(core.ErrInvalid, "a job kind has 1 to 64 characters, not %d", n)
	}
	if n := utf8.RuneCountInString(ref); n > 255 {
		return core.Errorf(core.ErrInvalid, "a job ref has at most 255 characters, not %d", n)
	}
	return nil
}

// EnqueueJob implements jobs.Store.
func (db *DB) EnqueueJob(ctx context.Context, kind, ref string, runAt time.Time) (int64, error) {
	if err := checkJob(kind, ref); err != nil {
		return 0, err
	}
	var id int64
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		id, err = insertJob(ctx, tx, kind, ref, runAt)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("enqueueing job %s %q: %w", kind, ref, err)
	}
	return id, nil
}

// jobLockClass is the first key of the PostgreSQL advisory locks that
// EnsureJob takes, per kind and ref (the second key is their hash), in a
// key space apart from migrationLock's.
const jobLockClass = 0x6a6f6273 // "jobs"

// EnsureJob implements jobs.Store.
func (db *DB) EnsureJob(ctx context.Context, kind, ref string, runAt time.Time) error {
	if err := checkJob(kind, ref); err != nil {
		return err
	}
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return ensureJob(ctx, tx, kind, ref, runAt) })
	if err != nil {
		return fmt.Errorf("ensuring job %s %q: %w", kind, ref, err)
	}
	return nil
}

// ensureJob is EnsureJob in the caller's transaction.
func ensureJob(ctx context.Context, tx *Tx, kind, ref string, runAt time.Time) error {
	// On PostgreSQL, READ COMMITTED would let two nodes both see no
	// pending job and both insert one: the lock orders them, and the
	// second's check, a later statement, sees the first's job. SQLite
	// transactions are serializable already.
	if tx.Postgres() {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2::text || '/' || $3::text))`, jobLockClass, kind, ref); err != nil {
			return err
		}
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs
		WHERE kind = $1 AND ref = $2 AND done_at IS NULL AND dead_at IS NULL`, kind, ref).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	_, err = insertJob(ctx, tx, kind, ref, runAt)
	return err
}

const jobColumns = `id, kind, ref, attempts, abandoned, created_at, run_at, last_error, dead_at, revived_at`

func scanJob(r interface{ Scan(...any) error }) (jobs.Job, error) {
	var (
		j                 jobs.Job
		lastError         sql.NullString
		deadAt, revivedAt sql.NullTime
	)
	if err := r.Scan(&j.ID, &j.Kind, &j.Ref, &j.Attempts, &j.Abandoned, &j.CreatedAt, &j.RunAt, &lastError, &deadAt, &revivedAt); err != nil {
		return jobs.Job{}, err
	}
	j.CreatedAt, j.RunAt = j.CreatedAt.UTC(), j.RunAt.UTC()
	j.LastError, j.DeadAt, j.RevivedAt = lastError.String, nullTime(deadAt), nullTime(revivedAt)
	return j, nil
}

func queryJobs(ctx context.Context, tx *Tx, query string, args ...any) ([]jobs.Job, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var js []jobs.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	return js, rows.Err()
}

// pendingJobs is the FROM clause of a query on pending jobs, whose
// conditions include "done_at IS NULL AND dead_at IS NULL": it reads the
// jobs_due index, a small part of a table that keeps all the done jobs.
// SQLite, without statistics, would rather use jobs_ref: it is told.
func (db *DB) pendingJobs() string {
	if db.pg == nil {
		return "jobs INDEXED BY jobs_due"
	}
	return "jobs"
}

// ClaimJobs implements jobs.Store.
func (db *DB) ClaimJobs(ctx context.Context, owner string, kinds []string, now time.Time, lease time.Duration, limit int) ([]jobs.Job, error) {
	if len(kinds) == 0 || limit <= 0 {
		return nil, nil
	}
	// $1 is now, then the kinds; the due condition uses only those, so
	// that the look on a reader below can take just them.
	args := []any{jobTime(now)}
	in := make([]string, len(kinds))
	for i, k := range kinds {
		args = append(args, k)
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	due := db.pendingJobs() + ` WHERE done_at IS NULL AND dead_at IS NULL AND run_at <= $1
		AND (lease_until IS NULL OR lease_until <= $1) AND kind IN (` + strings.Join(in, ", ") + `)`

	if db.pg == nil {
		// SQLite has one writer for everything: an idle runner's poll
		// looks on a reader first rather than queue for it.
		var n int
		err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+due+` LIMIT 1)`, args...).Scan(&n)
		})
		if err != nil {
			return nil, fmt.Errorf("looking for due jobs: %w", err)
		}
		if n == 0 {
			return nil, nil
		}
	}
	k := len(args)
	args = append(args, owner, jobTime(now.Add(lease)), limit)
	// SKIP LOCKED lets concurrent claimers on PostgreSQL take different
	// jobs instead of queueing for the same rows; SQLite has a single
	// writer.
	lock := ""
	if db.pg != nil {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	// A job claimed while a lease is still on it (run out, since it is
	// due) was abandoned by the attempt that took that lease: SET sees
	// the row as it was.
	claim := fmt.Sprintf(`UPDATE jobs SET attempts = attempts + 1,
			abandoned = abandoned + CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END, lease_owner = $%d, lease_until = $%d
		WHERE id IN (SELECT id FROM %s ORDER BY run_at, id LIMIT $%d%s)
		RETURNING %s`, k+1, k+2, due, k+3, lock, jobColumns)
	var js []jobs.Job
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		js, err = queryJobs(ctx, tx, claim, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming jobs: %w", err)
	}
	// RETURNING has no order.
	slices.SortFunc(js, func(a, b jobs.Job) int {
		return cmp.Or(a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	return js, nil
}

// leasedJob runs update, a statement on the job $1 whose lease $2 holds,
// with further arguments $3..., and fails if it changed nothing.
func (db *DB) leasedJob(ctx context.Context, what string, id int64, owner string, update string, args ...any) error {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, update+` WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL AND dead_at IS NULL`,
			append([]any{id, owner}, args...)...)
		if err != nil || n == 1 {
			return err
		}
		return jobMissing(ctx, tx, id, "it is not pending under a lease of "+owner)
	})
	if err != nil {
		return fmt.Errorf("%s job %d: %w", what, id, err)
	}
	return nil
}

// jobMissing returns the error for a statement on job id that changed
// nothing: core.ErrNotFound if there is no such job, else core.ErrConflict
// with why.
func jobMissing(ctx context.Context, tx *Tx, id int64, why string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM jobs WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return core.Errorf(core.ErrNotFound, "no job %d", id)
	}
	if err != nil {
		return err
	}
	return core.Errorf(core.ErrConflict, "%s", why)
}

// The updates that end a lease clear it, so that its owner cannot act
// on the job again.
const releaseLease = `lease_owner = NULL, lease_until = NULL, abandoned = 0`

// ExtendJob implements jobs.Store.
func (db *DB) ExtendJob(ctx context.Context, id int64, owner string, until time.Time) error {
	return db.leasedJob(ctx, "extending the lease of", id, owner, `UPDATE jobs SET lease_until = $3`, jobTime(until))
}

// CompleteJob implements jobs.Store.
func (db *DB) CompleteJob(ctx context.Context, id int64, owner string, at time.Time) error {
	return db.leasedJob(ctx, "completing", id, owner, `UPDATE jobs SET done_at = $3, `+releaseLease, jobTime(at))
}

// RepeatJob implements jobs.Store.
func (db *DB) RepeatJob(ctx context.Context, id int64, owner string, at, next time.Time) error {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		var kind, ref string
		err := tx.QueryRow(ctx, `UPDATE jobs SET done_at = $3, `+releaseLease+`
			WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL AND dead_at IS NULL
			RETURNING kind, ref`, id, owner, jobTime(at)).Scan(&kind, &ref)
		if errors.Is(err, ErrNoRows) {
			return jobMissing(ctx, tx, id, "it is not pending under a lease of "+owner)
		}
		if err != nil {
			return err
		}
		_, err = insertJob(ctx, tx, kind, ref, next)
		return err
	})
	if err != nil {
		return fmt.Errorf("repeating job %d: %w", id, err)
	}
	return nil
}

// RetryJob implements jobs.Store.
func (db *DB) RetryJob(ctx context.Context, id int64, owner string, runAt time.Time, msg string) error {
	return db.leasedJob(ctx, "releasing", id, owner, `UPDATE jobs SET run_at = $3, last_error = $4, `+releaseLease, jobTime(runAt), msg)
}

// KillJob implements jobs.Store.
func (db *DB) KillJob(ctx context.Context, id int64, owner string, at time.Time, msg string) error {
	return db.leasedJob(ctx, "dead-lettering", id, owner, `UPDATE jobs SET dead_at = $3, last_error = $4, `+releaseLease, jobTime(at), msg)
}

// DeadJobs implements jobs.Store.
func (db *DB) DeadJobs(ctx context.Context, limit int) ([]jobs.Job, error) {
	if limit <= 0 {
		return nil, core.Errorf(core.ErrInvalid, "a limit of %d dead jobs", limit)
	}
	var js []jobs.Job
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		js, err = queryJobs(ctx, tx, `SELECT `+jobColumns+` FROM jobs
			WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1`, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing dead jobs: %w", err)
	}
	return js, nil
}

// ReviveJob implements jobs.Store.
func (db *DB) ReviveJob(ctx context.Context, id int64, at time.Time) error {
	at = jobTime(at)
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, `UPDATE jobs SET dead_at = NULL, run_at = $2, revived_at = $2
			WHERE id = $1 AND dead_at IS NOT NULL`, id, at)
		if err != nil || n == 1 {
			return err
		}
		return jobMissing(ctx, tx, id, "it is not dead")
	})
	if err != nil {
		return fmt.Errorf("reviving job %d: %w", id, err)
	}
	return nil
}

// PendingJobs implements jobs.Store.
func (db *DB) PendingJobs(ctx context.Context) (map[string]int, error) {
	var pending map[string]int
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		pending = make(map[string]int)
		rows, err := tx.Query(ctx, `SELECT kind, count(*) FROM `+db.pendingJobs()+`
			WHERE done_at IS NULL AND dead_at IS NULL GROUP BY kind`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				kind string
				n    int
			)
			if err := rows.Scan(&kind, &n); err != nil {
				return err
			}
			pending[kind] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("counting pending jobs: %w", err)
	}
	return pending, nil
}

// JobStats returns, for each kind that has pending, running or dead jobs,
// how many of each there are at now and since when the earliest due job
// has waited: what the metrics show at each scrape. One query, reading
// only the partial indexes of pending and of dead jobs (never the done
// ones, which the table keeps for a week), so its cost follows the backlog.
func (db *DB) JobStats(ctx context.Context, now time.Time) ([]jobs.KindStats, error) {
	deadJobs := "jobs"
	if db.pg == nil {
		deadJobs = "jobs INDEXED BY jobs_dead"
	}
	var out []jobs.KindStats
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT kind,
				sum(CASE WHEN lease_until > $1 THEN 0 ELSE 1 END),
				sum(CASE WHEN lease_until > $1 THEN 1 ELSE 0 END),
				0,
				min(CASE WHEN (lease_until IS NULL OR lease_until <= $1) AND run_at <= $1 THEN run_at END)
			FROM `+db.pendingJobs()+` WHERE done_at IS NULL AND dead_at IS NULL GROUP BY kind
			UNION ALL
			SELECT kind, 0, 0, count(*), NULL FROM `+deadJobs+` WHERE dead_at IS NOT NULL GROUP BY kind`, jobTime(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		byKind := map[string]int{}
		for rows.Next() {
			var (
				s      jobs.KindStats
				oldest any
			)
			if err := rows.Scan(&s.Kind, &s.Pending, &s.Running, &s.Dead, &oldest); err != nil {
				return err
			}
			// SQLite keeps times as microseconds since the epoch, and an
			// aggregate of them loses the column's type.
			switch v := oldest.(type) {
			case time.Time:
				s.OldestDue = v.UTC()
			case int64:
				s.OldestDue = time.UnixMicro(v).UTC()
			}
			if i, ok := byKind[s.Kind]; ok {
				out[i].Dead += s.Dead
				continue
			}
			byKind[s.Kind] = len(out)
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b jobs.KindStats) int { return cmp.Compare(a.Kind, b.Kind) })
	return out, nil
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// purgeBatch bounds the jobs one transaction of PurgeJobs deletes, so that
// it never holds SQLite's writer long.
const purgeBatch = 1000

// PurgeJobs deletes the jobs done before before, a batch per transaction,
// and returns how many. Done jobs only tell operators what ran; a report's
// own history (report_events) keeps every step. Dead jobs are kept until
// a person revives them.
func (db *DB) PurgeJobs(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
			var err error
			n, err = tx.Exec(ctx, `DELETE FROM jobs WHERE id IN
				(SELECT id FROM jobs WHERE done_at < $1 LIMIT $2)`, jobTime(before), purgeBatch)
			return err
		})
		total += int(n)
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}
