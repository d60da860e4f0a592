package client

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// InboxOptions select a page of an authority's inbox.
type InboxOptions struct {
	// Status is "new" (not acknowledged; the default), "acknowledged" or
	// "all".
	Status string
	// After is the Next of the previous page; "" for the first.
	After string
	// Limit is the page size (1 to 1000); 0 means the server's default.
	Limit int
}

// Inbox is a page of the reports routed to the caller's authority, oldest
// first.
type Inbox struct {
	Reports []InboxReport `json:"reports"`
	// Next is the After of the next page; "" on the last page.
	Next string `json:"next,omitempty"`
}

// InboxReport is a report routed to the caller's authority.
type InboxReport struct {
	ReportID    string    `json:"report_id"`
	DeliveredAt time.Time `json:"delivered_at"` // when it was routed to the authority
	Urgent      bool      `json:"urgent"`
	Type        string    `json:"type"` // known, new or solicitation
	// AcknowledgedAt is when the authority acknowledged it; zero if not
	// yet.
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	// PushedAt is when the authority's webhook accepted it; zero if not
	// pushed.
	PushedAt time.Time `json:"pushed_at,omitzero"`
	// CorrectedAt is when the centre last corrected the report (an
	// upheld complaint found it wrong; the package lists the
	// corrections); zero if never. A report corrected since it was
	// acknowledged is new again until acknowledged.
	CorrectedAt time.Time `json:"corrected_at,omitzero"`
}

// The outcomes of FeedbackRequest.
const (
	OutcomeReceived           = "received"
	OutcomeInvestigating      = "investigating"
	OutcomeNoAction           = "no_action"
	OutcomeVictimIdentified   = "victim_identified"
	OutcomeOffenderIdentified = "offender_identified"
)

// FeedbackRequest is the body of POST /v1/lea/reports/{id}/feedback.
type FeedbackRequest struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
	// NonDisclosureUntil, if set, asks that the reported user not be told
	// of the report until then: at most 18 months ahead.
	NonDisclosureUntil time.Time `json:"non_disclosure_until,omitzero"`
}

// Feedback is feedback as recorded.
type Feedback struct {
	ID                 int64     `json:"id"`
	ReportID           string    `json:"report_id"`
	Outcome            string    `json:"outcome"`
	At                 time.Time `json:"at"`
	NonDisclosureUntil time.Time `json:"non_disclosure_until,omitzero"`
}

// SigningKey is the key that signs report packages and notifications.
type SigningKey struct {
	Algorithm string            `json:"algorithm"` // "ed25519"
	PublicKey ed25519.PublicKey `json:"public_key"`
	PEM       string            `json:"pem"` // the same key as a PEM "PUBLIC KEY" block
	// The context strings each signature covers before the body.
	PackageContext      string `json:"package_context"`
	NotificationContext string `json:"notification_context"`
	NoticeContext       string `json:"notice_context"`     // of takedown notices to hosts
	ReceiptContext      string `json:"receipt_context"`    // of the receipts of URL reports
	CorrectionContext   string `json:"correction_context"` // of the corrections of reports pushed to authorities
	ComplaintContext    string `json:"complaint_context"`  // of the outcomes of complaints notified to providers
}

// SignedPackage is a report package as received: its exact body and the
// value of its Ward-Signature header. VerifyPackage opens it. The package
// is a manifest: it lists the report's files with their size and hashes,
// and LEAReportFile downloads each and checks it against them.
type SignedPackage struct {
	Body      []byte
	Signature string
}

// ReportPackage is a report as an authority receives it.
type ReportPackage struct {
	// ReportID identifies the report for good: de-duplicate by it.
	ReportID   string    `json:"report_id"`
	CaseID     string    `json:"case_id,omitempty"` // the report leading its case (same provider, same content)
	RoutedAt   time.Time `json:"routed_at"`
	ReceivedAt time.Time `json:"received_at"`
	Urgent     bool      `json:"urgent"`
	Type       string    `json:"type"`
	// To is the authority the package is for, inside the signature:
	// check that it is yours.
	To struct {
		Name    string `json:"name"`
		Country string `json:"country"`
	} `json:"to"`
	Provider struct {
		Name    string `json:"name"`
		Country string `json:"country"`
	} `json:"provider"`
	NonDisclosureUntil time.Time `json:"non_disclosure_until,omitzero"`
	// Report is the report's content, as described by the API's schema
	// ReportDraft.
	Report  json.RawMessage `json:"report"`
	Files   []PackageFile   `json:"files"`
	Matches []PackageMatch  `json:"matches"`
	// Corrections are the centre's corrections of the report, oldest
	// first: each an upheld complaint that found the report wrong.
	Corrections []Correction `json:"corrections,omitempty"`
}

// Correction is the centre's correction of a report: an upheld complaint
// found the content lawful; the provider was told to reinstate it and the
// indicators involved were taken out of matching for review. It is in
// the report's package, and pushed to the webhook of an authority with
// one (ReportID set), signed: VerifyCorrection opens it. De-duplicate by
// Event.
type Correction struct {
	ReportID  string    `json:"report_id,omitempty"`
	Event     int64     `json:"event"`
	At        time.Time `json:"at"`
	Complaint string    `json:"complaint"`
	Reasons   string    `json:"reasons"`
}

// PackageFile is a file of a report with the hashes the centre computed,
// which its download (LEAReportFile) must match.
type PackageFile struct {
	Index   int    `json:"index"` // of its item in the report
	Size    int64  `json:"size"`
	MD5     string `json:"md5"`
	SHA256  string `json:"sha256"`
	PDQ     string `json:"pdq,omitempty"`
	Quality int    `json:"pdq_quality,omitempty"`
}

// PackageMatch is an indicator of the centre that an item matched.
type PackageMatch struct {
	Item      int    `json:"item"`
	Indicator int64  `json:"indicator"`
	List      string `json:"list"`
	Signal    string `json:"signal"`
	Category  string `json:"category"`
	Distance  int    `json:"distance"`
}

// Notification is what a provider's webhook receives when its report moves
// on.
type Notification struct {
	ReportID string    `json:"report_id"`
	Event    string    `json:"event"`
	At       time.Time `json:"at"`
	State    string    `json:"state"` // the report's state now
}

// The context strings of signatures, as SigningKey gives them.
const (
	packageContext      = "ward report package v2\n"
	notificationContext = "ward report notification v1\n"
	correctionContext   = "ward report correction v1\n"
)

// maxPackage bounds a package read: a manifest, the files apart.
const maxPackage = 64 << 20

// ErrBadSignature is the error of VerifyPackage and VerifyNotification for
// a body that the key did not sign.
var ErrBadSignature = errors.New("the signature does not verify with the centre's key")

// VerifyPackage checks that body, a report package pulled from the API or
// pushed to a webhook, is signed by pub with signature (the value of its
// Ward-Signature header), and decodes it.
func VerifyPackage(pub ed25519.PublicKey, body []byte, signature string) (*ReportPackage, error) {
	var p ReportPackage
	return &p, verify(pub, packageContext, body, signature, &p)
}

// VerifyNotification checks that body, a notification pushed to a
// provider's webhook, is signed by pub with signature (the value of its
// Ward-Signature header), and decodes it.
func VerifyNotification(pub ed25519.PublicKey, body []byte, signature string) (*Notification, error) {
	var n Notification
	return &n, verify(pub, notificationContext, body, signature, &n)
}

// VerifyCorrection checks that body, a correction pushed to an
// authority's webhook, is signed by pub with signature (its
// Ward-Signature header), and decodes it.
func VerifyCorrection(pub ed25519.PublicKey, body []byte, signature string) (*Correction, error) {
	var c Correction
	return &c, verify(pub, correctionContext, body, signature, &c)
}

func verify(pub ed25519.PublicKey, domain string, body []byte, signature string, out any) error {
	b64, ok := strings.CutPrefix(signature, "ed25519=")
	sig, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(pub) != ed25519.PublicKeySize ||
		!ed25519.Verify(pub, append([]byte(domain), body...), sig) {
		return ErrBadSignature
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the signed body: %w", err)
	}
	return nil
}

// LEAInbox returns a page of the reports routed to the caller's authority
// (law enforcement or Europol).
func (c *Client) LEAInbox(ctx context.Context, o InboxOptions) (*Inbox, error) {
	q := url.Values{}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out Inbox
	return &out, c.do(ctx, http.MethodGet, "/v1/lea/reports", q, nil, "", &out)
}

// LEAReport downloads the package of report id, routed to the caller's
// authority; VerifyPackage checks and opens it, and LEAReportFile
// downloads its files. Every download is in the centre's audit trail. It
// is not retried, as each download is recorded.
func (c *Client) LEAReport(ctx context.Context, id string) (*SignedPackage, error) {
	u := *c.base
	u.Path += leaPath(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, decode(resp, nil)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPackage+1))
	if err != nil {
		return nil, fmt.Errorf("reading the package: %w", err)
	}
	if len(body) > maxPackage {
		return nil, fmt.Errorf("the package is larger than %d bytes", maxPackage)
	}
	return &SignedPackage{Body: body, Signature: resp.Header.Get("Ward-Signature")}, nil
}

// ErrFileMismatch is the error of LEAReportFile for content that is not the
// file the package describes.
var ErrFileMismatch = errors.New("the file downloaded is not the one the signed package describes")

// LEAReportFile downloads file f of report id, as listed in the report's
// verified package, and writes it to w as it arrives, checking its size
// and SHA-256 against f: it returns an error wrapping ErrFileMismatch if
// they differ (w has then received content that must be discarded), as
// for any error. Each download is in the centre's audit trail; it is not
// retried.
func (c *Client) LEAReportFile(ctx context.Context, id string, f PackageFile, w io.Writer) error {
	u := *c.base
	u.Path += leaPath(id) + "/files/" + strconv.Itoa(f.Index)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	// The client's timeout is for small answers: give a file the time it
	// needs at 256 KiB/s, as the server does.
	hc := *c.http
	if hc.Timeout > 0 {
		hc.Timeout += 2*time.Minute + time.Duration(f.Size>>18)*time.Second
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decode(resp, nil)
	}
	defer resp.Body.Close()
	h := sha256.New()
	// One byte more than the package says, to tell a longer file.
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, f.Size+1))
	if err != nil {
		return fmt.Errorf("downloading file %d of report %s: %w", f.Index, id, err)
	}
	if n != f.Size {
		return fmt.Errorf("file %d of report %s: %w: %d bytes, the package says %d", f.Index, id, ErrFileMismatch, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(f.SHA256) {
		return fmt.Errorf("file %d of report %s: %w: SHA-256 %s, the package says %s", f.Index, id, ErrFileMismatch, got, f.SHA256)
	}
	return nil
}

// AckReport acknowledges the receipt of report id. Acknowledging again is
// harmless.
func (c *Client) AckReport(ctx context.Context, id string) (*InboxReport, error) {
	var out InboxReport
	return &out, c.do(ctx, http.MethodPost, leaPath(id)+"/ack", nil, nil, "", &out)
}

// SendFeedback gives the authority's feedback on report id. It is not
// retried: each call records feedback.
func (c *Client) SendFeedback(ctx context.Context, id string, f FeedbackRequest) (*Feedback, error) {
	var out Feedback
	return &out, c.once().do(ctx, http.MethodPost, leaPath(id)+"/feedback", nil, jsonBody(f), "application/json", &out)
}

// SigningKey returns the key that signs report packages and
// notifications. Fetch it once and keep it: a package that another key
// signed is not the centre's.
func (c *Client) SigningKey(ctx context.Context) (*SigningKey, error) {
	var out SigningKey
	return &out, c.do(ctx, http.MethodGet, "/v1/lea/signing-key", nil, nil, "", &out)
}

func leaPath(id string) string { return "/v1/lea/reports/" + url.PathEscape(id) }
