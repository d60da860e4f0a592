package complaint

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
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
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Job kinds of complaints; cmd/ward registers their handlers. Both are
// queued by Decide, in the decision's transaction.
const (
	// JobNotify tells the provider's webhook the outcome (ref: the
	// complaint's ID); Service.Notify.
	JobNotify = "complaint.notify"
	// JobQuarantine quarantines one indicator of an upheld complaint
	// (ref: QuarantineRef's "COMPLAINT/INDICATOR"); Service.Quarantine.
	JobQuarantine = "complaint.quarantine"
)

// NotificationContext is the context string a provider's notification is
// signed in (see the package documentation).
const NotificationContext = "ward complaint notification v1\n"

// Limits of a complaint.
const (
	MaxReference   = 255
	MaxDescription = 4000 // bytes, as a URL report's
	MaxContact     = 254  // bytes of an e-mail address (RFC 5321's path limit)
	MaxReasons     = 4000
	MaxProvider    = 200 // bytes of a provider's name as the public types it
)

// DefaultDeadline is how long after its receipt a complaint is due:
// fourteen days, the fortnight within which the DSA's internal
// complaint-handling is commonly expected to answer and short enough that
// wrongly removed content is not kept down for long.
const DefaultDeadline = 14 * 24 * time.Hour

// Page limits of Queue and ProviderComplaints.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Quarantiner takes an indicator out of matching until a reviewer
// decides on it, because an upheld complaint involved it; the lead wires
// package quarantine's service. It must be idempotent: a retried job calls
// it again for the same indicator and complaint.
type Quarantiner interface {
	QuarantineForComplaint(ctx context.Context, indicatorID int64, complaintID string) error
}

// Sealer seals the complaint's personal data and opens webhooks;
// *seal.Sealer is one, and it must be the one that seals the
// organisations' webhooks and the reports' events.
type Sealer = forward.Sealer

// Options are a Service's dependencies and settings.
type Options struct {
	// Sealer seals descriptions, contacts and reasons, and opens
	// webhooks; required, as is Key.
	Sealer Sealer
	// Key is the centre's Ed25519 key: it signs the notifications.
	Key ed25519.PrivateKey
	// Audit records each change and each opening of personal data; nil
	// records nothing (tests).
	Audit *audit.Log
	// Clock is the service's clock, the system's if nil.
	Clock core.Clock
	// Deadline is how long after receipt a complaint is due
	// (DefaultDeadline).
	Deadline time.Duration
	// Quarantiner quarantines the indicators of upheld complaints; while
	// nil, their JobQuarantine fail (and are retried, then shown to
	// staff).
	Quarantiner Quarantiner
	// AllowPrivateWebhooks lets notifications go to webhooks at
	// addresses that are not public (tests, closed networks).
	AllowPrivateWebhooks bool
}

// Service runs complaints. The caller has authorised each call with
// package policy: the public files and reads its status with no key, a
// provider acts on the complaints about itself (policy.OwnOrg), and
// reviewers on all (Reviewer.Scope policy.AllData).
type Service struct {
	st   Store
	o    Options
	http *http.Client
}

// New returns a Service keeping its complaints in st.
func New(st Store, o Options) *Service {
	o.Deadline = cmp.Or(o.Deadline, DefaultDeadline)
	return &Service{st: st, o: o, http: forward.WebhookClient(o.AllowPrivateWebhooks)}
}

func (s *Service) now() time.Time { return s.o.Clock.Now() }

// Deadline returns how long after receipt a complaint is due.
func (s *Service) Deadline() time.Duration { return s.o.Deadline }

// BodyAAD and ReasonsAAD are the associated data a complaint's personal
// data is sealed with: a blob copied to another complaint or field does
// not open there.
func BodyAAD(id string) []byte { return []byte("complaints.body:" + id) }

// ReasonsAAD: see BodyAAD.
func ReasonsAAD(id string) []byte { return []byte("complaints.reasons:" + id) }

// QuarantineRef is the ref of the JobQuarantine of indicator ind of
// complaint id.
func QuarantineRef(id string, ind int64) string { return id + "/" + strconv.FormatInt(ind, 10) }

// body is the sealed JSON of a complaint's description and contact.
type body struct {
	Description string `json:"description"`
	Contact     string `json:"contact,omitempty"`
}

// newID returns a case ID: 16 characters of base32 (80 random bits) in
// four groups, to read out and type. The secret, not the ID, is what
// guards the case; the ID need only be unique and hard to guess.
func newID() string {
	t := rand.Text()[:16]
	return t[:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:]
}

// NormaliseID returns a case ID as typed by a person (lower case, spaces,
// without its dashes) as newID writes it; anything else unchanged.
func NormaliseID(s string) string {
	t := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s))
	if len(t) != 16 {
		return s
	}
	return t[:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:]
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// checkText checks an optional or required field of text of at most max
// bytes.
func checkText(name, s string, required bool, max int) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return core.Errorf(core.ErrInvalid, "the %s is required", name)
	case len(s) > max || !utf8.ValidString(s):
		return core.Errorf(core.ErrInvalid, "the %s must be UTF-8 text of at most %d bytes", name, max)
	}
	if err := text.Check(s); err != nil {
		return core.Errorf(core.ErrInvalid, "the %s %v", name, err)
	}
	return nil
}

// CheckFiling checks a filing's fields as File does, and returns them
// trimmed: for the edges, which name the field that is wrong. public
// says whether the provider's name is required.
func CheckFiling(f Filing, public bool) (Filing, map[string]error) {
	errs := map[string]error{}
	f.Provider, f.Reference, f.Contact = strings.TrimSpace(f.Provider), strings.TrimSpace(f.Reference), strings.TrimSpace(f.Contact)
	if err := checkText("provider", f.Provider, public, MaxProvider); err != nil {
		errs["provider"] = err
	}
	if err := checkText("reference", f.Reference, true, MaxReference); err != nil {
		errs["reference"] = err
	}
	if err := checkText("description", f.Description, true, MaxDescription); err != nil {
		errs["description"] = err
	}
	if c := f.Contact; c != "" {
		if a, err := mail.ParseAddress(c); err != nil || a.Name != "" || a.Address != c || len(c) > MaxContact || text.Check(c) != nil {
			errs["contact"] = core.Errorf(core.ErrInvalid, "the contact must be an e-mail address such as name@example.org")
		}
	}
	return f, errs
}

// firstError returns one of errs, in the order of the fields, or nil.
func firstError(errs map[string]error) error {
	for _, k := range []string{"provider", "reference", "description", "contact"} {
		if err := errs[k]; err != nil {
			return err
		}
	}
	return nil
}

// ErrNoProvider is wrapped by the one answer for a provider name that
// names no provider or host: it says no more than that.
var ErrNoProvider = errors.New("no provider or host of this name is registered with the centre")

func errNoProvider(name string) error {
	return core.Errorf(core.ErrInvalid, "%q: %w; give the name as the provider gave it", name, ErrNoProvider)
}

// File takes a complaint: from the public if by is the zero Principal
// (f.Provider names the provider), else from the provider or host by on
// a person's behalf (f.Provider must be "" or by's name). The reference
// is resolved for the provider (see the package documentation); one that
// resolves to nothing is accepted, with Receipt.Resolved false. The
// complainant's address is never given to this package.
func (s *Service) File(ctx context.Context, by org.Principal, f Filing) (Receipt, error) {
	public := by.OrgID == 0
	f, errs := CheckFiling(f, public)
	if err := firstError(errs); err != nil {
		return Receipt{}, err
	}
	var provider org.Organisation
	if public {
		o, err := s.st.OrgByName(ctx, f.Provider)
		if errors.Is(err, core.ErrNotFound) || (err == nil && o.Kind != org.Provider && o.Kind != org.Host) {
			return Receipt{}, errNoProvider(f.Provider)
		}
		if err != nil {
			return Receipt{}, err
		}
		provider = o
	} else {
		if by.Kind != org.Provider && by.Kind != org.Host {
			return Receipt{}, core.Errorf(core.ErrForbidden, "only providers and hosts file complaints on a person's behalf")
		}
		if f.Provider != "" && f.Provider != by.OrgName {
			return Receipt{}, core.Errorf(core.ErrInvalid, "a provider files complaints about its own removals: the provider must be %q or left out", by.OrgName)
		}
		provider = org.Organisation{ID: by.OrgID, Name: by.OrgName, Kind: by.Kind}
	}
	res, err := s.st.Resolve(ctx, provider.ID, f.Reference)
	if err != nil {
		return Receipt{}, err
	}
	id, secret := newID(), rand.Text()
	now := s.now()
	r := Record{
		Complaint: Complaint{ID: id, Provider: provider.ID, FiledBy: by.OrgID, Reference: f.Reference, State: Open,
			ReceivedAt: now, DueAt: now.Add(s.o.Deadline), Report: res.Report, Case: res.Case, Notice: res.Notice},
		SecretHash: hashSecret(secret), IndicatorIDs: res.Indicators,
	}
	b, err := json.Marshal(body{Description: f.Description, Contact: f.Contact})
	if err != nil {
		return Receipt{}, err
	}
	// Sealed before the transaction, as seal.Sealer wants.
	if r.BodySealed, err = s.o.Sealer.Seal(ctx, b, BodyAAD(id)); err != nil {
		return Receipt{}, fmt.Errorf("sealing the complaint: %w", err)
	}
	actor := audit.Anonymous
	switch {
	case !public && by.KeyID != "":
		actor = "key:" + by.KeyID
	case !public:
		actor = audit.AdminCLI // an organisation acting directly, as "ward admin" does
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.AddComplaint(ctx, r); err != nil {
			return err
		}
		purpose := "by the public"
		if !public {
			purpose = "on a person's behalf"
		}
		return s.audit(ctx, tx, audit.Event{At: now, OrgID: by.OrgID, OrgName: by.OrgName, Actor: actor, Action: "complaint.file",
			Object: "complaint:" + id, Purpose: purpose + ", about organisation " + strconv.FormatInt(provider.ID, 10), Outcome: audit.OK})
	})
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Case: id, Secret: secret, ReceivedAt: now, DueAt: r.DueAt, Resolved: r.Resolved()}, nil
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

// errNoCase is the one answer to a case that is not there and to a wrong
// secret.
func errNoCase() error {
	return core.Errorf(core.ErrNotFound, "no complaint has this case number and secret")
}

// unknownHash is compared against for an unknown case, so that it costs
// what a wrong secret costs.
var unknownHash = make([]byte, sha256.Size)

// Status returns what the complainant of case id, who holds its secret,
// sees; an unknown case and a wrong secret are the same core.ErrNotFound
// error.
func (s *Service) Status(ctx context.Context, id, secret string) (Status, error) {
	id = NormaliseID(strings.TrimSpace(id))
	want := unknownHash
	r, err := s.st.Complaint(ctx, id)
	switch {
	case err == nil:
		want = r.SecretHash
	case !errors.Is(err, core.ErrNotFound):
		return Status{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(strings.TrimSpace(secret)), want) != 1 || err != nil || secret == "" {
		return Status{}, errNoCase()
	}
	st := Status{Case: r.ID, State: r.State, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, DecidedAt: r.DecidedAt}
	if st.Reasons, err = s.reasons(ctx, r); err != nil {
		return Status{}, err
	}
	return st, nil
}

func (s *Service) reasons(ctx context.Context, r Record) (string, error) {
	if r.ReasonsSealed == nil {
		return "", nil
	}
	b, err := s.o.Sealer.Open(ctx, r.ReasonsSealed, ReasonsAAD(r.ID))
	if err != nil {
		return "", fmt.Errorf("opening the reasons of complaint %s: %w", r.ID, err)
	}
	return string(b), nil
}

func checkQuery(q Query) (Query, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return q, core.Errorf(core.ErrInvalid, "the limit must be 1 to %d", MaxLimit)
	}
	if _, err := ParseState(string(q.State)); err != nil {
		return q, err
	}
	if len(q.After) > 64 {
		return q, core.Errorf(core.ErrInvalid, "after must be the last complaint of an earlier page")
	}
	return q, nil
}

func providerView(c Complaint) ProviderComplaint {
	return ProviderComplaint{ID: c.ID, Reference: c.Reference, State: c.State, ReceivedAt: c.ReceivedAt, DueAt: c.DueAt,
		DecidedAt: c.DecidedAt, Reinstate: c.State == Upheld, Filed: c.FiledBy == c.Provider, Report: c.Report}
}

// ProviderComplaints returns a page of the complaints about provider's
// removals, open first by due date, without reasons.
func (s *Service) ProviderComplaints(ctx context.Context, provider int64, q Query) ([]ProviderComplaint, error) {
	q, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	cs, err := s.st.ComplaintList(ctx, Filter{Query: q, Provider: provider})
	if err != nil {
		return nil, err
	}
	out := make([]ProviderComplaint, len(cs))
	for i, c := range cs {
		out[i] = providerView(c)
	}
	return out, nil
}

// ProviderComplaint returns complaint id, if it is about provider's
// removals (else a core.ErrNotFound error), with the reviewer's reasons.
func (s *Service) ProviderComplaint(ctx context.Context, provider int64, id string) (ProviderComplaint, error) {
	r, err := s.st.Complaint(ctx, NormaliseID(id))
	if err != nil {
		return ProviderComplaint{}, err
	}
	if r.Provider != provider {
		return ProviderComplaint{}, core.Errorf(core.ErrNotFound, "no complaint %s about your organisation", id)
	}
	pc := providerView(r.Complaint)
	if pc.Reasons, err = s.reasons(ctx, r); err != nil {
		return ProviderComplaint{}, err
	}
	return pc, nil
}

func (rv Reviewer) check() error {
	if rv.Scope != policy.AllData || rv.Actor == "" {
		return core.Errorf(core.ErrForbidden, "only the centre's reviewers see and decide complaints")
	}
	return nil
}

// Queue returns a page of the complaints q selects, open first by due
// date (Complaint.Overdue says which are late), without personal data
// nor indicators.
func (s *Service) Queue(ctx context.Context, rv Reviewer, q Query) ([]Complaint, error) {
	if err := rv.check(); err != nil {
		return nil, err
	}
	q, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	return s.st.ComplaintList(ctx, Filter{Query: q})
}

// Complaint returns complaint id with what it concerns and the
// complainant's description and contact, opened: the access is audited.
func (s *Service) Complaint(ctx context.Context, rv Reviewer, id string) (Complaint, error) {
	if err := rv.check(); err != nil {
		return Complaint{}, err
	}
	r, err := s.st.Complaint(ctx, NormaliseID(id))
	if err != nil {
		return Complaint{}, err
	}
	c := r.Complaint
	// Recorded before the personal data is opened: an access the trail
	// cannot record does not happen.
	if err := s.audit(ctx, nil, audit.Event{OrgID: rv.Org, OrgName: rv.OrgName, Actor: rv.Actor, Action: "complaint.view",
		Object: "complaint:" + c.ID, Purpose: "the complainant's description and contact", Outcome: audit.OK}); err != nil {
		return Complaint{}, err
	}
	raw, err := s.o.Sealer.Open(ctx, r.BodySealed, BodyAAD(c.ID))
	if err != nil {
		return Complaint{}, fmt.Errorf("opening complaint %s: %w", c.ID, err)
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return Complaint{}, fmt.Errorf("complaint %s: %w", c.ID, err)
	}
	c.Description, c.Contact = b.Description, b.Contact
	if c.Reasons, err = s.reasons(ctx, r); err != nil {
		return Complaint{}, err
	}
	return c, nil
}

// Decide records rv's decision on open complaint id (else
// core.ErrConflict), with its reasons, and queues what follows (see the
// package documentation) in the same transaction. It returns the
// complaint as decided, without personal data.
func (s *Service) Decide(ctx context.Context, rv Reviewer, id string, d Decision) (Complaint, error) {
	if err := rv.check(); err != nil {
		return Complaint{}, err
	}
	if _, err := ParseOutcome(string(d.Outcome)); err != nil {
		return Complaint{}, err
	}
	if err := checkText("reasons", d.Reasons, true, MaxReasons); err != nil {
		return Complaint{}, err
	}
	id = NormaliseID(id)
	// The report to correct may change between the read and the
	// transaction (a takedown case's referral made meanwhile): then the
	// correction is sealed again for the new one.
	for range 3 {
		c, err := s.decide(ctx, rv, id, d)
		if !errors.Is(err, errReportChanged) {
			return c, err
		}
	}
	return Complaint{}, fmt.Errorf("deciding complaint %s: %w three times", id, errReportChanged)
}

// errReportChanged says the report a decision corrects changed while it
// was being decided.
var errReportChanged = errors.New("the report to correct changed meanwhile")

func (s *Service) decide(ctx context.Context, rv Reviewer, id string, d Decision) (Complaint, error) {
	// Read first, so that a refused decision seals nothing; the
	// transaction checks again.
	r, err := s.st.Complaint(ctx, id)
	if err != nil {
		return Complaint{}, err
	}
	if r.State != Open {
		return Complaint{}, core.Errorf(core.ErrConflict, "complaint %s is %s already", id, r.State)
	}
	reasons, err := s.o.Sealer.Seal(ctx, []byte(d.Reasons), ReasonsAAD(id))
	if err != nil {
		return Complaint{}, fmt.Errorf("sealing the reasons: %w", err)
	}
	// The correction's detail is sealed for the report it corrects, as
	// its other events are; the transaction finds whether it has any
	// delivery.
	var correction []byte
	corrects := r.Corrects()
	if d.Outcome == Upheld && corrects != "" {
		detail, err := json.Marshal(forward.CorrectionDetail{Complaint: id, Reasons: d.Reasons})
		if err != nil {
			return Complaint{}, err
		}
		if correction, err = s.o.Sealer.Seal(ctx, detail, report.EventAAD(corrects)); err != nil {
			return Complaint{}, fmt.Errorf("sealing the correction: %w", err)
		}
	}
	at := s.now()
	var out Record
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		r, err := tx.LockComplaint(ctx, id)
		if err != nil {
			return err
		}
		if r.State != Open {
			return core.Errorf(core.ErrConflict, "complaint %s is %s already", id, r.State)
		}
		r.State, r.DecidedAt, r.DecidedBy, r.DecidedOrg, r.ReasonsSealed = d.Outcome, at, rv.Actor, rv.Org, reasons
		if err := tx.QueueJob(ctx, JobNotify, id, at); err != nil {
			return err
		}
		if d.Outcome == Upheld {
			for _, ind := range r.IndicatorIDs {
				if err := tx.QueueJob(ctx, JobQuarantine, QuarantineRef(id, ind), at); err != nil {
					return err
				}
			}
			// The report to correct is read again here, in case the
			// takedown case's referral was made meanwhile.
			switch c := r.Corrects(); {
			case c != corrects:
				return errReportChanged
			case c != "":
				if r.Corrected, err = forward.Correct(ctx, tx, c, rv.Actor, correction, at); err != nil {
					return err
				}
			}
		}
		if err := tx.SetDecided(ctx, r); err != nil {
			return err
		}
		out = r
		purpose := string(d.Outcome)
		if r.Corrected > 0 {
			purpose += fmt.Sprintf("; report %s corrected with %d authorities", r.Corrects(), r.Corrected)
		}
		return s.audit(ctx, tx, audit.Event{At: at, OrgID: rv.Org, OrgName: rv.OrgName, Actor: rv.Actor, Action: "complaint.decide",
			Object: "complaint:" + id, Purpose: purpose, Outcome: audit.OK})
	})
	if err != nil {
		return Complaint{}, err
	}
	return out.Complaint, nil
}

// permanent marks errors that trying a job again cannot cure as
// jobs.Permanent.
func permanent(err error) error {
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrConflict) {
		return jobs.Permanent(err)
	}
	return err
}

// Notify tells the provider of complaint id (the ref of its JobNotify)
// the outcome, through its webhook if it has one (see the package
// documentation); a provider without one reads it with its key. Any
// answer but 2xx is an error, for the job to be tried again.
func (s *Service) Notify(ctx context.Context, id string) error {
	return permanent(s.notify(ctx, id))
}

func (s *Service) notify(ctx context.Context, id string) error {
	r, err := s.st.Complaint(ctx, id)
	if err != nil {
		return err
	}
	if r.State == Open {
		return core.Errorf(core.ErrConflict, "complaint %s is not decided", id)
	}
	hook, err := forward.OpenWebhook(ctx, s.st, s.o.Sealer, r.Provider)
	if err != nil || hook == "" {
		return err
	}
	b, err := json.Marshal(Notification{Complaint: r.ID, State: r.State, Reinstate: r.State == Upheld, Reference: r.Reference,
		Report: r.Report, Notice: r.Notice, DecidedAt: r.DecidedAt})
	if err != nil {
		return err
	}
	err = forward.PostSigned(ctx, s.http, hook, b, forward.Sign(s.o.Key, NotificationContext, b), http.Header{
		"Ward-Complaint-Id":    {r.ID},
		"Ward-Complaint-State": {string(r.State)},
	})
	if err != nil {
		return fmt.Errorf("notifying provider %d of complaint %s: %w", r.Provider, r.ID, err)
	}
	return nil
}

// Quarantine quarantines, through Options.Quarantiner, the indicator of
// an upheld complaint that ref (QuarantineRef's) names: the handler of
// JobQuarantine.
func (s *Service) Quarantine(ctx context.Context, ref string) error {
	return permanent(s.quarantine(ctx, ref))
}

func (s *Service) quarantine(ctx context.Context, ref string) error {
	id, n, ok := strings.Cut(ref, "/")
	ind, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || id == "" {
		return core.Errorf(core.ErrInvalid, "quarantine job ref %q is not COMPLAINT/INDICATOR", ref)
	}
	r, err := s.st.Complaint(ctx, id)
	if err != nil {
		return err
	}
	if r.State != Upheld || !slices.ContainsFunc(r.Indicators, func(i Indicator) bool { return i.ID == ind }) {
		return core.Errorf(core.ErrConflict, "complaint %s is %s, or does not involve indicator %d", id, r.State, ind)
	}
	if s.o.Quarantiner == nil {
		return errors.New("no quarantine is configured to take the indicators of upheld complaints")
	}
	return s.o.Quarantiner.QuarantineForComplaint(ctx, ind, id)
}
