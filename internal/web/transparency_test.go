package web_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/web"
)

// figure returns the number the page shows as figure id.
func figure(body, id string) string {
	m := regexp.MustCompile(`<strong id="` + id + `">([^<]*)</strong>`).FindStringSubmatch(body)
	if m == nil {
		return "(none)"
	}
	return html.UnescapeString(m[1])
}

// TestTransparencyPage: anyone sees the figures rolled up, with an SVG
// chart and a table of each, links to the data and the definitions, no
// script and no personal data; the page may be cached.
func TestTransparencyPage(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(engine.name, func(t *testing.T) {
			c := startConsole(t, engine.open(t))
			ctx := context.Background()
			for i, typ := range []report.Type{report.TypeNew, report.TypeNew, report.TypeKnown} {
				d := storetest.Draft()
				d.Type = typ
				d.Items = []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: strings.Repeat(string(rune('a'+i)), 32)}}}
				r, _, err := c.reports.CreateDraft(ctx, c.orgs["acme"].ID, string(rune('a'+i)), d)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.reports.Finish(ctx, c.orgs["acme"].ID, r.ID); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.stats.Rollup(ctx); err != nil {
				t.Fatal(err)
			}
			resp, body := fetch(t, anonymous(c), c.url+"/transparency")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("page: %d %s", resp.StatusCode, body)
			}
			h := resp.Header
			if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "public, max-age=60" ||
				h.Get("Content-Language") != "en" || h.Get("Vary") != "Accept-Language" {
				t.Errorf("headers %v", h)
			}
			today := time.Now().UTC()
			from, to := today.AddDate(0, 0, -364).Format("2006-01-02"), today.Format("2006-01-02")
			for id, want := range map[string]string{"reports-received": "3", "reports-forwarded": "0", "reports-median": "—",
				"indicators-active": "0", "takedown-removed": "0"} {
				if got := figure(body, id); got != want {
					t.Errorf("%s: %q, want %q", id, got, want)
				}
			}
			low := strings.ToLower(body)
			for _, bad := range []string{"<script", "javascript:", "style=", storetest.DraftEmail, storetest.DraftIP, storetest.DraftScreenName} {
				if strings.Contains(low, strings.ToLower(bad)) {
					t.Errorf("the page has %q", bad)
				}
			}
			if regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(low) {
				t.Error("the page has an event handler")
			}
			for _, want := range []string{
				`<label for="from">`, `<input id="from" name="from" type="date" value="` + from + `"`, `<label for="to">`,
				`href="/v1/public/statistics?from=` + from + `&amp;to=` + to + `"`,
				`href="/v1/public/statistics?format=csv&amp;from=` + from + `&amp;to=` + to + `"`,
				`href="/transparency/definitions"`,
				`<figcaption id="chart-received-caption">Reports received per month</figcaption>`,
				`<svg id="chart-received" viewBox="0 0 720 240" role="img" aria-labelledby="chart-received-caption" aria-describedby="chart-received-table"`,
				`<table class="chart-table" id="chart-received-table">`, `<th scope="row">acme</th><td class="num">3</td>`,
				`<th scope="row">New material</th><td class="num">2</td>`, `<th scope="row">Solicitation of children</th><td class="num">0</td>`,
				`<th scope="row">` + to[:7] + `</th><td class="num">3</td>`,
				"Reports that online services sent in the period.", // each figure explained
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			// This month's bar is the chart's tallest: from the axis up
			// to its top.
			if !regexp.MustCompile(`<rect class="bar" [^>]*><title>` + to[:7] + `: 3</title></rect>`).MatchString(body) {
				t.Error("no bar of this month's 3 reports")
			}

			resp, body = fetch(t, anonymous(c), c.url+"/transparency/definitions")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
				!strings.Contains(body, "# Transparency statistics") || !strings.Contains(body, "`reports.median_hours_to_forward`") {
				t.Errorf("definitions: %d %v", resp.StatusCode, resp.Header)
			}
		})
	}
}

// TestTransparencyRefused: a bad period is shown next to its field, with
// what was typed kept; an address over its limit is told to wait.
func TestTransparencyRefused(t *testing.T) {
	c := startConsoleWith(t, storetest.OpenSQLite(t), func(s *web.Server) { s.StatsLimit = ratelimit.NewPublic(0.001, 3) })
	for _, tc := range []struct {
		query, field, want string
	}{
		{"from=31.12.2025", "from", "Enter a date as YYYY-MM-DD, not “31.12.2025”."},
		{"from=2026-01-02&to=2026-01-01", "to", "Enter a day no earlier than the first, 2026-01-02."},
		{"from=2001-01-01&to=2020-01-01", "from", "The period can be at most five years: enter a first day on or after 2015-01-01."},
	} {
		resp, body := fetch(t, anonymous(c), c.url+"/transparency?"+tc.query)
		if resp.StatusCode != http.StatusBadRequest || html.UnescapeString(fieldError(body, tc.field)) != tc.want ||
			resp.Header.Get("Cache-Control") != "no-store" || strings.Contains(body, `id="reports-received"`) {
			t.Errorf("%s: %d, %s error %q", tc.query, resp.StatusCode, tc.field, fieldError(body, tc.field))
		}
		if !strings.Contains(body, `aria-invalid="true"`) {
			t.Errorf("%s: no field marked invalid", tc.query)
		}
	}
	resp, body := fetch(t, anonymous(c), c.url+"/transparency")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "Too many requests came from your connection") {
		t.Errorf("over the limit: %d %v", resp.StatusCode, resp.Header)
	}
}
