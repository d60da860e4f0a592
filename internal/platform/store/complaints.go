package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
)

// Complaints returns db as complaint.Store: the DB's methods and the
// transactions of complaints (Update, with complaint.Tx), as Takedown
// does for takedown.
func (db *DB) Complaints() complaint.Store { return complaintStore{db} }

type complaintStore struct{ *DB }

// complaintColumns are a complaint's columns (scanComplaint), from
// complaintFrom. Referral is the takedown case's report to the police.
const complaintColumns = `k.id, k.provider_id, p.name, COALESCE(k.filed_by, 0), k.reference, k.state, k.received_at, k.due_at,
	k.decided_at, COALESCE(k.report_id, ''), COALESCE(k.case_id, ''), COALESCE(k.notice_id, ''), COALESCE(c.referral, ''),
	k.decided_by, COALESCE(k.decided_org, 0), k.corrected, k.secret_hash, k.body_sealed, k.reasons_sealed`

const complaintFrom = ` FROM complaints k JOIN orgs p ON p.id = k.provider_id LEFT JOIN takedown_cases c ON c.id = k.case_id `

func scanComplaint(r interface{ Scan(...any) error }, k *complaint.Record) error {
	var decided sql.NullTime
	if err := r.Scan(&k.ID, &k.Provider, &k.ProviderName, &k.FiledBy, &k.Reference, &k.State, &k.ReceivedAt, &k.DueAt,
		&decided, &k.Report, &k.Case, &k.Notice, &k.Referral, &k.DecidedBy, &k.DecidedOrg, &k.Corrected,
		&k.SecretHash, &k.BodySealed, &k.ReasonsSealed); err != nil {
		return err
	}
	k.ReceivedAt, k.DueAt, k.DecidedAt = k.ReceivedAt.UTC(), k.DueAt.UTC(), nullTime(decided)
	if len(k.ReasonsSealed) == 0 {
		k.ReasonsSealed = nil
	}
	return nil
}

func lockedComplaint(ctx context.Context, tx *Tx, id string, lock bool) (complaint.Record, error) {
	q := `SELECT ` + complaintColumns + complaintFrom + `WHERE k.id = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE OF k`
	}
	var r complaint.Record
	err := scanComplaint(tx.QueryRow(ctx, q, id), &r)
	if errors.Is(err, ErrNoRows) {
		return r, core.Errorf(core.ErrNotFound, "no complaint %s", id)
	}
	if err != nil {
		return r, err
	}
	r.IndicatorIDs, err = int64Column(ctx, tx, `SELECT indicator_id FROM complaint_indicators WHERE complaint_id = $1 ORDER BY indicator_id`, id)
	return r, err
}

// int64Column returns the first column of a query's rows.
func int64Column(ctx context.Context, tx *Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Complaint implements complaint.Store.
func (db *DB) Complaint(ctx context.Context, id string) (complaint.Record, error) {
	var r complaint.Record
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		if r, err = lockedComplaint(ctx, tx, id, false); err != nil {
			return err
		}
		r.Indicators = nil
		// An indicator deleted since keeps its ID, unknown list and
		// state.
		rows, err := tx.Query(ctx, `SELECT ci.indicator_id, COALESCE(l.name, ''), COALESCE(i.signal, ''), COALESCE(i.category, ''),
				COALESCE(i.state, '')
			FROM complaint_indicators ci LEFT JOIN indicators i ON i.id = ci.indicator_id LEFT JOIN lists l ON l.id = i.list_id
			WHERE ci.complaint_id = $1 ORDER BY ci.indicator_id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ind complaint.Indicator
			if err := rows.Scan(&ind.ID, &ind.List, &ind.Signal, &ind.Category, &ind.State); err != nil {
				return err
			}
			r.Indicators = append(r.Indicators, ind)
		}
		return rows.Err()
	})
	return r, err
}

// complaintOrder sorts open complaints first, then by due date and ID.
const complaintOrder = `(CASE WHEN k.state = 'open' THEN 0 ELSE 1 END)`

// ComplaintList implements complaint.Store.
func (db *DB) ComplaintList(ctx context.Context, f complaint.Filter) ([]complaint.Complaint, error) {
	var out []complaint.Complaint
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		var w filter
		if f.State != "" {
			w.and(`k.state = ` + w.arg(string(f.State)))
		}
		if f.Provider != 0 {
			w.and(`k.provider_id = ` + w.arg(f.Provider))
		}
		if f.After != "" {
			var (
				state string
				due   time.Time
			)
			err := tx.QueryRow(ctx, `SELECT state, due_at FROM complaints WHERE id = $1`, f.After).Scan(&state, &due)
			if errors.Is(err, ErrNoRows) {
				return core.Errorf(core.ErrInvalid, "after must be the last complaint of an earlier page, not %q", f.After)
			}
			if err != nil {
				return err
			}
			rank := 1
			if state == string(complaint.Open) {
				rank = 0
			}
			r, t, id := w.arg(rank), w.arg(due), w.arg(f.After)
			w.and(`(` + complaintOrder + ` > ` + r + ` OR (` + complaintOrder + ` = ` + r +
				` AND (k.due_at > ` + t + ` OR (k.due_at = ` + t + ` AND k.id > ` + id + `))))`)
		}
		q := `SELECT ` + complaintColumns + complaintFrom + w.where() +
			` ORDER BY ` + complaintOrder + `, k.due_at, k.id LIMIT ` + w.arg(f.Limit)
		rows, err := tx.Query(ctx, q, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r complaint.Record
			if err := scanComplaint(rows, &r); err != nil {
				return err
			}
			out = append(out, r.Complaint)
		}
		return rows.Err()
	})
	return out, err
}

// Resolve implements complaint.Store: a report of the provider by ID or
// Idempotency-Key, else a takedown notice to it by ID, else a case with
// such a notice by ID. IDs are upper-case base32, which a person may type
// in lower case; an Idempotency-Key is the provider's, matched exactly.
func (db *DB) Resolve(ctx context.Context, provider int64, ref string) (complaint.Resolution, error) {
	var res complaint.Resolution
	upper := strings.ToUpper(ref)
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		res = complaint.Resolution{}
		err := tx.QueryRow(ctx, `SELECT id FROM reports WHERE provider_id = $1 AND (id IN ($2, $3) OR idempotency_key = $2)
			ORDER BY CASE WHEN id IN ($2, $3) THEN 0 ELSE 1 END LIMIT 1`, provider, ref, upper).Scan(&res.Report)
		switch {
		case err == nil:
			res.Indicators, err = int64Column(ctx, tx, `SELECT DISTINCT indicator_id FROM report_matches WHERE report_id = $1
				ORDER BY indicator_id`, res.Report)
			return err
		case !errors.Is(err, ErrNoRows):
			return err
		}
		var urls string
		err = tx.QueryRow(ctx, `SELECT id, case_id, urls FROM takedown_notices WHERE id IN ($1, $2) AND host_org = $3`,
			ref, upper, provider).Scan(&res.Notice, &res.Case, &urls)
		switch {
		case errors.Is(err, ErrNoRows):
			err = tx.QueryRow(ctx, `SELECT c.id FROM takedown_cases c WHERE c.id IN ($1, $2)
				AND EXISTS (SELECT 1 FROM takedown_notices n WHERE n.case_id = c.id AND n.host_org = $3)`,
				ref, upper, provider).Scan(&res.Case)
			if errors.Is(err, ErrNoRows) {
				return nil
			}
		case err == nil:
			var noticed []string
			if err := json.Unmarshal([]byte(urls), &noticed); err != nil {
				return fmt.Errorf("notice %s: urls: %w", res.Notice, err)
			}
			// The notice's items: those of its URLs, an inline item by
			// its page's.
			return takedownIndicators(ctx, tx, &res, func(url, page string) bool {
				return slices.Contains(noticed, url) || slices.Contains(noticed, page)
			})
		}
		if err != nil {
			return err
		}
		return takedownIndicators(ctx, tx, &res, func(string, string) bool { return true })
	})
	return res, err
}

// takedownIndicators sets res.Indicators to the indicators that the
// illegal items of case res.Case which keep selects matched.
func takedownIndicators(ctx context.Context, tx *Tx, res *complaint.Resolution, keep func(url, page string) bool) error {
	items, err := takedownItems(ctx, tx, res.Case)
	if err != nil {
		return err
	}
	page := ""
	for _, it := range items {
		if it.Index == 0 {
			page = it.URL
		}
		if !it.Classification.Illegal() || !keep(it.URL, page) {
			continue
		}
		for _, m := range it.Matches {
			res.Indicators = append(res.Indicators, m.Indicator)
		}
	}
	slices.Sort(res.Indicators)
	res.Indicators = slices.Compact(res.Indicators)
	return nil
}

// Update implements complaint.Store.
func (s complaintStore) Update(ctx context.Context, fn func(ctx context.Context, tx complaint.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, complaintTx{forwardTx{tx}}) })
}

// complaintTx is the row operations of complaint.Tx, in SQL, with
// forward.Tx's for the correction of a report.
type complaintTx struct{ forwardTx }

var _ complaint.Tx = complaintTx{}

// AppendAudit implements audit.Appender.
func (t complaintTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}

// AddComplaint implements complaint.Tx.
func (t complaintTx) AddComplaint(ctx context.Context, r complaint.Record) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO complaints (id, provider_id, filed_by, reference, secret_hash, body_sealed, state,
			received_at, due_at, report_id, case_id, notice_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.ID, r.Provider, nullID(r.FiledBy), r.Reference, r.SecretHash, r.BodySealed, string(complaint.Open),
		r.ReceivedAt, r.DueAt, nullText(r.Report), nullText(r.Case), nullText(r.Notice))
	if err != nil {
		return err
	}
	for _, ind := range r.IndicatorIDs {
		if _, err := t.tx.Exec(ctx, `INSERT INTO complaint_indicators (complaint_id, indicator_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, r.ID, ind); err != nil {
			return err
		}
	}
	return nil
}

// LockComplaint implements complaint.Tx.
func (t complaintTx) LockComplaint(ctx context.Context, id string) (complaint.Record, error) {
	return lockedComplaint(ctx, t.tx, id, true)
}

// SetDecided implements complaint.Tx.
func (t complaintTx) SetDecided(ctx context.Context, r complaint.Record) error {
	n, err := t.tx.Exec(ctx, `UPDATE complaints SET state = $2, decided_at = $3, decided_by = $4, decided_org = $5,
			reasons_sealed = $6, corrected = $7
		WHERE id = $1`, r.ID, string(r.State), r.DecidedAt, r.DecidedBy, nullID(r.DecidedOrg), nullBlob(r.ReasonsSealed), r.Corrected)
	if err == nil && n == 0 {
		err = core.Errorf(core.ErrNotFound, "no complaint %s", r.ID)
	}
	return err
}
