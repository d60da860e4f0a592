// Package triage is the centre's handling of finished reports up to the
// decision on them (CSAR Art 48): it matches each report's items against
// the active indicators (known or new material), bundles the reports of
// one provider about the same content into one case, orders the cases for
// assessment, urgent first, records analysts' decisions (forward,
// manifestly unfounded, or ask the provider for more information), and
// deletes reports' content at the end of the retention period. Every step
// is recorded in the report's history (Art 45).
//
// # Cases
//
// Viral content is reported many times by the same provider. The first
// report about some content leads a case; later reports of the same
// provider with an item of the same content (the same SHA-256, or MD5 or
// PDQ hash where the provider sent no stronger one) join it as bundled,
// and the analyst's decision on the lead applies to all of them. A report
// that joins a case already decided gets the same decision at once, so
// that content is assessed once. Each report stays a report of its own:
// it is forwarded individually, because its user differs.
//
// # Priority
//
// Cases are assessed urgent first (PriorityUrgent), then new material, not
// matched by any indicator (PriorityNew: a child may be abused now), then
// known material (PriorityKnown), oldest first within each. A case's
// priority is the most pressing of its reports'.
//
// # Rules here, rows in the store
//
// The rules of triage (the state each decision leads to and from which
// states it may be taken, the case a report joins, that an urgent report
// never inherits "unfounded") are in this package, each in one place.
// The store only runs SQL: Store.Update opens a transaction and hands
// its row operations to the caller as a Tx, the few this package needs,
// each reading or writing rows as told (locking where the engine does);
// record and applyDecision decide, in that transaction, what to write.
// Package store implements Store by (*store.DB).Triage, since every
// domain with transactions of its own has an Update of its own Tx. Other
// domains follow the same pattern; their tests of their rules run
// through the store on both engines, as TestStore here does, and
// storetest keeps only the contract of the SQL.
//
// Package triage provides job handlers (Service.Triage for the job the
// store queues when a report is finished, Service.Retain for the retention
// job); package forward delivers the reports decided to be forwarded.
package triage

import (
	"context"
	"errors"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/reporting/report"
)

// The priorities of a case, most pressing first.
const (
	PriorityUrgent = 0 // the provider flagged a report urgent
	PriorityNew    = 1 // new material, or no material (solicitation)
	PriorityKnown  = 2 // known material: an item matched an indicator
)

// The kinds of material a report carries.
const (
	MaterialKnown = "known" // at least one item matched an indicator
	MaterialNew   = "new"   // items, none matched
	MaterialNone  = "none"  // no items (solicitation)
)

// DecisionKind is what an analyst decided on a case.
type DecisionKind string

// The decisions.
const (
	Unfounded   DecisionKind = "unfounded"    // manifestly unfounded: the reasons go back to the provider
	Forward     DecisionKind = "forward"      // forward to law enforcement (package forward routes it)
	RequestInfo DecisionKind = "request_info" // ask the provider for more information
)

// MaxText bounds a decision's text, in bytes.
const MaxText = 8 << 10

// MaxQueue bounds the entries one call of Queue returns.
const MaxQueue = 1000

// DefaultThreshold is the PDQ distance up to which a report's item matches
// an indicator, unless Options.Threshold says otherwise (the list's own
// cap applies too).
const DefaultThreshold = 31

// minQuality is the PDQ quality under which the centre's hash of an
// uploaded image is not matched: such a hash (of a nearly flat image)
// lies near many others, and a false "known" would put new material
// behind known material in the queue.
const minQuality = 50

// maxMatchesPerItem bounds the matches recorded for one item: the analyst
// needs the nearest; a flood of near-duplicates says nothing more.
const maxMatchesPerItem = 20

var (
	// ErrPurged is the error of FileContent for a report whose content
	// was deleted at the end of the retention period.
	ErrPurged = core.Errorf(core.ErrNotFound, "the content was deleted at the end of the retention period")
	// ErrStale is the error of a CaseDecision when the case has a
	// report the decision applies to but has no sealed detail for: the
	// case changed since its reports were read. The service reads them
	// again and retries.
	ErrStale = errors.New("the case changed while the decision was prepared")
)

// Store keeps the triage of reports. Package store implements it; this
// package's tests check it on each engine.
type Store interface {
	Lister
	// ReportByID is report.Store's.
	ReportByID(ctx context.Context, id string) (report.Record, error)
	// ReportFiles is report.Store's.
	ReportFiles(ctx context.Context, provider int64, id string) ([]report.File, error)

	// Update runs fn in one transaction, retried as a whole where the
	// engine asks (so fn must not keep what a failed run changed), and
	// commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// TriageEntry returns report id of any provider, in any state, as
	// the queue shows it; core.ErrNotFound if there is none.
	TriageEntry(ctx context.Context, id string) (QueueEntry, error)
	// CaseEntries returns the reports of case caseID, oldest first.
	CaseEntries(ctx context.Context, caseID string) ([]QueueEntry, error)
	// ReportMatches returns the matches of report id, by item then
	// distance then indicator.
	ReportMatches(ctx context.Context, id string) ([]Match, error)
	// Queue returns up to limit case leads in StateQueued, then in
	// StateInfoRequested, each by priority then finish time.
	Queue(ctx context.Context, limit int) ([]QueueEntry, error)
	// PurgeDecided deletes the sealed content (body and files' content,
	// and the details of their events of the kinds cleared) of up to
	// limit reports decided before the time before and not yet purged,
	// marking them purged at time at with an EventPurged by audit.System,
	// and returns how many it purged. A report with a job of the kinds
	// pending that is not done is left as it is.
	PurgeDecided(ctx context.Context, before, at time.Time, limit int, cleared []report.EventKind, pending []Pending) (int, error)
}

// Assessment is what triage found of a finished report, to record
// atomically: its matches; its case (the case of the earliest-finished
// lead among the cases of the report's content keys for its provider, or
// a new case it leads, its keys registered to it); its priority, raising
// the case lead's if the report is bundled; its state (queued, bundled,
// or forwarded if Forward) and the event of it (and the route job of a
// forward), by audit.System. Concurrent triage of reports with a key in
// common puts them in one case.
type Assessment struct {
	ReportID string
	At       time.Time
	Priority int
	Material string
	Matched  int // items with at least one match
	Matches  []Match
	// Keys are the content keys of the report's items, distinct and
	// sorted (so that concurrent triage of reports with keys in common
	// takes their locks in one order): "sha256:HEX", "md5:HEX" or
	// "pdq:HEX", the strongest hash each item has.
	Keys []string
	// Forward forwards the report at once, without an analyst (an urgent
	// report with Options.AutoForwardUrgent).
	Forward bool
}

// Triaged is the outcome of recording an Assessment.
type Triaged struct {
	State     report.State // the report's state
	CaseID    string       // its case, "" if not triaged
	LeadState report.State // the state of the case's lead
}

// CaseDecision is a decision on a case, applied atomically. Unless
// Inherit, the lead CaseID must be in StateQueued, or StateInfoRequested
// for Forward or Unfounded: a lead decided already is an core.ErrConflict,
// as is a report not yet triaged; a report that is not a lead is an
// core.ErrInvalid naming its lead. With Inherit, the lead must be in the
// state of the decision already, else nothing happens.
//
// Forward and Unfounded apply to the lead (unless Inherit) and every
// report of the case in StateBundled, setting their decision time;
// RequestInfo to the lead only, since the provider answers once for the
// case. Each report gets the event of the decision, by Actor, with its
// sealed detail from Details, and, for Forward, its route job. If Details
// lacks a report the decision applies to (except for Forward), nothing
// changes and the error is ErrStale.
type CaseDecision struct {
	CaseID  string
	Kind    DecisionKind
	Actor   string
	At      time.Time
	Inherit bool
	// Details are the event details by report ID, each sealed with
	// report.EventAAD of its report; nil for Forward.
	Details map[string][]byte
}

// Match is an indicator that an item of a report matched at triage.
type Match struct {
	Item      int // the index of the item in the report
	Indicator int64
	List      string
	Signal    indicator.Signal // the hash that matched
	Category  indicator.Category
	Distance  int // PDQ distance; 0 for MD5 and SHA-256
}

// QueueEntry is a report as the assessment queue shows it: nothing
// sealed.
type QueueEntry struct {
	ReportID string
	// CaseID is the report leading its case, ReportID itself for a lead;
	// "" until triaged.
	CaseID       string
	Provider     int64
	ProviderName string
	Type         report.Type
	Urgent       bool
	// Priority is PriorityUrgent, PriorityNew or PriorityKnown: for a
	// lead, the most pressing of its case's reports bundled before the
	// decision; -1 until triaged.
	Priority int
	// Material is MaterialKnown, MaterialNew or MaterialNone; "" until
	// triaged.
	Material   string
	Matched    int // items that matched an indicator
	Bundled    int // other reports in the case
	State      report.State
	FinishedAt time.Time
	// PurgedAt is when the report's content was deleted at the end of
	// the retention period; zero if it was not.
	PurgedAt time.Time
}

// CaseView is a report with what an analyst needs to assess it.
type CaseView struct {
	// Report is the report opened, with its files' hashes; of a purged
	// report, only what is kept (no Draft).
	Report       report.Report
	CaseID       string
	ProviderName string
	Priority     int
	Material     string
	Purged       bool
	Matches      []Match
	Events       []report.Event // with details opened
	Bundle       []QueueEntry   // the other reports of the case, oldest first
}

// Decision is an analyst's decision on a case.
type Decision struct {
	Kind DecisionKind
	// Text is the reasons (required for Unfounded), sent to the provider,
	// or the question (required for RequestInfo); at most MaxText bytes.
	// A Forward has none.
	Text string
}

// Options configure a Service.
type Options struct {
	// AutoForwardUrgent forwards urgent reports at triage, without
	// waiting for an analyst.
	AutoForwardUrgent bool
	// Retention is how long after its decision a report's content is
	// kept; 0 keeps it forever.
	Retention time.Duration
	// Threshold is the PDQ distance up to which items match indicators;
	// 0 means DefaultThreshold.
	Threshold int
}

// Service triages reports and records decisions on them. The caller has
// authorised and audited each access.
type Service struct {
	st      Store
	reports *report.Service
	m       *matcher.Matcher
	opts    Options
	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock
}

// New returns a Service keeping triage in st, opening reports with
// reports and matching them with m.
func New(st Store, reports *report.Service, m *matcher.Matcher, opts Options) *Service {
	if opts.Threshold == 0 {
		opts.Threshold = DefaultThreshold
	}
	return &Service{st: st, reports: reports, m: m, opts: opts}
}
