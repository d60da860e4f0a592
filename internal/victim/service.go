package victim

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/indicator"
)

// Limits of a case.
const (
	MaxHashesPerRequest = 100  // hashes in one opening or addition
	MaxHashesPerCase    = 1000 // hashes a case ever holds, withdrawn ones too
	MaxContact          = 254  // bytes of the optional contact
)

// State is where a case's hash stands.
type State string

// The states of a case's hash. Pending is only seen while the list could
// not be reached: the next request on the case puts the hash in the list.
const (
	Active      State = "active"
	Quarantined State = "quarantined" // a provider's verdicts or a reviewer took it out of matching for now
	Withdrawn   State = "withdrawn"   // by the person, or (Hash.WithdrawnAt zero) from the list by the centre before
	Pending     State = "pending"
)

// Hash is one hash of a case.
type Hash struct {
	ID        int64 // 1, 2, ... in the case
	Indicator int64 // its indicator in the list; 0 while Pending
	Signal    indicator.Signal
	Value     string
	State     State
	AddedAt   time.Time
	// WithdrawnAt is when the person withdrew it from the case; zero if
	// they did not (a Withdrawn hash with a zero WithdrawnAt was
	// withdrawn from the list, finally, by the centre).
	WithdrawnAt time.Time
}

// Counts are what a case's person learns of what was found: numbers,
// never where. They count over the case's hashes that are not withdrawn
// (a withdrawn hash no longer counts, even when another case still holds
// its indicator), each event only from when the case held the hash (at
// or after Hash.AddedAt), so that a case learns nothing of what happened
// to a hash before it sent it.
type Counts struct {
	Hashes    int // the case's hashes not withdrawn
	Withdrawn int // the case's hashes withdrawn, by the person or the centre
	// ProviderMatches counts distinct (provider, hash) pairs the centre
	// learned of: a match its API answered, or one from a provider's
	// mirror the provider confirmed (match-feedback "confirmed"), as of
	// when it first learned of the pair.
	ProviderMatches int
	// WebMatches counts the distinct web resources (takedown items)
	// that matched the hashes when the centre fetched them.
	WebMatches int
	// NoticesSent counts the notices sent to hosts that name one of
	// those resources; RemovalsVerified the resources whose removal a
	// recheck verified.
	NoticesSent      int
	RemovalsVerified int
}

// Status is what the person holding a case's secret sees.
type Status struct {
	Case     string
	OpenedAt time.Time
	Hashes   []Hash
	Counts   Counts
}

// Receipt answers the opening of a case: its status and the secret, which
// exists only here.
type Receipt struct {
	Status
	Secret string
}

// Options are a Service's dependencies and settings.
type Options struct {
	// Sealer seals the contact; required.
	Sealer interface {
		Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	}
	// Audit records each change; nil records nothing (tests).
	Audit *audit.Log
	// Clock is the service's clock, the system's if nil.
	Clock core.Clock
	// List is the unverified list the hashes go to
	// (indicator.VictimReported if "").
	List string
	// DailyHashes is the most new hashes all cases together may add in
	// any 24 hours (DefaultDailyHashes if 0): a flood of hashes, which
	// could fill the list with what is not of victims, is refused rather
	// than listed.
	DailyHashes int
	// Log receives the warning of such a flood; slog.Default() if nil.
	Log *slog.Logger
}

// DefaultDailyHashes is Options.DailyHashes's default.
const DefaultDailyHashes = 20000

// Service runs victims' cases and the directory of help services. Its
// case methods are for the public, with no key: the case's secret is the
// authorisation.
type Service struct {
	st   Store
	inds Indicators
	o    Options

	mu       sync.Mutex
	warnedAt time.Time // the last warning of a flood of hashes
}

// New returns a Service keeping its cases in st and sending their hashes
// to inds.
func New(st Store, inds Indicators, o Options) *Service {
	o.List = cmp.Or(o.List, indicator.VictimReported)
	o.DailyHashes = cmp.Or(o.DailyHashes, DefaultDailyHashes)
	o.Log = cmp.Or(o.Log, slog.Default())
	return &Service{st: st, inds: inds, o: o}
}

func (s *Service) now() time.Time { return s.o.Clock.Now() }

// ContactAAD is the additional data a case's contact is sealed with.
func ContactAAD(id string) []byte { return []byte("victim_cases.contact:" + id) }

// newID returns a case number: "V" and 15 characters of base32 (75
// random bits) in four groups, to read out and type, as complaints' are.
func newID() string {
	t := rand.Text()[:16]
	return "V" + t[1:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:]
}

// NormaliseID returns a case number as typed by a person (lower case,
// spaces, without its dashes) as newID writes it; anything else unchanged.
func NormaliseID(s string) string {
	t := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s)))
	if len(t) != 16 {
		return s
	}
	return t[:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:]
}

// normaliseSecret returns a secret as typed by a person as rand.Text
// writes it: upper case, without spaces or dashes, and 0 and 1 (not in
// base32) read as O and I.
func normaliseSecret(s string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		case '0':
			return 'O'
		case '1':
			return 'I'
		}
		return r
	}, s))
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CheckHashes checks hashes as sent in one request and returns them
// normalised, without repeats; each invalid one is an error naming its
// index (from 0).
func CheckHashes(hashes []indicator.Hash) ([]indicator.Hash, error) {
	if len(hashes) == 0 || len(hashes) > MaxHashesPerRequest {
		return nil, core.Errorf(core.ErrInvalid, "send 1 to %d hashes at a time, not %d", MaxHashesPerRequest, len(hashes))
	}
	var errs []error
	out := make([]indicator.Hash, 0, len(hashes))
	for i, h := range hashes {
		sig, err := indicator.ParseSignal(string(h.Signal))
		if err == nil {
			h.Value, err = indicator.NormalizeValue(sig, h.Value)
			h.Signal = sig
		}
		if err == nil && sig == indicator.PDQ {
			err = checkPDQBits(h.Value)
		}
		if err != nil {
			if len(errs) < 10 {
				errs = append(errs, fmt.Errorf("hash %d: %w", i, err))
			}
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	if errs != nil {
		return nil, core.Errorf(core.ErrInvalid, "%w", errors.Join(errs...))
	}
	return out, nil
}

// The bits a PDQ hash of a victim's image may have set, of 256: a real
// image's hash has about half; one with far fewer or far more matches
// images with little in them (blank, flat colour), so would make the
// list match what is not the person's.
const (
	MinPDQBits = 64
	MaxPDQBits = 192
)

// checkPDQBits checks the bits set in v, a normalised PDQ hash (hex).
func checkPDQBits(v string) error {
	b, err := hex.DecodeString(v)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	if n < MinPDQBits || n > MaxPDQBits {
		return fmt.Errorf("this PDQ hash has %d of its 256 bits set; one of a photo has %d to %d (about half), so this is not the hash of a photo and would match images with little in them", n, MinPDQBits, MaxPDQBits)
	}
	return nil
}

// CheckContact checks the optional contact: an e-mail address or a phone
// number, returned trimmed.
func CheckContact(c string) (string, error) {
	c = strings.TrimSpace(c)
	if c == "" {
		return "", nil
	}
	if len(c) <= MaxContact && text.Check(c) == nil {
		if a, err := mail.ParseAddress(c); err == nil && a.Name == "" && a.Address == c {
			return c, nil
		}
		if validPhone(c) {
			return c, nil
		}
	}
	return "", core.Errorf(core.ErrInvalid, "the contact, if given, must be an e-mail address such as name@example.org or a phone number such as +32 2 123 45 67")
}

// centre returns the principal the hashes are reported by: the centre's
// organisation, the first registered.
func (s *Service) centre(ctx context.Context) (org.Principal, error) {
	os, err := s.st.Orgs(ctx)
	if err != nil {
		return org.Principal{}, err
	}
	var c *org.Organisation
	for i, o := range os {
		if o.Kind == org.Centre && (c == nil || o.ID < c.ID) {
			c = &os[i]
		}
	}
	if c == nil {
		return org.Principal{}, core.Errorf(core.ErrUnavailable,
			"the centre's organisation is not registered, so no hashes can be taken: register it with \"ward admin init\" or \"ward admin org add --kind centre --name NAME --country CC\"")
	}
	return c.Principal(), nil
}

// Open opens a case with hashes (1 to MaxHashesPerRequest) and an optional
// contact (sealed), and puts the hashes in the list at once. The case row
// and its hashes commit before the hashes go to the list, and the list is
// told again of any hash not yet in it on the case's next request, so a
// crash between the two loses nothing: what the person was told of (the
// case and its secret) exists, and its hashes reach the list. The
// person's address is never given to this package.
func (s *Service) Open(ctx context.Context, hashes []indicator.Hash, contact string) (Receipt, error) {
	hashes, err := CheckHashes(hashes)
	if err != nil {
		return Receipt{}, err
	}
	if contact, err = CheckContact(contact); err != nil {
		return Receipt{}, err
	}
	by, err := s.centre(ctx)
	if err != nil {
		return Receipt{}, err
	}
	id, secret := newID(), rand.Text()
	r := Record{ID: id, OpenedAt: s.now(), SecretHash: hashSecret(secret)}
	if contact != "" {
		// Sealed before the transaction, as seal.Sealer wants.
		if r.ContactSealed, err = s.o.Sealer.Seal(ctx, []byte(contact), ContactAAD(id)); err != nil {
			return Receipt{}, fmt.Errorf("sealing the contact: %w", err)
		}
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.AddCase(ctx, r); err != nil {
			return err
		}
		for i, h := range hashes {
			if err := tx.AddHash(ctx, id, Hash{ID: int64(i + 1), Signal: h.Signal, Value: h.Value, AddedAt: r.OpenedAt}); err != nil {
				return err
			}
		}
		if err := s.checkDaily(ctx, tx, r.OpenedAt); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: r.OpenedAt, Actor: audit.Anonymous, Action: "victim.open", Object: "victim-case:" + id,
			Purpose: fmt.Sprintf("%d hashes to list %s", len(hashes), s.o.List), Outcome: audit.OK})
	})
	if err != nil {
		return Receipt{}, err
	}
	if err := s.complete(ctx, id, by); err != nil {
		return Receipt{}, err
	}
	st, err := s.status(ctx, r)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Status: st, Secret: secret}, nil
}

// complete puts in the list the hashes of case id not yet in it, and
// withdraws from the list the indicators of its withdrawn hashes that no
// case holds any longer: those of a withdrawal cut short, or of a hash
// withdrawn while it was being put in the list. Then it puts in the list
// again the hashes it holds whose indicator another case's withdrawal took
// out meanwhile (the other case saw no holder while this one's row had no
// indicator yet): a person's withdrawal is undone by sending the hash
// again (indicator.Service.Report).
func (s *Service) complete(ctx context.Context, id string, by org.Principal) error {
	if err := s.put(ctx, id, by); err != nil {
		return err
	}
	unheld, err := s.st.Unheld(ctx, id)
	if err != nil {
		return err
	}
	if err := s.withdrawUnheld(ctx, id, by, unheld); err != nil {
		return err
	}
	return s.put(ctx, id, by)
}

// withdrawUnheld withdraws indicators inds of case id from the list.
func (s *Service) withdrawUnheld(ctx context.Context, id string, by org.Principal, inds []int64) error {
	for _, ind := range inds {
		if by.OrgID == 0 {
			var err error
			if by, err = s.centre(ctx); err != nil {
				return err
			}
		}
		if _, err := s.inds.Withdraw(ctx, ind, by, WithdrawReason); err != nil {
			return fmt.Errorf("withdrawing indicator %d of case %s: %w", ind, id, err)
		}
	}
	return nil
}

// put puts in the list the hashes of case id not yet in it, or out of it
// though the case holds them (Report puts back only those a person's
// withdrawal took out; the centre's own withdrawals stay).
func (s *Service) put(ctx context.Context, id string, by org.Principal) error {
	hs, err := s.st.CaseHashes(ctx, id)
	if err != nil {
		return err
	}
	var pending []Hash
	var send []indicator.Hash
	for _, h := range hs {
		if h.WithdrawnAt.IsZero() && (h.Indicator == 0 || h.State == Withdrawn) {
			pending = append(pending, h)
			send = append(send, indicator.Hash{Signal: h.Signal, Value: h.Value})
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if by.OrgID == 0 {
		if by, err = s.centre(ctx); err != nil {
			return err
		}
	}
	// Reporting a hash the list holds changes nothing, so a retry is safe.
	var res []indicator.Result
	for chunk := range slices.Chunk(send, indicator.MaxSubmissions) {
		r, err := s.inds.Report(ctx, s.o.List, by, chunk)
		if err != nil {
			return fmt.Errorf("adding the hashes of case %s to list %s: %w", id, s.o.List, err)
		}
		res = append(res, r...)
	}
	// A hash withdrawn meanwhile gets its indicator too, for complete
	// to withdraw it if no case holds it.
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		for i, h := range pending {
			if err := tx.SetIndicator(ctx, id, h.ID, res[i].IndicatorID); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkDaily refuses the hashes tx adds at at if with them the hashes
// added in the 24 hours up to at exceed Options.DailyHashes. It warns once
// a day at most, with nothing of any case.
func (s *Service) checkDaily(ctx context.Context, tx Tx, at time.Time) error {
	n, err := tx.HashesSince(ctx, at.Add(-24*time.Hour))
	if err != nil || n <= s.o.DailyHashes {
		return err
	}
	s.mu.Lock()
	warn := at.Sub(s.warnedAt) >= 24*time.Hour
	if warn {
		s.warnedAt = at
	}
	s.mu.Unlock()
	if warn {
		s.o.Log.Warn("victims' cases: new hashes refused, the most in 24 hours was reached", "limit", s.o.DailyHashes)
	}
	return core.Errorf(core.ErrUnavailable, "the service is receiving unusually many hashes; try again later")
}

// errNoCase is the one answer to a case that is not there and to a wrong
// secret.
func errNoCase() error {
	return core.Errorf(core.ErrNotFound, "no case has this number and secret")
}

// unknownHash is compared against for an unknown case, so that it costs
// what a wrong secret costs.
var unknownHash = make([]byte, sha256.Size)

// open returns case id if secret is its secret; an unknown case and a
// wrong secret are the same core.ErrNotFound error. It puts in the list
// any hash of the case not yet in it.
func (s *Service) open(ctx context.Context, id, secret string) (Record, error) {
	id, secret = NormaliseID(id), normaliseSecret(secret)
	want := unknownHash
	r, err := s.st.Case(ctx, id)
	switch {
	case err == nil:
		want = r.SecretHash
	case !errors.Is(err, core.ErrNotFound):
		return Record{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), want) != 1 || err != nil || secret == "" {
		return Record{}, errNoCase()
	}
	return r, s.complete(ctx, r.ID, org.Principal{})
}

func (s *Service) status(ctx context.Context, r Record) (Status, error) {
	hs, err := s.st.CaseHashes(ctx, r.ID)
	if err != nil {
		return Status{}, err
	}
	c, err := s.st.Counts(ctx, r.ID)
	if err != nil {
		return Status{}, err
	}
	return Status{Case: r.ID, OpenedAt: r.OpenedAt, Hashes: hs, Counts: c}, nil
}

// Status returns the status of case id to the holder of its secret; an
// unknown case and a wrong secret are the same core.ErrNotFound error.
func (s *Service) Status(ctx context.Context, id, secret string) (Status, error) {
	r, err := s.open(ctx, id, secret)
	if err != nil {
		return Status{}, err
	}
	return s.status(ctx, r)
}

// Add adds hashes (1 to MaxHashesPerRequest) to case id, up to
// MaxHashesPerCase in all, and puts them in the list. A hash the case
// holds already, withdrawn or not, is left as it is.
func (s *Service) Add(ctx context.Context, id, secret string, hashes []indicator.Hash) (Status, error) {
	hashes, err := CheckHashes(hashes)
	if err != nil {
		return Status{}, err
	}
	r, err := s.open(ctx, id, secret)
	if err != nil {
		return Status{}, err
	}
	by, err := s.centre(ctx)
	if err != nil {
		return Status{}, err
	}
	at := s.now()
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockCase(ctx, r.ID); err != nil {
			return err
		}
		hs, err := tx.TxHashes(ctx, r.ID)
		if err != nil {
			return err
		}
		n, added := int64(len(hs)), 0
		for _, h := range hashes {
			if slices.ContainsFunc(hs, func(o Hash) bool { return o.Signal == h.Signal && o.Value == h.Value }) {
				continue
			}
			if n == MaxHashesPerCase {
				return core.Errorf(core.ErrInvalid, "a case holds at most %d hashes; open another case for more", MaxHashesPerCase)
			}
			n++
			added++
			if err := tx.AddHash(ctx, r.ID, Hash{ID: n, Signal: h.Signal, Value: h.Value, AddedAt: at}); err != nil {
				return err
			}
		}
		if added == 0 {
			return nil
		}
		if err := s.checkDaily(ctx, tx, at); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, Actor: audit.Anonymous, Action: "victim.add", Object: "victim-case:" + r.ID,
			Purpose: fmt.Sprintf("%d hashes to list %s", added, s.o.List), Outcome: audit.OK})
	})
	if err != nil {
		return Status{}, err
	}
	if err := s.complete(ctx, r.ID, by); err != nil {
		return Status{}, err
	}
	return s.status(ctx, r)
}

// ErrNoHash is wrapped by the core.ErrNotFound error of Withdraw for a
// hash the case does not have (the case and its secret being right).
var ErrNoHash = errors.New("this case has no such hash; its hashes are numbered from 1 as its status lists them")

// WithdrawReason is the reason recorded with the withdrawal of an
// indicator by a victim's case.
const WithdrawReason = indicator.PersonWithdrew

// Withdraw withdraws hash n of case id (Hash.ID), or every hash of the
// case if n is 0. The hash leaves the case at once; its indicator leaves
// the list at once (a final withdrawal, which every node's matcher and
// every provider's mirror follow) unless another case still holds it.
// The rows are withdrawn and the indicators no case holds any longer
// decided in one transaction, serialised with other cases' withdrawals
// of the same indicators, so that of two cases withdrawing one indicator
// at once, the second sees the first's withdrawal. The indicators are
// withdrawn after the commit: a crash between the two leaves them for
// the case's next request (complete), never an indicator in the list
// that no case holds for good. Withdrawing a withdrawn hash changes
// nothing.
func (s *Service) Withdraw(ctx context.Context, id, secret string, n int64) (Status, error) {
	r, err := s.open(ctx, id, secret)
	if err != nil {
		return Status{}, err
	}
	hs, err := s.st.CaseHashes(ctx, r.ID)
	if err != nil {
		return Status{}, err
	}
	if n != 0 && !slices.ContainsFunc(hs, func(h Hash) bool { return h.ID == n }) {
		return Status{}, core.Errorf(core.ErrNotFound, "hash %d: %w", n, ErrNoHash)
	}
	at := s.now()
	var unheld []int64
	err = s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.LockHolders(ctx, r.ID); err != nil {
			return err
		}
		hs, err := tx.TxHashes(ctx, r.ID)
		if err != nil {
			return err
		}
		done := 0
		for _, h := range hs {
			if (n == 0 || h.ID == n) && h.WithdrawnAt.IsZero() {
				if err := tx.WithdrawHash(ctx, r.ID, h.ID, at); err != nil {
					return err
				}
				done++
			}
		}
		if unheld, err = tx.Unheld(ctx, r.ID); err != nil || done == 0 {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, Actor: audit.Anonymous, Action: "victim.withdraw", Object: "victim-case:" + r.ID,
			Purpose: fmt.Sprintf("%d hashes", done), Outcome: audit.OK})
	})
	if err != nil {
		return Status{}, err
	}
	if err := s.withdrawUnheld(ctx, r.ID, org.Principal{}, unheld); err != nil {
		return Status{}, err
	}
	return s.status(ctx, r)
}

// ProviderMatched records that provider matched indicators, some of which
// may be in the unverified list: a match the API answered, or one from
// its mirror it confirmed. It is idempotent.
func (s *Service) ProviderMatched(ctx context.Context, provider int64, indicators []int64) error {
	if provider == 0 || len(indicators) == 0 {
		return nil
	}
	return s.st.ProviderMatched(ctx, provider, indicators, s.now())
}

// audit appends ev through a, the transaction of the change it records;
// nothing without Options.Audit.
func (s *Service) audit(ctx context.Context, a audit.Appender, ev audit.Event) error {
	if s.o.Audit == nil {
		return nil
	}
	_, err := s.o.Audit.AppendTo(ctx, a, ev)
	return err
}
