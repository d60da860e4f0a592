// Package takedown is the centre's hotline channel (CSAR Art 25; INHOPE's
// ICCAM, the Canadian Centre's Project Arachnid): a URL reported by the
// public or by a partner hotline is fetched with what it embeds, every
// resource hashed and matched, the host and hosting country located, the
// case routed to the hotline of that country (else the centre's
// analysts), assessed, and each illegal resource noticed to its host
// until a recheck verifies that it is gone; the time to removal is
// recorded for the figures.
//
// # States
//
//	fetching ──► assessment ──► noticed ──► removed
//	                  │
//	                  └──► closed (nothing illegal, or nothing was there)
//
// # Rules here, rows in the store
//
// As in package triage, the rules (which state a step may be taken from,
// what it records and queues) are this package's; the store runs the SQL
// of Store, in the transactions of Store.Update.
package takedown

import (
	"net/netip"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// State is where a case stands.
type State string

// The states of a case.
const (
	Fetching  State = "fetching"   // queued to be fetched
	Assessing State = "assessment" // fetched, waiting for an analyst
	Noticed   State = "noticed"    // notices sent; rechecked until removal is verified
	Removed   State = "removed"    // every illegal resource verified gone
	Closed    State = "closed"     // nothing illegal, or nothing was there to fetch
)

// States lists every state, in the order of the flow.
var States = []State{Fetching, Assessing, Noticed, Removed, Closed}

// ParseState returns the state named s; "" is every state (the zero State).
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	if s == "" {
		return "", nil
	}
	return "", core.Errorf(core.ErrInvalid, "state must be fetching, assessment, noticed, removed or closed, not %q", s)
}

// Classification is an analyst's assessment of one resource.
type Classification string

// The classifications (INHOPE's): baseline is illegal everywhere (the
// INTERPOL baseline criteria), national illegal in the assessing
// hotline's country, not_illegal neither. The zero Classification is "not
// assessed yet".
const (
	Baseline   Classification = "baseline"
	National   Classification = "national"
	NotIllegal Classification = "not_illegal"
)

// ParseClassification returns the classification named s.
func ParseClassification(s string) (Classification, error) {
	switch c := Classification(s); c {
	case Baseline, National, NotIllegal:
		return c, nil
	}
	return "", core.Errorf(core.ErrInvalid, "classification must be baseline, national or not_illegal, not %q", s)
}

// Illegal reports whether c calls for a notice.
func (c Classification) Illegal() bool { return c == Baseline || c == National }

// Case is one reported URL and what was found there.
type Case struct {
	ID    string
	URL   string
	State State
	// Source is the hotline that submitted the case; 0 for a public report.
	Source int64
	// Queue is the hotline whose analysts assess the case; 0 for the
	// centre's own.
	Queue      int64
	ReceivedAt time.Time
	FetchedAt  time.Time // zero until fetched
	AssessedAt time.Time // zero until assessed
	RemovedAt  time.Time // zero until every illegal item is verified gone
	// Escalated is set once notices went unanswered past the escalation
	// period: the case is flagged for a removal order (CSAR Art 14).
	Escalated bool
	// FetchError says why the URL itself could not be fetched; "" if it was.
	FetchError string
	// Reason says why a closed case was closed.
	Reason  string
	Hosting Hosting
	// AssessedBy is who assessed the case, as in the audit trail, for
	// organisation AssessedOrg; "" and 0 until assessed.
	AssessedBy  string
	AssessedOrg int64
	// Referral is the report (package report) that took the case to the
	// competent authority, made at ReferredAt; "" until made.
	Referral   string
	ReferredAt time.Time
	// Description and Contact are what the reporter wrote and the e-mail
	// address they left, opened by Service.Case only (personal data,
	// sealed in the store); "" in lists.
	Description string
	Contact     string
	// Items, Notices and Events are filled by Service.Case, not in lists.
	Items   []Item
	Notices []Notice
	Events  []Event
}

// EventKind is a step of a case's history.
type EventKind string

// The kinds of event.
const (
	EventReported   EventKind = "reported"    // by the public or a hotline
	EventFetched    EventKind = "fetched"     // fetched and matched; Detail says how much
	EventRouted     EventKind = "routed"      // into the queue of Org (0: the centre's)
	EventHandedOver EventKind = "handed_over" // to the queue of Org
	EventAssessed   EventKind = "assessed"    // by Actor of Org; Detail counts the classifications
	EventClosed     EventKind = "closed"      // Detail says why
	EventNoticed    EventKind = "noticed"     // a notice was sent; Detail names it
	EventAnswered   EventKind = "answered"    // the host said it removed the content
	EventReferred   EventKind = "referred"    // reported to law enforcement; Detail is the report's ID
	EventIndicators EventKind = "indicators"  // the baseline items' hashes were submitted as indicators
	EventItemGone   EventKind = "item_gone"   // a recheck found item Detail gone
	EventRemoved    EventKind = "removed"     // every illegal item was verified gone
	EventEscalated  EventKind = "escalated"   // flagged for a removal order
)

// Event is a step of a case's history, kept when the case changes hands.
type Event struct {
	At     time.Time
	Kind   EventKind
	Actor  string // as in the audit trail: "user:ID", "key:ID", "system", "anonymous"
	Org    int64  // the organisation acting or concerned; 0 for none
	Detail string // never personal data
}

// TimeToRemoval is how long removal took from the report, 0 until removed.
func (c Case) TimeToRemoval() time.Duration {
	if c.RemovedAt.IsZero() {
		return 0
	}
	return c.RemovedAt.Sub(c.ReceivedAt)
}

// Hosting is where a case's URL is hosted.
type Hosting struct {
	Addresses []netip.Addr // the addresses the URL's name resolved to
	Country   string       // ISO 3166-1 alpha-2; "" if unknown
	Host      int64        // the registered host (an organisation of kind host); 0 if none matched
	HostName  string
}

// Item is one resource of a case: index 0 the reported URL itself, then
// what its page embeds, in page order.
type Item struct {
	Index       int
	URL         string
	ContentType string
	Size        int64
	SHA256, MD5 string // hex; "" if not fetched
	PDQ         string // hex; "" if not an image or too small to hash
	Quality     int
	Matches     []Match
	// Classification is the analyst's; "" until assessed. Items that
	// matched known material are pre-filled with Baseline in the console.
	Classification Classification
	// Error says why the resource could not be fetched or hashed.
	Error string
	// HasContent reports whether the sealed content is still kept: only
	// until assessment, and never for an item that matched known material.
	HasContent bool
	// Hosting is where the item itself is hosted (embedded media are
	// often elsewhere than the page): its host receives its notice.
	Hosting Hosting
	// LastCheckAt, NextCheckAt and RemovedAt track the rechecks of an
	// illegal item after its notice: RemovedAt is set when a recheck
	// found it gone.
	LastCheckAt, NextCheckAt, RemovedAt time.Time
}

// Match is an active indicator that an item matched.
type Match struct {
	Indicator int64
	List      string
	Signal    indicator.Signal
	Category  indicator.Category
	Distance  int
}

// Channel is how a notice reaches a host.
type Channel string

// The channels of a notice.
const (
	ByWebhook Channel = "webhook" // a signed POST to the host's webhook
	ByEmail   Channel = "email"   // an e-mail to the host's notice address
	ByHotline Channel = "hotline" // through the hotline of the host's country
	ByEuropol Channel = "europol" // through Europol, when no hotline covers the country
)

// Notice is a notice to a host about a case's illegal items, sent again
// until they are verified gone.
type Notice struct {
	ID             string
	Case           string
	Host           int64 // 0 when the host is not registered
	Channel        Channel
	Via            int64 // the hotline or Europol the notice goes through; 0 if direct
	URLs           []string
	Classification Classification
	CreatedAt      time.Time
	SentAt         time.Time // last sent; zero until first sent
	Sends          int       // how many times sent
	NextSendAt     time.Time // when it is sent again; zero once the case is removed
	// AnsweredAt is when the host said it removed the content (only the
	// recheck verifies it).
	AnsweredAt time.Time
	LastError  string
}

// Host is an entry of the register of hosting providers' points of
// contact (CSAR Art 23): an organisation of kind host and what it hosts.
type Host struct {
	Org     int64
	Name    string
	Country string
	// Domains are lower-case names: a URL is the host's if its name is
	// one of them or under one.
	Domains []string
	// IPRanges are the host's address blocks.
	IPRanges    []netip.Prefix
	NoticeEmail string // "" if none
	HasWebhook  bool
}
