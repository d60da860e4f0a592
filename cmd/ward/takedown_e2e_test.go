package main

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/filehash"
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

// webHost is a web host on loopback serving a page that embeds two
// images, and a redirect to it.
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

// TestTakedownEndToEnd is the README's takedown walkthrough over real
// HTTP, on both engines, with the README's own pieces: the server with
// --demo, "ward demo-host" serving two of the sample images (one known
// material) and printing the notices it receives, the public page in real
// Chromium. The URL is fetched with the images its page embeds, matched,
// located at the registered host and queued for the first hotline of the
// hosting country; the centre's analyst assesses it in the console; the
// host receives the signed notice (checked by demo-host against the
// centre's key) and the police a report; the files are removed, the host
// says so, the rechecks find them gone and the case is removed with its
// time to removal, which the figures count. A second host, with an e-mail
// address only, behind a redirect, gets its notice by e-mail from a real
// SMTP server.
func TestTakedownEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { takedownEndToEnd(t, engine.flags(t)) })
	}
}

func takedownEndToEnd(t *testing.T, db []string) {
	ctx := browser(t)
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	out := admin("user", "add", "--org", "centre", "--role", "analyst", "analyst@centre.test")
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	centreKey := strings.TrimSpace(admin("key", "create", "--org", "centre"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))
	deKey := strings.TrimSpace(admin("key", "create", "--org", "hotline-de"))

	// The README's sample images: the hotlines of both countries list
	// sample-1, so it is known material; sample-3 is new.
	samples := filepath.Join("..", "..", "docs", "examples", "images")
	hosted := t.TempDir()
	for _, name := range []string{"sample-1.png", "sample-3.png"} {
		b, err := os.ReadFile(filepath.Join(samples, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(hosted, name), b, 0o600)
	}
	known := filehash.Bytes(must(os.ReadFile(filepath.Join(samples, "sample-1.png"))), filehash.Options{})
	tsv := filepath.Join(dir, "known.tsv")
	os.WriteFile(tsv, []byte("pdq\t"+known.PDQ.String()+"\tA1\tsample-1\n"), 0o600)
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", tsv)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", tsv)

	smtp := mailtest.Start(t)
	base := startServe(t, db, "--demo", "--fetch-allow-private", "--allow-private-webhooks", "--recheck-interval", "1s",
		"--smtp-url", smtp.URL("ward@centre.test"))
	asBKA := []string{"--server", base, "--key", bkaKey}
	pem := filepath.Join(dir, "centre.pem")
	os.WriteFile(pem, []byte(wardOK(t, append([]string{"lea", "key"}, asBKA...)...)), 0o600)

	// The host: "ward demo-host", registered by its address range, its
	// webhook the host's own.
	host, printed := startDemoHost(t, pem, hosted)
	admin("org", "add", "--name", "demo-host", "--kind", "host", "--country", "DE", "--ip-ranges", "127.0.0.0/8",
		"--webhook", host+"/notices", "--allow-private-webhooks")
	hostKey := strings.TrimSpace(admin("key", "create", "--org", "demo-host"))
	demoDEKey := strings.TrimSpace(admin("key", "create", "--org", "demo-hotline-de"))

	api := apiCaller(t, base)
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

	// A member of the public reports the host's page on the public page,
	// with no account.
	p := page{t, ctx}
	p.do(chromedp.Navigate(base + "/report"))
	shot(t, ctx, "report")
	if status := p.submit(map[string]string{"url": host + "/", "description": "a gallery"}, "#send"); status != http.StatusAccepted {
		t.Fatalf("reporting: status %d: %s", status, p.body())
	}
	shot(t, ctx, "reported")
	caseID, receipt := p.text("case"), p.text("receipt")
	if caseID == "" || receipt == "" {
		t.Fatalf("no case or receipt: %s", p.body())
	}

	// It is fetched, matched and located, and waits in the queue of the
	// first hotline registered for DE.
	c := waitCase(caseID, "assessment")
	if c.Hosting.Host != "demo-host" || c.Hosting.Country != "DE" || !slices.Contains(c.Hosting.Addresses, "127.0.0.1") {
		t.Errorf("hosting: %+v", c.Hosting)
	}
	byURL := map[string]int{}
	for _, it := range c.Items {
		byURL[it.URL] = it.Index
	}
	ki, ok1 := byURL[host+"/files/sample-1.png"]
	ni, ok3 := byURL[host+"/files/sample-3.png"]
	if !ok1 || !ok3 || len(c.Items) != 3 {
		t.Fatalf("items: %+v", c.Items)
	}
	if len(c.Items[ki].Matches) != 1 || len(c.Items[ni].Matches) != 0 || c.Items[ki].PDQ != known.PDQ.String() || c.Items[ki].SHA256 != known.SHA256 {
		t.Errorf("matches: known %+v, new %+v", c.Items[ki], c.Items[ni])
	}
	// (hotline-de was registered before --demo's demo-hotline-de here.)
	api("GET", "/v1/hotline/cases/"+caseID, deKey, nil, 200, nil)
	api("GET", "/v1/hotline/cases/"+caseID, demoDEKey, nil, 404, nil)

	// The centre's analyst assesses it in the console: the known image
	// is pre-filled as baseline.
	u, _ := url.Parse(link)
	enrolAndLogin(p, base+u.Path, "analyst@centre.test", "a long analyst passphrase")
	p.do(chromedp.Navigate(base + "/cases"))
	p.navigate(chromedp.Click(chromedp.ID("case-" + caseID)))
	shot(t, ctx, "case")
	prefilled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('input[name="class-%d"][value="baseline"]').checked`, ki)))
	if err != nil || !prefilled {
		t.Errorf("the known image is not pre-filled as baseline (%v): %s", err, p.body())
	}
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="class-%d"][value="baseline"]`, ni))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="class-%d"][value="not_illegal"]`, byURL[host+"/"]))))
	if status := p.navigate(chromedp.Click(chromedp.ID("assess"))); status != http.StatusOK {
		t.Fatalf("assessing: status %d: %s", status, p.body())
	}

	// The host receives the notice, signed by the centre: demo-host
	// checked it against centre.pem.
	wantLine := regexp.MustCompile(`notice (\S+) for case ` + caseID + `: baseline, 2 URL\(s\) \(signature verified\); say it is removed at ` +
		regexp.QuoteMeta(base) + `/v1/notices/(\S+)/removed`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m = wantLine.FindStringSubmatch(printed.String())
	}
	if m == nil || m[1] != m[2] {
		t.Fatalf("demo-host printed no verified notice for the case:\n%s", printed)
	}
	for _, f := range []string{"sample-1.png", "sample-3.png"} {
		if !strings.Contains(printed.String(), "  "+host+"/files/"+f+"\n") {
			t.Errorf("the notice does not list %s:\n%s", f, printed)
		}
	}
	noticeID := m[1]

	// The police of the hosting country get the case as a report.
	var inbox string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if inbox = wardOK(t, append([]string{"lea", "inbox"}, asBKA...)...); strings.Count(inbox, "\n") > 1 {
			break
		}
	}
	if strings.Count(inbox, "\n") < 2 {
		t.Errorf("the case did not reach the police of DE: %q", inbox)
	}

	// The files are removed and the host says so; the rechecks verify.
	for _, f := range []string{"sample-1.png", "sample-3.png"} {
		os.Remove(filepath.Join(hosted, f))
	}
	var answer map[string]string
	api("POST", "/v1/notices/"+noticeID+"/removed", hostKey, nil, http.StatusAccepted, &answer)
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
		len(figures.Hosts) != 1 || figures.Hosts[0].Host != "demo-host" {
		t.Errorf("figures: %+v", figures)
	}
	p.do(chromedp.Navigate(base + "/takedown"))
	shot(t, ctx, "figures")
	if body := p.body(); !strings.Contains(body, "demo-host") {
		t.Errorf("the figures page does not show the host: %s", body)
	}

	// The second host has no webhook, only an e-mail address, and is
	// registered by its name; the URL reported redirects to its page.
	admin("org", "add", "--name", "mailhost", "--kind", "host", "--country", "NL", "--domains", "localhost",
		"--notice-email", "abuse@mailhost.test")
	newPNG, _ := os.ReadFile(filepath.Join(samples, "sample-3.png"))
	mailed := newWebHost(t, map[string][]byte{"known.png": must(os.ReadFile(filepath.Join(samples, "sample-1.png"))), "new.png": newPNG})
	var rc struct{ ID, Receipt string }
	api("POST", "/v1/public/url-reports", "", map[string]string{"url": strings.Replace(mailed.URL, "127.0.0.1", "localhost", 1) + "/go"},
		http.StatusAccepted, &rc)
	c = waitCase(rc.ID, "assessment")
	if c.Hosting.Host != "mailhost" || c.Hosting.Country != "NL" || len(c.Items) != 3 {
		t.Errorf("the second case: %+v", c)
	}
	var classes []map[string]any
	for _, it := range c.Items {
		cl := "baseline"
		if it.Index == 0 {
			cl = "not_illegal"
		}
		classes = append(classes, map[string]any{"index": it.Index, "classification": cl})
	}
	api("POST", "/v1/hotline/cases/"+rc.ID+"/assessment", centreKey, map[string]any{"items": classes}, 200, nil)
	msgs := smtp.Wait(t, 1, 30*time.Second)
	mail, err := msgs[0].Parse()
	if err != nil || !slices.Equal(msgs[0].To, []string{"abuse@mailhost.test"}) || !strings.Contains(mail.Text, rc.ID) || !strings.Contains(mail.Text, "known.png") {
		t.Errorf("the e-mailed notice (%v): to %v: %s", err, msgs[0].To, mail.Text)
	}
}

// must returns b, failing the test on err.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// startDemoHost runs "ward demo-host" on dir until the test ends, and
// returns its base URL and what it prints.
func startDemoHost(t *testing.T, signingKey, dir string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- program.Run(ctx, &cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errs},
			[]string{"demo-host", "--addr", "127.0.0.1:0", "--signing-key", signingKey, dir})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo-host: exit %d: %s", code, errs)
		}
	})
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		base = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(errs.String())
	}
	if base == "" {
		t.Fatalf("demo-host did not start: %s", errs)
	}
	return base, out
}
