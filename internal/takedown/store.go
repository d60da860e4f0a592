package takedown

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// Record is a case as the store keeps it: the Case, with its personal
// data sealed, and what the flow needs beyond the case's view.
type Record struct {
	Case
	// DescriptionSealed and ContactSealed are sealed with DescriptionAAD
	// and ContactAAD of the case's ID; nil if the reporter gave none.
	DescriptionSealed, ContactSealed []byte
	// SubmitIndicators: the assessment asked that the baseline items'
	// hashes be submitted as indicators attested by AssessedOrg.
	SubmitIndicators bool
}

// CaseFilter selects cases for Store.TakedownCases.
type CaseFilter struct {
	CaseQuery
	// Org, if not 0, keeps only the cases in Org's queue, submitted by
	// Org, or with a notice that goes through Org (policy.OwnQueue).
	Org int64
}

// Check is an illegal item due to be rechecked.
type Check struct {
	Case  string
	Index int
	URL   string
	// Page is the case's URL: the page an inline item is checked on.
	Page string
	// SHA256 and PDQ are the item's as assessed: an image that no longer
	// matches them (nor any indicator) is gone.
	SHA256, PDQ string
	// GoneAt is when a recheck first found the item gone, waiting to be
	// confirmed; zero if the last found it there.
	GoneAt time.Time
	// LastCheckAt is when the item was last checked; zero if never.
	LastCheckAt time.Time
}

// CheckResult is what a recheck found of an item.
type CheckResult struct {
	Case  string
	Index int
	At    time.Time
	// Next is when to check again; zero with Removed.
	Next time.Time
	// Gone, if not zero, is when the item was first found gone: to be
	// confirmed at Next, or confirmed (Removed is Gone).
	Gone time.Time
	// Removed, if not zero, is when the item was found gone, confirmed.
	Removed time.Time
	// PrevCheck and PrevGone are the item's LastCheckAt and GoneAt as the
	// check read them (Check): the result is recorded only if they are
	// unchanged, so that a sweep that read the item before another
	// recorded it changes nothing.
	PrevCheck, PrevGone time.Time
}

// FigureCase is a noticed case as the figures count it.
type FigureCase struct {
	ID          string
	Host        int64 // the reported URL's registered host; 0 if none
	HostName    string
	HostCountry string
	ReceivedAt  time.Time
	RemovedAt   time.Time // zero unless removed
	Sends       int       // notices sent for the case, repeats included
}

// Contact is how a registered organisation receives notices: a host, a
// hotline or Europol.
type Contact struct {
	Org        org.Organisation
	HasWebhook bool
	// Email is a host's notice address from the register; "" if none.
	Email string
}

// Store keeps the takedown flow. Package store implements it
// ((*store.DB).Takedown); this package's tests check it on each engine.
type Store interface {
	// Update runs fn in one transaction, retried as a whole where the
	// engine asks (so fn must not keep what a failed run changed), and
	// commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// TakedownCase returns case id with its items (without content),
	// notices and events, or an core.ErrNotFound error.
	TakedownCase(ctx context.Context, id string) (Record, error)
	// TakedownCases returns a page of the cases f selects, without
	// items, notices or events, by time of report then ID, after the
	// case f.After.
	TakedownCases(ctx context.Context, f CaseFilter) ([]Case, error)
	// TakedownContent returns the sealed content of item index of case
	// id, nil if it is not kept, or an core.ErrNotFound error if there is
	// no such item.
	TakedownContent(ctx context.Context, id string, index int) ([]byte, error)
	// TakedownNotice returns notice id, or an core.ErrNotFound error.
	TakedownNotice(ctx context.Context, id string) (Notice, error)
	// DueChecks returns up to limit illegal items of noticed cases, not
	// removed, whose next check is due at now, the most overdue first.
	DueChecks(ctx context.Context, now time.Time, limit int) ([]Check, error)
	// ExpiredContent returns up to limit cases fetched at or before
	// before that still keep content.
	ExpiredContent(ctx context.Context, before time.Time, limit int) ([]string, error)
	// DueNotices returns up to limit notices of noticed cases due to be
	// sent again at now that have no JobNotice pending (neither done nor
	// dead), the most overdue first.
	DueNotices(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DueEscalations returns up to limit noticed cases not escalated that
	// were assessed at or before before.
	DueEscalations(ctx context.Context, before time.Time, limit int) ([]string, error)
	// FigureCases returns the cases noticed (state noticed or removed)
	// received from from to to (excluded).
	FigureCases(ctx context.Context, from, to time.Time) ([]FigureCase, error)
	// NoticeContact returns organisation orgID's contact, or an
	// core.ErrNotFound error.
	NoticeContact(ctx context.Context, orgID int64) (Contact, error)
	// Orgs and OrgByID are org.Store's.
	Orgs(ctx context.Context) ([]org.Organisation, error)
	OrgByID(ctx context.Context, id int64) (org.Organisation, error)
	// WebhookStore reads the organisations' sealed webhooks.
	forward.WebhookStore
}

// Tx is the row operations of a transaction of the takedown flow
// (Store.Update): the store reads and writes rows as told; which step may
// be taken from which state, and what it records and queues, are this
// package's.
type Tx interface {
	// AppendAudit appends to the audit trail in the transaction.
	audit.Appender
	// LockCase returns case id without items, notices or events, locked
	// for update on PostgreSQL (SQLite's single writer excludes every
	// other), or an core.ErrNotFound error.
	LockCase(ctx context.Context, id string) (Record, error)
	// Items returns the items of case id, without content, by index.
	Items(ctx context.Context, id string) ([]Item, error)
	// AddCase inserts r, in state Fetching, unless r.Source is a hotline
	// with an open case (fetching, assessment or noticed) of the same URL:
	// then it inserts nothing and returns that case's ID and time of
	// report, and false.
	AddCase(ctx context.Context, r Record) (id string, received time.Time, added bool, err error)
	// AddFoundCase inserts r, in state Fetching with its Place, unless a
	// case of the same URL is open (fetching, assessment or noticed), or
	// was closed or removed at or after since, whoever reported or found
	// it: then it inserts nothing and returns that case's ID (an open
	// one first), and false.
	AddFoundCase(ctx context.Context, r Record, since time.Time) (id string, added bool, err error)
	// SetFetched records the fetch of case c.ID: its state, FetchedAt,
	// FetchError, FetchAttempts, Reason, Hosting and Queue.
	SetFetched(ctx context.Context, c Case) error
	// RecordFetchAttempt counts a fetch of case id that failed for a
	// reason that may pass (FetchAttempts), with failure as its
	// FetchError.
	RecordFetchAttempt(ctx context.Context, id, failure string) error
	// AddItem inserts item it of case id with its sealed content (nil if
	// not kept).
	AddItem(ctx context.Context, id string, it Item, sealed []byte) error
	// SetQueue moves case id to the queue of hotline queue (0: the
	// centre's).
	SetQueue(ctx context.Context, id string, queue int64) error
	// SetAssessed records the assessment of case r.ID: State, Reason,
	// AssessedAt, AssessedBy, AssessedOrg and SubmitIndicators.
	SetAssessed(ctx context.Context, r Record) error
	// Classify sets item index of case id's classification, whether it
	// is by default (Item.ByDefault) and, if not zero, the time of its
	// first recheck.
	Classify(ctx context.Context, id string, index int, c Classification, byDefault bool, nextCheck time.Time) error
	// DropContent deletes the sealed content of the items of case id,
	// every item's if indices is nil.
	DropContent(ctx context.Context, id string, indices []int) error
	// ExpireContent deletes the sealed content of every item of case id
	// if it was fetched at or before before, and reports whether there
	// was any.
	ExpireContent(ctx context.Context, id string, before time.Time) (bool, error)
	// AddNotice inserts n.
	AddNotice(ctx context.Context, n Notice) error
	// RecordSend records an attempt at time at to send notice id:
	// successful if failure is "" (Sends counted, SentAt at, NextSendAt
	// next, LastError cleared), else failed with that error as LastError
	// (and NextSendAt next if it had none, so that a first send whose
	// job died is tried again by the sweep).
	RecordSend(ctx context.Context, id string, at, next time.Time, failure string) error
	// DeferNotice records that notice id waits, for reason why (its
	// LastError), and makes it due again at next.
	DeferNotice(ctx context.Context, id string, next time.Time, why string) error
	// DeliverOnce records notice id delivered at at, once and for good
	// (Sends 1, SentAt at, no NextSendAt, LastError cleared), unless it
	// was sent before, and reports whether it did.
	DeliverOnce(ctx context.Context, id string, at time.Time) (bool, error)
	// SetNoticeRoute sets the channel of notice id and the organisation
	// it goes through (0: none).
	SetNoticeRoute(ctx context.Context, id string, ch Channel, via int64) error
	// AnswerNotice sets notice id's AnsweredAt to at unless it was
	// answered after since, and reports whether it did.
	AnswerNotice(ctx context.Context, id string, at, since time.Time) (bool, error)
	// CheckNow makes the items of case id with one of urls, not removed
	// nor waiting for a recheck to confirm them gone, due for a recheck
	// at at.
	CheckNow(ctx context.Context, id string, urls []string, at time.Time) error
	// RecordCheck records a recheck's result (Gone as the item's GoneAt)
	// unless the item is removed already or its last check or GoneAt is
	// no longer r.PrevCheck and r.PrevGone (another check recorded it
	// meanwhile), and reports whether it did.
	RecordCheck(ctx context.Context, r CheckResult) (bool, error)
	// SetRemoved moves case id to state Removed at at and stops its
	// notices (NextSendAt cleared).
	SetRemoved(ctx context.Context, id string, at time.Time) error
	// SetEscalated flags case id for a removal order.
	SetEscalated(ctx context.Context, id string) error
	// SetReferred records the report that referred case id, at at.
	SetReferred(ctx context.Context, id, report string, at time.Time) error
	// AddEvent adds ev to the history of case id.
	AddEvent(ctx context.Context, id string, ev Event) error
	// QueueJob queues a job of kind with ref, due at.
	QueueJob(ctx context.Context, kind, ref string, at time.Time) error
	// EnsureJob queues a job of kind with ref, due at, unless one is
	// pending (neither done nor dead), as jobs.Store.EnsureJob does.
	EnsureJob(ctx context.Context, kind, ref string, at time.Time) error
}
