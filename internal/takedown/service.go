package takedown

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// Job kinds of the takedown flow; cmd/ward registers their handlers.
const (
	JobFetch  = "takedown.fetch"  // ref: case ID; Service.Fetch
	JobNotice = "takedown.notice" // ref: notice ID; Service.SendNotice
	// JobRecheck is periodic (ref ""); Answer also queues one with ref
	// "notice:ID" for an immediate recheck. Service.RecheckDue.
	JobRecheck = "takedown.recheck"
	// JobRefer follows an assessment with illegal items (ref: case ID):
	// the indicators, the report to the police, then the content's
	// deletion. Service.Refer.
	JobRefer = "takedown.refer"
)

// Limits of a URL report.
const (
	MaxURL         = report.MaxURL // bytes of the reported URL
	MaxDescription = 4000          // bytes of the reporter's description
)

// Defaults of Options.
const (
	DefaultRecheck       = 6 * time.Hour
	DefaultRenotice      = 24 * time.Hour
	DefaultEscalateAfter = 7 * 24 * time.Hour
	DefaultThreshold     = triage.DefaultThreshold
	// DefaultConfirmAfter is how long after a first finding that an item
	// is gone the recheck that confirms it comes.
	DefaultConfirmAfter = 10 * time.Minute
	// DefaultRecheckBudget bounds the rechecks of one sweep.
	DefaultRecheckBudget = 5 * time.Minute
	// DefaultMaxKeptBytes bounds the content kept of one case.
	DefaultMaxKeptBytes = 64 << 20
	// DefaultContentRetention is how long after its fetch a case's content
	// is deleted at the latest.
	DefaultContentRetention = 30 * 24 * time.Hour
	// DefaultFetchAttempts bounds the fetches of a URL that fail for a
	// reason that may pass.
	DefaultFetchAttempts = 6
	// DefaultFoundCooldown is how long after a case of a URL ended the
	// centre's search opens no new one for it.
	DefaultFoundCooldown = 30 * 24 * time.Hour
	defaultWorkers       = 4
)

// SweepEvery is how often cmd/ward runs the periodic JobRecheck: due
// rechecks, re-notices and escalations are at most this late.
const SweepEvery = time.Minute

// Page limits of Cases.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// URLReport is a URL as a member of the public or a hotline reports it.
type URLReport struct {
	URL         string
	Description string // optional; sealed
	Contact     string // optional e-mail address; sealed
}

// Receipt answers a URL report: the case's ID and a receipt the reporter
// may keep, signed by the centre, of the URL as the case records it and
// the time the report was received (see the package documentation).
type Receipt struct {
	ID      string
	Receipt string
	// URL is the reported URL as the case records it (CheckURL), and
	// ReceivedAt the time of the report, to the microsecond (UTC): with
	// ID, what the receipt signs. ReceiptTime formats ReceivedAt as
	// signed.
	URL        string
	ReceivedAt time.Time
}

// Viewer is who reads or acts on cases: a hotline or the centre, through
// a person or a key, with the policy scope of the action.
type Viewer struct {
	Org   int64
	Kind  org.Kind
	Actor string // as in the audit trail: "user:ID" or "key:ID"
	Scope policy.DataScope
	// OrgName names Org in the audit trail; optional.
	OrgName string
	// Purpose is why the viewer looks, for the audit trail; optional.
	Purpose string
}

// CaseQuery selects a page of cases.
type CaseQuery struct {
	State  State  // "" for every state
	Search string // a case ID, a URL or a part of one, or a hash
	After  string // the ID of the last case of the previous page
	Limit  int    // 1 to MaxLimit; 0 is DefaultLimit
}

// ItemAssessment is the classification of one item.
type ItemAssessment struct {
	Index          int
	Classification Classification
}

// Assessment is an analyst's assessment of a case.
type Assessment struct {
	Items []ItemAssessment
	// SubmitIndicators submits the hashes of the baseline items listed
	// as indicators attested by the assessing hotline.
	SubmitIndicators bool
}

// HostFigures is the takedown figures of one host.
type HostFigures struct {
	Host    int64 // 0: URLs of no registered host
	Name    string
	Country string
	Figures
}

// Figures is how quickly noticed content came down, over cases reported
// in a period.
type Figures struct {
	Cases   int // cases noticed
	Removed int // of them, removed
	Open    int // of them, not removed yet
	Notices int // notices sent, repeats included
	// MedianS and P90S are the median and 90th percentile of the time to
	// removal of the removed cases, in seconds (see Service.Figures).
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

// Fetcher fetches reported URLs and rechecks them; *crawl.Fetcher is one.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string) (crawl.Result, error)
	Get(ctx context.Context, rawURL string) crawl.Resource
}

var _ Fetcher = (*crawl.Fetcher)(nil)

// Sealer seals personal data and fetched content; *seal.Sealer is one.
// It must be the one that seals the organisations' webhooks.
type Sealer = forward.Sealer

// Mailer sends e-mail: the notices to hosts without a webhook.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, text string, headers map[string]string) error
}

// Indicators submits indicators; *indicator.Service is one.
type Indicators interface {
	Submit(ctx context.Context, list string, by org.Principal, subs []indicator.Submission) ([]indicator.Result, error)
}

// Reports makes reports as a provider does; *report.Service is one.
type Reports interface {
	CreateDraft(ctx context.Context, provider int64, key string, d report.Draft) (report.Report, bool, error)
	AddFile(ctx context.Context, provider int64, id string, index int, content []byte) (report.File, bool, error)
	Finish(ctx context.Context, provider int64, id string) (report.Report, error)
}

// Triage triages and decides reports; *triage.Service is one.
type Triage interface {
	Triage(ctx context.Context, reportID string) error
	Case(ctx context.Context, reportID string) (triage.CaseView, error)
	Decide(ctx context.Context, actor, reportID string, d triage.Decision) error
}

var (
	_ Indicators = (*indicator.Service)(nil)
	_ Reports    = (*report.Service)(nil)
	_ Triage     = (*triage.Service)(nil)
)

// Options are a Service's dependencies and settings.
type Options struct {
	// Fetcher fetches reported URLs and rechecks noticed ones; required,
	// as are Matcher, Sealer and Key.
	Fetcher Fetcher
	// Matcher holds the active indicators; Threshold is the PDQ distance
	// up to which a resource matches one (0: DefaultThreshold), and up to
	// which a recheck's content is still the assessed content.
	Matcher   *matcher.Matcher
	Threshold int
	// Decode is the decode budget hashing shares with the rest of the
	// server; nil decodes at once.
	Decode *media.Budget
	// Sealer seals descriptions, contacts and content, and opens
	// webhooks.
	Sealer Sealer
	// Key is the centre's Ed25519 key: it signs receipts and notices.
	Key ed25519.PrivateKey
	// Mailer sends the notices of hosts with a notice address; nil
	// leaves them failing (and retried) until one is configured.
	Mailer Mailer
	// Audit records each view, content access and change; nil records
	// nothing (tests).
	Audit *audit.Log
	// Recheck is how often a noticed item is fetched again (default
	// 6h), Renotice how often a notice is sent again (24h), and
	// EscalateAfter how long after its notices a case not removed is
	// flagged for a removal order (7 days).
	Recheck, Renotice, EscalateAfter time.Duration
	// AllowPrivateWebhooks lets notices go to webhooks at addresses that
	// are not public (tests, closed networks).
	AllowPrivateWebhooks bool
	// Clock is the service's clock, the system's if nil.
	Clock core.Clock
	// Locate says where a URL is hosted, given the addresses its name
	// resolved to (the hosts register, then the IP database); nil
	// locates nothing, and every case goes to the centre's queue.
	Locate func(ctx context.Context, rawURL string, addrs []netip.Addr) (Hosting, error)
	// Centre returns the centre's organisation, which makes the reports
	// to the police as their provider: looked up when needed, since the
	// centre may be registered (ward admin init) after the server starts.
	// It is needed if Reports and Triage are set.
	Centre func(ctx context.Context) (int64, error)
	// BaseURL is the server's public URL ("https://ward.example"), for
	// the removal_url of notices.
	BaseURL string
	// Reports and Triage make, triage and forward the report of each case
	// with illegal items to the competent authority; if either is nil,
	// no report is made.
	Reports Reports
	Triage  Triage
	// Indicators, if set, takes the baseline items' hashes an assessment
	// asks to submit, into list IndicatorList (default indicator.Known).
	Indicators    Indicators
	IndicatorList string
	// Wake, if set, makes the job runner look for due jobs now: Answer
	// calls it for its immediate recheck.
	Wake func()
	// RecheckWorkers bounds the rechecks fetched at once (default 4).
	RecheckWorkers int
	// ConfirmAfter is how long after a recheck first found an item gone
	// another confirms it (DefaultConfirmAfter; at most Recheck).
	ConfirmAfter time.Duration
	// RecheckBudget is how long one sweep starts rechecks for
	// (DefaultRecheckBudget); the items left are due for the next sweep.
	RecheckBudget time.Duration
	// MaxKeptBytes bounds the content kept of one case
	// (DefaultMaxKeptBytes): the items past it keep their hashes only.
	MaxKeptBytes int64
	// ContentRetention is how long after its fetch a case's content is
	// deleted at the latest, whatever its state (DefaultContentRetention).
	ContentRetention time.Duration
	// FetchAttempts is how many times a URL that could not be fetched
	// for a reason that may pass (a timeout, a refused or reset
	// connection, a 5xx, 408, 425 or 429, a name not resolving for now)
	// is fetched before its case is closed (DefaultFetchAttempts): each
	// failure before the last is an error, for the job to be tried again
	// with backoff.
	FetchAttempts int
	// FoundCooldown is how long after a case of a URL was closed or
	// removed Found opens no new case for it (DefaultFoundCooldown).
	FoundCooldown time.Duration
}

// Service runs the takedown flow. The caller has authorised each call
// with package policy and passes the scope it granted in Viewer.Scope.
type Service struct {
	st   Store
	o    Options
	http *http.Client
}

// New returns a Service keeping its cases in st.
func New(st Store, o Options) *Service {
	o.Threshold = cmp.Or(o.Threshold, DefaultThreshold)
	o.Recheck = cmp.Or(o.Recheck, DefaultRecheck)
	o.Renotice = cmp.Or(o.Renotice, DefaultRenotice)
	o.EscalateAfter = cmp.Or(o.EscalateAfter, DefaultEscalateAfter)
	o.IndicatorList = cmp.Or(o.IndicatorList, indicator.Known)
	o.RecheckWorkers = cmp.Or(o.RecheckWorkers, defaultWorkers)
	o.ConfirmAfter = min(cmp.Or(o.ConfirmAfter, DefaultConfirmAfter), o.Recheck)
	o.RecheckBudget = cmp.Or(o.RecheckBudget, DefaultRecheckBudget)
	o.MaxKeptBytes = cmp.Or(o.MaxKeptBytes, DefaultMaxKeptBytes)
	o.ContentRetention = cmp.Or(o.ContentRetention, DefaultContentRetention)
	o.FetchAttempts = cmp.Or(o.FetchAttempts, DefaultFetchAttempts)
	o.FoundCooldown = cmp.Or(o.FoundCooldown, DefaultFoundCooldown)
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	return &Service{st: st, o: o, http: forward.WebhookClient(o.AllowPrivateWebhooks)}
}

// PublicKey returns the key that checks receipts and notices.
func (s *Service) PublicKey() ed25519.PublicKey { return s.o.Key.Public().(ed25519.PublicKey) }

func (s *Service) now() time.Time { return s.o.Clock.Now() }

// DescriptionAAD, ContactAAD and ContentAAD are the associated data the
// personal data and content of a case are sealed with: a blob copied to
// another case, item or field does not open there.
func DescriptionAAD(id string) []byte { return []byte("takedown_cases.description:" + id) }

// ContactAAD: see DescriptionAAD.
func ContactAAD(id string) []byte { return []byte("takedown_cases.contact:" + id) }

// ContentAAD: see DescriptionAAD.
func ContentAAD(id string, index int) []byte {
	return []byte("takedown_items.content:" + id + ":" + strconv.Itoa(index))
}

// CheckURL returns raw as a case records it: an absolute http or https
// URL of at most MaxURL bytes, without user name or password, its host in
// lower case and without #fragment (which never reaches the server).
func CheckURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > MaxURL || !utf8.ValidString(raw) {
		return "", core.Errorf(core.ErrInvalid, "the URL must be UTF-8 of at most %d bytes", MaxURL)
	}
	if err := text.Check(raw); err != nil {
		return "", core.Errorf(core.ErrInvalid, "the URL %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", core.Errorf(core.ErrInvalid, "the URL must be an absolute http or https URL, such as https://example.com/page")
	}
	if u.User != nil {
		return "", core.Errorf(core.ErrInvalid, "the URL must not hold a user name or password")
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	s := u.String()
	if len(s) > MaxURL {
		return "", core.Errorf(core.ErrInvalid, "the URL must be UTF-8 of at most %d bytes", MaxURL)
	}
	return s, nil
}

func checkReport(in URLReport) (URLReport, error) {
	u, err := CheckURL(in.URL)
	if err != nil {
		return URLReport{}, err
	}
	in.URL = u
	if len(in.Description) > MaxDescription || !utf8.ValidString(in.Description) {
		return URLReport{}, core.Errorf(core.ErrInvalid, "the description must be UTF-8 text of at most %d bytes", MaxDescription)
	}
	if err := text.Check(in.Description); err != nil {
		return URLReport{}, core.Errorf(core.ErrInvalid, "the description %v", err)
	}
	in.Contact = strings.TrimSpace(in.Contact)
	if c := in.Contact; c != "" {
		if !bareAddress(c) {
			return URLReport{}, core.Errorf(core.ErrInvalid, "the contact must be an e-mail address such as name@example.org")
		}
	}
	return in, nil
}

// principalActor names p in the audit trail.
func principalActor(p org.Principal) string {
	switch {
	case p.OrgID == 0:
		return audit.Anonymous
	case p.KeyID != "":
		return "key:" + p.KeyID
	}
	return audit.AdminCLI
}

// Report opens a case for a reported URL: from the public if by is the
// zero Principal, else from the hotline by; a case is queued to be
// fetched (JobFetch) in the same transaction. A hotline reporting a URL
// it has an open case of (fetching, assessment or noticed) gets that
// case back, with the same receipt, so that its systems may retry; the
// public gets a new case each time (a member of the public learns
// nothing of others' reports, and each description is kept).
func (s *Service) Report(ctx context.Context, by org.Principal, in URLReport) (Receipt, error) {
	if by.OrgID != 0 && by.Kind != org.Hotline {
		return Receipt{}, core.Errorf(core.ErrForbidden, "only partner hotlines report URLs through the API")
	}
	in, err := checkReport(in)
	if err != nil {
		return Receipt{}, err
	}
	id := rand.Text()
	r := Record{Case: Case{ID: id, URL: in.URL, State: Fetching, Source: by.OrgID, ReceivedAt: s.now()}}
	// Sealed before the transaction, as seal.Sealer wants.
	if in.Description != "" {
		if r.DescriptionSealed, err = s.o.Sealer.Seal(ctx, []byte(in.Description), DescriptionAAD(id)); err != nil {
			return Receipt{}, fmt.Errorf("sealing the description: %w", err)
		}
	}
	if in.Contact != "" {
		if r.ContactSealed, err = s.o.Sealer.Seal(ctx, []byte(in.Contact), ContactAAD(id)); err != nil {
			return Receipt{}, fmt.Errorf("sealing the contact: %w", err)
		}
	}
	actor := principalActor(by)
	got, received := id, r.ReceivedAt
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		var added bool
		var err error
		got, received, added, err = tx.AddCase(ctx, r)
		if err != nil || !added {
			return err
		}
		if err := tx.QueueJob(ctx, JobFetch, id, r.ReceivedAt); err != nil {
			return err
		}
		detail := "by the public"
		if by.OrgID != 0 {
			detail = "by hotline " + strconv.FormatInt(by.OrgID, 10)
		}
		if err := tx.AddEvent(ctx, id, Event{At: r.ReceivedAt, Kind: EventReported, Actor: actor, Org: by.OrgID, Detail: detail}); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: r.ReceivedAt, OrgID: by.OrgID, OrgName: by.OrgName, Actor: actor,
			Action: "takedown.report", Object: "case:" + id, Outcome: audit.OK})
	})
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{ID: got, Receipt: s.receipt(got, received, in.URL), URL: in.URL, ReceivedAt: received}, nil
}

// audit appends ev through a (the transaction of the change it records),
// or on its own if a is nil; nothing without Options.Audit.
func (s *Service) audit(ctx context.Context, a audit.Appender, ev audit.Event) error {
	if s.o.Audit == nil {
		return nil
	}
	var err error
	if a == nil {
		_, err = s.o.Audit.Append(ctx, ev)
	} else {
		_, err = s.o.Audit.AppendTo(ctx, a, ev)
	}
	return err
}

func (v Viewer) event(action, object, purpose string) audit.Event {
	return audit.Event{OrgID: v.Org, OrgName: v.OrgName, Actor: v.Actor, Action: action, Object: object,
		Purpose: strings.TrimSpace(purpose + " " + v.Purpose), Outcome: audit.OK}
}

// filter returns the organisation whose cases v may see, 0 for every
// case, or an core.ErrForbidden error.
func (v Viewer) filter() (int64, error) {
	switch v.Scope {
	case policy.AllData:
		return 0, nil
	case policy.OwnQueue:
		if v.Org != 0 {
			return v.Org, nil
		}
	}
	return 0, core.Errorf(core.ErrForbidden, "you may not see takedown cases")
}

// access is how much of a case a viewer sees.
type access int

const (
	noAccess access = iota
	// relayAccess: the viewer only passes notices of the case on to the
	// host (a hotline they go through): it sees the case without the
	// reporter's description and contact, the other notices or content.
	relayAccess
	fullAccess
)

// access says how much v sees of c: all of every case with
// policy.AllData; with policy.OwnQueue, all of the cases in v's queue or
// submitted by v, and as relay the cases with a notice that goes through
// v (a hotline passing it on to the host), as far as c has its notices.
func (v Viewer) access(c Case) (access, error) {
	o, err := v.filter()
	switch {
	case err != nil:
		return noAccess, err
	case o == 0 || c.Queue == o || c.Source == o:
		return fullAccess, nil
	case slices.ContainsFunc(c.Notices, func(n Notice) bool { return n.Via == o }):
		return relayAccess, nil
	}
	return noAccess, nil
}

// assesses reports whether v may assess or hand over c: every case with
// policy.AllData; with policy.OwnQueue, only those in v's queue (a
// hotline that submitted a case routed to another's sees it, but the
// hosting country's hotline assesses it).
func (v Viewer) assesses(c Case) bool {
	return v.Scope == policy.AllData || (v.Scope == policy.OwnQueue && v.Org != 0 && c.Queue == v.Org)
}

func notFound(id string) error { return core.Errorf(core.ErrNotFound, "no case %s", id) }

// Cases returns a page of the cases v may see, by time of report, without
// their items, notices and events (Case has them).
func (s *Service) Cases(ctx context.Context, v Viewer, q CaseQuery) ([]Case, error) {
	o, err := v.filter()
	if err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return nil, core.Errorf(core.ErrInvalid, "the limit must be 1 to %d", MaxLimit)
	}
	if _, err := ParseState(string(q.State)); err != nil {
		return nil, err
	}
	q.Search = strings.TrimSpace(q.Search)
	if len(q.Search) > MaxURL || !utf8.ValidString(q.Search) {
		return nil, core.Errorf(core.ErrInvalid, "the search must be UTF-8 of at most %d bytes", MaxURL)
	}
	return s.st.TakedownCases(ctx, CaseFilter{CaseQuery: q, Org: o})
}

// Case returns case id, if v may see it (else an core.ErrNotFound error),
// with its items, notices (Pulled filled), history and the reporter's
// description and contact; the view is audited. A viewer that sees the
// case only as relay of its notices (a hotline passing them on to the
// host, not the case's queue nor its source) gets it with Relay set:
// without the description and contact, with only the notices that go
// through it, and its items' hashes and URLs without their content.
func (s *Service) Case(ctx context.Context, v Viewer, id string) (Case, error) {
	r, acc, err := s.visible(ctx, v, id)
	if err != nil {
		return Case{}, err
	}
	c := r.Case
	if acc == relayAccess {
		c.Relay = true
		r.DescriptionSealed, r.ContactSealed = nil, nil
		c.Notices = slices.DeleteFunc(slices.Clone(c.Notices), func(n Notice) bool { return n.Via != v.Org })
		c.Items = slices.Clone(c.Items)
		for i := range c.Items {
			c.Items[i].HasContent = false
		}
	}
	pulled := map[int64]bool{}
	for i, n := range c.Notices {
		if n.Channel != ByHotline || n.Via == 0 {
			continue
		}
		p, ok := pulled[n.Via]
		if !ok {
			ct, err := s.st.NoticeContact(ctx, n.Via)
			if err != nil {
				return Case{}, err
			}
			p, pulled[n.Via] = !ct.HasWebhook, !ct.HasWebhook
		}
		c.Notices[i].Pulled = p
	}
	for _, f := range []struct {
		sealed []byte
		aad    []byte
		to     *string
	}{{r.DescriptionSealed, DescriptionAAD(id), &c.Description}, {r.ContactSealed, ContactAAD(id), &c.Contact}} {
		if f.sealed == nil {
			continue
		}
		b, err := s.o.Sealer.Open(ctx, f.sealed, f.aad)
		if err != nil {
			return Case{}, fmt.Errorf("opening case %s: %w", id, err)
		}
		*f.to = string(b)
	}
	if err := s.audit(ctx, nil, v.event("takedown.case.view", "case:"+id, "")); err != nil {
		return Case{}, err
	}
	return c, nil
}

// visible returns case id and how much of it v sees, if anything, else a
// core.ErrNotFound error (a case of another queue is not there, for v).
func (s *Service) visible(ctx context.Context, v Viewer, id string) (Record, access, error) {
	if _, err := v.filter(); err != nil {
		return Record{}, noAccess, err
	}
	r, err := s.st.TakedownCase(ctx, id)
	if err != nil {
		return Record{}, noAccess, err
	}
	acc, _ := v.access(r.Case)
	if acc == noAccess {
		return Record{}, noAccess, notFound(id)
	}
	return r, acc, nil
}

// Content returns the content of item index of case id and its type, if
// still kept and v may see it; the access is audited. Content is kept
// only of images and videos that matched no known material, until
// assessment (see the package documentation), and never to a viewer
// that sees the case only as relay of its notices: an core.ErrNotFound
// error otherwise.
func (s *Service) Content(ctx context.Context, v Viewer, id string, index int) ([]byte, string, error) {
	r, acc, err := s.visible(ctx, v, id)
	if err != nil {
		return nil, "", err
	}
	if acc == relayAccess {
		return nil, "", core.Errorf(core.ErrNotFound, "the content of case %s is not yours to see: you pass on its notice only", id)
	}
	i := slices.IndexFunc(r.Items, func(it Item) bool { return it.Index == index })
	if i < 0 {
		return nil, "", core.Errorf(core.ErrNotFound, "case %s has no item %d", id, index)
	}
	sealed, err := s.st.TakedownContent(ctx, id, index)
	if err != nil {
		return nil, "", err
	}
	if sealed == nil {
		return nil, "", core.Errorf(core.ErrNotFound, "the content of item %d of case %s is not kept: "+
			"it is not an image or a video, matched known material, was past the case's limit, or the case was assessed or fetched too long ago", index, id)
	}
	if err := s.audit(ctx, nil, v.event("takedown.content.view", "case:"+id, "item "+strconv.Itoa(index))); err != nil {
		return nil, "", err
	}
	b, err := s.o.Sealer.Open(ctx, sealed, ContentAAD(id, index))
	if err != nil {
		return nil, "", fmt.Errorf("opening item %d of case %s: %w", index, id, err)
	}
	return b, r.Items[i].ContentType, nil
}

// HandOver moves case id, not yet assessed, to the queue of hotline to
// (0: the centre's), keeping its history; v must be the case's queue or
// see every case.
func (s *Service) HandOver(ctx context.Context, v Viewer, id string, to int64) error {
	if _, err := v.filter(); err != nil {
		return err
	}
	if to != 0 {
		o, err := s.st.OrgByID(ctx, to)
		if err != nil || o.Kind != org.Hotline {
			return core.Errorf(core.ErrInvalid, "organisation %d is not a hotline", to)
		}
	}
	at := s.now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		r, err := tx.LockCase(ctx, id)
		if err != nil {
			return err
		}
		if acc, _ := v.access(r.Case); acc == noAccess {
			return notFound(id)
		}
		if !v.assesses(r.Case) {
			return core.Errorf(core.ErrForbidden, "case %s is in the queue of another hotline", id)
		}
		if r.State != Fetching && r.State != Assessing {
			return core.Errorf(core.ErrConflict, "case %s is %s: only a case not yet assessed is handed over", id, r.State)
		}
		if r.Queue == to {
			return nil
		}
		if err := tx.SetQueue(ctx, id, to); err != nil {
			return err
		}
		detail := fmt.Sprintf("from %s to %s", queueName(r.Queue), queueName(to))
		if err := tx.AddEvent(ctx, id, Event{At: at, Kind: EventHandedOver, Actor: v.Actor, Org: to, Detail: detail}); err != nil {
			return err
		}
		ev := v.event("takedown.case.handover", "case:"+id, detail)
		ev.At = at
		return s.audit(ctx, tx, ev)
	})
}

func queueName(o int64) string {
	if o == 0 {
		return "the centre"
	}
	return "hotline " + strconv.FormatInt(o, 10)
}
