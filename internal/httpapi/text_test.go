package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/report"
)

// stored counts the rows of every table a request could write to, so
// that a refused request is seen to store nothing.
func stored(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		for _, table := range []string{"indicators", "attestations", "changes", "reports", "report_files",
			"report_events", "report_content", "deliveries", "feedback", "audit_log", "data_keys"} {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s=%d ", table, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTextFieldsRefused sends each endpoint that takes text a NUL, invalid
// UTF-8, a control character, a bidirectional override and escapes of
// unpaired UTF-16 surrogates in a field: the
// answer is 400 naming the field, on both engines alike, and nothing is
// stored.
func TestTextFieldsRefused(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		leaOrgs(t, e)
		r := rand.New(rand.NewPCG(3, 3))
		h := randomPDQ(r)
		for _, name := range []string{"hotline-de", "hotline-nl"} {
			if _, err := e.client(t, name).Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{{Type: client.PDQ, Value: h, Category: "A1"}}}); err != nil {
				t.Fatal(err)
			}
		}
		prov := e.keys["provider"]
		asked := e.send(t, "POST", "/v1/reports?finish=true", prov, jsonOf(t, hashDraft(1))).report(t, http.StatusCreated).ID
		e.handle(t, asked, report.StateInfoRequested,
			report.Event{Kind: report.EventInfoRequested, At: time.Now(), Actor: audit.System, Detail: []byte("Which IP address?")})
		routed := routedReport(t, e, "192.0.2.1")

		// Each body has X where the bad text goes.
		for _, ep := range []struct {
			method, path, key, body, pointer string
		}{
			{"POST", "/v1/match", prov, `{"items":[{"id":"X","pdq":"` + h + `"}]}`, "/items/0/id"},
			{"POST", "/v1/indicators", e.keys["hotline-de"], `{"list":"known","items":[{"type":"pdq","value":"` + randomPDQ(r) + `","category":"A1","reference":"case X"}]}`, "/items/0/reference"},
			{"POST", "/v1/indicators/1/withdraw", e.keys["hotline-de"], `{"reason":"wrong X"}`, "/reason"},
			{"POST", "/v1/reports?finish=true", prov, `{"incident_time":"2024-05-01T10:00:00Z","type":"known","items":[{"kind":"hash","hashes":{"md5":"d41d8cd98f00b204e9800998ecf8427e"}}],` +
				`"service":{"type":"hosting"},"awareness":{"method":"moderator"},"additional_info":"seen X"}`, "/additional_info"},
			{"POST", "/v1/reports/" + asked + "/info", prov, `{"message":"from X"}`, "/message"},
			{"POST", "/v1/lea/reports/" + routed + "/feedback", e.keys["europol"], `{"outcome":"investigating","note":"X"}`, "/note"},
		} {
			for _, bad := range []struct{ name, json string }{
				{"NUL", `\u0000`}, {"invalid UTF-8", "\xff\xfe"}, {"control", `\u0001`}, {"bidi override", `\u202e`},
				// Unpaired UTF-16 surrogates, which decoding would turn
				// into U+FFFD.
				{"lone high surrogate", `\ud800`}, {"high surrogate before a letter", `\uD83Dx`},
				{"high surrogate before a high one", `\ud83d\ud83d`}, {"lone low surrogate", `\udc00`},
				{"low surrogate before a high one", `\ude00\ud83d`},
			} {
				t.Run(ep.path+" "+bad.name, func(t *testing.T) {
					before := stored(t, e.db)
					a := e.send(t, ep.method, ep.path, ep.key, strings.NewReader(strings.Replace(ep.body, "X", bad.json, 1)))
					p := a.problem(t, http.StatusBadRequest)
					if len(p.Errors) != 1 || p.Errors[0].Pointer != ep.pointer {
						t.Errorf("errors %+v, want one for %s", p.Errors, ep.pointer)
					}
					if after := stored(t, e.db); after != before {
						t.Errorf("stored something:\n before %s\n after  %s", before, after)
					}
				})
			}
			// The same body with good text is accepted.
			if a := e.send(t, ep.method, ep.path, ep.key, strings.NewReader(strings.Replace(ep.body, "X", `ok é \ud83d\ude00 \\ud800`, 1))); a.status >= 300 {
				t.Errorf("%s with good text: %d %s", ep.path, a.status, a.body)
			}
		}
	})
}
