package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/victim"
)

// Victims returns db as victim.Store: the DB's methods and the
// transactions of victims' cases (Update, with victim.Tx).
func (db *DB) Victims() victim.Store { return victimStore{db} }

type victimStore struct{ *DB }

var _ victim.Store = victimStore{}

// Update implements victim.Store.
func (s victimStore) Update(ctx context.Context, fn func(ctx context.Context, tx victim.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, victimTx{tx}) })
}

func victimCase(ctx context.Context, tx *Tx, id string, lock bool) (victim.Record, error) {
	q := `SELECT id, secret_hash, contact_sealed, opened_at FROM victim_cases WHERE id = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE`
	}
	var r victim.Record
	err := tx.QueryRow(ctx, q, id).Scan(&r.ID, &r.SecretHash, &r.ContactSealed, &r.OpenedAt)
	if errors.Is(err, ErrNoRows) {
		return r, core.Errorf(core.ErrNotFound, "no victim's case %s", id)
	}
	if len(r.ContactSealed) == 0 {
		r.ContactSealed = nil
	}
	r.OpenedAt = r.OpenedAt.UTC()
	return r, err
}

// Case implements victim.Store.
func (db victimStore) Case(ctx context.Context, id string) (victim.Record, error) {
	var r victim.Record
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		r, err = victimCase(ctx, tx, id, false)
		return err
	})
	return r, err
}

// victimHashes returns the hashes of case id, their state made from the
// row's withdrawal and the indicator's state.
func victimHashes(ctx context.Context, tx *Tx, id string) ([]victim.Hash, error) {
	rows, err := tx.Query(ctx, `SELECT h.idx, COALESCE(h.indicator_id, 0), h.signal, h.value, COALESCE(i.state, ''), h.added_at, h.withdrawn_at
		FROM victim_hashes h LEFT JOIN indicators i ON i.id = h.indicator_id
		WHERE h.case_id = $1 ORDER BY h.idx`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []victim.Hash
	for rows.Next() {
		var (
			h         victim.Hash
			state     string
			withdrawn sql.NullTime
		)
		if err := rows.Scan(&h.ID, &h.Indicator, &h.Signal, &h.Value, &state, &h.AddedAt, &withdrawn); err != nil {
			return nil, err
		}
		h.AddedAt, h.WithdrawnAt = h.AddedAt.UTC(), nullTime(withdrawn)
		switch {
		case withdrawn.Valid:
			h.State = victim.Withdrawn
		case h.Indicator == 0:
			h.State = victim.Pending
		case state == "quarantined":
			h.State = victim.Quarantined
		case state == "withdrawn", state == "":
			// An indicator deleted since is gone from the list too.
			h.State = victim.Withdrawn
		default:
			h.State = victim.Active
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// CaseHashes implements victim.Store.
func (db victimStore) CaseHashes(ctx context.Context, id string) ([]victim.Hash, error) {
	var out []victim.Hash
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		out, err = victimHashes(ctx, tx, id)
		return err
	})
	return out, err
}

// victimHeld is the condition that indicator ind is held by a hash of
// case $1 that counts (not withdrawn from the case nor from the list),
// since at or before at: an event counts for a case only from when the
// case held the hash, so that a newcomer learns nothing of before.
func victimHeld(ind, at string) string {
	return `EXISTS (SELECT 1 FROM victim_hashes h JOIN indicators i ON i.id = h.indicator_id
		WHERE h.case_id = $1 AND h.withdrawn_at IS NULL AND i.state <> 'withdrawn' AND h.indicator_id = ` + ind + ` AND ` + at + ` >= h.added_at)`
}

// Counts implements victim.Store.
func (db victimStore) Counts(ctx context.Context, id string) (victim.Counts, error) {
	var c victim.Counts
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		hs, err := victimHashes(ctx, tx, id)
		if err != nil {
			return err
		}
		c = victim.Counts{}
		for _, h := range hs {
			if h.State == victim.Withdrawn {
				c.Withdrawn++
			} else {
				c.Hashes++
			}
		}
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT COUNT(*) FROM victim_matches v WHERE `+victimHeld("v.indicator_id", "v.first_at")+`),
			(SELECT COUNT(*) FROM (SELECT DISTINCT m.case_id, m.idx FROM takedown_item_matches m JOIN takedown_cases c ON c.id = m.case_id
				WHERE `+victimHeld("m.indicator_id", "c.fetched_at")+`) w),
			(SELECT COUNT(*) FROM takedown_items t WHERE t.removed_at IS NOT NULL AND EXISTS (SELECT 1 FROM takedown_item_matches m
				WHERE m.case_id = t.case_id AND m.idx = t.idx AND `+victimHeld("m.indicator_id", "t.removed_at")+`))`, id).
			Scan(&c.ProviderMatches, &c.WebMatches, &c.RemovalsVerified); err != nil {
			return err
		}
		c.NoticesSent, err = victimNotices(ctx, tx, id)
		return err
	})
	return c, err
}

// victimNotices counts the notices sent that name a web resource matching
// a hash of case id, sent since the case held it. A notice's URLs are JSON,
// so they are compared here rather than in SQL.
func victimNotices(ctx context.Context, tx *Tx, id string) (int, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT n.id, n.urls, t.url FROM takedown_notices n
		JOIN takedown_items t ON t.case_id = n.case_id
		JOIN takedown_item_matches m ON m.case_id = t.case_id AND m.idx = t.idx
		WHERE n.sent_at IS NOT NULL AND `+victimHeld("m.indicator_id", "n.sent_at"), id)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var (
			n, urls, u string
			us         []string
		)
		if err := rows.Scan(&n, &urls, &u); err != nil {
			return 0, err
		}
		if err := json.Unmarshal([]byte(urls), &us); err != nil {
			return 0, fmt.Errorf("notice %s: urls: %w", n, err)
		}
		if slices.Contains(us, u) {
			seen[n] = true
		}
	}
	return len(seen), rows.Err()
}

// victimUnheld is the query of victim.Tx.Unheld.
const victimUnheld = `SELECT DISTINCT h.indicator_id FROM victim_hashes h JOIN indicators i ON i.id = h.indicator_id
	WHERE h.case_id = $1 AND h.withdrawn_at IS NOT NULL AND i.state <> 'withdrawn'
	AND NOT EXISTS (SELECT 1 FROM victim_hashes o WHERE o.indicator_id = h.indicator_id AND o.withdrawn_at IS NULL)
	ORDER BY h.indicator_id`

// Unheld implements victim.Store.
func (db victimStore) Unheld(ctx context.Context, id string) ([]int64, error) {
	var out []int64
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		out, err = int64Column(ctx, tx, victimUnheld, id)
		return err
	})
	return out, err
}

// ProviderMatched implements victim.Store.
func (db victimStore) ProviderMatched(ctx context.Context, provider int64, indicators []int64, at time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		for _, ind := range indicators {
			if _, err := tx.Exec(ctx, `INSERT INTO victim_matches (indicator_id, provider_id, first_at)
				SELECT i.id, $2, $3 FROM indicators i JOIN lists l ON l.id = i.list_id WHERE i.id = $1 AND l.kind = 'unverified'
				ON CONFLICT DO NOTHING`, ind, provider, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// HelpServiceList implements victim.Store.
func (db victimStore) HelpServiceList(ctx context.Context) ([]victim.HelpService, error) {
	var out []victim.HelpService
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id, country, language, name, url, phone FROM help_services ORDER BY country, language, name, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h victim.HelpService
			if err := rows.Scan(&h.ID, &h.Country, &h.Language, &h.Name, &h.URL, &h.Phone); err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// victimTx is the row operations of victim.Tx, in SQL.
type victimTx struct{ tx *Tx }

var _ victim.Tx = victimTx{}

// AppendAudit implements audit.Appender.
func (t victimTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}

// AddCase implements victim.Tx.
func (t victimTx) AddCase(ctx context.Context, r victim.Record) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO victim_cases (id, secret_hash, contact_sealed, opened_at) VALUES ($1, $2, $3, $4)`,
		r.ID, r.SecretHash, nullBlob(r.ContactSealed), r.OpenedAt)
	return err
}

// LockCase implements victim.Tx.
func (t victimTx) LockCase(ctx context.Context, id string) (victim.Record, error) {
	return victimCase(ctx, t.tx, id, true)
}

// TxHashes implements victim.Tx.
func (t victimTx) TxHashes(ctx context.Context, id string) ([]victim.Hash, error) {
	return victimHashes(ctx, t.tx, id)
}

// AddHash implements victim.Tx.
func (t victimTx) AddHash(ctx context.Context, id string, h victim.Hash) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO victim_hashes (case_id, idx, signal, value, added_at) VALUES ($1, $2, $3, $4, $5)`,
		id, h.ID, string(h.Signal), h.Value, h.AddedAt)
	return err
}

// SetIndicator implements victim.Tx.
func (t victimTx) SetIndicator(ctx context.Context, id string, n, ind int64) error {
	_, err := t.tx.Exec(ctx, `UPDATE victim_hashes SET indicator_id = $3 WHERE case_id = $1 AND idx = $2`, id, n, ind)
	return err
}

// LockHolders implements victim.Tx. SQLite's write transaction
// serialises already; on PostgreSQL the rows are locked in one order, so
// that two withdrawals wait for each other rather than deadlock.
func (t victimTx) LockHolders(ctx context.Context, id string) error {
	if !t.tx.Postgres() {
		return nil
	}
	_, err := t.tx.Exec(ctx, `SELECT 1 FROM victim_hashes WHERE indicator_id IN
		(SELECT indicator_id FROM victim_hashes WHERE case_id = $1 AND indicator_id IS NOT NULL)
		ORDER BY case_id, idx FOR UPDATE`, id)
	return err
}

// Unheld implements victim.Tx.
func (t victimTx) Unheld(ctx context.Context, id string) ([]int64, error) {
	return int64Column(ctx, t.tx, victimUnheld, id)
}

// HashesSince implements victim.Tx.
func (t victimTx) HashesSince(ctx context.Context, at time.Time) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM victim_hashes WHERE added_at >= $1`, at).Scan(&n)
	return n, err
}

// WithdrawHash implements victim.Tx.
func (t victimTx) WithdrawHash(ctx context.Context, id string, n int64, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE victim_hashes SET withdrawn_at = $3 WHERE case_id = $1 AND idx = $2 AND withdrawn_at IS NULL`, id, n, at)
	return err
}

// AddHelpService implements victim.Tx.
func (t victimTx) AddHelpService(ctx context.Context, h victim.HelpService, at time.Time) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `INSERT INTO help_services (country, language, name, url, phone, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, h.Country, h.Language, h.Name, h.URL, h.Phone, at).Scan(&id)
	return id, err
}

// RemoveHelpService implements victim.Tx.
func (t victimTx) RemoveHelpService(ctx context.Context, id int64) (victim.HelpService, error) {
	h := victim.HelpService{ID: id}
	err := t.tx.QueryRow(ctx, `DELETE FROM help_services WHERE id = $1 RETURNING country, language, name, url, phone`, id).
		Scan(&h.Country, &h.Language, &h.Name, &h.URL, &h.Phone)
	if errors.Is(err, ErrNoRows) {
		return h, core.Errorf(core.ErrNotFound, "no help service %d; 'ward admin help-service list' lists them", id)
	}
	return h, err
}
