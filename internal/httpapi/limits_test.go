package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/store/storetest"
)

// TestFieldErrorsCapped: however many fields are invalid, an answer lists
// the first 100 and counts them all, for the API's own checks and for a
// report's.
func TestFieldErrorsCapped(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	const n = 290000
	for _, tc := range []struct {
		name, path, body string
		count            int
	}{
		// Every item is invalid, and there are too many of them.
		{"match", "/v1/match", `{"items":[` + strings.Repeat(`{},`, n-1) + `{}]}`, n + 1},
		{"report", "/v1/reports", `{"items":[` + strings.Repeat(`1,`, n-1) + `1]}`, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.send(t, http.MethodPost, tc.path, e.keys["provider"], strings.NewReader(tc.body))
			p := a.problem(t, http.StatusBadRequest)
			if len(p.Errors) != 100 || p.ErrorCount < tc.count || len(a.body) > 64<<10 {
				t.Errorf("%d errors listed, error_count %d (want 100 of at least %d), body of %d bytes", len(p.Errors), p.ErrorCount, tc.count, len(a.body))
			}
		})
	}
}
