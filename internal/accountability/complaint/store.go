package complaint

import (
	"context"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// Record is a complaint as the store keeps it: the Complaint, with its
// personal data sealed and the hash of its secret.
type Record struct {
	Complaint
	// SecretHash is SHA-256 of the case's secret.
	SecretHash []byte
	// BodySealed is the JSON of the description and contact, sealed with
	// BodyAAD(ID); ReasonsSealed the reviewer's reasons, sealed with
	// ReasonsAAD(ID), nil while open.
	BodySealed, ReasonsSealed []byte
	// IndicatorIDs are the indicators the complaint involves, set when
	// filed (Tx.AddComplaint stores them).
	IndicatorIDs []int64
}

// Resolution is what a reference resolved to, for one provider: a
// report of it, or a takedown notice sent to it (or the case of one),
// with the indicators matched. The zero Resolution is "nothing".
type Resolution struct {
	Report     string
	Case       string
	Notice     string
	Indicators []int64 // sorted, without repeats
}

// Filter selects complaints for Store.ComplaintList.
type Filter struct {
	Query
	// Provider, if not 0, keeps only the complaints about that provider.
	Provider int64
}

// Store keeps complaints. Package store implements it
// ((*store.DB).Complaints); this package's tests check it on each engine.
type Store interface {
	// Update runs fn in one transaction, retried as a whole where the
	// engine asks (so fn must not keep what a failed run changed), and
	// commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Complaint returns complaint id with its Indicators (their state
	// now) and Referral, or a core.ErrNotFound error.
	Complaint(ctx context.Context, id string) (Record, error)
	// ComplaintList returns a page of the complaints f selects, without
	// Indicators: open ones first, then by due date, then ID, after the
	// complaint f.After (a core.ErrInvalid error if there is none).
	ComplaintList(ctx context.Context, f Filter) ([]Complaint, error)
	// Resolve resolves reference for provider (see Resolution); the zero
	// Resolution if it names nothing of the provider's.
	Resolve(ctx context.Context, provider int64, reference string) (Resolution, error)
	// OrgByName and OrgByID are org.Store's.
	OrgByName(ctx context.Context, name string) (org.Organisation, error)
	OrgByID(ctx context.Context, id int64) (org.Organisation, error)
	// WebhookStore reads the organisations' sealed webhooks.
	forward.WebhookStore
}

// Tx is the row operations of a transaction on complaints (Store.Update).
// It includes forward.Tx, on which forward.Correct records the correction
// of an upheld complaint's report in the same transaction.
type Tx interface {
	// AppendAudit appends to the audit trail in the transaction.
	audit.Appender
	forward.Tx
	// AddComplaint inserts r, in state Open, with its IndicatorIDs.
	AddComplaint(ctx context.Context, r Record) error
	// LockComplaint returns complaint id without Indicators but with its
	// IndicatorIDs and Referral, locked for update on PostgreSQL, or a
	// core.ErrNotFound error.
	LockComplaint(ctx context.Context, id string) (Record, error)
	// SetDecided records the decision on complaint r.ID: State,
	// DecidedAt, DecidedBy, DecidedOrg, ReasonsSealed and Corrected.
	SetDecided(ctx context.Context, r Record) error
}
