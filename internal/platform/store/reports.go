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
	"github.com/wardhq/ward/internal/reporting/triage"
)

var _ report.Store = (*DB)(nil)

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
func (db *DB) CreateDraft(ctx context.Context, r report.Record) (report.Record, bool, error) {
	if r.State != report.StateFinished {
		r.State, r.FinishedAt = report.StateDraft, time.Time{}
	}
	r.RetractedAt = time.Time{}
	if db.pg != nil {
		created, err := db.insertReportPG(ctx, r)
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
		var finished any
		if r.State == report.StateFinished {
			finished = r.FinishedAt
		}
		n, err := tx.Exec(ctx, `INSERT INTO reports (id, provider_id, state, type, urgent, idempotency_key,
				body_index, body_sealed, created_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (provider_id, idempotency_key) DO NOTHING`,
			r.ID, r.Provider, string(r.State), string(r.Type), r.Urgent, r.IdempotencyKey, r.BodyIndex, r.Body, r.CreatedAt, finished)
		if err != nil {
			return err
		}
		if n == 1 {
			got, existed = r, false
			if r.State == report.StateFinished {
				return received(ctx, tx, r.ID, r.FinishedAt)
			}
			return nil
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

// FinishReport implements report.Store.
func (db *DB) FinishReport(ctx context.Context, provider int64, id string, at time.Time) (report.Record, error) {
	return db.leaveDraft(ctx, provider, id, report.StateFinished, `finished_at`, at)
}

// RetractReport implements report.Store.
func (db *DB) RetractReport(ctx context.Context, provider int64, id string, at time.Time) (report.Record, error) {
	return db.leaveDraft(ctx, provider, id, report.StateRetracted, `retracted_at`, at)
}

// leaveDraft moves the provider's draft id to state to, setting the
// column timeColumn to at, and records the event of the move; a finished
// report also gets its triage job. A report in state to already, or
// finished and handled since, is returned unchanged.
func (db *DB) leaveDraft(ctx context.Context, provider int64, id string, to report.State, timeColumn string, at time.Time) (report.Record, error) {
	var rec report.Record
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The state in the condition makes concurrent moves exclusive:
		// the second finds the report no longer a draft.
		n, err := tx.Exec(ctx, `UPDATE reports SET state = $1, `+timeColumn+` = $2
			WHERE id = $3 AND provider_id = $4 AND state = $5`, string(to), at, id, provider, string(report.StateDraft))
		if err != nil {
			return err
		}
		rec, err = reportOf(ctx, tx, provider, id, false)
		if err != nil {
			return err
		}
		if n == 1 {
			if to == report.StateFinished {
				return received(ctx, tx, id, at)
			}
			_, err := addReportEvent(ctx, tx, report.Event{ReportID: id, At: at, Kind: report.EventRetracted, Actor: providerActor})
			return err
		}
		if rec.State != to && !(to == report.StateFinished && rec.State.Handled()) {
			return core.Errorf(core.ErrConflict, "report %s is %s, and only a draft can become %s", id, rec.State, to)
		}
		return nil
	})
	return rec, err
}

// AnswerInfoRequest implements report.Store.
func (db *DB) AnswerInfoRequest(ctx context.Context, provider int64, id string, at time.Time, detail []byte) (report.Record, error) {
	var rec report.Record
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// As in leaveDraft, the state in the condition makes concurrent
		// answers exclusive: one is recorded, the other is a conflict.
		n, err := tx.Exec(ctx, `UPDATE reports SET state = $1 WHERE id = $2 AND provider_id = $3 AND state = $4`,
			string(report.StateQueued), id, provider, string(report.StateInfoRequested))
		if err != nil {
			return err
		}
		if rec, err = reportOf(ctx, tx, provider, id, false); err != nil {
			return err
		}
		if n == 0 {
			return core.Errorf(core.ErrConflict, "report %s is %s: the centre has not asked for more information", id, rec.State)
		}
		_, err = addReportEvent(ctx, tx, report.Event{ReportID: id, At: at, Kind: report.EventInfoProvided, Actor: providerActor, Detail: detail})
		return err
	})
	return rec, err
}

// insertReportPG stores r, a new report, on PostgreSQL, with its receipt
// and triage job if it is finished, as received does, and reports whether
// it did: not if the provider's idempotency key is taken. It is one
// statement, so one round trip and one commit instead of five round
// trips: at a thousand reports a second on a small machine, round trips
// are most of PostgreSQL's work.
func (db *DB) insertReportPG(ctx context.Context, r report.Record) (bool, error) {
	var finished any
	if r.State == report.StateFinished {
		finished = r.FinishedAt
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
			r.ID, r.Provider, string(r.State), string(r.Type), r.Urgent, r.IdempotencyKey, r.BodyIndex, r.Body, r.CreatedAt, finished,
			triage.JobTriage, time.Now().UTC(), string(report.EventReceived), providerActor).Scan(&n)
	})
	return n == 1, err
}

// providerActor is the actor of the steps a provider takes: the report's
// provider, whichever of its keys was used.
const providerActor = "provider"

// received records that the provider finished report id at time at, and
// queues its triage, in the transaction that finished it.
func received(ctx context.Context, tx *Tx, id string, at time.Time) error {
	if err := enqueueJob(ctx, tx, triage.JobTriage, id, at); err != nil {
		return err
	}
	_, err := addReportEvent(ctx, tx, report.Event{ReportID: id, At: at, Kind: report.EventReceived, Actor: providerActor})
	return err
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

// AddFile implements report.Store.
func (db *DB) AddFile(ctx context.Context, provider int64, f report.File) (report.File, bool, error) {
	var (
		got     report.File
		existed bool
	)
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *Tx) error {
		// The shared lock keeps the report a draft until the file is in:
		// FinishReport waits for it.
		rec, err := reportOf(ctx, tx, provider, f.ReportID, true)
		if err != nil {
			return err
		}
		if rec.State != report.StateDraft {
			return core.Errorf(core.ErrConflict, "report %s is %s: files can be added only to a draft", rec.ID, rec.State)
		}
		var pdq any
		if f.PDQ != "" {
			pdq = f.PDQ
		}
		content := f.Content
		if content == nil {
			content = []byte{}
		}
		n, err := tx.Exec(ctx, `INSERT INTO report_files (report_id, file_index, size, md5, sha256, pdq, quality, content_sealed, segments, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (report_id, file_index) DO NOTHING`,
			f.ReportID, f.Index, f.Size, f.MD5, f.SHA256, pdq, f.Quality, content, len(f.Segments), f.CreatedAt)
		if err != nil {
			return err
		}
		if n == 1 {
			for i, seg := range f.Segments {
				if _, err := tx.Exec(ctx, `INSERT INTO report_file_segments (report_id, file_index, seq, sealed) VALUES ($1, $2, $3, $4)`,
					f.ReportID, f.Index, i, seg); err != nil {
					return err
				}
			}
			got, existed = f, false
			got.SegmentCount, got.Segments = len(f.Segments), nil
			return nil
		}
		err = scanFile(tx.QueryRow(ctx, `SELECT `+fileColumns+` FROM report_files f
			WHERE f.report_id = $1 AND f.file_index = $2`, f.ReportID, f.Index), &got)
		if err != nil {
			return err
		}
		if got.SHA256 != f.SHA256 {
			return core.Errorf(core.ErrConflict, "report %s has another file for item %d", f.ReportID, f.Index)
		}
		existed = true
		return nil
	})
	if err != nil {
		return report.File{}, false, fmt.Errorf("adding file: %w", err)
	}
	return got, existed, nil
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
