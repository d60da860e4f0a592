package report

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ProviderState is where a report is, as its provider sees it: the
// centre's own steps between receipt and assessment (finished, queued by
// triage) are one state, ProviderReceived.
type ProviderState string

// The provider states.
const (
	ProviderDraft         ProviderState = "draft"
	ProviderRetracted     ProviderState = "retracted"
	ProviderReceived      ProviderState = "received" // StateFinished or StateQueued
	ProviderBundled       ProviderState = "bundled"
	ProviderInfoRequested ProviderState = "info_requested"
	ProviderUnfounded     ProviderState = "unfounded"
	ProviderForwarded     ProviderState = "forwarded"
)

// ForProvider returns the state as the report's provider sees it.
func (s State) ForProvider() ProviderState {
	switch s {
	case StateFinished, StateQueued:
		return ProviderReceived
	}
	return ProviderState(s)
}

// providerSees is, for each event kind a provider sees in its report's
// history, whether the event is the provider's own step: its own steps
// and the centre's decisions about the report are shown, not the
// deliveries and the authorities' answers. The one table of both
// ProviderSees and NotifiesProvider.
var providerSees = map[EventKind]bool{
	EventReceived:      true, // the provider's own
	EventRetracted:     true,
	EventInfoProvided:  true,
	EventQueued:        false, // the centre's
	EventBundled:       false,
	EventInfoRequested: false,
	EventUnfounded:     false,
	EventForwarded:     false,
	EventNonDisclosure: false,
}

// ProviderSees reports whether the provider sees events of kind k in its
// report's status.
func (k EventKind) ProviderSees() bool {
	_, ok := providerSees[k]
	return ok
}

// NotifiesProvider reports whether an event of kind k changes what the
// provider's status view shows without the provider having done it: the
// store queues a notification of its webhook for each.
func (k EventKind) NotifiesProvider() bool {
	own, ok := providerSees[k]
	return ok && !own
}

// Status is what a provider sees of its report: where it is, what the
// centre asked and decided and when, and to which authorities it went in
// general terms, never naming an organisation nor a person.
type Status struct {
	ID          string
	State       ProviderState
	CreatedAt   time.Time
	FinishedAt  time.Time // zero unless finished
	RetractedAt time.Time // zero unless retracted
	Files       []File    // without their content
	// UnfoundedReasons are the reasons the centre gave when it assessed
	// the report as manifestly unfounded (CSAR Art 48(2)); the provider
	// may then reinstate the content.
	UnfoundedReasons string
	// InfoRequested is what the centre asked the provider, in its latest
	// request for more information.
	InfoRequested string
	// ForwardedAt is when the centre decided to forward the report; zero
	// if it has not.
	ForwardedAt time.Time
	// ForwardedTo describes the authorities the report was delivered to,
	// as the caller's authority function does ("Europol").
	ForwardedTo []string
	// DoNotInformUserUntil is until when the provider must not tell the
	// reported user of the report, because an authority asked so (CSAR
	// Art 12(2)); zero if that time has passed or none was set.
	DoNotInformUserUntil time.Time
	// History is the steps of the report the provider may see, oldest
	// first.
	History []StatusEvent
}

// StatusEvent is a step in a report's history as its provider sees it.
type StatusEvent struct {
	Kind EventKind
	At   time.Time
}

// Status returns what the provider sees of its report id. authority
// describes an authority the report was delivered to in general terms,
// such as "a law-enforcement authority in DE", so that the provider does
// not learn which unit holds the case. Only the details the status shows
// are opened.
func (s *Service) Status(ctx context.Context, provider int64, id string, authority func(ctx context.Context, orgID int64) (string, error)) (Status, error) {
	rec, err := s.store.GetReport(ctx, provider, id)
	if err != nil {
		return Status{}, err
	}
	files, err := s.store.ReportFiles(ctx, provider, id)
	if err != nil {
		return Status{}, err
	}
	evs, err := s.store.ReportEvents(ctx, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{
		ID: rec.ID, State: rec.State.ForProvider(), CreatedAt: rec.CreatedAt, FinishedAt: rec.FinishedAt,
		RetractedAt: rec.RetractedAt, Files: files,
	}
	if rec.NonDisclosureUntil.After(s.Clock.Now()) {
		st.DoNotInformUserUntil = rec.NonDisclosureUntil
	}
	var unfounded, asked []byte
	for _, ev := range evs {
		if ev.Kind.ProviderSees() {
			st.History = append(st.History, StatusEvent{Kind: ev.Kind, At: ev.At})
		}
		switch ev.Kind {
		case EventUnfounded:
			unfounded = ev.Detail
		case EventInfoRequested:
			asked = ev.Detail
		case EventForwarded:
			st.ForwardedAt = ev.At
		case EventRouted:
			a, err := authority(ctx, ev.Org)
			if err != nil {
				return Status{}, fmt.Errorf("describing the authority of event %d of report %s: %w", ev.ID, id, err)
			}
			// Two authorities of the same description are one to the
			// provider.
			if !slices.Contains(st.ForwardedTo, a) {
				st.ForwardedTo = append(st.ForwardedTo, a)
			}
		}
	}
	if st.UnfoundedReasons, err = s.openDetail(ctx, id, unfounded); err != nil {
		return Status{}, err
	}
	if st.InfoRequested, err = s.openDetail(ctx, id, asked); err != nil {
		return Status{}, err
	}
	return st, nil
}

// NewStatus returns the status of a report just created, by CreateDraft
// or Submit, from r alone: such a report has no step in its history but
// its receipt, if it was finished. It spares the store's reads on the
// path that takes reports by the thousand per second.
func NewStatus(r Report) Status {
	st := Status{ID: r.ID, State: r.State.ForProvider(), CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt, Files: r.Files}
	if !r.FinishedAt.IsZero() {
		st.History = []StatusEvent{{Kind: EventReceived, At: r.FinishedAt}}
	}
	return st
}

// openDetail opens the sealed detail of an event of report id; nil is "".
func (s *Service) openDetail(ctx context.Context, id string, sealed []byte) (string, error) {
	if sealed == nil {
		return "", nil
	}
	b, err := s.sealer.Open(ctx, sealed, EventAAD(id))
	if err != nil {
		return "", fmt.Errorf("opening an event's detail of report %s: %w", id, err)
	}
	return string(b), nil
}

// MaxAnswer is the longest answer to a request for information, in bytes.
const MaxAnswer = 8 << 10

// AnswerInfo records the provider's answer to the centre's request for
// more information about its report id, which goes back to the
// assessment queue. The report must be in StateInfoRequested (else
// core.ErrConflict); message is required, at most MaxAnswer bytes of text,
// and checked as a *ValidationError naming "/message".
func (s *Service) AnswerInfo(ctx context.Context, provider int64, id, message string) error {
	c := checker{}
	c.str("/message", message, true, MaxAnswer, true)
	if err := c.err(); err != nil {
		return err
	}
	// Checked first, so that a refused answer stores nothing, not even the
	// data key that sealing stores; the move checks again.
	rec, err := s.store.GetReport(ctx, provider, id)
	if err != nil {
		return err
	}
	if rec.State != answerMove.from {
		return answerMove.conflict(rec)
	}
	// Sealed before the store's transaction, which it would otherwise
	// hold open.
	sealed, err := s.SealDetail(ctx, id, []byte(message))
	if err != nil {
		return fmt.Errorf("sealing the answer: %w", err)
	}
	_, err = s.move(ctx, answerMove, provider, id, s.Clock.Now(), sealed)
	return err
}
