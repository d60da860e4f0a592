package web

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// plainID reports whether id can be a report's ID (base32 from
// rand.Text): what a query parameter may echo into a page.
func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// age is how long a report has waited, as the queue shows it.
func age(d time.Duration) string {
	d = max(d, 0) // a clock set back
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

type reportPage struct {
	base
	V      triage.CaseView
	Lead   bool // the report leads its case
	Urgent bool // the case is urgent
	Items  []itemRow
	Events []eventRow
	// Decide: the user may decide and the case awaits a decision; Ask:
	// a question to the provider is possible too (not twice in a row).
	Decide, Ask bool
}

// itemRow is an item of a report with what the centre found of it. Item
// is zero where the report's content was deleted.
type itemRow struct {
	Index   int
	Item    report.Item
	File    *report.File
	Matches []triage.Match
}

type eventRow struct {
	At                     time.Time
	Kind                   report.EventKind
	Actor, OrgName, Detail string
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id := r.PathValue("id")
	v, err := s.Triage.Case(r.Context(), id)
	if err != nil {
		return err
	}
	p := reportPage{base: s.base(r, u, "Report "+id), V: v, Lead: v.CaseID == id,
		Urgent: v.Priority == triage.PriorityUrgent, Items: items(v)}
	names := map[int64]string{}
	for _, ev := range v.Events {
		row := eventRow{At: ev.At, Kind: ev.Kind, Actor: ev.Actor, Detail: string(ev.Detail)}
		if ev.Org != 0 {
			if _, ok := names[ev.Org]; !ok {
				o, err := s.Orgs.ByID(r.Context(), ev.Org)
				if err != nil {
					return err
				}
				names[ev.Org] = o.Name + " (" + o.Country + ")"
			}
			row.OrgName = names[ev.Org]
		}
		p.Events = append(p.Events, row)
	}
	if p.Lead && mayOpen(u, policy.ReportsDecide) {
		switch v.Report.State {
		case report.StateQueued:
			p.Decide, p.Ask = true, true
		case report.StateInfoRequested:
			p.Decide = true
		}
	}
	if err := s.record(r, u, "report.view", "report:"+id, audit.OK); err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "report", p)
}

// items lists the items of a report with their files and matches; of a
// report whose content was deleted, only the files, whose hashes are kept.
func items(v triage.CaseView) []itemRow {
	rows := make([]itemRow, len(v.Report.Draft.Items))
	for i, it := range v.Report.Draft.Items {
		rows[i] = itemRow{Index: i, Item: it}
	}
	row := func(i int) *itemRow {
		for len(rows) <= i {
			rows = append(rows, itemRow{Index: len(rows)})
		}
		return &rows[i]
	}
	for _, f := range v.Report.Files {
		row(f.Index).File = &f
	}
	for _, m := range v.Matches {
		x := row(m.Item)
		x.Matches = append(x.Matches, m)
	}
	return rows
}

type filePage struct {
	base
	ReportID string
	Index    int
	File     report.File
	Matches  []triage.Match
	Purged   bool
	// Image: the file is an image the console shows.
	Image bool
	// Revealed: the analyst asked to see it unblurred (?reveal=1), which
	// the audit trail records apart from opening the page.
	Revealed bool
}

// fileRef returns the report and item index of a file's page.
func fileRef(r *http.Request) (string, int, error) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 {
		return "", 0, errNoPage
	}
	return r.PathValue("id"), i, nil
}

func fileObject(id string, index int) string { return fmt.Sprintf("report:%s/file:%d", id, index) }

func (s *Server) filePage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, index, err := fileRef(r)
	if err != nil {
		return err
	}
	v, err := s.Triage.Case(r.Context(), id)
	if err != nil {
		return err
	}
	p := filePage{base: s.base(r, u, fmt.Sprintf("File %d of report %s", index, id)), ReportID: id, Index: index, Purged: v.Purged}
	i := slices.IndexFunc(v.Report.Files, func(f report.File) bool { return f.Index == index })
	if i < 0 {
		return core.Errorf(core.ErrNotFound, "report %s has no file %d", id, index)
	}
	p.File = v.Report.Files[i]
	for _, m := range v.Matches {
		if m.Item == index {
			p.Matches = append(p.Matches, m)
		}
	}
	if !v.Purged {
		// Opened here only to tell whether the page can show it.
		content, err := s.Triage.FileContent(r.Context(), id, index)
		if err != nil {
			return err
		}
		_, p.Image = media.Sniff(content)
	}
	action := "report.file.view"
	if p.Image && r.URL.Query().Get("reveal") == "1" {
		p.Revealed, action = true, "report.file.reveal"
	}
	if err := s.record(r, u, action, fileObject(id, index), audit.OK); err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "file", p)
}

// shownTypes are the media types of the image formats that browsers show.
var shownTypes = map[media.Format]string{
	media.JPEG: "image/jpeg", media.PNG: "image/png", media.GIF: "image/gif", media.WebP: "image/webp", media.BMP: "image/bmp",
}

// fallbackBudget admits conversions when the server was given no decode
// budget to share (tests): a decode may take most of a gigabyte.
var fallbackBudget = media.NewBudget(media.DefaultDecodeMemory, 2, 0)

// pngCost bounds what encoding an image of c as PNG into memory takes on
// top of decoding it: at most 8 bytes a pixel and a filter byte a row,
// which deflate may grow a little, held three times over while the
// buffer grows.
func pngCost(c media.Cost) int64 {
	return 3 * (8*int64(c.Width)*int64(c.Height) + int64(c.Height) + 1<<20)
}

func (s *Server) fileContent(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, index, err := fileRef(r)
	if err != nil {
		return err
	}
	content, err := s.Triage.FileContent(r.Context(), id, index)
	if err != nil {
		return err
	}
	typ, content, err := s.showable(r, content, fmt.Sprintf("file %d of report %s", index, id))
	if err != nil {
		return err
	}
	if err := s.record(r, u, "report.file.content", fileObject(id, index), audit.OK); err != nil {
		return err
	}
	return writeImage(w, typ, content)
}

// showable returns content as an image that browsers show, and its type:
// only what sniffing finds to be an image, and as the type found, so that
// no browser runs a file as a page or a script. TIFF and PNM, which
// browsers do not show, are converted to PNG, within the decode budget
// the server shares with the API. What cannot be shown is a
// core.ErrNotFound error naming it by what.
func (s *Server) showable(r *http.Request, content []byte, what string) (string, []byte, error) {
	format, ok := media.Sniff(content)
	if !ok {
		return "", nil, core.Errorf(core.ErrNotFound, "%s is not an image the console can show", what)
	}
	if typ, ok := shownTypes[format]; ok {
		return typ, content, nil
	}
	budget := s.Decode
	if budget == nil {
		budget = fallbackBudget
	}
	cost, err := media.Estimate(content, media.Limits{})
	if err != nil {
		return "", nil, core.Errorf(core.ErrNotFound, "%s cannot be shown: %w", what, err)
	}
	release, err := budget.Acquire(r.Context(), cost.Bytes+pngCost(cost))
	if errors.Is(err, media.ErrTooLarge) {
		return "", nil, core.Errorf(core.ErrNotFound, "%s cannot be shown: %w", what, err)
	} else if err != nil {
		return "", nil, err
	}
	defer release()
	img, _, err := media.Decode(content, media.Limits{})
	if err != nil {
		return "", nil, core.Errorf(core.ErrNotFound, "%s cannot be shown: %w", what, err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", nil, err
	}
	return "image/png", b.Bytes(), nil
}

// writeImage sends an image shown inline, never cached nor sniffed.
func writeImage(w http.ResponseWriter, typ string, content []byte) error {
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Length", strconv.Itoa(len(content)))
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(content)
	return err
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	if err := form(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	d := triage.Decision{Kind: triage.DecisionKind(r.PostFormValue("kind")), Text: r.PostFormValue("text")}
	// A report leaves the centre only from the page that shows where it
	// goes.
	if d.Kind == triage.Forward && r.PostFormValue("confirm") != "yes" {
		return core.Errorf(core.ErrInvalid, "confirm the forward on the page that shows the receiving authorities (Forward to law enforcement on the report's page)")
	}
	if err := s.Triage.Decide(r.Context(), fmt.Sprintf("user:%d", u.ID), id, d); err != nil {
		return err
	}
	// The kind, not the text: the reasons and questions are in the
	// report's sealed history, and the trail holds no personal data.
	_, err := s.Audit.Append(r.Context(), audit.Event{
		At: time.Now(), OrgID: u.OrgID, OrgName: u.OrgName, Actor: fmt.Sprintf("user:%d", u.ID),
		Action: "report.decide", Object: "report:" + id, Purpose: "decision: " + string(d.Kind), Outcome: audit.OK,
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/reports?done="+id, http.StatusSeeOther)
	return nil
}

// bases explain why an authority is competent.
var bases = map[forward.Basis]string{
	forward.BasisUploadIP:  "the country of an IP address the content was uploaded from",
	forward.BasisIP:        "the country of an IP address the reported user used",
	forward.BasisUser:      "the reported user's country, as the provider states it",
	forward.BasisProvider:  "the country the provider is established in",
	forward.BasisNoneFound: "no country with a registered authority was found: Europol alone",
}

type forwardPage struct {
	base
	V           triage.CaseView
	Country     string
	Basis       string
	Authorities []string
	// NoAuthority: none is registered; the report waits for one.
	NoAuthority bool
}

// forwardConfirm shows where a forward would send the case's lead, with
// the button that forwards it: routing is decided again, by the same
// rule, when the report is routed.
func (s *Server) forwardConfirm(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id := r.PathValue("id")
	v, err := s.Triage.Case(r.Context(), id)
	if err != nil {
		return err
	}
	switch {
	case v.CaseID != id:
		return core.Errorf(core.ErrInvalid, "report %s is not the lead of its case: forward the case from its lead", id)
	case v.Report.State != report.StateQueued && v.Report.State != report.StateInfoRequested:
		return core.Errorf(core.ErrConflict, "report %s is %s: it cannot be forwarded now", id, v.Report.State)
	}
	provider, err := s.Orgs.ByID(r.Context(), v.Report.Provider)
	if err != nil {
		return err
	}
	orgs, err := s.Orgs.List(r.Context())
	if err != nil {
		return err
	}
	p := forwardPage{base: s.base(r, u, "Forward report "+id), V: v}
	dec, err := forward.Decide(v.Report.Draft, provider, orgs)
	switch {
	case errors.Is(err, forward.ErrNoAuthority):
		p.NoAuthority = true
	case err != nil:
		return err
	default:
		p.Country, p.Basis = dec.Country, bases[dec.Basis]
		byID := map[int64]org.Organisation{}
		for _, o := range orgs {
			byID[o.ID] = o
		}
		for _, a := range dec.Authorities {
			o := byID[a]
			p.Authorities = append(p.Authorities, authorityName(o.Name, o.Kind, o.Country))
		}
	}
	// The routing is read from the report's sealed facts (the user's
	// addresses): a view of the report.
	if err := s.recordPurpose(r, u, "report.view", "report:"+id, "forward confirmation"); err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "forward", p)
}

// deadShown is how many dead jobs the jobs page shows.
const deadShown = 200

type jobsPage struct {
	base
	Pending []pendingRow
	Dead    []jobs.Job
}

type pendingRow struct {
	Kind  string
	Count int
}

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	pending, err := s.Jobs.PendingJobs(r.Context())
	if err != nil {
		return err
	}
	p := jobsPage{base: s.base(r, u, "Jobs")}
	for k, n := range pending {
		p.Pending = append(p.Pending, pendingRow{k, n})
	}
	slices.SortFunc(p.Pending, func(a, b pendingRow) int { return strings.Compare(a.Kind, b.Kind) })
	if p.Dead, err = s.Jobs.DeadJobs(r.Context(), deadShown); err != nil {
		return err
	}
	if n, err := strconv.ParseInt(r.URL.Query().Get("retried"), 10, 64); err == nil {
		p.Flash = fmt.Sprintf("Job %d will run again shortly.", n)
	}
	return s.render(w, http.StatusOK, "jobs", p)
}

func (s *Server) retryJob(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	if err := s.Jobs.ReviveJob(r.Context(), id, time.Now()); err != nil {
		return err
	}
	if err := s.record(r, u, "job.retry", fmt.Sprintf("job:%d", id), audit.OK); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/jobs?retried=%d", id), http.StatusSeeOther)
	return nil
}
