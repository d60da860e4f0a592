package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// rowIDs returns the report IDs the reports table links to, in order.
func rowIDs(body string) []string {
	i := strings.Index(body, `<table id="reports">`)
	if i < 0 {
		return nil
	}
	var ids []string
	for _, m := range regexp.MustCompile(`<td class="mono"><a href="/reports/([A-Z0-9]+)">`).FindAllStringSubmatch(body[i:], -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestReportsSearchFilterPages: every search, filter and page of the
// reports list, the decided view with who decided and where forwarded
// reports went, and a 400 naming each bad parameter.
func TestReportsSearchFilterPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		tr := createReports(t, c)
		orgs := org.NewService(c.db)
		for _, o := range []struct {
			name    string
			kind    org.Kind
			country string
		}{{"fedpol", org.LEA, "BE"}, {"europol", org.Europol, "NL"}} {
			if _, err := orgs.Create(ctx, o.name, o.kind, o.country); err != nil {
				t.Fatal(err)
			}
		}
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")
		list := func(query string) (int, []string, string) {
			t.Helper()
			resp, body := fetch(t, analyst, c.url+"/reports"+query)
			return resp.StatusCode, rowIDs(body), body
		}
		sum := sha256.Sum256(tr.png)
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{tr.urgent, tr.fresh, tr.known}},
			{"?q=" + tr.fresh, []string{tr.fresh}},
			{"?q=" + strings.ToLower(tr.known), []string{tr.known}},
			{"?q=" + hex.EncodeToString(sum[:]), []string{tr.fresh}},
			{"?q=0123456789ABCDEF0123456789ABCDEF", []string{tr.known}}, // the known item's MD5, a content key
			{"?q=acm", []string{tr.urgent, tr.fresh, tr.known}},         // every report, newest first
			{"?q=nobody", nil},
			{"?state=queued&material=known", []string{tr.known}},
			{"?state=queued&urgency=urgent", []string{tr.urgent}},
			{"?state=queued&urgency=normal", []string{tr.fresh, tr.known}},
			{"?state=all&from=2000-01-01&to=2000-01-02", nil},
			{"?state=all&from=" + time.Now().UTC().Format("2006-01-02"), []string{tr.urgent, tr.fresh, tr.known}},
			{"?state=decided", nil},
		} {
			if status, got, body := list(tc.query); status != 200 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("/reports%s: %d %v, want %v: %s", tc.query, status, got, tc.want, body)
			}
		}
		list("?q=acm")
		if purpose, ok := audited(t, c, "report.list", "reports"); !ok || purpose != "list: by=provider&q=acm&state=all" {
			t.Errorf("list audited: %v %q", ok, purpose)
		}

		// Pages of one, forwards and back; the links keep the filters.
		status, got, body := list("?state=queued&n=1&urgency=normal")
		next := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(body)
		if status != 200 || len(got) != 1 || got[0] != tr.fresh || next == nil || strings.Contains(body, `rel="prev"`) {
			t.Fatalf("first page: %d %v %v", status, got, next)
		}
		link := strings.ReplaceAll(next[1], "&amp;", "&")
		if !strings.Contains(link, "urgency=normal") || !strings.Contains(link, "n=1") {
			t.Errorf("next link loses the filters: %s", link)
		}
		_, got, body = list(strings.TrimPrefix(link, "/reports"))
		prev := regexp.MustCompile(`rel="prev" href="([^"]+)"`).FindStringSubmatch(body)
		if len(got) != 1 || got[0] != tr.known || prev == nil || strings.Contains(body, `rel="next"`) {
			t.Fatalf("second page: %v, prev %v", got, prev)
		}
		if _, got, _ = list(strings.TrimPrefix(strings.ReplaceAll(prev[1], "&amp;", "&"), "/reports")); len(got) != 1 || got[0] != tr.fresh {
			t.Errorf("back to the first page: %v", got)
		}

		// Bad values: a 400 naming the parameter.
		for _, tc := range []struct{ query, param string }{
			{"?state=pending", "state"}, {"?material=old", "material"}, {"?urgency=soon", "urgency"},
			{"?from=yesterday", "from"}, {"?from=2025-02-01&to=2025-01-01", "to"}, {"?after=1_2", "after"},
			{"?before=x", "before"}, {"?n=100000", "n"}, {"?q=" + strings.Repeat("a", 201), "q"},
			{"?q=" + url.QueryEscape("a\x01b"), "q"},
		} {
			if status, _, body := list(tc.query); status != 400 || !strings.Contains(strings.ToLower(body), ">"+tc.param+":") {
				t.Errorf("/reports%s: %d, want 400 naming %s: %s", tc.query, status, tc.param, body)
			}
		}

		// Decided reports stay visible, with who decided and where the
		// forwarded one went.
		if resp, _ := send(t, analyst, c.url+"/reports/"+tr.known+"/decision", url.Values{"kind": {"unfounded"}, "text": {"An adult."}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("unfounded: %d", resp.StatusCode)
		}
		resp, body := fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/forward")
		for _, want := range []string{"fedpol (BE)", "europol (Europol)", "Competent country: <strong>BE</strong>", "reported user&#39;s country"} {
			if resp.StatusCode != 200 || !strings.Contains(body, want) {
				t.Errorf("forward confirmation lacks %q: %d %s", want, resp.StatusCode, body)
			}
		}
		if c.state(t, tr.fresh) != report.StateQueued {
			t.Fatal("the confirmation page forwarded the report")
		}
		if resp, _ := send(t, analyst, c.url+"/reports/"+tr.fresh+"/decision", url.Values{"kind": {"forward"}, "confirm": {"yes"}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("forward: %d", resp.StatusCode)
		}
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		if err := forward.NewService(c.db.Forward(), c.reports, key).Route(ctx, tr.fresh); err != nil {
			t.Fatal(err)
		}
		_, got, body = list("?state=decided")
		if strings.Join(got, " ") != tr.fresh+" "+tr.known {
			t.Errorf("decided: %v", got)
		}
		for _, want := range []string{"analyst@centre.test", "unfounded", "forwarded", "fedpol (BE): waiting for the authority to fetch it", "europol (Europol)"} {
			if !strings.Contains(body, want) {
				t.Errorf("decided view lacks %q: %s", want, body)
			}
		}
		if _, got, _ = list("?state=forwarded"); strings.Join(got, " ") != tr.fresh {
			t.Errorf("forwarded: %v", got)
		}
		if _, got, _ = list("?state=unfounded"); strings.Join(got, " ") != tr.known {
			t.Errorf("unfounded: %v", got)
		}
	})
}

// TestStartPageCounts: each role sees the counts its policy allows.
func TestStartPageCounts(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		createReports(t, c)
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")
		_, body := fetch(t, analyst, c.url+"/")
		for _, want := range []string{"<strong>1</strong> urgent", "<strong>1</strong> new material", "<strong>1</strong> known material",
			"<strong>0</strong> waiting for information", "<strong>0</strong> forwarded"} {
			if !strings.Contains(body, want) {
				t.Errorf("the analyst's start page lacks %q: %s", want, body)
			}
		}
		for _, role := range policy.Roles {
			u, err := c.users.UserByEmail(context.Background(), string(role)+"@"+orgFor[role]+".test")
			if err != nil {
				t.Fatal(err)
			}
			sub := policy.Subject{Role: role, Kind: u.OrgKind, OrgID: u.OrgID}
			reports := policy.Scope(sub, policy.ReportsRead) == policy.AllData
			jobs := policy.Scope(sub, policy.JobsManage) == policy.AllData
			_, body := fetch(t, c.clients[role], c.url+"/")
			if strings.Contains(body, "urgent</a> awaiting") != reports || strings.Contains(body, "dead jobs") != jobs {
				t.Errorf("%s's start page: reports counts %v (policy %v), job counts %v (policy %v)", role,
					strings.Contains(body, "urgent</a> awaiting"), reports, strings.Contains(body, "dead jobs"), jobs)
			}
		}
	})
}

// TestEnrolmentQRAndConfirmation: the enrolment page shows a QR code of
// the otpauth URI, served as a PNG bound to the token and never cached;
// a finished enrolment says so.
func TestEnrolmentQRAndConfirmation(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	ctx := context.Background()
	_, token, err := c.users.AddUser(ctx, "hotline", policy.Analyst, "qr@hotline.test")
	if err != nil {
		t.Fatal(err)
	}
	anon := &http.Client{Transport: c.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, body := fetch(t, anon, c.url+"/enrol/"+token)
	if !strings.Contains(body, `src="/enrol/`+token+`/qr.png"`) {
		t.Errorf("the enrolment page has no QR code: %s", body)
	}
	if !strings.Contains(body, `href="otpauth://totp/`) {
		t.Errorf("the enrolment page has no link to the authenticator app: %s", body)
	}
	resp, body := fetch(t, anon, c.url+"/enrol/"+token+"/qr.png")
	img, err := png.Decode(strings.NewReader(body))
	if resp.StatusCode != 200 || err != nil || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("QR code: %d %v %v", resp.StatusCode, resp.Header, err)
	}
	if img.Bounds().Dx() != 240 {
		t.Errorf("QR code of %v", img.Bounds())
	}
	if resp, _ := fetch(t, anon, c.url+"/enrol/not-a-token/qr.png"); resp.StatusCode != 404 {
		t.Errorf("QR code of no enrolment: %d", resp.StatusCode)
	}
	_, secret, _, err := c.users.BeginEnrolment(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	resp, _ = send(t, anon, c.url+"/enrol/"+token, url.Values{"password": {"a long enough password"}, "code": {code}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/enrolled" {
		t.Fatalf("enrolment: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body = fetch(t, anon, c.url+"/enrolled"); resp.StatusCode != 200 || !strings.Contains(body, "Your account is ready") || !strings.Contains(body, `href="/login"`) {
		t.Errorf("confirmation: %d %s", resp.StatusCode, body)
	}
	// The token is spent: its QR code is gone.
	if resp, _ := fetch(t, anon, c.url+"/enrol/"+token+"/qr.png"); resp.StatusCode != 404 {
		t.Errorf("QR code after the enrolment: %d", resp.StatusCode)
	}

}
