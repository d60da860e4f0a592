package quarantine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/indicator"
)

// Defaults of Options.
const (
	DefaultAfter        = 2
	DefaultFloodMatches = 1000
	DefaultFloodWindow  = time.Hour
	// DefaultMaxPending bounds the sightings a Tracker holds between
	// flushes, all indicators together.
	DefaultMaxPending = 100_000
)

// Limits of the text a verdict or a review carries, in characters.
const (
	MaxNote   = 1000
	MaxReason = 1000
)

// Page limits of Queue.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Sealer seals and opens the providers' notes; *seal.Sealer is one.
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
}

// Options are a Service's dependencies and settings.
type Options struct {
	// After is the number of distinct providers whose false-positive
	// verdicts quarantine an indicator (DefaultAfter).
	After int
	// FloodMatches and FloodWindow: an indicator that matched more than
	// FloodMatches distinct items within FloodWindow, from at least two
	// providers as the package's rules say, is quarantined
	// (DefaultFloodMatches, DefaultFloodWindow).
	FloodMatches int
	FloodWindow  time.Duration
	// MaxPending bounds the sightings a Tracker holds between flushes, and
	// those it remembers having flushed, each (DefaultMaxPending).
	MaxPending int
	// Sealer seals the providers' notes; required.
	Sealer Sealer
	// Audit records every step; nil records nothing (tests).
	Audit *audit.Log
	// Clock is the service's clock, the system's if nil.
	Clock core.Clock
}

// Service applies the rules of the package. The edges authorise each call
// with package policy; the Service checks the scope again, and that a
// provider's verdict is a provider's.
type Service struct {
	st Store
	o  Options
}

// New returns a Service keeping its records in st.
func New(st Store, o Options) *Service {
	o.After = cmp.Or(o.After, DefaultAfter)
	o.FloodMatches = cmp.Or(o.FloodMatches, DefaultFloodMatches)
	o.FloodWindow = cmp.Or(o.FloodWindow, DefaultFloodWindow)
	o.MaxPending = cmp.Or(o.MaxPending, DefaultMaxPending)
	return &Service{st: st, o: o}
}

// NoteAAD is the associated data a provider's note on an indicator is
// sealed with: a note copied to another row does not open there.
func NoteAAD(provider, indicatorID int64) []byte {
	return []byte("match_feedback.note:" + strconv.FormatInt(provider, 10) + ":" + strconv.FormatInt(indicatorID, 10))
}

// ParseVerdict returns the verdict named s.
func ParseVerdict(s string) (Verdict, error) {
	for _, v := range Verdicts {
		if string(v) == s {
			return v, nil
		}
	}
	return "", core.Errorf(core.ErrInvalid, "verdict must be %s or %s, not %q", FalsePositive, Confirmed, s)
}

// checkText trims s and checks it as the text of field, of at most max
// characters; required text must not be empty.
func checkText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", core.Errorf(core.ErrInvalid, "a %s is required", field)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max:
		return "", core.Errorf(core.ErrInvalid, "the %s must be valid UTF-8 of at most %d characters", field, max)
	}
	if err := text.Check(s); err != nil {
		return "", core.Errorf(core.ErrInvalid, "the %s %v", field, err)
	}
	return s, nil
}

// principalActor names p in the audit trail.
func principalActor(p org.Principal) string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return audit.AdminCLI
}

func object(id int64) string { return "indicator:" + strconv.FormatInt(id, 10) }

// audit appends ev through a (the transaction of the change it records),
// or on its own if a is nil; nothing without Options.Audit.
func (s *Service) audit(ctx context.Context, a audit.Appender, ev audit.Event) error {
	if s.o.Audit == nil {
		return nil
	}
	ev.Outcome = audit.OK
	var err error
	if a == nil {
		_, err = s.o.Audit.Append(ctx, ev)
	} else {
		_, err = s.o.Audit.AppendTo(ctx, a, ev)
	}
	return err
}

// errNoIndicator is what a provider learns of an indicator it cannot have
// matched: nothing, not even that it exists.
func errNoIndicator(id int64) error { return core.Errorf(core.ErrNotFound, "no indicator %d", id) }

// Feedback records provider by's verdict v on indicator id, with an
// optional note (sealed), replacing its earlier verdict; a
// false-positive verdict that makes Options.After providers' count
// quarantines the indicator in the same transaction. It reports whether
// the indicator is quarantined afterwards (by this verdict or before). An
// indicator that was never distributed (never active) is not found.
func (s *Service) Feedback(ctx context.Context, by org.Principal, id int64, v Verdict, note string) (quarantined bool, err error) {
	if err := policy.Require(policy.ForPrincipal(by), policy.MatchFeedback); err != nil {
		return false, err
	}
	if _, err := ParseVerdict(string(v)); err != nil {
		return false, err
	}
	if note, err = checkText("note", note, MaxNote, false); err != nil {
		return false, err
	}
	ind, _, err := s.st.Indicator(ctx, id)
	if errors.Is(err, core.ErrNotFound) || err == nil && ind.ActivatedAt.IsZero() {
		return false, errNoIndicator(id)
	}
	if err != nil {
		return false, err
	}
	f := Feedback{Provider: by.OrgID, Indicator: id, Verdict: v, At: s.o.Clock.Now()}
	// Sealed before the transaction, as seal.Sealer wants.
	if note != "" {
		if f.NoteSealed, err = s.o.Sealer.Seal(ctx, []byte(note), NoteAAD(by.OrgID, id)); err != nil {
			return false, fmt.Errorf("sealing the note: %w", err)
		}
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		quarantined = false
		ind, err := tx.LockIndicator(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.PutFeedback(ctx, f); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, audit.Event{At: f.At, OrgID: by.OrgID, OrgName: by.OrgName, Actor: principalActor(by),
			Action: "match.feedback", Object: object(id), Purpose: "verdict " + string(v)}); err != nil {
			return err
		}
		if v != FalsePositive || ind.State != indicator.Active {
			quarantined = ind.State == indicator.Quarantined
			return nil
		}
		n, err := tx.FalsePositives(ctx, id)
		if err != nil || n < s.o.After {
			return err
		}
		quarantined, err = s.begin(ctx, tx, Record{Indicator: id, Cause: FalsePositiveCause, Actor: audit.System, At: f.At,
			Reason: fmt.Sprintf("false-positive verdicts of %d providers", n)}, "")
		return err
	})
	return quarantined, err
}

// begin quarantines r.Indicator in tx and audits it, if it is active; it
// reports whether the indicator is quarantined afterwards.
func (s *Service) begin(ctx context.Context, tx Tx, r Record, orgName string) (bool, error) {
	ind, changed, err := tx.Begin(ctx, r)
	if err != nil || !changed {
		return ind.State == indicator.Quarantined, err
	}
	return true, s.audit(ctx, tx, audit.Event{At: r.At, OrgID: r.Org, OrgName: orgName, Actor: r.Actor,
		Action: "indicator.quarantine", Object: object(r.Indicator), Purpose: "cause " + string(r.Cause)})
}

// review checks that a may review and act on quarantines.
func (a Actor) review() error {
	if a.Scope != policy.AllData || a.Actor == "" {
		return core.Errorf(core.ErrForbidden, "only the centre's staff and keys act on quarantines")
	}
	return nil
}

// Quarantine quarantines active indicator id by hand (cause Manual) or
// for a complaint (cause Complaint, the reason naming it), with a reason.
// A quarantined indicator is left as it is; a pending or withdrawn one is
// an core.ErrConflict error.
func (s *Service) Quarantine(ctx context.Context, a Actor, id int64, cause Cause, reason string) error {
	if err := a.review(); err != nil {
		return err
	}
	if cause != Manual && cause != Complaint {
		return core.Errorf(core.ErrInvalid, "a quarantine by hand has cause %s or %s, not %q", Manual, Complaint, cause)
	}
	reason, err := checkText("reason", reason, MaxReason, true)
	if err != nil {
		return err
	}
	at := s.o.Clock.Now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		ind, err := tx.LockIndicator(ctx, id)
		if err != nil {
			return err
		}
		if ind.State != indicator.Active && ind.State != indicator.Quarantined {
			return core.Errorf(core.ErrConflict, "indicator %d is %s; only an active indicator can be quarantined", id, ind.State)
		}
		_, err = s.begin(ctx, tx, Record{Indicator: id, Cause: cause, Reason: reason, Org: a.Org, Actor: a.Actor, At: at}, a.OrgName)
		return err
	})
}

// Confirm ends indicator id's quarantine, making it active again, with an
// optional note; the false-positive verdicts and the items matched that
// counted are answered, and count no more. An indicator not quarantined is
// an core.ErrConflict error.
func (s *Service) Confirm(ctx context.Context, a Actor, id int64, note string) error {
	if err := a.review(); err != nil {
		return err
	}
	note, err := checkText("note", note, MaxNote, false)
	if err != nil {
		return err
	}
	return s.end(ctx, a, id, Ending{Outcome: ConfirmedOutcome, Note: note}, "indicator.release")
}

// Withdraw ends indicator id's quarantine by withdrawing it (final), with
// a reason; the evidence counted is answered, as by Confirm. An
// indicator not quarantined is an core.ErrConflict error: withdraw others
// through package indicator.
func (s *Service) Withdraw(ctx context.Context, a Actor, id int64, reason string) error {
	if err := a.review(); err != nil {
		return err
	}
	reason, err := checkText("reason", reason, MaxReason, true)
	if err != nil {
		return err
	}
	return s.end(ctx, a, id, Ending{Outcome: WithdrawnOutcome, Note: reason}, "indicator.withdraw")
}

func (s *Service) end(ctx context.Context, a Actor, id int64, e Ending, action string) error {
	e.Org, e.Actor, e.At = a.Org, a.Actor, s.o.Clock.Now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		ind, err := tx.LockIndicator(ctx, id)
		if err != nil {
			return err
		}
		if ind.State != indicator.Quarantined {
			return core.Errorf(core.ErrConflict, "indicator %d is %s, not quarantined: there is no quarantine to end", id, ind.State)
		}
		if _, err := tx.End(ctx, id, e); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: e.At, OrgID: a.Org, OrgName: a.OrgName, Actor: a.Actor,
			Action: action, Object: object(id), Purpose: "quarantine review"})
	})
}

// Queue returns up to limit open quarantines (0: DefaultLimit, at most
// MaxLimit), oldest first, after the quarantine with ID after (the
// previous page's last Entry.Quarantine; 0 for the first page).
func (s *Service) Queue(ctx context.Context, a Actor, limit int, after int64) ([]Entry, error) {
	if err := a.review(); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit || after < 0 {
		return nil, core.Errorf(core.ErrInvalid, "a page of the queue has 1 to %d entries after a quarantine ID >= 0", MaxLimit)
	}
	return s.st.OpenQuarantines(ctx, after, limit)
}

// Detail returns indicator id with its quarantines and every provider's
// verdict, their notes opened; the view is audited, as it opens the
// providers' notes.
func (s *Service) Detail(ctx context.Context, a Actor, id int64) (Detail, error) {
	if err := a.review(); err != nil {
		return Detail{}, err
	}
	ind, _, err := s.st.Indicator(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Indicator: ind}
	if d.Quarantines, err = s.st.IndicatorQuarantines(ctx, id); err != nil {
		return Detail{}, err
	}
	fs, err := s.st.IndicatorFeedback(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	for _, f := range fs {
		v := ProviderVerdict{Provider: f.Provider, ProviderName: f.ProviderName, Verdict: f.Verdict, At: f.At, AnsweredAt: f.AnsweredAt}
		if f.NoteSealed != nil {
			note, err := s.o.Sealer.Open(ctx, f.NoteSealed, NoteAAD(f.Provider, id))
			if err != nil {
				return Detail{}, fmt.Errorf("opening the note of provider %d on indicator %d: %w", f.Provider, id, err)
			}
			v.Note = string(note)
		}
		d.Verdicts = append(d.Verdicts, v)
	}
	if err := s.audit(ctx, nil, audit.Event{OrgID: a.Org, OrgName: a.OrgName, Actor: a.Actor,
		Action: "quarantine.view", Object: object(id)}); err != nil {
		return Detail{}, err
	}
	return d, nil
}

// flooded reports whether c is a flood: more than FloodMatches distinct
// items, and more than FloodMatches when each provider's count for at most
// FloodMatches/2+1, so that one provider never makes a flood alone.
func (s *Service) flooded(c SightingCount) bool {
	if c.Items <= s.o.FloodMatches {
		return false
	}
	share, n := s.o.FloodMatches/2+1, 0
	for _, p := range c.ByProvider {
		n += min(p, share)
	}
	return n > s.o.FloodMatches
}

// flood quarantines indicator id, whose sightings c are a flood, if it is
// still active.
func (s *Service) flood(ctx context.Context, id int64, c SightingCount) error {
	at := s.o.Clock.Now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		ind, err := tx.LockIndicator(ctx, id)
		if err != nil || ind.State != indicator.Active {
			return err
		}
		_, err = s.begin(ctx, tx, Record{Indicator: id, Cause: Flood, Actor: audit.System, At: at,
			Reason: fmt.Sprintf("%d distinct items matched by %d providers within %s", c.Items, len(c.ByProvider), s.o.FloodWindow)}, "")
		return err
	})
}
