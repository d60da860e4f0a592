package takedown

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// Refer is the handler of JobRefer, which an assessment with illegal
// items queues (ref: the case's ID). In order, each step retry-safe:
//
//  1. If the assessment asked for it, the hashes (SHA-256, MD5, and PDQ
//     of good quality) of the baseline items it listed (not those
//     classified by default, which no analyst saw) are submitted to
//     Options.Indicators as indicators attested by the assessing
//     organisation (submitting a value attested already changes nothing).
//  2. The case is reported to the competent authority through the
//     centre's forwarding: a report (package report) made by the centre
//     (Options.Centre) as its provider, with the idempotency key
//     "takedown-" and the case's ID, of type known if an illegal item
//     matched known material and new otherwise, whose items are the
//     illegal items (their content as files while it is kept, else their
//     hashes), whose service is the reported site and whose user country
//     is the hosting country, so that forward.Decide picks that country's
//     authority (and Europol always). It is finished, triaged and decided
//     to be forwarded on behalf of the assessor, and package forward
//     routes and delivers it.
//  3. The notices that go through a Europol organisation without a
//     webhook, and were not sent yet, are recorded delivered with the
//     report, which Europol receives as every forwarded report (see
//     SendNotice), in the referral's transaction.
//  4. The content of every item of the case is deleted.
func (s *Service) Refer(ctx context.Context, ref string) error {
	return permanent(s.refer(ctx, ref))
}

func (s *Service) refer(ctx context.Context, id string) error {
	r, err := s.st.TakedownCase(ctx, id)
	if err != nil {
		return err
	}
	if r.AssessedAt.IsZero() {
		return core.Errorf(core.ErrInvalid, "case %s is not assessed: there is nothing to refer", id)
	}
	var illegal []Item
	for _, it := range r.Items {
		if it.Classification.Illegal() {
			illegal = append(illegal, it)
		}
	}
	if len(illegal) > 0 && r.SubmitIndicators && s.o.Indicators != nil && !hasEvent(r.Case, EventIndicators) {
		if err := s.submitIndicators(ctx, r, illegal); err != nil {
			return err
		}
	}
	reportID := r.Referral
	if len(illegal) > 0 && reportID == "" && s.o.Reports != nil && s.o.Triage != nil {
		if reportID, err = s.referral(ctx, r, illegal); err != nil {
			return fmt.Errorf("reporting case %s to the police: %w", id, err)
		}
	}
	// The notices that go with the report: through a Europol without a
	// webhook.
	type withReport struct {
		n  Notice
		eu org.Organisation
	}
	var with []withReport
	for _, n := range r.Notices {
		if n.Channel != ByEuropol || n.Via == 0 || n.Sends > 0 {
			continue
		}
		ct, err := s.st.NoticeContact(ctx, n.Via)
		if err != nil {
			return err
		}
		if !ct.HasWebhook {
			with = append(with, withReport{n, ct.Org})
		}
	}
	at := s.now()
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockCase(ctx, id)
		if err != nil {
			return err
		}
		if reportID != "" && cur.Referral == "" {
			if err := tx.SetReferred(ctx, id, reportID, at); err != nil {
				return err
			}
			if err := tx.AddEvent(ctx, id, Event{At: at, Kind: EventReferred, Actor: audit.System, Detail: reportID}); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, audit.Event{At: at, Actor: audit.System, Action: "takedown.case.refer",
				Object: "case:" + id, Purpose: "report " + reportID, Outcome: audit.OK}); err != nil {
				return err
			}
			for _, w := range with {
				if cur.State != Noticed {
					break
				}
				if _, err := s.deliveredWithReport(ctx, tx, w.n, w.eu, reportID, at); err != nil {
					return err
				}
			}
		}
		return tx.DropContent(ctx, id, nil)
	})
}

func hasEvent(c Case, k EventKind) bool {
	return slices.ContainsFunc(c.Events, func(ev Event) bool { return ev.Kind == k })
}

// submitIndicators submits the hashes of the baseline items of case r
// the assessment listed as attested by the assessing organisation, and
// records it.
func (s *Service) submitIndicators(ctx context.Context, r Record, illegal []Item) error {
	var subs []indicator.Submission
	ref := "takedown case " + r.ID
	for _, it := range illegal {
		if it.Classification != Baseline || it.ByDefault {
			continue
		}
		add := func(sig indicator.Signal, v string) {
			if v != "" {
				subs = append(subs, indicator.Submission{Signal: sig, Value: v, Category: indicator.Baseline, Reference: ref})
			}
		}
		add(indicator.SHA256, it.SHA256)
		add(indicator.MD5, it.MD5)
		if it.Quality >= minQuality {
			add(indicator.PDQ, it.PDQ)
		}
	}
	if len(subs) == 0 {
		return nil
	}
	o, err := s.st.OrgByID(ctx, r.AssessedOrg)
	if err != nil {
		return err
	}
	res, err := s.o.Indicators.Submit(ctx, s.o.IndicatorList, o.Principal(), subs)
	if err != nil {
		return fmt.Errorf("submitting the indicators of case %s: %w", r.ID, err)
	}
	created := 0
	for _, x := range res {
		if x.Created {
			created++
		}
	}
	at := s.now()
	detail := fmt.Sprintf("%d hashes submitted to list %s as attested by organisation %d (%d new indicators)",
		len(subs), s.o.IndicatorList, o.ID, created)
	return s.st.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.AddEvent(ctx, r.ID, Event{At: at, Kind: EventIndicators, Actor: audit.System, Org: o.ID, Detail: detail}); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.Event{At: at, OrgID: o.ID, OrgName: o.Name, Actor: audit.System,
			Action: "takedown.case.indicators", Object: "case:" + r.ID, Purpose: detail, Outcome: audit.OK})
	})
}

// referral makes, finishes, triages and forwards the report of case r's
// illegal items, and returns its ID. Every step returns what an earlier
// run did: the report is found by its idempotency key, a file uploaded
// again is the same file, a finished report is not finished twice, a
// triaged one is not triaged twice, and a forwarded one is left as it is.
func (s *Service) referral(ctx context.Context, r Record, illegal []Item) (string, error) {
	items := illegal[:min(len(illegal), report.MaxItems)]
	d := referralDraft(r, items)
	centre, err := s.o.Centre(ctx)
	if err != nil {
		return "", err
	}
	rep, _, err := s.o.Reports.CreateDraft(ctx, centre, "takedown-"+r.ID, d)
	if err != nil {
		return "", err
	}
	if rep.State == report.StateDraft {
		for i, it := range items {
			if d.Items[i].Kind != report.ItemFile {
				continue
			}
			sealed, err := s.st.TakedownContent(ctx, r.ID, it.Index)
			if err != nil {
				return "", err
			}
			if sealed == nil {
				return "", fmt.Errorf("the content of item %d was deleted before the report was made", it.Index)
			}
			b, err := s.o.Sealer.Open(ctx, sealed, ContentAAD(r.ID, it.Index))
			if err != nil {
				return "", fmt.Errorf("opening item %d: %w", it.Index, err)
			}
			if _, _, err := s.o.Reports.AddFile(ctx, centre, rep.ID, i, b); err != nil {
				return "", err
			}
		}
		if _, err := s.o.Reports.Finish(ctx, centre, rep.ID); err != nil {
			return "", err
		}
	}
	if err := s.o.Triage.Triage(ctx, rep.ID); err != nil {
		return "", err
	}
	view, err := s.o.Triage.Case(ctx, rep.ID)
	if err != nil {
		return "", err
	}
	// A report bundled into the case of an earlier one about the same
	// content is decided with it.
	lead, state := rep.ID, view.Report.State
	if state == report.StateBundled {
		lead = view.CaseID
		for _, b := range view.Bundle {
			if b.ReportID == lead {
				state = b.State
			}
		}
	}
	switch state {
	case report.StateQueued, report.StateInfoRequested:
		// Decided meanwhile (core.ErrConflict), the next run sees how.
		if err := s.o.Triage.Decide(ctx, r.AssessedBy, lead, triage.Decision{Kind: triage.Forward}); err != nil {
			return "", err
		}
	case report.StateFinished:
		return "", fmt.Errorf("report %s is not triaged yet", rep.ID)
	}
	return rep.ID, nil
}

// referralDraft is the report of case r's illegal items.
func referralDraft(r Record, items []Item) report.Draft {
	d := report.Draft{
		IncidentTime: r.ReceivedAt,
		Type:         report.TypeNew,
		Service:      report.OnlineService{Type: report.Hosting, URL: site(r.URL)},
		Awareness:    report.Awareness{Method: report.HotlineReport},
		AdditionalInfo: fmt.Sprintf("Takedown case %s: a URL reported to the centre's hotline, assessed on %s by organisation %d; %d illegal resources.",
			r.ID, r.AssessedAt.Format("2006-01-02"), r.AssessedOrg, len(items)),
	}
	if cc, err := org.ParseCountry(r.Hosting.Country); err == nil {
		d.User.Country = cc
	}
	var (
		size    int64
		inlined int
	)
	for _, it := range items {
		ri := report.Item{Kind: report.ItemHash, Hashes: report.Hashes{SHA256: it.SHA256, MD5: it.MD5, PDQ: it.PDQ}, Public: true}
		// An inline item has no URL of its own (a report's must be
		// http or https): it is where its page is.
		u := it.URL
		if inline(u) {
			u = r.URL
			inlined++
		}
		if len(u) <= report.MaxURL {
			ri.URL = u
		}
		// Content goes as a file while kept and within a report's limits;
		// else its hashes say what it is.
		if it.HasContent && it.Size <= report.MaxFileSize && size+it.Size <= report.MaxReportSize {
			ri = report.Item{Kind: report.ItemFile, URL: ri.URL, Public: true}
			size += it.Size
		}
		if len(it.Matches) > 0 {
			d.Type = report.TypeKnown
		}
		d.Items = append(d.Items, ri)
	}
	if inlined > 0 {
		d.AdditionalInfo += fmt.Sprintf(" %d of them are inline on the page (data: URIs), given with the page's URL.", inlined)
	}
	return d
}

// site is the address of the site of rawURL: its scheme and host.
func site(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}).String()
}
