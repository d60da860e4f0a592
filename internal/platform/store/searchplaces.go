package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/takedown/search"
)

// Search returns db as search.Store: the DB's methods and the
// transactions of the centre's search (Update, with search.Tx).
func (db *DB) Search() search.Store { return searchStore{db} }

type searchStore struct{ *DB }

const searchPlaceColumns = `id, url, depth, max_pages, every_s, created_at, next_run_at, started_at, finished_at,
	pages, resources, matches, cases, error`

func scanSearchPlace(r interface{ Scan(...any) error }) (search.Place, error) {
	var (
		p                 search.Place
		every             int64
		started, finished sql.NullTime
	)
	err := r.Scan(&p.ID, &p.URL, &p.Depth, &p.MaxPages, &every, &p.CreatedAt, &p.NextRunAt, &started, &finished,
		&p.Last.Pages, &p.Last.Resources, &p.Last.Matches, &p.Last.Cases, &p.Last.Error)
	p.Every = time.Duration(every) * time.Second
	p.CreatedAt, p.NextRunAt = p.CreatedAt.UTC(), p.NextRunAt.UTC()
	p.Last.StartedAt, p.Last.FinishedAt = nullTime(started), nullTime(finished)
	return p, err
}

func searchPlace(ctx context.Context, tx *Tx, id int64, lock bool) (search.Place, error) {
	q := `SELECT ` + searchPlaceColumns + ` FROM search_places WHERE id = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE`
	}
	p, err := scanSearchPlace(tx.QueryRow(ctx, q, id))
	if errors.Is(err, ErrNoRows) {
		return p, core.Errorf(core.ErrNotFound, "no search place %d", id)
	}
	return p, err
}

// SearchPlace implements search.Store.
func (db *DB) SearchPlace(ctx context.Context, id int64) (search.Place, error) {
	var p search.Place
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		p, err = searchPlace(ctx, tx, id, false)
		return err
	})
	return p, err
}

// SearchPlaces implements search.Store.
func (db *DB) SearchPlaces(ctx context.Context) ([]search.Place, error) {
	var out []search.Place
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+searchPlaceColumns+` FROM search_places ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanSearchPlace(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

// DuePlaces implements search.Store.
func (db *DB) DuePlaces(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	var out []int64
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id FROM search_places WHERE next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2`, now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, err
}

// Update implements search.Store.
func (s searchStore) Update(ctx context.Context, fn func(ctx context.Context, tx search.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, searchTx{tx}) })
}

// searchTx is the row operations of search.Tx, in SQL.
type searchTx struct{ tx *Tx }

var _ search.Tx = searchTx{}

// AppendAudit implements audit.Appender.
func (t searchTx) AppendAudit(ctx context.Context, ev audit.Event) (audit.Entry, error) {
	return appendAudit(ctx, t.tx, ev)
}

// AddPlace implements search.Tx.
func (t searchTx) AddPlace(ctx context.Context, p search.Place) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `INSERT INTO search_places (url, depth, max_pages, every_s, created_at, next_run_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		p.URL, p.Depth, p.MaxPages, int64(p.Every/time.Second), p.CreatedAt, p.NextRunAt).Scan(&id)
	return id, err
}

// LockPlace implements search.Tx.
func (t searchTx) LockPlace(ctx context.Context, id int64) (search.Place, error) {
	return searchPlace(ctx, t.tx, id, true)
}

// RemovePlace implements search.Tx.
func (t searchTx) RemovePlace(ctx context.Context, id int64) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM search_places WHERE id = $1`, id)
	return err
}

// SetNextRun implements search.Tx.
func (t searchTx) SetNextRun(ctx context.Context, id int64, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE search_places SET next_run_at = $2 WHERE id = $1`, id, at)
	return err
}

// SetRun implements search.Tx.
func (t searchTx) SetRun(ctx context.Context, id int64, r search.Run) error {
	_, err := t.tx.Exec(ctx, `UPDATE search_places SET started_at = $2, finished_at = $3, pages = $4, resources = $5,
			matches = $6, cases = $7, error = $8
		WHERE id = $1`, id, orNull(r.StartedAt), orNull(r.FinishedAt), r.Pages, r.Resources, r.Matches, r.Cases, r.Error)
	return err
}

// EnsureJob implements search.Tx.
func (t searchTx) EnsureJob(ctx context.Context, kind, ref string, at time.Time) error {
	return ensureJob(ctx, t.tx, kind, ref, at)
}
