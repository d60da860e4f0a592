package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardhq/ward/internal/org"
)

var _ org.Store = (*DB)(nil)

// CreateOrg implements org.Store.
func (db *DB) CreateOrg(ctx context.Context, o org.Organisation) (org.Organisation, error) {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO orgs (name, kind, country, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO NOTHING
			RETURNING id`,
			o.Name, string(o.Kind), o.Country, o.CreatedAt).Scan(&o.ID)
	})
	if errors.Is(err, ErrNoRows) {
		return org.Organisation{}, fmt.Errorf("%w: an organisation named %q exists already", org.ErrConflict, o.Name)
	}
	if err != nil {
		return org.Organisation{}, fmt.Errorf("creating organisation: %w", err)
	}
	return o, nil
}

const orgColumns = `o.id, o.name, o.kind, o.country, o.created_at`

func scanOrg(r interface{ Scan(...any) error }, o *org.Organisation) error {
	return r.Scan(&o.ID, &o.Name, &o.Kind, &o.Country, &o.CreatedAt)
}

// OrgByName implements org.Store.
func (db *DB) OrgByName(ctx context.Context, name string) (org.Organisation, error) {
	var o org.Organisation
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o WHERE o.name = $1`, name), &o)
	})
	if errors.Is(err, ErrNoRows) {
		return o, fmt.Errorf("%w: no organisation named %q", org.ErrNotFound, name)
	}
	return o, err
}

// Orgs implements org.Store.
func (db *DB) Orgs(ctx context.Context) ([]org.Organisation, error) {
	var orgs []org.Organisation
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		orgs = nil
		rows, err := tx.Query(ctx, `SELECT `+orgColumns+` FROM orgs o ORDER BY o.name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o org.Organisation
			if err := scanOrg(rows, &o); err != nil {
				return err
			}
			orgs = append(orgs, o)
		}
		return rows.Err()
	})
	return orgs, err
}

// CreateKey implements org.Store.
func (db *DB) CreateKey(ctx context.Context, k org.Key) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)`,
			k.ID, k.OrgID, k.SecretHash[:], k.CreatedAt)
		return err
	})
}

// KeyByID implements org.Store.
func (db *DB) KeyByID(ctx context.Context, id string) (org.Key, org.Organisation, error) {
	var (
		k    org.Key
		o    org.Organisation
		hash []byte
	)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `
			SELECT k.id, k.secret_hash, k.created_at, `+orgColumns+`
			FROM api_keys k JOIN orgs o ON o.id = k.org_id
			WHERE k.id = $1`, id).
			Scan(&k.ID, &hash, &k.CreatedAt, &o.ID, &o.Name, &o.Kind, &o.Country, &o.CreatedAt)
	})
	if errors.Is(err, ErrNoRows) {
		return k, o, fmt.Errorf("%w: no API key %s", org.ErrNotFound, id)
	}
	if err != nil {
		return k, o, err
	}
	k.OrgID = o.ID
	copy(k.SecretHash[:], hash)
	return k, o, nil
}
