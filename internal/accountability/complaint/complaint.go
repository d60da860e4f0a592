// Package complaint handles complaints about removed content (CSAR Art 34;
// the DSA's Art 20 for the providers' side): a person whose content a
// provider or host removed, on the strength of the centre's indicators or
// of a takedown notice, complains to the centre with the reference the
// provider gave them, and a reviewer of the centre decides.
//
// # Flow
//
//  1. File takes a complaint from the public (naming the provider, with
//     no key) or from a provider or host on the person's behalf (the
//     provider is the key's organisation): the reference, a description
//     (required, at most MaxDescription bytes of text) and an optional
//     contact e-mail address, which are sealed together (BodyAAD). The
//     reference is resolved, for that provider, to a report of it (by the
//     report's ID or its Idempotency-Key) and the indicators its items
//     matched, or to a takedown notice sent to it, or a case with such a
//     notice, and the indicators the noticed items matched. A reference
//     that resolves to nothing is accepted all the same: the complaint
//     says so (Complaint.Resolved), and the reviewer looks by hand. The
//     answer is the case's ID and its secret, shown once: only its
//     SHA-256 is stored. The complaint is due Options.Deadline after it
//     was received (DefaultDeadline, 14 days).
//  2. Status shows the complainant, who gives the case and the secret,
//     the state, the times and, once decided, the outcome and the
//     reasons: nothing else. A wrong secret is answered exactly as an
//     unknown case (core.ErrNotFound), after the same work, so that case
//     IDs cannot be probed.
//  3. The reviewers' Queue lists open complaints first, by due date
//     (Complaint.Overdue); Complaint shows one with what it concerns (the
//     report, the takedown case and notice, the indicators with their
//     list and state) and opens the description and contact, an access to
//     personal data that is audited.
//  4. Decide upholds or rejects an open complaint, with reasons (required,
//     at most MaxReasons bytes, sealed). In the same transaction it
//     queues JobNotify (the provider's webhook, if it has one, is told the
//     outcome; ProviderComplaint shows it too), and, if upheld: a
//     JobQuarantine for each indicator involved (Options.Quarantiner
//     takes it out of matching until reviewed) and the correction of the
//     report involved (the complaint's report, or the takedown case's
//     report to the police) with every authority it was delivered to
//     (forward.Correct: an event "corrected" with the reasons, back in the
//     authority's new reports, pushed to its webhook).
//
// Every change and every opening of personal data is audited, the change
// in its own transaction.
//
// # Notifications
//
// JobNotify POSTs to the provider's webhook the JSON object Notification,
// for example
//
//	{"complaint":"K7QX-2M4D-PZ6A-9RTB","state":"upheld","reinstate":true,
//	 "reference":"R-1234","report":"01J...","decided_at":"2026-03-02T10:00:00Z"}
//
// signed with the centre's Ed25519 key over NotificationContext followed
// by the exact body (as package forward signs), with the headers
//
//	Ward-Signature: ed25519=<standard base64 of the 64-byte signature>
//	Ward-Complaint-Id: <complaint>
//	Ward-Complaint-State: <state>
//
// by which the provider de-duplicates a repeated delivery. "reinstate"
// true tells it to put the content back. The reasons are not in the
// body: the provider reads them with its key (GET /v1/complaints/{case}).
//
// # Rules here, rows in the store
//
// As in package takedown, the rules (which state a step may be taken
// from, what it records and queues) are this package's; the store runs
// the SQL of Store, in the transactions of Store.Update
// ((*store.DB).Complaints).
package complaint

import (
	"time"

	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// State is where a complaint stands.
type State string

// The states of a complaint: open until a reviewer upholds or rejects it.
const (
	Open     State = "open"
	Upheld   State = "upheld"
	Rejected State = "rejected"
)

// States lists every state.
var States = []State{Open, Upheld, Rejected}

// ParseState returns the state named s; "" is every state (the zero State).
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case "", Open, Upheld, Rejected:
		return st, nil
	}
	return "", core.Errorf(core.ErrInvalid, "state must be open, upheld or rejected, not %q", s)
}

// ParseOutcome returns the outcome of a decision named s: Upheld or
// Rejected.
func ParseOutcome(s string) (State, error) {
	switch st := State(s); st {
	case Upheld, Rejected:
		return st, nil
	}
	return "", core.Errorf(core.ErrInvalid, "the outcome must be upheld or rejected, not %q", s)
}

// Filing is a complaint as the complainant, or the provider on their
// behalf, makes it.
type Filing struct {
	// Provider names the provider or host that removed the content, as
	// registered with the centre: required from the public; from a
	// provider's key, "" or its own name.
	Provider string
	// Reference is what the provider gave the person about the removal:
	// required, at most MaxReference bytes.
	Reference string
	// Description says what was removed and why it should not have
	// been: required, at most MaxDescription bytes. Sealed.
	Description string
	// Contact is an optional e-mail address to reach the complainant.
	// Sealed.
	Contact string
}

// Receipt answers a filing: the case's ID and its secret, which the
// complainant needs to see the outcome. The secret exists only here.
type Receipt struct {
	Case       string
	Secret     string
	ReceivedAt time.Time
	DueAt      time.Time
	// Resolved reports whether the reference resolved to a report or a
	// takedown notice of the provider.
	Resolved bool
}

// Complaint is a complaint as the reviewers see it.
type Complaint struct {
	ID           string
	Provider     int64 // the provider or host that removed the content
	ProviderName string
	// FiledBy is the organisation that filed it on the person's behalf;
	// 0 when the public filed.
	FiledBy    int64
	Reference  string
	State      State
	ReceivedAt time.Time
	DueAt      time.Time
	DecidedAt  time.Time // zero while open
	// Report, Case and Notice are what the reference resolved to when
	// filed: a report of the provider (package report), or a takedown
	// case and the notice sent to the provider (package takedown, Notice
	// "" when the reference named the case); all "" if it resolved to
	// nothing.
	Report string
	Case   string
	Notice string
	// Referral is the takedown case's report to the police, if made: the
	// report an upheld complaint corrects when Report is "".
	Referral string
	// DecidedBy is who decided ("user:ID"), for DecidedOrg; "" while open.
	DecidedBy  string
	DecidedOrg int64
	// Corrected counts the authorities the upheld complaint's correction
	// reached.
	Corrected int
	// Indicators are the indicators the complaint involves, with their
	// state now: filled by Service.Complaint, not in lists.
	Indicators []Indicator
	// Reasons are the reviewer's, and Description and Contact the
	// complainant's: opened by Service.Complaint only (personal data,
	// sealed in the store), "" in lists.
	Reasons     string
	Description string
	Contact     string
}

// Resolved reports whether the reference resolved to a report or a
// takedown case.
func (c Complaint) Resolved() bool { return c.Report != "" || c.Case != "" }

// Overdue reports whether c is still open past its due date at now.
func (c Complaint) Overdue(now time.Time) bool { return c.State == Open && now.After(c.DueAt) }

// Corrects returns the report an upheld c corrects with the authorities
// it was delivered to: its own, else its takedown case's report to the
// police; "" if neither.
func (c Complaint) Corrects() string {
	if c.Report != "" {
		return c.Report
	}
	return c.Referral
}

// Indicator is an indicator a complaint involves, as it stands now.
type Indicator struct {
	ID       int64
	List     string
	Signal   indicator.Signal
	Category indicator.Category
	// State is the indicator's state now: "pending", "active",
	// "withdrawn", or a state a later package adds (quarantine).
	State string
}

// Status is what the complainant sees: the state, the times and, once
// decided, the reasons.
type Status struct {
	Case       string
	State      State
	ReceivedAt time.Time
	DueAt      time.Time
	DecidedAt  time.Time // zero while open
	Reasons    string    // "" while open
}

// ProviderComplaint is what a provider sees of a complaint about its
// removals: never the complainant's description nor contact.
type ProviderComplaint struct {
	ID         string
	Reference  string
	State      State
	ReceivedAt time.Time
	DueAt      time.Time
	DecidedAt  time.Time // zero while open
	Reasons    string    // the reviewer's; "" while open and in lists
	// Reinstate is set once upheld: the provider is to reinstate the
	// content.
	Reinstate bool
	// Filed reports whether the provider itself filed it on the person's
	// behalf (else the public did).
	Filed bool
	// Report is the provider's report the reference resolved to; "" if
	// none.
	Report string
}

// Decision is a reviewer's decision on a complaint.
type Decision struct {
	Outcome State // Upheld or Rejected
	Reasons string
}

// Reviewer is who reads and decides complaints: a person of the centre
// (policy role reviewer), with the policy scope the caller granted.
type Reviewer struct {
	Actor   string // as in the audit trail: "user:ID"
	Org     int64
	OrgName string
	// Scope must be policy.AllData: reviewers see every complaint.
	Scope policy.DataScope
}

// Query selects a page of complaints.
type Query struct {
	State State  // "" for every state
	After string // the ID of the last complaint of the previous page
	Limit int    // 1 to MaxLimit; 0 is DefaultLimit
}

// Notification is the body of a provider's webhook call (see the package
// documentation).
type Notification struct {
	Complaint string    `json:"complaint"`
	State     State     `json:"state"`
	Reinstate bool      `json:"reinstate"`
	Reference string    `json:"reference"`
	Report    string    `json:"report,omitempty"`
	Notice    string    `json:"notice,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
}
