package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/takedown"
)

// leaRoutes are the authorities' routes (law enforcement and Europol):
// pull the reports routed to them, acknowledge them and give feedback.
// Each acts on the caller organisation's deliveries only, the
// policy.RoutedToOrg scope: another organisation's report is not found.
// Other kinds of organisation are refused (policy.InboxRead and
// ReportsFeedback are the authorities' alone). Downloads,
// acknowledgements and feedback are audited.
func (s *Server) leaRoutes() []route {
	return []route{
		{"GET /v1/lea/reports", policy.InboxRead, s.leaInbox},
		{"GET /v1/lea/reports/{id}", policy.InboxRead, s.leaReport},
		{"GET /v1/lea/reports/{id}/files/{index}", policy.InboxRead, s.leaReportFile},
		{"POST /v1/lea/reports/{id}/ack", policy.ReportsFeedback, s.leaAck},
		{"POST /v1/lea/reports/{id}/feedback", policy.ReportsFeedback, s.leaFeedback},
		// A public key: providers verify their notifications with it too,
		// so every key may read it.
		{"GET /v1/lea/signing-key", policy.APIDescribe, s.leaSigningKey},
	}
}

func (s *Server) leaInbox(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	q := r.URL.Query()
	var errs fieldErrors
	status, err := forward.ParseStatus(q.Get("status"))
	if err != nil {
		errs.add("/status", err)
	}
	after, err := forward.ParseCursor(q.Get("after"))
	if err != nil {
		errs.add("/after", err)
	}
	limit := errs.limit(q, forward.DefaultLimit, forward.MaxLimit)
	if err := errs.err(); err != nil {
		return err
	}
	ds, err := s.Forward.Inbox(r.Context(), p.OrgID, forward.InboxQuery{Status: status, After: after, Limit: limit})
	if err != nil {
		return err
	}
	page := client.Inbox{Reports: []client.InboxReport{}}
	for _, d := range ds {
		page.Reports = append(page.Reports, inboxReport(d))
	}
	if len(ds) == limit {
		last := ds[len(ds)-1]
		page.Next = forward.Cursor{At: last.CreatedAt, ReportID: last.ReportID}.String()
	}
	return writeJSON(w, http.StatusOK, page)
}

func inboxReport(d forward.Delivery) client.InboxReport {
	return client.InboxReport{ReportID: d.ReportID, DeliveredAt: d.CreatedAt, Urgent: d.Urgent, Type: string(d.Type),
		AcknowledgedAt: d.AckedAt, PushedAt: d.PushedAt, CorrectedAt: d.CorrectedAt}
}

// leaReport serves a report's signed package, a manifest of its files:
// the body exactly as signed.
func (s *Server) leaReport(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	body, sig, err := s.Forward.Package(r.Context(), p.OrgID, id)
	if err != nil {
		return err
	}
	// Recorded before the content leaves: a download the trail cannot
	// record does not happen.
	if err := s.record(r, p, "report.download", "report:"+id); err != nil {
		return err
	}
	w.Header().Set(forward.SignatureHeader, sig)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// leaReportFile streams the content of one file of a report, a segment at
// a time as it is opened; the client checks it against the size and
// SHA-256 of the signed package.
func (s *Server) leaReportFile(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		return core.Errorf(core.ErrInvalid, "the file index must be a number from 0, not %q", r.PathValue("index"))
	}
	f, write, err := s.Forward.File(r.Context(), p.OrgID, id, index)
	if err != nil {
		return err
	}
	// Recorded before the content leaves, as the package is.
	if err := s.record(r, p, "report.download_file", fmt.Sprintf("report:%s/file:%d", id, index)); err != nil {
		return err
	}
	// The server's write timeout is for small answers: give a file the
	// time it needs at 256 KiB/s, at least.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(2*time.Minute + time.Duration(f.Size>>18)*time.Second))
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	h.Set("Ward-File-Sha256", f.SHA256)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="file-%d-%s"`, f.Index, f.SHA256))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := write(w); err != nil {
		// Too late for an error answer: cut the response short, which
		// the client sees as a truncated file.
		if s.Logger != nil && r.Context().Err() == nil {
			s.Logger.Error("sending a report file", "report", id, "file", index, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) leaAck(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	d, err := s.Forward.Ack(r.Context(), p.OrgID, id, "key:"+p.KeyID)
	if err != nil {
		return err
	}
	if err := s.record(r, p, "report.ack", "report:"+id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, inboxReport(d))
}

func (s *Server) leaFeedback(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	var req client.FeedbackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := s.Forward.GiveFeedback(r.Context(), p.OrgID, id, "key:"+p.KeyID, forward.FeedbackInput{
		Outcome: forward.Outcome(req.Outcome), Note: req.Note, NonDisclosureUntil: req.NonDisclosureUntil,
	})
	if err != nil {
		return err
	}
	if err := s.record(r, p, "report.feedback", "report:"+id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, client.Feedback{ID: f.ID, ReportID: f.ReportID, Outcome: string(f.Outcome), At: f.At,
		NonDisclosureUntil: req.NonDisclosureUntil.UTC()})
}

func (s *Server) leaSigningKey(w http.ResponseWriter, _ *http.Request, _ org.Principal) error {
	return writeJSON(w, http.StatusOK, client.SigningKey{
		Algorithm: "ed25519", PublicKey: s.Forward.PublicKey(), PEM: s.Forward.PublicKeyPEM(),
		PackageContext: forward.PackageContext, NotificationContext: forward.NotificationContext, NoticeContext: takedown.NoticeContext,
		ReceiptContext: takedown.ReceiptContext, CorrectionContext: forward.CorrectionContext, ComplaintContext: complaint.NotificationContext,
	})
}
