package web

import (
	"net/http"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/indicator"
)

// indicatorPage is one indicator: what it is, who attested it (to those
// entitled to the provenance, as on the list's page) and, for staff who
// may, the form that quarantines it.
type indicatorPage struct {
	base
	I indicator.Indicator
	// Attestations are shown when ShowProvenance; WithdrawnBy names the
	// organisation that withdrew it.
	Attestations   []indicator.Attestation
	ShowProvenance bool
	WithdrawnBy    string
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
	p := indicatorPage{base: s.base(r, u, "Indicator "+r.PathValue("id")), I: ind}
	// The centre sees every indicator's provenance, another organisation
	// that of the indicators it attested.
	p.ShowProvenance = u.OrgKind == org.Centre
	for _, a := range atts {
		p.ShowProvenance = p.ShowProvenance || a.OrgID == u.OrgID
	}
	if p.ShowProvenance {
		p.Attestations = atts
	}
	if p.WithdrawnBy, err = s.orgNames(r).name(ind.WithdrawnBy, ""); err != nil {
		return p, err
	}
	return p, nil
}

func (s *Server) indicatorPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.indicatorData(r, u)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "indicator", p)
}

// mayQuarantine reports whether the indicator page offers u the
// quarantine form.
func (p indicatorPage) mayQuarantine(u *auth.User) bool {
	return p.I.State == indicator.Active && mayOpen(u, policy.QuarantineAdd)
}
