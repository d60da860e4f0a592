package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// anonymous is a client of c without a session, as the public is.
func anonymous(c *console) *http.Client {
	return &http.Client{Transport: c.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fieldError returns the message shown next to form field name, if any.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`<span class="field-error" id="` + name + `-error"><span class="visually-hidden">[^<]*</span>([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestPublicReportForm: the reporting page opens without a session, has no
// script and the console's protections, a label for every field, the
// safety notes and what the e-mail address is for, in the language there
// is a catalogue of.
func TestPublicReportForm(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	req, _ := http.NewRequest("GET", c.url+"/report", nil)
	req.Header.Set("Accept-Language", "fr-CH, de;q=0.8")
	resp, body := do(t, anonymous(c), req)
	if resp.StatusCode != 200 {
		t.Fatalf("report page: %d %s", resp.StatusCode, body)
	}
	h := resp.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" || h.Get("Content-Language") != "en" {
		t.Errorf("report page headers %v", h)
	}
	low := strings.ToLower(body)
	for _, bad := range []string{"<script", "javascript:", " on", "style=", "log out", "href=\"/reports"} {
		if bad == " on" {
			if regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(low) {
				t.Error("the report page has an event handler")
			}
			continue
		}
		if strings.Contains(low, bad) {
			t.Errorf("the report page has %q", bad)
		}
	}
	for _, want := range []string{
		`<html lang="en">`, `<form class="stack" method="post" action="/report"`, "<fieldset>", "<legend>",
		`<label for="url">`, `id="url" name="url"`, `<label for="description">`, `id="description" name="description"`,
		`<label for="contact">`, `id="contact" name="contact" type="email"`, `<button id="send" type="submit">`,
		"(optional)", "kept encrypted", "Do not send us the pictures or videos themselves", "Do not download",
		"not stored", "Report a web address",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("report page lacks %q", want)
		}
	}
	if regexp.MustCompile(`id="url"[^>]*required`).FindString(body) == "" || regexp.MustCompile(`id="contact"[^>]*required`).FindString(body) != "" {
		t.Error("the URL should be required and the contact not")
	}
	// Logged in, the page is the same: no session data on it.
	_, body = fetch(t, c.clients["analyst"], c.url+"/report")
	if strings.Contains(body, "analyst@") {
		t.Error("the report page shows the logged-in user")
	}
}

// TestPublicReportRefused: a bad URL or e-mail address is shown next to its
// field, with what was typed kept; a cross-site post is refused with a
// public page. Nothing reaches the service (the console here has none).
func TestPublicReportRefused(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	cl := anonymous(c)
	for _, tc := range []struct {
		name, url, contact string
		field, msg         string
	}{
		{"no URL", "  ", "", "url", "Enter the web address."},
		{"not http", "ftp://example.com/x", "", "url", "starting with http:// or https://"},
		{"no host", "https:///path", "", "url", "starting with http:// or https://"},
		{"relative", "example.com/page", "", "url", "starting with http:// or https://"},
		{"bad e-mail", "https://example.com/page", "not an address", "contact", "Enter an e-mail address"},
		{"named e-mail", "https://example.com/page", "Someone <a@example.com>", "contact", "Enter an e-mail address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"url": {tc.url}, "description": {"On the second <page> & below"}, "contact": {tc.contact}}
			resp, body := send(t, cl, c.url+"/report", form, "same-origin")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(fieldError(body, tc.field), tc.msg) {
				t.Fatalf("%d, %s error %q: %s", resp.StatusCode, tc.field, fieldError(body, tc.field), body)
			}
			for _, other := range []string{"url", "description", "contact"} {
				if other != tc.field && fieldError(body, other) != "" {
					t.Errorf("error shown at %s too", other)
				}
			}
			if !strings.Contains(body, `id="`+tc.field+`"`) || !regexp.MustCompile(`id="`+tc.field+`"[^>]*aria-invalid="true"`).MatchString(body) ||
				!strings.Contains(body, tc.field+`-hint `+tc.field+`-error`) || !strings.Contains(body, `role="alert"`) {
				t.Errorf("the field is not marked invalid: %s", body)
			}
			if !strings.Contains(body, `value="`+strings.TrimSpace(tc.url)+`"`) && strings.TrimSpace(tc.url) != "" {
				t.Errorf("the URL typed is not kept: %s", body)
			}
			if !strings.Contains(body, ">On the second &lt;page&gt; &amp; below</textarea>") {
				t.Errorf("the description typed is not kept: %s", body)
			}
			if tc.contact != "" && !strings.Contains(body, `value="`+strings.ReplaceAll(strings.ReplaceAll(tc.contact, "<", "&lt;"), ">", "&gt;")+`"`) {
				t.Errorf("the contact typed is not kept: %s", body)
			}
		})
	}
	resp, body := send(t, cl, c.url+"/report", url.Values{"url": {"https://example.com/"}}, "cross-site")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sent from another site") || !strings.Contains(body, `href="/report"`) ||
		strings.Contains(body, "Log in") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("cross-site report: %d %s", resp.StatusCode, body)
	}
	// A text browser sends neither Sec-Fetch-Site nor Origin: it passes
	// the cross-origin check (and is refused here for its empty URL).
	req, _ := http.NewRequest("POST", c.url+"/report", strings.NewReader("url="))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := do(t, cl, req); resp.StatusCode != http.StatusBadRequest || fieldError(body, "url") == "" {
		t.Errorf("post without fetch metadata: %d %s", resp.StatusCode, body)
	}
	// An origin of the site itself passes too.
	req, _ = http.NewRequest("POST", c.url+"/report", strings.NewReader("url="))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.url)
	if resp, _ := do(t, cl, req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("post from the site's origin: %d", resp.StatusCode)
	}
	// A form over the size limit.
	resp, body = send(t, cl, c.url+"/report", url.Values{"url": {"https://example.com/"}, "description": {strings.Repeat("x", 70<<10)}}, "same-origin")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "more text than allowed") {
		t.Errorf("oversized form: %d %s", resp.StatusCode, body)
	}
}
