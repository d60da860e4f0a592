package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
)

var _ org.Store = (*DB)(nil)

// CreateOrg implements org.Store.
func (db *DB) CreateOrg(ctx context.Context, o org.Organisation) (org.Organisation, error) {
	var created org.Organisation
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		created, err = createOrg(ctx, tx, o)
		return err
	})
	return created, err
}

// createOrg inserts o within tx.
func createOrg(ctx context.Context, tx *Tx, o org.Organisation) (org.Organisation, error) {
	err := tx.QueryRow(ctx, `
		INSERT INTO orgs (name, kind, country, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO NOTHING
		RETURNING id`,
		o.Name, string(o.Kind), o.Country, o.CreatedAt).Scan(&o.ID)
	if errors.Is(err, ErrNoRows) {
		return org.Organisation{}, core.Errorf(core.ErrConflict, "an organisation named %q exists already", o.Name)
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
		return o, core.Errorf(core.ErrNotFound, "no organisation named %q", name)
	}
	return o, err
}

// OrgByID implements org.Store.
func (db *DB) OrgByID(ctx context.Context, id int64) (org.Organisation, error) {
	var o org.Organisation
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs o WHERE o.id = $1`, id), &o)
	})
	if errors.Is(err, ErrNoRows) {
		return o, core.Errorf(core.ErrNotFound, "no organisation %d", id)
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
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, secret_hash, created_at, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.ID, k.OrgID, k.SecretHash[:], k.CreatedAt, strings.Join(k.Scopes, " "), nullable(k.ExpiresAt))
		return err
	})
}

const keyColumns = `k.id, k.org_id, k.secret_hash, k.created_at, k.scopes, k.expires_at, k.revoked_at`

func scanKey(r interface{ Scan(...any) error }, k *org.Key, more ...any) error {
	var (
		hash                 []byte
		scopes               string
		expiresAt, revokedAt sql.NullTime
	)
	if err := r.Scan(append([]any{&k.ID, &k.OrgID, &hash, &k.CreatedAt, &scopes, &expiresAt, &revokedAt}, more...)...); err != nil {
		return err
	}
	copy(k.SecretHash[:], hash)
	if scopes != "" {
		k.Scopes = strings.Fields(scopes)
	}
	k.ExpiresAt, k.RevokedAt = nullTime(expiresAt), nullTime(revokedAt)
	return nil
}

// KeyByID implements org.Store.
func (db *DB) KeyByID(ctx context.Context, id string) (org.Key, org.Organisation, error) {
	var (
		k org.Key
		o org.Organisation
	)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanKey(tx.QueryRow(ctx, `
			SELECT `+keyColumns+`, `+orgColumns+`
			FROM api_keys k JOIN orgs o ON o.id = k.org_id
			WHERE k.id = $1`, id), &k, &o.ID, &o.Name, &o.Kind, &o.Country, &o.CreatedAt)
	})
	if errors.Is(err, ErrNoRows) {
		return k, o, core.Errorf(core.ErrNotFound, "no API key %s", id)
	}
	return k, o, err
}

// Keys implements org.Store.
func (db *DB) Keys(ctx context.Context, orgID int64) ([]org.Key, error) {
	var keys []org.Key
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		keys = nil
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.org_id = $1 ORDER BY k.created_at, k.id`, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k org.Key
			if err := scanKey(rows, &k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	return keys, err
}

// RevokeKey implements org.Store.
func (db *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, at, id)
		if err == nil && n == 0 {
			err = core.Errorf(core.ErrNotFound, "no API key %s", id)
		}
		return err
	})
}
