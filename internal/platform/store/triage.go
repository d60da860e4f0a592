package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// Triage returns db as triage.Store: the DB's methods and the
// transactions of triage (Update, with triage.Tx), which, every domain
// having an Update of its own Tx, cannot be a method of DB itself.
func (db *DB) Triage() triage.Store { return triageStore{db} }

type triageStore struct{ *DB }

// entryQuery selects reports as the assessment queue shows them
// (scanEntry); Bundled counts the other reports of a report's case.
const entryQuery = `SELECT r.id, COALESCE(r.case_id, ''), r.provider_id, o.name, r.type, r.urgent,
	COALESCE(r.priority, -1), COALESCE(r.material, ''), r.matched_items,
	CASE WHEN r.case_id IS NULL THEN 0 ELSE (SELECT count(*) FROM reports b WHERE b.case_id = r.case_id) - 1 END,
	r.state, r.finished_at, r.purged_at
	FROM reports r JOIN orgs o ON o.id = r.provider_id`

func scanEntry(r interface{ Scan(...any) error }, e *triage.QueueEntry) error {
	var finished, purged sql.NullTime
	if err := r.Scan(&e.ReportID, &e.CaseID, &e.Provider, &e.ProviderName, &e.Type, &e.Urgent,
		&e.Priority, &e.Material, &e.Matched, &e.Bundled, &e.State, &finished, &purged); err != nil {
		return err
	}
	e.FinishedAt, e.PurgedAt = nullTime(finished), nullTime(purged)
	return nil
}

// entries runs entryQuery with a condition and order.
func entries(ctx context.Context, tx *Tx, query string, args ...any) ([]triage.QueueEntry, error) {
	rows, err := tx.Query(ctx, entryQuery+` `+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []triage.QueueEntry
	for rows.Next() {
		var e triage.QueueEntry
		if err := scanEntry(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// TriageEntry implements triage.Store.
func (db *DB) TriageEntry(ctx context.Context, id string) (triage.QueueEntry, error) {
	var e triage.QueueEntry
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanEntry(tx.QueryRow(ctx, entryQuery+` WHERE r.id = $1`, id), &e)
	})
	if errors.Is(err, ErrNoRows) {
		return e, core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return e, err
}

// CaseEntries implements triage.Store.
func (db *DB) CaseEntries(ctx context.Context, caseID string) ([]triage.QueueEntry, error) {
	var es []triage.QueueEntry
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		es, err = entries(ctx, tx, `WHERE r.case_id = $1 ORDER BY r.finished_at, r.id`, caseID)
		return err
	})
	return es, err
}

// Queue implements triage.Store.
func (db *DB) Queue(ctx context.Context, limit int) ([]triage.QueueEntry, error) {
	var es []triage.QueueEntry
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		es = nil
		// A query per state, each an ordered walk of reports_assessment.
		for _, st := range []report.State{report.StateQueued, report.StateInfoRequested} {
			more, err := entries(ctx, tx, `WHERE r.state = $1 ORDER BY r.priority, r.finished_at, r.id LIMIT $2`,
				string(st), limit-len(es))
			if err != nil {
				return err
			}
			if es = append(es, more...); len(es) == limit {
				break
			}
		}
		return nil
	})
	return es, err
}

// ReportMatches implements triage.Store.
func (db *DB) ReportMatches(ctx context.Context, id string) ([]triage.Match, error) {
	var ms []triage.Match
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		ms = nil
		rows, err := tx.Query(ctx, `SELECT item_index, indicator_id, list, signal, category, distance
			FROM report_matches WHERE report_id = $1 ORDER BY item_index, distance, indicator_id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m triage.Match
			if err := rows.Scan(&m.Item, &m.Indicator, &m.List, &m.Signal, &m.Category, &m.Distance); err != nil {
				return err
			}
			ms = append(ms, m)
		}
		return rows.Err()
	})
	return ms, err
}

// Update implements triage.Store.
func (s triageStore) Update(ctx context.Context, fn func(ctx context.Context, tx triage.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, triageTx{tx}) })
}

// triageTx is the row operations of triage.Tx, in SQL.
type triageTx struct{ tx *Tx }

// LockReport implements triage.Tx: on PostgreSQL the row is locked for
// update; SQLite's single writer excludes every other.
func (t triageTx) LockReport(ctx context.Context, id string) (triage.Row, error) {
	q := `SELECT id, provider_id, state, COALESCE(case_id, '') FROM reports WHERE id = $1`
	if t.tx.Postgres() {
		q += ` FOR UPDATE`
	}
	var r triage.Row
	err := t.tx.QueryRow(ctx, q, id).Scan(&r.ID, &r.Provider, &r.State, &r.CaseID)
	if errors.Is(err, ErrNoRows) {
		return r, core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return r, err
}

// ReportState implements triage.Tx.
func (t triageTx) ReportState(ctx context.Context, id string, share bool) (report.State, error) {
	q := `SELECT state FROM reports WHERE id = $1`
	if share && t.tx.Postgres() {
		q += ` FOR SHARE`
	}
	var st report.State
	err := t.tx.QueryRow(ctx, q, id).Scan(&st)
	return st, err
}

// ClaimKeys implements triage.Tx.
func (t triageTx) ClaimKeys(ctx context.Context, provider int64, id string, keys []string) error {
	for _, k := range keys {
		if _, err := t.tx.Exec(ctx, `INSERT INTO report_content (provider_id, content_key, case_id) VALUES ($1, $2, $3)
			ON CONFLICT (provider_id, content_key) DO NOTHING`, provider, k, id); err != nil {
			return err
		}
	}
	return nil
}

// KeyCases implements triage.Tx.
func (t triageTx) KeyCases(ctx context.Context, provider int64, id string, keys []string) ([]triage.CaseRef, error) {
	var out []triage.CaseRef
	for _, k := range keys {
		var c triage.CaseRef
		err := t.tx.QueryRow(ctx, `SELECT c.case_id, l.finished_at FROM report_content c JOIN reports l ON l.id = c.case_id
			WHERE c.provider_id = $1 AND c.content_key = $2 AND c.case_id <> $3`, provider, k, id).Scan(&c.CaseID, &c.LeadFinished)
		if errors.Is(err, ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// MoveKeys implements triage.Tx.
func (t triageTx) MoveKeys(ctx context.Context, provider int64, keys []string, from, to string) error {
	for _, k := range keys {
		if _, err := t.tx.Exec(ctx, `UPDATE report_content SET case_id = $1
			WHERE provider_id = $2 AND content_key = $3 AND case_id = $4`, to, provider, k, from); err != nil {
			return err
		}
	}
	return nil
}

// AddMatches implements triage.Tx.
func (t triageTx) AddMatches(ctx context.Context, id string, ms []triage.Match) error {
	for _, m := range ms {
		if _, err := t.tx.Exec(ctx, `INSERT INTO report_matches (report_id, item_index, indicator_id, list, signal, category, distance)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, m.Item, m.Indicator, m.List, string(m.Signal), string(m.Category), m.Distance); err != nil {
			return err
		}
	}
	return nil
}

// SetTriage implements triage.Tx.
func (t triageTx) SetTriage(ctx context.Context, from report.State, r triage.TriageRow) error {
	_, err := t.tx.Exec(ctx, `UPDATE reports SET state = $1, case_id = $2, priority = $3, material = $4,
			matched_items = $5, triaged_at = $6, decided_at = $7
		WHERE id = $8 AND state = $9`,
		string(r.State), r.CaseID, r.Priority, r.Material, r.Matched, r.TriagedAt, orNull(r.DecidedAt),
		r.ID, string(from))
	return err
}

// RaisePriority implements triage.Tx.
func (t triageTx) RaisePriority(ctx context.Context, id string, p int) error {
	_, err := t.tx.Exec(ctx, `UPDATE reports SET priority = $1 WHERE id = $2 AND priority > $1`, p, id)
	return err
}

// CaseReports implements triage.Tx.
func (t triageTx) CaseReports(ctx context.Context, caseID string, state report.State) ([]string, error) {
	return firstColumnOf(ctx, t.tx, `SELECT id FROM reports WHERE case_id = $1 AND state = $2 ORDER BY id`,
		caseID, string(state))
}

// MoveReport implements triage.Tx.
func (t triageTx) MoveReport(ctx context.Context, id string, from, to report.State, decidedAt time.Time) (bool, error) {
	n, err := t.tx.Exec(ctx, `UPDATE reports SET state = $1, decided_at = $2 WHERE id = $3 AND state = $4`,
		string(to), orNull(decidedAt), id, string(from))
	return n > 0, err
}

// QueueJob implements triage.Tx.
func (t triageTx) QueueJob(ctx context.Context, kind, ref string, at time.Time) error {
	return enqueueJob(ctx, t.tx, kind, ref, at)
}

// AddEvent implements triage.Tx.
func (t triageTx) AddEvent(ctx context.Context, ev report.Event) error {
	_, err := addReportEvent(ctx, t.tx, ev)
	return err
}

// orNull is t, or NULL for the zero time.
func orNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// firstColumn is firstColumnOf in a read-only transaction of its own.
func (db *DB) firstColumn(ctx context.Context, query string, args ...any) ([]string, error) {
	var out []string
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		out, err = firstColumnOf(ctx, tx, query, args...)
		return err
	})
	return out, err
}

// firstColumnOf returns the first column of a query's rows, as strings.
func firstColumnOf(ctx context.Context, tx *Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PurgeDecided implements triage.Store.
func (db *DB) PurgeDecided(ctx context.Context, before, at time.Time, limit int, cleared []report.EventKind, pending []triage.Pending) (int, error) {
	q, args := `SELECT r.id FROM reports r WHERE r.decided_at < $1 AND r.purged_at IS NULL`, []any{before, limit}
	if len(pending) > 0 {
		var or []string
		for _, p := range pending {
			args = append(args, p.Kind)
			ref := `j.ref = r.id`
			if p.Sub {
				ref = `j.ref LIKE r.id || '/%'`
			}
			or = append(or, fmt.Sprintf(`j.kind = $%d AND %s`, len(args), ref))
		}
		q += ` AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.done_at IS NULL AND (` + strings.Join(or, ` OR `) + `))`
	}
	q += ` ORDER BY r.decided_at LIMIT $2`
	var n int
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n = 0
		ids, err := firstColumnOf(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		for _, id := range ids {
			// The condition makes a concurrent purge of the same report
			// (on PostgreSQL) record it once.
			done, err := tx.Exec(ctx, `UPDATE reports SET body_sealed = $1, purged_at = $2 WHERE id = $3 AND purged_at IS NULL`,
				[]byte{}, at, id)
			if err != nil {
				return err
			}
			if done == 0 {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE report_files SET content_sealed = $1 WHERE report_id = $2`, []byte{}, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM report_file_segments WHERE report_id = $1`, id); err != nil {
				return err
			}
			for _, k := range cleared {
				if _, err := tx.Exec(ctx, `UPDATE report_events SET detail_sealed = NULL WHERE report_id = $1 AND kind = $2`,
					id, string(k)); err != nil {
					return err
				}
			}
			if _, err := addReportEvent(ctx, tx, report.Event{ReportID: id, At: at, Kind: report.EventPurged, Actor: audit.System}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purging reports: %w", err)
	}
	return n, nil
}
