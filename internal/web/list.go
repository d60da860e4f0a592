package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// listFilter is a reports page's query: what the URL holds, so that a
// view can be bookmarked.
type listFilter struct {
	Q, State, Material, Urgency, From, To string
	// N is the page size asked for, "" for triage.DefaultPage.
	N string
	// SearchBy says what Q was taken for: "report ID", "hash" or
	// "provider".
	SearchBy string
}

// values returns f as query parameters, without the empty ones.
func (f listFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": f.Q, "state": f.State, "material": f.Material, "urgency": f.Urgency, "from": f.From, "to": f.To, "n": f.N} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Link returns the URL of f's view with extra parameters (such as a page
// position) set; a "" value removes one.
func (f listFilter) Link(kv ...string) string {
	v := f.values()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return "/reports"
	}
	return "/reports?" + v.Encode()
}

// Filtered reports whether anything but the view narrows the list.
func (f listFilter) Filtered() bool {
	return f.Q != "" || f.Material != "" || f.Urgency != "" || f.From != "" || f.To != ""
}

// dateLayout is the format of the date filters (an HTML date input's).
const dateLayout = "2006-01-02"

// parseList reads a reports page's query into a triage.ListQuery; a bad
// value is an core.ErrInvalid naming its parameter.
func parseList(r *http.Request) (listFilter, triage.ListQuery, error) {
	qs := r.URL.Query()
	f := listFilter{Q: strings.TrimSpace(qs.Get("q")), State: qs.Get("state"), Material: qs.Get("material"),
		Urgency: qs.Get("urgency"), From: qs.Get("from"), To: qs.Get("to"), N: qs.Get("n")}
	var q triage.ListQuery
	bad := func(param, format string, a ...any) error {
		return core.Errorf(core.ErrInvalid, "%s: %s", param, fmt.Sprintf(format, a...))
	}
	if len(f.Q) > triage.MaxSearch {
		return f, q, bad("q", "a search is at most %d characters", triage.MaxSearch)
	}
	if !utf8.ValidString(f.Q) || strings.IndexFunc(f.Q, unicode.IsControl) >= 0 {
		return f, q, bad("q", "the search holds characters that are not text")
	}
	// A search by ID or hash looks in every state unless one is chosen.
	if f.State == "" && f.Q != "" {
		f.State = string(triage.ViewAll)
	}
	var err error
	if q.View, err = triage.ParseView(f.State); err != nil {
		return f, q, err
	}
	switch h, isHash := triage.ParseHash(f.Q); {
	case f.Q == "":
	case isHash:
		q.Hash, f.SearchBy = h, "hash"
	case len(f.Q) == 26 && plainID(strings.ToUpper(f.Q)):
		q.ReportID, f.SearchBy = strings.ToUpper(f.Q), "report ID"
	default:
		q.Provider, f.SearchBy = f.Q, "provider"
	}
	switch f.Material {
	case "", triage.MaterialKnown, triage.MaterialNew, triage.MaterialNone:
		q.Material = f.Material
	default:
		return f, q, bad("material", "must be known, new or none, not %q", clip(f.Material))
	}
	switch u := triage.Urgency(f.Urgency); u {
	case "", triage.Urgent, triage.Normal:
		q.Urgency = u
	default:
		return f, q, bad("urgency", "must be urgent or normal, not %q", clip(f.Urgency))
	}
	for _, d := range []struct {
		param, s string
		to       *time.Time
		end      bool
	}{{"from", f.From, &q.From, false}, {"to", f.To, &q.To, true}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse(dateLayout, d.s)
		if err != nil {
			return f, q, bad(d.param, "must be a date as YYYY-MM-DD, not %q", clip(d.s))
		}
		if d.end { // "to" includes its day
			t = t.AddDate(0, 0, 1)
		}
		*d.to = t
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return f, q, bad("to", "the end date is before the start date")
	}
	for _, c := range []struct {
		param string
		to    **triage.Cursor
	}{{"after", &q.After}, {"before", &q.Before}} {
		if s := qs.Get(c.param); s != "" {
			cur, err := triage.ParseCursor(c.param, s)
			if err != nil {
				return f, q, err
			}
			*c.to = &cur
		}
	}
	if f.N != "" {
		n, err := strconv.Atoi(f.N)
		if err != nil || n < 1 || n > triage.MaxPage {
			return f, q, bad("n", "the page size must be 1 to %d, not %q", triage.MaxPage, clip(f.N))
		}
		q.Limit = n
	}
	if q.After != nil && q.Before != nil {
		return f, q, bad("after", "a page has a start or an end, not both")
	}
	return f, q, nil
}

// clip shortens what an error page echoes of a bad value.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// auditPurpose describes a list's query for the audit trail, which holds
// no personal data: a provider's name is kept unless it looks like an
// address.
func (f listFilter) auditPurpose() string {
	v := f.values()
	if f.SearchBy == "provider" && strings.Contains(f.Q, "@") {
		v.Set("q", "(withheld)")
	}
	if f.SearchBy != "" {
		v.Set("by", f.SearchBy)
	}
	return "list: " + v.Encode()
}

type listPageData struct {
	base
	F       listFilter
	View    triage.View
	Queue   bool // the view is in the queue's order
	Tabs    []listTab
	Rows    []listRow
	Next    string // links to the adjacent pages; "" if none
	Prev    string
	Options struct{ Material, Urgency []option }
}

type listTab struct {
	Label, Link string
	Current     bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type listRow struct {
	triage.ListEntry
	Urgent      bool
	Reports     int // in the case
	Age         string
	DecisionBy  string
	Authorities []authorityRow
}

type authorityRow struct {
	Name, Status string
	Failing      bool
}

// viewLabels are the tabs' names.
var viewLabels = map[triage.View]string{
	triage.ViewQueued: "Awaiting assessment", triage.ViewInfoRequested: "Information requested", triage.ViewDecided: "Decided",
	triage.ViewForwarded: "Forwarded", triage.ViewUnfounded: "Unfounded", triage.ViewAll: "All",
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	f, q, err := parseList(r)
	if err != nil {
		return err
	}
	page, err := s.Triage.List(r.Context(), q)
	if err != nil {
		return err
	}
	// A list shows report data: each one is in the audit trail.
	if err := s.recordPurpose(r, u, "report.list", "reports", f.auditPurpose()); err != nil {
		return err
	}
	p := listPageData{base: s.base(r, u, "Reports"), F: f, View: q.View, Queue: q.View.Order() == triage.OrderQueue}
	if id := r.URL.Query().Get("done"); plainID(id) {
		p.Flash = "Your decision on report " + id + " was recorded."
	}
	for _, v := range triage.Views {
		p.Tabs = append(p.Tabs, listTab{Label: viewLabels[v], Link: f.Link("state", string(v)), Current: v == q.View})
	}
	for _, o := range []option{{"", "any", false}, {triage.MaterialKnown, "known", false}, {triage.MaterialNew, "new", false}, {triage.MaterialNone, "none (solicitation)", false}} {
		o.Selected = o.Value == f.Material
		p.Options.Material = append(p.Options.Material, o)
	}
	for _, o := range []option{{"", "any", false}, {string(triage.Urgent), "urgent", false}, {string(triage.Normal), "not urgent", false}} {
		o.Selected = o.Value == f.Urgency
		p.Options.Urgency = append(p.Options.Urgency, o)
	}
	if page.Next != nil {
		p.Next = f.Link("state", string(q.View), "after", page.Next.String())
	}
	if page.Prev != nil {
		p.Prev = f.Link("state", string(q.View), "before", page.Prev.String())
	}
	now := time.Now()
	users := map[string]string{}
	for _, e := range page.Entries {
		row := listRow{ListEntry: e, Urgent: e.Urgent || e.Priority == triage.PriorityUrgent, Reports: e.Bundled + 1,
			Age: age(now.Sub(e.FinishedAt))}
		if e.Decided.Kind != "" {
			if row.DecisionBy, err = s.actorName(r, users, e.Decided.Actor); err != nil {
				return err
			}
		}
		for _, d := range e.Deliveries {
			row.Authorities = append(row.Authorities, authorityRow{Name: authorityName(d.OrgName, d.OrgKind, d.Country),
				Status: deliveryStatus(d), Failing: d.AckedAt.IsZero() && d.PushedAt.IsZero() && d.Attempts > 0})
		}
		p.Rows = append(p.Rows, row)
	}
	return s.render(w, http.StatusOK, "reports", p)
}

// recordPurpose is record with a purpose.
func (s *Server) recordPurpose(r *http.Request, u *auth.User, action, object, purpose string) error {
	_, err := s.Audit.Append(r.Context(), audit.Event{At: time.Now(), OrgID: u.OrgID, OrgName: u.OrgName,
		Actor: fmt.Sprintf("user:%d", u.ID), Action: action, Object: object, Purpose: purpose, Outcome: audit.OK})
	return err
}

// actorName shows who decided: the user's e-mail address, or what the
// actor is.
func (s *Server) actorName(r *http.Request, cache map[string]string, actor string) (string, error) {
	if n, ok := cache[actor]; ok {
		return n, nil
	}
	name := actor
	switch {
	case actor == audit.System:
		name = "Ward (automatic)"
	case actor == audit.Anonymous:
		name = "the public"
	case strings.HasPrefix(actor, "user:"):
		id, err := strconv.ParseInt(strings.TrimPrefix(actor, "user:"), 10, 64)
		if err != nil {
			break
		}
		du, err := s.Auth.User(r.Context(), id)
		switch {
		case err == nil:
			name = du.Email
		case !errors.Is(err, core.ErrNotFound):
			return "", err
		}
	}
	cache[actor] = name
	return name, nil
}

// authorityName names an authority as the console shows it.
func authorityName(name string, kind org.Kind, country string) string {
	if kind == org.Europol {
		return name + " (Europol)"
	}
	return name + " (" + country + ")"
}

// deliveryStatus says where a delivery is.
func deliveryStatus(d triage.DeliveryStatus) string {
	const at = "2006-01-02 15:04 MST"
	switch {
	case !d.AckedAt.IsZero():
		return "acknowledged " + d.AckedAt.Format(at)
	case !d.PushedAt.IsZero():
		return "delivered " + d.PushedAt.Format(at)
	case d.Attempts > 0:
		msg := fmt.Sprintf("failing: %d attempt(s)", d.Attempts)
		if d.LastError != "" {
			msg += ", " + clip(d.LastError)
		}
		return msg
	}
	return "waiting for the authority to fetch it"
}

// homePage is the start page, with the counts the user's role may see.
type homePage struct {
	base
	// Assessment and Operations: which counts the user may see.
	Assessment, Operations bool
	C                      triage.Counts
	Since                  string
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	p := homePage{base: s.base(r, u, "Start"), Assessment: mayOpen(u, policy.ReportsRead), Operations: mayOpen(u, policy.JobsManage)}
	if p.Assessment || p.Operations {
		now := time.Now().UTC()
		since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		var err error
		if p.C, err = s.Triage.Counts(r.Context(), since); err != nil {
			return err
		}
		p.Since = since.Format("2006-01-02 15:04 MST")
	}
	return s.render(w, http.StatusOK, "home", p)
}

// StateLabel is how the console names the report's state.
func (r listRow) StateLabel() string {
	switch r.State {
	case report.StateInfoRequested:
		return "waiting for the provider"
	case report.StateFinished:
		return "not triaged yet"
	}
	return string(r.State)
}
