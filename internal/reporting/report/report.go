// Package report holds the reports that online service providers send to
// the centre about potential child sexual abuse found on their services:
// what a report contains, its validation, its life from draft to finished
// (or retracted), and how it is kept: sealed, because it is full of
// personal data.
//
// # Contents
//
// The fields follow the report template of Annex III of the proposed EU
// Regulation laying down rules to prevent and combat child sexual abuse
// (COM(2022) 209, "CSAR"), section and point numbers cited as "Annex III
// 2(5)"; where the template leaves a field as free text, the structure and
// names come from NCMEC's CyberTipline reporting API, whose flow (submit a
// draft, upload files, finish, or retract before finishing) Ward follows.
//
// A Draft is what a provider submits. Decode reads one from JSON strictly
// and Validate checks it, both reporting every field error at once as a
// *ValidationError, whose fields are named by JSON pointers (RFC 6901) and
// which wraps core.ErrInvalid.
//
// # Storage
//
// Storage is behind Store, which package store implements for SQLite and
// PostgreSQL. A report's content (its Draft) and its files are sealed with
// package seal before they reach the store: the store holds in clear only
// what the queues need (provider, state, type, urgency, times, file sizes
// and hashes), so that a copy of the database reveals nobody's e-mail
// address, IP address or pictures.
package report

import (
	"time"

	"github.com/wardhq/ward/internal/indicator"
)

// Type is the type of potential online child sexual abuse a report is
// about (Annex III 2(2)).
type Type string

// The types.
const (
	TypeKnown        Type = "known"        // known material: matches an indicator (CSAR Art 2(m))
	TypeNew          Type = "new"          // new material, not (yet) matched by an indicator (Art 2(n))
	TypeSolicitation Type = "solicitation" // solicitation of children, grooming (Art 2(o))
)

// State is where a report is in its life. Providers move a report from
// StateDraft to StateFinished or StateRetracted; the centre's handling
// (package triage: triage and assessment; package forward: delivery to
// law enforcement) moves it on from StateFinished.
type State string

// The states.
const (
	// StateDraft: created, files may still be uploaded; the centre does
	// not handle it yet.
	StateDraft State = "draft"
	// StateRetracted: withdrawn by the provider before it was finished;
	// kept, never handled.
	StateRetracted State = "retracted"
	// StateFinished: submitted by the provider, immutable, waiting for
	// triage.
	StateFinished State = "finished"
	// StateQueued: triaged, waiting for an analyst's assessment, in the
	// order of its priority.
	StateQueued State = "queued"
	// StateBundled: triaged into the case of an earlier report of the same
	// provider with the same content; the assessment of that case decides
	// it too.
	StateBundled State = "bundled"
	// StateInfoRequested: the centre asked the provider for more
	// information; the provider's answer queues it again.
	StateInfoRequested State = "info_requested"
	// StateUnfounded: assessed as manifestly unfounded; the reasons went
	// back to the provider, which may reinstate the content.
	StateUnfounded State = "unfounded"
	// StateForwarded: assessed and forwarded to the competent
	// law-enforcement authority and Europol.
	StateForwarded State = "forwarded"
)

// Handled reports whether s is a state of the centre's handling, after
// the provider finished the report.
func (s State) Handled() bool {
	switch s {
	case StateDraft, StateRetracted:
		return false
	}
	return true
}

// EventKind is a step of a report's life after its creation.
type EventKind string

// The event kinds.
const (
	EventReceived      EventKind = "received"       // the provider finished it
	EventRetracted     EventKind = "retracted"      // the provider retracted the draft
	EventQueued        EventKind = "queued"         // triaged into the assessment queue
	EventBundled       EventKind = "bundled"        // triaged into the case of an earlier report
	EventInfoRequested EventKind = "info_requested" // the centre asked the provider for more (Detail: what)
	EventInfoProvided  EventKind = "info_provided"  // the provider answered (Detail: the answer)
	EventUnfounded     EventKind = "unfounded"      // assessed as manifestly unfounded (Detail: the reasons)
	EventForwarded     EventKind = "forwarded"      // decided to forward; routing follows
	EventRouted        EventKind = "routed"         // a delivery to authority Org was created
	EventAcknowledged  EventKind = "acknowledged"   // authority Org acknowledged receipt
	EventFeedback      EventKind = "feedback"       // authority Org gave feedback (Detail: the outcome)
	EventNonDisclosure EventKind = "non_disclosure" // an authority asked that the user not be told until Record.NonDisclosureUntil
	EventPurged        EventKind = "purged"         // content deleted at the end of the retention period
	// EventCorrected: an upheld complaint found the report wrong, and
	// authority Org was told (Detail: the complaint and the reviewer's
	// reasons; package forward's Correct).
	EventCorrected EventKind = "corrected"
)

// Event is a step of a report's life, as its history keeps it.
type Event struct {
	ID       int64
	ReportID string
	At       time.Time
	Kind     EventKind
	// Actor is who took the step, named as in the audit trail ("user:7",
	// "key:ab12", audit.System).
	Actor string
	// Org is the authority the step concerns (routed, acknowledged,
	// feedback), or 0.
	Org int64
	// Detail is the reasons, message or outcome that go with the step,
	// sealed with associated data EventAAD(ReportID) in the store; nil if
	// none.
	Detail []byte
}

// ItemKind is how an item's content reaches the centre.
type ItemKind string

// The item kinds.
const (
	// ItemFile: the provider uploads the file after creating the draft;
	// the centre hashes it on receipt.
	ItemFile ItemKind = "file"
	// ItemHash: the provider sends only hashes of the content.
	ItemHash ItemKind = "hash"
)

// Annotation is a fact about an item the provider states, from NCMEC's
// fileAnnotations (Annex III 2(4) "other available data").
type Annotation string

// The annotations.
const (
	Viral             Annotation = "viral"              // widely shared, often out of outrage or humour (NCMEC viral)
	PotentialMeme     Annotation = "potential_meme"     // shared as a meme (NCMEC potentialMeme)
	SelfGenerated     Annotation = "self_generated"     // appears to be made by the child (NCMEC possibleSelfProduction)
	GenerativeAI      Annotation = "generative_ai"      // appears to be made or altered by generative AI (NCMEC generativeAi)
	PossibleDuplicate Annotation = "possible_duplicate" // probably reported before by this provider
	AnimeDrawing      Annotation = "anime_drawing"      // drawn, animated or virtual (NCMEC animeDrawingVirtualHentai)
	PhysicalHarm      Annotation = "physical_harm"      // (NCMEC physicalHarm)
	ViolenceGore      Annotation = "violence_gore"      // (NCMEC violenceGore)
	Bestiality        Annotation = "bestiality"         // (NCMEC bestiality)
	LiveStreaming     Annotation = "live_streaming"     // captured from a live stream (NCMEC liveStreaming)
	Infant            Annotation = "infant"             // shows an infant or toddler (NCMEC infant)
)

// Annotations lists every annotation.
var Annotations = []Annotation{Viral, PotentialMeme, SelfGenerated, GenerativeAI, PossibleDuplicate,
	AnimeDrawing, PhysicalHarm, ViolenceGore, Bestiality, LiveStreaming, Infant}

// CaptureEvent is what the user did when an IP address was captured (NCMEC
// ipCaptureEvent eventName).
type CaptureEvent string

// The capture events.
const (
	CaptureUpload       CaptureEvent = "upload" // uploading the content: the one Annex III 2(5) asks for
	CaptureLogin        CaptureEvent = "login"
	CaptureRegistration CaptureEvent = "registration"
	CapturePurchase     CaptureEvent = "purchase"
	CaptureOther        CaptureEvent = "other"
	CaptureUnknown      CaptureEvent = "unknown"
)

// ServiceType is the kind of service the provider offers (Annex III 2(7)).
type ServiceType string

// The service types.
const (
	Hosting       ServiceType = "hosting"                     // hosting service (DSA Art 3(g)(iii), CSAR Art 2(a))
	Interpersonal ServiceType = "interpersonal_communication" // messaging, e-mail, calls (CSAR Art 2(b))
	OtherService  ServiceType = "other"                       // anything else: describe in OnlineService.Info
)

// AwarenessMethod is how the provider became aware of the abuse (Annex III
// 2(8)).
type AwarenessMethod string

// The awareness methods.
const (
	AutomatedMatch AwarenessMethod = "automated_match" // the provider's own automated detection, such as hash matching
	DetectionOrder AwarenessMethod = "detection_order" // measures taken under a detection order (CSAR Art 7)
	UserReport     AwarenessMethod = "user_report"     // flagged by a user
	Moderator      AwarenessMethod = "moderator"       // found by the provider's staff on its own motion
	Authority      AwarenessMethod = "authority"       // notified by a public authority
	HotlineReport  AwarenessMethod = "hotline"         // notified by a hotline or trusted flagger (DSA Art 22)
	OtherAwareness AwarenessMethod = "other"           // anything else: Awareness.Detail says what
)

// AccountAction is what the provider did to the reported user's account
// (Annex III 2(11)).
type AccountAction string

// The account actions.
const (
	NoAction    AccountAction = "none"
	Restricted  AccountAction = "restricted" // some functions disabled
	Suspended   AccountAction = "suspended"  // temporarily blocked
	Closed      AccountAction = "closed"     // terminated
	OtherAction AccountAction = "other"      // AccountDecision.Detail says what
)

// Draft is the content of a report, as a provider submits it: everything
// but who submitted it and where it is in its life. It is personal data
// throughout and is stored only sealed.
type Draft struct {
	// IncidentTime is when the reported abuse took place or was detected,
	// with the provider's time zone offset (Annex III 2(4), 3). Required.
	IncidentTime time.Time `json:"incident_time"`
	// Type is the type of abuse (Annex III 2(2)). Required.
	Type Type `json:"type"`
	// Items are the content items reported: at least one, unless Type is
	// TypeSolicitation, at most MaxItems (Annex III 2(3)).
	Items []Item `json:"items,omitempty"`
	// User is the user who shared the content or solicited the child
	// (Annex III 2(5), 2(6); NCMEC reportedPerson), if known.
	User User `json:"reported_user,omitzero"`
	// Service is the service the abuse took place on (Annex III 2(7)).
	Service OnlineService `json:"service"`
	// Awareness is how the provider became aware (Annex III 2(8)).
	Awareness Awareness `json:"awareness"`
	// Removal says whether the provider removed or disabled access to the
	// content (Annex III 2(10)).
	Removal Removal `json:"content_removed,omitzero"`
	// Account is what the provider did to the user's account, if stated
	// (Annex III 2(11)).
	Account AccountDecision `json:"account_action,omitzero"`
	// Urgency says whether the report needs urgent action (Annex III
	// 2(1); NCMEC escalateToHighPriority).
	Urgency Urgency `json:"urgency,omitzero"`
	// ThirdCountry lists reports of the same abuse the provider made, or
	// will make, to authorities of third countries, such as NCMEC (Annex
	// III 2(9)); at most MaxThirdCountry.
	ThirdCountry []ThirdCountryReport `json:"third_country_reports,omitempty"`
	// Victims is what the provider knows of the children who appear to be
	// victims (Annex III 2(12); NCMEC victim); at most MaxVictims.
	Victims []Victim `json:"victims,omitempty"`
	// AdditionalInfo is anything else relevant (Annex III 2(13); NCMEC
	// additionalInfo), at most MaxText bytes.
	AdditionalInfo string `json:"additional_info,omitempty"`
}

// Item is one content item: an image, a video or another file, uploaded
// or described by its hashes (Annex III 2(3), 2(4); NCMEC fileDetails).
type Item struct {
	// Kind says whether the file is uploaded or only hashes are sent.
	Kind ItemKind `json:"kind"`
	// Hashes are the provider's hashes of the content: at least one for
	// ItemHash; optional for ItemFile, whose hashes the centre computes on
	// receipt.
	Hashes Hashes `json:"hashes,omitzero"`
	// FileName is the file's name on the provider's service (NCMEC
	// originalFileName).
	FileName string `json:"original_file_name,omitempty"`
	// URL is where the content was on the service (NCMEC locationOfFile),
	// http or https.
	URL string `json:"url,omitempty"`
	// UploadTime is when the content was uploaded to the service (Annex
	// III 2(4) metadata).
	UploadTime time.Time `json:"upload_time,omitzero"`
	// Viewed says whether a person at the provider viewed the content
	// (NCMEC fileViewedByEsp): if not, the centre's assessment is the
	// first human look at it.
	Viewed bool `json:"viewed_by_provider"`
	// Public says whether the content was publicly available (NCMEC
	// publiclyAvailable).
	Public bool `json:"publicly_available"`
	// Annotations are facts the provider states about the content; a set,
	// no annotation twice.
	Annotations []Annotation `json:"annotations,omitempty"`
	// Category is the industry classification of the content if the
	// provider gives one: A1, A2, B1 or B2 (NCMEC industryClassification).
	Category indicator.Category `json:"industry_category,omitempty"`
}

// Hashes of a content item, lower-case hex.
type Hashes struct {
	PDQ    string `json:"pdq,omitempty"`    // 64 hex digits, not all zero
	MD5    string `json:"md5,omitempty"`    // 32 hex digits
	SHA256 string `json:"sha256,omitempty"` // 64 hex digits
}

// User is the reported user: the account that shared the content or
// solicited the child (Annex III 2(6); NCMEC reportedPerson).
type User struct {
	// ID is the provider's unique identifier of the account (NCMEC
	// espIdentifier).
	ID string `json:"id,omitempty"`
	// ScreenName is the account's user name (Annex III 2(6) "username";
	// NCMEC screenName).
	ScreenName string `json:"screen_name,omitempty"`
	// DisplayName is the name the account shows (NCMEC displayName).
	DisplayName string `json:"display_name,omitempty"`
	// Emails are the account's e-mail addresses, at most MaxContacts.
	Emails []string `json:"emails,omitempty"`
	// Phones are the account's phone numbers, preferably E.164 ("+3212345678"),
	// at most MaxContacts.
	Phones []string `json:"phones,omitempty"`
	// Country is the user's stated country, ISO 3166-1 alpha-2: one of
	// the facts that decide which authority is competent.
	Country string `json:"country,omitempty"`
	// IPCaptures are IP addresses the account used (Annex III 2(5); NCMEC
	// ipCaptureEvent), at most MaxIPCaptures.
	IPCaptures []IPCapture `json:"ip_captures,omitempty"`
	// AdditionalInfo is other information on the user: mailing address,
	// profile, billing, last login (Annex III 2(6) "other information").
	AdditionalInfo string `json:"additional_info,omitempty"`
}

// IPCapture is an IP address a user used, and when (Annex III 2(5): "IP
// address of upload, with associated date and time zone, and port
// number"; NCMEC ipCaptureEvent).
type IPCapture struct {
	// IP is an IPv4 or IPv6 address, without zone. Required.
	IP string `json:"ip"`
	// Port is the source port, which tells apart the users of a shared
	// (carrier-grade NAT) address; 0 if not known.
	Port int `json:"port,omitempty"`
	// Time is when the address was seen, with its UTC offset.
	Time time.Time `json:"time,omitzero"`
	// TimeZone is the IANA name of the time zone of Time ("Europe/Paris"),
	// or of the user, if known.
	TimeZone string `json:"time_zone,omitempty"`
	// Event is what the user did. Required.
	Event CaptureEvent `json:"event"`
}

// OnlineService is the service the abuse took place on (Annex III 2(7)).
type OnlineService struct {
	// Type is the kind of service. Required.
	Type ServiceType `json:"type"`
	// URL is the service's web address, http or https.
	URL string `json:"url,omitempty"`
	// Info is more about the service, at most MaxText bytes.
	Info string `json:"info,omitempty"`
}

// Awareness is how the provider became aware (Annex III 2(8)).
type Awareness struct {
	Method AwarenessMethod `json:"method"` // required
	// Detail specifies the manner; required if Method is OtherAwareness.
	Detail string `json:"detail,omitempty"`
}

// Removal says whether the provider removed or disabled access to the
// content (Annex III 2(10)).
type Removal struct {
	Removed bool      `json:"removed"`
	Time    time.Time `json:"time,omitzero"` // when; only if Removed
}

// AccountDecision is what the provider did to the user's account (Annex
// III 2(11)). The zero value means the report does not say.
type AccountDecision struct {
	Action AccountAction `json:"action,omitempty"`
	// Detail specifies the decision; required if Action is OtherAction.
	Detail string `json:"detail,omitempty"`
}

// Urgency says whether the report needs urgent action, notably because of
// an imminent threat to the life or safety of a child (Annex III 2(1)).
type Urgency struct {
	Urgent bool `json:"urgent"`
	// Reason says why; required if Urgent, empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// ThirdCountryReport is a report of the same abuse to an authority or
// other competent entity of a country outside the EU (Annex III 2(9)).
type ThirdCountryReport struct {
	Country   string `json:"country"`             // ISO 3166-1 alpha-2; required
	Authority string `json:"authority"`           // the authority's name, such as "NCMEC"; required
	Reference string `json:"reference,omitempty"` // the case number it gave
}

// Victim is what the provider knows of a child who appears to be a victim
// (Annex III 2(12); NCMEC victim).
type Victim struct {
	// Age is the child's estimated age range, if known.
	Age *AgeRange `json:"age_range,omitempty"`
	// Identified says whether the provider knows who the child is (an
	// account of theirs, for example), with the details in Info.
	Identified bool `json:"identified"`
	// Info is anything else known: username, e-mail, phone, profile
	// (Annex III 2(12)), at most MaxText bytes.
	Info string `json:"info,omitempty"`
}

// AgeRange is an estimated age in whole years, Min <= Max <= MaxAge.
type AgeRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Report is a report as the centre keeps it: its content and where it is
// in its life.
type Report struct {
	// ID identifies the report for good, also to the authorities it is
	// forwarded to, so that they can tell a redelivery from a new report.
	ID string `json:"id"`
	// Provider is the ID of the organisation that submitted the report
	// (Annex III 1).
	Provider int64 `json:"provider"`
	State    State `json:"state"`
	// IdempotencyKey is the key the provider created the report with: a
	// retry with the same key returns this report.
	IdempotencyKey string    `json:"idempotency_key"`
	CreatedAt      time.Time `json:"created_at"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
	RetractedAt    time.Time `json:"retracted_at,omitzero"`
	// NonDisclosureUntil: see Record.
	NonDisclosureUntil time.Time `json:"non_disclosure_until,omitzero"`
	Draft              Draft     `json:"report"`
	// Files are the files uploaded so far, without their content.
	Files []File `json:"files,omitempty"`
}
