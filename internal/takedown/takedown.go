// Package takedown is the centre's hotline channel (CSAR Art 25; INHOPE's
// ICCAM, the Canadian Centre's Project Arachnid): a URL reported by the
// public or by a partner hotline is fetched with what it embeds, every
// resource hashed and matched, the host and hosting country located, the
// case routed to the hotline of that country (else the centre's
// analysts), assessed, and each illegal resource noticed to its host
// until a recheck verifies that it is gone; the time to removal is
// recorded for the figures.
//
// # Flow
//
//  1. Report validates the URL (absolute http or https, at most MaxURL
//     bytes, no user name or password; its fragment dropped), the
//     description (MaxDescription bytes of text) and the optional contact
//     address, seals description and contact (DescriptionAAD,
//     ContactAAD), and creates the case with its JobFetch in one
//     transaction. The reporter's address is never given to this package.
//  2. Fetch (JobFetch) fetches the URL and its embedded media through the
//     Fetcher (package crawl), hashes each resource (PDQ, MD5, SHA-256)
//     within the decode budget and matches it against the active
//     indicators. The content of a resource is kept, sealed (ContentAAD),
//     only if it is an image or a video that matched no known material (see
//     the section Content). Each resource is located (Options.Locate) and the
//     case routed: to the hotline registered for the hosting country (a
//     submitting hotline of that country keeps it), else to the centre's
//     queue. A URL gone, or one from which nothing could be fetched,
//     closes the case; one that could not be fetched for a reason that
//     may pass (a timeout, a refused or reset connection, a 5xx, 408, 425
//     or 429) is fetched again, by the job's retries with backoff, and
//     the case closed at the Options.FetchAttempts-th failure (6), with
//     its error as the reason. Each failed attempt is counted on the case
//     (Case.FetchAttempts, Case.FetchError).
//  3. Assess records the analyst's classifications (baseline, national,
//     not illegal) of the fetched items it lists, at least one: an item
//     not listed that matched known material is classified from the
//     categories of its matches (DefaultClassification: baseline for
//     baseline, A1 or A2, else national for national), as the console
//     pre-fills it (the event says how many), and any other stays
//     unclassified, without notice. It deletes the content of the
//     items not illegal, and for the illegal ones creates the notices
//     (one per host, channel and classification: the host's webhook, else
//     its notice address, else the hotline of its country, else Europol)
//     with a JobNotice each, and a JobRefer, all in one transaction.
//  4. Refer (JobRefer) submits the hashes of the baseline items the
//     analyst listed as indicators if asked, reports the case to the competent authority through package
//     forward (a report made by the centre, triaged and decided to be
//     forwarded), and then deletes the remaining content.
//  5. SendNotice (JobNotice) signs and sends a notice, or, for a hotline
//     or Europol without a webhook, delivers it by their pull (see the
//     section Notices); RecheckDue
//     (periodic JobRecheck) queues the notices due again every
//     Options.Renotice, flags the cases noticed longer than
//     Options.EscalateAfter for a removal order, deletes the content past
//     its retention and rechecks the noticed items. A host's Answer
//     schedules an immediate recheck: only the recheck verifies removal.
//
// Every view of a case and every access to content is audited, as is
// every change (in the change's transaction).
//
// # Content
//
// Content is kept only for the analyst who assesses the case, and for the
// report to the police: known material is never stored (its hashes say
// what it is; a match of the unverified list victim-reported is not known
// material, no one having assessed it), and of the rest only images and videos (a content type
// image/* or video/*, or an image format package media recognises), up to
// Options.MaxKeptBytes per case (default 64 MiB): an item past it keeps
// its hashes, with "content not kept: over the case's limit" in its
// Error. A page, a text or any other content keeps its hashes only: the
// analyst assesses a page from its media and its URL. Content is deleted
// at the assessment (the illegal items' once the JobRefer has reported
// them), and in any case, whatever the state, at the latest
// Options.ContentRetention (default 30 days) after the fetch: the sweep
// (RecheckDue) deletes it, recording EventContentDeleted, and the case
// keeps its hashes and matches (Item.HasContent false). So the content of
// a case never assessed, or whose JobRefer died, stays until that
// retention deletes it.
//
// # States
//
//	fetching ──► assessment ──► noticed ──► removed
//	     │            │
//	     └────────────┴──► closed (nothing was there, or nothing illegal)
//
// A case is handed over between hotlines (HandOver) before it is
// assessed; its history (Event) stays with it.
//
// # Notices
//
// A notice is the JSON object NoticeMessage, for example
//
//	{"notice":"N6Q...","case":"C2K...","urls":["https://files.example/a.jpg"],
//	 "classification":"baseline","host":"Files Ltd","channel":"webhook","to":"Files Ltd",
//	 "reported_at":"2026-03-02T10:00:00Z","sent_at":"2026-03-02T10:05:00Z",
//	 "send":1,"removal_url":"https://ward.example/v1/notices/N6Q.../removed"}
//
// signed with the centre's Ed25519 key over NoticeContext followed by the
// exact body, as package forward signs report packages, and POSTed with
// the headers
//
//	Ward-Signature: ed25519=<standard base64 of the 64-byte signature>
//	Ward-Notice-Id: <notice>
//	Ward-Notice-Send: <send>
//
// to the webhook (a client that refuses addresses that are not public
// unless Options.AllowPrivateWebhooks, following no redirect; any answer
// but 2xx is a failure, retried). By e-mail, the text states the facts and
// carries the body and its signature, which are also in the mail headers.
// The same notice is sent again, with the same "notice" and a higher
// "send", until the case is removed; receivers de-duplicate by "notice".
// "to" names the organisation the notice is sent to: the host, or for
// channels "hotline" and "europol" the hotline or Europol that passes it
// on. It is signed with the rest, so that a notice cannot be replayed to
// another party as if meant for it: a receiver refuses a notice whose
// "to" is not its own name.
//
// A hotline or Europol without a webhook gets its notices by pull. A
// hotline finds the notice in the case, which it sees through the notice
// (its lists, GET /v1/hotline/cases/{id}, the console), to pass it on to
// the host: as relay only, without the reporter's description and
// contact, the other notices or the content (Service.Case), and the case
// stays in its queue. The notice is delivered at once, and marked sent
// again (Sends) at each round of re-notices. Europol receives the notice
// with the case's report to the police (Refer), as it receives every
// forwarded report: the notice is delivered, once, when the referral is
// made, and waits until then; it is not sent again. A notice with neither a hotline of the hosting
// country nor a Europol organisation to go through waits, its LastError
// saying which to register, and is tried again every Options.Renotice.
//
// # Receipts
//
// A receipt is the standard base64 of the Ed25519 signature, by the
// centre's key, of
//
//	"ward takedown receipt v1\n" ID "\n" RECEIVED "\n" SHA256(URL)
//
// where ID is the case's ID, RECEIVED the time of the report in RFC 3339
// UTC with microseconds (2026-03-02T10:00:00.000000Z) and SHA256(URL) the
// lower-case hex SHA-256 of the URL as the case records it (CheckURL).
// The answer to a report gives all three, with the receipt: in the API,
// "id", "received_at" and "url" (POST /v1/public/url-reports and
// /v1/hotline/url-reports), on the public page the case's number, the
// time received and the address. To check a receipt, verify it with
// ed25519 over that message (no newline at its end), under the centre's
// public key, which every API key reads at GET /v1/lea/signing-key (the
// centre gives it to whoever is to check its receipts); VerifyReceipt
// does it in Go. It proves that the centre received the report of that
// URL at that time, without holding anything of the reporter.
//
// # Rechecks
//
// Open notices are rows, not jobs: an illegal item's next recheck is a
// time on its row (takedown_items.next_check_at, in a partial index of
// the items not removed), and one periodic sweep (RecheckDue, every
// SweepEvery) finds the due ones a batch at a time, fetches them with
// bounded concurrency and records each batch in one transaction. With
// 100,000 open notices the job queue still holds one sweep job, so other
// work is not slowed (BenchmarkRecheckDue). The sweep queues re-notices
// and escalations before it rechecks, and rechecks for at most
// Options.RecheckBudget, leaving the rest due for the next sweep: hosts
// slow to answer delay neither the notices nor each other for long.
//
// An item is gone when a recheck finds it not there (404, 410, 451, the name
// not resolving) or, for an image (an item with a PDQ hash), other
// content: another SHA-256, a PDQ hash farther than Options.Threshold
// from the assessed one (or none), and no match with an active
// indicator. Other bytes of an item without a PDQ hash (a page, a text,
// a video) show nothing, since pages change at every request. One such finding is not
// enough (a CDN's brief 404, a resolver filtering the name): the item is
// checked again Options.ConfirmAfter later (10 minutes) and verified gone
// only if that check finds it gone too; it is then removed at the first
// finding, so that the time to removal is not lengthened by the
// confirmation. A confirming check that finds it there starts again.
//
// An item inline in its page (a data: URI, which its URL describes:
// "data:image/png;base64 (inline, 1234 bytes, #3)") is part of the page:
// hosted where the page is, noticed and reported to the police by the
// page's URL, and rechecked by fetching the page again. It is gone when
// the page is, or when the page no longer embeds an inline resource with
// its SHA-256 or, for an image, a PDQ hash within Options.Threshold of
// its.
//
// # Rules here, rows in the store
//
// As in package triage, the rules (which state a step may be taken from,
// what it records and queues) are this package's; the store runs the SQL
// of Store, in the transactions of Store.Update ((*store.DB).Takedown).
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

// DefaultClassification is the classification of a fetched item that an
// assessment does not list, from the categories of the known material it
// matched: Baseline if one is INTERPOL's baseline or its counterpart in
// the industry classification (A1, A2: prepubescent children), else
// National if one is national, else "" (unclassified: B1 and B2,
// pubescent children, are illegal as the hotline's law says, which its
// analyst decides).
func DefaultClassification(ms []Match) Classification {
	out := Classification("")
	for _, m := range ms {
		switch m.Category {
		case indicator.Baseline, indicator.A1, indicator.A2:
			return Baseline
		case indicator.National:
			out = National
		}
	}
	return out
}

// Case is one reported URL and what was found there.
type Case struct {
	ID    string
	URL   string
	State State
	// Source is the hotline that submitted the case; 0 for a public report
	// or one the centre's search found.
	Source int64
	// Place is the place of the centre's search (package takedown/search)
	// whose run found the case; 0 for a reported one.
	Place int64
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
	// FetchError says why the URL itself could not be fetched; "" if it
	// was. While the case is fetching, it is the error of the last
	// attempt, to be tried again.
	FetchError string
	// FetchAttempts counts the fetches of the URL that failed for a
	// reason that may pass (a timeout, a refused connection, a 5xx):
	// each is tried again, up to Options.FetchAttempts.
	FetchAttempts int
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
	// sealed in the store); "" in lists and for a Relay view.
	Description string
	Contact     string
	// Relay is set by Service.Case for a viewer that sees the case only
	// as relay of its notices (a hotline passing them on to the host):
	// without Description and Contact, with only the notices that go
	// through the viewer, and no item's content (HasContent false).
	Relay bool
	// ItemCount and Matched count the items and those that matched known
	// material: filled in lists (Service.Cases), which lack the items.
	ItemCount, Matched int
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
	EventFound      EventKind = "found"       // by the centre's search; Detail names the place
	EventFetched    EventKind = "fetched"     // fetched and matched; Detail says how much
	EventRouted     EventKind = "routed"      // into the queue of Org (0: the centre's)
	EventHandedOver EventKind = "handed_over" // to the queue of Org
	EventAssessed   EventKind = "assessed"    // by Actor of Org; Detail counts the classifications
	EventClosed     EventKind = "closed"      // Detail says why
	EventNoticed    EventKind = "noticed"     // a notice was sent; Detail names it
	EventAnswered   EventKind = "answered"    // the host said it removed the content
	EventReferred   EventKind = "referred"    // reported to law enforcement; Detail is the report's ID
	EventIndicators EventKind = "indicators"  // the baseline items' hashes were submitted as indicators
	EventItemGone   EventKind = "item_gone"   // rechecks verified item Detail gone
	EventRemoved    EventKind = "removed"     // every illegal item was verified gone
	EventEscalated  EventKind = "escalated"   // flagged for a removal order
	// EventContentDeleted: the retention deleted the content still kept.
	EventContentDeleted EventKind = "content_deleted"
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
	// Classification is the analyst's; "" until assessed. The console
	// pre-fills it with DefaultClassification of the item's matches, which
	// an assessment that does not list the item gives it (ByDefault).
	Classification Classification
	// ByDefault: the assessment did not list the item, classified from
	// its matches (DefaultClassification); its hashes are never submitted
	// as indicators, since no analyst saw it.
	ByDefault bool
	// Error says why the resource could not be fetched or hashed.
	Error string
	// HasContent reports whether the sealed content is still kept: only
	// of an image or video that matched no known material, within the
	// case's limit, until assessment (an illegal item's until its
	// referral) and Options.ContentRetention after the fetch at the
	// latest (see the package documentation).
	HasContent bool
	// Hosting is where the item itself is hosted (embedded media are
	// often elsewhere than the page): its host receives its notice.
	Hosting Hosting
	// LastCheckAt, NextCheckAt and RemovedAt track the rechecks of an
	// illegal item after its notice: GoneAt is set when a recheck found
	// it gone, until the next confirms it (RemovedAt is then GoneAt) or
	// finds it there (GoneAt is cleared).
	LastCheckAt, NextCheckAt, GoneAt, RemovedAt time.Time
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
	// ByHotline: through the hotline of the host's country, pushed to
	// its webhook, else in its queue for it to pass on (Service.SendNotice).
	ByHotline Channel = "hotline"
	// ByEuropol: through Europol, when no hotline covers the country,
	// pushed to its webhook, else with the case's report to the police.
	ByEuropol Channel = "europol"
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
	// NextSendAt is when it is sent again (or tried again, if it waits);
	// zero once the case is removed, and for a notice that went with the
	// case's report to Europol, which is not sent again.
	NextSendAt time.Time
	// AnsweredAt is when the host said it removed the content (only the
	// recheck verifies it).
	AnsweredAt time.Time
	// LastError is why the last send failed, or why the notice waits
	// (for the report to the police it travels with, for a hotline or
	// Europol to be registered); "" once sent.
	LastError string
	// Pulled, filled by Service.Case, reports that the notice goes
	// through a hotline without a webhook, which finds it in the case to
	// pass it on to the host (not pushed to it).
	Pulled bool
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
