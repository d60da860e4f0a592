package store

import (
	"context"
	"errors"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
)

var _ seal.DataKeyStore = (*DB)(nil)

// AddDataKey implements seal.DataKeyStore.
func (db *DB) AddDataKey(ctx context.Context, masterVersion string, wrapped []byte) (int64, error) {
	var id int64
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO data_keys (master_version, wrapped, created_at) VALUES ($1, $2, $3) RETURNING id`,
			masterVersion, wrapped, time.Now().UTC()).Scan(&id)
	})
	return id, err
}

// DataKey implements seal.DataKeyStore.
func (db *DB) DataKey(ctx context.Context, id int64) (string, []byte, error) {
	var (
		version string
		wrapped []byte
	)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT master_version, wrapped FROM data_keys WHERE id = $1`, id).Scan(&version, &wrapped)
	})
	if errors.Is(err, ErrNoRows) {
		return "", nil, core.Errorf(core.ErrNotFound, "no data key %d", id)
	}
	return version, wrapped, err
}

// rewrapBatch is how many data keys one transaction of RewrapDataKeys
// re-wraps: enough to make the per-transaction cost negligible, few enough
// that no transaction holds many row locks or runs for long.
const rewrapBatch = 500

// RewrapDataKeys implements seal.DataKeyStore. It works through the keys in
// order of ID, a batch per transaction, so that it can re-wrap millions
// while the server runs; keys added meanwhile are wrapped by current
// already, or have higher IDs and are reached later.
func (db *DB) RewrapDataKeys(ctx context.Context, current string,
	rewrap func(id int64, masterVersion string, wrapped []byte) ([]byte, error)) (int, error) {
	total := 0
	var after int64
	for {
		var n int
		var last int64
		err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
			n, last = 0, after
			q := `SELECT id, master_version, wrapped FROM data_keys WHERE id > $1 AND master_version <> $2 ORDER BY id LIMIT $3`
			if tx.Postgres() {
				q += ` FOR UPDATE` // against another rotation running at the same time
			}
			type key struct {
				id      int64
				version string
				wrapped []byte
			}
			var keys []key
			rows, err := tx.Query(ctx, q, after, current, rewrapBatch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k key
				if err := rows.Scan(&k.id, &k.version, &k.wrapped); err != nil {
					rows.Close()
					return err
				}
				keys = append(keys, k)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, k := range keys {
				w, err := rewrap(k.id, k.version, k.wrapped)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE data_keys SET master_version = $1, wrapped = $2 WHERE id = $3`, current, w, k.id); err != nil {
					return err
				}
				n, last = n+1, k.id
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < rewrapBatch {
			return total, nil
		}
		after = last
	}
}

// DataKeyVersions implements seal.DataKeyStore.
func (db *DB) DataKeyVersions(ctx context.Context) (map[string]seal.VersionUse, error) {
	var uses map[string]seal.VersionUse
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		uses = map[string]seal.VersionUse{}
		rows, err := tx.Query(ctx, `SELECT master_version, count(*), max(id) FROM data_keys GROUP BY master_version`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				v string
				u seal.VersionUse
			)
			if err := rows.Scan(&v, &u.Keys, &u.LastID); err != nil {
				return err
			}
			uses[v] = u
		}
		return rows.Err()
	})
	return uses, err
}
