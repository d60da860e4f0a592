package crawl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/platform/netguard"
)

// hint is how to lift a refusal of an address, for the analyst who reads
// it on a test or closed network.
const hint = "(ward serve --fetch-allow-private allows such addresses)"

// errGone is a name that does not resolve.
var errGone = errors.New("the name does not resolve")

// session is the state of one case: its own connections, dialled only
// to the addresses its names were resolved to once, and the bytes it
// keeps.
type session struct {
	f      *Fetcher
	tr     *http.Transport
	client *http.Client
	kept   atomic.Int64 // content bytes kept in the case (reserveCase)

	mu       sync.Mutex
	pins     map[string]*pin      // by host name, lower case
	verified map[*tls.Conn]string // the outcome of verify, by connection
}

// pin is a name's resolution, made once per session.
type pin struct {
	ready chan struct{} // closed when addrs and err are set
	addrs []netip.Addr
	err   error
	retry bool // err was the resolving caller's context ending: resolve again
}

func (f *Fetcher) newSession() *session {
	s := &session{f: f, pins: map[string]*pin{}, verified: map[*tls.Conn]string{}}
	s.tr = &http.Transport{
		// No proxy: it would make the connection for us, to an address
		// that nobody checked.
		Proxy:       nil,
		DialContext: s.dial,
		// A host with a certificate that is not valid still serves the
		// evidence: the fetcher connects, and verify records what is
		// wrong with it, as Resource.TLSError.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true},
		TLSHandshakeTimeout:    10 * time.Second,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    f.cfg.Concurrency,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		// Compression stays on: the transport asks for gzip and decodes
		// it, so that the byte limits count what the content inflates to.
	}
	s.client = &http.Client{
		Transport: s.tr,
		// get follows redirects itself, checking each target.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

func (s *session) close() { s.tr.CloseIdleConnections() }

// lookup returns the addresses host is pinned to in this session,
// resolving it the first time: errGone if it does not resolve, an
// ErrRefused error if an address is not public (unless AllowPrivate).
func (s *session) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, s.check("", a)
	}
	key := strings.ToLower(host)
	for {
		s.mu.Lock()
		p := s.pins[key]
		if p == nil {
			p = &pin{ready: make(chan struct{})}
			s.pins[key] = p
			s.mu.Unlock()
			p.addrs, p.err = s.resolve(ctx, host)
			if p.err != nil && ctx.Err() != nil {
				p.retry = true
				s.mu.Lock()
				delete(s.pins, key)
				s.mu.Unlock()
			}
			close(p.ready)
			return p.addrs, p.err
		}
		s.mu.Unlock()
		select {
		case <-p.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !p.retry {
			return p.addrs, p.err
		}
	}
}

func (s *session) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := s.f.cfg.Resolve(ctx, host)
	if dnsErr, ok := errors.AsType[*net.DNSError](err); (ok && dnsErr.IsNotFound) || (err == nil && len(addrs) == 0) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
		if err := s.check(host, addrs[i]); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// check refuses a, the address of name ("" for an address in the URL),
// if it is not public (unless AllowPrivate).
func (s *session) check(name string, a netip.Addr) error {
	err := s.f.check(a)
	switch {
	case err == nil:
		return nil
	case name == "":
		return fail(ErrRefused, err, "refused: %v %s", err, hint)
	}
	return fail(ErrRefused, err, "refused: %s: %v %s", name, err, hint)
}

// dial connects to the addresses address's host is pinned to, never
// resolving it again; the dialer's Control checks each address once more,
// as it is about to be connected to.
func (s *session) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", p, err)
	}
	addrs, err := s.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", netguard.ErrNotPublic, address)
			}
			return s.f.check(ap.Addr())
		}}
	var first error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// get fetches rawURL within the resource's limits.
func (s *session) get(ctx context.Context, rawURL string) Resource {
	res := Resource{URL: rawURL}
	u, err := parseURL(rawURL)
	if err != nil {
		res.Err = err
		return res
	}
	if err := s.pace(ctx, u); err != nil {
		res.Err = err
		return res
	}
	limit := s.f.cfg.ResourceTimeout
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fail(ErrTimeout, nil, "timed out after %s", duration(limit)))
	defer cancel()
	s.follow(ctx, u, &res)
	if res.Err != nil {
		// The resource's time limit, the case's, or the caller's context
		// ending is what stopped it, unless it was waiting for the fetch
		// memory when a time limit came.
		busy := errors.Is(res.Err, ErrBusy) && errors.Is(context.Cause(ctx), ErrTimeout)
		if ctx.Err() != nil && !busy {
			res.Err = context.Cause(ctx)
		}
		res.Body, res.ContentType = nil, ""
	}
	return res
}

// pace waits, if Config.Pace says so, before a request to u.
func (s *session) pace(ctx context.Context, u *url.URL) error {
	if s.f.cfg.Pace == nil {
		return nil
	}
	if err := s.f.cfg.Pace(ctx, u.Hostname()); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	return nil
}

// follow requests u, following redirects, and fills in res.
func (s *session) follow(ctx context.Context, u *url.URL, res *Resource) {
	maxRedirects := max(s.f.cfg.MaxRedirects, 0)
	seen := map[string]bool{}
	for redirects := 0; ; redirects++ {
		res.FinalURL = u.String()
		seen[res.FinalURL] = true
		if _, err := s.lookup(ctx, u.Hostname()); err != nil {
			res.Gone = err == errGone
			if !res.Gone {
				res.Err = err
			}
			return
		}
		resp, c, err := s.do(ctx, u)
		if err != nil {
			res.Err = err
			return
		}
		res.Status, res.Addr, res.TLSError = resp.StatusCode, c.addr, c.tlsError
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			if loc != "" {
				// A little of the body, so that the connection serves the
				// next request.
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				next, err := u.Parse(loc)
				switch {
				case redirects == maxRedirects:
					res.Err = fail(ErrRedirects, nil, "more than %d redirects", maxRedirects)
				case err != nil || normalize(next) != nil:
					res.Err = fail(ErrRefused, nil, "refused: a redirect to %q, which is not an http or https URL", shorten(loc))
				case seen[next.String()]:
					res.Err = fail(ErrRedirects, nil, "a redirect loop (back to %s)", shorten(next.String()))
				}
				if res.Err != nil {
					return
				}
				if err := s.pace(ctx, next); err != nil {
					res.Err = err
					return
				}
				u = next
				continue
			}
		}
		s.body(ctx, resp, res)
		return
	}
}

// conn is what an answer came over: the address, and why the host's
// certificate is not valid ("" if it is, or over http).
type conn struct {
	addr     netip.Addr
	tlsError string
}

// do sends one GET, and returns the answer and the connection it came
// over.
func (s *session) do(ctx context.Context, u *url.URL) (*http.Response, conn, error) {
	var got atomic.Pointer[conn]
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		var c conn
		if ta, ok := info.Conn.RemoteAddr().(*net.TCPAddr); ok {
			c.addr = ta.AddrPort().Addr().Unmap()
		}
		if tc, ok := info.Conn.(*tls.Conn); ok {
			c.tlsError = s.verify(tc, u.Hostname())
		}
		got.Store(&c)
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, conn{}, err
	}
	req.Header.Set("User-Agent", s.f.cfg.UserAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL is the analyst's already; the rest is why.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, conn{}, err
	}
	var c conn
	if p := got.Load(); p != nil {
		c = *p
	}
	return resp, c, nil
}

// verify verifies c's certificate chain for host against Config.RootCAs
// (the system's if nil), as the handshake would have, and returns why it
// is not valid, "" if it is. Connections are reused across requests to
// their host: each is verified once.
func (s *session) verify(c *tls.Conn, host string) string {
	s.mu.Lock()
	v, ok := s.verified[c]
	s.mu.Unlock()
	if ok {
		return v
	}
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		v = "the host sent no certificate"
	} else {
		opts := x509.VerifyOptions{DNSName: host, Roots: s.f.cfg.RootCAs, Intermediates: x509.NewCertPool()}
		for _, ic := range certs[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := certs[0].Verify(opts); err != nil {
			v = err.Error()
		}
	}
	s.mu.Lock()
	s.verified[c] = v
	s.mu.Unlock()
	return v
}

// body reads resp's content into res, within the byte limits and the
// fetch memory.
func (s *session) body(ctx context.Context, resp *http.Response, res *Resource) {
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone ||
		resp.StatusCode == http.StatusUnavailableForLegalReasons:
		// 451: a host that took the content down for legal reasons.
		res.Gone = true
		return
	case resp.StatusCode/100 != 2:
		res.Err = fmt.Errorf("the server answered %s", resp.Status)
		return
	}
	b, release, err := s.readLimited(ctx, resp.Body, resp.ContentLength)
	if err != nil {
		res.Err = err
		return
	}
	res.Body, res.release = b, release
	res.ContentType = contentType(resp.Header.Get("Content-Type"), b)
}

// Steps of a body's buffer: it starts at firstBuf at most (never at a
// declared length beyond it, which a server may then trickle), doubles up
// to growSlower, then grows by a quarter, as bytes arrive.
const (
	firstBuf   = 64 << 10
	growSlower = 1 << 20
)

// readLimited reads r, whose length is declared (-1 if unknown), up to
// the resource's byte limit and what is left of the case's, and never
// holds more than that. The case's bytes are reserved as they come (all
// at once if declared), and given back if the resource fails, so that the
// case keeps at most its limit whatever the order its resources end in.
// The buffer's memory is held in the fetch memory (hold) before it is
// allocated; the function returned gives it back.
func (s *session) readLimited(ctx context.Context, r io.Reader, declared int64) ([]byte, func(), error) {
	limit, caseLimit := s.f.cfg.MaxResourceBytes, s.f.cfg.MaxCaseBytes
	var (
		buf      []byte
		release  = func() {}
		reserved int64 // of the case's bytes
		probe    [1]byte
	)
	failed := func(err error) ([]byte, func(), error) {
		release()
		s.kept.Add(-reserved)
		return nil, nil, err
	}
	tooLarge := func() ([]byte, func(), error) {
		return failed(fail(ErrTooLarge, nil, "over the %s limit of a resource", size(limit)))
	}
	overCase := func() ([]byte, func(), error) {
		return failed(fail(ErrTooLarge, nil, "over the %s limit of a case", size(caseLimit)))
	}
	// grow moves buf to a larger buffer, for at least need bytes.
	grow := func(need int64) error {
		n := int64(firstBuf)
		if c := int64(cap(buf)); c >= growSlower {
			n = c + c/4
		} else if c > 0 {
			n = 2 * c
		}
		n = max(n, need)
		if declared >= need {
			n = min(n, declared)
		}
		n = min(n, limit)
		// Held before the old buffer is given back: both are in memory
		// while it is copied.
		rel, err := s.hold(ctx, n)
		if err != nil {
			return err
		}
		b := make([]byte, len(buf), n)
		copy(b, buf)
		release()
		buf, release = b, rel
		return nil
	}
	if declared > limit {
		return tooLarge()
	}
	if declared > 0 {
		if !s.reserveCase(declared) {
			return overCase()
		}
		reserved = declared
	}
	for {
		chunk := buf[len(buf):cap(buf)]
		if len(chunk) == 0 {
			if c := int64(cap(buf)); c == limit || c == declared {
				// As much as there should be: a byte more, or the end?
				chunk = probe[:]
			} else if err := grow(int64(len(buf)) + 1); err != nil {
				return failed(err)
			} else {
				chunk = buf[len(buf):cap(buf)]
			}
		}
		n, err := r.Read(chunk)
		if n > 0 {
			total := int64(len(buf) + n)
			if total > limit {
				return tooLarge()
			}
			if total > reserved {
				if !s.reserveCase(total - reserved) {
					return overCase()
				}
				reserved = total
			}
			if &chunk[0] == &probe[0] {
				// More than declared: net/http does not let that
				// through, but it would not be cut short here either.
				declared = -1
				if err := grow(total); err != nil {
					return failed(err)
				}
				buf = append(buf, probe[0])
			} else {
				buf = buf[:total]
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return failed(err)
		}
	}
	if len(buf) == 0 {
		release()
		return nil, func() {}, nil
	}
	return buf, s.track(buf, release), nil
}

// reserveCase counts n more content bytes in the case, reporting whether
// they fit within its limit.
func (s *session) reserveCase(n int64) bool {
	for {
		kept := s.kept.Load()
		if kept+n > s.f.cfg.MaxCaseBytes {
			return false
		}
		if s.kept.CompareAndSwap(kept, kept+n) {
			return true
		}
	}
}

// hold holds n bytes of the process's fetch memory (Config.Memory) for a
// buffer about to be allocated, and returns the function that gives them
// back; without Memory, nothing is held. A fetch waits for the memory as
// long as the memory's wait and the resource's and the case's time limits
// let it, then fails with ErrBusy.
func (s *session) hold(ctx context.Context, n int64) (func(), error) {
	m := s.f.cfg.Memory
	if m == nil {
		return func() {}, nil
	}
	release, err := m.Acquire(ctx, n)
	switch {
	case err == nil:
		return release, nil
	case errors.Is(err, media.ErrBusy):
		return nil, fail(ErrBusy, err, "the server's fetch memory is in use; the fetch is retried later")
	}
	return nil, fail(ErrTooLarge, err, "over the server's fetch memory")
}

// track returns release, the function that gives back the fetch memory
// held for body, and has it called, as a safeguard, once body is garbage,
// if nobody did (Resource.Release).
func (s *session) track(body []byte, release func()) func() {
	if s.f.cfg.Memory != nil && len(body) > 0 {
		runtime.AddCleanup(&body[0], func(release func()) { release() }, release)
	}
	return release
}

// contentType is the media type sniffed from body, unless sniffing finds
// only text or bytes: then the server's, declared, if it says more.
func contentType(declared string, body []byte) string {
	sniffed := mediaType(http.DetectContentType(body))
	if sniffed != "application/octet-stream" && sniffed != "text/plain" {
		return sniffed
	}
	switch t := mediaType(declared); t {
	case "", "application/octet-stream", "binary/octet-stream", "application/unknown":
		return sniffed
	default:
		return t
	}
}

func mediaType(v string) string {
	if t, _, err := mime.ParseMediaType(v); err == nil {
		return t
	}
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// shorten keeps a URL quoted in an error readable.
func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
