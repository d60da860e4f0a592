package httpapi

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/takedown"
)

// takedownRoutes are the hotline channel's routes: URL reports from the
// public (no key) and from partner hotlines, the cases of a hotline's
// queue (the centre's keys see every case) with their assessment and
// hand-over, the hosts' answers to their notices, and the figures. Which
// cases and notices a key reaches, the takedown service decides by the
// scope of the viewer it is given; a case out of reach is not found.
func (s *Server) takedownRoutes() []route {
	rs := []route{
		{"POST /v1/public/url-reports", noKey, s.publicURLReport},
		{"POST /v1/hotline/url-reports", policy.URLReportsSubmit, s.urlReport},
		{"GET /v1/hotline/cases", policy.CasesRead, s.cases},
		{"GET /v1/hotline/cases/{id}", policy.CasesRead, s.takedownCase},
		{"GET /v1/hotline/cases/{id}/items/{index}/content", policy.CasesRead, s.caseContent},
		{"POST /v1/hotline/cases/{id}/assessment", policy.CasesAssess, s.assessCase},
		{"POST /v1/hotline/cases/{id}/handover", policy.CasesAssess, s.handOverCase},
		{"POST /v1/notices/{id}/removed", policy.NoticesAnswer, s.answerNotice},
		{"GET /v1/takedown/figures", policy.TakedownFigures, s.takedownFigures},
	}
	for i, rt := range rs {
		h := rt.handle
		rs[i].handle = func(w http.ResponseWriter, r *http.Request, p org.Principal) error {
			if s.Takedown == nil {
				return errNoTakedown
			}
			return h(w, r, p)
		}
	}
	return rs
}

var errNoTakedown = core.Errorf(core.ErrUnavailable, "this server does not run the takedown flow")

// Limits of the takedown routes' request bodies.
const (
	maxURLReportBody  = 16 << 10 // a URL report, from anyone
	maxAssessmentBody = 64 << 10
	maxContact        = 254 // bytes of an e-mail address (RFC 5321's path limit)
)

// viewer is the takedown viewer of a key's request for action a.
func viewer(p org.Principal, a policy.Action) takedown.Viewer {
	return takedown.Viewer{Org: p.OrgID, Kind: p.Kind, Actor: "key:" + p.KeyID, Scope: policy.Scope(policy.ForPrincipal(p), a),
		OrgName: p.OrgName}
}

// errTooManyReports refuses a report from an address over its rate.
var errTooManyReports = core.Errorf(core.ErrTooMany, "too many reports from this address; retry after the number of seconds in Retry-After")

func (s *Server) publicURLReport(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	// Counted before the body is read, bad requests too.
	if s.PublicLimit != nil {
		if ok, wait := s.PublicLimit.Allow(r.RemoteAddr); !ok {
			return &core.RetryAfter{Err: errTooManyReports, Wait: wait}
		}
	}
	return s.urlReport(w, r, org.Principal{})
}

// urlReport opens a case for the URL report of r's body, by the public if
// by is the zero Principal.
func (s *Server) urlReport(w http.ResponseWriter, r *http.Request, by org.Principal) error {
	var req client.URLReport
	if err := decodeJSONMax(w, r, &req, maxURLReportBody); err != nil {
		return err
	}
	if err := checkURLReport(req); err != nil {
		return err
	}
	rc, err := s.Takedown.Report(r.Context(), by, takedown.URLReport{URL: req.URL, Description: req.Description, Contact: req.Contact})
	if err != nil {
		return err
	}
	if by.OrgID != 0 {
		w.Header().Set("Location", "/v1/hotline/cases/"+rc.ID)
	}
	return writeJSON(w, http.StatusAccepted, client.URLReceipt{ID: rc.ID, Receipt: rc.Receipt, URL: rc.URL,
		ReceivedAt: rc.ReceivedAt.UTC().Format(takedown.ReceiptTime)})
}

// checkURLReport checks a report's fields as the takedown service does,
// to name each that is invalid, all at once; the service checks them
// again.
func checkURLReport(req client.URLReport) error {
	var errs fieldErrors
	if _, err := takedown.CheckURL(req.URL); err != nil {
		errs.add("/url", err)
	}
	if len(req.Description) > takedown.MaxDescription {
		errs.add("/description", fmt.Errorf("the description must be at most %d bytes, not %d", takedown.MaxDescription, len(req.Description)))
	}
	if c := strings.TrimSpace(req.Contact); c != "" {
		if a, err := mail.ParseAddress(c); err != nil || a.Name != "" || a.Address != c || len(c) > maxContact {
			errs.add("/contact", fmt.Errorf("the contact must be an e-mail address such as name@example.org"))
		}
	}
	return errs.err()
}

func (s *Server) cases(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	q := r.URL.Query()
	var errs fieldErrors
	state, err := takedown.ParseState(q.Get("state"))
	if err != nil {
		errs.add("/state", err)
	}
	for _, f := range []struct{ name, pointer string }{{"q", "/q"}, {"after", "/after"}} {
		if v := q.Get(f.name); len(v) > takedown.MaxURL {
			errs.add(f.pointer, fmt.Errorf("must be at most %d bytes, not %d", takedown.MaxURL, len(v)))
		} else if err := text.Check(v); err != nil {
			errs.add(f.pointer, err)
		}
	}
	limit := errs.limit(q, takedown.DefaultLimit, takedown.MaxLimit)
	if err := errs.err(); err != nil {
		return err
	}
	cs, err := s.Takedown.Cases(r.Context(), viewer(p, policy.CasesRead),
		takedown.CaseQuery{State: state, Search: q.Get("q"), After: q.Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	// A list shows case data: it is in the audit trail, as the console's
	// are (not the search text, which may be anything).
	if err := s.record(r, p, "takedown.case.list", "cases"); err != nil {
		return err
	}
	page := client.Cases{Cases: []client.CaseSummary{}}
	for _, c := range cs {
		page.Cases = append(page.Cases, caseSummary(c))
	}
	if len(cs) == limit {
		page.Next = cs[len(cs)-1].ID
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) takedownCase(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	c, err := s.Takedown.Case(r.Context(), viewer(p, policy.CasesRead), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeCase(w, r, c)
}

// caseContent serves the sealed content of one resource of a case, while
// the centre keeps it, as a download that no browser renders or caches.
func (s *Server) caseContent(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		return core.Errorf(core.ErrInvalid, "the item index must be a number from 0, not %q", r.PathValue("index"))
	}
	content, ctype, err := s.Takedown.Content(r.Context(), viewer(p, policy.CasesRead), id, index)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", mediaType(ctype))
	h.Set("Content-Length", strconv.Itoa(len(content)))
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="case-%s-item-%d"`, safeName(id), index))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(content)
	return err
}

// mediaType is the content type a fetched server declared, parsed and
// written anew (it is the fetched server's, not ours), or
// application/octet-stream if it is none.
func mediaType(declared string) string {
	mt, params, err := mime.ParseMediaType(declared)
	if err != nil {
		return "application/octet-stream"
	}
	if out := mime.FormatMediaType(mt, params); out != "" {
		return out
	}
	return "application/octet-stream"
}

// safeName keeps the letters, digits, '-' and '_' of a case ID, for a
// file name in a header.
func safeName(s string) string {
	b := []byte(s)[:0:0]
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		}
	}
	return string(b)
}

func (s *Server) assessCase(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	var req client.Assessment
	if err := decodeJSONMax(w, r, &req, maxAssessmentBody); err != nil {
		return err
	}
	var errs fieldErrors
	if len(req.Items) == 0 {
		errs.add("/items", fmt.Errorf("at least one item must be assessed"))
	}
	a := takedown.Assessment{SubmitIndicators: req.SubmitIndicators}
	for i, it := range req.Items {
		if it.Index < 0 {
			errs.add(fmt.Sprintf("/items/%d/index", i), fmt.Errorf("must be 0 or more, not %d", it.Index))
		}
		c, err := takedown.ParseClassification(it.Classification)
		if err != nil {
			errs.add(fmt.Sprintf("/items/%d/classification", i), err)
		}
		a.Items = append(a.Items, takedown.ItemAssessment{Index: it.Index, Classification: c})
	}
	if err := errs.err(); err != nil {
		return err
	}
	c, err := s.Takedown.Assess(r.Context(), viewer(p, policy.CasesAssess), r.PathValue("id"), a)
	if err != nil {
		return err
	}
	return s.writeCase(w, r, c)
}

// centreQueue names the centre's own analysts' queue in a hand-over.
const centreQueue = "centre"

func (s *Server) handOverCase(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	var req client.HandOver
	if err := decodeJSONMax(w, r, &req, maxURLReportBody); err != nil {
		return err
	}
	var to int64
	queue := centreQueue
	switch {
	case req.Hotline != "" && req.To != "", req.Hotline == "" && req.To == "":
		return fieldError("", fmt.Errorf(`give either "hotline", the name of a hotline, or "to": "centre"`))
	case req.To != "" && req.To != centreQueue:
		return fieldError("/to", fmt.Errorf(`must be "centre", not %q; name a hotline with "hotline"`, req.To))
	case req.Hotline != "":
		o, err := s.Directory.ByName(r.Context(), req.Hotline)
		if err != nil || o.Kind != org.Hotline {
			return fieldError("/hotline", fmt.Errorf("there is no hotline named %q", req.Hotline))
		}
		to, queue = o.ID, o.Name
	}
	id := r.PathValue("id")
	if err := s.Takedown.HandOver(r.Context(), viewer(p, policy.CasesAssess), id, to); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, client.HandedOver{Case: id, Queue: queue})
}

// The answers to a host's word that it removed a notice's content.
const (
	recheckScheduled = "scheduled"
	recheckNotNeeded = "not needed: the content is verified removed"
)

func (s *Server) answerNotice(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	id := r.PathValue("id")
	recheck, err := s.Takedown.Answer(r.Context(), p, id)
	if err != nil {
		return err
	}
	if !recheck {
		return writeJSON(w, http.StatusOK, client.NoticeAnswer{Notice: id, Recheck: recheckNotNeeded})
	}
	return writeJSON(w, http.StatusAccepted, client.NoticeAnswer{Notice: id, Recheck: recheckScheduled})
}

const dateLayout = "2006-01-02"

func (s *Server) takedownFigures(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
	q := r.URL.Query()
	to := time.Now().UTC().Truncate(24 * time.Hour)
	var from time.Time
	var errs fieldErrors
	for _, f := range []struct {
		name string
		day  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		d, err := time.Parse(dateLayout, v)
		if err != nil {
			errs.add("/"+f.name, fmt.Errorf("must be a date as YYYY-MM-DD, not %q", v))
			continue
		}
		*f.day = d
	}
	if from.IsZero() { // the year up to to
		from = to.AddDate(0, 0, 1-takedown.FiguresDays)
	}
	if errs.total == 0 && to.Before(from) {
		errs.add("/to", fmt.Errorf("must not be before from (%s)", from.Format(dateLayout)))
	}
	if err := errs.err(); err != nil {
		return err
	}
	// The service takes the period's end as an instant: the end of day to.
	rep, err := s.Takedown.Figures(r.Context(), from, to.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	out := client.TakedownFigures{From: from.Format(dateLayout), To: to.Format(dateLayout), Figures: wireFigures(rep.Figures),
		Hosts: []client.HostFigures{}}
	for _, h := range rep.Hosts {
		out.Hosts = append(out.Hosts, client.HostFigures{Host: h.Name, Country: h.Country, Figures: wireFigures(h.Figures)})
	}
	return writeJSON(w, http.StatusOK, out)
}

func wireFigures(f takedown.Figures) client.Figures {
	out := client.Figures{Cases: f.Cases, Removed: f.Removed, Open: f.Open, Notices: f.Notices,
		Within1d: f.Within1d, Within3d: f.Within3d, Within7d: f.Within7d}
	// No removal, no time to removal: null rather than a median of 0 s.
	if f.Removed > 0 {
		out.MedianS, out.P90S = &f.MedianS, &f.P90S
	}
	return out
}

// writeCase answers with case c, its notices' hosts named.
func (s *Server) writeCase(w http.ResponseWriter, r *http.Request, c takedown.Case) error {
	out := client.Case{CaseSummary: caseSummary(c), Description: c.Description, Reason: c.Reason, FetchError: c.FetchError,
		FetchAttempts: c.FetchAttempts, Items: []client.CaseItem{}, Notices: []client.CaseNotice{}, History: []client.CaseEvent{}}
	// The notices go to the hosts of the page and of its items.
	names := map[int64]string{0: "", c.Hosting.Host: c.Hosting.HostName}
	for _, it := range c.Items {
		wi := client.CaseItem{Index: it.Index, URL: it.URL, ContentType: it.ContentType, Size: it.Size,
			SHA256: it.SHA256, MD5: it.MD5, PDQ: it.PDQ, Matches: []client.CaseMatch{}, Classification: string(it.Classification),
			HasContent: it.HasContent, RemovedAt: nullTime(it.RemovedAt), Error: it.Error}
		if h := it.Hosting; h.Host != 0 || h.Country != "" {
			wh := wireHosting(h)
			wi.Hosting = &wh
		}
		for _, m := range it.Matches {
			wi.Matches = append(wi.Matches, client.CaseMatch{Indicator: m.Indicator, List: m.List, Signal: string(m.Signal),
				Category: string(m.Category), Distance: m.Distance})
		}
		out.Items = append(out.Items, wi)
		names[it.Hosting.Host] = it.Hosting.HostName
	}
	for _, n := range c.Notices {
		name, err := s.hostName(r.Context(), names, n.Host)
		if err != nil {
			return err
		}
		via, err := s.hostName(r.Context(), names, n.Via)
		if err != nil {
			return err
		}
		out.Notices = append(out.Notices, client.CaseNotice{ID: n.ID, Channel: string(n.Channel), Host: name, Via: via, URLs: n.URLs,
			Classification: string(n.Classification), SentAt: n.SentAt, Sends: n.Sends, AnsweredAt: n.AnsweredAt, LastError: n.LastError})
	}
	for _, ev := range c.Events {
		name, err := s.hostName(r.Context(), names, ev.Org)
		if err != nil {
			return err
		}
		out.History = append(out.History, client.CaseEvent{At: ev.At, Kind: string(ev.Kind), Org: name, Detail: ev.Detail})
	}
	return writeJSON(w, http.StatusOK, out)
}

// hostName is the name of organisation id (a host, or who acted in the
// history), looked up once per answer in names.
func (s *Server) hostName(ctx context.Context, names map[int64]string, id int64) (string, error) {
	if name, ok := names[id]; ok {
		return name, nil
	}
	o, err := s.Directory.ByID(ctx, id)
	if err != nil {
		return "", err
	}
	names[id] = o.Name
	return o.Name, nil
}

func caseSummary(c takedown.Case) client.CaseSummary {
	out := client.CaseSummary{ID: c.ID, URL: c.URL, State: string(c.State), ReceivedAt: c.ReceivedAt,
		Hosting: wireHosting(c.Hosting), RemovedAt: nullTime(c.RemovedAt), Escalated: c.Escalated}
	if !c.RemovedAt.IsZero() {
		ttr := c.TimeToRemoval().Seconds()
		out.TimeToRemovalS = &ttr
	}
	return out
}

func wireHosting(h takedown.Hosting) client.Hosting {
	out := client.Hosting{Addresses: []string{}, Country: h.Country, Host: h.HostName}
	for _, a := range h.Addresses {
		out.Addresses = append(out.Addresses, a.String())
	}
	return out
}

// nullTime is t, or nil (JSON null) if zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
