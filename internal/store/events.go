package store

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/report"
)

// providerVisible is the event kinds that change what a provider's status
// view shows: each queues a JobNotify, which tells the provider's webhook.
var providerVisible = map[report.EventKind]bool{
	report.EventQueued:        true,
	report.EventBundled:       true,
	report.EventInfoRequested: true,
	report.EventUnfounded:     true,
	report.EventForwarded:     true,
}

// addReportEvent appends ev to its report's history, in the caller's
// transaction, and returns its id. An event the provider sees also queues
// a JobNotify with the event's id as its ref.
func addReportEvent(ctx context.Context, tx *Tx, ev report.Event) (int64, error) {
	var org any
	if ev.Org != 0 {
		org = ev.Org
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO report_events (report_id, at, kind, actor, org_id, detail_sealed)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		ev.ReportID, ev.At.UTC(), string(ev.Kind), ev.Actor, org, ev.Detail).Scan(&id)
	if err != nil {
		return 0, err
	}
	if providerVisible[ev.Kind] {
		if err := enqueueJob(ctx, tx, JobNotify, formatID(id), ev.At); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// ReportEvents returns the history of report id, oldest first, details
// sealed. It does not check who may see it: the caller has.
func (db *DB) ReportEvents(ctx context.Context, id string) ([]report.Event, error) {
	var evs []report.Event
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		evs = nil
		rows, err := tx.Query(ctx, `SELECT id, report_id, at, kind, actor, COALESCE(org_id, 0), detail_sealed
			FROM report_events WHERE report_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ev report.Event
			var at time.Time
			if err := rows.Scan(&ev.ID, &ev.ReportID, &at, &ev.Kind, &ev.Actor, &ev.Org, &ev.Detail); err != nil {
				return err
			}
			ev.At = at.UTC()
			evs = append(evs, ev)
		}
		return rows.Err()
	})
	return evs, err
}
