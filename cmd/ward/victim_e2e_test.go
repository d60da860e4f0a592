package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/indicator"
)

// victimStatus is a victim's case as GET /v1/public/victim-cases/{case}
// gives it.
type victimStatus struct {
	Case   string `json:"case"`
	Hashes []struct {
		ID     int64  `json:"id"`
		Signal string `json:"signal"`
		Value  string `json:"value"`
		State  string `json:"state"`
	} `json:"hashes"`
	Counts struct {
		Hashes           int `json:"hashes"`
		Withdrawn        int `json:"withdrawn"`
		ProviderMatches  int `json:"provider_matches"`
		WebMatches       int `json:"web_matches"`
		NoticesSent      int `json:"notices_sent"`
		RemovalsVerified int `json:"removals_verified"`
	} `json:"counts"`
}

// TestVictimWalkthrough is the README's victims walkthrough over real
// HTTP, on both engines, in real Chromium: a person hashes two photos on
// /help/remove and gets a case; a provider syncs victim-reported, matches
// one of them offline and confirms it to the centre; the centre's search
// finds the other on a host on loopback ("ward demo-host"); the analyst
// assesses it in the console (the unverified match not pre-filled); the
// host receives the notice and removes the photo; the rechecks verify it;
// the case's status counts one match at a provider, one on the web, its
// notice and its removal. Withdrawing a hash then takes it out of the
// provider's mirror.
func TestVictimWalkthrough(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { victimWalkthrough(t, engine.flags(t)) })
	}
}

func victimWalkthrough(t *testing.T, db []string) {
	ctx := browser(t)
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	out := admin("user", "add", "--org", "centre", "--role", "analyst", "analyst@centre.test")
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	centreKey := strings.TrimSpace(admin("key", "create", "--org", "centre"))
	acmeKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))

	photos := filepath.Join("..", "..", "docs", "examples", "victim")
	photo := func(n int) string {
		p, err := filepath.Abs(filepath.Join(photos, fmt.Sprintf("photo-%d.jpg", n)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hosted := t.TempDir()

	base := startServe(t, db, "--demo", "--fetch-allow-private", "--allow-private-webhooks", "--recheck-interval", "1s",
		"--search-delay", "10ms")
	pem := filepath.Join(dir, "centre.pem")
	os.WriteFile(pem, []byte(wardOK(t, "lea", "key", "--server", base, "--key", bkaKey)), 0o600)
	host, printed := startDemoHost(t, pem, hosted)
	admin("org", "add", "--name", "demo-host", "--kind", "host", "--country", "DE", "--ip-ranges", "127.0.0.0/8",
		"--webhook", host+"/notices", "--allow-private-webhooks")
	hostKey := strings.TrimSpace(admin("key", "create", "--org", "demo-host"))

	api := apiCaller(t, base)

	// 1. The person hashes both photos in the browser and sends the
	// hashes: the page shows a case and its secret.
	p := page{t, ctx}
	p.do(chromedp.Navigate(base+"/help/remove"), chromedp.WaitVisible(chromedp.ID("files")),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{photo(1), photo(2)}))
	want := map[int]filehash.Result{}
	for n := 1; n <= 2; n++ {
		want[n] = filehash.Bytes(must(os.ReadFile(photo(n))), filehash.Options{})
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		body := p.body()
		if strings.Contains(body, want[1].PDQ.String()) && strings.Contains(body, want[2].SHA256) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show the photos' hashes: %s", body)
		}
	}
	shot(t, ctx, "hashed")
	p.do(chromedp.Click(chromedp.ID("send")), chromedp.WaitVisible(chromedp.ID("secret")))
	shot(t, ctx, "sent")
	caseNo, secret := p.text("case"), p.text("secret")
	if caseNo == "" || secret == "" {
		t.Fatalf("no case or secret: %s", p.body())
	}
	var st victimStatus
	api("GET", "/v1/public/victim-cases/"+url.PathEscape(caseNo), secret, nil, 200, &st)
	if st.Case != caseNo || st.Counts.Hashes != 6 || len(st.Hashes) != 6 {
		t.Fatalf("the new case: %+v", st)
	}
	api("GET", "/v1/public/victim-cases/"+url.PathEscape(caseNo), "not the secret", nil, 404, nil)

	// 2. The provider syncs victim-reported and matches the first photo
	// offline, then confirms the match to the centre.
	mirror := filepath.Join(dir, "victims.mirror")
	asAcme := []string{"--server", base, "--key", acmeKey}
	wardOK(t, append([]string{"sync", "--list", indicator.VictimReported, "--mirror", mirror}, asAcme...)...)
	found := scanned(t, wardOK(t, "scan", "--mirror", mirror, photo(1)))
	if len(found) != 1 || len(found[0].Matches) == 0 {
		t.Fatalf("scanning the first photo: %+v", found)
	}
	for _, m := range found[0].Matches {
		if m.List != indicator.VictimReported || m.Category != string(indicator.Unverified) {
			t.Errorf("a match of the first photo: %+v", m)
		}
	}
	api("POST", "/v1/match-feedback", acmeKey, map[string]any{"indicator": found[0].Matches[0].Indicator, "verdict": "confirmed"}, 202, nil)

	// 3. The second photo is on the web; the centre's search finds it.
	os.WriteFile(filepath.Join(hosted, "photo-2.jpg"), must(os.ReadFile(photo(2))), 0o600)
	caseID, _ := searchFinds(t, admin, api, host, centreKey)
	var c struct {
		takedownCase
		Items []struct {
			Index          int               `json:"index"`
			URL            string            `json:"url"`
			Classification string            `json:"classification"`
			HasContent     bool              `json:"has_content"`
			Matches        []json.RawMessage `json:"matches"`
		} `json:"items"`
	}
	api("GET", "/v1/hotline/cases/"+caseID, centreKey, nil, 200, &c)
	photoIdx := -1
	for _, it := range c.Items {
		if it.URL == host+"/files/photo-2.jpg" {
			photoIdx = it.Index
			// Its PDQ, MD5 and SHA-256, as the person sent them; its
			// content kept for the analyst, who must see it.
			if len(it.Matches) != 3 || it.Classification != "" || !it.HasContent {
				t.Errorf("the photo's item: %+v %s", it, it.Matches)
			}
			for _, m := range it.Matches {
				if !strings.Contains(string(m), `"victim-reported"`) || !strings.Contains(string(m), `"unverified"`) {
					t.Errorf("a match of the photo: %s", m)
				}
			}
		}
	}
	if photoIdx < 0 {
		t.Fatalf("the case has no item of the photo: %+v", c.Items)
	}

	// The analyst assesses it in the console: the unverified match is
	// not pre-filled.
	u, _ := url.Parse(link)
	enrolAndLogin(p, base+u.Path, "analyst@centre.test", "a long analyst passphrase")
	p.do(chromedp.Navigate(base + "/cases"))
	p.navigate(chromedp.Click(chromedp.ID("case-" + caseID)))
	shot(t, ctx, "case")
	if body := p.body(); !strings.Contains(body, "victim-reported") || !strings.Contains(strings.ToLower(body), "unverified") {
		t.Errorf("the case page does not say the match is victim-reported and unverified: %s", body)
	}
	prefilled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.querySelector('input[name="class-%d"]:checked')`, photoIdx)))
	if err != nil || prefilled {
		t.Errorf("the unverified match is pre-filled (%v)", err)
	}
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="class-%d"][value="baseline"]`, photoIdx))),
		chromedp.Click(chromedp.CSS(`input[name="class-0"][value="not_illegal"]`)))
	if status := p.navigate(chromedp.Click(chromedp.ID("assess"))); status != http.StatusOK {
		t.Fatalf("assessing: status %d: %s", status, p.body())
	}

	// 4. The host receives the notice and removes the photo; the
	// rechecks verify it.
	wantLine := regexp.MustCompile(`notice (\S+) for case ` + caseID + `: baseline, 1 URL\(s\) \(signature verified\)`)
	for deadline := time.Now().Add(30 * time.Second); !wantLine.MatchString(printed.String()); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("demo-host printed no verified notice for the case:\n%s", printed)
		}
	}
	os.Remove(filepath.Join(hosted, "photo-2.jpg"))
	noticeID := wantLine.FindStringSubmatch(printed.String())[1]
	api("POST", "/v1/notices/"+noticeID+"/removed", hostKey, nil, http.StatusAccepted, nil)

	// 5. The case's status: one match at a provider, one on the web, its
	// notice sent and its removal verified.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		api("GET", "/v1/public/victim-cases/"+url.PathEscape(caseNo), secret, nil, 200, &st)
		if st.Counts.RemovalsVerified == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removal was not counted: %+v", st.Counts)
		}
	}
	if c := st.Counts; c.Hashes != 6 || c.ProviderMatches != 1 || c.WebMatches != 1 || c.NoticesSent != 1 || c.RemovalsVerified != 1 || c.Withdrawn != 0 {
		t.Errorf("counts %+v, want 6 hashes, 1 provider match, 1 web match, 1 notice, 1 removal", c)
	}
	p.do(chromedp.Navigate(base + "/help/case"))
	p.submit(map[string]string{"case": caseNo, "secret": secret}, "main button[type=submit]")
	shot(t, ctx, "status")
	if body := p.body(); strings.Contains(body, host) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "acme") {
		t.Errorf("the status page says where: %s", body)
	}

	// Withdrawing every hash takes them out of the provider's mirror at
	// its next sync.
	api("DELETE", "/v1/public/victim-cases/"+url.PathEscape(caseNo)+"/hashes", secret, nil, 200, &st)
	if st.Counts.Withdrawn != 6 {
		t.Errorf("after withdrawing all: %+v", st.Counts)
	}
	time.Sleep(200 * time.Millisecond)
	wardOK(t, append([]string{"sync", "--list", indicator.VictimReported, "--mirror", mirror}, asAcme...)...)
	if found := scanned(t, wardOK(t, "scan", "--mirror", mirror, photo(1))); len(found) != 1 || len(found[0].Matches) != 0 {
		t.Errorf("the withdrawn photo still matches the mirror: %+v", found)
	}

	// Someone sends the first photo's hashes again, in a case of their
	// own: they are in the list again (a withdrawal cannot keep an image
	// out), and the mirror, verified against the log, matches it again.
	h := want[1]
	var again struct{ Case, Secret string }
	api("POST", "/v1/public/victim-cases", "", map[string]any{"hashes": []map[string]string{
		{"signal": "pdq", "value": h.PDQ.String()}, {"signal": "md5", "value": h.MD5}, {"signal": "sha256", "value": h.SHA256}}}, 201, &again)
	api("GET", "/v1/public/victim-cases/"+url.PathEscape(again.Case), again.Secret, nil, 200, &st)
	for _, x := range st.Hashes {
		if x.State != "active" {
			t.Errorf("a hash sent again after its withdrawal: %+v", x)
		}
	}
	time.Sleep(200 * time.Millisecond)
	wardOK(t, append([]string{"sync", "--list", indicator.VictimReported, "--mirror", mirror}, asAcme...)...)
	if found := scanned(t, wardOK(t, "scan", "--mirror", mirror, photo(1))); len(found) != 1 || len(found[0].Matches) != 3 {
		t.Errorf("the photo sent again does not match the mirror: %+v", found)
	}
}

// scanLine is a line of "ward scan".
type scanLine struct {
	Path    string
	Matches []struct {
		Indicator int64
		List      string
		Category  string
	}
}

func scanned(t *testing.T, out string) []scanLine {
	t.Helper()
	var lines []scanLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r scanLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad scan line %q: %v", l, err)
		}
		lines = append(lines, r)
	}
	return lines
}
