package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Forward returns db as forward.Store: the DB's methods and the
// transactions of forwarding (Update, with forward.Tx), as Triage does
// for triage.
func (db *DB) Forward() forward.Store { return forwardStore{db} }

type forwardStore struct{ *DB }

const deliveryColumns = `d.report_id, d.org_id, d.created_at, d.acked_at, d.pushed_at, d.last_attempt_at, d.attempts,
	COALESCE(d.last_error, ''), d.corrected_at, r.urgent, r.type`

// deliveryNew is the condition of a delivery new to its authority: not
// acknowledged, or corrected since (forward.Correct).
// (Unqualified, for the UPDATE of AckDelivery: reports, joined in the
// lists, has neither column. Never NULL, so that NOT deliveryNew is the
// acknowledged ones.)
const deliveryNew = `(acked_at IS NULL OR (corrected_at IS NOT NULL AND corrected_at > acked_at))`

// deliveryFrom joins a delivery to its report, for the report's urgency
// and type.
const deliveryFrom = ` FROM deliveries d JOIN reports r ON r.id = d.report_id `

func scanDelivery(r interface{ Scan(...any) error }, d *forward.Delivery) error {
	var acked, pushed, attempted, corrected sql.NullTime
	if err := r.Scan(&d.ReportID, &d.Org, &d.CreatedAt, &acked, &pushed, &attempted, &d.Attempts,
		&d.LastError, &corrected, &d.Urgent, &d.Type); err != nil {
		return err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	d.AckedAt, d.PushedAt, d.LastAttemptAt, d.CorrectedAt = nullTime(acked), nullTime(pushed), nullTime(attempted), nullTime(corrected)
	return nil
}

// delivery returns the delivery of report id to orgID, or an
// core.ErrNotFound error.
func delivery(ctx context.Context, tx *Tx, id string, orgID int64) (forward.Delivery, error) {
	var d forward.Delivery
	err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+`WHERE d.report_id = $1 AND d.org_id = $2`,
		id, orgID), &d)
	if errors.Is(err, ErrNoRows) {
		return d, core.Errorf(core.ErrNotFound, "no report %s was forwarded to your organisation", id)
	}
	return d, err
}

// ReportEvent implements forward.Store.
func (db *DB) ReportEvent(ctx context.Context, id int64) (report.Event, error) {
	var ev report.Event
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT id, report_id, at, kind, actor, COALESCE(org_id, 0), detail_sealed
			FROM report_events WHERE id = $1`, id).Scan(&ev.ID, &ev.ReportID, &ev.At, &ev.Kind, &ev.Actor, &ev.Org, &ev.Detail)
	})
	if errors.Is(err, ErrNoRows) {
		return ev, core.Errorf(core.ErrNotFound, "no report event %d", id)
	}
	ev.At = ev.At.UTC()
	return ev, err
}

// Update implements forward.Store.
func (s forwardStore) Update(ctx context.Context, fn func(ctx context.Context, tx forward.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, forwardTx{tx}) })
}

// forwardTx is the row operations of forward.Tx, in SQL.
type forwardTx struct{ tx *Tx }

// ReportState implements forward.Tx.
func (t forwardTx) ReportState(ctx context.Context, id string) (report.State, error) {
	rec, err := centreReport(ctx, t.tx, id, true)
	return rec.State, err
}

// Routed implements forward.Tx.
func (t forwardTx) Routed(ctx context.Context, id string) (bool, error) {
	var routed bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE report_id = $1)`, id).Scan(&routed)
	return routed, err
}

// HasWebhook implements forward.Tx.
func (t forwardTx) HasWebhook(ctx context.Context, orgID int64) (bool, error) {
	var hook bool
	err := t.tx.QueryRow(ctx, `SELECT webhook_sealed IS NOT NULL FROM orgs WHERE id = $1`, orgID).Scan(&hook)
	if errors.Is(err, ErrNoRows) {
		return false, core.Errorf(core.ErrNotFound, "no organisation %d", orgID)
	}
	return hook, err
}

// AddDelivery implements forward.Tx.
func (t forwardTx) AddDelivery(ctx context.Context, id string, orgID int64, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO deliveries (report_id, org_id, created_at) VALUES ($1, $2, $3)`, id, orgID, at)
	return err
}

// AddEvent implements forward.Tx.
func (t forwardTx) AddEvent(ctx context.Context, ev report.Event) error {
	_, err := addReportEvent(ctx, t.tx, ev)
	return err
}

// QueueJob implements forward.Tx.
func (t forwardTx) QueueJob(ctx context.Context, kind, ref string, at time.Time) error {
	return enqueueJob(ctx, t.tx, kind, ref, at)
}

// DeliveredTo implements forward.Tx.
func (t forwardTx) DeliveredTo(ctx context.Context, id string) ([]int64, error) {
	rows, err := t.tx.Query(ctx, `SELECT org_id FROM deliveries WHERE report_id = $1 ORDER BY org_id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var o int64
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// AddCorrection implements forward.Tx.
func (t forwardTx) AddCorrection(ctx context.Context, ev report.Event) (int64, error) {
	n, err := t.tx.Exec(ctx, `UPDATE deliveries SET corrected_at = $3 WHERE report_id = $1 AND org_id = $2`, ev.ReportID, ev.Org, ev.At)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no delivery of report %s to organisation %d", ev.ReportID, ev.Org)
	}
	if err != nil {
		return 0, err
	}
	return addReportEvent(ctx, t.tx, ev)
}

// Deliveries implements forward.Store.
func (db *DB) Deliveries(ctx context.Context, orgID int64, q forward.InboxQuery) ([]forward.Delivery, error) {
	cond := ""
	switch q.Status {
	case forward.StatusNew:
		cond = ` AND ` + deliveryNew
	case forward.StatusAcknowledged:
		cond = ` AND NOT ` + deliveryNew
	}
	var ds []forward.Delivery
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		ds = nil
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+`
			WHERE d.org_id = $1 AND (d.created_at > $2 OR (d.created_at = $2 AND d.report_id > $3))`+cond+`
			ORDER BY d.created_at, d.report_id LIMIT $4`, orgID, q.After.At, q.After.ReportID, q.Limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d forward.Delivery
			if err := scanDelivery(rows, &d); err != nil {
				return err
			}
			ds = append(ds, d)
		}
		return rows.Err()
	})
	return ds, err
}

// Delivery implements forward.Store.
func (db *DB) Delivery(ctx context.Context, id string, orgID int64) (forward.Delivery, error) {
	var d forward.Delivery
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		d, err = delivery(ctx, tx, id, orgID)
		return err
	})
	return d, err
}

// AckDelivery implements forward.Store.
func (db *DB) AckDelivery(ctx context.Context, id string, orgID int64, actor string, at time.Time) (forward.Delivery, error) {
	var d forward.Delivery
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The condition makes concurrent acknowledgements record one
		// event.
		n, err := tx.Exec(ctx, `UPDATE deliveries SET acked_at = $1 WHERE report_id = $2 AND org_id = $3 AND `+deliveryNew,
			at, id, orgID)
		if err != nil {
			return err
		}
		if n == 1 {
			ev := report.Event{ReportID: id, At: at, Kind: report.EventAcknowledged, Actor: actor, Org: orgID}
			if _, err := addReportEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		d, err = delivery(ctx, tx, id, orgID)
		return err
	})
	return d, err
}

// AddFeedback implements forward.Store.
func (db *DB) AddFeedback(ctx context.Context, f forward.Feedback, actor string, detail []byte, nonDisclosure time.Time) (forward.Feedback, error) {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The report's row is locked first, so that concurrent requests
		// of non-disclosure compare with each other's ends.
		if _, err := centreReport(ctx, tx, f.ReportID, true); err != nil {
			return err
		}
		if _, err := delivery(ctx, tx, f.ReportID, f.Org); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO feedback (report_id, org_id, at, outcome, note_sealed)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, f.ReportID, f.Org, f.At, string(f.Outcome), f.Note).Scan(&f.ID); err != nil {
			return err
		}
		if !nonDisclosure.IsZero() {
			n, err := tx.Exec(ctx, `UPDATE reports SET non_disclosure_until = $1
				WHERE id = $2 AND (non_disclosure_until IS NULL OR non_disclosure_until < $1)`, nonDisclosure, f.ReportID)
			if err != nil {
				return err
			}
			// The provider must hear of it before it tells the user: an
			// event of its own, which its webhook is notified of.
			if n == 1 {
				ev := report.Event{ReportID: f.ReportID, At: f.At, Kind: report.EventNonDisclosure, Actor: actor, Org: f.Org}
				if _, err := addReportEvent(ctx, tx, ev); err != nil {
					return err
				}
			}
		}
		ev := report.Event{ReportID: f.ReportID, At: f.At, Kind: report.EventFeedback, Actor: actor, Org: f.Org, Detail: detail}
		_, err := addReportEvent(ctx, tx, ev)
		return err
	})
	if err != nil {
		return forward.Feedback{}, err
	}
	return f, nil
}

// RecordPush implements forward.Store.
func (db *DB) RecordPush(ctx context.Context, id string, orgID int64, at time.Time, failure string) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		q := `UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = $1, last_error = $2
			WHERE report_id = $3 AND org_id = $4`
		args := []any{at, failure, id, orgID}
		if failure == "" {
			q = `UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = $1, last_error = NULL,
				pushed_at = COALESCE(pushed_at, $1) WHERE report_id = $2 AND org_id = $3`
			args = []any{at, id, orgID}
		}
		n, err := tx.Exec(ctx, q, args...)
		if err == nil && n == 0 {
			err = core.Errorf(core.ErrNotFound, "no delivery of report %s to organisation %d", id, orgID)
		}
		return err
	})
}

// Webhook implements forward.Store.
func (db *DB) Webhook(ctx context.Context, orgID int64) ([]byte, error) {
	var hook []byte
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT webhook_sealed FROM orgs WHERE id = $1`, orgID).Scan(&hook)
	})
	if errors.Is(err, ErrNoRows) {
		return nil, core.Errorf(core.ErrNotFound, "no organisation %d", orgID)
	}
	if len(hook) == 0 {
		hook = nil
	}
	return hook, err
}

// SetWebhook implements forward.Store.
func (db *DB) SetWebhook(ctx context.Context, orgID int64, sealed []byte) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return setWebhook(ctx, tx, orgID, sealed) })
}

// setWebhook sets organisation orgID's sealed webhook within tx.
func setWebhook(ctx context.Context, tx *Tx, orgID int64, sealed []byte) error {
	var v any
	if sealed != nil {
		v = sealed
	}
	n, err := tx.Exec(ctx, `UPDATE orgs SET webhook_sealed = $1, webhook_url = NULL WHERE id = $2`, v, orgID)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no organisation %d", orgID)
	}
	return err
}

// SealClearWebhooks replaces each webhook URL stored in clear (before
// migration 0012) with seal's result, in one transaction, and returns how
// many it sealed; if any, it then vacuums (vacuumOrgs). forward.SealClearWebhooks
// calls it.
func (db *DB) SealClearWebhooks(ctx context.Context, seal func(orgID int64, hook string) ([]byte, error)) (int, error) {
	type clear struct {
		id   int64
		hook string
	}
	var hooks []clear
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		hooks = nil
		rows, err := tx.Query(ctx, `SELECT id, webhook_url FROM orgs WHERE webhook_url IS NOT NULL ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c clear
			if err := rows.Scan(&c.id, &c.hook); err != nil {
				return err
			}
			hooks = append(hooks, c)
		}
		return rows.Err()
	})
	if err != nil || len(hooks) == 0 {
		return 0, err
	}
	// Sealed before the transaction, as seal.Sealer.Seal wants.
	sealed := make([][]byte, len(hooks))
	for i, c := range hooks {
		if sealed[i], err = seal(c.id, c.hook); err != nil {
			return 0, err
		}
	}
	var n int
	err = db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n = 0
		for i, c := range hooks {
			// Unless changed meanwhile.
			m, err := tx.Exec(ctx, `UPDATE orgs SET webhook_sealed = $1, webhook_url = NULL WHERE id = $2 AND webhook_url = $3`, sealed[i], c.id, c.hook)
			if err != nil {
				return err
			}
			n += int(m)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sealing webhook URLs: %w", err)
	}
	if n > 0 {
		if err := db.vacuumOrgs(ctx); err != nil {
			return n, fmt.Errorf("sealed %d webhook URLs, but the clear ones may remain on disk: %w", n, err)
		}
	}
	return n, nil
}

// vacuumOrgs rewrites the orgs table, so that the clear URLs just
// replaced do not linger on disk in free space until overwritten. On
// SQLite, VACUUM rebuilds the file and the WAL is then emptied. On
// PostgreSQL, VACUUM FULL writes the table anew and removes the old
// file (it locks the table for the moment it takes to copy a few rows);
// the old values remain in WAL files (and archives, backups) until those
// are recycled. Done once, after migration 0012.
func (db *DB) vacuumOrgs(ctx context.Context) error {
	if db.pg != nil {
		_, err := db.pg.Exec(ctx, `VACUUM (FULL) orgs`)
		return err
	}
	return retry(ctx, func() error {
		if _, err := db.writer.ExecContext(ctx, `VACUUM`); err != nil {
			return err
		}
		var busy, log, done int
		if err := db.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil {
			return err
		}
		if busy != 0 { // a reader of another process kept it from finishing
			return errors.New("the WAL could not be emptied: a reader held it")
		}
		return nil
	})
}
