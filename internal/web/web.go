// Package web is Ward's console: server-rendered pages (html/template,
// embedded templates and assets, no scripts, no build step) for the staff of
// the centre and of the organisations it works with, and the public pages
// (the one page with a script is /help/remove, which hashes files in the
// browser: help.go). Every page is listed in one route table with the
// policy action it needs; one adapter checks the session and the policy
// and renders errors as pages.
//
// Protections: sessions in Secure, HttpOnly, SameSite=Strict cookies;
// cross-site form posts refused (http.CrossOriginProtection); a strict
// Content-Security-Policy with no inline code; pages never cached.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/victim"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Auth is what the console needs of staff accounts.
type Auth interface {
	Login(ctx context.Context, email, password, code, remoteAddr string) (auth.Session, auth.User, error)
	Session(ctx context.Context, token string) (auth.User, error)
	Logout(ctx context.Context, token string) error
	BeginEnrolment(ctx context.Context, token string) (u auth.User, secret, otpauthURL string, err error)
	CompleteEnrolment(ctx context.Context, token, password, code string) error
	AddUser(ctx context.Context, orgName string, role auth.Role, email string) (auth.User, string, error)
	Users(ctx context.Context, orgID int64) ([]auth.User, error)
	User(ctx context.Context, id int64) (auth.User, error)
	DisableUser(ctx context.Context, id int64) error
}

// Server holds the console's dependencies.
type Server struct {
	Auth       Auth
	Orgs       *org.Service
	Indicators *indicator.Service
	Audit      *audit.Log
	Triage     *triage.Service
	Jobs       jobs.Store
	Logger     *slog.Logger
	// BaseURL is the console's external address, for enrolment links.
	BaseURL string
	// Decode admits the decodes of files shown converted to PNG (TIFF,
	// PNM), sharing the API's budget; nil uses a budget of the console's
	// own. Other images are sent as stored, not decoded.
	Decode *media.Budget

	// Takedown is the hotline channel: the public reporting page and the
	// staff's pages of cases and figures.
	Takedown *takedown.Service
	// PublicLimit limits the public reports and complaints per client
	// address, LookupLimit the complaint status look-ups (each shared
	// with the API's public routes); nil is ratelimit.DefaultPublic and
	// DefaultPublicLookup.
	PublicLimit *ratelimit.Public
	LookupLimit *ratelimit.Public
	// Stats publishes the transparency statistics on the public page
	// /transparency; nil shows none. StatsLimit limits the page's
	// requests per client address (shared with the API's route); nil is
	// ratelimit.DefaultPublicRead.
	Stats      *stats.Service
	StatsLimit *ratelimit.Public

	// Help is the directory of help services for victims that the page
	// /help/remove lists; nil lists none. HelpLimit limits the page's
	// look-ups in it per client address; nil is
	// ratelimit.DefaultPublicRead.
	Help      HelpDirectory
	HelpLimit *ratelimit.Public

	// Quarantine is the review of quarantined indicators: the reviewers'
	// queue and decisions, and the quarantine by hand on an indicator's
	// page.
	Quarantine *quarantine.Service
	// Complaints are the complaints about removed content: the public
	// page that files them and shows their status, and the reviewers'
	// queue and decisions.
	Complaints *complaint.Service
	// Victims are the victims' cases: the public page /help/case, where
	// the person follows a case and withdraws its hashes (look-ups and
	// withdrawals count against LookupLimit).
	Victims *victim.Service

	// WrapRoute, if set, wraps the handler of each route, given its
	// pattern (metrics label requests with it, never with the path).
	WrapRoute func(pattern string, h http.Handler) http.Handler

	pages map[string]*template.Template
	// public holds the public pages by language, then name.
	public      map[string]map[string]*template.Template
	catalogues  map[string]*catalogue
	publicLimit *ratelimit.Public
	lookupLimit *ratelimit.Public
	statsLimit  *ratelimit.Public
	helpLimit   *ratelimit.Public
}

// sessionCookie is the session cookie's name. The __Host- prefix makes
// browsers refuse it unless it is Secure, host-only and for the whole site.
const sessionCookie = "__Host-ward_session"

// maxForm bounds a form body.
const maxForm = 64 << 10

// route is one console page. An empty action marks the public pages
// (login, enrolment, assets).
type route struct {
	pattern string
	action  policy.Action
	handle  func(w http.ResponseWriter, r *http.Request, u *auth.User) error
}

func (s *Server) routes() []route {
	return []route{
		{"GET /static/", "", s.static},
		{"GET /static/hash.wasm", "", s.hashWasmFile},
		{"GET /static/hash-worker.js", "", s.hashWorker},
		{"GET /login", "", s.loginPage},
		{"POST /login", "", s.login},
		{"GET /enrol/{token}", "", s.enrolPage},
		{"POST /enrol/{token}", "", s.enrol},
		{"GET /enrol/{token}/qr.png", "", s.enrolQR},
		{"GET /enrolled", "", s.enrolled},
		{"GET /report", "", s.reportFormPage},
		{"POST /report", "", s.reportURL},
		{"GET /complaint", "", s.complaintFormPage},
		{"POST /complaint", "", s.fileComplaint},
		{"GET /complaint/status", "", s.statusFormPage},
		{"POST /complaint/status", "", s.complaintStatus},
		{"GET /help/case", "", s.victimFormPage},
		{"POST /help/case", "", s.victimCase},
		{"GET /transparency", "", s.transparency},
		{"GET /transparency/definitions", "", s.definitions},
		{"GET /help/remove", "", s.helpRemove},
		{"POST /logout", policy.ConsoleHome, s.logout},
		{"GET /{$}", policy.ConsoleHome, s.home},
		{"GET /users", policy.UsersManage, s.users},
		{"POST /users", policy.UsersManage, s.addUser},
		{"POST /users/{id}/disable", policy.UsersManage, s.disableUser},
		{"GET /keys", policy.KeysManage, s.keys},
		{"POST /keys", policy.KeysManage, s.createKey},
		{"POST /keys/{id}/revoke", policy.KeysManage, s.revokeKey},
		{"GET /lists", policy.ListsRead, s.lists},
		{"GET /lists/{list}", policy.ListsRead, s.list},
		{"GET /indicators/{id}", policy.IndicatorsRead, s.indicatorPage},
		{"POST /indicators/{id}/quarantine", policy.QuarantineAdd, s.quarantineIndicator},
		{"GET /quarantine", policy.QuarantineRead, s.quarantineQueue},
		{"GET /quarantine/{id}", policy.QuarantineRead, s.quarantinePage},
		{"POST /quarantine/{id}/confirm", policy.QuarantineReview, s.confirmQuarantine},
		{"POST /quarantine/{id}/withdraw", policy.QuarantineReview, s.withdrawQuarantine},
		{"GET /complaints", policy.ComplaintsRead, s.complaints},
		{"GET /complaints/{id}", policy.ComplaintsRead, s.complaintPage},
		{"POST /complaints/{id}/decision", policy.ComplaintsDecide, s.decideComplaint},
		{"GET /audit", policy.AuditRead, s.auditPage},
		{"GET /audit/export", policy.AuditRead, s.auditExport},
		{"GET /reports", policy.ReportsRead, s.queue},
		{"GET /reports/{id}", policy.ReportsRead, s.reportPage},
		{"GET /reports/{id}/files/{index}", policy.ReportsRead, s.filePage},
		{"GET /reports/{id}/files/{index}/content", policy.ReportsRead, s.fileContent},
		{"GET /reports/{id}/forward", policy.ReportsDecide, s.forwardConfirm},
		{"POST /reports/{id}/decision", policy.ReportsDecide, s.decide},
		{"GET /cases", policy.CasesRead, s.cases},
		{"GET /cases/{id}", policy.CasesRead, s.casePage},
		{"GET /cases/{id}/items/{index}", policy.CasesRead, s.caseItemPage},
		{"GET /cases/{id}/items/{index}/content", policy.CasesRead, s.caseItemContent},
		{"POST /cases/{id}/assessment", policy.CasesAssess, s.assessCase},
		{"POST /cases/{id}/handover", policy.CasesAssess, s.handOver},
		{"GET /takedown", policy.TakedownFigures, s.figures},
		{"GET /jobs", policy.JobsManage, s.jobsPage},
		{"POST /jobs/{id}/retry", policy.JobsManage, s.retryJob},
	}
}

// allDataActions are the actions whose console pages show every
// organisation's data (the assessment queue, any provider's report, every
// job, every quarantine and complaint): the narrower scopes some roles
// have of them (a provider's own reports, an authority's routed ones) do
// not open those pages.
var allDataActions = map[policy.Action]bool{
	policy.ReportsRead: true, policy.ReportsDecide: true, policy.JobsManage: true,
	policy.QuarantineRead: true, policy.QuarantineAdd: true, policy.QuarantineReview: true,
	policy.ComplaintsRead: true, policy.ComplaintsDecide: true,
}

// mayOpen reports whether u may open the console's pages of action a.
func mayOpen(u *auth.User, a policy.Action) bool {
	scope := policy.Scope(subject(u), a)
	return scope != "" && (!allDataActions[a] || scope == policy.AllData)
}

// RouteInfo describes a console route for the policy tests.
type RouteInfo struct {
	Pattern string
	Action  policy.Action // empty for public pages
	// AllData: the page needs the action's policy.AllData scope.
	AllData bool
}

// Routes lists the console's routes.
func (s *Server) Routes() []RouteInfo {
	var out []RouteInfo
	for _, r := range s.routes() {
		out = append(out, RouteInfo{r.pattern, r.action, allDataActions[r.action]})
	}
	return out
}

// Handler parses the templates (failing if one is broken) and returns the
// console's handler.
func (s *Server) Handler() (http.Handler, error) {
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.publicLimit = s.PublicLimit
	if s.publicLimit == nil {
		s.publicLimit = ratelimit.DefaultPublic()
	}
	if s.lookupLimit = s.LookupLimit; s.lookupLimit == nil {
		s.lookupLimit = ratelimit.DefaultPublicLookup()
	}
	if s.statsLimit = s.StatsLimit; s.statsLimit == nil {
		s.statsLimit = ratelimit.DefaultPublicRead()
	}
	if s.helpLimit = s.HelpLimit; s.helpLimit == nil {
		s.helpLimit = ratelimit.DefaultPublicRead()
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		h := s.adapt(rt)
		if s.WrapRoute != nil {
			h = s.WrapRoute(rt.pattern, h)
		}
		mux.Handle(rt.pattern, h)
	}
	// Anything else is a page that does not exist, shown as a page.
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, s.user(r), errNoPage)
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPath(r.URL.Path) {
			s.publicRefusal(w, r)
			return
		}
		s.renderError(w, r, nil, errCrossOrigin)
	}))
	return cop.Handler(mux), nil
}

// parse parses the console's pages, each with layout.html, and the
// public pages (public_*.html), each with public.html, once for each
// catalogue; it fails if a catalogue lacks a message that they use.
func (s *Server) parse() error {
	s.pages = map[string]*template.Template{}
	cats, err := loadCatalogues(localeFS)
	if err != nil {
		return err
	}
	s.catalogues, s.public = cats, map[string]map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	ids := slices.Clone(codeMessages)
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" || page == "public" {
			continue
		}
		if strings.HasPrefix(page, "public_") {
			for lang, cat := range cats {
				t, err := template.New(page).Funcs(publicFuncs(cat)).ParseFS(templateFS, "templates/public.html", n)
				if err != nil {
					return fmt.Errorf("template %s: %w", page, err)
				}
				if s.public[lang] == nil {
					s.public[lang] = map[string]*template.Template{}
				}
				s.public[lang][page] = t
			}
			src, err := fs.ReadFile(templateFS, n)
			if err != nil {
				return err
			}
			ids = append(ids, messageIDs(string(src))...)
			continue
		}
		t, err := template.New(page).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("template %s: %w", page, err)
		}
		s.pages[page] = t
	}
	layout, err := fs.ReadFile(templateFS, "templates/public.html")
	if err != nil {
		return err
	}
	return checkCatalogues(cats, append(ids, messageIDs(string(layout))...))
}

var (
	errNoPage      = core.Errorf(core.ErrNotFound, "there is no such page")
	errCrossOrigin = core.Errorf(core.ErrForbidden, "the form was sent from another site, so it was refused")
	errLoginNeeded = errors.New("login needed")
)

// adapt checks the session and the policy, then runs the handler.
func (s *Server) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		u := s.user(r)
		err := func() error {
			if rt.action == "" {
				return rt.handle(w, r, u)
			}
			if u == nil {
				return errLoginNeeded
			}
			if !mayOpen(u, rt.action) {
				return core.Errorf(core.ErrForbidden, "your role (%s) may not open this page", u.Role)
			}
			return rt.handle(w, r, u)
		}()
		if errors.Is(err, errLoginNeeded) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			s.renderError(w, r, u, err)
		}
	})
}

func subject(u *auth.User) policy.Subject {
	return policy.Subject{Role: u.Role, Kind: u.OrgKind, OrgID: u.OrgID}
}

// strictCSP is every page's Content-Security-Policy but /help/remove's,
// which adds to it (helpCSP).
const strictCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders are sent with every page: no scripts (but on
// /help/remove, which sets helpCSP over them), styles only from
// the site, no framing, no caching of pages that show sensitive data.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", strictCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// user returns the logged-in user of the request, or nil.
func (s *Server) user(r *http.Request) *auth.User {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	u, err := s.Auth.Session(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	return &u
}

func setSession(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// base is what every page shows.
type base struct {
	Title string
	User  *auth.User
	Nav   []navItem
	Flash string
}

type navItem struct {
	Path, Label string
	Current     bool
}

// nav lists the pages the user may open.
func (s *Server) base(r *http.Request, u *auth.User, title string) base {
	b := base{Title: title, User: u}
	if u == nil {
		return b
	}
	for _, n := range []struct {
		path, label string
		action      policy.Action
	}{
		{"/", "Start", policy.ConsoleHome},
		{"/reports", "Reports", policy.ReportsRead},
		{"/cases", "Cases", policy.CasesRead},
		{"/takedown", "Takedown figures", policy.TakedownFigures},
		{"/lists", "Lists", policy.ListsRead},
		{"/quarantine", "Quarantine", policy.QuarantineRead},
		{"/complaints", "Complaints", policy.ComplaintsRead},
		{"/users", "Users", policy.UsersManage},
		{"/keys", "API keys", policy.KeysManage},
		{"/jobs", "Jobs", policy.JobsManage},
		{"/audit", "Audit", policy.AuditRead},
	} {
		if mayOpen(u, n.action) {
			b.Nav = append(b.Nav, navItem{Path: n.path, Label: n.label, Current: r.URL.Path == n.path})
		}
	}
	return b
}

func (s *Server) render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(b.String()))
	return err
}

type errorPage struct {
	base
	Heading, Message string
}

// renderError answers with err as an error page: its status by
// core.HTTPStatus, as the API; internal errors are logged, not shown.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, u *auth.User, err error) {
	securityHeaders(w.Header())
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		err = core.Errorf(core.ErrTooLarge, "the form sent more data than allowed")
	}
	status := core.HTTPStatus(err)
	if secs, ok := core.RetrySeconds(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	heading, msg := errorHeading(status), capitalise(err.Error())
	switch {
	case core.Kind(err) == nil:
		msg = "The error has been logged. Please try again later."
		s.Logger.Error("console page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case status != http.StatusTooManyRequests: // refusals of a flood are not logged one by one
		s.Logger.Info("console request refused", "method", r.Method, "path", r.URL.Path, "status", status)
	}
	p := errorPage{base: s.base(r, u, heading), Heading: heading, Message: msg}
	if rerr := s.render(w, status, "error", p); rerr != nil {
		http.Error(w, msg, status)
	}
}

// WriteError answers a request with err as an error page, for handlers in
// front of the console's routes (the rate limiter).
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.renderError(w, r, nil, err)
}

// errorHeading is the heading of an error page of a status.
func errorHeading(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return "That did not work"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusRequestEntityTooLarge:
		return "Too much data"
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return "Busy"
	}
	return "Something went wrong"
}

// capitalise starts a message with a capital letter, for a page.
func capitalise(msg string) string {
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

func (s *Server) static(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.FileServerFS(staticFS).ServeHTTP(w, r)
	return nil
}
