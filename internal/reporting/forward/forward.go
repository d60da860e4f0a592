// Package forward delivers the reports that the centre decided to forward
// to the competent law-enforcement authority and to Europol (proposed CSAR,
// COM(2022) 209, Art 48), and keeps the authorities' answers.
//
// Route (the handler of JobRoute) decides the authorities of a
// report (see Decide) and creates a Delivery to each, in one transaction
// with the report's EventRouted events and, for each authority with a
// webhook, a JobPush job. An authority pulls its deliveries
// (Inbox, Package, File) or has them pushed (Push), acknowledges them (Ack) and
// gives feedback (GiveFeedback), which may ask that the reported user not
// be told for up to 18 months. Notify (the handler of
// JobNotify) tells a provider's webhook that its report moved on. Correct
// records that an upheld complaint found a delivered report wrong: the
// authorities see it in their inbox and the package, and have it pushed
// (PushCorrection, the handler of JobCorrection).
// The three job handlers mark the errors that trying again cannot cure
// (an unknown report, a report not forwarded) as jobs.Permanent.
//
// As in package triage, the rules of routing (only a forwarded report,
// once, a push only to an authority with a webhook) are this package's,
// in AddDeliveries; the store runs its row operations (Tx) in the
// transaction of Store.Update, which (*store.DB).Forward implements.
//
// # Signatures
//
// A report package (a manifest: the report and the size and hashes of
// each file, downloaded on its own with File) and a notification are JSON
// bodies signed with the centre's Ed25519 key (RFC 8032): the signature
// covers a context string, PackageContext or NotificationContext,
// followed by the exact body, so that neither can pass for the other nor
// for anything else the key signs (audit checkpoints). It travels in the
// header
//
//	Ward-Signature: ed25519=<standard base64 of the 64-byte signature>
//
// Receivers check it with the public key of GET /v1/lea/signing-key
// (client.VerifyPackage).
package forward

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// Delivery is a report routed to an authority.
type Delivery struct {
	ReportID  string
	Org       int64     // the authority
	CreatedAt time.Time // when it was routed
	AckedAt   time.Time // zero until the authority acknowledged it
	// PushedAt is when its webhook accepted the package; zero if not
	// (yet) pushed.
	PushedAt time.Time
	// LastAttemptAt, Attempts and LastError describe the pushes tried:
	// LastError is the last failure, never report content.
	LastAttemptAt time.Time
	Attempts      int
	LastError     string
	// CorrectedAt is when the report was last corrected (Correct); zero
	// if never. A delivery corrected since its acknowledgement is new
	// again.
	CorrectedAt time.Time
	// Urgent and Type are the report's, for the inbox.
	Urgent bool
	Type   report.Type
}

// Status selects deliveries in an inbox.
type Status string

// The statuses.
const (
	StatusNew          Status = "new"          // not acknowledged, or corrected since
	StatusAcknowledged Status = "acknowledged" // acknowledged, and not corrected since
	StatusAll          Status = "all"
)

// ParseStatus returns the status named s; "" is StatusNew.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case "":
		return StatusNew, nil
	case StatusNew, StatusAcknowledged, StatusAll:
		return st, nil
	}
	return "", core.Errorf(core.ErrInvalid, "status must be new, acknowledged or all, not %q", s)
}

// Cursor is a position in an inbox, which is ordered by the time of
// routing, then report ID.
type Cursor struct {
	At       time.Time
	ReportID string
}

// String encodes c for an API client, which passes it back unchanged.
func (c Cursor) String() string {
	if c.ReportID == "" {
		return ""
	}
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "_" + c.ReportID
}

// ParseCursor decodes a Cursor.String; "" is the start.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	us, id, ok := strings.Cut(s, "_")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, core.Errorf(core.ErrInvalid, "after must be the next of an earlier page, not %q", s)
	}
	return Cursor{At: time.UnixMicro(n).UTC(), ReportID: id}, nil
}

// InboxQuery selects a page of an authority's deliveries.
type InboxQuery struct {
	Status Status
	After  Cursor // the page starts after it
	Limit  int
}

// Page limits of Inbox.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Outcome is what an authority made of a report.
type Outcome string

// The outcomes.
const (
	Received           Outcome = "received"            // received, not assessed yet
	Investigating      Outcome = "investigating"       // an investigation is open
	NoAction           Outcome = "no_action"           // no further action
	VictimIdentified   Outcome = "victim_identified"   // a victim was identified
	OffenderIdentified Outcome = "offender_identified" // an offender was identified
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Received, Investigating, NoAction, VictimIdentified, OffenderIdentified}

// Limits of feedback.
const (
	// MaxNote is the most bytes of a feedback note.
	MaxNote = 4096
	// MaxNonDisclosureMonths is how far ahead an authority may ask that
	// the reported user not be told of the report.
	MaxNonDisclosureMonths = 18
)

// Feedback is an authority's feedback on a report routed to it.
type Feedback struct {
	ID       int64
	ReportID string
	Org      int64
	At       time.Time
	Outcome  Outcome
	// Note is free text for the centre, sealed with associated data
	// report.EventAAD(ReportID) in the store; nil if none.
	Note []byte
}

// Target is an authority a report is routed to, with the sealed detail of
// its EventRouted: why it is competent.
type Target struct {
	Org    int64
	Detail []byte
}

// Store is the storage the service needs; package store implements it,
// and storetest.Run checks it.
type Store interface {
	// Orgs and OrgByID are org.Store's.
	Orgs(ctx context.Context) ([]org.Organisation, error)
	OrgByID(ctx context.Context, id int64) (org.Organisation, error)
	// ReportByID is report.Store's.
	ReportByID(ctx context.Context, id string) (report.Record, error)
	// TriageEntry and ReportMatches are triage.Store's: the report's
	// case and purge, and what its items matched.
	TriageEntry(ctx context.Context, id string) (triage.QueueEntry, error)
	ReportMatches(ctx context.Context, id string) ([]triage.Match, error)
	// ReportEvent returns event id of any report, detail sealed, or an
	// core.ErrNotFound error.
	ReportEvent(ctx context.Context, id int64) (report.Event, error)
	// ReportEvents returns the history of report id, oldest first,
	// details sealed.
	ReportEvents(ctx context.Context, id string) ([]report.Event, error)
	// Update runs fn in a transaction, with its row operations: the
	// routing of a report (AddDeliveries).
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Deliveries returns a page of the deliveries to organisation
	// orgID, in the order of Cursor.
	Deliveries(ctx context.Context, orgID int64, q InboxQuery) ([]Delivery, error)
	// Delivery returns the delivery of report id to orgID, or an
	// core.ErrNotFound error.
	Delivery(ctx context.Context, id string, orgID int64) (Delivery, error)
	// AckDelivery sets the AckedAt of the delivery of report id to orgID
	// to at and records an EventAcknowledged by actor, unless it is
	// acknowledged already and not corrected since; it returns the
	// delivery, or an core.ErrNotFound error.
	AckDelivery(ctx context.Context, id string, orgID int64, actor string, at time.Time) (Delivery, error)
	// AddFeedback stores f, about a report delivered to f.Org (else
	// core.ErrNotFound), with an EventFeedback by actor whose sealed
	// detail is detail, and moves the report's NonDisclosureUntil to
	// nonDisclosure if that is later. It returns f with its ID.
	AddFeedback(ctx context.Context, f Feedback, actor string, detail []byte, nonDisclosure time.Time) (Feedback, error)
	// RecordPush records an attempt at time at to push report id to
	// orgID: successful if failure is "", else failed with that error.
	RecordPush(ctx context.Context, id string, orgID int64, at time.Time, failure string) error
	// WebhookStore keeps the organisations' webhook URLs, sealed.
	WebhookStore
}

// Tx is the row operations of a transaction on deliveries (Store.Update):
// the store reads and writes rows as told; which report may be routed,
// and what a routing records and queues, are AddDeliveries'.
type Tx interface {
	// ReportState returns report id's state, or an error wrapping
	// core.ErrNotFound. On PostgreSQL the row is locked for update, so
	// that concurrent routings of one report queue (SQLite's single
	// writer excludes every other).
	ReportState(ctx context.Context, id string) (report.State, error)
	// Routed reports whether report id has any delivery.
	Routed(ctx context.Context, id string) (bool, error)
	// HasWebhook reports whether organisation orgID has a webhook, or
	// returns an error wrapping core.ErrNotFound.
	HasWebhook(ctx context.Context, orgID int64) (bool, error)
	// AddDelivery inserts the delivery of report id to orgID, created at.
	AddDelivery(ctx context.Context, id string, orgID int64, at time.Time) error
	// AddEvent records ev.
	AddEvent(ctx context.Context, ev report.Event) error
	// QueueJob queues a job of kind with ref, due at.
	QueueJob(ctx context.Context, kind, ref string, at time.Time) error
	// DeliveredTo returns the authorities report id was delivered to, by
	// ID.
	DeliveredTo(ctx context.Context, id string) ([]int64, error)
	// AddCorrection records ev, an EventCorrected of report ev.ReportID
	// for authority ev.Org, sets that delivery's CorrectedAt to ev.At,
	// and returns the event's ID.
	AddCorrection(ctx context.Context, ev report.Event) (int64, error)
}

// Service forwards reports and keeps the authorities' answers. The caller
// has authorised each call: an authority acts on the reports routed to
// it (policy.RoutedToOrg), which the service enforces by its orgID
// arguments.
type Service struct {
	// Audit records each push of a report's content to an authority,
	// before it is sent, as a download is; nil records nothing (tests).
	Audit *audit.Log
	// Observe, if set, is told of each POST to a webhook once answered:
	// channel "push" (a report to an authority) or "notify" (an event to
	// a provider), and its error, nil if delivered (metrics). It must be
	// quick and safe for concurrent use.
	Observe func(channel string, err error)

	store   Store
	reports *report.Service
	sealer  Sealer // of webhook URLs: the reports'
	key     ed25519.PrivateKey
	http    *http.Client
	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock
}

// NewService returns a Service on st, opening reports with reports and
// signing with key, the centre's Ed25519 key.
func NewService(st Store, reports *report.Service, key ed25519.PrivateKey) *Service {
	return &Service{store: st, reports: reports, sealer: reports.Sealer(), key: key, http: WebhookClient(false)}
}

// AllowPrivateWebhooks lets pushes and notifications connect to addresses
// that are not public (see ErrPrivateAddress): for tests and closed
// networks. Call it before the service is used.
func (s *Service) AllowPrivateWebhooks() { s.http = WebhookClient(true) }

// Inbox returns a page of the deliveries to organisation orgID.
func (s *Service) Inbox(ctx context.Context, orgID int64, q InboxQuery) ([]Delivery, error) {
	if q.Limit <= 0 || q.Limit > MaxLimit {
		return nil, core.Errorf(core.ErrInvalid, "limit must be 1 to %d", MaxLimit)
	}
	return s.store.Deliveries(ctx, orgID, q)
}

// Ack acknowledges the receipt of report id by organisation orgID, on
// behalf of actor (as in the audit trail), or of its correction since
// (Correct). Acknowledging again changes nothing.
func (s *Service) Ack(ctx context.Context, orgID int64, id, actor string) (Delivery, error) {
	return s.store.AckDelivery(ctx, id, orgID, actor, s.Clock.Now())
}

// FeedbackInput is an authority's feedback as it gives it.
type FeedbackInput struct {
	Outcome Outcome
	Note    string
	// NonDisclosureUntil, if not zero, asks that the reported user not be
	// told of the report until then: at most MaxNonDisclosureMonths
	// ahead.
	NonDisclosureUntil time.Time
}

// feedbackDetail is the sealed detail of an EventFeedback.
type feedbackDetail struct {
	Outcome            Outcome   `json:"outcome"`
	Note               string    `json:"note,omitempty"`
	NonDisclosureUntil time.Time `json:"non_disclosure_until,omitzero"`
}

// GiveFeedback records organisation orgID's feedback on report id, on
// behalf of actor. A non-disclosure request never shortens one made
// before, by this or another authority: the report keeps the latest end.
func (s *Service) GiveFeedback(ctx context.Context, orgID int64, id, actor string, in FeedbackInput) (Feedback, error) {
	now := s.Clock.Now()
	if !slices.Contains(Outcomes, in.Outcome) {
		return Feedback{}, core.Errorf(core.ErrInvalid, "outcome must be one of received, investigating, no_action, victim_identified, offender_identified, not %q", in.Outcome)
	}
	if len(in.Note) > MaxNote || !utf8.ValidString(in.Note) {
		return Feedback{}, core.Errorf(core.ErrInvalid, "the note must be UTF-8 text of at most %d bytes", MaxNote)
	}
	if err := text.Check(in.Note); err != nil {
		return Feedback{}, core.Errorf(core.ErrInvalid, "the note %v", err)
	}
	if nd := in.NonDisclosureUntil; !nd.IsZero() {
		limit := now.AddDate(0, MaxNonDisclosureMonths, 0)
		if !nd.After(now) || nd.After(limit) {
			return Feedback{}, core.Errorf(core.ErrInvalid, "non_disclosure_until must be in the future and at most %d months ahead (until %s)",
				MaxNonDisclosureMonths, limit.Format(time.RFC3339))
		}
	}
	// Checked before sealing, so that an unknown report costs no data key.
	if _, err := s.store.Delivery(ctx, id, orgID); err != nil {
		return Feedback{}, err
	}
	nd := in.NonDisclosureUntil.UTC().Truncate(time.Microsecond)
	detail, err := json.Marshal(feedbackDetail{Outcome: in.Outcome, Note: in.Note, NonDisclosureUntil: nd})
	if err != nil {
		return Feedback{}, err
	}
	if detail, err = s.reports.SealDetail(ctx, id, detail); err != nil {
		return Feedback{}, fmt.Errorf("sealing feedback: %w", err)
	}
	f := Feedback{ReportID: id, Org: orgID, At: now, Outcome: in.Outcome}
	if in.Note != "" {
		if f.Note, err = s.reports.SealDetail(ctx, id, []byte(in.Note)); err != nil {
			return Feedback{}, fmt.Errorf("sealing feedback: %w", err)
		}
	}
	return s.store.AddFeedback(ctx, f, actor, detail, nd)
}

// PublicKey returns the public key that checks the service's signatures.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// PublicKeyPEM returns PublicKey as a PEM "PUBLIC KEY" block (PKIX), the
// form most libraries load.
func (s *Service) PublicKeyPEM() string {
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
