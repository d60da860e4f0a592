package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

var _ triage.Store = (*DB)(nil)

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

// TriageReport implements triage.Store.
func (db *DB) TriageReport(ctx context.Context, a triage.Assessment) (triage.Triaged, error) {
	var res triage.Triaged
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The lock (on PostgreSQL; SQLite's writer excludes all others)
		// makes a concurrent triage of the same report wait, and then
		// find it no longer finished.
		rec, err := centreReport(ctx, tx, a.ReportID, true)
		if err != nil {
			return err
		}
		if rec.State != report.StateFinished {
			res, err = triagedAs(ctx, tx, a.ReportID)
			return err
		}
		caseID, leadState, err := joinCase(ctx, tx, rec, a.Keys)
		if err != nil {
			return err
		}
		// An urgent report is never closed unseen: rather than inherit a
		// case's "unfounded" (the user, and the danger, may differ), it
		// leads a case of its own, at the head of the queue.
		if caseID != a.ReportID && leadState == report.StateUnfounded && a.Priority == triage.PriorityUrgent {
			caseID, leadState = a.ReportID, ""
		}
		for _, m := range a.Matches {
			if _, err := tx.Exec(ctx, `INSERT INTO report_matches (report_id, item_index, indicator_id, list, signal, category, distance)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				a.ReportID, m.Item, m.Indicator, m.List, string(m.Signal), string(m.Category), m.Distance); err != nil {
				return err
			}
		}
		state, kind := report.StateQueued, report.EventQueued
		var decided any
		switch {
		case a.Forward:
			state, kind, decided = report.StateForwarded, report.EventForwarded, a.At
			if err := enqueueJob(ctx, tx, forward.JobRoute, a.ReportID, a.At); err != nil {
				return err
			}
		case caseID != a.ReportID:
			state, kind = report.StateBundled, report.EventBundled
			// The case is as pressing as its most pressing report.
			if _, err := tx.Exec(ctx, `UPDATE reports SET priority = $1 WHERE id = $2 AND priority > $1`,
				a.Priority, caseID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE reports SET state = $1, case_id = $2, priority = $3, material = $4,
				matched_items = $5, triaged_at = $6, decided_at = $7
			WHERE id = $8 AND state = $9`,
			string(state), caseID, a.Priority, a.Material, a.Matched, a.At, decided,
			a.ReportID, string(report.StateFinished)); err != nil {
			return err
		}
		if caseID == a.ReportID {
			leadState = state
		}
		res = triage.Triaged{State: state, CaseID: caseID, LeadState: leadState}
		_, err = addReportEvent(ctx, tx, report.Event{ReportID: a.ReportID, At: a.At, Kind: kind, Actor: audit.System})
		return err
	})
	if err != nil {
		return triage.Triaged{}, fmt.Errorf("triaging report %s: %w", a.ReportID, err)
	}
	return res, nil
}

// joinCase finds the case of report rec with content keys: the case of
// the earliest-finished lead among those its keys belong to for its
// provider, or else a new case it leads. Its keys not yet in a case are
// registered to it. It returns the case and the state of its lead (""
// for a new case).
func joinCase(ctx context.Context, tx *Tx, rec report.Record, keys []string) (string, report.State, error) {
	// Register every key to the report's own case first: on PostgreSQL an
	// insert of a key that a concurrent triage inserted, uncommitted,
	// waits for it and then does nothing, and the select below, a new
	// snapshot, sees its case. Two identical reports triaged at once thus
	// end in one case.
	for _, k := range keys {
		if _, err := tx.Exec(ctx, `INSERT INTO report_content (provider_id, content_key, case_id) VALUES ($1, $2, $3)
			ON CONFLICT (provider_id, content_key) DO NOTHING`, rec.Provider, k, rec.ID); err != nil {
			return "", "", err
		}
	}
	var (
		lead     string
		leadDone time.Time
	)
	for _, k := range keys {
		var (
			c  string
			at time.Time
		)
		err := tx.QueryRow(ctx, `SELECT c.case_id, l.finished_at FROM report_content c JOIN reports l ON l.id = c.case_id
			WHERE c.provider_id = $1 AND c.content_key = $2 AND c.case_id <> $3`, rec.Provider, k, rec.ID).Scan(&c, &at)
		if errors.Is(err, ErrNoRows) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		if lead == "" || at.Before(leadDone) || at.Equal(leadDone) && c < lead {
			lead, leadDone = c, at
		}
	}
	if lead == "" {
		return rec.ID, "", nil
	}
	// The shared lock orders this join with a decision on the case
	// (which locks the lead for update): either the decision sees this
	// report bundled, or this sees the lead decided.
	q := `SELECT state FROM reports WHERE id = $1`
	if tx.Postgres() {
		q += ` FOR SHARE`
	}
	var leadState report.State
	if err := tx.QueryRow(ctx, q, lead).Scan(&leadState); err != nil {
		return "", "", err
	}
	for _, k := range keys {
		if _, err := tx.Exec(ctx, `UPDATE report_content SET case_id = $1
			WHERE provider_id = $2 AND content_key = $3 AND case_id = $4`, lead, rec.Provider, k, rec.ID); err != nil {
			return "", "", err
		}
	}
	return lead, leadState, nil
}

// triagedAs returns the state and case of report id and the state of its
// case's lead.
func triagedAs(ctx context.Context, tx *Tx, id string) (triage.Triaged, error) {
	var (
		res       triage.Triaged
		leadState sql.NullString
	)
	err := tx.QueryRow(ctx, `SELECT r.state, COALESCE(r.case_id, ''), l.state
		FROM reports r LEFT JOIN reports l ON l.id = r.case_id WHERE r.id = $1`, id).Scan(&res.State, &res.CaseID, &leadState)
	res.LeadState = report.State(leadState.String)
	return res, err
}

// decisionStates are the state and event of each decision.
var decisionStates = map[triage.DecisionKind]struct {
	state report.State
	event report.EventKind
}{
	triage.Forward:     {report.StateForwarded, report.EventForwarded},
	triage.Unfounded:   {report.StateUnfounded, report.EventUnfounded},
	triage.RequestInfo: {report.StateInfoRequested, report.EventInfoRequested},
}

// DecideCase implements triage.Store.
func (db *DB) DecideCase(ctx context.Context, d triage.CaseDecision) error {
	to, ok := decisionStates[d.Kind]
	if !ok {
		return core.Errorf(core.ErrInvalid, "unknown decision %q", d.Kind)
	}
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		q := `SELECT state, COALESCE(case_id, '') FROM reports WHERE id = $1`
		if tx.Postgres() {
			q += ` FOR UPDATE`
		}
		var (
			state  report.State
			caseID string
		)
		err := tx.QueryRow(ctx, q, d.CaseID).Scan(&state, &caseID)
		if errors.Is(err, ErrNoRows) {
			return core.Errorf(core.ErrNotFound, "no report %s", d.CaseID)
		}
		if err != nil {
			return err
		}
		// The targets and the state each must be in: the lead's checked
		// state, then the bundled reports'.
		type target struct {
			id   string
			from report.State
		}
		var targets []target
		if d.Inherit {
			if state != to.state {
				return nil
			}
		} else {
			if err := decidable(d, state, caseID); err != nil {
				return err
			}
			targets = append(targets, target{d.CaseID, state})
		}
		if d.Kind != triage.RequestInfo {
			bundled, err := firstColumnOf(ctx, tx, `SELECT id FROM reports WHERE case_id = $1 AND state = $2 ORDER BY id`,
				d.CaseID, string(report.StateBundled))
			if err != nil {
				return err
			}
			for _, id := range bundled {
				targets = append(targets, target{id, report.StateBundled})
			}
		}
		var decided any
		if d.Kind != triage.RequestInfo {
			decided = d.At
		}
		for _, tg := range targets {
			detail, ok := d.Details[tg.id]
			if !ok && d.Kind != triage.Forward {
				return triage.ErrStale
			}
			// The lead's lock (SQLite: the single writer) serialises
			// decisions and joins; the state condition guards against
			// any other change.
			n, err := tx.Exec(ctx, `UPDATE reports SET state = $1, decided_at = $2 WHERE id = $3 AND state = $4`,
				string(to.state), decided, tg.id, string(tg.from))
			if err != nil {
				return err
			}
			if n == 0 {
				return core.Errorf(core.ErrConflict, "report %s changed while the decision was taken", tg.id)
			}
			if d.Kind == triage.Forward {
				if err := enqueueJob(ctx, tx, forward.JobRoute, tg.id, d.At); err != nil {
					return err
				}
			}
			if _, err := addReportEvent(ctx, tx, report.Event{ReportID: tg.id, At: d.At, Kind: to.event, Actor: d.Actor,
				Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deciding on report %s: %w", d.CaseID, err)
	}
	return nil
}

// decidable checks that report id, in state and case caseID, is a lead
// that decision d may be taken on.
func decidable(d triage.CaseDecision, state report.State, caseID string) error {
	switch {
	case state == report.StateBundled:
		return core.Errorf(core.ErrInvalid, "report %s is bundled into the case of report %s: decide on that one", d.CaseID, caseID)
	case state == report.StateQueued,
		state == report.StateInfoRequested && d.Kind != triage.RequestInfo:
		return nil
	case state == report.StateInfoRequested:
		return core.Errorf(core.ErrConflict, "report %s is waiting for information from the provider already", d.CaseID)
	case !state.Handled() || state == report.StateFinished:
		return core.Errorf(core.ErrConflict, "report %s is %s: it has not been triaged", d.CaseID, state)
	}
	return core.Errorf(core.ErrConflict, "report %s is %s already", d.CaseID, state)
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
func (db *DB) PurgeDecided(ctx context.Context, before, at time.Time, limit int) (int, error) {
	var n int
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n = 0
		// A report still being routed or pushed (pending or dead, to be
		// revived) keeps its content until it is delivered.
		ids, err := firstColumnOf(ctx, tx, `SELECT r.id FROM reports r WHERE r.decided_at < $1 AND r.purged_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.done_at IS NULL
				AND (j.kind = $3 AND j.ref = r.id OR j.kind = $4 AND j.ref LIKE r.id || '/%'))
			ORDER BY r.decided_at LIMIT $2`, before, limit, forward.JobRoute, forward.JobPush)
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
			// The exchanges with the provider may name people too; the
			// reasons of "unfounded" stay, for the provider's status
			// and for later reports of the case.
			if _, err := tx.Exec(ctx, `UPDATE report_events SET detail_sealed = NULL
				WHERE report_id = $1 AND kind IN ($2, $3)`, id, string(report.EventInfoRequested), string(report.EventInfoProvided)); err != nil {
				return err
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
