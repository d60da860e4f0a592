package store

import (
	"context"
	"database/sql"
	"errors"
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

// victimHeld selects the indicators of case $1's hashes that count: not
// withdrawn from the case nor from the list.
const victimHeld = `SELECT h.indicator_id FROM victim_hashes h JOIN indicators i ON i.id = h.indicator_id
	WHERE h.case_id = $1 AND h.withdrawn_at IS NULL AND i.state <> 'withdrawn'`

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
		return tx.QueryRow(ctx, `SELECT
			(SELECT COUNT(*) FROM victim_matches WHERE indicator_id IN (`+victimHeld+`)),
			(SELECT COUNT(*) FROM (SELECT DISTINCT case_id, idx FROM takedown_item_matches WHERE indicator_id IN (`+victimHeld+`)) w),
			(SELECT COUNT(*) FROM takedown_notices WHERE sent_at IS NOT NULL
				AND case_id IN (SELECT case_id FROM takedown_item_matches WHERE indicator_id IN (`+victimHeld+`))),
			(SELECT COUNT(*) FROM takedown_items t WHERE t.removed_at IS NOT NULL AND EXISTS (SELECT 1 FROM takedown_item_matches m
				WHERE m.case_id = t.case_id AND m.idx = t.idx AND m.indicator_id IN (`+victimHeld+`)))`, id).
			Scan(&c.ProviderMatches, &c.WebMatches, &c.NoticesSent, &c.RemovalsVerified)
	})
	return c, err
}

// Holders implements victim.Store.
func (db victimStore) Holders(ctx context.Context, id string, ind int64) (int, error) {
	var n int
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COUNT(*) FROM victim_hashes WHERE indicator_id = $1 AND case_id <> $2 AND withdrawn_at IS NULL`,
			ind, id).Scan(&n)
	})
	return n, err
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
