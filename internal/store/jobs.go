package store

import (
	"context"
	"strconv"
	"time"
)

// The kinds of job that the store queues itself, in the transaction of
// the change that needs them.
const (
	JobTriage = "report.triage" // ref: a finished report's id
	JobNotify = "report.notify" // ref: a report event's id, to tell the provider's webhook
)

// enqueueJob queues a job of kind about ref, due at runAt, in the caller's
// transaction: it exists if and only if the change that needs it commits.
func enqueueJob(ctx context.Context, tx *Tx, kind, ref string, runAt time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO jobs (kind, ref, created_at, run_at) VALUES ($1, $2, $3, $4)`,
		kind, ref, time.Now().UTC(), runAt.UTC())
	return err
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
