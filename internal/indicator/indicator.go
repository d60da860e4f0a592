// Package indicator holds Ward's lists of known material: indicators (hashes
// of material assessed as child sexual abuse by a competent authority or a
// hotline), who vouched for each (attestations), when an indicator becomes
// active, its withdrawal, and each list's change feed.
//
// # Rules
//
// An indicator is identified by its list, signal type and value. It is
// created pending by its first attestation. It becomes active, and so is
// distributed to providers and matched, once the list's Policy is met: at
// least MinAttestations organisations attested it and, if
// DistinctCountries, those organisations are from at least MinAttestations
// different countries (the safeguard that an indicator is distributed only
// once vouched for by independent organisations in different
// jurisdictions). An organisation attesting the same value again changes
// nothing: it has one attestation per indicator.
//
// An organisation that attested an indicator, or the centre, may withdraw
// it, with a reason. Withdrawal takes effect at once and is final: later
// attestations of the same value are still recorded (provenance is kept for
// as long as the indicator exists) but never make it active again. To
// distribute material again after a mistaken withdrawal, use another list.
//
// An active indicator may be quarantined (package quarantine says when:
// providers' false-positive verdicts, a flood of matches, a reviewer's
// hand): it stops being distributed and matched at once, as if withdrawn,
// but waits for a review, which releases it (active again) or withdraws it.
// Only an active indicator can be quarantined, only a quarantined one
// released. Attestations of a quarantined indicator are recorded and never
// change its state.
//
// # Change feed
//
// Every new indicator (add), further attestation (attest), activation,
// quarantine, release and withdrawal is a Change in its list's feed. Within a list, Seq numbers are
// dense (1, 2, 3, ...) and in commit order: once a reader has seen Seq n,
// no change with a lower Seq can appear later. A reader that loads the
// active indicators with ForEachActive and then follows Changes after the
// head seq it returned therefore misses nothing. The feed includes changes
// of pending indicators (add, attest); what is distributed to providers is
// activate, quarantine, release and withdraw: a reader adds the indicator
// of an activate or release and removes that of a quarantine or withdraw.
// Those distributed changes are also appended, in the same transaction, to
// the list's transparency log (package translog), which anyone can check.
//
// Storage is behind Store, which package store implements for SQLite and
// PostgreSQL; storetest checks both against these rules.
package indicator

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// Signal is the type of hash an indicator holds.
type Signal string

// The signal types.
const (
	PDQ    Signal = "pdq"    // PDQ perceptual hash, 256 bits, 64 hex digits
	MD5    Signal = "md5"    // MD5 of the file, 32 hex digits
	SHA256 Signal = "sha256" // SHA-256 of the file, 64 hex digits
)

// ParseSignal returns the signal type named s (in any case).
func ParseSignal(s string) (Signal, error) {
	switch sig := Signal(strings.ToLower(strings.TrimSpace(s))); sig {
	case PDQ, MD5, SHA256:
		return sig, nil
	}
	return "", core.Errorf(core.ErrInvalid, "unknown signal type %q (want pdq, md5 or sha256)", s)
}

// hexLen is the length of each signal type's value in hex digits.
func (s Signal) hexLen() int {
	if s == MD5 {
		return 32
	}
	return 64
}

// NormalizeValue checks that v is a valid value of signal type sig and
// returns it in lower case: exactly the right number of hex digits, and for
// PDQ not all zero (the hash of an image too small to hash, which would
// match every other low-information image).
func NormalizeValue(sig Signal, v string) (string, error) {
	if _, err := ParseSignal(string(sig)); err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	n := sig.hexLen()
	if len(v) != n {
		return "", core.Errorf(core.ErrInvalid, "a %s value is %d hex digits, got %d characters", sig, n, len(v))
	}
	zero := true
	lower := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return "", core.Errorf(core.ErrInvalid, "a %s value has only hex digits 0-9, a-f", sig)
		}
		if c != '0' {
			zero = false
		}
	}
	if zero && sig == PDQ {
		return "", core.Errorf(core.ErrInvalid, "the all-zero PDQ hash is not a valid hash")
	}
	if !lower {
		v = strings.ToLower(v)
	}
	return v, nil
}

// Category classifies the material an indicator stands for: the industry
// classification (A1, A2, B1, B2) or INTERPOL's baseline versus material
// illegal only in some countries (national).
type Category string

// The categories.
const (
	A1       Category = "A1"
	A2       Category = "A2"
	B1       Category = "B1"
	B2       Category = "B2"
	Baseline Category = "baseline"
	National Category = "national"
	// Unverified is the category of every indicator of an unverified
	// list (victim-reported): hashes a person sent of images of
	// themselves, which no analyst has assessed. Organisations' submissions
	// cannot give it.
	Unverified Category = "unverified"
)

var categories = []Category{A1, A2, B1, B2, Baseline, National, Unverified}

// ParseCategory returns the category named s, in any case.
func ParseCategory(s string) (Category, error) {
	t := strings.TrimSpace(s)
	for _, c := range categories {
		if strings.EqualFold(t, string(c)) {
			return c, nil
		}
	}
	return "", core.Errorf(core.ErrInvalid, "unknown category %q (want A1, A2, B1, B2, baseline or national)", s)
}

// State is where an indicator is in its life.
type State string

// The states. Pending becomes active when the list's policy is met; active
// may become quarantined, and quarantined active again; any becomes
// withdrawn, which is final.
const (
	Pending     State = "pending"
	Active      State = "active"
	Quarantined State = "quarantined"
	Withdrawn   State = "withdrawn"
)

// Policy says when an indicator of a list becomes active.
type Policy struct {
	MinAttestations   int  `json:"min_attestations"`
	DistinctCountries bool `json:"distinct_countries"`
}

// DefaultPolicy is the safeguard of the centre's lists: two organisations
// from two different countries.
var DefaultPolicy = Policy{MinAttestations: 2, DistinctCountries: true}

// maxMinAttestations bounds MinAttestations to what a real list could meet.
const maxMinAttestations = 20

// Satisfied reports whether attestations from orgs organisations in
// countries distinct countries meet the policy. It is the rule's
// definition; stores apply it in SQL to whole batches, and storetest checks
// them against it.
func (p Policy) Satisfied(orgs, countries int) bool {
	return orgs >= p.MinAttestations && (!p.DistinctCountries || countries >= p.MinAttestations)
}

// DefaultMaxDistance is the usual PDQ match threshold (Meta's
// recommendation) and the default cap of a list.
const DefaultMaxDistance = 31

// maxMaxDistance is half of PDQ's 256 bits: a larger distance says two
// hashes are less alike than unrelated ones.
const maxMaxDistance = 128

// DefaultThreshold is the default PDQ threshold of a new list: the
// distance used against it when a query names none.
const DefaultThreshold = 31

// ListKind says what a match of a list's indicator means.
type ListKind string

// The kinds of list.
const (
	// MatchList holds known material: a match of its indicator is a match.
	MatchList ListKind = "match"
	// SuppressList holds known benign content that collides with other
	// lists' indicators (common stock images, for example): content that
	// matches one of its indicators has its matches of the other lists
	// removed, and its own indicators are never matches.
	SuppressList ListKind = "suppress"
	// UnverifiedList holds hashes from one source that no second
	// organisation attested: VictimReported, the hashes people send of
	// images of themselves (package victim). Its indicators are active on
	// submission, of category Unverified, and a match is a lead for review,
	// not known material: the provider looks before it acts. It is matched
	// only when a query names it (and by the centre's own fetching), and
	// only package victim adds to it (Service.Report).
	UnverifiedList ListKind = "unverified"
)

// VictimReported is the unverified list of victims' hashes, which every
// installation has from the start.
const VictimReported = "victim-reported"

// PersonWithdrew is the reason of a withdrawal by the person who sent the hash (package victim): one that a person's sending it again undoes.
const PersonWithdrew = "withdrawn by the person who sent it"

// ParseListKind returns the kind of list named s (in any case).
func ParseListKind(s string) (ListKind, error) {
	switch k := ListKind(strings.ToLower(strings.TrimSpace(s))); k {
	case MatchList, SuppressList, UnverifiedList:
		return k, nil
	}
	return "", core.Errorf(core.ErrInvalid, "unknown kind of list %q (want match, suppress or unverified)", s)
}

// List is a named set of indicators with one policy and one change feed.
type List struct {
	Name   string `json:"name"`
	Policy Policy `json:"policy"`
	// Kind is fixed when the list is created: turning a list of known
	// material into one that suppresses matches would silently hide them.
	Kind ListKind `json:"kind"`
	// MaxDistance is the largest PDQ Hamming distance the server accepts as
	// a match against this list, whatever threshold a request asks for.
	MaxDistance int `json:"max_distance"`
	// Threshold is the PDQ distance used against this list when a query
	// names none, and always for a suppress list; at most MaxDistance.
	Threshold int       `json:"threshold"`
	CreatedAt time.Time `json:"created_at"`
}

// Known is the name of the list every installation has from the start.
const Known = "known"

var listName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Validate checks a list's name and settings.
func (l List) Validate() error {
	switch {
	case !listName.MatchString(l.Name):
		return core.Errorf(core.ErrInvalid, "list name %q must be 1 to 63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", l.Name)
	case l.Policy.MinAttestations < 1 || l.Policy.MinAttestations > maxMinAttestations:
		return core.Errorf(core.ErrInvalid, "minimum attestations must be 1 to %d, got %d", maxMinAttestations, l.Policy.MinAttestations)
	case l.Kind != MatchList && l.Kind != SuppressList && l.Kind != UnverifiedList:
		return core.Errorf(core.ErrInvalid, "unknown kind of list %q (want match, suppress or unverified)", l.Kind)
	case l.MaxDistance < 0 || l.MaxDistance > maxMaxDistance:
		return core.Errorf(core.ErrInvalid, "maximum distance must be 0 to %d, got %d", maxMaxDistance, l.MaxDistance)
	case l.Threshold < 0 || l.Threshold > l.MaxDistance:
		return core.Errorf(core.ErrInvalid, "threshold must be 0 to the maximum distance %d, got %d", l.MaxDistance, l.Threshold)
	}
	return nil
}

// ListInfo is a list with the state of its feed.
type ListInfo struct {
	List
	Head   int64 `json:"head"`   // Seq of the list's latest change; 0 if none
	Active int64 `json:"active"` // number of active indicators
}

// Indicator is one hash in one list.
type Indicator struct {
	ID       int64    `json:"id"`
	List     string   `json:"list"`
	Signal   Signal   `json:"signal"`
	Value    string   `json:"value"`    // lower-case hex
	Category Category `json:"category"` // as given by the first attestation
	State    State    `json:"state"`

	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"` // zero unless it was ever active
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"` // zero unless withdrawn
	// WithdrawnBy is the organisation that withdrew it, and WithdrawReason
	// its reason; both are zero unless withdrawn.
	WithdrawnBy    int64  `json:"withdrawn_by,omitzero"`
	WithdrawReason string `json:"withdraw_reason,omitzero"`
}

// Attestation records that an organisation vouched for an indicator.
type Attestation struct {
	IndicatorID int64  `json:"indicator_id"`
	OrgID       int64  `json:"org_id"`
	OrgName     string `json:"org_name"`
	// OrgCountry is the organisation's country when it attested, which is
	// what the policy counted.
	OrgCountry string `json:"org_country"`
	// Category is the organisation's own assessment, which may differ
	// from the indicator's (the first attester's).
	Category  Category  `json:"category"`
	Reference string    `json:"reference"` // the organisation's own case reference
	At        time.Time `json:"at"`
}

// ChangeKind is what a change did.
type ChangeKind string

// The kinds of change.
const (
	Add      ChangeKind = "add"      // a new (pending) indicator, with its first attestation
	Attest   ChangeKind = "attest"   // a further organisation attested an existing indicator
	Activate ChangeKind = "activate" // the indicator became active
	Withdraw ChangeKind = "withdraw" // the indicator was withdrawn
	// Quarantine stops an active indicator matching until a review;
	// Release makes it active again.
	Quarantine ChangeKind = "quarantine"
	Release    ChangeKind = "release"
)

// Change is one entry of a list's change feed.
type Change struct {
	Seq         int64      `json:"seq"` // dense per list, from 1, in commit order
	List        string     `json:"list"`
	Kind        ChangeKind `json:"kind"`
	IndicatorID int64      `json:"indicator"`
	Signal      Signal     `json:"signal"`
	Value       string     `json:"value"`
	Category    Category   `json:"category"`
	OrgID       int64      `json:"org"` // the organisation whose action it was
	At          time.Time  `json:"at"`
	// WasActive is whether the indicator had been activated before it was
	// withdrawn (of a withdrawal; activation never follows one): it was
	// active or quarantined. Only such a withdrawal removes anything a
	// provider could have matched.
	WasActive bool `json:"was_active,omitzero"`
}

// Submission is one organisation's claim that a hash is of known material.
type Submission struct {
	Signal    Signal   `json:"signal"`
	Value     string   `json:"value"`
	Category  Category `json:"category"`
	Reference string   `json:"reference,omitzero"` // the organisation's own reference, up to 200 characters
}

// maxReferenceLen bounds an attestation's reference.
const maxReferenceLen = 200

// Normalize checks s and returns it in canonical form.
func (s Submission) Normalize() (Submission, error) {
	sig, err := ParseSignal(string(s.Signal))
	if err != nil {
		return Submission{}, err
	}
	v, err := NormalizeValue(sig, s.Value)
	if err != nil {
		return Submission{}, err
	}
	c, err := ParseCategory(string(s.Category))
	if err != nil {
		return Submission{}, err
	}
	if c == Unverified {
		return Submission{}, core.Errorf(core.ErrInvalid, "category unverified is given only to victims' hashes; assess the material (A1, A2, B1, B2, baseline or national)")
	}
	ref := strings.TrimSpace(s.Reference)
	switch {
	case !utf8.ValidString(ref):
		return Submission{}, core.Errorf(core.ErrInvalid, "reference is not valid UTF-8")
	case utf8.RuneCountInString(ref) > maxReferenceLen:
		return Submission{}, core.Errorf(core.ErrInvalid, "reference is longer than %d characters", maxReferenceLen)
	case strings.ContainsFunc(ref, unicode.IsControl):
		return Submission{}, core.Errorf(core.ErrInvalid, "reference contains a control character")
	}
	if err := text.Check(ref); err != nil {
		return Submission{}, core.Errorf(core.ErrInvalid, "reference %v", err)
	}
	return Submission{Signal: sig, Value: v, Category: c, Reference: ref}, nil
}

// Result is what a submission did.
type Result struct {
	IndicatorID int64 `json:"indicator"`
	State       State `json:"state"` // after the submission
	// Created is set if the submission created the indicator; Attested if
	// it added the organisation's attestation to an existing one (neither
	// is set when the organisation had attested it before); Activated if
	// it made the indicator active.
	Created   bool `json:"created"`
	Attested  bool `json:"attested"`
	Activated bool `json:"activated"`
}
