package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/victim"
	"github.com/wardhq/ward/internal/web"
)

func (c *console) openVictimCase(t *testing.T, n int) victim.Receipt {
	t.Helper()
	var hs []indicator.Hash
	for i := range n {
		hs = append(hs, indicator.Hash{Signal: indicator.MD5, Value: fmt.Sprintf("%032x", 0xcafe00+i)})
	}
	rc, err := c.victims.Open(context.Background(), hs, "me@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestVictimCasePage: /help/case opens without a session and without
// script; the number and the secret are posted, never in the URL; a wrong
// secret answers as an unknown case; the counts are shown in words, and
// hashes are withdrawn one by one and all at once, after a confirmation.
func TestVictimCasePage(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		cl := c.fromAddr("127.0.0.7")
		req, _ := http.NewRequest("GET", c.url+"/help/case", nil)
		resp, body := do(t, cl, req)
		h := resp.Header
		if resp.StatusCode != 200 || !strings.Contains(body, `<form class="stack" method="post" action="/help/case"`) ||
			!strings.Contains(body, `name="secret" type="password"`) || strings.Contains(strings.ToLower(body), "<script") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("the form: %d %v %s", resp.StatusCode, h, body)
		}
		rc := c.openVictimCase(t, 3)
		post := func(form url.Values) (*http.Response, string) {
			t.Helper()
			return send(t, cl, c.url+"/help/case", form, "same-origin")
		}
		resp, body = post(url.Values{"case": {""}, "secret": {""}})
		if resp.StatusCode != 400 || fieldError(body, "case") == "" || fieldError(body, "secret") == "" {
			t.Errorf("empty form: %d %s", resp.StatusCode, body)
		}
		_, wrong := post(url.Values{"case": {rc.Case}, "secret": {rc.Secret + "A"}})
		resp, unknown := post(url.Values{"case": {"VAAA-AAAA-AAAA-AAAA"}, "secret": {rc.Secret}})
		if resp.StatusCode != 404 || !strings.Contains(unknown, `id="not-found">No case has this number and secret`) ||
			strings.Replace(wrong, rc.Case, "VAAA-AAAA-AAAA-AAAA", 1) != unknown || strings.Contains(wrong, rc.Secret) {
			t.Errorf("a wrong secret does not answer as an unknown case:\n%s\n%s", wrong, unknown)
		}

		show := url.Values{"case": {strings.ToLower(rc.Case)}, "secret": {rc.Secret}}
		resp, body = post(show)
		if resp.StatusCode != 200 || !strings.Contains(body, `<code id="victim-case">`+rc.Case+`</code>`) ||
			!strings.Contains(body, `<strong id="count-hashes">3</strong>`) || !strings.Contains(body, `<strong id="count-provider-matches">0</strong>`) ||
			!strings.Contains(body, "We never say where") || strings.Contains(body, "me@example.org") ||
			strings.Count(body, `name="do" value="withdraw"`) != 3 || !strings.Contains(body, `id="withdraw-all"`) {
			t.Fatalf("the status page: %d %s", resp.StatusCode, body)
		}
		if strings.Contains(strings.ToLower(body), "<script") || regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(body) {
			t.Error("the status page has a script")
		}

		// One hash, then all, after confirming.
		resp, body = post(url.Values{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw"}, "hash": {"2"}})
		if resp.StatusCode != 200 || !strings.Contains(body, `id="message">Hash 2 was taken back`) ||
			!strings.Contains(body, `<strong id="count-withdrawn">1</strong>`) || strings.Count(body, `name="do" value="withdraw"`) != 2 {
			t.Errorf("withdrawing hash 2: %d %s", resp.StatusCode, body)
		}
		for _, bad := range []url.Values{
			{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw"}, "hash": {"x"}},
			{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw"}, "hash": {"9"}},
			{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"delete-everything"}},
		} {
			if resp, body := post(bad); resp.StatusCode != 400 && resp.StatusCode != 404 || strings.Contains(body, "not-found") {
				t.Errorf("%v: %d %s", bad, resp.StatusCode, body)
			}
		}
		resp, body = post(url.Values{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw-all"}})
		if resp.StatusCode != 200 || !strings.Contains(body, "Take back all your hashes?") || !strings.Contains(body, `value="withdraw-all-confirmed"`) {
			t.Errorf("the confirmation: %d %s", resp.StatusCode, body)
		}
		st, err := c.victims.Status(context.Background(), rc.Case, rc.Secret)
		if err != nil || st.Counts.Withdrawn != 1 {
			t.Errorf("asking to confirm withdrew: %+v, %v", st.Counts, err)
		}
		resp, body = post(url.Values{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw-all-confirmed"}})
		if resp.StatusCode != 200 || !strings.Contains(body, `<strong id="count-withdrawn">3</strong>`) ||
			strings.Contains(body, `name="do" value="withdraw"`) || strings.Contains(body, `id="withdraw-all"`) {
			t.Errorf("withdrawing all: %d %s", resp.StatusCode, body)
		}
		if dump := storetest.DumpAll(t, c.db); strings.Contains(string(dump), "127.0.0.7") || strings.Contains(string(dump), rc.Secret) {
			t.Error("the store holds the person's address or the secret")
		}
	})
}

// TestVictimCasePageLimit: look-ups and withdrawals share the look-up
// limit; a form with nothing filled in is not counted.
func TestVictimCasePageLimit(t *testing.T) {
	c := startConsoleWith(t, storetest.OpenSQLite(t), func(s *web.Server) { s.LookupLimit = ratelimit.NewPublic(1e-9, 2) })
	rc := c.openVictimCase(t, 1)
	cl := c.fromAddr("127.0.0.8")
	for i, tc := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"case": {""}, "secret": {""}}, 400},
		{url.Values{"case": {rc.Case}, "secret": {"wrong"}}, 404},
		{url.Values{"case": {rc.Case}, "secret": {rc.Secret}, "do": {"withdraw"}, "hash": {"1"}}, 200},
		{url.Values{"case": {rc.Case}, "secret": {rc.Secret}}, 429},
	} {
		if resp, body := send(t, cl, c.url+"/help/case", tc.form, "same-origin"); resp.StatusCode != tc.want {
			t.Errorf("request %d: %d, want %d: %s", i, resp.StatusCode, tc.want, body)
		}
	}
}
