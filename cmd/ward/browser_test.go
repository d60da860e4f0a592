package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/web/browsertest"
)

// browser starts headless Chromium (Debian's package; nothing is
// downloaded) for one test. When the test fails, the page it was on is
// saved as a PNG in $WARD_SCREENSHOTS (default: the test's temporary
// directory, kept in the log).
func browser(t *testing.T) context.Context {
	t.Helper()
	ctx := browsertest.Start(t)
	t.Cleanup(func() { // before Start's, which closes the browser
		if t.Failed() {
			screenshot(t, ctx)
		}
	})
	return ctx
}

func screenshot(t *testing.T, ctx context.Context) {
	// Quality 100 gives a PNG; anything less a JPEG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	dir := os.Getenv("WARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failing page: %s", name)
}

// shot saves the page as name.png in $WARD_SCREENSHOTS, if set: to look
// at the console's pages.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png"), png, 0o644)
	}
	if err != nil {
		t.Logf("no screenshot %s: %v", name, err)
	}
}

// page is a small driver over one browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

func (p page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.getElementById('"+id+"').innerText"))
	if err != nil {
		p.t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

func (p page) body() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p page) location() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// submit fills the form's fields by id, submits it with its button and
// waits for the page that answers; it returns that page's status.
func (p page) submit(fields map[string]string, button string) int {
	p.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		steps = append(steps, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SetValue(chromedp.ID(id), v))
	}
	p.do(steps...)
	return p.navigate(chromedp.Click(chromedp.CSS(button)))
}

// navigate runs an action that loads a page and returns its status.
func (p page) navigate(a chromedp.Action[chromedp.Void]) int {
	p.t.Helper()
	resp, err := chromedp.RunResponse(p.ctx, a)
	if err != nil {
		p.t.Fatal(err)
	}
	return int(resp.Status)
}

// code is the TOTP code for secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolAndLogin follows an enrolment link in the browser, sets a password
// and the authenticator, then logs in. A code is accepted once and only
// after earlier ones, within one 30 s step of the server's clock: enrol
// with the current step's code and log in with the next step's, which
// stays valid whichever side of a step boundary each request lands.
func enrolAndLogin(p page, link, email, password string) {
	p.t.Helper()
	p.do(chromedp.Navigate(link))
	shot(p.t, p.ctx, "enrol")
	secret := strings.ReplaceAll(p.text("totp-secret"), " ", "")
	if secret == "" {
		p.t.Fatalf("no TOTP secret on the enrolment page: %s", p.body())
	}
	p.submit(map[string]string{"password": password, "code": code(p.t, secret, time.Now())}, "main button[type=submit]")
	if !strings.HasSuffix(p.location(), "/enrolled") || !strings.Contains(p.body(), "Your account is ready") {
		p.t.Fatalf("enrolment did not lead to its confirmation but %s: %s", p.location(), p.body())
	}
	p.navigate(chromedp.Click(chromedp.ID("login-link")))
	if !strings.HasSuffix(p.location(), "/login") {
		p.t.Fatalf("the confirmation did not lead to the login page but %s: %s", p.location(), p.body())
	}
	p.submit(map[string]string{"email": email, "password": password, "code": code(p.t, secret, time.Now().Add(30*time.Second))}, "main button[type=submit]")
	if strings.HasSuffix(p.location(), "/login") {
		p.t.Fatalf("login failed: %s", p.body())
	}
}

// TestConsoleInBrowser: the first admin is created with one command, logs
// in with TOTP, adds a hotline analyst and a police officer through a
// CSRF-protected form, and each of them sees only what the policy allows.
func TestConsoleInBrowser(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { consoleInBrowser(t, engine.flags(t)) })
	}
}

func consoleInBrowser(t *testing.T, db []string) {
	ctx := browser(t)
	out := wardOK(t, append([]string{"admin", "init", "--email", "admin@centre.test", "--country", "BE"}, db...)...)
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	if link == "" {
		t.Fatalf("ward admin init printed no enrolment link: %q", out)
	}
	if trail := wardOK(t, append([]string{"admin", "audit", "export", "--format", "jsonl"}, db...)...); !strings.Contains(trail, `"user.add"`) || !strings.Contains(trail, `"admin-cli"`) {
		t.Errorf("ward admin init left no audit entry: %q", trail)
	}
	wardOK(t, append([]string{"admin", "org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE"}, db...)...)
	wardOK(t, append([]string{"admin", "org", "add", "--name", "bka", "--kind", "lea", "--country", "DE"}, db...)...)
	base := startServe(t, db)
	// The link names the default address; the test server has its own.
	fix := func(l string) string {
		u, _ := url.Parse(l)
		return base + u.Path
	}

	p := page{t, ctx}
	enrolAndLogin(p, fix(link), "admin@centre.test", "correct horse battery staple")
	if body := p.body(); !strings.Contains(body, "admin@centre.test") || !strings.Contains(body, "Users") {
		t.Fatalf("start page: %s", body)
	}

	addUser := func(email, orgName, role string) string {
		p.do(chromedp.Navigate(base + "/users"))
		p.submit(map[string]string{"email": email, "org": orgName, "role": role}, "main form[action='/users'] button")
		l := p.text("enrol-link")
		if !strings.Contains(l, "/enrol/") {
			t.Fatalf("no enrolment link after adding %s: %s", email, p.body())
		}
		return fix(l)
	}
	analystLink := addUser("analyst@hotline.test", "hotline-de", "analyst")
	officerLink := addUser("officer@bka.test", "bka", "lea_officer")

	// The same form posted from another site is refused, even with the
	// admin's session cookie.
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.cookie"))
	if err != nil || cookies != "" {
		t.Errorf("the session cookie is readable from scripts (HttpOnly missing): %q %v", cookies, err)
	}
	req, _ := http.NewRequest("POST", base+"/users", strings.NewReader("email=x%40evil.test&org=hotline-de&role=analyst"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form post: %d, want 403", resp.StatusCode)
	}

	p.navigate(chromedp.Click(chromedp.CSS("header button")))
	if !strings.HasSuffix(p.location(), "/login") {
		t.Fatalf("logout led to %s", p.location())
	}

	for _, who := range []struct {
		link, email string
		allowed     []string
		forbidden   []string
	}{
		{analystLink, "analyst@hotline.test", []string{"/lists"}, []string{"/users", "/keys", "/audit"}},
		{officerLink, "officer@bka.test", []string{"/lists"}, []string{"/users", "/keys", "/audit"}},
	} {
		enrolAndLogin(p, who.link, who.email, "another long passphrase")
		for _, path := range who.allowed {
			p.do(chromedp.Navigate(base + path))
			if strings.Contains(p.body(), "Not allowed") {
				t.Errorf("%s was refused %s", who.email, path)
			}
		}
		for _, path := range who.forbidden {
			if status := p.navigate(chromedp.Navigate(base + path)); status != http.StatusForbidden || !strings.Contains(p.body(), "Not allowed") {
				t.Errorf("%s opened %s: status %d", who.email, path, status)
			}
		}
		if nav := p.body(); strings.Contains(nav, "Audit") || strings.Contains(nav, "API keys") {
			t.Errorf("%s's menu offers pages they may not open: %s", who.email, nav)
		}
		p.navigate(chromedp.Click(chromedp.CSS("header button")))
	}
}
