package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchIntake runs "ward bench intake" on a server started in process
// (startBenchServer), and checks that both kinds of report got through.
func TestBenchIntake(t *testing.T) {
	code, out, errs := ward(t, "", "bench", "intake", "--reports", "10", "--concurrency", "2", "--file-size", "1000", "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []struct {
		kind    string
		reports int
	}{{"hash-only", 10}, {"with-file", 1}} {
		var r struct {
			Kind, Engine    string
			Reports, Errors int
			Triaged         float64 `json:"triaged_per_s"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != want.kind || r.Engine != "sqlite" || r.Reports != want.reports || r.Errors != 0 || r.Triaged <= 0 {
			t.Errorf("line %d: %s, want %d %s reports on sqlite, none failed, a triage rate", i, lines[i], want.reports, want.kind)
		}
	}
}
