package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
)

// The public complaint pages: anyone whose content a provider or host
// removed on the strength of the centre's indicators or notices may ask
// the centre to review the removal, without an account and without
// scripts, and later see the outcome with the case number and the secret
// the filing showed once. As on the reporting page, the complainant's
// address is neither stored nor logged, and the shared public limit
// counts what reaches the service.

// Messages the complaint pages' code shows.
const (
	msgProviderRequired    = "complaint.error.provider.required"
	msgProviderUnknown     = "complaint.error.provider.unknown"
	msgReferenceRequired   = "complaint.error.reference.required"
	msgDescriptionRequired = "complaint.error.description.required"
	msgCaseRequired        = "status.error.case.required"
	msgSecretRequired      = "status.error.secret.required"
	msgNoCase              = "status.error.notfound"
)

// publicTime is how the public pages show a time: in UTC, to the minute.
func publicTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

type complaintForm struct {
	publicBase
	Provider, Reference, Description, Contact             string
	MaxProvider, MaxReference, MaxDescription, MaxContact int
	// Errors are the messages shown next to the fields, by field name.
	Errors map[string]string
}

func newComplaintForm(cat *catalogue) complaintForm {
	return complaintForm{publicBase: publicBase{cat.lang}, MaxProvider: complaint.MaxProvider, MaxReference: complaint.MaxReference,
		MaxDescription: complaint.MaxDescription, MaxContact: complaint.MaxContact, Errors: map[string]string{}}
}

type complaintFiled struct {
	publicBase
	Case, Secret, Received, Due string
}

func (s *Server) complaintFormPage(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	return s.renderPublic(w, http.StatusOK, cat, "public_complaint", newComplaintForm(cat))
}

func (s *Server) fileComplaint(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	if err := form(w, r); err != nil {
		return s.publicFailure(w, r, cat, complaintFlow, err)
	}
	p := newComplaintForm(cat)
	f, errs := complaint.CheckFiling(complaint.Filing{Provider: r.PostFormValue("provider"), Reference: r.PostFormValue("reference"),
		Description: r.PostFormValue("description"), Contact: r.PostFormValue("contact")}, true)
	p.Provider, p.Reference, p.Description, p.Contact = f.Provider, f.Reference, f.Description, f.Contact
	// The form's own words for what a person commonly gets wrong; the
	// service's for its finer rules (lengths, characters).
	for field, err := range errs {
		p.Errors[field] = capitalise(err.Error())
	}
	for field, msg := range map[string]string{"provider": msgProviderRequired, "reference": msgReferenceRequired, "description": msgDescriptionRequired} {
		if errs[field] != nil && strings.TrimSpace(r.PostFormValue(field)) == "" {
			p.Errors[field] = cat.t(msg)
		}
	}
	if errs["contact"] != nil {
		p.Errors["contact"] = cat.t(msgContactInvalid)
	}
	if len(p.Errors) > 0 {
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_complaint", p)
	}
	if limited, err := s.publicLimited(w, r, cat, complaintFlow, s.publicLimit); limited {
		return err
	}
	rc, err := s.Complaints.File(r.Context(), org.Principal{}, f)
	if errors.Is(err, complaint.ErrNoProvider) {
		p.Errors["provider"] = cat.t(msgProviderUnknown)
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_complaint", p)
	}
	if err != nil {
		return s.publicFailure(w, r, cat, complaintFlow, err)
	}
	return s.renderPublic(w, http.StatusCreated, cat, "public_complaint_filed", complaintFiled{publicBase: publicBase{cat.lang},
		Case: rc.Case, Secret: rc.Secret, Received: publicTime(rc.ReceivedAt), Due: publicTime(rc.DueAt)})
}

// statusForm asks for the case number and the secret; the secret is
// never shown back.
type statusForm struct {
	publicBase
	Case   string
	Errors map[string]string
	// NotFound: no complaint has the case number and the secret given.
	NotFound string
}

type statusPage struct {
	publicBase
	S                      complaint.Status
	Received, Due, Decided string
}

func newStatusForm(cat *catalogue) statusForm {
	return statusForm{publicBase: publicBase{cat.lang}, Errors: map[string]string{}}
}

func (s *Server) statusFormPage(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	return s.renderPublic(w, http.StatusOK, cat, "public_complaint_status", newStatusForm(cat))
}

func (s *Server) complaintStatus(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	if err := form(w, r); err != nil {
		return s.publicFailure(w, r, cat, statusFlow, err)
	}
	p := newStatusForm(cat)
	p.Case = strings.TrimSpace(r.PostFormValue("case"))
	secret := strings.TrimSpace(r.PostFormValue("secret"))
	if p.Case == "" {
		p.Errors["case"] = cat.t(msgCaseRequired)
	}
	if secret == "" {
		p.Errors["secret"] = cat.t(msgSecretRequired)
	}
	if len(p.Errors) > 0 {
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_complaint_status", p)
	}
	// Every lookup counts, a wrong one too: the limit is what keeps
	// secrets from being tried by the thousand.
	if limited, err := s.publicLimited(w, r, cat, statusFlow, s.lookupLimit); limited {
		return err
	}
	st, err := s.Complaints.Status(r.Context(), p.Case, secret)
	if errors.Is(err, core.ErrNotFound) {
		p.NotFound = cat.t(msgNoCase)
		return s.renderPublic(w, http.StatusNotFound, cat, "public_complaint_status", p)
	}
	if err != nil {
		return s.publicFailure(w, r, cat, statusFlow, err)
	}
	sp := statusPage{publicBase: publicBase{cat.lang}, S: st, Received: publicTime(st.ReceivedAt), Due: publicTime(st.DueAt)}
	if !st.DecidedAt.IsZero() {
		sp.Decided = publicTime(st.DecidedAt)
	}
	return s.renderPublic(w, http.StatusOK, cat, "public_complaint_state", sp)
}
