package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
)

// The reviewers' pages of complaints about removed content: the queue
// (open first, by due date) and a complaint's page with what it concerns
// and the decision. The service audits each opening of a complaint (its
// description and contact are personal data) and each decision.

// reviewer is u as package complaint sees it, with the scope of a.
func reviewer(u *auth.User, a policy.Action) complaint.Reviewer {
	return complaint.Reviewer{Actor: fmt.Sprintf("user:%d", u.ID), Org: u.OrgID, OrgName: u.OrgName, Scope: policy.Scope(subject(u), a)}
}

// complaintStateLabels name the states in the queue's tabs.
var complaintStateLabels = map[complaint.State]string{complaint.Open: "Open", complaint.Upheld: "Upheld", complaint.Rejected: "Rejected", "": "All"}

// complaintsLink is the URL of the queue with parameters kv (pairs; empty
// values left out).
func complaintsLink(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return "/complaints"
	}
	return "/complaints?" + v.Encode()
}

type complaintsPage struct {
	base
	Tabs  []listTab
	Rows  []complaintRow
	Next  string
	First string // the first page, when not on it
}

type complaintRow struct {
	complaint.Complaint
	Overdue bool
	// Due is how long until the due date, or since it if Overdue.
	Due string
}

// complaintRowOf is c as a row, at now.
func complaintRowOf(c complaint.Complaint, now time.Time) complaintRow {
	row := complaintRow{Complaint: c, Overdue: c.Overdue(now)}
	if c.State == complaint.Open {
		if row.Overdue {
			row.Due = age(now.Sub(c.DueAt)) + " overdue"
		} else {
			row.Due = "in " + age(c.DueAt.Sub(now))
		}
	}
	return row
}

func (s *Server) complaints(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	qs := r.URL.Query()
	st, err := complaint.ParseState(qs.Get("state"))
	if err != nil {
		return err
	}
	q := complaint.Query{State: st, After: qs.Get("after"), Limit: complaint.DefaultLimit + 1}
	if q.After != "" && complaint.NormaliseID(q.After) != q.After {
		return core.Errorf(core.ErrInvalid, "after: not a complaint's case number")
	}
	// One more than shown tells whether there is a next page.
	list, err := s.Complaints.Queue(r.Context(), reviewer(u, policy.ComplaintsRead), q)
	if err != nil {
		return err
	}
	// A list shows the references of removals complained about: each
	// one is in the audit trail, with its view.
	if err := s.recordPurpose(r, u, "complaint.list", "complaints", "list: state="+string(cmp.Or(st, "all"))); err != nil {
		return err
	}
	p := complaintsPage{base: s.base(r, u, "Complaints")}
	for _, t := range append([]complaint.State{""}, complaint.States...) {
		p.Tabs = append(p.Tabs, listTab{Label: complaintStateLabels[t], Link: complaintsLink("state", string(t)), Current: t == st})
	}
	if len(list) > complaint.DefaultLimit {
		list = list[:complaint.DefaultLimit]
		p.Next = complaintsLink("state", string(st), "after", list[len(list)-1].ID)
	}
	if q.After != "" {
		p.First = complaintsLink("state", string(st))
	}
	now := time.Now()
	for _, c := range list {
		p.Rows = append(p.Rows, complaintRowOf(c, now))
	}
	return s.render(w, http.StatusOK, "complaints", p)
}

type complaintPage struct {
	base
	C complaintRow
	// FiledBy names who filed it; DecidedBy who decided, with the
	// organisation.
	FiledBy, DecidedBy string
	// Decide: the user may decide and the complaint is open.
	Decide bool
	// What a refused decision sent, and why it was refused, by field
	// (outcome, reasons).
	Outcome, Reasons string
	Errors           map[string]string
	MaxReasons       int
}

// complaintData is the page of the complaint of the request's {id}.
func (s *Server) complaintData(r *http.Request, u *auth.User) (complaintPage, error) {
	c, err := s.Complaints.Complaint(r.Context(), reviewer(u, policy.ComplaintsRead), r.PathValue("id"))
	if err != nil {
		return complaintPage{}, err
	}
	p := complaintPage{base: s.base(r, u, "Complaint "+c.ID), C: complaintRowOf(c, time.Now()), Errors: map[string]string{},
		MaxReasons: complaint.MaxReasons, Decide: c.State == complaint.Open && mayOpen(u, policy.ComplaintsDecide)}
	names := s.orgNames(r)
	if p.FiledBy, err = names.name(c.FiledBy, "the complainant, on this site"); err != nil {
		return p, err
	}
	if c.DecidedBy != "" {
		if p.DecidedBy, err = s.actorName(r, map[string]string{}, c.DecidedBy); err != nil {
			return p, err
		}
		if on, err := names.name(c.DecidedOrg, ""); err != nil {
			return p, err
		} else if on != "" {
			p.DecidedBy += ", " + on
		}
	}
	return p, nil
}

func (s *Server) complaintPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.complaintData(r, u)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("decided") == "1" && p.C.State != complaint.Open {
		p.Flash = "Your decision was recorded."
	}
	return s.render(w, http.StatusOK, "complaint", p)
}

func (s *Server) decideComplaint(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	outcome, reasons := r.PostFormValue("outcome"), r.PostFormValue("reasons")
	field := "outcome"
	d, err := complaint.ParseOutcome(outcome)
	var decided complaint.Complaint
	if err == nil {
		field = "reasons"
		decided, err = s.Complaints.Decide(r.Context(), reviewer(u, policy.ComplaintsDecide), r.PathValue("id"), complaint.Decision{Outcome: d, Reasons: reasons})
	}
	if errors.Is(err, core.ErrInvalid) {
		p, derr := s.complaintData(r, u)
		if derr != nil {
			return derr
		}
		if outcome == "" {
			err = core.Errorf(core.ErrInvalid, "choose whether the complaint is upheld or rejected")
		}
		p.Outcome, p.Reasons, p.Errors[field] = outcome, reasons, capitalise(err.Error())
		return s.render(w, http.StatusBadRequest, "complaint", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/complaints/"+url.PathEscape(decided.ID)+"?decided=1", http.StatusSeeOther)
	return nil
}
