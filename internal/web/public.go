package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/takedown"
)

// The public reporting page: anyone may report a URL, without an account
// and without scripts (it works in a text browser). The reporter's
// address is neither stored nor logged: the rate limit keeps, in memory
// only and for minutes, a keyed hash of it.

// The messages the code (rather than a template) shows: the catalogues
// are checked for them as for the templates' ones.
const (
	msgURLRequired    = "report.error.url.required"
	msgURLInvalid     = "report.error.url.invalid"
	msgContactInvalid = "report.error.contact.invalid"
	msgBusy           = "error.busy.text"
	msgCrossOrigin    = "error.crossorigin"
	msgTooLarge       = "error.toolarge"
	msgInternal       = "error.internal"
)

// The transparency page's.
const (
	msgStatsNone      = "stats.error.none"
	msgStatsBusy      = "stats.error.busy"
	msgStatsInternal  = "stats.error.internal"
	msgStatsHours     = "stats.hours"
	msgStatsThousands = "stats.thousands"
)

var codeMessages = append([]string{msgURLRequired, msgURLInvalid, msgContactInvalid, msgBusy, msgCrossOrigin, msgTooLarge, msgInternal,
	msgProviderRequired, msgProviderUnknown, msgReferenceRequired, msgDescriptionRequired, msgCaseRequired, msgSecretRequired, msgNoCase,
	msgVictimNoCase, msgVictimWithdrawn, msgVictimWithdrawnAll,
	msgStatsNone, msgStatsBusy, msgStatsInternal, msgStatsHours, msgStatsThousands,
	"stats.type.known", "stats.type.new", "stats.type.solicitation",
	"stats.error." + stats.CodeDate, "stats.error." + stats.CodeFuture, "stats.error." + stats.CodeBeforeFrom, "stats.error." + stats.CodeTooLong},
	append(flowMessages(), helpMessages()...)...)

// publicFlow is one public form: its page, and the messages (IDs) its
// failures are shown with.
type publicFlow struct {
	path string
	// title heads a failure, busyTitle and busy (with the seconds to
	// wait) a refusal of the rate limit, internal an internal error; back
	// labels the link back to the form.
	title, busyTitle, busy, internal, back string
}

var (
	reportFlow    = publicFlow{"/report", "error.title", "error.busy.title", msgBusy, msgInternal, "error.back"}
	complaintFlow = publicFlow{"/complaint", "complaint.error.title", "complaint.busy.title", "complaint.busy.text", "complaint.error.internal", "complaint.error.back"}
	statusFlow    = publicFlow{"/complaint/status", "status.error.title", "complaint.busy.title", "complaint.busy.text", "status.error.internal", "status.error.back"}
	publicFlows   = []publicFlow{reportFlow, complaintFlow, statusFlow, victimFlow}
)

// flowMessages are the messages of every publicFlow.
func flowMessages() []string {
	var ids []string
	for _, f := range publicFlows {
		ids = append(ids, f.title, f.busyTitle, f.busy, f.internal, f.back)
	}
	return ids
}

// flowOf returns the public form at path, if there is one.
func flowOf(path string) (publicFlow, bool) {
	for _, f := range publicFlows {
		if f.path == path {
			return f, true
		}
	}
	return publicFlow{}, false
}

// publicBase is what every public page has.
type publicBase struct {
	Lang string
}

type reportForm struct {
	publicBase
	URL, Description, Contact string
	MaxURL, MaxDescription    int
	// Errors are the messages shown next to the fields, by field name.
	Errors map[string]string
}

func newReportForm(cat *catalogue) reportForm {
	return reportForm{publicBase: publicBase{cat.lang}, MaxURL: takedown.MaxURL, MaxDescription: takedown.MaxDescription, Errors: map[string]string{}}
}

type thanksPage struct {
	publicBase
	// ID, URL (as the case records it) and Received (takedown.ReceiptTime)
	// are what Receipt signs, for the reporter to check it.
	ID, Receipt, URL, Received string
}

type publicError struct {
	publicBase
	Title, Message string
	// Back is the form to go back to, BackLabel the link's text.
	Back, BackLabel string
}

// newPublicError is a failure of flow f, headed title (a message ID).
func newPublicError(cat *catalogue, f publicFlow, title, msg string) publicError {
	return publicError{publicBase: publicBase{cat.lang}, Title: cat.t(title), Message: msg, Back: f.path, BackLabel: cat.t(f.back)}
}

// publicPath reports whether path is one of the public forms, whose
// refusals are shown as public pages too.
func publicPath(path string) bool {
	_, ok := flowOf(path)
	return ok
}

func (s *Server) reportFormPage(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	return s.renderPublic(w, http.StatusOK, cat, "public_report", newReportForm(cat))
}

func (s *Server) reportURL(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	if err := form(w, r); err != nil {
		return s.publicFailure(w, r, cat, reportFlow, err)
	}
	p := newReportForm(cat)
	p.URL, p.Description, p.Contact = strings.TrimSpace(r.PostFormValue("url")), strings.TrimSpace(r.PostFormValue("description")), strings.TrimSpace(r.PostFormValue("contact"))
	switch u, err := url.Parse(p.URL); {
	case p.URL == "":
		p.Errors["url"] = cat.t(msgURLRequired)
	case err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "":
		p.Errors["url"] = cat.t(msgURLInvalid)
	}
	if p.Contact != "" {
		if a, err := mail.ParseAddress(p.Contact); err != nil || a.Address != p.Contact {
			p.Errors["contact"] = cat.t(msgContactInvalid)
		}
	}
	if len(p.Errors) > 0 {
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_report", p)
	}
	// The limit counts the reports that go to the service: a mistyped
	// address costs nothing, and is not held against the reporter.
	if limited, err := s.publicLimited(w, r, cat, reportFlow, s.publicLimit); limited {
		return err
	}
	rc, err := s.Takedown.Report(r.Context(), org.Principal{}, takedown.URLReport{URL: p.URL, Description: p.Description, Contact: p.Contact})
	if errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrTooLarge) {
		// The service's finer rules (lengths, characters), in its words.
		p.Errors[fieldOf(err)] = capitalise(err.Error())
		return s.renderPublic(w, http.StatusBadRequest, cat, "public_report", p)
	}
	if err != nil {
		return s.publicFailure(w, r, cat, reportFlow, err)
	}
	return s.renderPublic(w, http.StatusAccepted, cat, "public_thanks", thanksPage{publicBase: publicBase{cat.lang}, ID: rc.ID, Receipt: rc.Receipt,
		URL: rc.URL, Received: rc.ReceivedAt.UTC().Format(takedown.ReceiptTime)})
}

// fieldOf names the form field a refusal of the service is about.
func fieldOf(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "contact") || strings.Contains(msg, "e-mail"):
		return "contact"
	case strings.Contains(msg, "description"):
		return "description"
	}
	return "url"
}

// publicLimited takes one of the public limit's tokens for the client of
// r; if there is none, it answers with the refusal, as a page of flow f,
// and reports true.
func (s *Server) publicLimited(w http.ResponseWriter, r *http.Request, cat *catalogue, f publicFlow, l *ratelimit.Public) (bool, error) {
	ok, wait := l.Allow(r.RemoteAddr)
	if ok {
		return false, nil
	}
	secs := (&core.RetryAfter{Err: ratelimit.ErrLimited, Wait: wait}).Seconds()
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return true, s.renderPublic(w, http.StatusTooManyRequests, cat, "public_error", newPublicError(cat, f, f.busyTitle, cat.t(f.busy, secs)))
}

// publicFailure shows err, of flow f, as a public page: in the reader's
// language, without the console's menu. Internal errors are logged,
// without what the reader sent.
func (s *Server) publicFailure(w http.ResponseWriter, r *http.Request, cat *catalogue, f publicFlow, err error) error {
	var maxBytes *http.MaxBytesError
	status, msg := core.HTTPStatus(err), ""
	switch {
	case errors.As(err, &maxBytes):
		status, msg = http.StatusRequestEntityTooLarge, cat.t(msgTooLarge)
	case core.Kind(err) == nil:
		s.Logger.Error("public page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = cat.t(f.internal)
	default:
		// The service's words: the page has no translation of them.
		msg = capitalise(err.Error())
		if secs, ok := core.RetrySeconds(err); ok {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	return s.renderPublic(w, status, cat, "public_error", newPublicError(cat, f, f.title, msg))
}

// publicRefusal is the cross-origin refusal of a public page's form.
func (s *Server) publicRefusal(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	cat := s.language(r)
	f, _ := flowOf(r.URL.Path)
	p := newPublicError(cat, f, f.title, cat.t(msgCrossOrigin))
	if err := s.renderPublic(w, http.StatusForbidden, cat, "public_error", p); err != nil {
		http.Error(w, p.Message, http.StatusForbidden)
	}
}

func (s *Server) renderPublic(w http.ResponseWriter, status int, cat *catalogue, page string, data any) error {
	t, ok := s.public[cat.lang][page]
	if !ok {
		return errors.New("no public template " + page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", cat.lang)
	w.WriteHeader(status)
	_, err := w.Write([]byte(b.String()))
	return err
}

// publicFuncs are the functions of the public templates of cat.
func publicFuncs(cat *catalogue) template.FuncMap {
	f := statsFuncs(cat)
	f["t"] = cat.t
	return f
}
