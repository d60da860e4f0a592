package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

var _ triage.Lister = (*DB)(nil)

// args collects a query's parameters and names their placeholders: every
// value a user typed reaches the database as a parameter, never as SQL.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// sortKeys are the columns of each order, most significant first.
var sortKeys = map[triage.Order][]string{
	triage.OrderQueue:   {"r.priority", "r.finished_at", "r.id"},
	triage.OrderDecided: {"r.decided_at", "r.id"},
	triage.OrderRecent:  {"r.finished_at", "r.id"},
}

// ListReports implements triage.Lister.
func (db *DB) ListReports(ctx context.Context, q triage.ListQuery) ([]triage.ListEntry, error) {
	if q.Limit < 1 || q.Limit > triage.MaxPage+1 {
		return nil, core.Errorf(core.ErrInvalid, "a limit of %d reports", q.Limit)
	}
	var (
		a    args
		cond []string
	)
	var states []string
	for _, s := range q.View.States() {
		states = append(states, a.add(string(s)))
	}
	cond = append(cond, "r.state IN ("+strings.Join(states, ", ")+")")
	if q.ReportID != "" {
		cond = append(cond, "r.id = "+a.add(q.ReportID))
	}
	if q.Hash != "" {
		h := strings.ToLower(q.Hash)
		p := a.add(h)
		if len(h) == 32 {
			cond = append(cond, `(r.id IN (SELECT f.report_id FROM report_files f WHERE f.md5 = `+p+`)
				OR r.id IN (SELECT c.case_id FROM report_content c WHERE c.content_key = `+a.add("md5:"+h)+`))`)
		} else {
			// 64 digits: a SHA-256 or a PDQ hash.
			cond = append(cond, `(r.id IN (SELECT f.report_id FROM report_files f WHERE f.sha256 = `+p+` OR f.pdq = `+p+`)
				OR r.id IN (SELECT c.case_id FROM report_content c WHERE c.content_key IN (`+a.add("sha256:"+h)+`, `+a.add("pdq:"+h)+`)))`)
		}
	}
	if q.Provider != "" {
		cond = append(cond, `lower(o.name) LIKE `+a.add("%"+likeEscape(strings.ToLower(q.Provider))+"%")+` ESCAPE '\'`)
	}
	if q.Material != "" {
		cond = append(cond, "r.material = "+a.add(q.Material))
	}
	switch q.Urgency {
	case triage.Urgent:
		cond = append(cond, "(r.urgent OR r.priority = 0)")
	case triage.Normal:
		cond = append(cond, "NOT (r.urgent OR COALESCE(r.priority, -1) = 0)")
	}
	if !q.From.IsZero() {
		cond = append(cond, "r.finished_at >= "+a.add(q.From))
	}
	if !q.To.IsZero() {
		cond = append(cond, "r.finished_at < "+a.add(q.To))
	}
	order := q.View.Order()
	keys := sortKeys[order]
	desc := order != triage.OrderQueue
	// Keyset paging: the rows after (or before) the cursor's key in the
	// order, so that a page does not shift when reports arrive.
	cur, back := q.After, false
	if q.Before != nil {
		cur, back = q.Before, true
	}
	if cur != nil {
		vals := []any{cur.At, cur.ID}
		if order == triage.OrderQueue {
			vals = []any{cur.Priority, cur.At, cur.ID}
		}
		var ph []string
		for _, v := range vals {
			ph = append(ph, a.add(v))
		}
		op := ">"
		if desc != back {
			op = "<"
		}
		cond = append(cond, "("+strings.Join(keys, ", ")+") "+op+" ("+strings.Join(ph, ", ")+")")
	}
	dir := " ASC"
	if desc != back {
		dir = " DESC"
	}
	var by []string
	for _, k := range keys {
		by = append(by, k+dir)
	}
	query := `WHERE ` + strings.Join(cond, " AND ") + ` ORDER BY ` + strings.Join(by, ", ") + ` LIMIT ` + a.add(q.Limit)

	var out []triage.ListEntry
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT r.decided_at, `+strings.TrimPrefix(entryQuery, "SELECT ")+` `+query, a...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e       triage.ListEntry
				decided sql.NullTime
			)
			if err := scanEntry(prefixScanner{rows, &decided}, &e.QueueEntry); err != nil {
				return err
			}
			e.DecidedAt = nullTime(decided)
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if back {
			slices.Reverse(out)
		}
		return decorate(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("listing reports: %w", err)
	}
	return out, nil
}

// prefixScanner scans a first column into first, the rest as scanEntry
// asks.
type prefixScanner struct {
	rows  interface{ Scan(...any) error }
	first any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.rows.Scan(append([]any{p.first}, dest...)...)
}

// likeEscape escapes the wildcards of LIKE (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// decorate adds to es their latest decisions and their deliveries.
func decorate(ctx context.Context, tx *Tx, es []triage.ListEntry) error {
	if len(es) == 0 {
		return nil
	}
	var a args
	var ids []string
	at := map[string]int{}
	for i, e := range es {
		ids = append(ids, a.add(e.ReportID))
		at[e.ReportID] = i
	}
	in := strings.Join(ids, ", ")
	kinds := []string{a.add(string(report.EventUnfounded)), a.add(string(report.EventForwarded)), a.add(string(report.EventInfoRequested))}
	rows, err := tx.Query(ctx, `SELECT report_id, kind, at, actor FROM report_events
		WHERE report_id IN (`+in+`) AND kind IN (`+strings.Join(kinds, ", ")+`) ORDER BY id`, a...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id string
			d  triage.Decided
		)
		if err := rows.Scan(&id, &d.Kind, &d.At, &d.Actor); err != nil {
			rows.Close()
			return err
		}
		d.At = d.At.UTC()
		es[at[id]].Decided = d // the latest wins
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `SELECT d.report_id, d.org_id, o.name, o.kind, o.country, d.created_at, d.acked_at, d.pushed_at,
		d.attempts, COALESCE(d.last_error, '')
		FROM deliveries d JOIN orgs o ON o.id = d.org_id WHERE d.report_id IN (`+in+`) ORDER BY d.report_id, o.kind, o.name`, a[:len(ids)]...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id                    string
			d                     triage.DeliveryStatus
			acked, pushed, create sql.NullTime
		)
		if err := rows.Scan(&id, &d.Org, &d.OrgName, &d.OrgKind, &d.Country, &create, &acked, &pushed, &d.Attempts, &d.LastError); err != nil {
			return err
		}
		d.CreatedAt, d.AckedAt, d.PushedAt = nullTime(create), nullTime(acked), nullTime(pushed)
		es[at[id]].Deliveries = append(es[at[id]].Deliveries, d)
	}
	return rows.Err()
}

// ReportCounts implements triage.Lister.
func (db *DB) ReportCounts(ctx context.Context, since time.Time) (triage.Counts, error) {
	var c triage.Counts
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		c = triage.Counts{}
		rows, err := tx.Query(ctx, `SELECT priority, count(*) FROM reports WHERE state = $1 GROUP BY priority`, string(report.StateQueued))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p, n int
			if err := rows.Scan(&p, &n); err != nil {
				return err
			}
			switch p {
			case triage.PriorityUrgent:
				c.Urgent = n
			case triage.PriorityNew:
				c.New = n
			case triage.PriorityKnown:
				c.Known = n
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, q := range []struct {
			dst   *int
			query string
			args  []any
		}{
			{&c.InfoRequested, `SELECT count(*) FROM reports WHERE state = $1`, []any{string(report.StateInfoRequested)}},
			{&c.ForwardedSince, `SELECT count(*) FROM reports WHERE state = $1 AND decided_at >= $2`, []any{string(report.StateForwarded), since}},
			{&c.DeliveriesFailing, `SELECT count(*) FROM deliveries WHERE pushed_at IS NULL AND acked_at IS NULL AND attempts > 0`, nil},
			{&c.DeadJobs, `SELECT count(*) FROM jobs WHERE dead_at IS NOT NULL`, nil},
		} {
			if err := tx.QueryRow(ctx, q.query, q.args...).Scan(q.dst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("counting reports: %w", err)
	}
	return c, nil
}
