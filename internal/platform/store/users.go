package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/core"
)

var _ auth.Store = (*DB)(nil)

// nullable returns t, or nil (SQL NULL) for the zero time.
func nullable(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// CreateUser implements auth.Store.
func (db *DB) CreateUser(ctx context.Context, a auth.Account) (auth.Account, error) {
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO users (org_id, email_index, email_sealed, role, enrol_token_hash, enrol_expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (email_index) DO NOTHING
			RETURNING id`,
			a.OrgID, a.EmailIndex, a.EmailSealed, string(a.Role), a.EnrolTokenHash, nullable(a.EnrolExpiresAt), a.CreatedAt).Scan(&id)
		if err != nil {
			return err
		}
		a, err = accountWhere(ctx, tx, `u.id = $1`, id)
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return auth.Account{}, core.Errorf(core.ErrConflict, "the e-mail address is taken")
	}
	if err != nil {
		return auth.Account{}, fmt.Errorf("creating user: %w", err)
	}
	return a, nil
}

// accountColumns leaves out failed_logins and locked_until, which nothing
// sets any more: failed logins are counted in memory (auth's lockout).
const accountColumns = `u.id, u.org_id, o.name, o.kind, u.role, u.enrolled_at, u.created_at, u.disabled_at,
	u.email_index, u.email_sealed, u.password_hash, u.totp_sealed, u.totp_pending_sealed, u.totp_last_step,
	u.enrol_token_hash, u.enrol_expires_at`

func scanAccount(r interface{ Scan(...any) error }, a *auth.Account) error {
	var (
		enrolledAt, disabledAt, enrolExpires sql.NullTime
		password                             sql.NullString
	)
	if err := r.Scan(&a.ID, &a.OrgID, &a.OrgName, &a.OrgKind, &a.Role, &enrolledAt, &a.CreatedAt, &disabledAt,
		&a.EmailIndex, &a.EmailSealed, &password, &a.TOTPSealed, &a.PendingTOTPSealed, &a.TOTPLastStep,
		&a.EnrolTokenHash, &enrolExpires); err != nil {
		return err
	}
	a.Enrolled = enrolledAt.Valid
	a.DisabledAt, a.EnrolExpiresAt = nullTime(disabledAt), nullTime(enrolExpires)
	a.PasswordHash = password.String
	return nil
}

// accountWhere returns the one account matching the condition cond on
// users u, or ErrNoRows.
func accountWhere(ctx context.Context, tx *Tx, cond string, args ...any) (auth.Account, error) {
	var a auth.Account
	err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM users u JOIN orgs o ON o.id = u.org_id WHERE `+cond, args...), &a)
	return a, err
}

// account runs accountWhere in a read-only transaction, turning ErrNoRows
// into an core.ErrNotFound error saying what.
func (db *DB) account(ctx context.Context, what, cond string, args ...any) (auth.Account, error) {
	var a auth.Account
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		a, err = accountWhere(ctx, tx, cond, args...)
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return a, core.Errorf(core.ErrNotFound, "no user %s", what)
	}
	return a, err
}

// UserByID implements auth.Store.
func (db *DB) UserByID(ctx context.Context, id int64) (auth.Account, error) {
	return db.account(ctx, fmt.Sprint(id), `u.id = $1`, id)
}

// UserByEmailIndex implements auth.Store.
func (db *DB) UserByEmailIndex(ctx context.Context, index []byte) (auth.Account, error) {
	return db.account(ctx, "with that e-mail address", `u.email_index = $1`, index)
}

// UserByEnrolToken implements auth.Store.
func (db *DB) UserByEnrolToken(ctx context.Context, tokenHash []byte) (auth.Account, error) {
	return db.account(ctx, "with that enrolment token", `u.enrol_token_hash = $1`, tokenHash)
}

// Users implements auth.Store.
func (db *DB) Users(ctx context.Context, orgID int64) ([]auth.Account, error) {
	var out []auth.Account
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+accountColumns+` FROM users u JOIN orgs o ON o.id = u.org_id
			WHERE $1 = 0 OR u.org_id = $1 ORDER BY u.id`, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a auth.Account
			if err := scanAccount(rows, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// SetPendingTOTP implements auth.Store.
func (db *DB) SetPendingTOTP(ctx context.Context, id int64, tokenHash, sealed []byte) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, `UPDATE users SET totp_pending_sealed = $1
			WHERE id = $2 AND enrol_token_hash = $3 AND totp_pending_sealed IS NULL`, sealed, id, tokenHash)
		if err != nil || n == 1 {
			return err
		}
		return core.Errorf(core.ErrConflict, "user %d has a pending TOTP secret, or no such enrolment", id)
	})
}

// CompleteEnrolment implements auth.Store.
func (db *DB) CompleteEnrolment(ctx context.Context, id int64, tokenHash []byte, passwordHash string, lastStep int64, at time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, `
			UPDATE users SET password_hash = $1, totp_sealed = totp_pending_sealed, totp_pending_sealed = NULL,
				totp_last_step = $2, enrolled_at = $3, enrol_token_hash = NULL, enrol_expires_at = NULL
			WHERE id = $4 AND enrol_token_hash = $5 AND totp_pending_sealed IS NOT NULL`,
			passwordHash, lastStep, at, id, tokenHash)
		if err != nil || n == 1 {
			return err
		}
		return core.Errorf(core.ErrNotFound, "no enrolment of user %d with that token", id)
	})
}

// LoginSucceeded implements auth.Store.
func (db *DB) LoginSucceeded(ctx context.Context, id, step int64, s auth.SessionRecord, idleCutoff time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The condition on the step makes two logins with the same code
		// exclusive: the second finds the step used.
		n, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = $1
			WHERE id = $2 AND totp_last_step < $1`, step, id)
		if err != nil {
			return err
		}
		if n != 1 {
			return core.Errorf(core.ErrConflict, "the TOTP code of user %d was used already", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2`, s.CreatedAt, idleCutoff); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, remote_addr_sealed, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.TokenHash, s.UserID, s.RemoteAddrSealed, s.CreatedAt, s.LastSeen, s.ExpiresAt)
		return err
	})
}

const sessionColumns = `s.token_hash, s.user_id, s.remote_addr_sealed, s.created_at, s.last_seen_at, s.expires_at`

func scanSession(r interface{ Scan(...any) error }, s *auth.SessionRecord) error {
	return r.Scan(&s.TokenHash, &s.UserID, &s.RemoteAddrSealed, &s.CreatedAt, &s.LastSeen, &s.ExpiresAt)
}

// Session implements auth.Store.
func (db *DB) Session(ctx context.Context, tokenHash []byte) (auth.SessionRecord, auth.Account, error) {
	var (
		s auth.SessionRecord
		a auth.Account
	)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.token_hash = $1`, tokenHash), &s)
		if err != nil {
			return err
		}
		a, err = accountWhere(ctx, tx, `u.id = $1`, s.UserID)
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return s, a, core.Errorf(core.ErrNotFound, "no such session")
	}
	return s, a, err
}

// TouchSession implements auth.Store.
func (db *DB) TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $1`, at, tokenHash)
		return err
	})
}

// DeleteSession implements auth.Store.
func (db *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
		return err
	})
}

// DeleteSessions implements auth.Store.
func (db *DB) DeleteSessions(ctx context.Context, userID int64) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		return err
	})
}

// Sessions implements auth.Store.
func (db *DB) Sessions(ctx context.Context, userID int64) ([]auth.SessionRecord, error) {
	var out []auth.SessionRecord
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.user_id = $1 ORDER BY s.created_at DESC`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s auth.SessionRecord
			if err := scanSession(rows, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// DisableUser implements auth.Store.
func (db *DB) DisableUser(ctx context.Context, id int64, at time.Time) error {
	return db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.Exec(ctx, `UPDATE users SET disabled_at = coalesce(disabled_at, $1),
			enrol_token_hash = NULL, enrol_expires_at = NULL, totp_pending_sealed = NULL WHERE id = $2`, at, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return core.Errorf(core.ErrNotFound, "no user %d", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}
