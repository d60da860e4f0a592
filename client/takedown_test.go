package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestURLReportKeys: a public report carries no key, even from a client
// that has one, and is sent once even when the server is busy; a
// hotline's carries its key.
func TestURLReportKeys(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.URL.Path+" "+r.Header.Get("Authorization"))
		var in URLReport
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.URL != "https://example.org/a" {
			t.Errorf("body %+v %v", in, err)
		}
		if len(auth) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(URLReceipt{ID: "c1", Receipt: "r"})
	}))
	defer srv.Close()
	c, err := New(srv.URL, "ward_key")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ReportURL(ctx, URLReport{URL: "https://example.org/a"}); err == nil {
		t.Error("a 503 was not returned: the report was retried")
	}
	rc, err := c.ReportURL(ctx, URLReport{URL: "https://example.org/a"})
	if err != nil || rc.ID != "c1" {
		t.Fatalf("%+v %v", rc, err)
	}
	if _, err := c.SubmitURL(ctx, URLReport{URL: "https://example.org/a"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"/v1/public/url-reports ", "/v1/public/url-reports ", "/v1/hotline/url-reports Bearer ward_key"}
	if len(auth) != len(want) {
		t.Fatalf("requests %q, want %q", auth, want)
	}
	for i := range want {
		if auth[i] != want[i] {
			t.Errorf("request %d: %q, want %q", i, auth[i], want[i])
		}
	}
	if c.key != "ward_key" {
		t.Error("ReportURL changed the client's key")
	}
}
