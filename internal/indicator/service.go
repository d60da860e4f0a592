package indicator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// Store is the storage of lists, indicators and change feeds. Its methods
// trust their arguments to be valid (the Service checks them) and apply
// the rules of the package documentation atomically.
type Store interface {
	// CreateList stores a new list with an empty feed; ErrConflict if the
	// name is taken.
	CreateList(ctx context.Context, l List) (List, error)
	// List returns the named list, or an ErrNotFound error.
	List(ctx context.Context, name string) (List, error)
	// Lists returns every list with its head seq and active count, by name.
	Lists(ctx context.Context) ([]ListInfo, error)
	// UpdateList calls change with the named list, in a transaction that
	// holds it locked, and stores the MaxDistance and Threshold it returns
	// (nothing else of a list changes); an error of change is returned as
	// it is and nothing is stored. ErrNotFound if there is no such list.
	UpdateList(ctx context.Context, name string, change func(List) (List, error)) (List, error)

	// Attest records by's attestation of each submission in the named list
	// in one transaction, creating and activating indicators and
	// appending changes as the rules say, and returns one result per
	// submission, in order. The submissions are normalized and no two
	// have the same signal and value.
	Attest(ctx context.Context, list string, by org.Principal, subs []Submission, at time.Time) ([]Result, error)
	// Withdraw withdraws the indicator (pending, active or quarantined)
	// and appends a withdraw change, unless it is already withdrawn (then
	// it changes nothing). It returns
	// the indicator as it is afterwards. Whether by may do so is the
	// caller's decision.
	Withdraw(ctx context.Context, id int64, by org.Principal, reason string, at time.Time) (Indicator, error)
	// Quarantine quarantines an active indicator, with a reason, and
	// appends a quarantine change; a quarantined one it leaves as it is;
	// a pending or withdrawn one is an ErrConflict error. Release makes a
	// quarantined indicator active again and appends a release change; an
	// active one it leaves as it is; a pending or withdrawn one is an
	// ErrConflict error. Both return the indicator as it is afterwards;
	// whether by may do so is the caller's decision. (Package quarantine
	// applies the rules of when, and keeps the record of each quarantine,
	// which these also write.)
	Quarantine(ctx context.Context, id int64, by org.Principal, reason string, at time.Time) (Indicator, error)
	Release(ctx context.Context, id int64, by org.Principal, at time.Time) (Indicator, error)
	// Reactivate makes a withdrawn indicator active again and appends an
	// activate change; an active one it leaves as it is; a pending or
	// quarantined one is an ErrConflict error. It returns the indicator as
	// it is afterwards; when it may be done is the caller's decision
	// (Service.Report: only in an unverified list, only after a person's
	// own withdrawal).
	Reactivate(ctx context.Context, id int64, by org.Principal, at time.Time) (Indicator, error)
	// Indicator returns an indicator and its attestations in the order
	// they were made, or an ErrNotFound error.
	Indicator(ctx context.Context, id int64) (Indicator, []Attestation, error)

	// Changes returns up to limit changes of the named list with Seq >
	// after, in Seq order; ErrNotFound if there is no such list.
	Changes(ctx context.Context, list string, after int64, limit int) ([]Change, error)
	// ForEachActive calls fn for each active indicator of the named list,
	// or of every list if list is "", in no particular order, stopping at
	// the first error. It returns the head seq of each list covered, read
	// in the same snapshot as the indicators.
	ForEachActive(ctx context.Context, list string, fn func(Indicator) error) (heads map[string]int64, err error)
}

// Service applies the rules of the package to a Store.
type Service struct {
	store Store
	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock
}

// NewService returns a service keeping its data in s.
func NewService(s Store) *Service {
	return &Service{store: s}
}

// CreateList adds a list; a list of no Kind is a MatchList. There is one
// unverified list, VictimReported, which every installation has: another
// is refused.
func (s *Service) CreateList(ctx context.Context, l List) (List, error) {
	l.Kind = cmp.Or(l.Kind, MatchList)
	if err := l.Validate(); err != nil {
		return List{}, err
	}
	if l.Kind == UnverifiedList {
		return List{}, core.Errorf(core.ErrInvalid, "there is one unverified list, %q, which every installation has", VictimReported)
	}
	l.CreatedAt = s.Clock.Now()
	return s.store.CreateList(ctx, l)
}

// EnsureList returns the list named l.Name, creating it as l if it does not
// exist. An existing list is returned as it is, even if its settings differ
// from l's.
func (s *Service) EnsureList(ctx context.Context, l List) (List, error) {
	l.Kind = cmp.Or(l.Kind, MatchList)
	if err := l.Validate(); err != nil {
		return List{}, err
	}
	existing, err := s.store.List(ctx, l.Name)
	if err == nil || !errors.Is(err, core.ErrNotFound) {
		return existing, err
	}
	created, err := s.CreateList(ctx, l)
	if errors.Is(err, core.ErrConflict) { // created meanwhile by someone else
		return s.store.List(ctx, l.Name)
	}
	return created, err
}

// List returns the named list.
func (s *Service) List(ctx context.Context, name string) (List, error) {
	return s.store.List(ctx, name)
}

// Lists returns every list with its head seq and number of active
// indicators.
func (s *Service) Lists(ctx context.Context) ([]ListInfo, error) {
	return s.store.Lists(ctx)
}

// ListChange changes a list's PDQ distances; a nil field stays as it is.
type ListChange struct {
	MaxDistance *int
	Threshold   *int
}

// SetList changes the named list's maximum distance or threshold, or both,
// and returns the list as it is afterwards. The result must be valid as a
// whole: a threshold above the maximum distance is refused, whichever of
// the two changes. The change takes effect on the servers' next poll of
// the lists and on mirrors at their next sync; it is not in the change
// feed.
func (s *Service) SetList(ctx context.Context, name string, c ListChange) (List, error) {
	if c.MaxDistance == nil && c.Threshold == nil {
		return List{}, core.Errorf(core.ErrInvalid, "nothing to change of list %q: give a maximum distance or a threshold", name)
	}
	return s.store.UpdateList(ctx, name, func(l List) (List, error) {
		if c.MaxDistance != nil {
			l.MaxDistance = *c.MaxDistance
		}
		if c.Threshold != nil {
			l.Threshold = *c.Threshold
		}
		return l, l.Validate()
	})
}

// MaxSubmissions is the most submissions one Submit call takes; Import has
// no limit.
const MaxSubmissions = 10000

// maxItemErrors bounds how many invalid submissions one error describes.
const maxItemErrors = 20

// Submit records by's attestation of each submission in list, in one
// transaction, and returns what each did, in order. Submitting a value the
// organisation already attested changes nothing, so a retried call is
// harmless. If any submission is invalid, nothing is recorded and the error
// describes each invalid one (up to 20) by its index.
func (s *Service) Submit(ctx context.Context, list string, by org.Principal, subs []Submission) ([]Result, error) {
	if err := policy.Require(policy.ForPrincipal(by), policy.IndicatorsSubmit); err != nil {
		return nil, err
	}
	if len(subs) == 0 || len(subs) > MaxSubmissions {
		return nil, core.Errorf(core.ErrInvalid, "submit 1 to %d indicators at a time, not %d", MaxSubmissions, len(subs))
	}
	unique, slot, err := distinct(len(subs), func(i int) (Submission, error) { return subs[i].Normalize() })
	if err != nil {
		return nil, err
	}
	if err := s.attestable(ctx, list); err != nil {
		return nil, err
	}
	return s.attest(ctx, list, by, unique, slot)
}

// distinct normalizes n submissions with get and returns the distinct ones
// (by signal and value, in order of first appearance) and, for each
// submission, its index in them. An invalid submission is an error naming
// its index, up to maxItemErrors of them.
func distinct(n int, get func(int) (Submission, error)) (unique []Submission, slot []int, err error) {
	type key struct {
		sig Signal
		val string
	}
	var errs []error
	unique, slot = make([]Submission, 0, n), make([]int, n)
	first := make(map[key]int, n) // index in unique of each value's first submission
	for i := range n {
		sub, err := get(i)
		if err != nil {
			if len(errs) < maxItemErrors {
				errs = append(errs, fmt.Errorf("item %d: %w", i, err))
			}
			continue
		}
		k := key{sub.Signal, sub.Value}
		j, seen := first[k]
		if !seen {
			j = len(unique)
			first[k] = j
			unique = append(unique, sub)
		}
		slot[i] = j
	}
	if errs != nil {
		return nil, nil, errors.Join(errs...)
	}
	return unique, slot, nil
}

// attestable returns an error unless organisations may attest indicators
// in the named list: it exists and is not unverified.
func (s *Service) attestable(ctx context.Context, list string) error {
	l, err := s.store.List(ctx, list)
	if err != nil {
		return err
	}
	if l.Kind == UnverifiedList {
		return core.Errorf(core.ErrInvalid, "list %q takes only the hashes victims send (page /help/remove); submit assessed material to a match list", list)
	}
	return nil
}

// attest stores unique, the distinct submissions, and returns the result of
// each submission, slot[i] being the index in unique of submission i.
func (s *Service) attest(ctx context.Context, list string, by org.Principal, unique []Submission, slot []int) ([]Result, error) {
	res, err := s.store.Attest(ctx, list, by, unique, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(slot))
	done := make([]bool, len(unique))
	for i, j := range slot {
		out[i] = res[j]
		if done[j] { // a repeat within the call did nothing itself
			out[i].Created, out[i].Attested, out[i].Activated = false, false, false
		}
		done[j] = true
	}
	return out, nil
}

// Hash is a signal and a value, as a person sends them of their own images.
type Hash struct {
	Signal Signal `json:"signal"`
	Value  string `json:"value"`
}

// Report adds hashes to an unverified list (VictimReported) on behalf of
// by, the centre's organisation, which stands for the person who sent
// them: each becomes an active indicator of category Unverified at once,
// with one attestation, since the list's policy asks for one (see
// docs/victims.md for why). Whether the person may do so is the caller's
// decision (package victim). Sending a hash the list holds changes
// nothing. A hash the list withdrew because the person who sent it asked
// (reason PersonWithdrew) is active again: otherwise anyone holding an
// image could keep it out of the list for good by sending its hash and
// withdrawing it before the person shown does. One the centre withdrew
// for any other reason (a reviewer found it wrong) stays withdrawn. The
// result of each hash is in order; an invalid hash is an ErrInvalid error
// naming its index, and nothing is stored.
func (s *Service) Report(ctx context.Context, list string, by org.Principal, hashes []Hash) ([]Result, error) {
	if len(hashes) == 0 || len(hashes) > MaxSubmissions {
		return nil, core.Errorf(core.ErrInvalid, "send 1 to %d hashes at a time, not %d", MaxSubmissions, len(hashes))
	}
	l, err := s.store.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if l.Kind != UnverifiedList {
		return nil, core.Errorf(core.ErrInvalid, "list %q is not an unverified list", list)
	}
	unique, slot, err := distinct(len(hashes), func(i int) (Submission, error) {
		sig, err := ParseSignal(string(hashes[i].Signal))
		if err != nil {
			return Submission{}, err
		}
		v, err := NormalizeValue(sig, hashes[i].Value)
		return Submission{Signal: sig, Value: v, Category: Unverified}, err
	})
	if err != nil {
		return nil, err
	}
	out, err := s.attest(ctx, list, by, unique, slot)
	if err != nil {
		return nil, err
	}
	again := map[int64]bool{} // withdrawn at a person's request: active again
	for i, r := range out {
		if r.State != Withdrawn {
			continue
		}
		if _, seen := again[r.IndicatorID]; !seen {
			ind, _, err := s.store.Indicator(ctx, r.IndicatorID)
			if err != nil {
				return nil, err
			}
			again[r.IndicatorID] = ind.WithdrawReason == PersonWithdrew
			if again[r.IndicatorID] {
				if _, err := s.store.Reactivate(ctx, r.IndicatorID, by, s.Clock.Now()); err != nil {
					return nil, err
				}
				out[i].Activated = true
			}
		}
		if again[r.IndicatorID] {
			out[i].State = Active
		}
	}
	return out, nil
}

// maxReasonLen bounds a withdrawal's reason.
const maxReasonLen = 1000

// Withdraw withdraws indicator id on behalf of by, which must have attested
// it or be allowed to withdraw any indicator (the centre). Withdrawing a
// withdrawn indicator changes nothing. It returns the indicator as it is
// afterwards.
func (s *Service) Withdraw(ctx context.Context, id int64, by org.Principal, reason string) (Indicator, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Indicator{}, core.Errorf(core.ErrInvalid, "a withdrawal needs a reason")
	case !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > maxReasonLen:
		return Indicator{}, core.Errorf(core.ErrInvalid, "the reason must be valid UTF-8 of at most %d characters", maxReasonLen)
	}
	if err := text.Check(reason); err != nil {
		return Indicator{}, core.Errorf(core.ErrInvalid, "the reason %v", err)
	}
	_, atts, err := s.store.Indicator(ctx, id)
	if err != nil {
		return Indicator{}, err
	}
	// Attestations are never removed, so the permission checked here
	// still holds when the store withdraws.
	if !mayWithdraw(by, atts) {
		return Indicator{}, core.Errorf(core.ErrForbidden, "only an organisation that attested indicator %d, or the centre, may withdraw it", id)
	}
	return s.store.Withdraw(ctx, id, by, reason, s.Clock.Now())
}

// mayWithdraw applies policy's data scope for withdrawal: every indicator,
// or those p's organisation attested.
func mayWithdraw(p org.Principal, atts []Attestation) bool {
	switch policy.Scope(policy.ForPrincipal(p), policy.IndicatorsWithdraw) {
	case policy.AllData:
		return true
	case policy.OwnAttestations:
		return slices.ContainsFunc(atts, func(a Attestation) bool { return a.OrgID == p.OrgID })
	}
	return false
}

// Get returns an indicator with its attestations, which name the attesting
// organisations and their references: show them only to those entitled to
// the provenance (attesting organisations and the centre).
func (s *Service) Get(ctx context.Context, id int64) (Indicator, []Attestation, error) {
	return s.store.Indicator(ctx, id)
}

// MaxChanges is the most changes one Changes call returns.
const MaxChanges = 10000

// Changes returns up to limit changes of list after Seq after, in order.
// A limit above MaxChanges is lowered to it, so callers page until they
// receive no changes.
func (s *Service) Changes(ctx context.Context, list string, after int64, limit int) ([]Change, error) {
	if after < 0 || limit < 1 {
		return nil, core.Errorf(core.ErrInvalid, "changes after %d, limit %d: want after >= 0 and limit >= 1", after, limit)
	}
	return s.store.Changes(ctx, list, after, min(limit, MaxChanges))
}

// ForEachActive calls fn for each active indicator of list, or of every
// list if list is "", and returns the head seq of each list as of the same
// snapshot. To keep an index current, load it with ForEachActive and then
// apply Changes(list, heads[list], ...) onwards: nothing is missed or
// applied twice.
func (s *Service) ForEachActive(ctx context.Context, list string, fn func(Indicator) error) (map[string]int64, error) {
	return s.store.ForEachActive(ctx, list, fn)
}
