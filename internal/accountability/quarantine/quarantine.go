// Package quarantine takes indicators that may be wrong out of matching
// until a reviewer has looked at them, on the evidence of those who see the
// matches: providers' verdicts and the volume of matches.
//
// # Rules
//
// A provider gives, per indicator it matched, a verdict: false_positive
// (the match was not of the material) or confirmed, with an optional note
// (sealed). Its later verdict on the same indicator replaces the earlier.
//
// An active indicator is quarantined automatically when
//
//   - false-positive verdicts from Options.After distinct providers count
//     (default 2): a verdict counts until a review answers it, or
//   - it is flooded: it matched more than Options.FloodMatches distinct
//     items (default 1000) within Options.FloodWindow (default 1h), as
//     the Tracker counts them on every node, and more than FloodMatches
//     remain when each provider's items count for at most
//     FloodMatches/2+1. An indicator that many providers match that much
//     is more likely a hash of something common than of abuse material.
//
// Both rules need at least two providers: no single provider can take an
// indicator out of matching for everyone. A provider whose own traffic
// floods an indicator (a benign image it handles a lot) deals with it
// through its own verdict and its own matching policy; the cap on each
// provider's share means that neither its flood alone nor its flood with
// a few matches of others quarantines.
//
// An item is the hash of the request that matched the indicator (ItemKey):
// the digest for an MD5 or SHA-256 indicator, the queried PDQ hash for a
// PDQ one, never another hash the request carried; each sighting records
// the provider (the organisation of the key) that matched it. An item
// counts once per provider, however often it is matched.
//
// Staff of the centre may also quarantine an active indicator by hand, with
// a reason, and the complaint flow does so for a complaint about a match.
//
// A quarantined indicator is not matched and is removed from every node's
// index and every provider's mirror, through the change feed (its kind
// quarantine), within a poll of the feed. It waits in the queue for a
// reviewer, who either confirms it (it is active again, a release in the
// feed) or withdraws it (as package indicator withdraws, final). Either
// ends the quarantine and answers the evidence then counted: the
// false-positive verdicts and the items matched, which no longer count,
// so the same evidence never quarantines an indicator twice. A provider
// that sends its false-positive verdict again after the review changes
// nothing: its verdict stays answered. Only a change of verdict (to
// confirmed, or from confirmed back to false_positive) is a new verdict,
// unanswered. An item matched again after the review does not count
// either (only new items count).
//
// Every step is recorded in the audit trail in the transaction that makes
// it; Ward's own steps (the automatic quarantines) as audit.System.
//
// Storage is behind Store, which package store implements for SQLite and
// PostgreSQL ((*store.DB).Quarantines); this package's tests run on both.
package quarantine

import (
	"context"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/indicator"
)

// Verdict is a provider's verdict on its matches of an indicator.
type Verdict string

// The verdicts.
const (
	FalsePositive Verdict = "false_positive" // the match was not of the material
	Confirmed     Verdict = "confirmed"      // the match was right
)

// Verdicts lists the verdicts, in the order documented.
var Verdicts = []Verdict{FalsePositive, Confirmed}

// Cause is why a quarantine began.
type Cause string

// The causes. FalsePositiveCause and Flood are Ward's own (automatic);
// Manual and Complaint are staff's.
const (
	FalsePositiveCause Cause = "false_positive" // verdicts of Options.After providers
	Flood              Cause = "flood"          // too many distinct items matched
	Manual             Cause = "manual"         // by hand, with a reason
	Complaint          Cause = "complaint"      // by the complaint flow; the reason names the complaint
)

// Outcome is how a quarantine ended.
type Outcome string

// The outcomes.
const (
	ConfirmedOutcome Outcome = "confirmed" // the reviewer confirmed the indicator: active again
	WithdrawnOutcome Outcome = "withdrawn" // the reviewer withdrew it
)

// Actor is who acts on quarantines: staff of the centre through the
// console, or a key of the centre, with the policy scope of the action.
type Actor struct {
	Org     int64
	OrgName string
	Actor   string // as in the audit trail: "user:ID" or "key:ID"
	Kind    org.Kind
	Scope   policy.DataScope
}

// Record is one quarantine of an indicator, as stored.
type Record struct {
	ID        int64
	Indicator int64
	Cause     Cause
	Reason    string
	// Org and OrgName are the organisation that began it, 0 and "" for
	// Ward itself; Actor is who, as in the audit trail.
	Org     int64
	OrgName string
	Actor   string
	At      time.Time // when it began
	// The end: all zero while the quarantine is open.
	EndedAt      time.Time
	Outcome      Outcome
	EndedBy      string // who, as in the audit trail
	EndedOrg     int64
	EndedOrgName string
	Note         string // the reviewer's note, or the withdrawal's reason
}

// Open reports whether the quarantine has not ended.
func (r Record) Open() bool { return r.EndedAt.IsZero() }

// Ending is how a review ends a quarantine.
type Ending struct {
	Outcome Outcome
	Org     int64
	Actor   string
	Note    string // of a withdrawal, its reason
	At      time.Time
}

// Entry is an open quarantine in the queue.
type Entry struct {
	Quarantine int64 // the Record's ID
	Indicator  int64
	List       string
	Signal     indicator.Signal
	Value      string
	Category   indicator.Category
	Cause      Cause
	Reason     string
	Since      time.Time
	// FalsePositives is the number of providers whose false-positive
	// verdicts count now (unanswered).
	FalsePositives int
}

// Feedback is a provider's verdict as the store keeps it: its note
// sealed with NoteAAD.
type Feedback struct {
	Provider     int64
	ProviderName string // read only
	Indicator    int64
	Verdict      Verdict
	NoteSealed   []byte // nil without a note
	At           time.Time
	AnsweredAt   time.Time // zero unless a review answered it
}

// ProviderVerdict is a provider's verdict as a reviewer reads it.
type ProviderVerdict struct {
	Provider     int64
	ProviderName string
	Verdict      Verdict
	Note         string
	At           time.Time
	AnsweredAt   time.Time // zero unless a review answered it
}

// Detail is what a reviewer sees of an indicator: it, its quarantines
// (oldest first) and every provider's verdict (latest first).
type Detail struct {
	Indicator   indicator.Indicator
	Quarantines []Record
	Verdicts    []ProviderVerdict
}

// Sighting is an item an indicator matched, by a provider: the key of the
// item (ItemKey), never its value.
type Sighting struct {
	Indicator int64
	Provider  int64 // the organisation whose key matched
	Item      [16]byte
}

// SightingCount is what an indicator's unanswered sightings within the
// flood window add up to: the distinct items, whoever matched them, and
// each provider's distinct items.
type SightingCount struct {
	Items      int
	ByProvider map[int64]int
}

// Store keeps quarantines, verdicts and sightings. Package store
// implements it ((*store.DB).Quarantines); this package's tests check it
// on each engine.
type Store interface {
	// Update runs fn in one transaction, retried as a whole where the
	// engine asks (so fn must not keep what a failed run changed), and
	// commits it if fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Indicator is indicator.Store's.
	Indicator(ctx context.Context, id int64) (indicator.Indicator, []indicator.Attestation, error)
	// OpenQuarantines returns up to limit open quarantines with ID above
	// after, by ID (the order they began in).
	OpenQuarantines(ctx context.Context, after int64, limit int) ([]Entry, error)
	// IndicatorQuarantines returns every quarantine of indicator id,
	// oldest first.
	IndicatorQuarantines(ctx context.Context, id int64) ([]Record, error)
	// IndicatorFeedback returns every provider's verdict on indicator id,
	// latest first, with the providers' names.
	IndicatorFeedback(ctx context.Context, id int64) ([]Feedback, error)
	// AddSightings records that each sighting's indicator matched its item
	// by its provider at at; a sighting stored already keeps whether a
	// review answered it, and its time unless that is before refresh (so
	// that repeats rarely write). It returns, for each indicator among
	// them, the count of its unanswered sightings at or after since.
	AddSightings(ctx context.Context, s []Sighting, at, refresh, since time.Time) (map[int64]SightingCount, error)
	// PurgeSightings deletes up to limit sightings last seen before
	// before and returns how many.
	PurgeSightings(ctx context.Context, before time.Time, limit int) (int, error)
}

// Tx is the row operations of a transaction of quarantine (Store.Update):
// the store applies the state changes of the indicators as package
// indicator's rules say, together with their records here; which step may
// be taken when, and what is audited, are this package's.
type Tx interface {
	// AppendAudit appends to the audit trail in the transaction.
	audit.Appender
	// LockIndicator returns indicator id, locked (with its list's feed)
	// until the transaction ends, or an core.ErrNotFound error.
	LockIndicator(ctx context.Context, id int64) (indicator.Indicator, error)
	// Begin quarantines the active indicator r.Indicator, appending its
	// quarantine change and the record r, and returns the indicator
	// afterwards; a quarantined indicator it leaves as it is and returns
	// false; one pending or withdrawn is an core.ErrConflict error.
	Begin(ctx context.Context, r Record) (indicator.Indicator, bool, error)
	// End ends the open quarantine of indicator id as e says:
	// ConfirmedOutcome makes it active again (a release change),
	// WithdrawnOutcome withdraws it with e.Note as the reason; both answer
	// the unanswered false-positive verdicts and sightings. It returns the
	// indicator afterwards, or an core.ErrConflict error if it is not
	// quarantined.
	End(ctx context.Context, id int64, e Ending) (indicator.Indicator, error)
	// PutFeedback stores f, replacing the provider's earlier verdict on
	// the indicator; the answer of the earlier is kept if the verdict is
	// the same, and cleared if it changed.
	PutFeedback(ctx context.Context, f Feedback) error
	// FalsePositives returns the number of providers whose unanswered
	// false-positive verdicts on indicator id count.
	FalsePositives(ctx context.Context, id int64) (int, error)
}
