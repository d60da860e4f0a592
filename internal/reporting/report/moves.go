package report

import (
	"context"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// JobTriage is the kind of job queued, ref the report's id, in the
// transaction that finishes a report; package triage handles it.
const JobTriage = "report.triage"

// ProviderActor is the actor of the steps a provider takes: the report's
// provider, whichever of its keys was used.
const ProviderActor = "provider"

// Tx is the row operations of a transaction on reports (Store.Update):
// the store reads and writes rows as told; the rules of which move is
// allowed, and what it records, are this file's.
type Tx interface {
	// Report returns the provider's report id, or an error wrapping
	// core.ErrNotFound. With share, on PostgreSQL, the row is kept from
	// changing until the transaction ends (SQLite's single writer
	// excludes every other).
	Report(ctx context.Context, provider int64, id string, share bool) (Record, error)
	// MoveReport moves the provider's report id from state from to state
	// to, keeping at as its FinishedAt or RetractedAt if to is
	// StateFinished or StateRetracted, and reports whether it did: not if
	// the report is not in from. The state in the condition makes
	// concurrent moves exclusive: the second finds the report moved.
	MoveReport(ctx context.Context, provider int64, id string, from, to State, at time.Time) (bool, error)
	// AddEvent appends ev to its report's history.
	AddEvent(ctx context.Context, ev Event) error
	// QueueJob queues a job of the kind, with ref, due at at.
	QueueJob(ctx context.Context, kind, ref string, at time.Time) error
	// InsertFile stores f, and returns it and true; if its report has a
	// file with f's index already, it returns that one, without content,
	// and false.
	InsertFile(ctx context.Context, f File) (File, bool, error)
}

// A move is a step a provider takes with its own report: the report's
// state machine, each rule here once. (The centre's steps are package
// triage's.)
type move struct {
	from, to State
	event    EventKind // recorded when the report moves
	// done reports whether a report in state st, not from, had the move
	// made already: a retry, answered with the report unchanged.
	done func(st State) bool
	// refused follows "report ID is STATE" in the conflict of a report
	// in another state.
	refused string
}

var (
	// A finished report is the centre's: a retried finish is accepted
	// even once the centre has handled it.
	finishMove = move{from: StateDraft, to: StateFinished, event: EventReceived,
		done: func(st State) bool { return st == StateFinished || st.Handled() }, refused: ", and only a draft can become finished"}
	retractMove = move{from: StateDraft, to: StateRetracted, event: EventRetracted,
		done: func(st State) bool { return st == StateRetracted }, refused: ", and only a draft can become retracted"}
	// An answered report goes back to the assessment queue.
	answerMove = move{from: StateInfoRequested, to: StateQueued, event: EventInfoProvided,
		done: func(State) bool { return false }, refused: ": the centre has not asked for more information"}
)

// fileState is the only state in which files can be added to a report.
const fileState = StateDraft

// conflict is the error of a report in a state that refuses m.
func (m move) conflict(rec Record) error {
	return core.Errorf(core.ErrConflict, "report %s is %s%s", rec.ID, rec.State, m.refused)
}

// apply makes move m of the provider's report id at time at, in tx,
// recording its event with detail (and, for a finish, queueing its
// triage), and returns the report.
func (m move) apply(ctx context.Context, tx Tx, provider int64, id string, at time.Time, detail []byte) (Record, error) {
	moved, err := tx.MoveReport(ctx, provider, id, m.from, m.to, at)
	if err != nil {
		return Record{}, err
	}
	rec, err := tx.Report(ctx, provider, id, false)
	if err != nil {
		return rec, err
	}
	if !moved {
		if !m.done(rec.State) {
			return rec, m.conflict(rec)
		}
		return rec, nil
	}
	if m.to == StateFinished {
		if err := tx.QueueJob(ctx, JobTriage, id, at); err != nil {
			return rec, err
		}
	}
	return rec, tx.AddEvent(ctx, Event{ReportID: id, At: at, Kind: m.event, Actor: ProviderActor, Detail: detail})
}

// move makes move m of the provider's report id at time at, in one
// transaction, and returns the report.
func (s *Service) move(ctx context.Context, m move, provider int64, id string, at time.Time, detail []byte) (Record, error) {
	var rec Record
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		rec, err = m.apply(ctx, tx, provider, id, at, detail)
		return err
	})
	return rec, err
}

// addFile stores f, a file of the provider's draft f.ReportID, and
// returns it and false; if the draft has a file with f's index already,
// it returns that file and true if its SHA256 equals f's (a retry), and a
// core.ErrConflict if not. A report that is not a draft is a
// core.ErrConflict.
func (s *Service) addFile(ctx context.Context, provider int64, f File) (File, bool, error) {
	var (
		got     File
		existed bool
	)
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		// The shared lock keeps the report a draft until the file is in:
		// a finish waits for it.
		rec, err := tx.Report(ctx, provider, f.ReportID, true)
		if err != nil {
			return err
		}
		if rec.State != fileState {
			return core.Errorf(core.ErrConflict, "report %s is %s: files can be added only to a draft", rec.ID, rec.State)
		}
		var added bool
		if got, added, err = tx.InsertFile(ctx, f); err != nil || added {
			return err
		}
		if got.SHA256 != f.SHA256 {
			return core.Errorf(core.ErrConflict, "report %s has another file for item %d", f.ReportID, f.Index)
		}
		existed = true
		return nil
	})
	if err != nil {
		return File{}, false, fmt.Errorf("adding file: %w", err)
	}
	got.Content, got.Segments = nil, nil
	return got, existed, nil
}

// Receipt is what the creation of a finished report (Store.CreateDraft)
// writes besides its row, as finishMove would: its event and its job.
type Receipt struct {
	Event Event  // EventReceived by ProviderActor, at FinishedAt
	Job   string // JobTriage, ref the report's id, due at FinishedAt
}

// receipt is the Receipt of finished report r.
func receipt(r Record) Receipt {
	return Receipt{Event: Event{ReportID: r.ID, At: r.FinishedAt, Kind: finishMove.event, Actor: ProviderActor}, Job: JobTriage}
}
