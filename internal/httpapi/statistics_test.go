package httpapi_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

// finishedReport makes and finishes a report of the provider, of type typ,
// with one hashed item.
func (e *env) finishedReport(t *testing.T, key string, typ report.Type) {
	t.Helper()
	ctx := context.Background()
	d := storetest.Draft()
	d.Type = typ
	d.Items = []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: fmt.Sprintf("%032x", len(key)+1000*int(key[0]))}}}
	r, _, err := e.reports.CreateDraft(ctx, e.orgs["provider"].ID, key, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reports.Finish(ctx, e.orgs["provider"].ID, r.ID); err != nil {
		t.Fatal(err)
	}
}

// TestStatistics: anyone reads the statistics rolled up, as JSON and as
// CSV, cacheable, and without a trace of the reports' personal data.
func TestStatistics(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		e.finishedReport(t, "a", report.TypeNew)
		e.finishedReport(t, "bb", report.TypeKnown)
		c := e.client(t, "provider")
		// Not counted before the roll-up.
		st, err := c.Statistics(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if st.Reports.Received != 0 || st.UpdatedAt != nil {
			t.Fatalf("before the roll-up: %+v", st)
		}
		if err := e.stats.Rollup(context.Background()); err != nil {
			t.Fatal(err)
		}
		today := time.Now().UTC().Format("2006-01-02")
		st, err = c.Statistics(context.Background(), today, today)
		if err != nil {
			t.Fatal(err)
		}
		if st.From != today || st.To != today || st.UpdatedAt == nil || st.Reports.Received != 2 ||
			!maps.Equal(st.Reports.ByProvider, map[string]int64{"provider": 2}) ||
			!maps.Equal(st.Reports.ByType, map[string]int64{"known": 1, "new": 1, "solicitation": 0}) ||
			st.Reports.MedianHoursToForward != nil || len(st.Months) != 1 || st.Months[0].ReportsReceived != 2 {
			t.Errorf("statistics %+v", st)
		}

		resp, err := http.Get(e.url + "/v1/public/statistics?format=csv&from=" + today)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			resp.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("CSV: %d %v", resp.StatusCode, resp.Header)
		}
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"figure,key": "value", "from,": today, "reports.received,": "2", "reports.by_provider,provider": "2",
			"reports.by_type,solicitation": "0", "reports.median_hours_to_forward,": "", "months.reports_received," + today[:7]: "2"}
		got := map[string]string{}
		for _, r := range rows {
			got[r[0]+","+r[1]] = r[2]
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("CSV row %s: %q, want %q", k, g, v)
			}
		}
		for _, pd := range []string{storetest.DraftEmail, storetest.DraftIP, storetest.DraftScreenName} {
			if strings.Contains(string(body), pd) {
				t.Errorf("the CSV shows %q", pd)
			}
		}
		resp, err = http.Get(e.url + "/v1/public/statistics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil || resp.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("JSON: %v %v", err, resp.Header)
		}
		for _, pd := range []string{storetest.DraftEmail, storetest.DraftIP, storetest.DraftScreenName} {
			if strings.Contains(string(body), pd) {
				t.Errorf("the JSON shows %q", pd)
			}
		}
	})
}

// TestStatisticsRefused: bad parameters are problem+json naming each,
// and an address over its limit waits.
func TestStatisticsRefused(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true, func(s *httpapi.Server) { s.StatsLimit = ratelimit.NewPublic(0.01, 8) })
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, tc := range []struct {
		query, pointer, detail string
	}{
		{"from=2026-13-01", "/from", `must be a date as YYYY-MM-DD, not "2026-13-01"`},
		{"to=yesterday", "/to", `must be a date as YYYY-MM-DD, not "yesterday"`},
		{"from=2026-01-02&to=2026-01-01", "/to", "must not be before from, 2026-01-02"},
		{"to=" + tomorrow, "/to", "must not be after today"},
		{"from=2010-01-01&to=2020-01-01", "/from", "the period must be at most 1827 days"},
		{"format=xml", "/format", `must be json or csv, not "xml"`},
	} {
		resp, err := http.Get(e.url + "/v1/public/statistics?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var p client.Problem
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" ||
			len(p.Errors) != 1 || p.Errors[0].Pointer != tc.pointer || !strings.HasPrefix(p.Errors[0].Detail, tc.detail) {
			t.Errorf("%s: %d %+v %v", tc.query, resp.StatusCode, p, err)
		}
	}
	// 6 requests so far of a burst of 8.
	var status []int
	for range 3 {
		resp, err := http.Get(e.url + "/v1/public/statistics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = append(status, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(status) != "[200 200 429]" {
		t.Errorf("statuses %v, want [200 200 429]", status)
	}
}

// TestStatisticsNotConfigured: a server without statistics says so.
func TestStatisticsNotConfigured(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true, func(s *httpapi.Server) { s.Stats = nil })
	resp, err := http.Get(e.url + "/v1/public/statistics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d", resp.StatusCode)
	}
}
