package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/client"
)

// TestReportsEndToEnd is the README's report story over real HTTP, on both
// engines: register a provider, a police authority and Europol; two
// hotlines make an image's hash a known indicator; the provider submits a
// report with that image from the CLI; it is triaged and matched; a centre
// analyst forwards it in the console (real Chromium); the authority pulls
// it (signature verified, file intact), acknowledges it and sends feedback
// with a non-disclosure period; and the provider's status view shows all
// of it.
func TestReportsEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { reportsEndToEnd(t, engine.flags(t)) })
	}
}

func reportsEndToEnd(t *testing.T, db []string) {
	ctx := browser(t)
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	out := admin("user", "add", "--org", "centre", "--role", "analyst", "analyst@centre.test")
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	if link == "" {
		t.Fatalf("no enrolment link: %q", out)
	}
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	provKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))
	otherLEA := "lea-fr"
	admin("org", "add", "--name", otherLEA, "--kind", "lea", "--country", "FR")
	frKey := strings.TrimSpace(admin("key", "create", "--org", otherLEA))

	img := filepath.Join(dir, "upload.png")
	h := writePNG(t, img, 42)
	tsv := filepath.Join(dir, "known.tsv")
	if err := os.WriteFile(tsv, []byte("pdq\t"+h.PDQ.String()+"\tA1\tcase-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", tsv)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", tsv)

	base := startServe(t, db)
	asProvider := []string{"--server", base, "--key", provKey}
	asBKA := []string{"--server", base, "--key", bkaKey}

	// The provider reports the upload from the CLI, with the file, using
	// the README's example report.
	reportFile := filepath.Join("..", "..", "docs", "examples", "report.json")
	var submitted client.ReportStatus
	if err := json.Unmarshal([]byte(wardOK(t, append([]string{"report", "submit", "--json", "--file", img, reportFile}, asProvider...)...)), &submitted); err != nil {
		t.Fatal(err)
	}
	reportID := submitted.ID
	if submitted.State != "received" || len(submitted.Files) != 1 || submitted.Files[0].PDQ != h.PDQ.String() {
		t.Fatalf("submitted: %+v", submitted)
	}
	// Submitting the same command again (a retry) creates nothing new.
	var again client.ReportStatus
	json.Unmarshal([]byte(wardOK(t, append([]string{"report", "submit", "--json", "--file", img, reportFile}, asProvider...)...)), &again)
	if again.ID != submitted.ID {
		t.Errorf("re-running the submission made report %s besides %s", again.ID, submitted.ID)
	}

	// A second report, of another user and new material, for the
	// analyst's search, filters and pages.
	example, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	secondFile := filepath.Join(dir, "second.json")
	os.WriteFile(secondFile, []byte(strings.Replace(string(example), `"u-1234"`, `"u-5678"`, 1)), 0o600)
	secondImg := filepath.Join(dir, "second.png")
	writePNG(t, secondImg, 4711)
	var second client.ReportStatus
	if err := json.Unmarshal([]byte(wardOK(t, append([]string{"report", "submit", "--json", "--file", secondImg, secondFile}, asProvider...)...)), &second); err != nil {
		t.Fatal(err)
	}

	// A centre analyst finds it triaged as known material: by searching
	// for it, by filtering, by paging; and forwards it after checking
	// where it goes.
	u, _ := url.Parse(link)
	p := page{t, ctx}
	enrolAndLogin(p, base+u.Path, "analyst@centre.test", "a long analyst passphrase")
	shot(t, ctx, "start")
	var queue string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		p.do(chromedp.Navigate(base + "/reports"))
		if queue = p.body(); strings.Contains(queue, reportID) && strings.Contains(queue, second.ID) {
			break
		}
	}
	if !strings.Contains(queue, reportID) || !strings.Contains(queue, "known") || !strings.Contains(queue, second.ID) {
		t.Fatalf("the queue does not show the reports: %s", queue)
	}
	shot(t, ctx, "queue")
	p.submit(map[string]string{"q": reportID}, "form.search button")
	if body := p.body(); !strings.Contains(body, "Searching by report ID") || !strings.Contains(body, reportID) || strings.Contains(body, second.ID) {
		t.Errorf("searching for %s: %s", reportID, body)
	}
	p.do(chromedp.Navigate(base + "/reports"))
	p.submit(map[string]string{"material": "known"}, "form.filters button")
	if body := p.body(); !strings.Contains(p.location(), "material=known") || !strings.Contains(body, reportID) || strings.Contains(body, second.ID) {
		t.Errorf("filtering known material (%s): %s", p.location(), body)
	}
	p.do(chromedp.Navigate(base + "/reports?n=1"))
	if body := p.body(); !strings.Contains(body, second.ID) || strings.Contains(body, reportID) {
		t.Errorf("the first page of one: %s", body)
	}
	p.navigate(chromedp.Click(chromedp.CSS("a[rel=next]")))
	if body := p.body(); !strings.Contains(body, reportID) || strings.Contains(body, second.ID) {
		t.Errorf("the second page of one: %s", body)
	}
	p.navigate(chromedp.Click(chromedp.CSS("a[rel=prev]")))
	if body := p.body(); !strings.Contains(body, second.ID) || strings.Contains(body, reportID) {
		t.Errorf("back to the first page: %s", body)
	}
	p.do(chromedp.Navigate(base + "/reports"))
	p.navigate(chromedp.Click(chromedp.CSS("a[href='/reports/" + reportID + "']")))
	if body := p.body(); !strings.Contains(body, "case-1") && !strings.Contains(body, "A1") {
		t.Errorf("the report page shows no match: %s", body)
	}
	if status := p.navigate(chromedp.Click(chromedp.ID("forward"))); status != 200 {
		t.Fatalf("the forward's confirmation: status %d: %s", status, p.body())
	}
	shot(t, ctx, "forward-confirmation")
	if body := p.body(); !strings.Contains(body, "bka (DE)") || !strings.Contains(body, "europol (Europol)") || strings.Contains(body, "lea-fr") {
		t.Errorf("the confirmation does not show the receiving authorities: %s", body)
	}
	if status := p.navigate(chromedp.Click(chromedp.ID("confirm-forward"))); status != 200 {
		t.Fatalf("forwarding: status %d: %s", status, p.body())
	}

	// The authority competent for the user's country pulls it.
	var inbox string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if inbox = wardOK(t, append([]string{"lea", "inbox"}, asBKA...)...); strings.Contains(inbox, reportID) {
			break
		}
	}
	if !strings.Contains(inbox, reportID) {
		t.Fatalf("the report did not reach bka's inbox: %s", inbox)
	}
	// The forwarded report stays in the console, with where it went.
	p.do(chromedp.Navigate(base + "/reports?state=decided"))
	if body := p.body(); !strings.Contains(body, reportID) || !strings.Contains(body, "analyst@centre.test") || !strings.Contains(body, "bka (DE)") {
		t.Errorf("the decided reports: %s", body)
	}
	shot(t, ctx, "decided")
	if fr := wardOK(t, "lea", "inbox", "--status", "all", "--server", base, "--key", frKey); strings.Contains(fr, reportID) {
		t.Errorf("an authority not competent received the report: %s", fr)
	}
	pkg := filepath.Join(dir, "package")
	keyFile := filepath.Join(dir, "centre.pem")
	if err := os.WriteFile(keyFile, []byte(wardOK(t, append([]string{"lea", "key"}, asBKA...)...)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A package that the kept key did not sign is refused.
	other, _, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(other)
	otherPEM := filepath.Join(dir, "other.pem")
	os.WriteFile(otherPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	if code, _, errs := ward(t, "", append([]string{"lea", "get", "--out", filepath.Join(dir, "bad"), "--signing-key", otherPEM}, append(asBKA, reportID)...)...); code == 0 || !strings.Contains(errs, "nothing was written") {
		t.Errorf("a package checked with another key: exit %d, %s", code, errs)
	}
	wardOK(t, append([]string{"lea", "get", "--out", pkg, "--signing-key", keyFile}, append(asBKA, reportID)...)...)
	files, _ := filepath.Glob(filepath.Join(pkg, "file-0-*"))
	orig, _ := os.ReadFile(img)
	if len(files) != 1 {
		t.Fatalf("package files: %v", files)
	}
	if got, _ := os.ReadFile(files[0]); string(got) != string(orig) {
		t.Error("the file in the package differs from the upload")
	}
	if pj, _ := os.ReadFile(filepath.Join(pkg, "report.json")); !strings.Contains(string(pj), "u-1234") {
		t.Errorf("the package lacks the reported user: %s", pj)
	}
	wardOK(t, append([]string{"lea", "ack"}, append(asBKA, reportID)...)...)
	until := time.Now().AddDate(0, 6, 0).Format(time.DateOnly)
	wardOK(t, append([]string{"lea", "feedback", "--outcome", "investigating", "--non-disclosure-until", until}, append(asBKA, reportID)...)...)

	// The provider sees where it went, in general terms, and that the
	// user must not be told yet.
	var s client.ReportStatus
	if err := json.Unmarshal([]byte(wardOK(t, append([]string{"report", "status", "--json"}, append(asProvider, reportID)...)...)), &s); err != nil {
		t.Fatal(err)
	}
	if s.State != "forwarded" || s.ForwardedAt.IsZero() {
		t.Errorf("provider's status: %+v", s)
	}
	if got := strings.Join(s.ForwardedTo, "; "); !strings.Contains(got, "DE") || !strings.Contains(got, "Europol") || strings.Contains(got, "bka") {
		t.Errorf("forwarded to %q, want the DE authority and Europol in general terms", got)
	}
	if s.DoNotInformUserUntil.Format(time.DateOnly) != until {
		t.Errorf("do not inform the user until %v, want %s", s.DoNotInformUserUntil, until)
	}
}
