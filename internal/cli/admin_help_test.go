package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestAdminHelpServices(t *testing.T) {
	dir := keyEnv(t)
	r := adminOK(t, dir, "help-service", "add", "--country", "be", "--language", "FR", "--name", "Child Focus",
		"--url", "https://childfocus.example/fr", "--phone", "116000")
	wantOutput(t, "add", r.stdout, "added help service 1: Child Focus (BE/fr)\n")
	adminOK(t, dir, "help-service", "add", "--country", "BE", "--language", "nl", "--name", "Child Focus NL", "--phone", "+32 2 475 44 11")
	for _, tt := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"no country", []string{"--language", "fr", "--name", "X", "--url", "https://x.example"}, errUsageShown, "--country is required"},
		{"no way to reach it", []string{"--country", "BE", "--language", "fr", "--name", "X"}, errUsageShown, "give --url or --phone"},
		{"bad country", []string{"--country", "Belgium", "--language", "fr", "--name", "X", "--url", "https://x.example"}, core.ErrInvalid, "two-letter ISO 3166-1"},
		{"bad language", []string{"--country", "BE", "--language", "fra", "--name", "X", "--url", "https://x.example"}, core.ErrInvalid, "ISO 639-1"},
		{"plain http", []string{"--country", "BE", "--language", "fr", "--name", "X", "--url", "http://x.example"}, core.ErrInvalid, "https://"},
		{"bad phone", []string{"--country", "BE", "--language", "fr", "--name", "X", "--phone", "ring us"}, core.ErrInvalid, "phone number"},
	} {
		r := runAdminCmd(t, "", false, append(append([]string{"help-service", "add"}, tt.args...), "--data", dir)...)
		msg := r.stderr
		if r.err != nil && !errors.Is(r.err, errUsageShown) {
			msg = r.err.Error()
		}
		if !errors.Is(r.err, tt.err) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %v, %q; want %v saying %q", tt.name, r.err, msg, tt.err, tt.want)
		}
	}
	r = adminOK(t, dir, "help-service", "list")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "Child Focus") ||
		!strings.Contains(lines[1], "https://childfocus.example/fr") || !strings.Contains(lines[2], "+32 2 475 44 11") || !strings.HasSuffix(lines[2], "") {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = adminOK(t, dir, "help-service", "remove", "2")
	wantOutput(t, "remove", r.stdout, "removed help service 2: Child Focus NL (BE/nl)")
	if r := runAdminCmd(t, "", false, "help-service", "remove", "2", "--data", dir); !errors.Is(r.err, core.ErrNotFound) {
		t.Errorf("removed twice: %v", r.err)
	}
	if r := runAdminCmd(t, "", false, "help-service", "remove", "two", "--data", dir); !errors.Is(r.err, errUsageShown) {
		t.Errorf("a bad ID: %v", r.err)
	}
	r = adminOK(t, dir, "help-service", "list")
	if strings.Contains(r.stdout, "Child Focus NL") {
		t.Errorf("list after removal:\n%s", r.stdout)
	}
	db := openData(t, dir)
	if n := storetest.Count(t, db, `SELECT count(*) FROM audit_log WHERE action IN ('helpservice.add', 'helpservice.remove') AND actor = 'admin-cli'`); n != 3 {
		t.Errorf("%d audit entries, want 3", n)
	}
	// The help is true to the flags.
	r = runAdminCmd(t, "", false, "help-service", "add", "--help")
	for _, want := range []string{"--country", "--language", "--name", "--url", "--phone", "https:// URL or a phone number"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("help lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
}
