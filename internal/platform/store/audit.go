package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/indicator/translog"
)

var _ audit.Store = (*DB)(nil)

// AppendAudit implements audit.Store.
func (db *DB) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	var e audit.Entry
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) (err error) {
		e, err = appendAudit(ctx, tx, ev)
		return err
	})
	if err != nil {
		return audit.Entry{}, err
	}
	return e, nil
}

// appendAudit appends ev to the chain within tx.
func appendAudit(ctx context.Context, tx *Tx, ev audit.Event) (audit.Entry, error) {
	q := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if tx.Postgres() {
		// Appenders queue here; each then reads the head the one
		// before it committed. SQLite's writer holds the whole
		// database already.
		q += ` FOR UPDATE`
	}
	head, err := scanHead(tx.QueryRow(ctx, q))
	if err != nil {
		return audit.Entry{}, err
	}
	e := audit.Next(head, ev)
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_log (seq, at, org_id, org_name, actor, action, object, purpose, outcome, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, e.At, e.OrgID, e.OrgName, e.Actor, e.Action, e.Object, e.Purpose, e.Outcome, e.Prev[:], e.Hash[:]); err != nil {
		return audit.Entry{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash[:]); err != nil {
		return audit.Entry{}, err
	}
	return e, nil
}

func scanHead(r Row) (audit.Head, error) {
	var (
		h    audit.Head
		hash []byte
	)
	if err := r.Scan(&h.Seq, &hash); err != nil {
		return h, fmt.Errorf("reading the audit chain head: %w", err)
	}
	return h, toHash(&h.Hash, hash, "the audit chain head")
}

// toHash copies a stored hash into h. The schema allows only 32 bytes, but
// Verify reads what someone may have tampered with, constraints included.
func toHash(h *audit.Hash, b []byte, what string) error {
	if len(b) != len(h) {
		return fmt.Errorf("%s: stored hash has %d bytes, not %d", what, len(b), len(h))
	}
	copy(h[:], b)
	return nil
}

// AuditHead implements audit.Store.
func (db *DB) AuditHead(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) (err error) {
		h, err = scanHead(tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`))
		return err
	})
	return h, err
}

// AuditEntries implements audit.Store.
func (db *DB) AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var (
		where strings.Builder
		args  = []any{f.After}
	)
	where.WriteString(`seq > $1`)
	cond := func(sql string, arg any) {
		args = append(args, arg)
		where.WriteString(` AND ` + sql + ` $` + strconv.Itoa(len(args)))
	}
	if f.Action != "" {
		cond(`action =`, f.Action)
	}
	if f.OrgID != 0 {
		cond(`org_id =`, f.OrgID)
	}
	if !f.Since.IsZero() {
		cond(`at >=`, f.Since)
	}
	if !f.Until.IsZero() {
		cond(`at <`, f.Until)
	}
	args = append(args, f.Limit)
	q := `SELECT seq, at, org_id, org_name, actor, action, object, purpose, outcome, prev_hash, hash
		FROM audit_log WHERE ` + where.String() + ` ORDER BY seq LIMIT $` + strconv.Itoa(len(args))

	var es []audit.Entry
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		es = nil
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e          audit.Entry
				prev, hash []byte
			)
			if err := rows.Scan(&e.Seq, &e.At, &e.OrgID, &e.OrgName, &e.Actor, &e.Action, &e.Object, &e.Purpose, &e.Outcome, &prev, &hash); err != nil {
				return err
			}
			what := fmt.Sprintf("audit entry %d", e.Seq)
			if err := toHash(&e.Prev, prev, what); err != nil {
				return err
			}
			if err := toHash(&e.Hash, hash, what); err != nil {
				return err
			}
			es = append(es, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	return es, nil
}

// AddAuditCheckpoint implements audit.Store. The checkpoint of a new head
// is appended to the audit log in the same transaction.
func (db *DB) AddAuditCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4)`,
			c.Seq, c.Hash[:], c.At, c.Signature); err != nil {
			return err
		}
		g, err := getLog(ctx, tx, true, `g.name = $1`, translog.AuditLog)
		if err != nil {
			return err
		}
		return logAuditCheckpoints(ctx, tx, &g, auditInline)
	})
}

// AuditCheckpoints implements audit.Store.
func (db *DB) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	var cps []audit.Checkpoint
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		cps = nil
		rows, err := tx.Query(ctx, `SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq, at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c    audit.Checkpoint
				hash []byte
			)
			if err := rows.Scan(&c.Seq, &hash, &c.At, &c.Signature); err != nil {
				return err
			}
			if err := toHash(&c.Hash, hash, fmt.Sprintf("audit checkpoint at seq %d", c.Seq)); err != nil {
				return err
			}
			cps = append(cps, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	return cps, nil
}
