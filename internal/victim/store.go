package victim

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/indicator"
)

// Record is a case as the store keeps it.
type Record struct {
	ID       string
	OpenedAt time.Time
	// SecretHash is SHA-256 of the case's secret.
	SecretHash []byte
	// ContactSealed is the contact sealed with ContactAAD(ID); nil
	// without one.
	ContactSealed []byte
}

// Store keeps victims' cases and the directory of help services. Package
// store implements it ((*store.DB).Victims); storetest checks it on each
// engine.
type Store interface {
	// Update runs fn in one transaction, retried as a whole where the
	// engine asks, and commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Case returns case id, or a core.ErrNotFound error.
	Case(ctx context.Context, id string) (Record, error)
	// CaseHashes returns the hashes of case id in order of Hash.ID, their
	// State made from the row and the indicator's state.
	CaseHashes(ctx context.Context, id string) ([]Hash, error)
	// Counts returns the counts of case id (see Counts).
	Counts(ctx context.Context, id string) (Counts, error)
	// Unheld is Tx.Unheld outside a transaction.
	Unheld(ctx context.Context, id string) ([]int64, error)
	// ProviderMatched records, once per pair, that provider matched each
	// of indicators that is in an unverified list, at time at; indicators
	// of other lists are ignored.
	ProviderMatched(ctx context.Context, provider int64, indicators []int64, at time.Time) error
	// Orgs is org.Store's.
	Orgs(ctx context.Context) ([]org.Organisation, error)
	// HelpServiceList returns every help service, by country, language,
	// name and ID.
	HelpServiceList(ctx context.Context) ([]HelpService, error)
}

// Tx is the row operations of a transaction on cases (Store.Update).
type Tx interface {
	// AppendAudit appends to the audit trail in the transaction.
	audit.Appender
	// AddCase inserts r.
	AddCase(ctx context.Context, r Record) error
	// LockCase returns case id locked for update on PostgreSQL, or a
	// core.ErrNotFound error.
	LockCase(ctx context.Context, id string) (Record, error)
	// TxHashes is Store.CaseHashes in the transaction.
	TxHashes(ctx context.Context, id string) ([]Hash, error)
	// AddHash inserts hash h.ID of case id, without an indicator.
	AddHash(ctx context.Context, id string, h Hash) error
	// SetIndicator records that hash n of case id is indicator ind.
	SetIndicator(ctx context.Context, id string, n, ind int64) error
	// LockHolders locks, until the transaction ends, every hash (of any
	// case) holding an indicator that a hash of case id holds, so that
	// withdrawals of the same indicator by two cases are serialised.
	LockHolders(ctx context.Context, id string) error
	// Unheld returns the indicators, not withdrawn from the list, of
	// case id's withdrawn hashes that no hash of any case still holds
	// (not withdrawn from its case): those to withdraw from the list.
	Unheld(ctx context.Context, id string) ([]int64, error)
	// HashesSince returns how many hashes of all cases were added at or
	// after at.
	HashesSince(ctx context.Context, at time.Time) (int, error)
	// WithdrawHash sets hash n of case id withdrawn at at, unless it is
	// already.
	WithdrawHash(ctx context.Context, id string, n int64, at time.Time) error
	// AddHelpService stores h, ignoring its ID, and returns its ID.
	AddHelpService(ctx context.Context, h HelpService, at time.Time) (int64, error)
	// RemoveHelpService removes help service id and returns it, or
	// returns a core.ErrNotFound error.
	RemoveHelpService(ctx context.Context, id int64) (HelpService, error)
}

// Indicators is what a Service needs of the indicators:
// *indicator.Service is one.
type Indicators interface {
	Report(ctx context.Context, list string, by org.Principal, hashes []indicator.Hash) ([]indicator.Result, error)
	Withdraw(ctx context.Context, id int64, by org.Principal, reason string) (indicator.Indicator, error)
}

var _ Indicators = (*indicator.Service)(nil)
