package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/httpapi"
)

// TestTakedownNotConfigured: a server without the takedown service
// answers its routes, the public one included, with 503 problems rather
// than failing.
func TestTakedownNotConfigured(t *testing.T) {
	api := &httpapi.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	status, h, body := raw(t, "POST", srv.URL+"/v1/public/url-reports", "", `{"url":"https://example.org/"}`)
	if status != http.StatusServiceUnavailable || h.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(body["detail"].(string), "does not run the takedown flow") {
		t.Errorf("%d %v %v", status, h, body)
	}
}
