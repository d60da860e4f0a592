package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/platform/mail/mailtest"
)

// takedownCase is a case as GET /v1/hotline/cases/{id} gives it, in the
// field names the issue asks for.
type takedownCase struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	State   string `json:"state"`
	Hosting struct {
		Addresses []string `json:"addresses"`
		Country   string   `json:"country"`
		Host      string   `json:"host"`
	} `json:"hosting"`
	Items []struct {
		Index          int               `json:"index"`
		URL            string            `json:"url"`
		SHA256         string            `json:"sha256"`
		PDQ            string            `json:"pdq"`
		Classification string            `json:"classification"`
		Matches        []json.RawMessage `json:"matches"`
	} `json:"items"`
	Notices        []json.RawMessage `json:"notices"`
	ReceivedAt     time.Time         `json:"received_at"`
	RemovedAt      *time.Time        `json:"removed_at"`
	TimeToRemovalS *float64          `json:"time_to_removal_s"`
}

// webHost is the "internet" of the takedown tests: a web host on loopback
// serving a page that embeds two images (and a redirect to it), whose
// images can be taken down.
type webHost struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
}

func newWebHost(t *testing.T, files map[string][]byte) *webHost {
	h := &webHost{files: files}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>gallery</title><meta property="og:image" content="/files/known.png">`+
			`<img src="/files/known.png"><picture><source srcset="/files/new.png 2x"></picture>`)
	})
	mux.HandleFunc("GET /go", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) })
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		b, ok := h.files[r.PathValue("name")]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

func (h *webHost) remove(names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range names {
		delete(h.files, n)
	}
}

// noticeSink is a host's webhook: it keeps every notice with its
// signature.
type noticeSink struct {
	*httptest.Server
	got chan client.SignedPackage
}

func newNoticeSink(t *testing.T) *noticeSink {
	s := &noticeSink{got: make(chan client.SignedPackage, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.got <- client.SignedPackage{Body: b, Signature: r.Header.Get("Ward-Signature")}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestTakedownEndToEnd is the README's takedown story over real HTTP, on
// both engines: a URL reported on the public page (real Chromium) is
// fetched with the images its page embeds, matched (one is known
// material), located at the registered host and routed to the hotline of
// the hosting country; a hotline analyst assesses it in the console; the
// host's webhook receives a signed notice and the police a report; the
// host takes the images down and says so; the recheck finds them gone and
// the case is removed with its time to removal, which the figures count.
// A second host, with an e-mail address only, gets its notice by e-mail
// from a real SMTP server.
func TestTakedownEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { takedownEndToEnd(t, engine.flags(t)) })
	}
}

func takedownEndToEnd(t *testing.T, db []string) {
	ctx := browser(t)
	dir := t.TempDir()
	admin := func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), db...)...) }
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	out := admin("user", "add", "--org", "hotline-de", "--role", "analyst", "analyst@hotline-de.test")
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	centreKey := strings.TrimSpace(admin("key", "create", "--org", "centre"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))
	nlKey := strings.TrimSpace(admin("key", "create", "--org", "hotline-nl"))

	// Two images: one known (both hotlines list it), one new.
	known := writePNG(t, filepath.Join(dir, "known.png"), 42)
	writePNG(t, filepath.Join(dir, "new.png"), 4711)
	tsv := filepath.Join(dir, "known.tsv")
	os.WriteFile(tsv, []byte("pdq\t"+known.PDQ.String()+"\tA1\tcase-1\n"), 0o600)
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", tsv)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", tsv)
	knownPNG, _ := os.ReadFile(filepath.Join(dir, "known.png"))
	newPNG, _ := os.ReadFile(filepath.Join(dir, "new.png"))

	// The host on loopback, registered by its address range with a
	// webhook; a second, by its name, with an e-mail address only.
	web := newWebHost(t, map[string][]byte{"known.png": knownPNG, "new.png": newPNG})
	sink := newNoticeSink(t)
	admin("org", "add", "--name", "hostco", "--kind", "host", "--country", "DE", "--ip-ranges", "127.0.0.0/8",
		"--webhook", sink.URL+"/notices", "--allow-private-webhooks")
	hostKey := strings.TrimSpace(admin("key", "create", "--org", "hostco"))
	admin("org", "add", "--name", "mailhost", "--kind", "host", "--country", "NL", "--domains", "localhost",
		"--notice-email", "abuse@mailhost.test")
	smtp := mailtest.Start(t)

	base := startServe(t, db, "--fetch-allow-private", "--allow-private-webhooks", "--recheck-interval", "1s",
		"--smtp-url", smtp.URL("ward@centre.test"))
	api := func(method, path, key string, body any, want int, out any) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, r)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
	waitCase := func(id, state string) takedownCase {
		t.Helper()
		var c takedownCase
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			api("GET", "/v1/hotline/cases/"+id, centreKey, nil, 200, &c)
			if c.State == state {
				return c
			}
		}
		t.Fatalf("case %s is %s, not %s: %+v", id, c.State, state, c)
		return c
	}

	// A member of the public reports the URL (a redirect to the page) on
	// the public page, with no account.
	p := page{t, ctx}
	p.do(chromedp.Navigate(base + "/report"))
	if status := p.submit(map[string]string{"url": web.URL + "/go", "description": "a gallery"}, "#send"); status != http.StatusAccepted {
		t.Fatalf("reporting: status %d: %s", status, p.body())
	}
	caseID, receipt := p.text("case"), p.text("receipt")
	if caseID == "" || receipt == "" {
		t.Fatalf("no case or receipt: %s", p.body())
	}

	// It is fetched, matched and located, and waits in the DE hotline's
	// queue; the NL hotline does not see it.
	c := waitCase(caseID, "assessment")
	if c.Hosting.Host != "hostco" || c.Hosting.Country != "DE" || !slices.Contains(c.Hosting.Addresses, "127.0.0.1") {
		t.Errorf("hosting: %+v", c.Hosting)
	}
	byURL := map[string]int{}
	for _, it := range c.Items {
		byURL[it.URL] = it.Index
	}
	ki, ok1 := byURL[web.URL+"/files/known.png"]
	ni, ok2 := byURL[web.URL+"/files/new.png"]
	if !ok1 || !ok2 || len(c.Items) != 3 {
		t.Fatalf("items: %+v", c.Items)
	}
	if len(c.Items[ki].Matches) != 1 || len(c.Items[ni].Matches) != 0 || c.Items[ki].PDQ != known.PDQ.String() || c.Items[ki].SHA256 != known.SHA256 {
		t.Errorf("matches: known %+v, new %+v", c.Items[ki], c.Items[ni])
	}
	api("GET", "/v1/hotline/cases/"+caseID, nlKey, nil, 404, nil)

	// The DE hotline's analyst assesses it in the console: the known
	// image is pre-filled as baseline.
	u, _ := url.Parse(link)
	enrolAndLogin(p, base+u.Path, "analyst@hotline-de.test", "a long analyst passphrase")
	p.do(chromedp.Navigate(base + "/cases"))
	p.navigate(chromedp.Click(chromedp.ID("case-" + caseID)))
	prefilled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('input[name="class-%d"][value="baseline"]').checked`, ki)))
	if err != nil || !prefilled {
		t.Errorf("the known image is not pre-filled as baseline (%v): %s", err, p.body())
	}
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="class-%d"][value="baseline"]`, ni))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="class-%d"][value="not_illegal"]`, byURL[web.URL+"/"]))))
	if status := p.navigate(chromedp.Click(chromedp.ID("assess"))); status != http.StatusOK {
		t.Fatalf("assessing: status %d: %s", status, p.body())
	}

	// The host's webhook gets the notice, signed by the centre.
	var key client.SigningKey
	api("GET", "/v1/lea/signing-key", centreKey, nil, 200, &key)
	var n *client.Notice
	select {
	case got := <-sink.got:
		if n, err = client.VerifyNotice(key.PublicKey, got.Body, got.Signature); err != nil {
			t.Fatalf("the notice does not verify: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no notice reached the host")
	}
	wantURLs := []string{web.URL + "/files/known.png", web.URL + "/files/new.png"}
	slices.Sort(n.URLs)
	if n.Case != caseID || n.Classification != "baseline" || !slices.Equal(n.URLs, wantURLs) || n.Notice == "" {
		t.Errorf("notice: %+v", n)
	}

	// The police of the hosting country get the case as a report.
	var inbox string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if inbox = wardOK(t, "lea", "inbox", "--server", base, "--key", bkaKey); strings.Count(inbox, "\n") > 1 {
			break
		}
	}
	if strings.Count(inbox, "\n") < 2 {
		t.Errorf("the case did not reach the police of DE: %q", inbox)
	}

	// The host takes the images down and says so; the recheck verifies.
	web.remove("known.png", "new.png")
	var answer map[string]string
	api("POST", "/v1/notices/"+n.Notice+"/removed", hostKey, nil, http.StatusAccepted, &answer)
	c = waitCase(caseID, "removed")
	if c.RemovedAt == nil || c.TimeToRemovalS == nil {
		t.Fatalf("removed without a time: %+v", c)
	}
	if want := c.RemovedAt.Sub(c.ReceivedAt).Seconds(); *c.TimeToRemovalS < want-1 || *c.TimeToRemovalS > want+1 || want <= 0 {
		t.Errorf("time to removal %v s, want %v s", *c.TimeToRemovalS, want)
	}
	var figures struct {
		Cases    int     `json:"cases"`
		Removed  int     `json:"removed"`
		Within1d float64 `json:"removed_within_1d"`
		MedianS  float64 `json:"median_s"`
		Hosts    []struct {
			Host    string `json:"host"`
			Removed int    `json:"removed"`
		} `json:"hosts"`
	}
	api("GET", "/v1/takedown/figures", centreKey, nil, 200, &figures)
	if figures.Cases != 1 || figures.Removed != 1 || figures.Within1d != 1 || figures.MedianS <= 0 ||
		len(figures.Hosts) != 1 || figures.Hosts[0].Host != "hostco" {
		t.Errorf("figures: %+v", figures)
	}

	// The second host has no webhook: its notice goes by e-mail.
	mailed := newWebHost(t, map[string][]byte{"known.png": knownPNG, "new.png": newPNG})
	var rc struct{ ID, Receipt string }
	api("POST", "/v1/public/url-reports", "", map[string]string{"url": strings.Replace(mailed.URL, "127.0.0.1", "localhost", 1) + "/files/known.png"},
		http.StatusAccepted, &rc)
	c = waitCase(rc.ID, "assessment")
	if c.Hosting.Host != "mailhost" || c.Hosting.Country != "NL" {
		t.Errorf("hosting of the second case: %+v", c.Hosting)
	}
	api("POST", "/v1/hotline/cases/"+rc.ID+"/assessment", centreKey,
		map[string]any{"items": []map[string]any{{"index": 0, "classification": "baseline"}}}, 200, nil)
	msgs := smtp.Wait(t, 1, 30*time.Second)
	m, err := msgs[0].Parse()
	if err != nil || !slices.Equal(msgs[0].To, []string{"abuse@mailhost.test"}) || !strings.Contains(m.Text, rc.ID) || !strings.Contains(m.Text, "known.png") {
		t.Errorf("the e-mailed notice (%v): to %v: %s", err, msgs[0].To, m.Text)
	}
}
