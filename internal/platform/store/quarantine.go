package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// Quarantines returns db as quarantine.Store: the DB's methods and the
// transactions of quarantine (Update, with quarantine.Tx), as Takedown
// does for takedown.
func (db *DB) Quarantines() quarantine.Store { return quarantineStore{db} }

type quarantineStore struct{ *DB }

var _ quarantine.Store = quarantineStore{}

// Update implements quarantine.Store.
func (s quarantineStore) Update(ctx context.Context, fn func(ctx context.Context, tx quarantine.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, quarantineTx{tx}) })
}

// quarantineTx is the row operations of quarantine.Tx, in SQL.
type quarantineTx struct{ tx *Tx }

var _ quarantine.Tx = quarantineTx{}

// AppendAudit implements audit.Appender.
func (t quarantineTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}

// LockIndicator implements quarantine.Tx: it locks the indicator's list,
// as every change of an indicator's state does first.
func (t quarantineTx) LockIndicator(ctx context.Context, id int64) (indicator.Indicator, error) {
	if _, _, err := lockIndicator(ctx, t.tx, id); err != nil {
		return indicator.Indicator{}, err
	}
	return getIndicator(ctx, t.tx, id)
}

// Begin implements quarantine.Tx.
func (t quarantineTx) Begin(ctx context.Context, r quarantine.Record) (indicator.Indicator, bool, error) {
	return beginQuarantine(ctx, t.tx, r)
}

// End implements quarantine.Tx.
func (t quarantineTx) End(ctx context.Context, id int64, e quarantine.Ending) (indicator.Indicator, error) {
	_, state, err := lockIndicator(ctx, t.tx, id)
	if err != nil {
		return indicator.Indicator{}, err
	}
	if state != indicator.Quarantined {
		return indicator.Indicator{}, core.Errorf(core.ErrConflict, "indicator %d is %s, not quarantined", id, state)
	}
	var ind indicator.Indicator
	if e.Outcome == quarantine.WithdrawnOutcome {
		ind, _, err = withdrawIndicator(ctx, t.tx, id, e.Org, e.Actor, e.Note, e.At)
	} else {
		ind, _, err = releaseIndicator(ctx, t.tx, id, e)
	}
	return ind, err
}

// PutFeedback implements quarantine.Tx.
func (t quarantineTx) PutFeedback(ctx context.Context, f quarantine.Feedback) error {
	_, err := t.tx.Exec(ctx, `
		INSERT INTO match_feedback (provider_id, indicator_id, verdict, note_sealed, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider_id, indicator_id) DO UPDATE
		SET verdict = excluded.verdict, note_sealed = excluded.note_sealed, at = excluded.at, answered_at = NULL`,
		f.Provider, f.Indicator, string(f.Verdict), nullBlob(f.NoteSealed), f.At)
	return err
}

// FalsePositives implements quarantine.Tx.
func (t quarantineTx) FalsePositives(ctx context.Context, id int64) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `
		SELECT count(*) FROM match_feedback
		WHERE indicator_id = $1 AND verdict = 'false_positive' AND answered_at IS NULL`, id).Scan(&n)
	return n, err
}

// OpenQuarantines implements quarantine.Store.
func (s quarantineStore) OpenQuarantines(ctx context.Context, after int64, limit int) ([]quarantine.Entry, error) {
	var out []quarantine.Entry
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `
			SELECT q.id, q.indicator_id, l.name, i.signal, i.value, i.category, q.cause, q.reason, q.at,
			       (SELECT count(*) FROM match_feedback f
			        WHERE f.indicator_id = q.indicator_id AND f.verdict = 'false_positive' AND f.answered_at IS NULL)
			FROM quarantines q
			JOIN indicators i ON i.id = q.indicator_id
			JOIN lists l ON l.id = i.list_id
			WHERE q.ended_at IS NULL AND q.id > $1
			ORDER BY q.id
			LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e                       quarantine.Entry
				signal, category, cause string
			)
			if err := rows.Scan(&e.Quarantine, &e.Indicator, &e.List, &signal, &e.Value, &category, &cause, &e.Reason,
				&e.Since, &e.FalsePositives); err != nil {
				return err
			}
			e.Signal, e.Category, e.Cause = indicator.Signal(signal), indicator.Category(category), quarantine.Cause(cause)
			e.Since = e.Since.UTC()
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// IndicatorQuarantines implements quarantine.Store.
func (s quarantineStore) IndicatorQuarantines(ctx context.Context, id int64) ([]quarantine.Record, error) {
	var out []quarantine.Record
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `
			SELECT q.id, q.cause, q.reason, q.org_id, o.name, q.actor, q.at,
			       q.ended_at, q.outcome, q.ended_by, q.ended_org_id, eo.name, q.ended_note
			FROM quarantines q
			LEFT JOIN orgs o ON o.id = q.org_id
			LEFT JOIN orgs eo ON eo.id = q.ended_org_id
			WHERE q.indicator_id = $1
			ORDER BY q.at, q.id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := quarantine.Record{Indicator: id}
			var (
				cause                                      string
				orgID, endedOrg                            sql.NullInt64
				orgName, outcome, endedBy, endedName, note sql.NullString
				endedAt                                    sql.NullTime
			)
			if err := rows.Scan(&r.ID, &cause, &r.Reason, &orgID, &orgName, &r.Actor, &r.At,
				&endedAt, &outcome, &endedBy, &endedOrg, &endedName, &note); err != nil {
				return err
			}
			r.Cause, r.Org, r.OrgName, r.At = quarantine.Cause(cause), orgID.Int64, orgName.String, r.At.UTC()
			r.EndedAt, r.Outcome, r.EndedBy = nullTime(endedAt), quarantine.Outcome(outcome.String), endedBy.String
			r.EndedOrg, r.EndedOrgName, r.Note = endedOrg.Int64, endedName.String, note.String
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// IndicatorFeedback implements quarantine.Store.
func (s quarantineStore) IndicatorFeedback(ctx context.Context, id int64) ([]quarantine.Feedback, error) {
	var out []quarantine.Feedback
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `
			SELECT f.provider_id, o.name, f.verdict, f.note_sealed, f.at, f.answered_at
			FROM match_feedback f JOIN orgs o ON o.id = f.provider_id
			WHERE f.indicator_id = $1
			ORDER BY f.at DESC, f.provider_id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f := quarantine.Feedback{Indicator: id}
			var (
				verdict  string
				answered sql.NullTime
			)
			if err := rows.Scan(&f.Provider, &f.ProviderName, &verdict, &f.NoteSealed, &f.At, &answered); err != nil {
				return err
			}
			f.Verdict, f.At, f.AnsweredAt = quarantine.Verdict(verdict), f.At.UTC(), nullTime(answered)
			out = append(out, f)
		}
		return rows.Err()
	})
	return out, err
}

// AddSightings implements quarantine.Store, in one transaction: on
// PostgreSQL one statement takes the whole batch as arrays.
func (s quarantineStore) AddSightings(ctx context.Context, ss []quarantine.Sighting, at, since time.Time) (map[int64]int, error) {
	var counts map[int64]int
	seen := map[int64]bool{}
	ids := []int64{}
	for _, x := range ss {
		if !seen[x.Indicator] {
			seen[x.Indicator] = true
			ids = append(ids, x.Indicator)
		}
	}
	const upsert = ` ON CONFLICT (indicator_id, item_key) DO UPDATE SET seen_at = excluded.seen_at
		WHERE match_sightings.seen_at < excluded.seen_at`
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		counts = make(map[int64]int, len(ids))
		if tx.Postgres() {
			inds, keys := make([]int64, len(ss)), make([][]byte, len(ss))
			for i, x := range ss {
				inds[i], keys[i] = x.Indicator, x.Item[:]
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO match_sightings (indicator_id, item_key, seen_at)
				SELECT unnest($1::bigint[]), unnest($2::bytea[]), $3`+upsert, inds, keys, at); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT indicator_id, count(*) FROM match_sightings
				WHERE indicator_id = ANY ($1) AND seen_at >= $2 AND answered_at IS NULL
				GROUP BY indicator_id`, ids, since)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					return err
				}
				counts[id] = n
			}
			return rows.Err()
		}
		ins, err := tx.sq.PrepareContext(ctx, `INSERT INTO match_sightings (indicator_id, item_key, seen_at) VALUES ($1, $2, $3)`+upsert)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, x := range ss {
			if _, err := ins.ExecContext(ctx, x.Indicator, x.Item[:], at); err != nil {
				return err
			}
		}
		for _, id := range ids {
			var n int
			if err := tx.QueryRow(ctx, `
				SELECT count(*) FROM match_sightings WHERE indicator_id = $1 AND seen_at >= $2 AND answered_at IS NULL`,
				id, since).Scan(&n); err != nil {
				return err
			}
			counts[id] = n
		}
		return nil
	})
	return counts, err
}

// PurgeSightings implements quarantine.Store.
func (s quarantineStore) PurgeSightings(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		n, err = tx.Exec(ctx, `
			DELETE FROM match_sightings WHERE (indicator_id, item_key) IN (
				SELECT indicator_id, item_key FROM match_sightings WHERE seen_at < $1 LIMIT $2)`, before, limit)
		return err
	})
	return int(n), err
}
