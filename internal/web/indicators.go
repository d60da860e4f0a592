package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
)

// indicatorPage is one indicator: what it is, who attested it (to those
// entitled to the provenance, as on the list's page) and, for staff who
// may, the form that quarantines it.
type indicatorPage struct {
	base
	I indicator.Indicator
	// Attestations are shown when ShowProvenance.
	Attestations   []indicator.Attestation
	ShowProvenance bool
	WithdrawnBy    string // the organisation that withdrew it
	// Quarantine: the user may quarantine it (it is active); Review: the
	// user may open its quarantine's page.
	Quarantine, Review bool
	Reason, Error      string // the quarantine form's, when refused
	MaxReason          int
}

// indicatorData is the page of the indicator of the request's {id}.
func (s *Server) indicatorData(r *http.Request, u *auth.User) (indicatorPage, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return indicatorPage{}, err
	}
	ind, atts, err := s.Indicators.Get(r.Context(), id)
	if err != nil {
		return indicatorPage{}, err
	}
	p := indicatorPage{base: s.base(r, u, fmt.Sprintf("Indicator %d", id)), I: ind, MaxReason: quarantine.MaxReason,
		Quarantine: ind.State == indicator.Active && mayOpen(u, policy.QuarantineAdd),
		Review:     mayOpen(u, policy.QuarantineRead)}
	// The centre sees every indicator's provenance, another organisation
	// that of the indicators it attested.
	p.ShowProvenance = u.OrgKind == org.Centre
	for _, a := range atts {
		p.ShowProvenance = p.ShowProvenance || a.OrgID == u.OrgID
	}
	if p.ShowProvenance {
		p.Attestations = atts
	}
	p.WithdrawnBy, err = s.orgNames(r).name(ind.WithdrawnBy, "")
	return p, err
}

func (s *Server) indicatorPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.indicatorData(r, u)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("quarantined") == "1" && p.I.State == indicator.Quarantined {
		p.Flash = "The indicator is quarantined: it is no longer matched, and waits for a reviewer."
	}
	return s.render(w, http.StatusOK, "indicator", p)
}

// quarantineActor is u as package quarantine sees it, with the scope of a.
func quarantineActor(u *auth.User, a policy.Action) quarantine.Actor {
	return quarantine.Actor{Org: u.OrgID, OrgName: u.OrgName, Actor: fmt.Sprintf("user:%d", u.ID), Kind: u.OrgKind, Scope: policy.Scope(subject(u), a)}
}

// quarantineIndicator quarantines an indicator by hand, from its page.
func (s *Server) quarantineIndicator(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	reason := r.PostFormValue("reason")
	err = s.Quarantine.Quarantine(r.Context(), quarantineActor(u, policy.QuarantineAdd), id, quarantine.Manual, reason)
	if errors.Is(err, core.ErrInvalid) {
		p, derr := s.indicatorData(r, u)
		if derr != nil {
			return derr
		}
		p.Reason, p.Error = reason, capitalise(err.Error())
		return s.render(w, http.StatusBadRequest, "indicator", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/indicators/%d?quarantined=1", id), http.StatusSeeOther)
	return nil
}
