package crawl

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
	kept   atomic.Int64 // content bytes kept in the case (readLimited)

	mu   sync.Mutex
	pins map[string]*pin // by host name, lower case
}

// pin is a name's resolution, made once per session.
type pin struct {
	ready chan struct{} // closed when addrs and err are set
	addrs []netip.Addr
	err   error
	retry bool // err was the resolving caller's context ending: resolve again
}

func (f *Fetcher) newSession() *session {
	s := &session{f: f, pins: map[string]*pin{}}
	s.tr = &http.Transport{
		// No proxy: it would make the connection for us, to an address
		// that nobody checked.
		Proxy:                  nil,
		DialContext:            s.dial,
		TLSClientConfig:        &tls.Config{RootCAs: f.cfg.RootCAs},
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
	limit := s.f.cfg.ResourceTimeout
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fail(ErrTimeout, nil, "timed out after %s", duration(limit)))
	defer cancel()
	s.follow(ctx, u, &res)
	if res.Err != nil {
		if ctx.Err() != nil {
			// The resource's time limit, the case's, or the caller's
			// context ending: that is what stopped it.
			res.Err = context.Cause(ctx)
		}
		res.Body, res.ContentType = nil, ""
	}
	return res
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
		resp, addr, err := s.do(ctx, u)
		if err != nil {
			res.Err = err
			return
		}
		res.Status, res.Addr = resp.StatusCode, addr
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
				u = next
				continue
			}
		}
		s.body(resp, res)
		return
	}
}

// do sends one GET, and returns the answer and the address it came from.
func (s *session) do(ctx context.Context, u *url.URL) (*http.Response, netip.Addr, error) {
	var addr atomic.Pointer[netip.Addr]
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if ta, ok := info.Conn.RemoteAddr().(*net.TCPAddr); ok {
			a := ta.AddrPort().Addr().Unmap()
			addr.Store(&a)
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	req.Header.Set("User-Agent", s.f.cfg.UserAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL is the analyst's already; the rest is why.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, netip.Addr{}, err
	}
	var a netip.Addr
	if p := addr.Load(); p != nil {
		a = *p
	}
	return resp, a, nil
}

// body reads resp's content into res, within the byte limits.
func (s *session) body(resp *http.Response, res *Resource) {
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		res.Gone = true
		return
	case resp.StatusCode/100 != 2:
		res.Err = fmt.Errorf("the server answered %s", resp.Status)
		return
	}
	b, err := s.readLimited(resp.Body, resp.ContentLength)
	if err != nil {
		res.Err = err
		return
	}
	res.Body = b
	res.ContentType = contentType(resp.Header.Get("Content-Type"), b)
}

// readLimited reads r, whose length is declared (-1 if unknown), up to
// the resource's byte limit and what is left of the case's, and never
// holds more than that. The case's bytes are reserved as they come (all
// at once if declared), and given back if the resource fails, so that the
// case keeps at most its limit whatever the order its resources end in.
func (s *session) readLimited(r io.Reader, declared int64) ([]byte, error) {
	limit, caseLimit := s.f.cfg.MaxResourceBytes, s.f.cfg.MaxCaseBytes
	var reserved int64
	reserve := func(n int64) bool {
		for {
			kept := s.kept.Load()
			if kept+n > caseLimit {
				return false
			}
			if s.kept.CompareAndSwap(kept, kept+n) {
				reserved += n
				return true
			}
		}
	}
	tooLarge := func() ([]byte, error) {
		s.kept.Add(-reserved)
		return nil, fail(ErrTooLarge, nil, "over the %s limit of a resource", size(limit))
	}
	overCase := func() ([]byte, error) {
		s.kept.Add(-reserved)
		return nil, fail(ErrTooLarge, nil, "over the %s limit of a case", size(caseLimit))
	}
	if declared > limit {
		return tooLarge()
	}
	var buf bytes.Buffer
	if declared > 0 {
		if !reserve(declared) {
			return overCase()
		}
		buf.Grow(int(declared))
	}
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			total := int64(buf.Len() + n)
			if total > limit {
				return tooLarge()
			}
			if total > reserved && !reserve(total-reserved) {
				return overCase()
			}
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			s.kept.Add(-reserved)
			return nil, err
		}
	}
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
