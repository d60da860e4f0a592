// Package httpapi is Ward's JSON API under /v1, described by the OpenAPI
// document in docs/ (served at /v1/openapi), plus the liveness and
// readiness probes. Handlers return errors; one adapter authenticates each
// request, checks the route's policy action (package policy), and renders
// every error as RFC 9457 problem details.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/client"
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
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/victim"
)

// Authenticator resolves an API key to its organisation.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (org.Principal, error)
}

// Server holds the API's dependencies.
type Server struct {
	Orgs       Authenticator
	Indicators *indicator.Service
	Matcher    *matcher.Matcher
	// Ready reports whether the match index is loaded.
	Ready  func() bool
	Logger *slog.Logger
	// MaxThreshold caps the PDQ threshold a request may ask for.
	MaxThreshold int
	// Images limits uploaded images.
	Images media.Limits
	// Decode, if set, admits the decodes of uploaded images; nil decodes
	// at once.
	Decode *media.Budget
	// Bodies, if set, admits the request bodies of uploads and
	// hash-match, which are held whole in memory, by their size, before
	// they are read; nil reads them at once.
	Bodies *media.Budget
	// OpenAPI is the API description served at /v1/openapi.
	OpenAPI []byte
	// Audit records changes made through the API; nil records nothing
	// (benchmarks).
	Audit *audit.Log
	// Reports runs the providers' reports, and Directory describes to
	// them the authorities their reports went to.
	Reports   *report.Service
	Directory Directory
	// MaxReportFile limits a report's file, in bytes; 0 means
	// report.MaxFileSize.
	MaxReportFile int64
	// Forward serves the authorities their reports.
	Forward *forward.Service
	// KeyLimit limits requests per API key, by the ID of the key they
	// authenticate with, however the header spells it; nil limits
	// nothing. (Limits per client address are the server's, before
	// this.)
	KeyLimit *ratelimit.Limiter
	// Takedown runs the hotline channel: URL reports, cases, notices; nil
	// answers its routes with 503.
	Takedown *takedown.Service
	// Quarantine runs the providers' verdicts on matches and the
	// quarantine of indicators; nil answers its routes with 503.
	Quarantine *quarantine.Service
	// Sightings, if set, is told of every match the match routes answer
	// (the flood rule); nil tells nothing.
	Sightings Sightings
	// PublicLimit limits the public's URL reports and complaints per
	// client address, more strictly than every request is limited (they
	// need no key and each opens a case), never keeping the address; the
	// console's public pages share it. Nil limits them as every request
	// only.
	PublicLimit *ratelimit.Public
	// Complaints takes complaints about removed content; nil answers its
	// routes with 503. LookupLimit limits the public's look-ups of a
	// complaint's status per client address (the console's status page
	// shares it); nil limits them as every request only.
	Complaints  *complaint.Service
	LookupLimit *ratelimit.Public
	// Stats publishes the transparency statistics; nil answers their
	// route with 503. StatsLimit limits their requests per client
	// address (the console's page shares it); nil limits them as every
	// request only.
	Stats      *stats.Service
	StatsLimit *ratelimit.Public
	// Log serves the transparency logs of the lists and of the audit
	// trail; nil answers their routes with 503. LogLimit limits their
	// public requests per client address; nil limits them as every
	// request only.
	Log      *translog.Service
	LogLimit *ratelimit.Public
	// Victims runs the victims' cases and the directory of help
	// services; nil answers their routes with 503. Opening a case and
	// adding hashes count against PublicLimit, a case's status and
	// withdrawals against LookupLimit, and the help services against
	// HelpLimit (nil limits them as every request only).
	Victims   *victim.Service
	HelpLimit *ratelimit.Public
	// VictimMatches, if set, is told of each provider's match of an
	// unverified list's indicator (the match routes, and match-feedback
	// "confirmed"), for the victims' cases to count; nil tells nothing.
	VictimMatches VictimMatches

	// WrapRoute, if set, wraps the handler of each route, given its
	// pattern (metrics label requests with it, never with the path).
	WrapRoute func(pattern string, h http.Handler) http.Handler
}

// record appends an audit entry for a change p made. The change is already
// committed; a failure to record it is reported as the request's error.
func (s *Server) record(r *http.Request, p org.Principal, action, object string) error {
	if s.Audit == nil {
		return nil
	}
	_, err := s.Audit.Append(r.Context(), audit.Event{
		At: time.Now(), OrgID: p.OrgID, OrgName: p.OrgName, Actor: "key:" + p.KeyID,
		Action: action, Object: object, Outcome: "ok",
	})
	return err
}

// Limits of the API.
const (
	MaxItems        = 1000    // items per match request
	maxJSONBody     = 4 << 20 // bytes of a JSON request body
	defaultPageSize = 1000
)

// route is one entry of the routing table: its pattern, the policy action
// it needs, or noKey for the few routes open to anyone.
type route struct {
	pattern string
	action  policy.Action
	handle  func(w http.ResponseWriter, r *http.Request, p org.Principal) error
}

// noKey marks the routes that need no API key: the probes, the public's
// URL reports, complaints and the statistics. It is no action of the
// policy, so that a route whose action was forgotten ("") is refused to
// every key rather than open to anyone.
const noKey policy.Action = "(no key)"

func (s *Server) routes() []route {
	rs := []route{
		{"GET /livez", noKey, s.livez},
		{"GET /readyz", noKey, s.readyz},
		{"GET /v1/openapi", policy.APIDescribe, s.openapi},
		{"POST /v1/match", policy.Match, s.match},
		{"POST /v1/hash-match", policy.Match, s.hashMatch},
		{"GET /v1/lists", policy.ListsRead, s.lists},
		{"GET /v1/lists/{list}/changes", policy.ChangesRead, s.changes},
		{"POST /v1/indicators", policy.IndicatorsSubmit, s.submit},
		{"GET /v1/indicators/{id}", policy.IndicatorsRead, s.indicator},
		// Which indicators an organisation may withdraw (those it
		// attested, or all) the indicator service decides.
		{"POST /v1/indicators/{id}/withdraw", policy.IndicatorsWithdraw, s.withdraw},
	}
	rs = append(rs, s.reportRoutes()...)
	rs = append(rs, s.leaRoutes()...)
	rs = append(rs, s.quarantineRoutes()...)
	rs = append(rs, s.complaintRoutes()...)
	rs = append(rs, s.statisticsRoutes()...)
	rs = append(rs, s.logRoutes()...)
	rs = append(rs, s.victimRoutes()...)
	return append(rs, s.takedownRoutes()...)
}

// Patterns lists the routes, for tests and documentation checks.
func (s *Server) Patterns() []string {
	var p []string
	for _, rt := range s.routes() {
		p = append(p, rt.pattern)
	}
	return p
}

// RouteInfo describes a route for the policy tests.
type RouteInfo struct {
	Pattern string
	// Public routes need no API key (the probes, the public's URL
	// reports, the statistics); every other route needs one and Action.
	Public bool
	Action policy.Action // empty for the public routes
}

// Routes lists the routes with the policy action each needs.
func (s *Server) Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.routes() {
		if rt.action == noKey {
			out = append(out, RouteInfo{Pattern: rt.pattern, Public: true})
			continue
		}
		out = append(out, RouteInfo{Pattern: rt.pattern, Action: rt.action})
	}
	return out
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		h := s.adapt(rt)
		if s.WrapRoute != nil {
			h = s.WrapRoute(rt.pattern, h)
		}
		mux.Handle(rt.pattern, h)
	}
	return s.notFound(mux)
}

// adapt authenticates and authorises a request, runs the handler, and
// renders its error.
func (s *Server) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.serve(rt, w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) serve(rt route, w http.ResponseWriter, r *http.Request) error {
	var p org.Principal
	if rt.action != noKey {
		var err error
		if p, err = s.authenticate(r); err != nil {
			return err
		}
		if s.KeyLimit != nil {
			if ok, wait := s.KeyLimit.Allow(p.KeyID); !ok {
				return &core.RetryAfter{Err: errTooMany, Wait: wait}
			}
		}
		if err := policy.Require(policy.ForPrincipal(p), rt.action); err != nil {
			return err
		}
	}
	return rt.handle(w, r, p)
}

func (s *Server) authenticate(r *http.Request) (org.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return org.Principal{}, errNoKey
	}
	return s.Orgs.Authenticate(r.Context(), strings.TrimSpace(key))
}

// errTooMany refuses a request of a key over its rate.
var errTooMany = core.Errorf(core.ErrTooMany, "too many requests with this API key; retry after the number of seconds in Retry-After")

var errNoKey = fmt.Errorf("%w: an API key is needed: send the header \"Authorization: Bearer <key>\"", org.ErrBadKey)

// notFound answers requests no route matches with problem details rather
// than the mux's plain text.
func (s *Server) notFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		status := rec.status
		if status == 0 || status == http.StatusOK {
			status = http.StatusNotFound
		}
		detail := "no such endpoint; see /v1/openapi"
		if status == http.StatusMethodNotAllowed {
			detail = "method " + r.Method + " is not allowed here; allowed: " + rec.header.Get("Allow")
		}
		s.writeProblem(w, r, &client.Problem{Status: status, Title: http.StatusText(status), Detail: detail})
	})
}

// statusRecorder captures what the mux would answer for an unmatched
// request.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// maxFieldErrors is the most field errors an answer lists; error_count
// says how many there were. It bounds both the answer and the memory of
// collecting them, whatever the request holds.
const maxFieldErrors = report.MaxErrors

// fieldErrors reports every invalid field of a request at once, the first
// maxFieldErrors of them listed.
type fieldErrors struct {
	list  []client.FieldError
	total int
}

// fieldError is the fieldErrors of one field.
func fieldError(pointer string, err error) error {
	var f fieldErrors
	f.add(pointer, err)
	return f
}

func (f fieldErrors) Error() string {
	var b strings.Builder
	for i, e := range f.list {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", e.Pointer, e.Detail)
	}
	if f.total > len(f.list) {
		fmt.Fprintf(&b, "; and %d more", f.total-len(f.list))
	}
	return b.String()
}

func (f fieldErrors) Unwrap() error { return core.ErrInvalid }

func (f *fieldErrors) add(pointer string, err error) {
	f.addLazy(func() string { return pointer }, err)
}

// addLazy is add with the pointer built only if the error is listed.
func (f *fieldErrors) addLazy(pointer func() string, err error) {
	f.total++
	if len(f.list) >= maxFieldErrors {
		return
	}
	msg := err.Error()
	f.list = append(f.list, client.FieldError{Pointer: clip(pointer(), maxErrorText), Detail: clip(msg, maxErrorText)})
}

// maxErrorText bounds each pointer and detail of a fieldErrors, in bytes
// (an ellipsis follows if cut): a pointer repeats a request's keys, which
// can be megabytes long.
const maxErrorText = 256

// clip cuts s to at most n bytes, at a character boundary, marking the
// cut with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// limit reads a page's limit parameter: def if absent, else a number of
// 1 to most, or a field error.
func (f *fieldErrors) limit(q url.Values, def, most int) int {
	v := q.Get("limit")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		f.add("/limit", fmt.Errorf("limit must be 1 to %d, got %q", most, v))
		return def
	}
	return n
}

func (f fieldErrors) err() error {
	if f.total == 0 {
		return nil
	}
	return f
}

// WriteError answers a request with err as problem details, for handlers
// outside the API's routes (the rate limiter in front of them).
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// writeError answers with err as problem details: its status by
// core.HTTPStatus, its message as the detail, unless it is an internal
// failure, which is logged and not shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	p := &client.Problem{Detail: err.Error()}
	var fe fieldErrors
	var ve *report.ValidationError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		p.Errors, p.ErrorCount = fe.list, fe.total
		p.Detail = "the request has invalid fields"
	case errors.As(err, &ve):
		p.Errors, p.ErrorCount = reportFieldErrors(ve), max(ve.Total, len(ve.Errors))
		p.Detail = "the request has invalid fields"
	case errors.As(err, &maxBytes):
		err = core.Errorf(core.ErrTooLarge, "the request body is over the limit of %d bytes", maxBytes.Limit)
		p.Detail = err.Error()
	}
	p.Status = core.HTTPStatus(err)
	if secs, ok := core.RetrySeconds(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	switch {
	case p.Status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="ward"`)
	case p.Status >= 500 && core.Kind(err) == nil:
		p.Detail = "internal error; it has been logged"
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case p.Status != http.StatusTooManyRequests: // refusals of a flood are not logged one by one
		s.Logger.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "detail", p.Detail)
	}
	// The one cap of every answer's field errors.
	if len(p.Errors) > maxFieldErrors {
		p.Errors = p.Errors[:maxFieldErrors]
	}
	p.Title = http.StatusText(p.Status)
	s.writeProblem(w, r, p)
}

func (s *Server) writeProblem(w http.ResponseWriter, _ *http.Request, p *client.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body strictly: unknown fields are refused, so a
// misspelt field ("treshold") is an error rather than silently ignored.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONMax(w, r, v, maxJSONBody)
}

// decodeJSONMax is decodeJSON for a body of at most limit bytes.
func decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	data, err := readJSONMax(w, r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return core.Errorf(core.ErrInvalid, "the request body is empty; it must be a JSON object")
		}
		return core.Errorf(core.ErrInvalid, "the request body is not valid JSON of the expected shape: %v", err)
	}
	if dec.More() {
		return core.Errorf(core.ErrInvalid, "the request body has data after the JSON object")
	}
	return nil
}

// checkJSONType refuses a body declared as something else than JSON; no
// Content-Type is taken as JSON.
func checkJSONType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return core.Errorf(core.ErrInvalid, "Content-Type must be application/json, not %q", ct)
	}
	return nil
}

var errNotReady = &core.RetryAfter{Err: core.Errorf(core.ErrUnavailable, "the match index is still loading; try again shortly"), Wait: time.Second}

func (s *Server) livez(w http.ResponseWriter, _ *http.Request, _ org.Principal) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ org.Principal) error {
	if !s.Ready() {
		return errNotReady
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ org.Principal) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(s.OpenAPI)
	return err
}
