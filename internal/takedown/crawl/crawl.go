// Package crawl fetches what the public reports, safely: http and https
// only, each name resolved once and the connection pinned to that
// address, no internal address, redirects checked again, time and byte
// limits per resource and per case, a bound on the memory of all fetches,
// and from an HTML page the media it embeds. A certificate that is not
// valid does not stop a fetch, it is recorded (Resource.TLSError).
//
// The content fetched is held in memory until the caller is done with it:
// a Result or Resource must be released (Release) then, so that the
// process's fetch memory (Config.Memory) is given back.
//
// The fetcher reaches hosts on behalf of whoever reported a URL, so the
// URL must not lead it to the centre's own services: a name is resolved
// once per case (Fetch or Get), every address it resolves to must be
// public (netguard), and the connection is dialled to those addresses,
// never to the name again, so that a name cannot resolve to a public
// address for the check and to an internal one for the connection (DNS
// rebinding). Every redirect's target is checked the same way.
package crawl

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/platform/netguard"
)

// Resource is one fetched URL, or the content of a data: URI on a page.
//
// Its Body stays in the fetch memory (Config.Memory) until Release is
// called: the caller must call it once done with the Body.
type Resource struct {
	// URL is as requested (reported, or found on the page); for a data:
	// URI, what it is, never the data: "data:image/png;base64 (inline,
	// 1234 bytes, #3)", the page's third.
	URL      string
	FinalURL string // after redirects (a data: URI's is its URL); "" if URL is not an http or https URL
	Status   int    // the HTTP status of the last answer (200 for a data: URI); 0 if none
	// ContentType is the media type (without parameters) sniffed from the
	// content (http.DetectContentType), else, where sniffing finds only
	// text or bytes, as the server said; "" without content.
	ContentType string
	Body        []byte     // the content, decoded; nil if gone or failed
	Addr        netip.Addr // the address last connected to (a data: URI's page's); zero if none
	// TLSError is why the certificate of the host of the last answer is
	// not valid for it (expired, self-signed, for another name): the
	// fetcher connects all the same, as evidence must be fetched from a
	// host that serves it so, and says so here. "" if it is valid, or
	// over http.
	TLSError string
	// Gone: the resource is not there (404, 410, 451, or the name does
	// not resolve). Err is then nil.
	Gone bool
	// Err is why it could not be fetched: refused (ErrRefused: an
	// internal address, not http), over a limit (ErrTooLarge), too many
	// redirects (ErrRedirects), a timeout (ErrTimeout), another answer
	// than 2xx, a failure to connect. Its text is for analysts. If the
	// caller's context ended, it is the context's error. ErrBusy (the
	// fetch memory in use) says nothing about the resource: the fetch is
	// to be tried again later.
	Err error

	release func() // gives back the fetch memory of Body; nil if it holds none
}

// Release gives back the fetch memory that r's Body holds (Config.Memory):
// the caller calls it once done with the Body, which it must not use
// after. Calling it again, or on a Resource without a Body, does nothing.
// A Resource dropped without Release gives its memory back only when its
// Body is garbage collected, which may be long after.
func (r Resource) Release() {
	if r.release != nil {
		r.release()
	}
}

// Result is a reported URL and the media its page embeds.
type Result struct {
	Page Resource
	// Embedded are the media of the page, if it is HTML, in the order
	// the page has them (see Config.MaxResources).
	Embedded []Resource
}

// Release releases the page and every embedded resource (Resource.Release).
func (r Result) Release() {
	r.Page.Release()
	for _, e := range r.Embedded {
		e.Release()
	}
}

// Defaults of Config's zero fields.
const (
	DefaultUserAgent        = "Ward-Fetcher/1 (the takedown fetcher of a hotline running Ward: it checks reported URLs; +https://ward.example/fetcher)"
	DefaultMaxRedirects     = 5
	DefaultResourceTimeout  = 30 * time.Second
	DefaultCaseTimeout      = 2 * time.Minute
	DefaultMaxResourceBytes = 32 << 20
	DefaultMaxCaseBytes     = 64 << 20
	DefaultMaxResources     = 50
	DefaultConcurrency      = 4
)

// Config limits a Fetcher; zero fields take the defaults.
type Config struct {
	// AllowPrivate lets the fetcher connect to loopback, private and
	// other addresses that are not public (netguard): for tests and
	// closed networks (ward serve --fetch-allow-private).
	AllowPrivate bool
	// UserAgent names the centre to the hosts fetched from, as its
	// User-Agent header.
	UserAgent    string
	MaxRedirects int // followed per resource; negative: none
	// ResourceTimeout bounds one resource, its redirects and its body;
	// CaseTimeout bounds a Fetch, the page and all it embeds.
	ResourceTimeout time.Duration
	CaseTimeout     time.Duration
	// MaxResourceBytes bounds a resource's content, MaxCaseBytes all the
	// content a Fetch keeps; both count decoded bytes (after
	// Content-Encoding gzip), so that a small compressed answer cannot
	// inflate past them.
	MaxResourceBytes int64
	MaxCaseBytes     int64
	MaxResources     int // embedded resources taken from a page, data: URIs included; negative: none
	Concurrency      int // embedded resources fetched at once
	// Memory, shared by the process's fetchers (NewMemory), bounds the
	// memory of the content they hold: a body's buffer is held in it as
	// it grows, and until the Result or Resource is released. A fetch
	// that waits too long for it fails with ErrBusy. Nil: no bound
	// beyond the byte limits of each case.
	Memory *media.Budget
	// Resolve resolves a host name to its addresses; nil is
	// net.DefaultResolver.LookupNetIP. Tests map names with it.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// RootCAs verifies the hosts' certificates (Resource.TLSError); nil
	// is the system's.
	RootCAs *x509.CertPool
	// Pace, if set, is called before each request (each redirect's too)
	// with the host name it goes to, and may wait: the centre's search
	// spaces its requests to a host with it. The wait before a
	// resource's first request is not counted in its ResourceTimeout
	// (it is in the CaseTimeout); an error (ctx ended) fails the
	// resource with it.
	Pace func(ctx context.Context, host string) error
}

// DefaultMemory is a fetch memory for NewMemory: room for the content of
// several cases at DefaultMaxCaseBytes (each buffer with room to grow
// by at most a quarter).
const DefaultMemory = 512 << 20

// NewMemory returns a fetch memory of limit bytes for Config.Memory,
// shared by the fetchers of a process. Its wait is DefaultCaseTimeout: a
// fetch waits for memory as long as its resource's and case's time limits
// let it. Limit should be several times Config.MaxCaseBytes, as a case
// holds all its content until released.
func NewMemory(limit int64) *media.Budget {
	// Every buffer held counts as one decode of the budget: there may be
	// as many as there are bytes.
	return media.NewBudget(limit, math.MaxInt, DefaultCaseTimeout)
}

// Errors that a Resource's Err matches (errors.Is), by kind.
var (
	// ErrRefused: the fetcher will not go there, an address that is not
	// public (and errors.Is(err, netguard.ErrNotPublic)), or a redirect
	// to a scheme other than http or https.
	ErrRefused   = errors.New("refused")
	ErrRedirects = errors.New("too many redirects") // or a redirect loop
	ErrTooLarge  = errors.New("over the byte limit")
	ErrTimeout   = errors.New("timed out")
	// ErrBusy: the fetch memory (Config.Memory) stayed in use by other
	// fetches for longer than the fetch could wait. The error also
	// matches media.ErrBusy, a core.ErrUnavailable.
	ErrBusy = errors.New("the fetch memory is in use")
)

// failure is an error of a kind above, with the text for analysts.
type failure struct {
	kind, cause error
	msg         string
}

func (e *failure) Error() string   { return e.msg }
func (e *failure) Unwrap() []error { return []error{e.kind, e.cause} }

func fail(kind, cause error, format string, args ...any) error {
	return &failure{kind: kind, cause: cause, msg: fmt.Sprintf(format, args...)}
}

// Fetcher fetches URLs; it is safe for concurrent use.
type Fetcher struct {
	cfg   Config
	check func(netip.Addr) error // nil for an address it may connect to; netguard.Check
}

// New returns a Fetcher limited by cfg.
func New(cfg Config) *Fetcher {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	cfg.MaxRedirects = orDefault(cfg.MaxRedirects, DefaultMaxRedirects)
	cfg.ResourceTimeout = orDefault(cfg.ResourceTimeout, DefaultResourceTimeout)
	cfg.CaseTimeout = orDefault(cfg.CaseTimeout, DefaultCaseTimeout)
	cfg.MaxResourceBytes = orDefault(cfg.MaxResourceBytes, DefaultMaxResourceBytes)
	cfg.MaxCaseBytes = orDefault(cfg.MaxCaseBytes, DefaultMaxCaseBytes)
	cfg.MaxResources = orDefault(cfg.MaxResources, DefaultMaxResources)
	cfg.Concurrency = max(orDefault(cfg.Concurrency, DefaultConcurrency), 1)
	if cfg.Resolve == nil {
		cfg.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	f := &Fetcher{cfg: cfg, check: netguard.Check}
	if cfg.AllowPrivate {
		f.check = func(netip.Addr) error { return nil }
	}
	return f
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Fetch fetches rawURL and, if it is an HTML page, the media it embeds:
// the images and videos of img (src, srcset), picture and video's source
// (src, srcset), video (src, poster), links to media files (a href whose
// path ends in .jpg, .png, .mp4 and the like) and the page's og:image,
// og:video and twitter:image, resolved against the page's URL (or its
// base href), each once, up to Config.MaxResources. Where one of them is
// a data: URI of an image or a video, its content is decoded as an
// embedded resource. Only the first MaxScan bytes of the page are
// scanned, a tag, text or comment over 256 KiB is skipped (a data: URI
// that long too), and at most 64 candidates of a srcset and 64
// attributes of a tag are read; URLs longer than MaxURL are skipped.
//
// The caller must release the Result (Result.Release) once done with its
// bodies.
//
// The error is for a URL that cannot be fetched at all (not http or
// https, malformed: a core.ErrInvalid error), or ctx's if it ended; what
// goes wrong with a resource is in its Err.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (Result, error) {
	if _, err := parseURL(rawURL); err != nil {
		return Result{Page: Resource{URL: rawURL, Err: err}}, err
	}
	cctx, cancel := f.caseContext(ctx)
	defer cancel()
	s := f.newSession()
	defer s.close()

	r := Result{Page: s.get(cctx, rawURL)}
	if p := r.Page; p.Err == nil && (p.ContentType == "text/html" || p.ContentType == "application/xhtml+xml") {
		page, _ := url.Parse(p.FinalURL)
		refs := embeds(cctx, p.Body, page, f.cfg.MaxResources)
		r.Embedded = make([]Resource, len(refs))
		sem := make(chan struct{}, f.cfg.Concurrency)
		var wg sync.WaitGroup
		inline := 0
		for i, ref := range refs {
			d, isData := dataMedia(ref)
			if isData {
				inline++
			}
			n := inline
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if isData {
					r.Embedded[i] = s.inline(cctx, d, n, p.Addr)
				} else {
					r.Embedded[i] = s.get(cctx, ref)
				}
			})
		}
		wg.Wait()
	}
	return r, ctx.Err()
}

// Get fetches one resource, as a recheck does: its name resolved anew,
// within the limits of a resource (and of a case). The caller must
// release it (Resource.Release) once done with its Body.
func (f *Fetcher) Get(ctx context.Context, rawURL string) Resource {
	ctx, cancel := f.caseContext(ctx)
	defer cancel()
	s := f.newSession()
	defer s.close()
	return s.get(ctx, rawURL)
}

func (f *Fetcher) caseContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, f.cfg.CaseTimeout,
		fail(ErrTimeout, nil, "the case's time limit of %s ran out", duration(f.cfg.CaseTimeout)))
}

// parseURL returns raw as an absolute http or https URL with its host in
// ASCII (as it is resolved and sent), without its fragment.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		err = normalize(u)
	}
	if err != nil {
		return nil, core.Errorf(core.ErrInvalid, "the URL is not an absolute http or https URL")
	}
	return u, nil
}

func normalize(u *url.URL) error {
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("not an http or https URL")
	}
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		host, err := idna.Lookup.ToASCII(u.Hostname())
		if err != nil {
			return err
		}
		if port := u.Port(); port != "" {
			host = net.JoinHostPort(host, port)
		}
		u.Host = host
	}
	u.Fragment, u.RawFragment = "", ""
	return nil
}

// duration says d as people write it: 30s, 2m, 1m30s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// size says n bytes as people write it: 32 MiB, 512 KiB, 1000 bytes.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
