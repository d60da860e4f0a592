package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/stats"
)

// The indicator figures count the indicators of match lists: a suppress
// list's entries are benign content, not material, and an unverified
// list's (victim-reported) no one has assessed.
const (
	matchLists             = `list_id NOT IN (SELECT id FROM lists WHERE kind <> 'match')`
	quarantineOfMatchLists = `indicator_id NOT IN (SELECT i.id FROM indicators i WHERE i.list_id IN (SELECT id FROM lists WHERE kind <> 'match'))`
)

// Stats is the store of the transparency statistics.
func (db *DB) Stats() stats.Store { return statsStore{db} }

type statsStore struct{ *DB }

var _ stats.Store = statsStore{}

const monthLayout = "2006-01"

// DayEvents implements stats.Store. Each query is a range of one indexed
// time column (see migration 0020), so a day costs its own rows only.
func (s statsStore) DayEvents(ctx context.Context, day time.Time) (stats.Events, error) {
	var ev stats.Events
	from, to := day, day.AddDate(0, 0, 1)
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		ev = stats.Events{Triaged: map[string]int64{}, Routed: map[string]int64{}}
		rows, err := tx.Query(ctx, `SELECT o.name, r.type, r.urgent, count(*) FROM reports r JOIN orgs o ON o.id = r.provider_id
			WHERE r.finished_at >= $1 AND r.finished_at < $2 GROUP BY o.name, r.type, r.urgent`, from, to)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r stats.Received
			if err := rows.Scan(&r.Provider, &r.Type, &r.Urgent, &r.N); err != nil {
				rows.Close()
				return err
			}
			ev.Received = append(ev.Received, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := countsBy(ctx, tx, ev.Triaged, `SELECT material, count(*) FROM reports
			WHERE triaged_at >= $1 AND triaged_at < $2 GROUP BY material`, from, to); err != nil {
			return err
		}
		if err := countsBy(ctx, tx, ev.Routed, `SELECT o.country, count(*) FROM deliveries d JOIN orgs o ON o.id = d.org_id
			WHERE d.created_at >= $1 AND d.created_at < $2 AND o.kind = 'lea' GROUP BY o.country`, from, to); err != nil {
			return err
		}
		if ev.ToForward, err = spans(ctx, tx, `SELECT finished_at, decided_at FROM reports
			WHERE state = 'forwarded' AND decided_at >= $1 AND decided_at < $2`, from, to); err != nil {
			return err
		}
		if ev.ToRemoval, err = spans(ctx, tx, `SELECT received_at, removed_at FROM takedown_cases
			WHERE removed_at >= $1 AND removed_at < $2`, from, to); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(activated_at) FROM indicators
			WHERE withdrawn_at >= $1 AND withdrawn_at < $2 AND `+matchLists, from, to).Scan(&ev.Withdrawn, &ev.WithdrawnListed); err != nil {
			return err
		}
		for _, c := range []struct {
			n *int64
			q string
		}{
			{&ev.Unfounded, `SELECT count(*) FROM reports WHERE state = 'unfounded' AND decided_at >= $1 AND decided_at < $2`},
			{&ev.Activated, `SELECT count(*) FROM indicators WHERE activated_at >= $1 AND activated_at < $2 AND ` + matchLists},
			{&ev.QuarantinesBegun, `SELECT count(*) FROM quarantines WHERE at >= $1 AND at < $2 AND ` + quarantineOfMatchLists},
			{&ev.QuarantinesEnded, `SELECT count(*) FROM quarantines WHERE ended_at >= $1 AND ended_at < $2 AND ` + quarantineOfMatchLists},
			{&ev.FalsePositives, `SELECT count(*) FROM match_feedback WHERE verdict = 'false_positive' AND at >= $1 AND at < $2`},
			{&ev.Complaints, `SELECT count(*) FROM complaints WHERE received_at >= $1 AND received_at < $2`},
			{&ev.Upheld, `SELECT count(*) FROM complaints WHERE state = 'upheld' AND decided_at >= $1 AND decided_at < $2`},
			{&ev.Rejected, `SELECT count(*) FROM complaints WHERE state = 'rejected' AND decided_at >= $1 AND decided_at < $2`},
			{&ev.URLsReported, `SELECT count(*) FROM takedown_cases WHERE received_at >= $1 AND received_at < $2`},
			{&ev.Notices, `SELECT count(*) FROM takedown_events WHERE kind = 'noticed' AND at >= $1 AND at < $2`},
		} {
			if err := tx.QueryRow(ctx, c.q, from, to).Scan(c.n); err != nil {
				return err
			}
		}
		return nil
	})
	return ev, err
}

// countsBy adds the (key, count) rows of query to m.
func countsBy(ctx context.Context, tx *Tx, m map[string]int64, query string, args ...any) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k sql.NullString
			n int64
		)
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		m[k.String] += n
	}
	return rows.Err()
}

// spans returns the time from the first to the second column of each row
// of query.
func spans(ctx context.Context, tx *Tx, query string, args ...any) ([]time.Duration, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var start, end time.Time
		if err := rows.Scan(&start, &end); err != nil {
			return nil, err
		}
		out = append(out, max(0, end.Sub(start)))
	}
	return out, rows.Err()
}

// FirstEvent implements stats.Store: the earliest of each counted time
// column, each the first entry of its index. (An event that follows
// another, such as a decision its report's receipt, is not looked at.)
func (s statsStore) FirstEvent(ctx context.Context) (time.Time, error) {
	var first time.Time
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		first = time.Time{}
		for _, c := range []struct{ table, column string }{
			{"reports", "finished_at"}, {"indicators", "activated_at"}, {"indicators", "withdrawn_at"},
			{"quarantines", "at"}, {"match_feedback", "at"}, {"complaints", "received_at"}, {"takedown_cases", "received_at"},
		} {
			var t sql.NullTime
			err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT %[2]s FROM %[1]s WHERE %[2]s IS NOT NULL ORDER BY %[2]s LIMIT 1`,
				c.table, c.column)).Scan(&t)
			if errors.Is(err, ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if first.IsZero() || t.Time.Before(first) {
				first = t.Time.UTC()
			}
		}
		return nil
	})
	return first, err
}

// saveBatch is how many counts one INSERT writes.
const saveBatch = 200

// SaveDay implements stats.Store.
func (s statsStore) SaveDay(ctx context.Context, d stats.DayCounts) error {
	day := d.Day.Format(stats.DateLayout)
	month := d.Day.Format(monthLayout)
	monthStart, monthEnd := d.Day.AddDate(0, 0, 1-d.Day.Day()), d.Day.AddDate(0, 1, 1-d.Day.Day())
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		for _, q := range []string{`DELETE FROM stats_days WHERE day = $1`, `DELETE FROM stats_stocks WHERE day = $1`} {
			if _, err := tx.Exec(ctx, q, day); err != nil {
				return err
			}
		}
		for cs := d.Counts; len(cs) > 0; {
			batch := cs[:min(len(cs), saveBatch)]
			cs = cs[len(batch):]
			var b strings.Builder
			args := []any{day}
			b.WriteString(`INSERT INTO stats_days (day, figure, key, n) VALUES `)
			for i, c := range batch {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "($1, $%d, $%d, $%d)", len(args)+1, len(args)+2, len(args)+3)
				args = append(args, c.Figure, c.Key, c.N)
			}
			if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		for figure, n := range d.Stocks {
			if _, err := tx.Exec(ctx, `INSERT INTO stats_stocks (day, figure, n) VALUES ($1, $2, $3)`, day, figure, n); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM stats_months WHERE month = $1`, month); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO stats_months (month, figure, key, n)
			SELECT CAST($1 AS TEXT), figure, key, sum(n) FROM stats_days WHERE day >= $2 AND day < $3 GROUP BY figure, key`,
			month, monthStart.Format(stats.DateLayout), monthEnd.Format(stats.DateLayout)); err != nil {
			return err
		}
		var final any // NULL: leaves the last final day as it is
		if d.Final {
			final = day
		}
		// Days are finalised in order; a roll-up running behind another
		// does not move the last final day back.
		_, err := tx.Exec(ctx, `INSERT INTO stats_rollup (id, final_through, updated_at) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at,
				final_through = CASE WHEN stats_rollup.final_through IS NULL OR excluded.final_through > stats_rollup.final_through
					THEN excluded.final_through ELSE stats_rollup.final_through END`, final, d.At)
		return err
	})
}

// RollupState implements stats.Store.
func (s statsStore) RollupState(ctx context.Context) (stats.State, error) {
	var st stats.State
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		st, err = rollupState(ctx, tx)
		return err
	})
	return st, err
}

func rollupState(ctx context.Context, tx *Tx) (stats.State, error) {
	var (
		st    stats.State
		final sql.NullString
	)
	err := tx.QueryRow(ctx, `SELECT final_through, updated_at FROM stats_rollup WHERE id = 1`).Scan(&final, &st.UpdatedAt)
	if errors.Is(err, ErrNoRows) {
		return stats.State{}, nil
	}
	if err != nil {
		return st, err
	}
	st.UpdatedAt = st.UpdatedAt.UTC()
	if final.Valid {
		if st.FinalThrough, err = time.Parse(stats.DateLayout, final.String); err != nil {
			return st, fmt.Errorf("stats_rollup.final_through %q: %w", final.String, err)
		}
	}
	return st, nil
}

// Stocks implements stats.Store.
func (s statsStore) Stocks(ctx context.Context, day time.Time) (map[string]int64, error) {
	var out map[string]int64
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		out, err = stocksAt(ctx, tx, day)
		return err
	})
	return out, err
}

// stocksAt reads the stocks of the latest day saved on or before day.
func stocksAt(ctx context.Context, tx *Tx, day time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	rows, err := tx.Query(ctx, `SELECT figure, n FROM stats_stocks
		WHERE day = (SELECT max(day) FROM stats_stocks WHERE day <= $1)`, day.Format(stats.DateLayout))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			figure string
			n      int64
		)
		if err := rows.Scan(&figure, &n); err != nil {
			return nil, err
		}
		out[figure] = n
	}
	return out, rows.Err()
}

// Totals implements stats.Store: the period's whole months from their
// sums, the days of the months it covers in part from the days.
func (s statsStore) Totals(ctx context.Context, from, to time.Time) (stats.Totals, error) {
	var t stats.Totals
	// [whole, wholeEnd) are the months wholly in the period.
	whole := from.AddDate(0, 0, 1-from.Day())
	if !whole.Equal(from) {
		whole = whole.AddDate(0, 1, 0)
	}
	wholeEnd := to.AddDate(0, 0, 1)
	wholeEnd = wholeEnd.AddDate(0, 0, 1-wholeEnd.Day())
	var dayRanges [][2]time.Time // both days included
	if whole.Before(wholeEnd) {
		if from.Before(whole) {
			dayRanges = append(dayRanges, [2]time.Time{from, whole.AddDate(0, 0, -1)})
		}
		if !wholeEnd.After(to) {
			dayRanges = append(dayRanges, [2]time.Time{wholeEnd, to})
		}
	} else {
		dayRanges = append(dayRanges, [2]time.Time{from, to})
	}
	err := s.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		t = stats.Totals{}
		if whole.Before(wholeEnd) {
			if err := monthCounts(ctx, tx, &t.Months, `SELECT month, figure, key, n FROM stats_months WHERE month >= $1 AND month < $2`,
				whole.Format(monthLayout), wholeEnd.Format(monthLayout)); err != nil {
				return err
			}
		}
		for _, r := range dayRanges {
			if err := monthCounts(ctx, tx, &t.Months, `SELECT substr(day, 1, 7), figure, key, CAST(sum(n) AS BIGINT) FROM stats_days
				WHERE day >= $1 AND day <= $2 GROUP BY substr(day, 1, 7), figure, key`,
				r[0].Format(stats.DateLayout), r[1].Format(stats.DateLayout)); err != nil {
				return err
			}
		}
		var err error
		if t.Stocks, err = stocksAt(ctx, tx, to); err != nil {
			return err
		}
		t.State, err = rollupState(ctx, tx)
		return err
	})
	return t, err
}

// monthCounts appends the (month, figure, key, n) rows of query to out.
func monthCounts(ctx context.Context, tx *Tx, out *[]stats.MonthCount, query string, args ...any) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			mc    stats.MonthCount
			month string
		)
		if err := rows.Scan(&month, &mc.Figure, &mc.Key, &mc.N); err != nil {
			return err
		}
		if mc.Month, err = time.Parse(monthLayout, month); err != nil {
			return fmt.Errorf("statistics of month %q: %w", month, err)
		}
		*out = append(*out, mc)
	}
	return rows.Err()
}
