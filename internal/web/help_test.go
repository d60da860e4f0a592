package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardhq/ward/internal/victim"
	"github.com/wardhq/ward/internal/web"
)

// directory is a help directory of fixed services.
type directory struct {
	services []victim.HelpService
	mu       sync.Mutex
	asked    [][2]string // country, language of each look-up
}

func (d *directory) HelpServices(_ context.Context, country, language string) ([]victim.HelpService, error) {
	d.mu.Lock()
	d.asked = append(d.asked, [2]string{country, language})
	d.mu.Unlock()
	var out []victim.HelpService
	for _, s := range d.services {
		if s.Country == country {
			out = append(out, s)
		}
	}
	return out, nil
}

var _ web.HelpDirectory = (*directory)(nil)

var testServices = []victim.HelpService{
	{ID: 1, Country: "DE", Language: "de", Name: "Hilfetelefon Test", URL: "https://hilfe.example/", Phone: "+49 800 123 45"},
	{ID: 2, Country: "AT", Language: "de", Name: "Rat auf Draht Test", Phone: "147"},
}

// sent is a request the page made, with its body.
type sent struct {
	Method, Path, Authorization, ContentType string
	Body                                     []byte
}

// helpSite is the console's handler, with the help directory dir, behind
// a recorder of every request; the victim-case routes of the API answer
// as their contract says (the API's own are in internal/httpapi).
type helpSite struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []sent
	// extra serves the tests' own files under /test/.
	extra http.Handler
	// refuseAdds is how many additions of hashes to refuse as the rate
	// limit does, before taking them.
	refuseAdds atomic.Int32
}

func startHelp(t testing.TB, dir web.HelpDirectory) *helpSite {
	t.Helper()
	s := &web.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Help: dir}
	if dir == nil {
		s.Help = nil // a nil interface, not a typed nil
	}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	site := &helpSite{}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("POST /v1/public/victim-cases", func(w http.ResponseWriter, r *http.Request) {
		answerVictimCase(w, r, http.StatusCreated, `{"case":"VK7Q-2M4D-PZ6A-9RTB","secret":"SECRET-abcdefghijklmnopqrst"}`)
	})
	mux.HandleFunc("POST /v1/public/victim-cases/{case}/hashes", func(w http.ResponseWriter, r *http.Request) {
		if site.refuseAdds.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"title":"Too Many Requests","status":429,"detail":"too many requests"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer SECRET-abcdefghijklmnopqrst" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"title":"Unauthorized","status":401,"detail":"the case number or the secret is wrong"}`)
			return
		}
		answerVictimCase(w, r, http.StatusOK, `{"case":"`+r.PathValue("case")+`","added":1}`)
	})
	mux.Handle("/test/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if site.extra == nil {
			http.NotFound(w, r)
			return
		}
		site.extra.ServeHTTP(w, r)
	}))
	site.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		site.mu.Lock()
		site.log = append(site.log, sent{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b})
		site.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(site.srv.Close)
	return site
}

// answerVictimCase checks a request's body against the contract of the
// victim-case routes and answers with answer or a problem.
func answerVictimCase(w http.ResponseWriter, r *http.Request, status int, answer string) {
	var body struct {
		Hashes []struct{ Signal, Value string }
	}
	hexOf := map[string]*regexp.Regexp{"pdq": regexp.MustCompile(`^[0-9a-f]{64}$`), "md5": regexp.MustCompile(`^[0-9a-f]{32}$`), "sha256": regexp.MustCompile(`^[0-9a-f]{64}$`)}
	err := json.NewDecoder(r.Body).Decode(&body)
	ok := err == nil && r.Header.Get("Content-Type") == "application/json" && len(body.Hashes) > 0 && len(body.Hashes) <= 100
	for _, h := range body.Hashes {
		if re := hexOf[h.Signal]; re == nil || !re.MatchString(h.Value) {
			ok = false
		}
	}
	if !ok {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"title":"Bad Request","status":400,"detail":"the hashes are not in the expected form"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

// posts returns the requests with a body that the page sent.
func (s *helpSite) posts() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sent
	for _, r := range s.log {
		if len(r.Body) > 0 || r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func get(t *testing.T, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// No transparent decompression: the test reads what was sent.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestHelpRemovePage: the page opens without a session; its policy adds
// to the strict one only scripts from the site, WebAssembly and requests
// to the site; it has no inline script; every control has a label; it
// explains, without JavaScript, that nothing is uploaded; and it lists the
// services of the country of the browser's language, or of the one chosen.
func TestHelpRemovePage(t *testing.T) {
	dir := &directory{services: testServices}
	site := startHelp(t, dir)
	resp, b := get(t, site.srv.URL+"/help/remove", "Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	body := string(b)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
	if got := resp.Header.Get("Content-Security-Policy"); got != csp {
		t.Errorf("policy %q, want %q", got, csp)
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(body) {
		t.Error("the page has inline script")
	}
	for _, id := range []string{"files", "contact", "add-case", "add-secret", "country"} {
		if !strings.Contains(body, `<label for="`+id+`">`) || !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("control %s has no label", id)
		}
	}
	for _, want := range []string{`<script src="/static/help.js"></script>`,
		`<button id="send" type="submit">`, `id="case"`, `id="secret"`, "<noscript>", "nothing has been uploaded",
		`<option value="DE" selected>Germany</option>`, `<a href="https://hilfe.example/" rel="noopener noreferrer">Hilfetelefon Test</a>`,
		`<a href="tel:&#43;4980012345">&#43;49 800 123 45</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "Rat auf Draht") {
		t.Error("the page lists another country's service")
	}
	if len(dir.asked) != 1 || dir.asked[0] != [2]string{"DE", "de"} {
		t.Errorf("directory asked %v, want DE de", dir.asked)
	}

	// Another country, chosen; the other pages keep the strict policy.
	_, b = get(t, site.srv.URL+"/help/remove?country=at", "Accept-Language", "de-DE")
	if body := string(b); !strings.Contains(body, "Rat auf Draht Test") || !strings.Contains(body, `href="tel:147"`) || strings.Contains(body, "Hilfetelefon") {
		t.Errorf("Austria's services: %s", body)
	}
	resp, _ = get(t, site.srv.URL+"/report")
	if strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
		t.Errorf("the report page allows scripts: %s", resp.Header.Get("Content-Security-Policy"))
	}

	// No country known: none asked; no directory: none listed.
	_, b = get(t, site.srv.URL+"/help/remove", "Accept-Language", "en")
	if len(dir.asked) != 2 || strings.Contains(string(b), `selected>`) {
		t.Errorf("without a country: asked %v", dir.asked)
	}
	_, b = get(t, startHelp(t, nil).srv.URL+"/help/remove?country=DE")
	if !strings.Contains(string(b), "This server lists no help services.") {
		t.Errorf("without a directory: %s", b)
	}
}

// TestHashWasmServed: the WebAssembly is served as application/wasm,
// gzipped to a client that accepts it, as it is to one that does not;
// the worker that runs it, with the page's policy.
func TestHashWasmServed(t *testing.T) {
	site := startHelp(t, nil)
	raw, err := os.ReadFile("static/hash.wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp, plain := get(t, site.srv.URL+"/static/hash.wasm")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, raw) {
		t.Fatalf("plain: %d %v, %d bytes", resp.StatusCode, resp.Header, len(plain))
	}
	resp, gz := get(t, site.srv.URL+"/static/hash.wasm", "Accept-Encoding", "br, gzip;q=0.8")
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" ||
		resp.Header.Get("Vary") != "Accept-Encoding" || !bytes.Equal(unzipped, raw) {
		t.Fatalf("gzipped: %v %v", resp.Header, err)
	}
	resp, _ = get(t, site.srv.URL+"/static/hash.wasm", "Accept-Encoding", "gzip;q=0")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzipped to a client that refuses it")
	}
	resp, _ = get(t, site.srv.URL+"/static/hash.wasm", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}
	// The worker has the page's policy (it governs the worker); the other
	// files, the strict one.
	resp, _ = get(t, site.srv.URL+"/static/hash-worker.js")
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.HasSuffix(csp, "; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("worker: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get(t, site.srv.URL+"/static/help.js")
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || strings.Contains(csp, "script-src") {
		t.Errorf("help.js: %d %v", resp.StatusCode, resp.Header)
	}
	t.Logf("hash.wasm: %d bytes, %d gzipped", len(raw), len(gz))
}

// TestHashWasmCurrent: the committed WebAssembly is what go generate
// builds from the code as it is, and wasm_exec.js is the toolchain's.
func TestHashWasmCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	out := filepath.Join(t.TempDir(), "hash.wasm")
	cmd := exec.Command(goTool, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./hashwasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("static/hash.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Errorf("static/hash.wasm (%d bytes) is not what the code builds (%d bytes): run go generate ./internal/web", len(committed), len(built))
	}
	// The packages that would make it large have no place in it.
	list := exec.Command(goTool, "list", "-deps", "./hashwasm")
	list.Env = cmd.Env
	deps, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, heavy := range []string{"net/http", "crypto/tls", "encoding/json"} {
		if slices.Contains(strings.Fields(string(deps)), heavy) {
			t.Errorf("hash.wasm links %s", heavy)
		}
	}
	goroot, err := exec.Command(goTool, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("static/wasm_exec.js"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("static/wasm_exec.js is not the toolchain's (%v): run go generate ./internal/web", err)
	}
}
