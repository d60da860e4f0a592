package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
)

// TestServeStatistics: the server rolls the statistics up by itself
// (--statistics-interval) and publishes what happened, as JSON and on the
// page, without the reported user's data.
func TestServeStatistics(t *testing.T) {
	db := []string{"--data", t.TempDir()}
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	key := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	base := startServe(t, db, "--statistics-interval", "100ms")

	img := filepath.Join(t.TempDir(), "upload.png")
	writePNG(t, img, 7)
	wardOK(t, "report", "submit", "--file", img, filepath.Join("..", "..", "docs", "examples", "report.json"), "--server", base, "--key", key)
	anyone, err := client.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anyone.ReportURL(context.Background(), client.URLReport{URL: "https://files.example/page", Contact: "reporter@example.org"}); err != nil {
		t.Fatal(err)
	}
	var st *client.Statistics
	for deadline := time.Now().Add(20 * time.Second); ; {
		if st, err = anyone.Statistics(context.Background(), "", ""); err != nil {
			t.Fatal(err)
		}
		if st.Reports.Received == 1 && st.Takedown.URLsReported == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Reports.Received != 1 || st.Reports.ByProvider["acme"] != 1 || st.Reports.ByType["new"] != 1 || st.Takedown.URLsReported != 1 {
		t.Fatalf("statistics %+v", st)
	}
	resp, err := http.Get(base + "/transparency")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<strong id="reports-received">1</strong>`) ||
		!strings.Contains(string(body), `<strong id="takedown-urls">1</strong>`) {
		t.Errorf("page: %d\n%s", resp.StatusCode, body)
	}
	for _, personal := range []string{"someone", "u-1234", "10.1.2.3", "reporter@example.org"} {
		if strings.Contains(string(body), personal) {
			t.Errorf("the page shows %q", personal)
		}
	}
}
