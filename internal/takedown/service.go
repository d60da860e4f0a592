package takedown

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
)

// Job kinds of the takedown flow; cmd/ward registers their handlers.
const (
	JobFetch   = "takedown.fetch"   // ref: case ID; Service.Fetch
	JobNotice  = "takedown.notice"  // ref: notice ID; Service.SendNotice
	JobRecheck = "takedown.recheck" // periodic; Service.RecheckDue
)

// URLReport is a URL as a member of the public or a hotline reports it.
type URLReport struct {
	URL         string
	Description string // optional; sealed
	Contact     string // optional e-mail address; sealed
}

// Receipt answers a URL report: the case's ID and a receipt the reporter
// may keep, signed by the centre.
type Receipt struct {
	ID      string
	Receipt string
}

// Viewer is who reads or acts on cases: a hotline or the centre, through
// a person or a key, with the policy scope of the action.
type Viewer struct {
	Org   int64
	Kind  org.Kind
	Actor string // as in the audit trail: "user:ID" or "key:ID"
	Scope policy.DataScope
}

// CaseQuery selects a page of cases.
type CaseQuery struct {
	State  State  // "" for every state
	Search string // a case ID, a URL or a part of one, or a hash
	After  string // the ID of the last case of the previous page
	Limit  int
}

// ItemAssessment is the classification of one item.
type ItemAssessment struct {
	Index          int
	Classification Classification
}

// Assessment is an analyst's assessment of a case.
type Assessment struct {
	Items []ItemAssessment
	// SubmitIndicators submits the baseline items' hashes as indicators
	// attested by the assessing hotline.
	SubmitIndicators bool
}

// HostFigures is the takedown figures of one host.
type HostFigures struct {
	Host    int64
	Name    string
	Country string
	Figures
}

// Figures is how quickly noticed content came down, over cases reported
// in a period.
type Figures struct {
	Cases    int // cases noticed
	Removed  int // of them, removed
	Open     int // of them, not removed yet
	Notices  int // notices sent, repeats included
	MedianS  float64
	P90S     float64
	Within1d float64 // share of the noticed cases removed within a day of the report
	Within3d float64
	Within7d float64
}

// Report is the figures of a period, overall and per host.
type Report struct {
	From, To time.Time
	Figures
	Hosts []HostFigures
}

// Service runs the takedown flow.
type Service struct{}

// Report opens a case for a reported URL: from the public if by is the
// zero Principal, else from the hotline by.
func (s *Service) Report(ctx context.Context, by org.Principal, in URLReport) (Receipt, error) {
	panic("takedown: not yet")
}

// Cases returns a page of the cases v may see.
func (s *Service) Cases(ctx context.Context, v Viewer, q CaseQuery) ([]Case, error) {
	panic("takedown: not yet")
}

// Case returns case id, if v may see it; the access is audited.
func (s *Service) Case(ctx context.Context, v Viewer, id string) (Case, error) {
	panic("takedown: not yet")
}

// Content returns the content of item index of case id and its type, if
// still kept and v may see it; the access is audited.
func (s *Service) Content(ctx context.Context, v Viewer, id string, index int) ([]byte, string, error) {
	panic("takedown: not yet")
}

// Assess records v's assessment of case id and acts on it: notices for
// illegal items, the report to the competent authority, indicators.
func (s *Service) Assess(ctx context.Context, v Viewer, id string, a Assessment) (Case, error) {
	panic("takedown: not yet")
}

// HandOver moves case id to the queue of hotline to (0: the centre's),
// keeping its history.
func (s *Service) HandOver(ctx context.Context, v Viewer, id string, to int64) error {
	panic("takedown: not yet")
}

// Answer records a host's word that it removed the content of notice id,
// and schedules an immediate recheck: only the recheck verifies.
func (s *Service) Answer(ctx context.Context, host org.Principal, id string) error {
	panic("takedown: not yet")
}

// Figures returns the takedown figures of the cases reported from from
// to to.
func (s *Service) Figures(ctx context.Context, from, to time.Time) (Report, error) {
	panic("takedown: not yet")
}

// Fetch fetches, hashes and matches case ref's URL: the handler of JobFetch.
func (s *Service) Fetch(ctx context.Context, ref string) error {
	panic("takedown: not yet")
}

// SendNotice sends notice ref: the handler of JobNotice.
func (s *Service) SendNotice(ctx context.Context, ref string) error {
	panic("takedown: not yet")
}

// RecheckDue rechecks the noticed items that are due, re-sends the
// notices that are due and escalates the cases past the escalation
// period: the handler of the periodic JobRecheck.
func (s *Service) RecheckDue(ctx context.Context) error {
	panic("takedown: not yet")
}
