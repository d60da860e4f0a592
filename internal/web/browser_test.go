package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/web/browsertest"
)

// tab drives one browser tab.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval returns the value of a script run on the page (the test's own
// script: the pages have none).
func (b tab) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return strings.TrimSpace(s)
}

func (b tab) text(id string) string { return b.eval("document.getElementById('" + id + "').innerText") }

func (b tab) body() string { return b.eval("document.body.innerText") }

// load runs an action that loads a page and returns its status.
func (b tab) load(a chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return int(resp.Status)
}

// submit fills the fields by id, clicks button and returns the status of
// the page that answers.
func (b tab) submit(fields map[string]string, button string) int {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		steps = append(steps, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SetValue(chromedp.ID(id), v))
	}
	b.do(steps...)
	return b.load(chromedp.Click(chromedp.CSS(button)))
}

// TestComplaintInBrowser: in Chromium, at a phone's width, a person files
// a complaint about a removal and is shown the case number and the
// secret; a reviewer logs in, finds it in the queue, sees what it
// concerns, upholds it with reasons and sees the outcome; the person then
// sees it with the case number and the secret.
func TestComplaintInBrowser(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		cs := setUpComplaints(t, c)
		// Plain HTTP on loopback, which Chromium trusts with the
		// console's Secure cookie, unlike the test's own certificate.
		srv := httptest.NewServer(c.srv.Config.Handler)
		t.Cleanup(srv.Close)
		b := tab{t, browsertest.Start(t)}

		b.do(chromedp.EmulateViewport(360, 740), chromedp.Navigate(srv.URL+"/complaint"))
		if w := b.eval("String(document.documentElement.scrollWidth)"); w != "360" {
			t.Errorf("the complaint page is %s px wide on a 360 px screen", w)
		}
		if status := b.submit(map[string]string{"provider": "acme", "reference": cs.report, "description": "My drawing,\nremoved by mistake."}, "#send"); status != http.StatusCreated {
			t.Fatalf("filing: %d %s", status, b.body())
		}
		id, secret := b.text("complaint-case"), b.text("complaint-secret")
		if complaint.NormaliseID(id) != id || len(secret) < 20 || !strings.Contains(b.body(), "Write down or print") {
			t.Fatalf("filed page: %q %q %s", id, secret, b.body())
		}

		// The reviewer, enrolled here, logs in with the next code.
		ctx := context.Background()
		const email, password = "browser-reviewer@centre.test", "a long enough password"
		_, token, err := c.users.AddUser(ctx, "centre", policy.Reviewer, email)
		if err != nil {
			t.Fatal(err)
		}
		_, totpSecret, _, err := c.users.BeginEnrolment(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		enrolCode, _ := totp.GenerateCode(totpSecret, now)
		if err := c.users.CompleteEnrolment(ctx, token, password, enrolCode); err != nil {
			t.Fatal(err)
		}
		loginCode, _ := totp.GenerateCode(totpSecret, now.Add(30*time.Second))
		b.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/login"))
		b.submit(map[string]string{"email": email, "password": password, "code": loginCode}, "main button[type=submit]")
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/complaints"]`)))
		if !strings.Contains(b.body(), id) {
			t.Fatalf("the queue lacks %s: %s", id, b.body())
		}
		b.load(chromedp.Click(chromedp.ID("complaint-" + id)))
		if d := b.text("complaint-description"); d != "My drawing,\nremoved by mistake." {
			t.Errorf("description %q", d)
		}
		if r := b.text("concerns-report"); r != cs.report {
			t.Errorf("the complaint concerns %q, want report %s", r, cs.report)
		}
		b.do(chromedp.Click(chromedp.ID("outcome-upheld")))
		if status := b.submit(map[string]string{"reasons": "A drawing of the complainant's own, not abuse material."}, "#decide"); status != http.StatusOK {
			t.Fatalf("decision: %d %s", status, b.body())
		}
		if out := b.text("complaint-outcome"); out != "upheld" || !strings.Contains(b.body(), "Your decision was recorded.") ||
			!strings.Contains(b.text("complaint-reasons"), "not abuse material") {
			t.Errorf("after the decision: %q %s", out, b.body())
		}
		got, err := c.complaints.Complaint(ctx, c.centreReviewer(), id)
		if err != nil || got.State != complaint.Upheld {
			t.Errorf("complaint %s is %s, %v", id, got.State, err)
		}

		// The person, at a phone's width again.
		b.do(chromedp.EmulateViewport(360, 740), chromedp.Navigate(srv.URL+"/complaint/status"))
		if status := b.submit(map[string]string{"case": strings.ToLower(id), "secret": secret}, "#show"); status != http.StatusOK {
			t.Fatalf("status: %d %s", status, b.body())
		}
		if st := b.text("complaint-state"); !strings.HasPrefix(st, "Upheld") || !strings.Contains(b.text("complaint-reasons"), "not abuse material") {
			t.Errorf("the person sees %q: %s", st, b.body())
		}
		if w := b.eval("String(document.documentElement.scrollWidth)"); w != "360" {
			t.Errorf("the status page is %s px wide on a 360 px screen", w)
		}
	})
}
