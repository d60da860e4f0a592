package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

var _ indicator.Store = (*DB)(nil)

// listRow is a list as stored.
type listRow struct {
	id     int64
	list   indicator.List
	head   int64
	active int64
}

const listColumns = `id, name, min_attestations, distinct_countries, kind, max_distance, threshold, head, active_count, created_at`

func scanList(r interface{ Scan(...any) error }, l *listRow) error {
	var kind string
	err := r.Scan(&l.id, &l.list.Name, &l.list.Policy.MinAttestations, &l.list.Policy.DistinctCountries,
		&kind, &l.list.MaxDistance, &l.list.Threshold, &l.head, &l.active, &l.list.CreatedAt)
	l.list.Kind = indicator.ListKind(kind)
	return err
}

// getList reads the named list. With lock, it also locks the list's row
// until the transaction ends: every transaction that appends to the list's
// feed does so first, which orders them, so that seqs are allocated densely
// and become visible in order.
func getList(ctx context.Context, tx *Tx, name string, lock bool) (listRow, error) {
	q := `SELECT ` + listColumns + ` FROM lists WHERE name = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE` // SQLite's writer holds the whole database already
	}
	var l listRow
	err := scanList(tx.QueryRow(ctx, q, name), &l)
	if errors.Is(err, ErrNoRows) {
		return l, core.Errorf(core.ErrNotFound, "no list named %q", name)
	}
	return l, err
}

// CreateList implements indicator.Store.
func (db *DB) CreateList(ctx context.Context, l indicator.List) (indicator.List, error) {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO lists (name, min_attestations, distinct_countries, kind, max_distance, threshold, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (name) DO NOTHING
			RETURNING id`,
			l.Name, l.Policy.MinAttestations, l.Policy.DistinctCountries, string(l.Kind), l.MaxDistance, l.Threshold, l.CreatedAt).Scan(&id); err != nil {
			return err
		}
		return createListLog(ctx, tx, id, l.Name, l.CreatedAt)
	})
	if errors.Is(err, ErrNoRows) {
		return indicator.List{}, core.Errorf(core.ErrConflict, "a list named %q exists already", l.Name)
	}
	if err != nil {
		return indicator.List{}, fmt.Errorf("creating list: %w", err)
	}
	return l, nil
}

// List implements indicator.Store.
func (db *DB) List(ctx context.Context, name string) (indicator.List, error) {
	var l listRow
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		l, err = getList(ctx, tx, name, false)
		return err
	})
	return l.list, err
}

// UpdateList implements indicator.Store.
func (db *DB) UpdateList(ctx context.Context, name string, change func(indicator.List) (indicator.List, error)) (indicator.List, error) {
	var out indicator.List
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		l, err := getList(ctx, tx, name, true)
		if err != nil {
			return err
		}
		c, err := change(l.list)
		if err != nil {
			return err
		}
		out = l.list
		out.MaxDistance, out.Threshold = c.MaxDistance, c.Threshold
		_, err = tx.Exec(ctx, `UPDATE lists SET max_distance = $2, threshold = $3 WHERE id = $1`, l.id, out.MaxDistance, out.Threshold)
		return err
	})
	if err != nil {
		return indicator.List{}, fmt.Errorf("changing list %q: %w", name, err)
	}
	return out, nil
}

// Lists implements indicator.Store.
func (db *DB) Lists(ctx context.Context) ([]indicator.ListInfo, error) {
	var lists []indicator.ListInfo
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		lists = nil
		rows, err := tx.Query(ctx, `SELECT `+listColumns+` FROM lists ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l listRow
			if err := scanList(rows, &l); err != nil {
				return err
			}
			lists = append(lists, indicator.ListInfo{List: l.list, Head: l.head, Active: l.active})
		}
		return rows.Err()
	})
	return lists, err
}

// Attest implements indicator.Store. It works on whole batches: the
// submissions go into a temporary table (by COPY on PostgreSQL), and a fixed
// sequence of set-based statements then creates the missing indicators,
// adds the new attestations, activates the indicators that now meet the
// list's policy and appends the changes, so that a batch of thousands costs
// about as many statements as a batch of one.
func (db *DB) Attest(ctx context.Context, list string, by org.Principal, subs []indicator.Submission, at time.Time) ([]indicator.Result, error) {
	var results []indicator.Result
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		l, err := getList(ctx, tx, list, true)
		if err != nil {
			return err
		}
		// The attestations record the organisation's country as stored,
		// which also checks that it exists.
		var country string
		err = tx.QueryRow(ctx, `SELECT country FROM orgs WHERE id = $1`, by.OrgID).Scan(&country)
		if errors.Is(err, ErrNoRows) {
			return core.Errorf(core.ErrNotFound, "no organisation %d", by.OrgID)
		}
		if err != nil {
			return err
		}
		if tx.Postgres() {
			// Compiling these statements costs more than running them.
			if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
				return err
			}
		}
		if err := stage(ctx, tx, subs); err != nil {
			return fmt.Errorf("staging submissions: %w", err)
		}
		changes, activated, err := attestStaged(ctx, tx, l, by.OrgID, country, at)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lists SET head = head + $2, active_count = active_count + $3 WHERE id = $1`,
			l.id, changes, activated); err != nil {
			return err
		}
		if changes > 0 {
			if err := logFeed(ctx, tx, l.id, l.head, l.head+changes); err != nil {
				return err
			}
		}
		results, err = stagedResults(ctx, tx, len(subs))
		if err != nil {
			return err
		}
		if !tx.Postgres() { // PostgreSQL empties it at commit
			_, err = tx.Exec(ctx, `DELETE FROM ward_attest`)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attesting indicators in list %q: %w", list, err)
	}
	return results, nil
}

// stage puts subs into the temporary table ward_attest, numbered from 0.
// The table belongs to the connection and is created on first use.
func stage(ctx context.Context, tx *Tx, subs []indicator.Submission) error {
	const table = `CREATE TEMP TABLE IF NOT EXISTS ward_attest (
		ord          integer PRIMARY KEY,
		signal       text NOT NULL,
		value        text NOT NULL,
		category     text NOT NULL,
		reference    text NOT NULL,
		indicator_id bigint,                         -- once known
		created      boolean NOT NULL DEFAULT false, -- this batch created the indicator
		attested     boolean NOT NULL DEFAULT false, -- this batch added the organisation's attestation
		activated    boolean NOT NULL DEFAULT false  -- this batch activated the indicator
	)`
	if tx.Postgres() {
		if _, err := tx.Exec(ctx, table+` ON COMMIT DELETE ROWS`); err != nil {
			return err
		}
		_, err := tx.pg.CopyFrom(ctx, pgx.Identifier{"ward_attest"},
			[]string{"ord", "signal", "value", "category", "reference"},
			pgx.CopyFromSlice(len(subs), func(i int) ([]any, error) {
				s := &subs[i]
				return []any{int32(i), string(s.Signal), s.Value, string(s.Category), s.Reference}, nil
			}))
		return err
	}
	if _, err := tx.Exec(ctx, table); err != nil {
		return err
	}
	ins, err := tx.sq.PrepareContext(ctx, `INSERT INTO ward_attest (ord, signal, value, category, reference) VALUES ($1, $2, $3, $4, $5)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for i, s := range subs {
		if _, err := ins.ExecContext(ctx, i, string(s.Signal), s.Value, string(s.Category), s.Reference); err != nil {
			return err
		}
	}
	return nil
}

// The statements below reach the indicators and attestations of a batch
// only through correlated subqueries and "= ANY (ARRAY(...))", which
// always probe an index. With plain joins PostgreSQL may choose to hash
// the whole table instead, which is cheap for a small list but makes each
// batch cost as much as the list is long: quadratic over a large import.

// attestStaged applies the staged submissions of organisation orgID of
// country to list l (locked) and returns the number of changes appended
// and of indicators activated.
func attestStaged(ctx context.Context, tx *Tx, l listRow, orgID int64, country string, at time.Time) (changes, activated int64, err error) {
	// Find the indicators that exist, create the others, and add the
	// organisation's attestation where it has none (it has at most one of
	// each indicator).
	if _, err := tx.Exec(ctx, `
		UPDATE ward_attest SET indicator_id = (
			SELECT i.id FROM indicators i
			WHERE i.list_id = $1 AND i.signal = ward_attest.signal AND i.value = ward_attest.value)`,
		l.id); err != nil {
		return 0, 0, err
	}
	if err := createStaged(ctx, tx, l.id, at); err != nil {
		return 0, 0, err
	}
	if err := attestStagedRows(ctx, tx, orgID, country, at); err != nil {
		return 0, 0, err
	}
	if activated, err = activateStaged(ctx, tx, l.list.Policy, at); err != nil {
		return 0, 0, err
	}
	// Append the changes: for each submission in order, its add or attest,
	// then its activation.
	changes, err = tx.Exec(ctx, `
		INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at)
		SELECT $1, $2 + row_number() OVER (ORDER BY ord, step), kind, indicator_id, $3, $4
		FROM (
			SELECT ord, 0 AS step, CASE WHEN created THEN 'add' ELSE 'attest' END AS kind, indicator_id
			FROM ward_attest WHERE attested
			UNION ALL
			SELECT ord, 1, 'activate', indicator_id FROM ward_attest WHERE activated
		) AS c`,
		l.id, l.head, orgID, at)
	return changes, activated, err
}

// createStaged creates the staged indicators that do not exist yet, in
// submission order so that their IDs follow it, and records their IDs.
func createStaged(ctx context.Context, tx *Tx, listID int64, at time.Time) error {
	const insert = `
		INSERT INTO indicators (list_id, signal, value, category, state, created_at)
		SELECT $1, signal, value, category, 'pending', $2 FROM ward_attest WHERE indicator_id IS NULL ORDER BY ord`
	if tx.Postgres() {
		// The IDs come back from the insert itself.
		_, err := tx.Exec(ctx, `
			WITH new AS (`+insert+` RETURNING id, signal, value)
			UPDATE ward_attest SET indicator_id = new.id, created = true
			FROM new WHERE new.signal = ward_attest.signal AND new.value = ward_attest.value`, listID, at)
		return err
	}
	created, err := tx.Exec(ctx, insert, listID, at)
	if err != nil || created == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE ward_attest SET created = true, indicator_id = (
			SELECT i.id FROM indicators i
			WHERE i.list_id = $1 AND i.signal = ward_attest.signal AND i.value = ward_attest.value)
		WHERE indicator_id IS NULL`, listID)
	return err
}

// attestStagedRows adds the organisation's attestation of each staged
// indicator it has not attested yet, and marks those rows attested.
func attestStagedRows(ctx context.Context, tx *Tx, orgID int64, country string, at time.Time) error {
	const insert = `
		INSERT INTO attestations (indicator_id, org_id, org_country, category, reference, at)
		SELECT indicator_id, $1, $2, category, reference, $3 FROM ward_attest`
	if tx.Postgres() {
		// The insert's own uniqueness check finds the existing ones.
		_, err := tx.Exec(ctx, `
			WITH ins AS (`+insert+` ON CONFLICT (indicator_id, org_id) DO NOTHING RETURNING indicator_id)
			UPDATE ward_attest SET attested = true FROM ins WHERE ins.indicator_id = ward_attest.indicator_id`,
			orgID, country, at)
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE ward_attest SET attested = created OR NOT EXISTS (
			SELECT 1 FROM attestations a WHERE a.indicator_id = ward_attest.indicator_id AND a.org_id = $1)`,
		orgID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, insert+` WHERE attested`, orgID, country, at)
	return err
}

// activateStaged activates the pending staged indicators that gained an
// attestation and now meet policy p (indicator.Policy.Satisfied, as SQL),
// and returns how many.
func activateStaged(ctx context.Context, tx *Tx, p indicator.Policy, at time.Time) (int64, error) {
	candidates := `SELECT indicator_id FROM ward_attest WHERE attested`
	if !p.Satisfied(1, 1) {
		// A new indicator has one attestation: not enough.
		candidates += ` AND NOT created`
	}
	satisfied := `count(*) >= $1`
	if p.DistinctCountries {
		satisfied += ` AND count(DISTINCT a.org_country) >= $1`
	}
	meets := `i.state = 'pending' AND (SELECT ` + satisfied + ` FROM attestations a WHERE a.indicator_id = i.id)`
	if tx.Postgres() {
		return tx.Exec(ctx, `
			WITH act AS (
				UPDATE indicators i SET state = 'active', activated_at = $2
				WHERE i.id = ANY (ARRAY(`+candidates+`)) AND `+meets+`
				RETURNING i.id)
			UPDATE ward_attest SET activated = true FROM act WHERE act.id = ward_attest.indicator_id`,
			p.MinAttestations, at)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE ward_attest SET activated = true
		WHERE indicator_id IN (SELECT i.id FROM indicators i WHERE i.id IN (`+candidates+`) AND `+meets+`)`,
		p.MinAttestations); err != nil {
		return 0, err
	}
	return tx.Exec(ctx, `
		UPDATE indicators SET state = 'active', activated_at = $1
		WHERE id IN (SELECT indicator_id FROM ward_attest WHERE activated)`, at)
}

// stagedResults reads what happened to each of the n staged submissions.
func stagedResults(ctx context.Context, tx *Tx, n int) ([]indicator.Result, error) {
	results := make([]indicator.Result, n)
	rows, err := tx.Query(ctx, `
		SELECT ord, indicator_id, (SELECT i.state FROM indicators i WHERE i.id = w.indicator_id),
		       created, attested, activated
		FROM ward_attest w`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ord   int
			state string
			r     indicator.Result
		)
		if err := rows.Scan(&ord, &r.IndicatorID, &state, &r.Created, &r.Attested, &r.Activated); err != nil {
			return nil, err
		}
		r.State = indicator.State(state)
		r.Attested = r.Attested && !r.Created // the documented meaning: an existing indicator
		results[ord] = r
	}
	return results, rows.Err()
}

// Withdraw implements indicator.Store.
func (db *DB) Withdraw(ctx context.Context, id int64, by org.Principal, reason string, at time.Time) (indicator.Indicator, error) {
	var ind indicator.Indicator
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		ind, _, err = withdrawIndicator(ctx, tx, id, by.OrgID, principalActor(by), reason, at)
		return err
	})
	if err != nil {
		return indicator.Indicator{}, fmt.Errorf("withdrawing indicator %d: %w", id, err)
	}
	return ind, nil
}

// Quarantine implements indicator.Store, recording the quarantine as one
// by hand (quarantine.Manual) with reason.
func (db *DB) Quarantine(ctx context.Context, id int64, by org.Principal, reason string, at time.Time) (indicator.Indicator, error) {
	var ind indicator.Indicator
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		ind, _, err = beginQuarantine(ctx, tx, quarantine.Record{Indicator: id, Cause: quarantine.Manual, Reason: reason,
			Org: by.OrgID, Actor: principalActor(by), At: at})
		return err
	})
	if err != nil {
		return indicator.Indicator{}, fmt.Errorf("quarantining indicator %d: %w", id, err)
	}
	return ind, nil
}

// Release implements indicator.Store, ending the quarantine as confirmed.
func (db *DB) Release(ctx context.Context, id int64, by org.Principal, at time.Time) (indicator.Indicator, error) {
	var ind indicator.Indicator
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		ind, _, err = releaseIndicator(ctx, tx, id, quarantine.Ending{Outcome: quarantine.ConfirmedOutcome,
			Org: by.OrgID, Actor: principalActor(by), At: at})
		return err
	})
	if err != nil {
		return indicator.Indicator{}, fmt.Errorf("releasing indicator %d: %w", id, err)
	}
	return ind, nil
}

// Reactivate implements indicator.Store.
func (db *DB) Reactivate(ctx context.Context, id int64, by org.Principal, at time.Time) (indicator.Indicator, error) {
	var ind indicator.Indicator
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, changed, err := moveIndicator(ctx, tx, id, by.OrgID, at, indicator.Withdrawn, indicator.Active, indicator.Activate, +1, "activated again")
		if err != nil {
			return err
		}
		if changed {
			if _, err := tx.Exec(ctx, `
				UPDATE indicators SET activated_at = $2, withdrawn_at = NULL, withdrawn_by = NULL, withdraw_reason = NULL
				WHERE id = $1`, id, at); err != nil {
				return err
			}
		}
		ind, err = getIndicator(ctx, tx, id)
		return err
	})
	if err != nil {
		return indicator.Indicator{}, fmt.Errorf("activating indicator %d again: %w", id, err)
	}
	return ind, nil
}

// principalActor names p in the records of who did what, as the audit
// trail does.
func principalActor(p org.Principal) string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return audit.AdminCLI
}

// lockIndicator locks the list of indicator id (see getList) and then
// reads the indicator's state: a change of it committed meanwhile is
// visible.
func lockIndicator(ctx context.Context, tx *Tx, id int64) (listRow, indicator.State, error) {
	var listName string
	err := tx.QueryRow(ctx, `SELECT l.name FROM indicators i JOIN lists l ON l.id = i.list_id WHERE i.id = $1`, id).Scan(&listName)
	if errors.Is(err, ErrNoRows) {
		return listRow{}, "", core.Errorf(core.ErrNotFound, "no indicator %d", id)
	}
	if err != nil {
		return listRow{}, "", err
	}
	l, err := getList(ctx, tx, listName, true)
	if err != nil {
		return listRow{}, "", err
	}
	var state string
	err = tx.QueryRow(ctx, `SELECT state FROM indicators WHERE id = $1`, id).Scan(&state)
	return l, indicator.State(state), err
}

// appendChange appends a change of kind to locked list l's feed and moves
// its head, and its count of active indicators by active; the list's log
// follows.
func appendChange(ctx context.Context, tx *Tx, l listRow, kind indicator.ChangeKind, id, orgID int64, at time.Time, active int) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO changes (list_id, seq, kind, indicator_id, org_id, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		l.id, l.head+1, string(kind), id, orgID, at); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE lists SET head = head + 1, active_count = active_count + $2 WHERE id = $1`, l.id, active); err != nil {
		return err
	}
	return logFeed(ctx, tx, l.id, l.head, l.head+1)
}

// withdrawIndicator is Withdraw in tx, by organisation orgID through
// actor; it also reports whether anything changed. Withdrawing a
// quarantined indicator ends its quarantine (withdrawn, reason its note).
func withdrawIndicator(ctx context.Context, tx *Tx, id, orgID int64, actor, reason string, at time.Time) (indicator.Indicator, bool, error) {
	l, state, err := lockIndicator(ctx, tx, id)
	if err != nil {
		return indicator.Indicator{}, false, err
	}
	changed := state != indicator.Withdrawn
	if changed {
		if _, err := tx.Exec(ctx, `
			UPDATE indicators SET state = 'withdrawn', withdrawn_at = $2, withdrawn_by = $3, withdraw_reason = $4
			WHERE id = $1`, id, at, orgID, reason); err != nil {
			return indicator.Indicator{}, false, err
		}
		active := 0
		if state == indicator.Active {
			active = -1
		}
		if err := appendChange(ctx, tx, l, indicator.Withdraw, id, orgID, at, active); err != nil {
			return indicator.Indicator{}, false, err
		}
		if state == indicator.Quarantined {
			if err := closeQuarantine(ctx, tx, id, quarantine.Ending{Outcome: quarantine.WithdrawnOutcome,
				Org: orgID, Actor: actor, Note: reason, At: at}); err != nil {
				return indicator.Indicator{}, false, err
			}
		}
	}
	ind, err := getIndicator(ctx, tx, id)
	return ind, changed, err
}

// beginQuarantine quarantines active indicator r.Indicator in tx and
// stores the record r; it also reports whether anything changed.
func beginQuarantine(ctx context.Context, tx *Tx, r quarantine.Record) (indicator.Indicator, bool, error) {
	ind, changed, err := moveIndicator(ctx, tx, r.Indicator, r.Org, r.At, indicator.Active, indicator.Quarantined, indicator.Quarantine, -1, "quarantined")
	if err != nil || !changed {
		return ind, false, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO quarantines (indicator_id, cause, reason, org_id, actor, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.Indicator, string(r.Cause), r.Reason, nullID(r.Org), r.Actor, r.At)
	return ind, true, err
}

// releaseIndicator makes quarantined indicator id active again in tx and
// ends its quarantine as e says (confirmed); it also reports whether
// anything changed.
func releaseIndicator(ctx context.Context, tx *Tx, id int64, e quarantine.Ending) (indicator.Indicator, bool, error) {
	ind, changed, err := moveIndicator(ctx, tx, id, e.Org, e.At, indicator.Quarantined, indicator.Active, indicator.Release, +1, "released")
	if err != nil || !changed {
		return ind, false, err
	}
	return ind, true, closeQuarantine(ctx, tx, id, e)
}

// closeQuarantine ends the open quarantine of indicator id as e says and
// answers the false-positive verdicts and the sightings that counted
// towards it.
func closeQuarantine(ctx context.Context, tx *Tx, id int64, e quarantine.Ending) error {
	if _, err := tx.Exec(ctx, `
		UPDATE quarantines SET ended_at = $2, outcome = $3, ended_by = $4, ended_org_id = $5, ended_note = $6
		WHERE indicator_id = $1 AND ended_at IS NULL`,
		id, e.At, string(e.Outcome), e.Actor, nullID(e.Org), e.Note); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE match_feedback SET answered_at = $2
		WHERE indicator_id = $1 AND verdict = 'false_positive' AND answered_at IS NULL`, id, e.At); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE match_sightings SET answered_at = $2 WHERE indicator_id = $1 AND answered_at IS NULL`, id, e.At)
	return err
}

// moveIndicator moves indicator id from state from to state to, appending
// a change of kind and moving the list's active count by active. An
// indicator in state to already is left as it is; one in any other state
// is an ErrConflict error, which says what cannot be done (verb).
func moveIndicator(ctx context.Context, tx *Tx, id, orgID int64, at time.Time, from, to indicator.State, kind indicator.ChangeKind, active int, verb string) (indicator.Indicator, bool, error) {
	l, state, err := lockIndicator(ctx, tx, id)
	if err != nil {
		return indicator.Indicator{}, false, err
	}
	switch state {
	case to:
		ind, err := getIndicator(ctx, tx, id)
		return ind, false, err
	case from:
	default:
		return indicator.Indicator{}, false, core.Errorf(core.ErrConflict, "indicator %d is %s; only an indicator that is %s can be %s", id, state, from, verb)
	}
	if _, err := tx.Exec(ctx, `UPDATE indicators SET state = $2 WHERE id = $1`, id, string(to)); err != nil {
		return indicator.Indicator{}, false, err
	}
	if err := appendChange(ctx, tx, l, kind, id, orgID, at, active); err != nil {
		return indicator.Indicator{}, false, err
	}
	ind, err := getIndicator(ctx, tx, id)
	return ind, true, err
}

func getIndicator(ctx context.Context, tx *Tx, id int64) (indicator.Indicator, error) {
	var (
		ind                      indicator.Indicator
		signal, category, state  string
		activatedAt, withdrawnAt sql.NullTime
		withdrawnBy              sql.NullInt64
		reason                   sql.NullString
	)
	err := tx.QueryRow(ctx, `
		SELECT i.id, l.name, i.signal, i.value, i.category, i.state, i.created_at,
		       i.activated_at, i.withdrawn_at, i.withdrawn_by, i.withdraw_reason
		FROM indicators i JOIN lists l ON l.id = i.list_id
		WHERE i.id = $1`, id).
		Scan(&ind.ID, &ind.List, &signal, &ind.Value, &category, &state, &ind.CreatedAt,
			&activatedAt, &withdrawnAt, &withdrawnBy, &reason)
	if errors.Is(err, ErrNoRows) {
		return ind, core.Errorf(core.ErrNotFound, "no indicator %d", id)
	}
	if err != nil {
		return ind, err
	}
	ind.Signal, ind.Category, ind.State = indicator.Signal(signal), indicator.Category(category), indicator.State(state)
	ind.ActivatedAt, ind.WithdrawnAt = nullTime(activatedAt), nullTime(withdrawnAt)
	ind.WithdrawnBy, ind.WithdrawReason = withdrawnBy.Int64, reason.String
	return ind, nil
}

// nullTime returns t's time in UTC, or the zero time for NULL.
func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// Indicator implements indicator.Store.
func (db *DB) Indicator(ctx context.Context, id int64) (indicator.Indicator, []indicator.Attestation, error) {
	var (
		ind  indicator.Indicator
		atts []indicator.Attestation
	)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		if ind, err = getIndicator(ctx, tx, id); err != nil {
			return err
		}
		atts = nil
		rows, err := tx.Query(ctx, `
			SELECT a.org_id, o.name, a.org_country, a.category, a.reference, a.at
			FROM attestations a JOIN orgs o ON o.id = a.org_id
			WHERE a.indicator_id = $1
			ORDER BY a.at, a.org_id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a := indicator.Attestation{IndicatorID: id}
			var category string
			if err := rows.Scan(&a.OrgID, &a.OrgName, &a.OrgCountry, &category, &a.Reference, &a.At); err != nil {
				return err
			}
			a.Category = indicator.Category(category)
			atts = append(atts, a)
		}
		return rows.Err()
	})
	return ind, atts, err
}

// Changes implements indicator.Store.
func (db *DB) Changes(ctx context.Context, list string, after int64, limit int) ([]indicator.Change, error) {
	var changes []indicator.Change
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		l, err := getList(ctx, tx, list, false)
		if err != nil {
			return err
		}
		changes = make([]indicator.Change, 0, min(limit, int(max(l.head-after, 0))))
		rows, err := tx.Query(ctx, `
			SELECT c.seq, c.kind, c.indicator_id, i.signal, i.value, i.category, c.org_id, c.at,
			       c.kind = 'withdraw' AND i.activated_at IS NOT NULL
			FROM changes c JOIN indicators i ON i.id = c.indicator_id
			WHERE c.list_id = $1 AND c.seq > $2
			ORDER BY c.seq
			LIMIT $3`, l.id, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c := indicator.Change{List: list}
			var kind, signal, category string
			if err := rows.Scan(&c.Seq, &kind, &c.IndicatorID, &signal, &c.Value, &category, &c.OrgID, &c.At, &c.WasActive); err != nil {
				return err
			}
			c.Kind, c.Signal, c.Category = indicator.ChangeKind(kind), indicator.Signal(signal), indicator.Category(category)
			changes = append(changes, c)
		}
		return rows.Err()
	})
	return changes, err
}

// ForEachActive implements indicator.Store. It is not retried: fn may
// have seen some indicators already.
func (db *DB) ForEachActive(ctx context.Context, list string, fn func(indicator.Indicator) error) (map[string]int64, error) {
	heads := map[string]int64{}
	err := db.transact(ctx, true, func(ctx context.Context, tx *Tx) error {
		names := map[int64]string{}
		q := `SELECT id, name, head FROM lists`
		args := []any{}
		if list != "" {
			q += ` WHERE name = $1`
			args = append(args, list)
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id   int64
				name string
				head int64
			)
			if err := rows.Scan(&id, &name, &head); err != nil {
				rows.Close()
				return err
			}
			names[id], heads[name] = name, head
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if list != "" && len(names) == 0 {
			return core.Errorf(core.ErrNotFound, "no list named %q", list)
		}

		q = `SELECT id, list_id, signal, value, category, created_at, activated_at FROM indicators WHERE state = 'active'`
		if list != "" {
			q += ` AND list_id = (SELECT id FROM lists WHERE name = $1)`
		}
		rows, err = tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			ind := indicator.Indicator{State: indicator.Active}
			var (
				listID           int64
				signal, category string
			)
			if err := rows.Scan(&ind.ID, &listID, &signal, &ind.Value, &category, &ind.CreatedAt, &ind.ActivatedAt); err != nil {
				return err
			}
			ind.List, ind.Signal, ind.Category = names[listID], indicator.Signal(signal), indicator.Category(category)
			if err := fn(ind); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return heads, nil
}
