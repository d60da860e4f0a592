package store

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// addReportEvent appends ev to its report's history, in the caller's
// transaction, and returns its id. An event that notifies the provider
// (report.EventKind.NotifiesProvider) also queues a forward.JobNotify with the
// event's id as its ref, if the provider has a webhook.
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
	// Only a provider with a webhook is notified: the others read their
	// reports' status, and a job per step would double the work of
	// handling each report.
	if ev.Kind.NotifiesProvider() {
		_, err := tx.Exec(ctx, `INSERT INTO jobs (kind, ref, created_at, run_at)
			SELECT $1, $2, $3, $4 FROM reports r JOIN orgs o ON o.id = r.provider_id
			WHERE r.id = $5 AND o.webhook_sealed IS NOT NULL`,
			forward.JobNotify, formatID(id), time.Now().UTC(), ev.At.UTC(), ev.ReportID)
		if err != nil {
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
