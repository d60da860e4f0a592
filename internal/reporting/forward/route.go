package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	// An offline IP-to-country table embedded in the binary (IP2Location
	// LITE data, MIT-licensed code, no dependencies): routing must not
	// send a reported user's IP address to an online lookup service, and
	// a database file to install and update would be one more thing to
	// get wrong on every server. Its data is as old as the version in
	// go.mod; upgrading the module refreshes it.
	"github.com/phuslu/iploc"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Basis is the fact that made an authority competent for a report.
type Basis string

// The bases, in the order Decide tries them.
const (
	BasisUploadIP  Basis = "upload_ip"              // the country of an IP address the content was uploaded from
	BasisIP        Basis = "ip"                     // the country of another IP address the user used
	BasisUser      Basis = "user_country"           // the user's country, as the provider states it
	BasisProvider  Basis = "provider_establishment" // the country the provider is established in
	BasisNoneFound Basis = "none"                   // no authority competent: Europol alone
)

// Decision is where a report goes, and why.
type Decision struct {
	// Country is the competent authority's country, "" if none.
	Country string
	Basis   Basis
	// Authorities are the competent country's law-enforcement
	// authorities and every Europol organisation, by ID.
	Authorities []int64
}

// ErrNoAuthority is Decide's error when there is neither a competent
// authority nor Europol to route a report to: one must be registered
// (ward admin org add --kind lea|europol) before the report can leave.
var ErrNoAuthority = errors.New("no law-enforcement authority or Europol organisation is registered to route the report to")

// Decide finds the authorities of a report with content d from provider,
// among orgs. The competent country is the first, in this order, that
// has at least one registered organisation of kind lea: the countries of
// the reported user's IP addresses, those of uploads first (Annex III
// 2(5) asks for the upload's), each in the report's order; the user's
// stated country; the provider's establishment. Every lea organisation of
// that country gets the report, and every europol organisation always
// does; Europol alone when no country has an authority.
//
// IP addresses are placed with an offline table; private, loopback,
// link-local, documentation and other reserved addresses have no country.
func Decide(d report.Draft, provider org.Organisation, orgs []org.Organisation) (Decision, error) {
	type candidate struct {
		country string
		basis   Basis
	}
	var cands []candidate
	for _, uploads := range []bool{true, false} {
		for _, c := range d.User.IPCaptures {
			if (c.Event == report.CaptureUpload) != uploads {
				continue
			}
			if cc := ipCountry(c.IP); cc != "" {
				b := BasisIP
				if uploads {
					b = BasisUploadIP
				}
				cands = append(cands, candidate{cc, b})
			}
		}
	}
	if cc, err := org.ParseCountry(d.User.Country); err == nil {
		cands = append(cands, candidate{cc, BasisUser})
	}
	cands = append(cands, candidate{provider.Country, BasisProvider})

	lea := map[string][]int64{}
	var europol []int64
	for _, o := range orgs {
		switch o.Kind {
		case org.LEA:
			lea[o.Country] = append(lea[o.Country], o.ID)
		case org.Europol:
			europol = append(europol, o.ID)
		}
	}
	dec := Decision{Basis: BasisNoneFound}
	for _, c := range cands {
		if ids := lea[c.country]; len(ids) > 0 {
			dec = Decision{Country: c.country, Basis: c.basis, Authorities: ids}
			break
		}
	}
	dec.Authorities = append(dec.Authorities, europol...)
	if len(dec.Authorities) == 0 {
		return Decision{}, ErrNoAuthority
	}
	return dec, nil
}

// ipCountry returns the country of IP address s (IPCountry), or "".
func ipCountry(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return IPCountry(a)
}

// IPCountry returns the country of public IP address a in the embedded
// table, or "" for an address it does not place: private, loopback,
// link-local, documentation and other reserved addresses have none.
func IPCountry(a netip.Addr) string {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return ""
	}
	// The table says "ZZ" for reserved ranges it knows (shared address
	// space, documentation): not a country.
	cc, err := org.ParseCountry(iploc.IPCountry(a))
	if err != nil {
		return ""
	}
	return cc
}

// routedDetail is the sealed detail of an EventRouted.
type routedDetail struct {
	Country string `json:"country,omitempty"`
	Basis   Basis  `json:"basis"`
}

// Route routes report id, which the centre decided to forward, to its
// authorities (see Decide): the handler of JobRoute. A report
// routed already is left as it is, so a repeated job changes nothing.
// It fails with ErrNoAuthority while no authority can receive the
// report, so that the job is retried and, in the end, shown to staff.
func (s *Service) Route(ctx context.Context, id string) error {
	return permanent(s.route(ctx, id))
}

func (s *Service) route(ctx context.Context, id string) error {
	r, err := s.reports.Open(ctx, id)
	if err != nil {
		return err
	}
	if r.State != report.StateForwarded {
		return core.Errorf(core.ErrConflict, "report %s is %s, not forwarded", id, r.State)
	}
	provider, err := s.store.OrgByID(ctx, r.Provider)
	if err != nil {
		return err
	}
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return err
	}
	dec, err := Decide(r.Draft, provider, orgs)
	if err != nil {
		return fmt.Errorf("routing report %s: %w", id, err)
	}
	// Every event records the decision: Europol's too, which tells
	// whether an authority was competent besides.
	detail, err := json.Marshal(routedDetail{Country: dec.Country, Basis: dec.Basis})
	if err != nil {
		return err
	}
	if detail, err = s.reports.SealDetail(ctx, id, detail); err != nil {
		return fmt.Errorf("sealing routing detail: %w", err)
	}
	targets := make([]Target, len(dec.Authorities))
	for i, a := range dec.Authorities {
		targets[i] = Target{Org: a, Detail: detail}
	}
	at := s.Clock.Now()
	return s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		_, err := AddDeliveries(ctx, tx, id, targets, at)
		return err
	})
}

// AddDeliveries routes report id, which must be in report.StateForwarded
// (else core.ErrConflict), to targets at time at, within tx: a delivery
// and an EventRouted each, and a JobPush for each target with a webhook
// (the others pull). It returns how many deliveries it created: none if
// the report was routed already, whatever the targets, so that a repeated
// JobRoute changes nothing.
func AddDeliveries(ctx context.Context, tx Tx, id string, targets []Target, at time.Time) (int, error) {
	st, err := tx.ReportState(ctx, id)
	if err != nil {
		return 0, err
	}
	if st != report.StateForwarded {
		return 0, core.Errorf(core.ErrConflict, "report %s is %s, not forwarded", id, st)
	}
	if routed, err := tx.Routed(ctx, id); err != nil || routed {
		return 0, err
	}
	for _, t := range targets {
		hook, err := tx.HasWebhook(ctx, t.Org)
		if err != nil {
			return 0, err
		}
		if err := tx.AddDelivery(ctx, id, t.Org, at); err != nil {
			return 0, err
		}
		ev := report.Event{ReportID: id, At: at, Kind: report.EventRouted, Actor: audit.System, Org: t.Org, Detail: t.Detail}
		if err := tx.AddEvent(ctx, ev); err != nil {
			return 0, err
		}
		if hook {
			if err := tx.QueueJob(ctx, JobPush, PushRef(id, t.Org), at); err != nil {
				return 0, err
			}
		}
	}
	return len(targets), nil
}
