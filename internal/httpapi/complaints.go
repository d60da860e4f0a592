package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
)

// complaintRoutes are the routes of complaints about removed content: the
// public files one with no key and follows it with the case's secret; a
// provider or host files on a person's behalf and follows the complaints
// about its own removals (policy.OwnOrg). Reviewers decide in the
// console.
func (s *Server) complaintRoutes() []route {
	rs := []route{
		{"POST /v1/public/complaints", noKey, s.publicComplaint},
		// No key: the route reads the case's secret from Authorization
		// itself, and never as an API key.
		{"GET /v1/public/complaints/{case}", noKey, s.publicComplaintStatus},
		{"POST /v1/complaints", policy.ComplaintsSubmit, s.submitComplaint},
		{"GET /v1/complaints", policy.ComplaintsRead, s.complaints},
		{"GET /v1/complaints/{case}", policy.ComplaintsRead, s.complaint},
	}
	for i, rt := range rs {
		h := rt.handle
		rs[i].handle = func(w http.ResponseWriter, r *http.Request, p org.Principal) error {
			if s.Complaints == nil {
				return errNoComplaints
			}
			return h(w, r, p)
		}
	}
	return rs
}

var errNoComplaints = core.Errorf(core.ErrUnavailable, "this server does not take complaints")

// maxComplaintBody bounds a complaint's request body, from anyone.
const maxComplaintBody = 16 << 10

// errTooManyComplaints refuses a public request from an address over its
// rate.
var errTooManyComplaints = core.Errorf(core.ErrTooMany, "too many requests from this address; retry after the number of seconds in Retry-After")

// publicAllow counts a public request against its address's allowance,
// before anything of it is read; the address is never kept.
func (s *Server) publicAllow(r *http.Request, l *ratelimit.Public) error {
	if l != nil {
		if ok, wait := l.Allow(r.RemoteAddr); !ok {
			return &core.RetryAfter{Err: errTooManyComplaints, Wait: wait}
		}
	}
	return nil
}

func (s *Server) publicComplaint(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.PublicLimit); err != nil {
		return err
	}
	return s.fileComplaint(w, r, org.Principal{})
}

func (s *Server) submitComplaint(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	return s.fileComplaint(w, r, p)
}

// fileComplaint files the complaint of r's body, by the public if by is
// the zero Principal.
func (s *Server) fileComplaint(w http.ResponseWriter, r *http.Request, by org.Principal) error {
	var req client.ComplaintRequest
	if err := decodeJSONMax(w, r, &req, maxComplaintBody); err != nil {
		return err
	}
	f := complaint.Filing{Provider: req.Provider, Reference: req.Reference, Description: req.Description, Contact: req.Contact}
	// Every invalid field named at once; the service checks them again.
	if _, bad := complaint.CheckFiling(f, by.OrgID == 0); len(bad) > 0 {
		var errs fieldErrors
		for _, k := range []string{"provider", "reference", "description", "contact"} {
			if err := bad[k]; err != nil {
				errs.add("/"+k, err)
			}
		}
		return errs.err()
	}
	rc, err := s.Complaints.File(r.Context(), by, f)
	if errors.Is(err, complaint.ErrNoProvider) {
		var errs fieldErrors
		errs.add("/provider", err)
		return errs.err()
	}
	if err != nil {
		return err
	}
	loc := "/v1/public/complaints/" + rc.Case
	if by.OrgID != 0 {
		loc = "/v1/complaints/" + rc.Case
	}
	w.Header().Set("Location", loc)
	receipt := client.ComplaintReceipt{Case: rc.Case, Secret: rc.Secret, ReceivedAt: rc.ReceivedAt, DueAt: rc.DueAt}
	if by.OrgID != 0 {
		// Only the provider that filed learns whether the reference is
		// one of its own: told to the public, it would say whether the
		// provider reported someone to the centre.
		receipt.Resolved = &rc.Resolved
	}
	return writeJSON(w, http.StatusCreated, receipt)
}

// errNoSecret asks for the case's secret; it says nothing of the case.
var errNoSecret = core.Errorf(core.ErrUnauthenticated, "the case's secret is needed: send the header \"Authorization: Bearer <secret>\" with the secret given when the complaint was filed")

func (s *Server) publicComplaintStatus(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	if err := s.publicAllow(r, s.LookupLimit); err != nil {
		return err
	}
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return errNoSecret
	}
	st, err := s.Complaints.Status(r.Context(), r.PathValue("case"), secret)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, client.ComplaintStatus{Case: st.Case, State: string(st.State), ReceivedAt: st.ReceivedAt,
		DueAt: st.DueAt, DecidedAt: st.DecidedAt, Reasons: st.Reasons})
}

func providerComplaint(c complaint.ProviderComplaint) client.Complaint {
	return client.Complaint{Case: c.ID, Reference: c.Reference, State: string(c.State), ReceivedAt: c.ReceivedAt, DueAt: c.DueAt,
		DecidedAt: c.DecidedAt, Reasons: c.Reasons, Reinstate: c.Reinstate, FiledByYou: c.Filed, Report: c.Report}
}

func (s *Server) complaints(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	q := r.URL.Query()
	var errs fieldErrors
	state, err := complaint.ParseState(q.Get("state"))
	if err != nil {
		errs.add("/state", err)
	}
	if len(q.Get("after")) > 64 {
		errs.add("/after", core.Errorf(core.ErrInvalid, "after must be the next of an earlier page"))
	}
	limit := errs.limit(q, complaint.DefaultLimit, complaint.MaxLimit)
	if err := errs.err(); err != nil {
		return err
	}
	cs, err := s.Complaints.ProviderComplaints(r.Context(), p.OrgID, complaint.Query{State: state, After: q.Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	page := client.Complaints{Complaints: []client.Complaint{}}
	for _, c := range cs {
		page.Complaints = append(page.Complaints, providerComplaint(c))
	}
	if len(cs) == limit {
		page.Next = cs[len(cs)-1].ID
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) complaint(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	c, err := s.Complaints.ProviderComplaint(r.Context(), p.OrgID, r.PathValue("case"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, providerComplaint(c))
}
