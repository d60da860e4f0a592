package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The verdicts a provider gives on its matches of an indicator.
const (
	VerdictFalsePositive = "false_positive" // the match was not of the material
	VerdictConfirmed     = "confirmed"      // the match was right
)

// MatchFeedback is the body of POST /v1/match-feedback: a provider's
// verdict on its matches of an indicator. A later verdict on the same
// indicator replaces the earlier.
type MatchFeedback struct {
	Indicator int64  `json:"indicator"`
	Verdict   string `json:"verdict"` // VerdictFalsePositive or VerdictConfirmed
	// Note says what was matched, for the reviewer; optional, at most
	// 1000 characters, stored encrypted.
	Note string `json:"note,omitempty"`
}

// MatchFeedbackResult answers a verdict.
type MatchFeedbackResult struct {
	Indicator int64  `json:"indicator"`
	Verdict   string `json:"verdict"`
	// Quarantined: the indicator is quarantined now (by this verdict or
	// before), and matches no more until a review.
	Quarantined bool `json:"quarantined"`
}

// The causes of a quarantine.
const (
	CauseFalsePositive = "false_positive" // false-positive verdicts of enough providers
	CauseFlood         = "flood"          // too many distinct items matched within the window
	CauseManual        = "manual"         // by the centre's staff, with a reason
	CauseComplaint     = "complaint"      // for a complaint about a match
)

// QuarantineRequest is the body of POST /v1/indicators/{id}/quarantine.
type QuarantineRequest struct {
	Reason string `json:"reason"`
}

// ConfirmRequest is the body of POST /v1/quarantine/{id}/confirm.
type ConfirmRequest struct {
	Note string `json:"note,omitempty"`
}

// QuarantineEntry is an open quarantine in the queue.
type QuarantineEntry struct {
	Quarantine int64     `json:"quarantine"` // the quarantine's ID, the cursor of pages
	Indicator  int64     `json:"indicator"`
	List       string    `json:"list"`
	Signal     string    `json:"signal"`
	Value      string    `json:"value"`
	Category   string    `json:"category"`
	Cause      string    `json:"cause"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	// FalsePositives is the number of providers whose false-positive
	// verdicts count now.
	FalsePositives int `json:"false_positives"`
}

// QuarantineQueue is a page of open quarantines, oldest first.
type QuarantineQueue struct {
	Quarantines []QuarantineEntry `json:"quarantines"`
	// Next is the after of the next page; 0 on the last page.
	Next int64 `json:"next,omitempty"`
}

// QuarantineRecord is one quarantine of an indicator.
type QuarantineRecord struct {
	ID     int64  `json:"id"`
	Cause  string `json:"cause"`
	Reason string `json:"reason"`
	// Org and Actor are who began it; Org is absent and Actor "system"
	// for Ward's own quarantines.
	Org   string    `json:"org,omitempty"`
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
	// The end, absent while the quarantine is open: Outcome is confirmed
	// or withdrawn, Note the reviewer's note or reason.
	EndedAt  *time.Time `json:"ended_at,omitempty"`
	Outcome  string     `json:"outcome,omitempty"`
	EndedBy  string     `json:"ended_by,omitempty"`
	EndedOrg string     `json:"ended_org,omitempty"`
	Note     string     `json:"note,omitempty"`
}

// ProviderVerdict is a provider's verdict on an indicator.
type ProviderVerdict struct {
	Provider string    `json:"provider"`
	Verdict  string    `json:"verdict"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
	// AnsweredAt is when a review answered the verdict, which then no
	// longer counts; absent if none has.
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
}

// QuarantineDetail is an indicator with its quarantines (oldest first)
// and every provider's verdict (latest first).
type QuarantineDetail struct {
	Indicator   Indicator          `json:"indicator"`
	Quarantines []QuarantineRecord `json:"quarantines"`
	Verdicts    []ProviderVerdict  `json:"verdicts"`
}

// MatchFeedback gives the provider's verdict on its matches of an
// indicator. Sending it again replaces it, so it is retried.
func (c *Client) MatchFeedback(ctx context.Context, f MatchFeedback) (*MatchFeedbackResult, error) {
	var out MatchFeedbackResult
	return &out, c.do(ctx, http.MethodPost, "/v1/match-feedback", nil, jsonBody(f), "application/json", &out)
}

// Quarantine quarantines an active indicator by hand (the centre): it
// stops matching at once, until a review. Quarantining a quarantined
// indicator changes nothing.
func (c *Client) Quarantine(ctx context.Context, id int64, reason string) (*Indicator, error) {
	var out Indicator
	return &out, c.do(ctx, http.MethodPost, indicatorPath(id)+"/quarantine", nil, jsonBody(QuarantineRequest{Reason: reason}), "application/json", &out)
}

// QuarantineQueue returns a page of the open quarantines, oldest first,
// after the quarantine after (the previous page's Next; 0 for the first);
// limit 0 is the server's default.
func (c *Client) QuarantineQueue(ctx context.Context, limit int, after int64) (*QuarantineQueue, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	var out QuarantineQueue
	return &out, c.do(ctx, http.MethodGet, "/v1/quarantine", q, nil, "", &out)
}

// QuarantineDetail returns indicator id's quarantines and the providers'
// verdicts; each read is in the centre's audit trail.
func (c *Client) QuarantineDetail(ctx context.Context, id int64) (*QuarantineDetail, error) {
	var out QuarantineDetail
	return &out, c.do(ctx, http.MethodGet, quarantinePath(id), nil, nil, "", &out)
}

// ConfirmQuarantined ends indicator id's quarantine: it is active and
// matched again. It is sent once: a repeat finds nothing to confirm.
func (c *Client) ConfirmQuarantined(ctx context.Context, id int64, note string) (*Indicator, error) {
	var out Indicator
	return &out, c.once().do(ctx, http.MethodPost, quarantinePath(id)+"/confirm", nil, jsonBody(ConfirmRequest{Note: note}), "application/json", &out)
}

// WithdrawQuarantined ends indicator id's quarantine by withdrawing it,
// for good. It is sent once: a repeat finds nothing to withdraw.
func (c *Client) WithdrawQuarantined(ctx context.Context, id int64, reason string) (*Indicator, error) {
	var out Indicator
	return &out, c.once().do(ctx, http.MethodPost, quarantinePath(id)+"/withdraw", nil, jsonBody(WithdrawRequest{Reason: reason}), "application/json", &out)
}

func indicatorPath(id int64) string  { return "/v1/indicators/" + strconv.FormatInt(id, 10) }
func quarantinePath(id int64) string { return "/v1/quarantine/" + strconv.FormatInt(id, 10) }
