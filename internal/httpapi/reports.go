package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Directory finds organisations by ID or name; *org.Service is one.
type Directory interface {
	ByID(ctx context.Context, id int64) (org.Organisation, error)
	ByName(ctx context.Context, name string) (org.Organisation, error)
}

// reportRoutes are the providers' report routes: submit a report, upload
// its files, finish or retract it, follow its status and answer the
// centre's questions. Every one acts on the caller's own reports only.
//
// Creating, uploading and finishing are not in the audit trail: each
// append to it is a serialised transaction, which would cap intake below
// the thousands of reports per second that hash-only reporters send, and
// the report's own history (report.Event) records those steps already.
// Retractions and answers, rare and changing what the centre holds, are.
func (s *Server) reportRoutes() []route {
	return []route{
		{"POST /v1/reports", policy.ReportsSubmit, s.createReport},
		{"GET /v1/reports/{id}", policy.ReportsRead, s.reportStatus},
		{"PUT /v1/reports/{id}/files/{index}", policy.ReportsSubmit, s.uploadReportFile},
		{"POST /v1/reports/{id}/finish", policy.ReportsSubmit, s.finishReport},
		{"POST /v1/reports/{id}/retract", policy.ReportsSubmit, s.retractReport},
		{"POST /v1/reports/{id}/info", policy.ReportsSubmit, s.answerReportInfo},
	}
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	finish := false
	if v := r.URL.Query().Get("finish"); v != "" {
		var err error
		if finish, err = strconv.ParseBool(v); err != nil {
			return fieldError("/finish", fmt.Errorf("finish must be true or false, got %q", v))
		}
	}
	data, err := readJSON(w, r)
	if err != nil {
		return err
	}
	d, err := report.Decode(bytes.NewReader(data))
	if err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	var (
		rep     report.Report
		existed bool
	)
	if finish {
		rep, existed, err = s.Reports.Submit(r.Context(), p.OrgID, key, d)
	} else {
		rep, existed, err = s.Reports.CreateDraft(r.Context(), p.OrgID, key, d)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/reports/"+rep.ID)
	if !existed {
		return writeJSON(w, http.StatusCreated, wireStatus(report.NewStatus(rep)))
	}
	// A retry: the report may have moved on since, or, created as a draft
	// by the first request, be for this one to finish.
	if finish && rep.State == report.StateDraft {
		if _, err := s.Reports.Finish(r.Context(), p.OrgID, rep.ID); err != nil {
			return err
		}
	}
	return s.writeStatus(w, r, p, rep.ID)
}

func (s *Server) reportStatus(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	return s.writeStatus(w, r, p, r.PathValue("id"))
}

func (s *Server) uploadReportFile(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		return core.Errorf(core.ErrNotFound, "the item index must be a whole number >= 0, got %q", r.PathValue("index"))
	}
	limit := s.MaxReportFile
	if limit <= 0 {
		limit = report.MaxFileSize
	}
	// Refused before it is sent, if the client said its size.
	if r.ContentLength > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	// The body, and the sealed segments AddFile makes of it.
	release, err := s.holdBody(r, limit, 2)
	if err != nil {
		return err
	}
	defer release()
	content, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return err
	}
	if len(content) == 0 {
		return core.Errorf(core.ErrInvalid, "the request body is empty; send the file's bytes")
	}
	f, existed, err := s.Reports.AddFile(r.Context(), p.OrgID, id, index, content)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return writeJSON(w, status, wireFile(f))
}

func (s *Server) finishReport(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	if _, err := s.Reports.Finish(r.Context(), p.OrgID, id); err != nil {
		return err
	}
	return s.writeStatus(w, r, p, id)
}

func (s *Server) retractReport(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	if _, err := s.Reports.Retract(r.Context(), p.OrgID, id); err != nil {
		return err
	}
	if err := s.record(r, p, "report.retract", "report:"+id); err != nil {
		return err
	}
	return s.writeStatus(w, r, p, id)
}

func (s *Server) answerReportInfo(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	var req client.ReportInfoAnswer
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.Reports.AnswerInfo(r.Context(), p.OrgID, id, req.Message); err != nil {
		return err
	}
	if err := s.record(r, p, "report.info", "report:"+id); err != nil {
		return err
	}
	return s.writeStatus(w, r, p, id)
}

// writeStatus answers with the status of the caller's report id.
func (s *Server) writeStatus(w http.ResponseWriter, r *http.Request, p org.Principal, id string) error {
	st, err := s.Reports.Status(r.Context(), p.OrgID, id, s.authority)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wireStatus(st))
}

// authority describes an authority to a provider in general terms: which
// unit holds a case is not the provider's to know.
func (s *Server) authority(ctx context.Context, id int64) (string, error) {
	o, err := s.Directory.ByID(ctx, id)
	if err != nil {
		return "", err
	}
	switch o.Kind {
	case org.Europol:
		return "Europol", nil
	case org.LEA:
		return "a law-enforcement authority in " + o.Country, nil
	}
	return "an authority in " + o.Country, nil
}

func wireStatus(st report.Status) client.ReportStatus {
	out := client.ReportStatus{
		ID: st.ID, State: string(st.State), CreatedAt: st.CreatedAt, FinishedAt: st.FinishedAt,
		RetractedAt: st.RetractedAt, Files: []client.ReportFile{}, UnfoundedReasons: st.UnfoundedReasons,
		InformationRequested: st.InfoRequested, ForwardedAt: st.ForwardedAt, ForwardedTo: st.ForwardedTo,
		DoNotInformUserUntil: st.DoNotInformUserUntil, History: []client.ReportEvent{},
	}
	for _, f := range st.Files {
		out.Files = append(out.Files, wireFile(f))
	}
	for _, ev := range st.History {
		out.History = append(out.History, client.ReportEvent{Kind: string(ev.Kind), At: ev.At})
	}
	return out
}

func wireFile(f report.File) client.ReportFile {
	return client.ReportFile{Index: f.Index, Size: f.Size, MD5: f.MD5, SHA256: f.SHA256, PDQ: f.PDQ,
		Quality: f.Quality, CreatedAt: f.CreatedAt}
}

// reportFieldErrors lists a report's field errors as the API shows them.
func reportFieldErrors(ve *report.ValidationError) []client.FieldError {
	out := make([]client.FieldError, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = client.FieldError{Pointer: fe.Pointer, Detail: fe.Detail}
	}
	return out
}
