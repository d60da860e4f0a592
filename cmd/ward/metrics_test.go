package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
)

// scrapeMetrics reads /metrics at addr as `name{labels}` → value.
func scrapeMetrics(t *testing.T, addr string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	out := map[string]float64{}
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		text.WriteString(line + "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out, text.String()
}

// TestServeMetrics: with --metrics-addr, a second listener serves
// /metrics, and API calls move the counters, labelled by route pattern;
// the public listener has no /metrics.
func TestServeMetrics(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			db := engine.flags(t)
			dir := t.TempDir()
			admin := adminOn(t, db)
			admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
			admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
			admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
			key := strings.TrimSpace(admin("key", "create", "--org", "acme"))
			a := writePNG(t, filepath.Join(dir, "a.png"), 7)
			list := fmt.Sprintf("type\tvalue\tcategory\treference\npdq\t%s\tA1\tcase-a\nmd5\t%s\tA1\tcase-a\n", a.PDQ, a.MD5)
			os.WriteFile(filepath.Join(dir, "list.tsv"), []byte(list), 0o600)
			for _, h := range []string{"hotline-de", "hotline-nl"} {
				admin("indicator", "import", "--list", "known", "--org", h, filepath.Join(dir, "list.tsv"))
			}

			m := startMain(t, db, "--metrics-addr", "127.0.0.1:0")
			url, maddr := "http://"+m.Addr(), m.MetricsAddr()
			c, err := client.New(url, key)
			if err != nil {
				t.Fatal(err)
			}

			// A match: one item known, one not.
			mr, err := c.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: a.PDQ.String()}, {MD5: "1930bfa2fb0943e2205b5fdb1d3d422c"}}})
			if err != nil || len(mr.Results[0].Matches) != 1 {
				t.Fatalf("match: %+v %v", mr, err)
			}
			// A report with two files, submitted; another draft
			// retracted; finishing or retracting again counts nothing.
			draft, err := c.CreateReport(ctx, json.RawMessage(reportJSON), "", false)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 2} {
				f, _ := os.Open(filepath.Join(dir, "a.png"))
				if _, err := c.UploadReportFile(ctx, draft.ID, i, f); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			for range 2 {
				if _, err := c.FinishReport(ctx, draft.ID); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.ReportStatus(ctx, draft.ID); err != nil {
				t.Fatal(err)
			}
			other, err := c.CreateReport(ctx, json.RawMessage(reportJSON), "", false)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := c.RetractReport(ctx, other.ID); err != nil {
					t.Fatal(err)
				}
			}
			for _, path := range []string{"/metrics", "/v1/no-such-thing"} {
				resp, err := http.Get(url + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("public listener %s: %d, want 404", path, resp.StatusCode)
				}
			}
			// The metrics listener serves nothing else.
			if resp, err := http.Get("http://" + maddr + "/v1/lists"); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
				t.Errorf("metrics listener /v1/lists: %d, want 404", resp.StatusCode)
			}

			// Triage of the finished report runs in the background.
			var got map[string]float64
			var text string
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				got, text = scrapeMetrics(t, maddr)
				if got[`ward_job_attempts_total{kind="report.triage",outcome="done"}`] == 1 || time.Now().After(deadline) {
					break
				}
			}
			for series, want := range map[string]float64{
				`ward_http_requests_total{code="200",route="POST /v1/match"}`:               1,
				`ward_http_requests_total{code="201",route="POST /v1/reports"}`:             2,
				`ward_http_requests_total{code="200",route="POST /v1/reports/{id}/finish"}`: 2,
				`ward_http_requests_total{code="200",route="GET /v1/reports/{id}"}`:         1,
				`ward_http_requests_total{code="404",route="none"}`:                         2,
				`ward_http_request_duration_seconds_count{route="POST /v1/match"}`:          1,
				`ward_http_request_duration_seconds_count{route="GET /login"}`:              0,
				`ward_index_indicators{list="known"}`:                                       2,
				`ward_intake_reports_total{event="created"}`:                                2,
				`ward_intake_reports_total{event="finished"}`:                               1,
				`ward_intake_reports_total{event="retracted"}`:                              1,
				`ward_intake_files_total`:                                                   2,
				`ward_job_attempts_total{kind="report.triage",outcome="done"}`:              1,
				`ward_jobs{kind="delivery.push",state="dead"}`:                              0,
				`ward_jobs{kind="report.triage",state="running"}`:                           0,
				`ward_deliveries_total{channel="push",outcome="delivered"}`:                 0,
				`ward_decode_budget_bytes`:                                                  1 << 30,
				`ward_decode_in_use_bytes`:                                                  0,
				`ward_decode_refused_total{reason="busy"}`:                                  0,
			} {
				if g, ok := got[series]; !ok || g != want {
					t.Errorf("%s = %v (present: %v), want %v", series, g, ok, want)
				}
			}
			// The API's match and triage's of the report's files.
			for _, series := range []string{`ward_match_items_total{signal="pdq"}`, `ward_match_items_total{signal="md5"}`,
				`ward_match_items_hit_total{signal="pdq"}`, `ward_match_duration_seconds_count{signal="pdq"}`,
				`ward_jobs_oldest_due_age_seconds{kind="report.triage"}`, "go_goroutines", "process_resident_memory_bytes"} {
				if _, ok := got[series]; !ok {
					t.Errorf("no %s", series)
				}
			}
			if got[`ward_match_items_hit_total{signal="pdq"}`] < 1 || got[`ward_match_items_total{signal="md5"}`] < 1 {
				t.Errorf("match counters did not move:\n%s", text)
			}
			for _, id := range []string{draft.ID, other.ID} {
				if strings.Contains(text, id) {
					t.Errorf("a report id in the metrics: %s", id)
				}
			}
		})
	}
}
