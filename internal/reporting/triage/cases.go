package triage

import (
	"context"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Tx is the row operations that triage's transactions need, in one
// transaction of the store (Store.Update). Each reads or writes rows as
// told: which state a report moves to, which case it joins and what
// applies to whom is decided in this package, not by the store.
type Tx interface {
	// LockReport returns report id of any provider, locked until the
	// transaction ends so that a concurrent triage of it or decision on
	// it waits; core.ErrNotFound if there is none.
	LockReport(ctx context.Context, id string) (Row, error)
	// ReportState returns the state of report id. With share, the report
	// is locked for share until the transaction ends: a LockReport of it
	// elsewhere waits, or this waits for that transaction.
	ReportState(ctx context.Context, id string, share bool) (report.State, error)
	// ClaimKeys registers each of keys of the provider that no case has
	// yet to the case of report id; a key registered already, even by a
	// concurrent transaction not yet committed, is left (after waiting
	// for that transaction where the engine locks rows).
	ClaimKeys(ctx context.Context, provider int64, id string, keys []string) error
	// KeyCases returns the cases other than id's that keys of the
	// provider are registered to, one per key so registered.
	KeyCases(ctx context.Context, provider int64, id string, keys []string) ([]CaseRef, error)
	// MoveKeys registers to case to those of keys of the provider that are
	// registered to case from.
	MoveKeys(ctx context.Context, provider int64, keys []string, from, to string) error
	// AddMatches stores the matches of report id.
	AddMatches(ctx context.Context, id string, ms []Match) error
	// SetTriage records t of report t.ID if it is in state from.
	SetTriage(ctx context.Context, from report.State, t TriageRow) error
	// RaisePriority sets the priority of report id to p where p is more
	// pressing (lower) than its own.
	RaisePriority(ctx context.Context, id string, p int) error
	// CaseReports returns the reports of case caseID in state, by ID.
	CaseReports(ctx context.Context, caseID string, state report.State) ([]string, error)
	// MoveReport moves report id from state from to state to, decided at
	// decidedAt (zero: not decided), and reports whether it was in state
	// from.
	MoveReport(ctx context.Context, id string, from, to report.State, decidedAt time.Time) (bool, error)
	// QueueJob queues a job of the kind, with ref, due at at.
	QueueJob(ctx context.Context, kind, ref string, at time.Time) error
	// AddEvent appends ev to its report's history.
	AddEvent(ctx context.Context, ev report.Event) error
}

// Row is a report as triage's transactions read it.
type Row struct {
	ID       string
	Provider int64
	State    report.State
	CaseID   string // "" until triaged
}

// CaseRef is a case as Tx.KeyCases finds it.
type CaseRef struct {
	CaseID string
	// LeadFinished is when the case's lead was finished by its provider.
	LeadFinished time.Time
}

// TriageRow is what Tx.SetTriage records of a report.
type TriageRow struct {
	ID        string
	State     report.State
	CaseID    string
	Priority  int
	Material  string
	Matched   int
	TriagedAt time.Time
	DecidedAt time.Time // zero unless decided at triage
}

// record records a of a report in StateFinished in one transaction of st;
// see Assessment. A report no longer finished is left unchanged. It
// returns the report's state, its case and the state of the case's lead,
// after.
func record(ctx context.Context, st Store, a Assessment) (Triaged, error) {
	var res Triaged
	err := st.Update(ctx, func(ctx context.Context, tx Tx) error {
		// The lock makes a concurrent triage of the same report wait, and
		// then find it no longer finished.
		r, err := tx.LockReport(ctx, a.ReportID)
		if err != nil {
			return err
		}
		if r.State != report.StateFinished {
			res = Triaged{State: r.State, CaseID: r.CaseID}
			if r.CaseID != "" {
				res.LeadState, err = tx.ReportState(ctx, r.CaseID, false)
			}
			return err
		}
		caseID, leadState, err := joinCase(ctx, tx, r, a.Keys)
		if err != nil {
			return err
		}
		// An urgent report is never closed unseen: rather than inherit a
		// case's "unfounded" (the user, and the danger, may differ), it
		// leads a case of its own, at the head of the queue.
		if caseID != a.ReportID && leadState == report.StateUnfounded && a.Priority == PriorityUrgent {
			caseID, leadState = a.ReportID, ""
		}
		if err := tx.AddMatches(ctx, a.ReportID, a.Matches); err != nil {
			return err
		}
		t := TriageRow{ID: a.ReportID, State: report.StateQueued, CaseID: caseID, Priority: a.Priority,
			Material: a.Material, Matched: a.Matched, TriagedAt: a.At}
		kind := report.EventQueued
		switch {
		case a.Forward:
			t.State, t.DecidedAt, kind = report.StateForwarded, a.At, report.EventForwarded
			if err := tx.QueueJob(ctx, JobRoute, a.ReportID, a.At); err != nil {
				return err
			}
		case caseID != a.ReportID:
			t.State, kind = report.StateBundled, report.EventBundled
			// The case is as pressing as its most pressing report.
			if err := tx.RaisePriority(ctx, caseID, a.Priority); err != nil {
				return err
			}
		}
		if err := tx.SetTriage(ctx, report.StateFinished, t); err != nil {
			return err
		}
		if caseID == a.ReportID {
			leadState = t.State
		}
		res = Triaged{State: t.State, CaseID: caseID, LeadState: leadState}
		return tx.AddEvent(ctx, report.Event{ReportID: a.ReportID, At: a.At, Kind: kind, Actor: audit.System})
	})
	if err != nil {
		return Triaged{}, fmt.Errorf("triaging report %s: %w", a.ReportID, err)
	}
	return res, nil
}

// joinCase finds the case of report r with content keys: the case of the
// earliest-finished lead among those its keys belong to for its
// provider, or else a new case it leads. Its keys not yet in a case are
// registered to it. It returns the case and the state of its lead (""
// for a new case).
func joinCase(ctx context.Context, tx Tx, r Row, keys []string) (string, report.State, error) {
	// Every key is registered to the report's own case first: on
	// PostgreSQL a registration of a key that a concurrent triage
	// registered, uncommitted, waits for it and then does nothing, and
	// KeyCases, a new snapshot, sees its case. Two identical reports
	// triaged at once thus end in one case.
	if err := tx.ClaimKeys(ctx, r.Provider, r.ID, keys); err != nil {
		return "", "", err
	}
	cases, err := tx.KeyCases(ctx, r.Provider, r.ID, keys)
	if err != nil {
		return "", "", err
	}
	var lead CaseRef
	for _, c := range cases {
		if lead.CaseID == "" || c.LeadFinished.Before(lead.LeadFinished) ||
			c.LeadFinished.Equal(lead.LeadFinished) && c.CaseID < lead.CaseID {
			lead = c
		}
	}
	if lead.CaseID == "" {
		return r.ID, "", nil
	}
	// The shared lock orders this join with a decision on the case
	// (which locks the lead): either the decision sees this report
	// bundled, or this sees the lead decided.
	leadState, err := tx.ReportState(ctx, lead.CaseID, true)
	if err != nil {
		return "", "", err
	}
	if err := tx.MoveKeys(ctx, r.Provider, keys, r.ID, lead.CaseID); err != nil {
		return "", "", err
	}
	return lead.CaseID, leadState, nil
}

// decisionStates are the state and event of each decision.
var decisionStates = map[DecisionKind]struct {
	state report.State
	event report.EventKind
}{
	Forward:     {report.StateForwarded, report.EventForwarded},
	Unfounded:   {report.StateUnfounded, report.EventUnfounded},
	RequestInfo: {report.StateInfoRequested, report.EventInfoRequested},
}

// applyDecision applies d to its case in one transaction of st; see
// CaseDecision.
func applyDecision(ctx context.Context, st Store, d CaseDecision) error {
	to, ok := decisionStates[d.Kind]
	if !ok {
		return core.Errorf(core.ErrInvalid, "unknown decision %q", d.Kind)
	}
	err := st.Update(ctx, func(ctx context.Context, tx Tx) error {
		// The lead's lock serialises decisions and joins (joinCase).
		lead, err := tx.LockReport(ctx, d.CaseID)
		if err != nil {
			return err
		}
		// The targets and the state each must be in: the lead's checked
		// state, then the bundled reports'.
		type target struct {
			id   string
			from report.State
		}
		var targets []target
		if d.Inherit {
			if lead.State != to.state {
				return nil
			}
		} else {
			if err := decidable(d, lead.State, lead.CaseID); err != nil {
				return err
			}
			targets = append(targets, target{d.CaseID, lead.State})
		}
		var decided time.Time
		// The provider answers a request for information once, for the
		// case: it is the lead's alone.
		if d.Kind != RequestInfo {
			decided = d.At
			bundled, err := tx.CaseReports(ctx, d.CaseID, report.StateBundled)
			if err != nil {
				return err
			}
			for _, id := range bundled {
				targets = append(targets, target{id, report.StateBundled})
			}
		}
		for _, tg := range targets {
			detail, ok := d.Details[tg.id]
			if !ok && d.Kind != Forward {
				return ErrStale
			}
			// The state condition guards against any change but those the
			// lead's lock excludes.
			moved, err := tx.MoveReport(ctx, tg.id, tg.from, to.state, decided)
			if err != nil {
				return err
			}
			if !moved {
				return core.Errorf(core.ErrConflict, "report %s changed while the decision was taken", tg.id)
			}
			if d.Kind == Forward {
				if err := tx.QueueJob(ctx, JobRoute, tg.id, d.At); err != nil {
					return err
				}
			}
			if err := tx.AddEvent(ctx, report.Event{ReportID: tg.id, At: d.At, Kind: to.event, Actor: d.Actor,
				Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deciding on report %s: %w", d.CaseID, err)
	}
	return nil
}

// decidable checks that report id, in state and case caseID, is a lead
// that decision d may be taken on.
func decidable(d CaseDecision, state report.State, caseID string) error {
	switch {
	case state == report.StateBundled:
		return core.Errorf(core.ErrInvalid, "report %s is bundled into the case of report %s: decide on that one", d.CaseID, caseID)
	case state == report.StateQueued,
		state == report.StateInfoRequested && d.Kind != RequestInfo:
		return nil
	case state == report.StateInfoRequested:
		return core.Errorf(core.ErrConflict, "report %s is waiting for information from the provider already", d.CaseID)
	case !state.Handled() || state == report.StateFinished:
		return core.Errorf(core.ErrConflict, "report %s is %s: it has not been triaged", d.CaseID, state)
	}
	return core.Errorf(core.ErrConflict, "report %s is %s already", d.CaseID, state)
}
