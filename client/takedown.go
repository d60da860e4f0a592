package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// URLReport is the body of POST /v1/public/url-reports (anyone, no key)
// and POST /v1/hotline/url-reports (partner hotlines): a URL where child
// sexual abuse material is thought to be.
type URLReport struct {
	URL string `json:"url"`
	// Description says what is there and where on the page; optional,
	// stored encrypted.
	Description string `json:"description,omitempty"`
	// Contact is an e-mail address for questions about the report;
	// optional, stored encrypted.
	Contact string `json:"contact,omitempty"`
}

// URLReceipt answers a URL report.
type URLReceipt struct {
	// ID is the case's ID in the hotline routes.
	ID string `json:"id"`
	// Receipt is the centre's signed receipt of the report, for the
	// reporter to keep: the standard base64 of the Ed25519 signature, by
	// the key of GET /v1/lea/signing-key, of "ward takedown receipt v1\n"
	// ID "\n" ReceivedAt "\n" and the lower-case hex SHA-256 of URL.
	Receipt string `json:"receipt"`
	// URL is the reported URL as the case records it (its host in lower
	// case, without #fragment).
	URL string `json:"url"`
	// ReceivedAt is when the report was received, in RFC 3339 in UTC with
	// microseconds (2026-03-02T10:00:00.000000Z), exactly as signed.
	ReceivedAt string `json:"received_at"`
}

// The states of a takedown case.
const (
	CaseFetching   = "fetching"   // queued to be fetched
	CaseAssessment = "assessment" // fetched, waiting for an analyst
	CaseNoticed    = "noticed"    // notices sent; rechecked until removal is verified
	CaseRemoved    = "removed"    // every illegal resource verified gone
	CaseClosed     = "closed"     // nothing illegal, or nothing was there
)

// The classifications of an assessed resource: baseline is illegal
// everywhere (INTERPOL's baseline criteria), national illegal in the
// assessing hotline's country, not_illegal neither.
const (
	Baseline   = "baseline"
	National   = "national"
	NotIllegal = "not_illegal"
)

// CasesOptions select a page of the cases the caller may see.
type CasesOptions struct {
	State string // one of the Case* states; "" for every state
	// Search is a case ID, a URL or a part of one, or a hash.
	Search string
	// After is the Next of the previous page; "" for the first.
	After string
	// Limit is the page size (1 to 1000); 0 means the server's default.
	Limit int
}

// Cases is a page of takedown cases.
type Cases struct {
	Cases []CaseSummary `json:"cases"`
	// Next is the After of the next page; "" on the last page.
	Next string `json:"next,omitempty"`
}

// CaseSummary is a case as a page of cases lists it; Case gives the
// whole of it.
type CaseSummary struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	State      string    `json:"state"`
	ReceivedAt time.Time `json:"received_at"`
	Hosting    Hosting   `json:"hosting"`
	// RemovedAt and TimeToRemovalS are null until removal is verified.
	RemovedAt      *time.Time `json:"removed_at"`
	TimeToRemovalS *float64   `json:"time_to_removal_s"`
	// Escalated: notices went unanswered past the escalation period, and
	// the case is flagged for a removal order.
	Escalated bool `json:"escalated"`
}

// Case is a takedown case: a reported URL, what was found there and what
// was done about it.
type Case struct {
	CaseSummary
	// Description is what the reporter wrote; absent if nothing.
	Description string `json:"description,omitempty"`
	// Reason says why a closed case was closed.
	Reason string `json:"reason,omitempty"`
	// FetchError says why the URL could not be fetched; absent if it
	// was. While the case is fetching, the last attempt's error.
	FetchError string `json:"fetch_error,omitempty"`
	// FetchAttempts counts the fetches of the URL that failed for a
	// reason that may pass, each tried again up to the server's limit.
	FetchAttempts int          `json:"fetch_attempts,omitempty"`
	Items         []CaseItem   `json:"items"`
	Notices       []CaseNotice `json:"notices"`
	// History is what happened to the case, oldest first, across the
	// queues it was handed over between.
	History []CaseEvent `json:"history"`
}

// CaseEvent is a step of a case's history.
type CaseEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`          // such as reported, found (by the centre's search), fetched, handed_over, assessed, noticed, item_gone, removed
	Org    string    `json:"org,omitempty"` // the organisation acting or concerned
	Detail string    `json:"detail,omitempty"`
}

// Hosting is where a case's URL is hosted.
type Hosting struct {
	Addresses []string `json:"addresses"` // the addresses its name resolved to
	Country   string   `json:"country,omitempty"`
	Host      string   `json:"host,omitempty"` // the registered host's name; absent if none matched
}

// CaseItem is one resource of a case: index 0 is the reported URL, the
// others what its page embeds.
type CaseItem struct {
	Index int    `json:"index"`
	URL   string `json:"url"`
	// Hosting is where the resource itself is hosted, if located apart
	// from the page (embedded media often are): its host gets its
	// notice.
	Hosting     *Hosting `json:"hosting,omitempty"`
	ContentType string   `json:"content_type,omitempty"`
	Size        int64    `json:"size"`
	// The hashes, hex; absent if not fetched (PDQ: if not an image).
	SHA256  string      `json:"sha256,omitempty"`
	MD5     string      `json:"md5,omitempty"`
	PDQ     string      `json:"pdq,omitempty"`
	Matches []CaseMatch `json:"matches"`
	// Classification is the analyst's; absent until assessed.
	Classification string `json:"classification,omitempty"`
	// HasContent: the sealed content is still kept (until assessment,
	// never for known material), for CaseContent.
	HasContent bool `json:"has_content"`
	// RemovedAt is when a recheck found it gone; null until then.
	RemovedAt *time.Time `json:"removed_at"`
	// Error says why it could not be fetched or hashed.
	Error string `json:"error,omitempty"`
}

// CaseMatch is an active indicator that a resource matched.
type CaseMatch struct {
	Indicator int64  `json:"indicator"`
	List      string `json:"list"`
	Signal    string `json:"signal"`
	Category  string `json:"category"`
	Distance  int    `json:"distance"`
}

// CaseNotice is a notice to a host about a case's illegal resources, sent
// again until they are verified gone.
type CaseNotice struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`        // webhook, email, hotline or europol
	Host    string `json:"host,omitempty"` // the host's name; absent if not registered
	// Via names the hotline or Europol that passes it on to the host;
	// absent for a notice sent to the host, or one that waits for a
	// hotline or Europol to be registered.
	Via            string   `json:"via,omitempty"`
	URLs           []string `json:"urls"`
	Classification string   `json:"classification"`
	// SentAt is when it was last sent; absent until first sent.
	SentAt time.Time `json:"sent_at,omitzero"`
	Sends  int       `json:"sends"`
	// AnsweredAt is when the host said it removed the content; only a
	// recheck verifies it.
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	// LastError is why the last send failed, or why the notice waits
	// (for the case's report to the police it goes with, for a hotline
	// or Europol to be registered); absent once sent.
	LastError string `json:"last_error,omitempty"`
}

// Assessment is the body of POST /v1/hotline/cases/{id}/assessment.
type Assessment struct {
	Items []ItemAssessment `json:"items"`
	// SubmitIndicators submits the baseline items' hashes as indicators
	// attested by the assessing hotline.
	SubmitIndicators bool `json:"submit_indicators,omitempty"`
}

// ItemAssessment classifies one resource of a case.
type ItemAssessment struct {
	Index          int    `json:"index"`
	Classification string `json:"classification"` // Baseline, National or NotIllegal
}

// HandOver is the body of POST /v1/hotline/cases/{id}/handover: exactly
// one of Hotline (the name of a partner hotline) or To "centre".
type HandOver struct {
	Hotline string `json:"hotline,omitempty"`
	To      string `json:"to,omitempty"`
}

// HandedOver answers a hand-over: the case and the queue it is in now
// (a hotline's name, or "centre").
type HandedOver struct {
	Case  string `json:"case"`
	Queue string `json:"queue"`
}

// NoticeAnswer answers a host's word that it removed a notice's content.
type NoticeAnswer struct {
	Notice string `json:"notice"`
	// Recheck is "scheduled" (202): only the recheck verifies; or "not
	// needed: the content is verified removed" (200).
	Recheck string `json:"recheck"`
}

// TakedownFigures is how quickly noticed content came down, over the
// cases reported in a period, overall and per host.
type TakedownFigures struct {
	From string `json:"from"` // YYYY-MM-DD
	To   string `json:"to"`   // YYYY-MM-DD, included
	Figures
	Hosts []HostFigures `json:"hosts"`
}

// HostFigures is the takedown figures of one host.
type HostFigures struct {
	Host    string `json:"host"` // its name; "" for the hosts not registered
	Country string `json:"country,omitempty"`
	Figures
}

// Figures counts noticed cases and times to removal.
type Figures struct {
	Cases   int `json:"cases"`   // cases noticed
	Removed int `json:"removed"` // of them, removed
	Open    int `json:"open"`    // of them, not removed yet
	Notices int `json:"notices"` // notices sent, repeats included
	// MedianS and P90S are the median and 90th percentile of the time to
	// removal, in seconds; null when nothing was removed.
	MedianS *float64 `json:"median_s"`
	P90S    *float64 `json:"p90_s"`
	// The shares (0 to 1) of the noticed cases removed within 1, 3 and 7
	// days of the report.
	Within1d float64 `json:"removed_within_1d"`
	Within3d float64 `json:"removed_within_3d"`
	Within7d float64 `json:"removed_within_7d"`
}

// ReportURL reports a URL as a member of the public: no key is sent, even
// if the client has one. It is not retried, as each call opens a case.
func (c *Client) ReportURL(ctx context.Context, r URLReport) (*URLReceipt, error) {
	o := c.once()
	o.key = ""
	var out URLReceipt
	return &out, o.do(ctx, http.MethodPost, "/v1/public/url-reports", nil, jsonBody(r), "application/json", &out)
}

// SubmitURL reports a URL as a partner hotline. A URL the hotline reported
// before whose case is still open answers with that case, so a retry opens
// nothing new; the client still sends it once, as ReportURL does.
func (c *Client) SubmitURL(ctx context.Context, r URLReport) (*URLReceipt, error) {
	var out URLReceipt
	return &out, c.once().do(ctx, http.MethodPost, "/v1/hotline/url-reports", nil, jsonBody(r), "application/json", &out)
}

// Cases returns a page of the takedown cases the caller may see: a
// hotline those in its queue or that it reported, the centre all.
func (c *Client) Cases(ctx context.Context, o CasesOptions) (*Cases, error) {
	q := url.Values{}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.Search != "" {
		q.Set("q", o.Search)
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out Cases
	return &out, c.do(ctx, http.MethodGet, "/v1/hotline/cases", q, nil, "", &out)
}

// Case returns takedown case id. Each read is in the centre's audit
// trail.
func (c *Client) Case(ctx context.Context, id string) (*Case, error) {
	var out Case
	return &out, c.do(ctx, http.MethodGet, casePath(id), nil, nil, "", &out)
}

// CaseContent writes the content of resource index of case id, while the
// centre keeps it, to w, and returns its media type. Each read is in the
// centre's audit trail; it is not retried.
func (c *Client) CaseContent(ctx context.Context, id string, index int, w io.Writer) (string, error) {
	u := *c.base
	u.Path += casePath(id) + "/items/" + strconv.Itoa(index) + "/content"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", decode(resp, nil)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return "", fmt.Errorf("reading resource %d of case %s: %w", index, id, err)
	}
	return resp.Header.Get("Content-Type"), nil
}

// Assess records the caller's assessment of case id and returns the case
// as it is then: notices go out for the illegal resources.
func (c *Client) Assess(ctx context.Context, id string, a Assessment) (*Case, error) {
	var out Case
	return &out, c.once().do(ctx, http.MethodPost, casePath(id)+"/assessment", nil, jsonBody(a), "application/json", &out)
}

// HandOverCase moves case id to the queue of another hotline, or the
// centre's; the case keeps its history.
func (c *Client) HandOverCase(ctx context.Context, id string, h HandOver) (*HandedOver, error) {
	var out HandedOver
	return &out, c.once().do(ctx, http.MethodPost, casePath(id)+"/handover", nil, jsonBody(h), "application/json", &out)
}

// AnswerNotice tells the centre, as the host noticed, that the content of
// notice id was removed; the centre rechecks it at once (only the recheck
// verifies). Answering again is harmless.
func (c *Client) AnswerNotice(ctx context.Context, id string) (*NoticeAnswer, error) {
	var out NoticeAnswer
	return &out, c.do(ctx, http.MethodPost, "/v1/notices/"+url.PathEscape(id)+"/removed", nil, nil, "", &out)
}

// TakedownFigures returns the takedown figures of the cases reported from
// day from to day to (YYYY-MM-DD, both included); "" for the server's
// defaults (the last 365 days).
func (c *Client) TakedownFigures(ctx context.Context, from, to string) (*TakedownFigures, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	var out TakedownFigures
	return &out, c.do(ctx, http.MethodGet, "/v1/takedown/figures", q, nil, "", &out)
}

func casePath(id string) string { return "/v1/hotline/cases/" + url.PathEscape(id) }
