package crawl_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/platform/netguard"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// server is a test host on loopback that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func serve(t testing.TB, h http.Handler) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// port is the server's port, for URLs on other names.
func (s *server) port() string { return s.URL[strings.LastIndex(s.URL, ":")+1:] }

// resolver maps names to addresses and counts the look-ups; other names
// do not exist.
type resolver struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
	calls map[string]int
}

func newResolver(names map[string]string) *resolver {
	r := &resolver{names: map[string][]netip.Addr{}, calls: map[string]int{}}
	for name, addrs := range names {
		for a := range strings.SplitSeq(addrs, ",") {
			r.names[name] = append(r.names[name], netip.MustParseAddr(a))
		}
	}
	return r
}

func (r *resolver) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[host]++
	addrs, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(addrs), nil
}

func (r *resolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func pngOf(t testing.TB, seed uint64) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(32, 32, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoopback(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	for _, raw := range []string{srv.URL + "/", "http://localhost:" + srv.port() + "/", "http://[::ffff:127.0.0.1]:" + srv.port() + "/"} {
		res := crawl.New(crawl.Config{}).Get(t.Context(), raw)
		if !errors.Is(res.Err, crawl.ErrRefused) || !errors.Is(res.Err, netguard.ErrNotPublic) || res.Body != nil {
			t.Errorf("%s: %+v; want refused", raw, res)
		}
	}
	res := crawl.New(crawl.Config{}).Get(t.Context(), srv.URL+"/")
	if want := "refused: 127.0.0.1 is a loopback address (ward serve --fetch-allow-private allows such addresses)"; res.Err == nil || res.Err.Error() != want {
		t.Errorf("refusal %v, want %q", res.Err, want)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests while loopback is refused", n)
	}
	res = crawl.New(crawl.Config{AllowPrivate: true}).Get(t.Context(), srv.URL+"/")
	if res.Err != nil || string(res.Body) != "hello" || res.Status != 200 || res.Addr != loopback || res.ContentType != "text/plain" {
		t.Errorf("with AllowPrivate: %+v; want hello from 127.0.0.1", res)
	}
}

// TestPrivateNames checks names that resolve to internal addresses, asked
// for directly or through a redirect from a host taken for public: none
// is connected to.
func TestPrivateNames(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	for _, tc := range []struct{ name, addrs, says string }{
		{"ten.example", "10.0.0.1", "refused: ten.example: 10.0.0.1 is a private address"},
		{"home.example", "192.168.1.20", "refused: home.example: 192.168.1.20 is a private address"},
		{"metadata.example", "169.254.169.254", "refused: metadata.example: 169.254.169.254 is a link-local address"},
		{"ula.example", "fd00::1", "refused: ula.example: fd00::1 is a private address"},
		{"mapped.example", "::ffff:10.0.0.1", "refused: mapped.example: 10.0.0.1 is a private address"},
		{"cgnat.example", "100.64.0.1", "refused: cgnat.example: 100.64.0.1 is a shared (CGNAT) address"},
		{"mixed.example", "8.8.8.8,10.1.2.3", "refused: mixed.example: 10.1.2.3 is a private address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(map[string]string{tc.name: tc.addrs, "public.example": "127.0.0.1"})
			f := crawl.New(crawl.Config{Resolve: r.resolve})
			crawl.TreatAsPublic(f, loopback)
			target := "http://" + tc.name + "/x.jpg"
			for _, raw := range []string{target, "http://public.example:" + srv.port() + "/?to=" + url.QueryEscape(target)} {
				res := f.Get(t.Context(), raw)
				if !errors.Is(res.Err, crawl.ErrRefused) || !strings.HasPrefix(res.Err.Error(), tc.says+" (ward serve --fetch-allow-private") {
					t.Errorf("%s: %v; want %q", raw, res.Err, tc.says)
				}
				if res.FinalURL != target || res.Gone || res.Body != nil {
					t.Errorf("%s: %+v; want refused at %s", raw, res, target)
				}
			}
		})
	}
	// Addresses in a redirect's URL are checked as well.
	f := crawl.New(crawl.Config{})
	crawl.TreatAsPublic(f, loopback)
	for _, target := range []string{"http://10.0.0.1/", "http://[::1]:" + srv.port() + "/", "http://0.0.0.0:" + srv.port() + "/"} {
		before := srv.hits.Load()
		res := f.Get(t.Context(), srv.URL+"/?to="+url.QueryEscape(target))
		if !errors.Is(res.Err, crawl.ErrRefused) || srv.hits.Load() != before+1 {
			t.Errorf("redirect to %s: %v after %d requests; want refused after one", target, res.Err, srv.hits.Load()-before)
		}
	}
}

func TestRedirects(t *testing.T) {
	// /hop/N redirects to /hop/N-1, /hop/0 answers; /loop/a and /loop/b
	// redirect to each other; /to?u= redirects to u.
	mux := http.NewServeMux()
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			fmt.Fprint(w, "arrived")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("%d", n-1), []int{301, 302, 303, 307, 308}[n%5])
	})
	mux.HandleFunc("/loop/{x}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, map[string]string{"a": "b", "b": "a#frag", "self": "self"}[r.PathValue("x")], http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Query().Get("u"))
		w.WriteHeader(http.StatusMovedPermanently)
	})
	mux.HandleFunc("/nowhere", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	srv := serve(t, mux)
	for _, tc := range []struct {
		path, final string
		max         int
		kind        error
		says        string
	}{
		{"/hop/5", "/hop/0", 0, nil, ""},
		{"/hop/6", "/hop/1", 0, crawl.ErrRedirects, "more than 5 redirects"},
		{"/hop/2", "/hop/0", 2, nil, ""},
		{"/hop/3", "/hop/1", 2, crawl.ErrRedirects, "more than 2 redirects"},
		{"/hop/1", "/hop/1", -1, crawl.ErrRedirects, "more than 0 redirects"},
		{"/loop/a", "/loop/b", 0, crawl.ErrRedirects, "a redirect loop (back to " + srv.URL + "/loop/a)"},
		{"/loop/self", "/loop/self", 0, crawl.ErrRedirects, "a redirect loop (back to " + srv.URL + "/loop/self)"},
		{"/to?u=ftp://files.example/x.jpg", "/to?u=ftp://files.example/x.jpg", 0, crawl.ErrRefused,
			`refused: a redirect to "ftp://files.example/x.jpg", which is not an http or https URL`},
		{"/to?u=javascript:alert(1)", "/to?u=javascript:alert(1)", 0, crawl.ErrRefused,
			`refused: a redirect to "javascript:alert(1)", which is not an http or https URL`},
		{"/to?u=/hop/0", "/hop/0", 0, nil, ""},
		{"/nowhere", "/nowhere", 0, nil, "the server answered 302 Found"},
	} {
		res := crawl.New(crawl.Config{AllowPrivate: true, MaxRedirects: tc.max}).Get(t.Context(), srv.URL+tc.path)
		if tc.says == "" && (res.Err != nil || string(res.Body) != "arrived") {
			t.Errorf("%s: %+v; want arrived", tc.path, res)
		}
		if tc.says != "" && (res.Err == nil || res.Err.Error() != tc.says || (tc.kind != nil && !errors.Is(res.Err, tc.kind))) {
			t.Errorf("%s: %v; want %q", tc.path, res.Err, tc.says)
		}
		if res.FinalURL != srv.URL+tc.final {
			t.Errorf("%s: final URL %s, want %s", tc.path, res.FinalURL, srv.URL+tc.final)
		}
	}
}

// TestSlow checks the time limits: a resource's on a server slow to
// answer or trickling its body, and the case's on a page whose media
// all are slow.
func TestSlow(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
				w.Write([]byte{0})
				w.(http.Flusher).Flush()
			}
		}
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := range 8 {
			fmt.Fprintf(w, "<img src=/trickle?%d><img src=/headers?%d>", i, i)
		}
	})
	srv := serve(t, mux)
	f := crawl.New(crawl.Config{AllowPrivate: true, ResourceTimeout: 300 * time.Millisecond})
	for _, path := range []string{"/headers", "/trickle"} {
		res := f.Get(t.Context(), srv.URL+path)
		if !errors.Is(res.Err, crawl.ErrTimeout) || res.Err.Error() != "timed out after 300ms" || res.Body != nil {
			t.Errorf("%s: %+v; want timed out after 300ms", path, res)
		}
	}

	f = crawl.New(crawl.Config{AllowPrivate: true, ResourceTimeout: time.Minute, CaseTimeout: 500 * time.Millisecond})
	start := time.Now()
	r, err := f.Fetch(t.Context(), srv.URL+"/page")
	if err != nil || r.Page.Err != nil || len(r.Embedded) != 16 {
		t.Fatalf("Fetch: %v, page %v, %d embedded; want a page with 16 media", err, r.Page.Err, len(r.Embedded))
	}
	// Four at a time, a minute each: without the case's limit, four
	// minutes.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the case took %v, with a limit of 500ms", d)
	}
	for _, e := range r.Embedded {
		if !errors.Is(e.Err, crawl.ErrTimeout) || e.Err.Error() != "the case's time limit of 500ms ran out" {
			t.Errorf("%s: %v; want the case's time limit", e.URL, e.Err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	const limit = 1 << 20
	mux := http.NewServeMux()
	mux.HandleFunc("/declared/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write(make([]byte, n))
	})
	mux.HandleFunc("/chunked/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		for ; n > 0; n -= 1000 {
			w.Write(make([]byte, min(n, 1000)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := range 5 {
			fmt.Fprintf(w, "<img src=/declared/%d>", 300<<10+i)
		}
	})
	srv := serve(t, mux)
	f := crawl.New(crawl.Config{AllowPrivate: true, MaxResourceBytes: limit, MaxCaseBytes: limit})
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{fmt.Sprintf("/declared/%d", limit), true},
		{fmt.Sprintf("/chunked/%d", limit), true},
		{fmt.Sprintf("/declared/%d", limit+1), false},
		{fmt.Sprintf("/chunked/%d", limit+1), false},
		{fmt.Sprintf("/chunked/%d", 100*limit), false},
	} {
		res := f.Get(t.Context(), srv.URL+tc.path)
		if tc.ok && (res.Err != nil || len(res.Body) != limit) {
			t.Errorf("%s: %v, %d bytes; want all %d", tc.path, res.Err, len(res.Body), limit)
		}
		if !tc.ok && (!errors.Is(res.Err, crawl.ErrTooLarge) || res.Err.Error() != "over the 1 MiB limit of a resource" || res.Body != nil) {
			t.Errorf("%s: %v, %d bytes; want over the limit of a resource", tc.path, res.Err, len(res.Body))
		}
	}
	// The case: a page and five media of 300 KiB within 1 MiB.
	r, err := f.Fetch(t.Context(), srv.URL+"/page")
	if err != nil || r.Page.Err != nil {
		t.Fatal(err, r.Page.Err)
	}
	total, over := int64(len(r.Page.Body)), 0
	for _, e := range r.Embedded {
		total += int64(len(e.Body))
		if e.Err != nil {
			over++
			if !errors.Is(e.Err, crawl.ErrTooLarge) || e.Err.Error() != "over the 1 MiB limit of a case" {
				t.Errorf("%s: %v; want over the case's limit", e.URL, e.Err)
			}
		}
	}
	if over != 2 || total > limit {
		t.Errorf("%d of 5 media over the case's limit, %d bytes in all; want 2, at most %d", over, total, limit)
	}
}

// TestDecompressionBomb serves 1 GiB of zeros compressed to about a MiB,
// with Content-Encoding gzip: the fetch stops at the limit of decoded
// bytes, and holds no more than about that.
func TestDecompressionBomb(t *testing.T) {
	// Gzip members may follow each other in one stream: a MiB of zeros,
	// compressed once, repeated.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 1024)
	plain := pngOf(t, 1)
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	zw.Write(plain)
	zw.Close()

	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Path == "/small" {
			w.Write(small.Bytes())
			return
		}
		w.Write(bomb)
	}))
	f := crawl.New(crawl.Config{AllowPrivate: true, MaxResourceBytes: 4 << 20})
	if res := f.Get(t.Context(), srv.URL+"/small"); res.Err != nil || !bytes.Equal(res.Body, plain) || res.ContentType != "image/png" {
		t.Fatalf("a small gzip-encoded PNG: %v, %d bytes, %s; want it decoded", res.Err, len(res.Body), res.ContentType)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := f.Get(t.Context(), srv.URL+"/bomb")
	runtime.ReadMemStats(&after)
	if !errors.Is(res.Err, crawl.ErrTooLarge) || res.Err.Error() != "over the 4 MiB limit of a resource" || res.Body != nil {
		t.Fatalf("the bomb: %v, %d bytes; want over the 4 MiB limit", res.Err, len(res.Body))
	}
	// All allocations during the fetch, the server's included: a few
	// times the limit, not the GiB the bomb inflates to.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("the fetch allocated %d MiB; want at most 64 MiB with a limit of 4 MiB", alloc>>20)
	} else {
		t.Logf("the fetch allocated %.1f MiB", float64(alloc)/(1<<20))
	}
}

func TestGone(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	mux.HandleFunc("/451", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnavailableForLegalReasons) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mux.HandleFunc("/403", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/410", http.StatusFound) })
	mux.HandleFunc("/vanished", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://vanished.example/x.jpg", http.StatusFound)
	})
	srv := serve(t, mux)
	r := newResolver(map[string]string{"site.example": "127.0.0.1"})
	f := crawl.New(crawl.Config{AllowPrivate: true, Resolve: r.resolve})
	for _, tc := range []struct {
		path   string
		status int
		gone   bool
		says   string
	}{
		{"/404", 404, true, ""},
		{"/410", 410, true, ""},
		{"/451", 451, true, ""},
		{"/moved", 410, true, ""},
		{"/vanished", 302, true, ""},
		{"/500", 500, false, "the server answered 500 Internal Server Error"},
		{"/403", 403, false, "the server answered 403 Forbidden"},
	} {
		res := f.Get(t.Context(), srv.URL+tc.path)
		if res.Gone != tc.gone || res.Status != tc.status || res.Body != nil || (tc.says == "") != (res.Err == nil) ||
			(res.Err != nil && res.Err.Error() != tc.says) {
			t.Errorf("%s: %+v; want gone %v, status %d, error %q", tc.path, res, tc.gone, tc.status, tc.says)
		}
	}
	res := f.Get(t.Context(), "https://nxdomain.example/a.jpg")
	if !res.Gone || res.Err != nil || res.Status != 0 {
		t.Errorf("a name that does not resolve: %+v; want gone", res)
	}
	fail := crawl.New(crawl.Config{Resolve: func(context.Context, string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "server misbehaving", Name: "flaky.example", IsTemporary: true}
	}}).Get(t.Context(), "http://flaky.example/")
	if fail.Gone || fail.Err == nil || !strings.Contains(fail.Err.Error(), "resolving flaky.example") {
		t.Errorf("a failing resolver: %+v; want an error, not gone", fail)
	}
}

func TestUserAgent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.UserAgent())
		mu.Unlock()
		if r.URL.Path == "/" {
			fmt.Fprint(w, `<html><img src="a.png">`)
		}
	}))
	for _, ua := range []string{"", "Hotline Example takedown fetcher (+https://hotline.example/fetcher)"} {
		got = nil
		if _, err := crawl.New(crawl.Config{AllowPrivate: true, UserAgent: ua}).Fetch(t.Context(), srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		want := cmp(ua, crawl.DefaultUserAgent)
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Errorf("User-Agent %q; want %q on the page and its image", got, want)
		}
	}
	if !strings.Contains(crawl.DefaultUserAgent, "takedown fetcher") {
		t.Errorf("the default User-Agent %q does not say what it is", crawl.DefaultUserAgent)
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestPinned checks that each name is resolved once in a case, however
// many resources on it the page has and through redirects, and that each
// resource records the address it came from.
func TestPinned(t *testing.T) {
	img := pngOf(t, 2)
	var srv *server
	srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, "<!doctype html><title>x</title>")
			for i := range 10 {
				fmt.Fprintf(w, `<img src="/i/%d.png"><img src="http://cdn.example:%s/i/%d.png">`, i, srv.port(), i)
			}
			fmt.Fprint(w, `<a href="/go"><img src="/go.png"></a>`)
		case r.URL.Path == "/go.png":
			http.Redirect(w, r, "http://cdn.example:"+srv.port()+"/i/x.png", http.StatusFound)
		default:
			w.Write(img)
		}
	}))
	r := newResolver(map[string]string{"site.example": "127.0.0.1", "cdn.example": "::1,127.0.0.1"})
	f := crawl.New(crawl.Config{AllowPrivate: true, Resolve: r.resolve})
	res, err := f.Fetch(t.Context(), "http://site.example:"+srv.port()+"/")
	if err != nil || res.Page.Err != nil || res.Page.ContentType != "text/html" || len(res.Embedded) != 21 {
		t.Fatalf("Fetch: %v, %+v, %d embedded; want a page with 21 images", err, res.Page.Err, len(res.Embedded))
	}
	for _, e := range res.Embedded {
		if e.Err != nil || !bytes.Equal(e.Body, img) || e.ContentType != "image/png" || e.Addr != loopback {
			t.Errorf("%s: %v, %s from %v; want the PNG from 127.0.0.1", e.URL, e.Err, e.ContentType, e.Addr)
		}
	}
	if n, m := r.count("site.example"), r.count("cdn.example"); n != 1 || m != 1 {
		t.Errorf("site.example resolved %d times, cdn.example %d; want once each", n, m)
	}
	// Another case resolves again.
	f.Get(t.Context(), "http://site.example:"+srv.port()+"/i/0.png")
	if n := r.count("site.example"); n != 2 {
		t.Errorf("site.example resolved %d times after a second case; want 2", n)
	}
}

// TestTLS checks that a host whose certificate is not valid is fetched
// all the same, and that Resource.TLSError says what is wrong with it:
// httptest's certificate is for example.com and 127.0.0.1, not
// other.example, and trusted only with its roots. A connection reused
// for a page's image says the same.
func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			fmt.Fprint(w, `<!doctype html><img src="/img">`)
			return
		}
		fmt.Fprint(w, "secure")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	r := newResolver(map[string]string{"example.com": "127.0.0.1", "other.example": "127.0.0.1"})
	plain := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		url   string
		says  string // in TLSError; "" for none
	}{
		{"trusted", roots, "https://example.com:" + port + "/", ""},
		{"trusted, by address", roots, "https://127.0.0.1:" + port + "/", ""},
		{"another name", roots, "https://other.example:" + port + "/", "x509: certificate is valid for example.com, *.example.com, not other.example"},
		{"self-signed", nil, "https://example.com:" + port + "/", "x509: certificate signed by unknown authority"},
		{"http", nil, plain.URL + "/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := crawl.New(crawl.Config{AllowPrivate: true, Resolve: r.resolve, RootCAs: tc.roots})
			res := f.Get(t.Context(), tc.url)
			if res.Err != nil || string(res.Body) != "secure" || res.Addr != loopback {
				t.Errorf("%+v; want secure from 127.0.0.1", res)
			}
			if !strings.HasPrefix(res.TLSError, tc.says) || (tc.says == "") != (res.TLSError == "") {
				t.Errorf("TLSError %q, want %q", res.TLSError, tc.says)
			}
		})
	}
	f := crawl.New(crawl.Config{AllowPrivate: true, Resolve: r.resolve})
	res, err := f.Fetch(t.Context(), "https://example.com:"+port+"/page")
	if err != nil || res.Page.Err != nil || len(res.Embedded) != 1 || res.Embedded[0].Err != nil {
		t.Fatalf("%v, %+v", err, res)
	}
	for _, e := range append(res.Embedded, res.Page) {
		if e.TLSError != "x509: certificate signed by unknown authority" {
			t.Errorf("%s: TLSError %q; want unknown authority", e.URL, e.TLSError)
		}
	}
}

func TestFetchInvalid(t *testing.T) {
	f := crawl.New(crawl.Config{})
	for _, raw := range []string{"ftp://files.example/a.jpg", "/relative", "http://", "javascript:alert(1)", "%zz", "mailto:a@b.example", "https://xn--a.example/"} {
		if res, err := f.Fetch(t.Context(), raw); !errors.Is(err, core.ErrInvalid) || !errors.Is(res.Page.Err, core.ErrInvalid) {
			t.Errorf("%q: %v; want ErrInvalid", raw, err)
		}
		if res := f.Get(t.Context(), raw); !errors.Is(res.Err, core.ErrInvalid) {
			t.Errorf("Get %q: %v; want ErrInvalid", raw, res.Err)
		}
	}
	// A cancelled caller gets its context's error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := crawl.New(crawl.Config{AllowPrivate: true}).Fetch(ctx, "http://127.0.0.1:9/"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// TestFetchPage fetches a page and what it embeds, in the page's order,
// each once, resolved against its base, up to the limit.
func TestFetchPage(t *testing.T) {
	img := pngOf(t, 3)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dir/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<head><base href="/media/"><meta property="og:image" content="og.png"></head>
<body><img src="a.png" srcset="a.png 1x, b.png 2x"><a href="c.png">c</a><a href="page.html">not media</a>
<video poster="p.png"><source src="v.mp4"></video><img src="data:image/png;base64,AA=="><img src="gone.png"></body>`)
		case "/media/gone.png":
			http.NotFound(w, r)
		case "/media/v.mp4":
			w.Write(append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 16)...))
		default:
			w.Write(img)
		}
	}))
	res, err := crawl.New(crawl.Config{AllowPrivate: true, MaxResources: 6}).Fetch(t.Context(), srv.URL+"/dir/page")
	if err != nil || res.Page.Err != nil || res.Page.ContentType != "text/html" {
		t.Fatalf("%v, %+v", err, res.Page)
	}
	var got []string
	for _, e := range res.Embedded {
		got = append(got, strings.TrimPrefix(e.URL, srv.URL))
	}
	if want := []string{"/media/og.png", "/media/a.png", "/media/b.png", "/media/c.png", "/media/p.png", "/media/v.mp4"}; !slices.Equal(got, want) {
		t.Fatalf("embedded %q, want %q", got, want)
	}
	for _, e := range res.Embedded {
		want := "image/png"
		if strings.HasSuffix(e.URL, ".mp4") {
			want = "video/mp4"
		}
		if e.Err != nil || e.ContentType != want || e.FinalURL != e.URL {
			t.Errorf("%s: %v, %s; want %s", e.URL, e.Err, e.ContentType, want)
		}
	}
	// A page that is an image has nothing embedded.
	if res, _ := crawl.New(crawl.Config{AllowPrivate: true}).Fetch(t.Context(), srv.URL+"/media/a.png"); res.Page.ContentType != "image/png" || res.Embedded != nil {
		t.Errorf("an image: %s with %d embedded", res.Page.ContentType, len(res.Embedded))
	}
}

func TestEmbeds(t *testing.T) {
	page, _ := url.Parse("https://site.example/dir/page.html")
	var many strings.Builder
	for i := range 60 {
		fmt.Fprintf(&many, `<img src="/%d.jpg">`, i)
	}
	for _, tc := range []struct {
		name, html string
		limit      int
		want       []string
	}{
		{"img src, relative and absolute", `<img src="a.jpg"><IMG SRC='/b.jpg'><img src=//cdn.example/c.jpg><img src="http://other.example/d">`, 50,
			[]string{"https://site.example/dir/a.jpg", "https://site.example/b.jpg", "https://cdn.example/c.jpg", "http://other.example/d"}},
		{"srcset, every candidate", `<img srcset="s1.jpg 1x, s2.jpg 2x,s3.jpg 3x" src="s0.jpg"><picture><source srcset="p1.webp 100w, p2.webp 200w"><source src="p3.webp"></picture>`, 50,
			[]string{"https://site.example/dir/s1.jpg", "https://site.example/dir/s2.jpg", "https://site.example/dir/s3.jpg", "https://site.example/dir/s0.jpg",
				"https://site.example/dir/p1.webp", "https://site.example/dir/p2.webp", "https://site.example/dir/p3.webp"}},
		{"base href", `<html><head><base href="https://media.example/m/"><base href="https://ignored.example/"></head><img src="a.png"><a href="b.mp4">v</a></html>`, 50,
			[]string{"https://media.example/m/a.png", "https://media.example/m/b.mp4"}},
		{"a href to media only", `<a href="x.html">x</a><a href="y.JPG">y</a><a href="z.php?f=a.jpg">z</a><a href="w.mkv#t=3">w</a><a href="/">home</a>` +
			`<a href="f.gif"></a><a href="f.jpeg"></a><a href="f.bmp"></a><a href="f.tif"></a><a href="f.tiff"></a><a href="f.webm"></a><a href="f.mov"></a><a href="f.avi"></a><a href="f.m4v"></a><a href="f.mp4"></a>`, 50,
			[]string{"https://site.example/dir/y.JPG", "https://site.example/dir/w.mkv", "https://site.example/dir/f.gif", "https://site.example/dir/f.jpeg",
				"https://site.example/dir/f.bmp", "https://site.example/dir/f.tif", "https://site.example/dir/f.tiff", "https://site.example/dir/f.webm",
				"https://site.example/dir/f.mov", "https://site.example/dir/f.avi", "https://site.example/dir/f.m4v", "https://site.example/dir/f.mp4"}},
		{"meta", `<meta property="og:image" content="/og.jpg"><meta property="og:video" content="https://v.example/v.mp4"><meta name="twitter:image" content="tw.png"><meta property="og:title" content="t.jpg"><meta property="og:image:secure_url" content="https://s.example/og.jpg">`, 50,
			[]string{"https://site.example/og.jpg", "https://v.example/v.mp4", "https://site.example/dir/tw.png", "https://s.example/og.jpg"}},
		{"video src and poster, source", `<video src="v.webm" poster="poster.jpg"><source src="v.mp4" type="video/mp4"></video><audio src="a.mp3"></audio>`, 50,
			[]string{"https://site.example/dir/v.webm", "https://site.example/dir/poster.jpg", "https://site.example/dir/v.mp4"}},
		{"only http, https and media data:, once, no fragment, not the page", `<img src="data:image/gif;base64,R0lGOD"><img src="javascript:x"><img src="ftp://f.example/a.jpg">` +
			`<img src="a.jpg#1"><img src=" a.jpg "><img src="https://site.example/dir/a.jpg"><a href="page.html"></a><img src="">` +
			`<img src="data:text/html,<p>"><img src=" data:image/gif;base64,R0lGOD">`, 50,
			[]string{"data:image/gif;base64,R0lGOD", "https://site.example/dir/a.jpg"}},
		{"not in scripts, comments or text", `<script>var s = '<img src="s.jpg">'</script><!-- <img src="c.jpg"> --><textarea><img src="t.jpg"></textarea><p>img src="p.jpg"`, 50, nil},
		{"the limit", many.String(), 50, func() (w []string) {
			for i := range 50 {
				w = append(w, fmt.Sprintf("https://site.example/%d.jpg", i))
			}
			return w
		}()},
		{"the limit within a srcset", `<img srcset="1.jpg, 2.jpg, 3.jpg">`, 2, []string{"https://site.example/dir/1.jpg", "https://site.example/dir/2.jpg"}},
		{"none", `<img src="a.jpg">`, -1, nil},
		{"malformed", `<img src="a.jpg"<img src=b.jpg><div <img src="c.jpg">`, 50, []string{"https://site.example/dir/a.jpg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := crawl.Embeds(t.Context(), []byte(tc.html), page, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSrcset(t *testing.T) {
	for in, want := range map[string][]string{
		"a.jpg":                             {"a.jpg"},
		"a.jpg 1x, b.jpg 2x":                {"a.jpg", "b.jpg"},
		" a.jpg 100w ,b.jpg  200w ":         {"a.jpg", "b.jpg"},
		"a.jpg,b.jpg":                       {"a.jpg,b.jpg"},
		"a.jpg, b.jpg":                      {"a.jpg", "b.jpg"},
		"a.jpg,, b.jpg 2x":                  {"a.jpg", "b.jpg"},
		"c.jpg?w=1,2 1x, d.jpg 2x":          {"c.jpg?w=1,2", "d.jpg"},
		"e.jpg (odd, descriptor) 1x, f.jpg": {"e.jpg", "f.jpg"},
		"":                                  nil,
		" , ":                               nil,
	} {
		if got := crawl.Srcset(in); !slices.Equal(got, want) {
			t.Errorf("srcset %q: %q, want %q", in, got, want)
		}
	}
}

func TestContentType(t *testing.T) {
	png := pngOf(t, 4)
	for _, tc := range []struct {
		declared string
		body     []byte
		want     string
	}{
		{"", png, "image/png"},
		{"application/octet-stream", png, "image/png"},
		{"text/html", png, "image/png"}, // the content, not the label
		{"image/jpeg", png, "image/png"},
		{"", []byte("<!DOCTYPE html><p>hi"), "text/html"},
		{"text/html; charset=utf-8", []byte("hi there"), "text/html"},
		{"application/xhtml+xml", []byte("<?xml version='1.0'?><html/>"), "text/xml"},
		{"video/quicktime", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "), "video/quicktime"},
		{"", []byte{0, 1, 2, 3}, "application/octet-stream"},
		{"binary/octet-stream", []byte("plain"), "text/plain"},
		{"IMAGE/JPEG;;bad", []byte{0xfe, 0, 1}, "image/jpeg"},
	} {
		if got := crawl.ContentType(tc.declared, tc.body); got != tc.want {
			t.Errorf("%q, %q…: %q, want %q", tc.declared, tc.body[:min(len(tc.body), 8)], got, tc.want)
		}
	}
}

// BenchmarkFetch fetches, from a host on loopback, a page that embeds ten
// small PNG images: pages/s and resources/s (the page and its images).
func BenchmarkFetch(b *testing.B) {
	imgs := make([][]byte, 10)
	for i := range imgs {
		imgs[i] = pngOf(b, uint64(i))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><html><head><title>gallery</title></head><body>")
		for i := range imgs {
			fmt.Fprintf(w, `<img src="/img/%d.png" alt="">`, i)
		}
		fmt.Fprint(w, "</body></html>")
	})
	mux.HandleFunc("/img/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.PathValue("n"), "%d.png", &n)
		w.Write(imgs[n%len(imgs)])
	})
	srv := serve(b, mux)
	f := crawl.New(crawl.Config{AllowPrivate: true})
	resources := 0
	for b.Loop() {
		r, err := f.Fetch(b.Context(), srv.URL+"/")
		if err != nil || r.Page.Err != nil || len(r.Embedded) != len(imgs) {
			b.Fatal(err, r.Page.Err, len(r.Embedded))
		}
		for _, e := range r.Embedded {
			if e.Err != nil {
				b.Fatal(e.Err)
			}
		}
		resources += 1 + len(r.Embedded)
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/s, "pages/s")
	b.ReportMetric(float64(resources)/s, "resources/s")
}

// TestPace checks that Config.Pace is asked before every request, the
// page's, its media's and each redirect's, with the host name, and that
// its error fails the resource.
func TestPace(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<html><img src="/moved.png">`)
		case "/moved.png":
			http.Redirect(w, r, "http://other.example:"+hostPortOf(t, r.Host)+"/a.png", http.StatusFound)
		}
	}))
	r := newResolver(map[string]string{"site.example": "127.0.0.1", "other.example": "127.0.0.1"})
	var (
		mu    sync.Mutex
		hosts []string
	)
	f := crawl.New(crawl.Config{AllowPrivate: true, Resolve: r.resolve, Concurrency: 1, Pace: func(_ context.Context, host string) error {
		mu.Lock()
		defer mu.Unlock()
		hosts = append(hosts, host)
		return nil
	}})
	u := strings.Replace(srv.URL, "127.0.0.1", "site.example", 1)
	if _, err := f.Fetch(t.Context(), u+"/"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"site.example", "site.example", "other.example"}; !slices.Equal(hosts, want) {
		t.Errorf("paced %q; want %q", hosts, want)
	}
	refused := errors.New("not now")
	res := crawl.New(crawl.Config{AllowPrivate: true, Pace: func(context.Context, string) error { return refused }}).Get(t.Context(), srv.URL+"/")
	if !errors.Is(res.Err, refused) || res.Status != 0 {
		t.Errorf("a pace that fails: %+v; want its error and no request", res)
	}
}

func hostPortOf(t *testing.T, host string) string {
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
