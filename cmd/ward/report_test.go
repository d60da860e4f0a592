package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
)

// reportJSON is a report with items of kind file at indexes 0 and 2.
const reportJSON = `{
  "incident_time": "2026-03-02T21:40:00+01:00",
  "type": "new",
  "items": [
    {"kind": "file", "original_file_name": "a.png", "viewed_by_provider": true},
    {"kind": "hash", "hashes": {"md5": "1930bfa2fb0943e2205b5fdb1d3d422c"}},
    {"kind": "file", "original_file_name": "b.png"}
  ],
  "reported_user": {"id": "u-1", "ip_captures": [{"ip": "203.0.113.7", "port": 51234, "event": "upload"}]},
  "service": {"type": "hosting"},
  "awareness": {"method": "user_report"},
  "urgency": {"urgent": true, "reason": "A meeting with the child is planned."}
}`

// TestReportCLI submits reports with "ward report" to a running server
// and follows them.
func TestReportCLI(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			db := engine.flags(t)
			dir := t.TempDir()
			wardOK(t, append([]string{"admin", "org", "add", "--name", "acme", "--kind", "provider", "--country", "IE"}, db...)...)
			key := strings.TrimSpace(wardOK(t, append([]string{"admin", "key", "create", "--org", "acme"}, db...)...))
			url := startServe(t, db)
			remote := []string{"--server", url, "--key", key}

			path := filepath.Join(dir, "report.json")
			os.WriteFile(path, []byte(reportJSON), 0o600)
			a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
			ha, hb := writePNG(t, a, 1), writePNG(t, b, 2)

			code, _, errs := ward(t, "", append([]string{"report", "submit", path, "--file", a}, remote...)...)
			if code != 2 || !strings.Contains(errs, "2 items of kind file and 1 --file") {
				t.Errorf("submit with one file of two: exit %d %q", code, errs)
			}

			submit := append([]string{"report", "submit", path, "--file", a, "--file", b, "--json"}, remote...)
			var st client.ReportStatus
			if err := json.Unmarshal([]byte(wardOK(t, submit...)), &st); err != nil {
				t.Fatal(err)
			}
			if st.State != client.ReportReceived || len(st.Files) != 2 || st.Files[0].Index != 0 || st.Files[1].Index != 2 ||
				st.Files[0].SHA256 != ha.SHA256 || st.Files[1].PDQ != hb.PDQ.String() {
				t.Fatalf("submitted %+v", st)
			}
			// Again: the same report, not a second one.
			var again client.ReportStatus
			json.Unmarshal([]byte(wardOK(t, submit...)), &again)
			if again.ID != st.ID || again.State != client.ReportReceived {
				t.Errorf("submitted again: %+v, want report %s", again, st.ID)
			}

			out := wardOK(t, append([]string{"report", "status", st.ID}, remote...)...)
			for _, want := range []string{st.ID, "received", ha.SHA256, "file 2", "history"} {
				if !strings.Contains(out, want) {
					t.Errorf("status lacks %q:\n%s", want, out)
				}
			}

			// A report of hashes only, from standard input, with a key.
			hashOnly := `{"incident_time":"2026-03-01T09:14:00Z","type":"known","items":[{"kind":"hash","hashes":{"md5":"1930bfa2fb0943e2205b5fdb1d3d422c"}}],
				"service":{"type":"hosting"},"awareness":{"method":"automated_match"}}`
			code, out, errs = ward(t, hashOnly, append([]string{"report", "submit", "-", "--idempotency-key", "acme-4711"}, remote...)...)
			if code != 0 || !strings.Contains(out, "received") {
				t.Errorf("hash-only submit: exit %d %q %q", code, out, errs)
			}

			// An invalid report: the server's errors, all of them.
			code, _, errs = ward(t, `{"type":"old","items":[]}`, append([]string{"report", "submit", "-"}, remote...)...)
			if code != 1 || !strings.Contains(errs, "/type") || !strings.Contains(errs, "/incident_time") {
				t.Errorf("invalid submit: exit %d %q", code, errs)
			}

			// Retraction is for drafts.
			c, err := client.New(url, key)
			if err != nil {
				t.Fatal(err)
			}
			draft, err := c.CreateReport(context.Background(), json.RawMessage(reportJSON), "", false)
			if err != nil {
				t.Fatal(err)
			}
			if out := wardOK(t, append([]string{"report", "retract", draft.ID}, remote...)...); !strings.Contains(out, "retracted") {
				t.Errorf("retract: %q", out)
			}
			code, _, errs = ward(t, "", append([]string{"report", "retract", st.ID}, remote...)...)
			if code != 1 || !strings.Contains(errs, "409") {
				t.Errorf("retract of a finished report: exit %d %q", code, errs)
			}

			// The centre has asked nothing.
			code, _, errs = ward(t, "", append([]string{"report", "answer", st.ID, "--message", "here it is"}, remote...)...)
			if code != 1 || !strings.Contains(errs, "409") {
				t.Errorf("answer unasked: exit %d %q", code, errs)
			}
			if code, _, errs := ward(t, "", append([]string{"report", "answer", st.ID}, remote...)...); code != 2 || !strings.Contains(errs, "--message") {
				t.Errorf("answer without a message: exit %d %q", code, errs)
			}
		})
	}
}

func TestReportCLIHelp(t *testing.T) {
	for _, sub := range []string{"submit", "status", "retract", "answer"} {
		code, _, errs := ward(t, "", "report", sub, "--help")
		if code != 0 || !strings.Contains(errs, "usage: ward report "+sub) || !strings.Contains(errs, "-server") {
			t.Errorf("ward report %s --help: exit %d %q", sub, code, errs)
		}
	}
	if out := wardOK(t, "report", "--help"); !strings.Contains(out, "answer") {
		t.Errorf("ward report --help: %q", out)
	}
	if code, _, _ := ward(t, "", "report", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
	code, _, errs := ward(t, "", "report", "status", "--server", "", "--key", "", "ID")
	if code != 2 || !strings.Contains(errs, "--server URL") {
		t.Errorf("without a server: exit %d %q", code, errs)
	}
}
