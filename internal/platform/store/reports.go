package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Reports returns db as report.Store: the DB's methods and the
// transactions of reports (Update, with report.Tx), as Triage does for
// triage.
func (db *DB) Reports() report.Store { return reportStore{db} }

type reportStore struct{ *DB }

const reportColumns = `id, provider_id, state, type, urgent, idempotency_key, body_index, body_sealed,
	created_at, finished_at, retracted_at, non_disclosure_until`

func scanReport(r interface{ Scan(...any) error }, rec *report.Record) error {
	var finished, retracted, nondisclosure sql.NullTime
	if err := r.Scan(&rec.ID, &rec.Provider, &rec.State, &rec.Type, &rec.Urgent, &rec.IdempotencyKey,
		&rec.BodyIndex, &rec.Body, &rec.CreatedAt, &finished, &retracted, &nondisclosure); err != nil {
		return err
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	rec.FinishedAt, rec.RetractedAt = nullTime(finished), nullTime(retracted)
	rec.NonDisclosureUntil = nullTime(nondisclosure)
	return nil
}

// reportOf returns the provider's report id, or an core.ErrNotFound error.
// With share on PostgreSQL it also keeps the report's row from changing
// until the transaction ends (SQLite's writer holds the whole database).
func reportOf(ctx context.Context, tx *Tx, provider int64, id string, share bool) (report.Record, error) {
	q := `SELECT ` + reportColumns + ` FROM reports WHERE id = $1 AND provider_id = $2`
	if share && tx.Postgres() {
		q += ` FOR SHARE`
	}
	var rec report.Record
	err := scanReport(tx.QueryRow(ctx, q, id, provider), &rec)
	if errors.Is(err, ErrNoRows) {
		return rec, core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return rec, err
}

// centreReport returns report id of any provider, for the centre's
// handling, or an core.ErrNotFound error. With lock on PostgreSQL it keeps
// the row locked for update until the transaction ends.
func centreReport(ctx context.Context, tx *Tx, id string, lock bool) (report.Record, error) {
	q := `SELECT ` + reportColumns + ` FROM reports WHERE id = $1`
	if lock && tx.Postgres() {
		q += ` FOR UPDATE`
	}
	var rec report.Record
	err := scanReport(tx.QueryRow(ctx, q, id), &rec)
	if errors.Is(err, ErrNoRows) {
		return rec, core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return rec, err
}

// CreateDraft implements report.Store.
func (db *DB) CreateDraft(ctx context.Context, r report.Record, rc *report.Receipt) (report.Record, bool, error) {
	if db.pg != nil {
		created, err := db.insertReportPG(ctx, r, rc)
		if err != nil {
			return report.Record{}, false, fmt.Errorf("creating report: %w", err)
		}
		if created {
			return r, false, nil
		}
		// The key is taken: the transaction below finds by which report.
	}
	var (
		got     report.Record
		existed bool
	)
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// On PostgreSQL, an insert that conflicts with a concurrent
		// uncommitted one waits for it, and then does nothing; the select
		// that follows, in a new snapshot (READ COMMITTED), sees its row.
		n, err := tx.Exec(ctx, `INSERT INTO reports (id, provider_id, state, type, urgent, idempotency_key,
				body_index, body_sealed, created_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (provider_id, idempotency_key) DO NOTHING`,
			r.ID, r.Provider, string(r.State), string(r.Type), r.Urgent, r.IdempotencyKey, r.BodyIndex, r.Body, r.CreatedAt, orNull(r.FinishedAt))
		if err != nil {
			return err
		}
		if n == 1 {
			got, existed = r, false
			if rc == nil {
				return nil
			}
			if err := enqueueJob(ctx, tx, rc.Job, r.ID, r.FinishedAt); err != nil {
				return err
			}
			_, err := addReportEvent(ctx, tx, rc.Event)
			return err
		}
		err = scanReport(tx.QueryRow(ctx, `SELECT `+reportColumns+` FROM reports WHERE provider_id = $1 AND idempotency_key = $2`,
			r.Provider, r.IdempotencyKey), &got)
		if err != nil {
			return err
		}
		if !bytes.Equal(got.BodyIndex, r.BodyIndex) {
			return core.Errorf(core.ErrConflict, "the idempotency key was used for another report")
		}
		existed = true
		return nil
	})
	if err != nil {
		return report.Record{}, false, fmt.Errorf("creating report: %w", err)
	}
	return got, existed, nil
}

// GetReport implements report.Store.
func (db *DB) GetReport(ctx context.Context, provider int64, id string) (report.Record, error) {
	var rec report.Record
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		rec, err = reportOf(ctx, tx, provider, id, false)
		return err
	})
	return rec, err
}

// insertReportPG stores r, a new report, on PostgreSQL, with rc (its
// event and job) if it is finished, as CreateDraft does, and reports whether
// it did: not if the provider's idempotency key is taken. It is one
// statement, so one round trip and one commit instead of five round
// trips: at a thousand reports a second on a small machine, round trips
// are most of PostgreSQL's work.
func (db *DB) insertReportPG(ctx context.Context, r report.Record, rc *report.Receipt) (bool, error) {
	var job, event, actor string
	if rc != nil {
		job, event, actor = rc.Job, string(rc.Event.Kind), rc.Event.Actor
	}
	var n int
	err := retry(ctx, func() error {
		return db.pg.QueryRow(ctx, `WITH r AS (
				INSERT INTO reports (id, provider_id, state, type, urgent, idempotency_key,
					body_index, body_sealed, created_at, finished_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (provider_id, idempotency_key) DO NOTHING
				RETURNING id, finished_at),
			j AS (INSERT INTO jobs (kind, ref, created_at, run_at)
				SELECT $11, id, $12, finished_at FROM r WHERE finished_at IS NOT NULL),
			e AS (INSERT INTO report_events (report_id, at, kind, actor)
				SELECT id, finished_at, $13, $14 FROM r WHERE finished_at IS NOT NULL)
			SELECT count(*) FROM r`,
			r.ID, r.Provider, string(r.State), string(r.Type), r.Urgent, r.IdempotencyKey, r.BodyIndex, r.Body, r.CreatedAt, orNull(r.FinishedAt),
			job, time.Now().UTC(), event, actor).Scan(&n)
	})
	return n == 1, err
}

const fileColumns = `f.report_id, f.file_index, f.size, f.md5, f.sha256, f.pdq, f.quality, f.segments, f.created_at`

func scanFile(r interface{ Scan(...any) error }, f *report.File, more ...any) error {
	var pdq sql.NullString
	if err := r.Scan(append([]any{&f.ReportID, &f.Index, &f.Size, &f.MD5, &f.SHA256, &pdq, &f.Quality, &f.SegmentCount, &f.CreatedAt}, more...)...); err != nil {
		return err
	}
	f.PDQ, f.CreatedAt = pdq.String, f.CreatedAt.UTC()
	return nil
}

// Update implements report.Store.
func (s reportStore) Update(ctx context.Context, fn func(ctx context.Context, tx report.Tx) error) error {
	return s.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, reportTx{tx}) })
}

// reportTx is the row operations of report.Tx, in SQL.
type reportTx struct{ tx *Tx }

// Report implements report.Tx.
func (t reportTx) Report(ctx context.Context, provider int64, id string, share bool) (report.Record, error) {
	return reportOf(ctx, t.tx, provider, id, share)
}

// MoveReport implements report.Tx.
func (t reportTx) MoveReport(ctx context.Context, provider int64, id string, from, to report.State, at time.Time) (bool, error) {
	q, args := `UPDATE reports SET state = $1`, []any{string(to), id, provider, string(from)}
	// The states whose time the row keeps.
	switch to {
	case report.StateFinished:
		q, args = q+`, finished_at = $5`, append(args, at)
	case report.StateRetracted:
		q, args = q+`, retracted_at = $5`, append(args, at)
	}
	n, err := t.tx.Exec(ctx, q+` WHERE id = $2 AND provider_id = $3 AND state = $4`, args...)
	return n == 1, err
}

// AddEvent implements report.Tx.
func (t reportTx) AddEvent(ctx context.Context, ev report.Event) error {
	_, err := addReportEvent(ctx, t.tx, ev)
	return err
}

// QueueJob implements report.Tx.
func (t reportTx) QueueJob(ctx context.Context, kind, ref string, at time.Time) error {
	return enqueueJob(ctx, t.tx, kind, ref, at)
}

// InsertFile implements report.Tx.
func (t reportTx) InsertFile(ctx context.Context, f report.File) (report.File, bool, error) {
	var pdq any
	if f.PDQ != "" {
		pdq = f.PDQ
	}
	content := f.Content
	if content == nil {
		content = []byte{}
	}
	n, err := t.tx.Exec(ctx, `INSERT INTO report_files (report_id, file_index, size, md5, sha256, pdq, quality, content_sealed, segments, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (report_id, file_index) DO NOTHING`,
		f.ReportID, f.Index, f.Size, f.MD5, f.SHA256, pdq, f.Quality, content, len(f.Segments), f.CreatedAt)
	if err != nil {
		return report.File{}, false, err
	}
	if n == 1 {
		for i, seg := range f.Segments {
			if _, err := t.tx.Exec(ctx, `INSERT INTO report_file_segments (report_id, file_index, seq, sealed) VALUES ($1, $2, $3, $4)`,
				f.ReportID, f.Index, i, seg); err != nil {
				return report.File{}, false, err
			}
		}
		f.SegmentCount = len(f.Segments)
		return f, true, nil
	}
	var got report.File
	err = scanFile(t.tx.QueryRow(ctx, `SELECT `+fileColumns+` FROM report_files f
		WHERE f.report_id = $1 AND f.file_index = $2`, f.ReportID, f.Index), &got)
	return got, false, err
}

// FileSegments implements report.Store.
func (db *DB) FileSegments(ctx context.Context, provider int64, id string, index, from, limit int) ([][]byte, error) {
	var segs [][]byte
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		segs = nil
		rows, err := tx.Query(ctx, `SELECT s.sealed FROM report_file_segments s
			JOIN reports r ON r.id = s.report_id
			WHERE s.report_id = $1 AND r.provider_id = $2 AND s.file_index = $3 AND s.seq >= $4
			ORDER BY s.seq LIMIT $5`, id, provider, index, from, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			segs = append(segs, b)
		}
		return rows.Err()
	})
	return segs, err
}

// ReportByID implements report.Store.
func (db *DB) ReportByID(ctx context.Context, id string) (report.Record, error) {
	var rec report.Record
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		rec, err = centreReport(ctx, tx, id, false)
		return err
	})
	return rec, err
}

// ReportFiles implements report.Store.
func (db *DB) ReportFiles(ctx context.Context, provider int64, id string) ([]report.File, error) {
	var files []report.File
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		files = nil
		if _, err := reportOf(ctx, tx, provider, id, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+fileColumns+` FROM report_files f WHERE f.report_id = $1 ORDER BY f.file_index`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f report.File
			if err := scanFile(rows, &f); err != nil {
				return err
			}
			files = append(files, f)
		}
		return rows.Err()
	})
	return files, err
}

// ReportFile implements report.Store.
func (db *DB) ReportFile(ctx context.Context, provider int64, id string, index int) (report.File, error) {
	var f report.File
	err := db.ReadOnly(ctx, func(ctx context.Context, tx *Tx) error {
		return scanFile(tx.QueryRow(ctx, `SELECT `+fileColumns+`, f.content_sealed FROM report_files f
			JOIN reports r ON r.id = f.report_id
			WHERE f.report_id = $1 AND r.provider_id = $2 AND f.file_index = $3`, id, provider, index), &f, &f.Content)
	})
	if errors.Is(err, ErrNoRows) {
		return f, core.Errorf(core.ErrNotFound, "no file %d of report %s", index, id)
	}
	return f, err
}
