package web

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/takedown"
)

// The takedown cases: the queue of reported URLs, a case's page with its
// resources (each blurred until revealed, on a page of its own), the
// assessment and the hand-over, and the time-to-removal figures. The
// service decides what a viewer may see (a hotline its own queue, the
// centre every case) and audits every view of a case and its content.

// viewer is u as the takedown service sees it, with the scope of a.
func viewer(u *auth.User, a policy.Action) takedown.Viewer {
	return takedown.Viewer{Org: u.OrgID, Kind: u.OrgKind, Actor: fmt.Sprintf("user:%d", u.ID), Scope: policy.Scope(subject(u), a), OrgName: u.OrgName}
}

// casesShown is how many cases a page of the queue shows.
const casesShown = 50

// orgNames names organisations by ID for a page, each looked up once.
type orgNames struct {
	s     *Server
	r     *http.Request
	names map[int64]string
}

func (s *Server) orgNames(r *http.Request) *orgNames {
	return &orgNames{s: s, r: r, names: map[int64]string{}}
}

// name is the name of organisation id with its country, or none if id
// is 0.
func (n *orgNames) name(id int64, none string) (string, error) {
	if id == 0 {
		return none, nil
	}
	if name, ok := n.names[id]; ok {
		return name, nil
	}
	o, err := n.s.Orgs.ByID(n.r.Context(), id)
	if errors.Is(err, core.ErrNotFound) {
		n.names[id] = fmt.Sprintf("organisation %d", id)
		return n.names[id], nil
	} else if err != nil {
		return "", err
	}
	n.names[id] = authorityName(o.Name, o.Kind, o.Country)
	return n.names[id], nil
}

type casesPage struct {
	base
	Q     string
	State string // the state shown, "all" for every one
	N     string // the page size asked for; "" for casesShown
	Tabs  []listTab
	Rows  []caseRow
	Next  string
	First string // the first page, when not on it
}

type caseRow struct {
	takedown.Case
	Queue string
	Age   string // since the report
	// Noticed is how long the notices of a noticed case have gone
	// unanswered by a removal.
	Noticed string
}

// caseStateLabels name the states in the queue's tabs.
var caseStateLabels = map[takedown.State]string{
	takedown.Fetching: "Being fetched", takedown.Assessing: "Awaiting assessment", takedown.Noticed: "Noticed",
	takedown.Removed: "Removed", takedown.Closed: "Closed", "": "All",
}

// casesLink is the URL of the queue with parameters kv (pairs; empty
// values left out).
func casesLink(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return "/cases"
	}
	return "/cases?" + v.Encode()
}

func (s *Server) cases(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	qs := r.URL.Query()
	p := casesPage{base: s.base(r, u, "Cases"), Q: strings.TrimSpace(qs.Get("q")), State: qs.Get("state")}
	if len(p.Q) > takedown.MaxURL {
		return core.Errorf(core.ErrInvalid, "q: a search is at most %d characters", takedown.MaxURL)
	}
	if !utf8.ValidString(p.Q) || strings.IndexFunc(p.Q, unicode.IsControl) >= 0 {
		return core.Errorf(core.ErrInvalid, "q: the search holds characters that are not text")
	}
	// The queue opens on the cases awaiting assessment; a search looks
	// in every state unless one is chosen.
	if p.State == "" {
		p.State = string(takedown.Assessing)
		if p.Q != "" {
			p.State = "all"
		}
	}
	p.N = qs.Get("n")
	shown := casesShown
	if p.N != "" {
		n, err := strconv.Atoi(p.N)
		if err != nil || n < 1 || n >= takedown.MaxLimit {
			return core.Errorf(core.ErrInvalid, "n: the page size must be 1 to %d, not %q", takedown.MaxLimit-1, clip(p.N))
		}
		shown = n
	}
	// One more than shown tells whether there is a next page.
	q := takedown.CaseQuery{Search: p.Q, After: qs.Get("after"), Limit: shown + 1}
	if p.State != "all" {
		st, err := takedown.ParseState(p.State)
		if err != nil {
			return err
		}
		q.State = st
	}
	if q.After != "" && !plainID(q.After) {
		return core.Errorf(core.ErrInvalid, "after: not a case ID")
	}
	list, err := s.Takedown.Cases(r.Context(), viewer(u, policy.CasesRead), q)
	if err != nil {
		return err
	}
	// A list shows case data: each one is in the audit trail, with its
	// view, not the search text (which may be anything the analyst typed).
	purpose := "list: state=" + p.State
	if p.Q != "" {
		purpose += ", searched"
	}
	if err := s.recordPurpose(r, u, "takedown.case.list", "cases", purpose); err != nil {
		return err
	}
	for _, st := range append(slices.Clone(takedown.States), "") {
		name := string(st)
		if st == "" {
			name = "all"
		}
		p.Tabs = append(p.Tabs, listTab{Label: caseStateLabels[st], Link: casesLink("q", p.Q, "state", name, "n", p.N), Current: name == p.State})
	}
	if len(list) > shown {
		list = list[:shown]
		p.Next = casesLink("q", p.Q, "state", p.State, "n", p.N, "after", list[shown-1].ID)
	}
	if q.After != "" {
		p.First = casesLink("q", p.Q, "state", p.State, "n", p.N)
	}
	if id := qs.Get("done"); plainID(id) {
		p.Flash = "Your assessment of case " + id + " was recorded."
	}
	if id := qs.Get("handed"); plainID(id) {
		p.Flash = "Case " + id + " was handed over."
	}
	names := s.orgNames(r)
	now := time.Now()
	for _, c := range list {
		row := caseRow{Case: c, Age: age(now.Sub(c.ReceivedAt))}
		if row.Queue, err = names.name(c.Queue, "the centre"); err != nil {
			return err
		}
		if c.State == takedown.Noticed {
			row.Noticed = age(now.Sub(c.AssessedAt))
		}
		p.Rows = append(p.Rows, row)
	}
	return s.render(w, http.StatusOK, "cases", p)
}

type casePage struct {
	base
	C                         takedown.Case
	Source, Queue, AssessedBy string
	TimeToRemoval             string
	Items                     []caseItem
	Notices                   []noticeRow
	Events                    []caseEvent
	Assess, Handle            bool // the user may assess the case, hand it over
	Hotlines                  []org.Organisation
	SubmitChecked             bool
	Error                     string
}

type caseItem struct {
	takedown.Item
	Shown bool // an image the console can show
	// Assessable: the item was fetched (it has a hash), so the
	// assessment classifies it; Options are its choices.
	Assessable bool
	Options    []classOption
	Host       string // the item's own host, when not the case's
	// Unverified: every match of the item is of an unverified list
	// (victim-reported), which no hotline has assessed: not pre-filled.
	Unverified bool
}

type classOption struct {
	Value   takedown.Classification
	Label   string
	Checked bool
}

// caseEvent is a step of a case's history, with who took it.
type caseEvent struct {
	takedown.Event
	By, OrgName string // the actor and the organisation, named
}

type noticeRow struct {
	takedown.Notice
	Host, Via string
	// Yours: the notice goes through the user's hotline, which has no
	// webhook: it is the hotline's to pass on to the host.
	Yours bool
}

// classLabels are the classifications as the assessment form offers them.
var classLabels = []classOption{
	{Value: takedown.Baseline, Label: "Baseline: illegal everywhere (INTERPOL criteria)"},
	{Value: takedown.National, Label: "National: illegal in your country"},
	{Value: takedown.NotIllegal, Label: "Not illegal"},
}

// unverifiedOnly reports whether ms are matches of unverified lists only
// (and there is one).
func unverifiedOnly(ms []takedown.Match) bool {
	for _, m := range ms {
		if m.Category != indicator.Unverified {
			return false
		}
	}
	return len(ms) > 0
}

// shownContent reports whether an item's content is an image the console
// shows (browsers' formats, and TIFF and PNM, sent as PNG).
func shownContent(it takedown.Item) bool {
	if !it.HasContent {
		return false
	}
	typ, _, _ := strings.Cut(it.ContentType, ";")
	typ = strings.ToLower(strings.TrimSpace(typ))
	for _, t := range shownTypes {
		if typ == t {
			return true
		}
	}
	return typ == "image/tiff" || typ == "image/x-portable-pixmap" || typ == "image/x-portable-graymap" || typ == "image/x-portable-bitmap" || typ == "image/x-portable-anymap"
}

// caseData is the page of case id; choices, if not nil, are the
// classifications a refused assessment form sent, shown again.
func (s *Server) caseData(r *http.Request, u *auth.User, id string, choices map[int]takedown.Classification) (casePage, error) {
	c, err := s.Takedown.Case(r.Context(), viewer(u, policy.CasesRead), id)
	if err != nil {
		return casePage{}, err
	}
	p := casePage{base: s.base(r, u, "Case "+c.ID), C: c}
	names := s.orgNames(r)
	if p.Source, err = names.name(c.Source, "the public"); err != nil {
		return p, err
	}
	if c.Place != 0 {
		p.Source = fmt.Sprintf("found by the centre's search (place %d)", c.Place)
	}
	if p.Queue, err = names.name(c.Queue, "the centre's analysts"); err != nil {
		return p, err
	}
	if d := c.TimeToRemoval(); d > 0 {
		p.TimeToRemoval = span(d.Seconds())
	}
	open := c.State == takedown.Fetching || c.State == takedown.Assessing
	p.Assess = c.State == takedown.Assessing && mayOpen(u, policy.CasesAssess)
	p.Handle = open && mayOpen(u, policy.CasesAssess)
	for _, it := range c.Items {
		row := caseItem{Item: it, Shown: shownContent(it), Assessable: it.SHA256 != "", Unverified: unverifiedOnly(it.Matches)}
		if h := it.Hosting; h.Host != c.Hosting.Host || h.Country != c.Hosting.Country {
			row.Host = cmp.Or(h.HostName, "no registered host") + ", " + cmp.Or(h.Country, "country unknown")
		}
		// What the analyst chose, else the assessment recorded, else
		// what an assessment not listing the item would give it.
		choice := it.Classification
		if choice == "" {
			choice = takedown.DefaultClassification(it.Matches)
		}
		if ch, ok := choices[it.Index]; ok {
			choice = ch
		}
		for _, o := range classLabels {
			o.Checked = o.Value == choice
			row.Options = append(row.Options, o)
		}
		p.Items = append(p.Items, row)
	}
	users := map[string]string{}
	if c.AssessedBy != "" {
		if p.AssessedBy, err = s.actorName(r, users, c.AssessedBy); err != nil {
			return p, err
		}
		if on, err := names.name(c.AssessedOrg, ""); err != nil {
			return p, err
		} else if on != "" {
			p.AssessedBy += ", " + on
		}
	}
	for _, ev := range c.Events {
		row := caseEvent{Event: ev}
		if row.By, err = s.actorName(r, users, ev.Actor); err != nil {
			return p, err
		}
		if row.OrgName, err = names.name(ev.Org, ""); err != nil {
			return p, err
		}
		p.Events = append(p.Events, row)
	}
	for _, n := range c.Notices {
		row := noticeRow{Notice: n, Yours: n.Pulled && n.Via == u.OrgID}
		if row.Host, err = names.name(n.Host, "not registered"); err != nil {
			return p, err
		}
		if row.Via, err = names.name(n.Via, ""); err != nil {
			return p, err
		}
		p.Notices = append(p.Notices, row)
	}
	if p.Handle {
		all, err := s.Orgs.List(r.Context())
		if err != nil {
			return p, err
		}
		for _, o := range all {
			if o.Kind == org.Hotline && o.ID != c.Queue {
				p.Hotlines = append(p.Hotlines, o)
			}
		}
		// Nowhere to hand it to: the centre's case, and no hotline.
		p.Handle = c.Queue != 0 || len(p.Hotlines) > 0
	}
	return p, nil
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p, err := s.caseData(r, u, r.PathValue("id"), nil)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "case", p)
}

// caseItemRef returns the case and item index of an item's page.
func caseItemRef(r *http.Request) (string, int, error) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 {
		return "", 0, errNoPage
	}
	return r.PathValue("id"), i, nil
}

type caseItemPage struct {
	base
	CaseID   string
	Item     takedown.Item
	Shown    bool
	Revealed bool
}

func (s *Server) caseItemPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, index, err := caseItemRef(r)
	if err != nil {
		return err
	}
	c, err := s.Takedown.Case(r.Context(), viewer(u, policy.CasesRead), id)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(c.Items, func(it takedown.Item) bool { return it.Index == index })
	if i < 0 {
		return core.Errorf(core.ErrNotFound, "case %s has no item %d", id, index)
	}
	p := caseItemPage{base: s.base(r, u, fmt.Sprintf("Item %d of case %s", index, c.ID)), CaseID: c.ID, Item: c.Items[i], Shown: shownContent(c.Items[i])}
	// The service audits the view of the case (above) and of the
	// content (when the browser loads it); the reveal, a choice made on
	// this page, is recorded here.
	if p.Shown && r.URL.Query().Get("reveal") == "1" {
		p.Revealed = true
		if err := s.record(r, u, "case.item.reveal", fmt.Sprintf("case:%s/item:%d", c.ID, index), audit.OK); err != nil {
			return err
		}
	}
	return s.render(w, http.StatusOK, "case_item", p)
}

func (s *Server) caseItemContent(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, index, err := caseItemRef(r)
	if err != nil {
		return err
	}
	content, _, err := s.Takedown.Content(r.Context(), viewer(u, policy.CasesRead), id, index)
	if err != nil {
		return err
	}
	// The type is the one sniffing finds, never the type the host said.
	typ, content, err := s.showable(r, content, fmt.Sprintf("item %d of case %s", index, id))
	if err != nil {
		return err
	}
	return writeImage(w, typ, content)
}

// assessmentForm reads the classifications of an assessment form
// (class-<index> = baseline, national or not_illegal).
func assessmentForm(r *http.Request) (map[int]takedown.Classification, takedown.Assessment, error) {
	choices := map[int]takedown.Classification{}
	var a takedown.Assessment
	for name, vals := range r.PostForm {
		s, ok := strings.CutPrefix(name, "class-")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || len(vals) != 1 {
			return nil, a, core.Errorf(core.ErrInvalid, "the form's field %q is not a classification of an item", clip(name))
		}
		c, err := takedown.ParseClassification(vals[0])
		if err != nil {
			return nil, a, err
		}
		choices[i] = c
		a.Items = append(a.Items, takedown.ItemAssessment{Index: i, Classification: c})
	}
	slices.SortFunc(a.Items, func(x, y takedown.ItemAssessment) int { return x.Index - y.Index })
	a.SubmitIndicators = r.PostFormValue("submit_indicators") == "yes"
	return choices, a, nil
}

func (s *Server) assessCase(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	choices, a, err := assessmentForm(r)
	if err == nil {
		_, err = s.Takedown.Assess(r.Context(), viewer(u, policy.CasesAssess), id, a)
	}
	if errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrUnprocessable) {
		// The case again, with what the analyst chose and why it was
		// refused.
		p, derr := s.caseData(r, u, id, choices)
		if derr != nil {
			return derr
		}
		p.Error, p.SubmitChecked = capitalise(err.Error()), a.SubmitIndicators
		return s.render(w, http.StatusBadRequest, "case", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/cases?done="+url.QueryEscape(id), http.StatusSeeOther)
	return nil
}

func (s *Server) handOver(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	to, err := strconv.ParseInt(r.PostFormValue("to"), 10, 64)
	if err != nil || to < 0 {
		return core.Errorf(core.ErrInvalid, "choose a hotline or the centre to hand the case over to")
	}
	if to != 0 {
		o, err := s.Orgs.ByID(r.Context(), to)
		if errors.Is(err, core.ErrNotFound) || (err == nil && o.Kind != org.Hotline) {
			return core.Errorf(core.ErrInvalid, "organisation %d is not a hotline", to)
		} else if err != nil {
			return err
		}
	}
	if err := s.Takedown.HandOver(r.Context(), viewer(u, policy.CasesAssess), id, to); err != nil {
		return err
	}
	http.Redirect(w, r, "/cases?handed="+url.QueryEscape(id), http.StatusSeeOther)
	return nil
}

type figuresPage struct {
	base
	From, To string // the period's days, as the form shows them
	R        takedown.Report
	Overall  figuresRow
	Hosts    []figuresRow
}

type figuresRow struct {
	Name string
	takedown.Figures
	Median, P90 string
}

func figuresOf(name string, f takedown.Figures) figuresRow {
	row := figuresRow{Name: name, Figures: f, Median: "—", P90: "—"}
	if f.Removed > 0 {
		row.Median, row.P90 = span(f.MedianS), span(f.P90S)
	}
	return row
}

func (s *Server) figures(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	qs := r.URL.Query()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, 1-takedown.FiguresDays), today
	for _, d := range []struct {
		param string
		to    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := qs.Get(d.param); v != "" {
			t, err := time.Parse(dateLayout, v)
			if err != nil {
				return core.Errorf(core.ErrInvalid, "%s: must be a date as YYYY-MM-DD, not %q", d.param, clip(v))
			}
			*d.to = t
		}
	}
	if to.Before(from) {
		return core.Errorf(core.ErrInvalid, "to: the end date is before the start date")
	}
	// "to" includes its day.
	rep, err := s.Takedown.Figures(r.Context(), from, to.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	p := figuresPage{base: s.base(r, u, "Takedown figures"), From: from.Format(dateLayout), To: to.Format(dateLayout), R: rep,
		Overall: figuresOf("All hosts", rep.Figures)}
	for _, h := range rep.Hosts {
		name := h.Name
		switch {
		case h.Host == 0:
			name = "Hosts not registered"
		case h.Country != "":
			name += " (" + h.Country + ")"
		}
		p.Hosts = append(p.Hosts, figuresOf(name, h.Figures))
	}
	return s.render(w, http.StatusOK, "takedown", p)
}

// span is a duration in seconds as the figures show it.
func span(secs float64) string {
	if math.IsNaN(secs) || secs < 0 {
		return "—"
	}
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours()/24), int(d.Hours())%24)
}

// percent is a share as the figures show it.
func percent(share float64) string { return fmt.Sprintf("%.0f %%", 100*share) }

// Share helpers for the template.
func (f figuresRow) In1d() string { return percent(f.Within1d) }
func (f figuresRow) In3d() string { return percent(f.Within3d) }
func (f figuresRow) In7d() string { return percent(f.Within7d) }
