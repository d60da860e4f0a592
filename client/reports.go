package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The states of a report as its provider sees it.
const (
	ReportDraft         = "draft"          // created; files may be uploaded; not yet sent to the centre
	ReportRetracted     = "retracted"      // withdrawn before it was finished
	ReportReceived      = "received"       // finished: the centre has it and will assess it
	ReportBundled       = "bundled"        // joined to an earlier report of the same content, assessed with it
	ReportInfoRequested = "info_requested" // the centre asks for more information: see AnswerReportInfo
	ReportUnfounded     = "unfounded"      // assessed as manifestly unfounded, with reasons
	ReportForwarded     = "forwarded"      // forwarded to law enforcement
)

// ReportStatus is what a provider sees of its report.
type ReportStatus struct {
	ID          string       `json:"id"`
	State       string       `json:"state"`
	CreatedAt   time.Time    `json:"created_at"`
	FinishedAt  time.Time    `json:"finished_at,omitzero"`
	RetractedAt time.Time    `json:"retracted_at,omitzero"`
	Files       []ReportFile `json:"files"`
	// UnfoundedReasons say why the centre assessed the report as
	// manifestly unfounded.
	UnfoundedReasons string `json:"unfounded_reasons,omitempty"`
	// InformationRequested is what the centre asked in its latest request
	// for more information.
	InformationRequested string    `json:"information_requested,omitempty"`
	ForwardedAt          time.Time `json:"forwarded_at,omitzero"`
	// ForwardedTo describes the authorities the report went to in general
	// terms, such as "a law-enforcement authority in DE" or "Europol".
	ForwardedTo []string `json:"forwarded_to,omitempty"`
	// DoNotInformUserUntil, if set, is until when the provider must not
	// tell the reported user of the report: an authority asked so.
	DoNotInformUserUntil time.Time     `json:"do_not_inform_user_until,omitzero"`
	History              []ReportEvent `json:"history"`
}

// ReportFile is a file uploaded for a report, with the hashes the centre
// computed on receipt.
type ReportFile struct {
	Index     int       `json:"index"` // of the report's item (of kind file)
	Size      int64     `json:"size"`
	MD5       string    `json:"md5"`
	SHA256    string    `json:"sha256"`
	PDQ       string    `json:"pdq,omitempty"` // absent if the file is not an image that could be decoded
	Quality   int       `json:"pdq_quality,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ReportEvent is a step in a report's history: received, retracted,
// queued, bundled, info_requested, info_provided, unfounded or forwarded.
type ReportEvent struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
}

// ReportInfoAnswer is the body of POST /v1/reports/{id}/info.
type ReportInfoAnswer struct {
	Message string `json:"message"`
}

// CreateReport submits a report: draft is marshalled to JSON (a value of
// the schema in the API's description, or a json.RawMessage). With finish
// set, the report is finished at once, which suits reports without items
// of kind file; otherwise it stays a draft for UploadReportFile and
// FinishReport.
//
// idempotencyKey makes the call safe to repeat: a retry with the same key
// and the same report returns the report created first; the same key with
// another report is a 409 Problem. Only a call with a key is retried.
func (c *Client) CreateReport(ctx context.Context, draft any, idempotencyKey string, finish bool) (*ReportStatus, error) {
	q := url.Values{}
	if finish {
		q.Set("finish", "true")
	}
	cl, h := c, http.Header{}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
	} else {
		cl = c.once()
	}
	var out ReportStatus
	return &out, cl.send(ctx, http.MethodPost, "/v1/reports", q, h, jsonBody(draft), "application/json", &out)
}

// UploadReportFile uploads the file of item index (of kind file) of draft
// report id, and returns its hashes. Uploading the same file again is
// harmless. The call is retried only if r is an io.Seeker, read again from
// where it was. r is not closed.
func (c *Client) UploadReportFile(ctx context.Context, id string, index int, r io.Reader) (*ReportFile, error) {
	cl := c.once()
	body := func() io.Reader { return noClose(r) }
	if s, ok := r.(io.ReadSeeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			cl = c
			body = func() io.Reader {
				if _, err := s.Seek(start, io.SeekStart); err != nil {
					return errReader{err}
				}
				return noClose(s)
			}
		}
	}
	var out ReportFile
	path := reportPath(id) + "/files/" + strconv.Itoa(index)
	return &out, cl.do(ctx, http.MethodPut, path, nil, body, "application/octet-stream", &out)
}

// FinishReport submits draft report id to the centre; every item of kind
// file must have its file. Finishing a finished report again is harmless.
func (c *Client) FinishReport(ctx context.Context, id string) (*ReportStatus, error) {
	var out ReportStatus
	return &out, c.do(ctx, http.MethodPost, reportPath(id)+"/finish", nil, nil, "", &out)
}

// RetractReport withdraws draft report id; a finished report cannot be
// retracted. Retracting again is harmless.
func (c *Client) RetractReport(ctx context.Context, id string) (*ReportStatus, error) {
	var out ReportStatus
	return &out, c.do(ctx, http.MethodPost, reportPath(id)+"/retract", nil, nil, "", &out)
}

// ReportStatus returns the status of report id.
func (c *Client) ReportStatus(ctx context.Context, id string) (*ReportStatus, error) {
	var out ReportStatus
	return &out, c.do(ctx, http.MethodGet, reportPath(id), nil, nil, "", &out)
}

// AnswerReportInfo answers the centre's request for more information about
// report id (state info_requested), which queues it again for assessment.
// It is not retried: a repeated answer would find the report queued and be
// a 409 Problem.
func (c *Client) AnswerReportInfo(ctx context.Context, id, message string) (*ReportStatus, error) {
	var out ReportStatus
	return &out, c.once().do(ctx, http.MethodPost, reportPath(id)+"/info", nil,
		jsonBody(ReportInfoAnswer{Message: message}), "application/json", &out)
}

func reportPath(id string) string { return "/v1/reports/" + url.PathEscape(id) }

// once returns c without retries, for a call that is not safe to repeat.
func (c *Client) once() *Client {
	o := *c
	o.retries = 0
	return &o
}

// noClose hides r's Close method: the HTTP transport closes a request body
// that has one, and r is the caller's.
func noClose(r io.Reader) io.Reader {
	if _, ok := r.(io.Closer); ok {
		return io.NopCloser(r)
	}
	return r
}
