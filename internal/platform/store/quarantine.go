package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"slices"
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

// PutFeedback implements quarantine.Tx: the same verdict again keeps its
// answer, so that re-sending an answered false positive counts no more.
func (t quarantineTx) PutFeedback(ctx context.Context, f quarantine.Feedback) error {
	_, err := t.tx.Exec(ctx, `
		INSERT INTO match_feedback (provider_id, indicator_id, verdict, note_sealed, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider_id, indicator_id) DO UPDATE
		SET verdict = excluded.verdict, note_sealed = excluded.note_sealed, at = excluded.at,
		    answered_at = CASE WHEN match_feedback.verdict = excluded.verdict THEN match_feedback.answered_at END`,
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
// PostgreSQL one statement takes the whole batch as arrays. A repeat
// seen since refresh is not written (the WHERE of the upsert).
func (s quarantineStore) AddSightings(ctx context.Context, ss []quarantine.Sighting, at, refresh, since time.Time) (map[int64]quarantine.SightingCount, error) {
	seen := map[int64]bool{}
	ids := []int64{}
	for _, x := range ss {
		if !seen[x.Indicator] {
			seen[x.Indicator] = true
			ids = append(ids, x.Indicator)
		}
	}
	var counts map[int64]quarantine.SightingCount
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		if tx.Postgres() {
			inds, provs, keys := make([]int64, len(ss)), make([]int64, len(ss)), make([][]byte, len(ss))
			for i, x := range ss {
				inds[i], provs[i], keys[i] = x.Indicator, x.Provider, x.Item[:]
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO match_sightings (indicator_id, item_key, provider_id, seen_at)
				SELECT unnest($1::bigint[]), unnest($2::bytea[]), unnest($3::bigint[]), $4
				ON CONFLICT (indicator_id, item_key, provider_id) DO UPDATE SET seen_at = excluded.seen_at
				WHERE match_sightings.seen_at < $5`, inds, keys, provs, at, refresh); err != nil {
				return err
			}
		} else {
			ins, err := tx.sq.PrepareContext(ctx, `
				INSERT INTO match_sightings (indicator_id, item_key, provider_id, seen_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (indicator_id, item_key, provider_id) DO UPDATE SET seen_at = excluded.seen_at
				WHERE match_sightings.seen_at < $5`)
			if err != nil {
				return err
			}
			defer ins.Close()
			// In the primary key's order, the b-tree is walked forwards.
			ss = slices.Clone(ss)
			slices.SortFunc(ss, func(a, b quarantine.Sighting) int {
				return cmp.Or(cmp.Compare(a.Indicator, b.Indicator), bytes.Compare(a.Item[:], b.Item[:]), cmp.Compare(a.Provider, b.Provider))
			})
			for _, x := range ss {
				if _, err := ins.ExecContext(ctx, x.Indicator, x.Item[:], x.Provider, at, refresh); err != nil {
					return err
				}
			}
		}
		var err error
		counts, err = countSightings(ctx, tx, ids, since)
		return err
	})
	return counts, err
}

// countSightings returns the counts of the unanswered sightings of
// indicators ids at or after since: one query of each kind for all on
// PostgreSQL, per indicator on SQLite (each a range of the primary key).
func countSightings(ctx context.Context, tx *Tx, ids []int64, since time.Time) (map[int64]quarantine.SightingCount, error) {
	counts := make(map[int64]quarantine.SightingCount, len(ids))
	where, args := `indicator_id = ANY ($1)`, [][]any{{ids}}
	if !tx.Postgres() {
		where, args = `indicator_id = $1`, nil
		for _, id := range ids {
			args = append(args, []any{id})
		}
	}
	for _, a := range args {
		for _, q := range []struct {
			sql string
			add func(c *quarantine.SightingCount, provider int64, n int)
		}{
			{`SELECT indicator_id, 0, count(DISTINCT item_key) FROM match_sightings
				WHERE ` + where + ` AND seen_at >= $2 AND answered_at IS NULL GROUP BY indicator_id`,
				func(c *quarantine.SightingCount, _ int64, n int) { c.Items = n }},
			{`SELECT indicator_id, provider_id, count(*) FROM match_sightings
				WHERE ` + where + ` AND seen_at >= $2 AND answered_at IS NULL GROUP BY indicator_id, provider_id`,
				func(c *quarantine.SightingCount, p int64, n int) { c.ByProvider[p] = n }},
		} {
			if err := countRows(ctx, tx, q.sql, append(a, since), func(id, p int64, n int) {
				c, ok := counts[id]
				if !ok {
					c.ByProvider = map[int64]int{}
				}
				q.add(&c, p, n)
				counts[id] = c
			}); err != nil {
				return nil, err
			}
		}
	}
	return counts, nil
}

// countRows runs q and calls add with each row's indicator, provider and
// count.
func countRows(ctx context.Context, tx *Tx, q string, args []any, add func(id, provider int64, n int)) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, p int64
			n     int
		)
		if err := rows.Scan(&id, &p, &n); err != nil {
			return err
		}
		add(id, p, n)
	}
	return rows.Err()
}

// PurgeSightings implements quarantine.Store.
func (s quarantineStore) PurgeSightings(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		n, err = tx.Exec(ctx, `
			DELETE FROM match_sightings WHERE (indicator_id, item_key, provider_id) IN (
				SELECT indicator_id, item_key, provider_id FROM match_sightings WHERE seen_at < $1 LIMIT $2)`, before, limit)
		return err
	})
	return int(n), err
}
