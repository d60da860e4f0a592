package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Triage is the handler of the job that finishing report reportID
// queued: it matches the report's items (the provider's hashes of items
// of kind hash, the centre's hashes of uploaded files) against the active
// indicators, records the matches, puts the report in its case, and
// queues it for assessment by priority; an urgent report is forwarded at
// once with Options.AutoForwardUrgent, and a report that joins a case
// decided already gets the same decision. A report no longer finished is
// left alone, so a re-run changes nothing twice.
func (s *Service) Triage(ctx context.Context, reportID string) error {
	e, err := s.st.TriageEntry(ctx, reportID)
	if err != nil {
		return err
	}
	var res Triaged
	switch e.State {
	case report.StateFinished:
		a, err := s.assess(ctx, reportID)
		if err != nil {
			return err
		}
		if res, err = record(ctx, s.st, a); err != nil {
			return err
		}
	case report.StateBundled:
		// A re-run after a crash between bundling the report into a
		// decided case and giving it the case's decision.
		lead, err := s.st.TriageEntry(ctx, e.CaseID)
		if err != nil {
			return err
		}
		res = Triaged{State: e.State, CaseID: e.CaseID, LeadState: lead.State}
	default:
		return nil
	}
	if res.State != report.StateBundled {
		return nil
	}
	switch res.LeadState {
	case report.StateForwarded:
		return s.decideCase(ctx, res.CaseID, Forward, audit.System, "", true)
	case report.StateUnfounded:
		reasons, err := s.reasons(ctx, res.CaseID)
		if err != nil {
			return err
		}
		return s.decideCase(ctx, res.CaseID, Unfounded, audit.System, reasons, true)
	}
	return nil
}

// assess opens finished report id and matches its items.
func (s *Service) assess(ctx context.Context, id string) (Assessment, error) {
	r, err := s.reports.Open(ctx, id)
	if err != nil {
		return Assessment{}, err
	}
	files := make(map[int]report.File, len(r.Files))
	for _, f := range r.Files {
		files[f.Index] = f
	}
	a := Assessment{ReportID: id, At: s.Clock.Now()}
	q := matcher.Query{Threshold: s.opts.Threshold}
	for i, it := range r.Draft.Items {
		var (
			ms  []matcher.Match
			key string
		)
		if it.Kind == report.ItemFile {
			f, ok := files[i]
			if !ok {
				return Assessment{}, fmt.Errorf("report %s was finished without the file of item %d", id, i)
			}
			ms, key, err = s.matchFile(q, f)
		} else {
			ms, key, err = s.matchHashes(q, it.Hashes)
		}
		if err != nil {
			return Assessment{}, fmt.Errorf("matching item %d of report %s: %w", i, id, err)
		}
		if !slices.Contains(a.Keys, key) {
			a.Keys = append(a.Keys, key)
		}
		if len(ms) > 0 {
			a.Matched++
		}
		for _, m := range ms[:min(len(ms), maxMatchesPerItem)] {
			a.Matches = append(a.Matches, Match{Item: i, Indicator: m.Indicator, List: m.List, Signal: m.Signal,
				Category: m.Category, Distance: m.Distance})
		}
	}
	slices.Sort(a.Keys)
	switch {
	case len(r.Draft.Items) == 0:
		a.Material, a.Priority = MaterialNone, PriorityNew
	case a.Matched > 0:
		a.Material, a.Priority = MaterialKnown, PriorityKnown
	default:
		a.Material, a.Priority = MaterialNew, PriorityNew
	}
	if r.Draft.Urgency.Urgent {
		a.Priority = PriorityUrgent
		a.Forward = s.opts.AutoForwardUrgent
	}
	return a, nil
}

// matchFile matches the hashes the centre computed of an uploaded file,
// and returns its content key.
func (s *Service) matchFile(q matcher.Query, f report.File) ([]matcher.Match, string, error) {
	var h pdq.Hash
	if f.PDQ != "" && f.Quality >= minQuality {
		var err error
		if h, err = pdq.ParseHex(f.PDQ); err != nil {
			return nil, "", err
		}
	}
	ms, err := s.m.File(q, h, nil, f.MD5, f.SHA256)
	return ms, "sha256:" + f.SHA256, err
}

// matchHashes matches the hashes a provider sent of an item together, as
// one content (a suppress list's match of one removes the others'), and
// returns its content key: the strongest of them.
func (s *Service) matchHashes(q matcher.Query, h report.Hashes) ([]matcher.Match, string, error) {
	var (
		items []matcher.Item
		key   string
	)
	for _, v := range []struct {
		sig indicator.Signal
		hex string
	}{{indicator.PDQ, h.PDQ}, {indicator.MD5, h.MD5}, {indicator.SHA256, h.SHA256}} {
		if v.hex == "" {
			continue
		}
		it, err := matcher.ParseItem(v.sig, v.hex)
		if err != nil {
			return nil, "", err
		}
		items = append(items, it)
		key = string(v.sig) + ":" + v.hex // the last is the strongest
	}
	res, err := s.m.MatchContent(q, nil, items...)
	return res.Matches, key, err
}

// reasons returns the reasons of the decision that case lead caseID is
// manifestly unfounded, for the reports that join its case later.
func (s *Service) reasons(ctx context.Context, caseID string) (string, error) {
	evs, err := s.reports.Events(ctx, caseID)
	if err != nil {
		return "", err
	}
	for _, ev := range slices.Backward(evs) {
		if ev.Kind == report.EventUnfounded {
			return string(ev.Detail), nil
		}
	}
	return "", fmt.Errorf("report %s is unfounded but has no event saying why", caseID)
}

// Decide records an analyst's decision on the case that report reportID
// leads; actor is the analyst, "user:ID". The report must be in
// StateQueued, or StateInfoRequested for Forward and Unfounded. Forward
// and Unfounded apply to every report bundled into the case too;
// RequestInfo asks the provider once, for the lead. A case decided
// already is an core.ErrConflict; a report bundled into another's case, or
// a bad decision, an core.ErrInvalid.
func (s *Service) Decide(ctx context.Context, actor, reportID string, d Decision) error {
	switch d.Kind {
	case Forward:
		if d.Text != "" {
			return core.Errorf(core.ErrInvalid, "a decision to forward takes no text")
		}
	case Unfounded, RequestInfo:
		if strings.TrimSpace(d.Text) == "" {
			what := "the reasons, which the provider will see,"
			if d.Kind == RequestInfo {
				what = "the question to the provider"
			}
			return core.Errorf(core.ErrInvalid, "a decision %q needs %s as its text", d.Kind, what)
		}
	default:
		return core.Errorf(core.ErrInvalid, "unknown decision %q (want %q, %q or %q)", d.Kind, Forward, Unfounded, RequestInfo)
	}
	if len(d.Text) > MaxText || !utf8.ValidString(d.Text) {
		return core.Errorf(core.ErrInvalid, "the text must be UTF-8 of at most %d bytes", MaxText)
	}
	if err := text.Check(d.Text); err != nil {
		return core.Errorf(core.ErrInvalid, "the text %v", err)
	}
	if actor == "" {
		return core.Errorf(core.ErrInvalid, "a decision needs its actor")
	}
	return s.decideCase(ctx, reportID, d.Kind, actor, d.Text, false)
}

// maxStale bounds how often decideCase reads a case that keeps changing.
const maxStale = 5

// decideCase seals text for each report of case caseID the decision may
// apply to, outside the store's transaction (which sealing could wait
// for), and applies it in one transaction.
func (s *Service) decideCase(ctx context.Context, caseID string, kind DecisionKind, actor, text string, inherit bool) error {
	at := s.Clock.Now()
	for range maxStale {
		d := CaseDecision{CaseID: caseID, Kind: kind, Actor: actor, At: at, Inherit: inherit}
		if kind != Forward {
			entries, err := s.st.CaseEntries(ctx, caseID)
			if err != nil {
				return err
			}
			d.Details = make(map[string][]byte)
			for _, e := range entries {
				switch e.State {
				case report.StateQueued, report.StateInfoRequested, report.StateBundled:
					if d.Details[e.ReportID], err = s.reports.SealDetail(ctx, e.ReportID, []byte(text)); err != nil {
						return fmt.Errorf("sealing the decision on report %s: %w", e.ReportID, err)
					}
				}
			}
		}
		if err := applyDecision(ctx, s.st, d); !errors.Is(err, ErrStale) {
			return err
		}
	}
	return fmt.Errorf("deciding case %s: %w", caseID, ErrStale)
}

// clearedDetails are the kinds of event whose details are deleted with a
// report's content: the exchanges with the provider may name people too.
// The reasons of "unfounded" stay, for the provider's status and for
// later reports of the case.
var clearedDetails = []report.EventKind{report.EventInfoRequested, report.EventInfoProvided}

// purgeBatch is how many reports one transaction of Retain purges: few
// enough that SQLite's single writer is not held for long.
const purgeBatch = 100

// Retain is the handler of the retention job: it deletes the sealed
// content (body and files) of the reports decided (forwarded or
// unfounded) longer than Options.Retention ago, keeping each report's row,
// hashes, state and history, where an EventPurged records the deletion.
// With a Retention of 0 it does nothing.
func (s *Service) Retain(ctx context.Context) error {
	if s.opts.Retention <= 0 {
		return nil
	}
	now := s.Clock.Now()
	for {
		n, err := s.st.PurgeDecided(ctx, now.Add(-s.opts.Retention), now, purgeBatch, clearedDetails, pending)
		if err != nil || n < purgeBatch {
			return err
		}
	}
}

// Queue returns up to limit (1 to MaxQueue) cases awaiting assessment, as
// their leads: those queued, urgent first, then new material, then known
// material, oldest first within each; then those waiting for information
// from the provider, in the same order.
func (s *Service) Queue(ctx context.Context, limit int) ([]QueueEntry, error) {
	if limit < 1 || limit > MaxQueue {
		return nil, core.Errorf(core.ErrInvalid, "the limit must be 1 to %d", MaxQueue)
	}
	return s.st.Queue(ctx, limit)
}

// Case returns report reportID (any report the provider has finished,
// lead or not) with its matches, history and the other reports of its
// case.
func (s *Service) Case(ctx context.Context, reportID string) (CaseView, error) {
	e, err := s.entry(ctx, reportID)
	if err != nil {
		return CaseView{}, err
	}
	v := CaseView{CaseID: e.CaseID, ProviderName: e.ProviderName, Priority: e.Priority, Material: e.Material,
		Purged: !e.PurgedAt.IsZero()}
	if v.Purged {
		v.Report, err = s.kept(ctx, reportID)
	} else {
		v.Report, err = s.reports.Open(ctx, reportID)
	}
	if err != nil {
		return CaseView{}, err
	}
	if v.Matches, err = s.st.ReportMatches(ctx, reportID); err != nil {
		return CaseView{}, err
	}
	if v.Events, err = s.reports.Events(ctx, reportID); err != nil {
		return CaseView{}, err
	}
	if e.CaseID != "" {
		all, err := s.st.CaseEntries(ctx, e.CaseID)
		if err != nil {
			return CaseView{}, err
		}
		for _, b := range all {
			if b.ReportID != reportID {
				v.Bundle = append(v.Bundle, b)
			}
		}
	}
	return v, nil
}

// kept returns what is kept of a purged report.
func (s *Service) kept(ctx context.Context, id string) (report.Report, error) {
	rec, err := s.st.ReportByID(ctx, id)
	if err != nil {
		return report.Report{}, err
	}
	r := report.Report{ID: rec.ID, Provider: rec.Provider, State: rec.State, IdempotencyKey: rec.IdempotencyKey,
		CreatedAt: rec.CreatedAt, FinishedAt: rec.FinishedAt, NonDisclosureUntil: rec.NonDisclosureUntil}
	r.Files, err = s.st.ReportFiles(ctx, rec.Provider, id)
	return r, err
}

// FileContent returns the content of the file of item index of report
// reportID; ErrPurged once it was deleted.
func (s *Service) FileContent(ctx context.Context, reportID string, index int) ([]byte, error) {
	e, err := s.entry(ctx, reportID)
	if err != nil {
		return nil, err
	}
	if !e.PurgedAt.IsZero() {
		return nil, fmt.Errorf("file %d of report %s: %w", index, reportID, ErrPurged)
	}
	return s.reports.OpenFile(ctx, e.Provider, reportID, index)
}

// entry returns report id if the provider submitted it: a draft or a
// retracted report is the provider's alone.
func (s *Service) entry(ctx context.Context, id string) (QueueEntry, error) {
	e, err := s.st.TriageEntry(ctx, id)
	if err == nil && !e.State.Handled() {
		err = core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return e, err
}
