package client

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ComplaintRequest is a complaint about removed content: the body of POST
// /v1/public/complaints (Provider required) and of POST /v1/complaints,
// where the provider is the key's organisation (Provider "" or its own
// name).
type ComplaintRequest struct {
	// Provider names the provider or host that removed the content, as
	// registered with the centre.
	Provider string `json:"provider,omitempty"`
	// Reference is what the provider gave the person about the removal:
	// its report's ID, a notice's, or its own ticket.
	Reference   string `json:"reference"`
	Description string `json:"description"`
	// Contact is an optional e-mail address to reach the complainant.
	Contact string `json:"contact,omitempty"`
}

// ComplaintReceipt answers a complaint: the case and its secret, shown
// this once, which the complainant needs to see the outcome.
type ComplaintReceipt struct {
	Case       string    `json:"case"`
	Secret     string    `json:"secret"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
	// Resolved says, to the provider or host that filed (never to the
	// public), whether the reference named one of its reports or
	// takedown notices; if not, the centre looks by hand. Nil for the
	// public.
	Resolved *bool `json:"resolved,omitempty"`
}

// ComplaintStatus is what the complainant sees: the state ("open",
// "upheld" or "rejected"), the times and the reviewer's reasons.
type ComplaintStatus struct {
	Case       string    `json:"case"`
	State      string    `json:"state"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
	DecidedAt  time.Time `json:"decided_at,omitzero"`
	Reasons    string    `json:"reasons,omitempty"`
}

// Complaint is a complaint about the caller's removals, as a provider or
// host sees it: never the complainant's description nor contact.
type Complaint struct {
	Case       string    `json:"case"`
	Reference  string    `json:"reference"`
	State      string    `json:"state"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
	DecidedAt  time.Time `json:"decided_at,omitzero"`
	// Reasons are the reviewer's: in GetComplaint, not in lists.
	Reasons string `json:"reasons,omitempty"`
	// Reinstate is set once upheld: put the content back.
	Reinstate bool `json:"reinstate"`
	// FiledByYou says the caller filed it on the person's behalf (else
	// the person did).
	FiledByYou bool `json:"filed_by_you"`
	// Report is the caller's report the reference resolved to.
	Report string `json:"report,omitempty"`
}

// Complaints is a page of complaints, open ones first by due date.
type Complaints struct {
	Complaints []Complaint `json:"complaints"`
	// Next is the After of the next page; "" on the last.
	Next string `json:"next,omitempty"`
}

// ComplaintsOptions select a page of Complaints.
type ComplaintsOptions struct {
	State string // "open", "upheld", "rejected"; "" for all
	After string // the Next of the previous page
	Limit int    // 1 to 500; 0 means the server's default (50)
}

// ComplaintNotification is what a provider's webhook receives once a
// complaint about its removal is decided.
type ComplaintNotification struct {
	Complaint string    `json:"complaint"`
	State     string    `json:"state"` // "upheld" or "rejected"
	Reinstate bool      `json:"reinstate"`
	Reference string    `json:"reference"`
	Report    string    `json:"report,omitempty"`
	Notice    string    `json:"notice,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
}

// complaintContext is the context string of a complaint notification's
// signature.
const complaintContext = "ward complaint notification v1\n"

// VerifyComplaintNotification checks that body, pushed to a provider's
// webhook, is signed by pub with signature (its Ward-Signature header),
// and decodes it. De-duplicate by its Ward-Complaint-Id header.
func VerifyComplaintNotification(pub ed25519.PublicKey, body []byte, signature string) (*ComplaintNotification, error) {
	var n ComplaintNotification
	return &n, verify(pub, complaintContext, body, signature, &n)
}

// FileComplaint complains, as a member of the public, about content a
// provider removed: no key is sent, even if the client has one. It is not
// retried, as each call opens a case.
func (c *Client) FileComplaint(ctx context.Context, r ComplaintRequest) (*ComplaintReceipt, error) {
	o := c.once()
	o.key = ""
	var out ComplaintReceipt
	return &out, o.do(ctx, http.MethodPost, "/v1/public/complaints", nil, jsonBody(r), "application/json", &out)
}

// ComplaintStatus returns the status of complaint caseID to the
// complainant, who gives its secret (sent instead of the client's key).
// A wrong secret is answered as an unknown case: not found.
func (c *Client) ComplaintStatus(ctx context.Context, caseID, secret string) (*ComplaintStatus, error) {
	o := *c
	o.key = secret
	var out ComplaintStatus
	return &out, o.do(ctx, http.MethodGet, "/v1/public/complaints/"+url.PathEscape(caseID), nil, nil, "", &out)
}

// SubmitComplaint files a complaint on a person's behalf about the
// caller's own removal (providers and hosts). It is not retried: each
// call opens a case. Give the person the receipt's case and secret.
func (c *Client) SubmitComplaint(ctx context.Context, r ComplaintRequest) (*ComplaintReceipt, error) {
	var out ComplaintReceipt
	return &out, c.once().do(ctx, http.MethodPost, "/v1/complaints", nil, jsonBody(r), "application/json", &out)
}

// Complaints returns a page of the complaints about the caller's removals.
func (c *Client) Complaints(ctx context.Context, o ComplaintsOptions) (*Complaints, error) {
	q := url.Values{}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out Complaints
	return &out, c.do(ctx, http.MethodGet, "/v1/complaints", q, nil, "", &out)
}

// GetComplaint returns complaint caseID about the caller's removals, with
// the reviewer's reasons once decided.
func (c *Client) GetComplaint(ctx context.Context, caseID string) (*Complaint, error) {
	var out Complaint
	return &out, c.do(ctx, http.MethodGet, "/v1/complaints/"+url.PathEscape(caseID), nil, nil, "", &out)
}
