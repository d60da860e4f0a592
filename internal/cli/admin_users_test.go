package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
)

func TestAdminKeyScopesAndRevocation(t *testing.T) {
	t.Setenv("WARD_DATABASE_URL", "")
	dir := t.TempDir()
	adminOK(t, dir, "org", "add", "--name", "Provider", "--kind", "provider", "--country", "IE")

	r := adminOK(t, dir, "key", "create", "--org", "Provider", "--scope", "match,lists.read", "--expires", "90d")
	scoped := strings.TrimSuffix(r.stdout, "\n")
	wantOutput(t, "scoped key", r.stderr, "(scopes lists.read,match, expires ")
	r = adminOK(t, dir, "key", "create", "--org", "Provider", "--expires", "2099-01-01")
	dated := strings.TrimSuffix(r.stdout, "\n")
	wantOutput(t, "dated key", r.stderr, "(all actions of its organisation, expires 2099-01-01T00:00:00Z)")

	r = runAdminCmd(t, "", false, "key", "create", "--data", dir, "--org", "Provider", "--scope", "indicators.submit")
	if !errors.Is(r.err, core.ErrInvalid) || !strings.Contains(r.err.Error(), "API keys of provider organisations cannot do indicators.submit") {
		t.Errorf("scope the kind lacks: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "key", "create", "--data", dir, "--org", "Provider", "--expires", "soon")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, "--expires") {
		t.Errorf("bad --expires: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "key", "create", "--data", dir, "--org", "Provider", "--expires", "2001-01-01")
	if !errors.Is(r.err, core.ErrInvalid) {
		t.Errorf("expiry in the past: %v", r.err)
	}

	db, err := store.Open(t.Context(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := org.NewService(db).Authenticate(t.Context(), scoped)
	db.Close()
	if err != nil || strings.Join(p.Scopes, ",") != "lists.read,match" {
		t.Fatalf("the scoped key authenticates as %+v, %v", p, err)
	}
	scopedID, datedID := scoped[5:21], dated[5:21]

	r = adminOK(t, dir, "key", "revoke", datedID)
	wantOutput(t, "key revoke", r.stdout, "revoked API key "+datedID)
	r = runAdminCmd(t, "", false, "key", "revoke", "--data", dir, "0123456789abcdef")
	if !errors.Is(r.err, core.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "key", "revoke", "--data", dir)
	if !errors.Is(r.err, errUsageShown) {
		t.Errorf("revoke without KEYID: %v", r.err)
	}

	r = adminOK(t, dir, "key", "list", "--org", "Provider")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 ||
		!regexp.MustCompile(`^ID +STATE +SCOPES +CREATED +EXPIRES +REVOKED$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^`+scopedID+` +active +lists\.read,match +\S+ \S+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +-$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+datedID+` +revoked +all +\S+ \S+ +2099-01-01 00:00:00 +\d{4}-`).MatchString(lines[2]) {
		t.Errorf("key list:\n%s", r.stdout)
	}

	db, err = store.Open(t.Context(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := org.NewService(db).Authenticate(t.Context(), dated); !errors.Is(err, org.ErrBadKey) {
		t.Errorf("the revoked key: %v, want ErrBadKey", err)
	}
}

// TestBaseURLDefault: enrolment links point where ward serve listens,
// WARD_ADDR included, unless the base URL is given.
func TestBaseURLDefault(t *testing.T) {
	for _, tc := range []struct{ base, addr, flag, want string }{
		{"", "", "", "http://127.0.0.1:8080"},
		{"", "127.0.0.1:9191", "", "http://127.0.0.1:9191"},
		{"https://ward.example", "127.0.0.1:9191", "", "https://ward.example"},
		{"", "127.0.0.1:9191", "https://flag.example", "https://flag.example"},
	} {
		t.Setenv("WARD_BASE_URL", tc.base)
		t.Setenv("WARD_ADDR", tc.addr)
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		got := baseURLFlag(fs)
		var args []string
		if tc.flag != "" {
			args = []string{"--base-url", tc.flag}
		}
		if err := fs.Parse(args); err != nil || *got != tc.want {
			t.Errorf("WARD_BASE_URL=%q WARD_ADDR=%q %v: %q, %v; want %q", tc.base, tc.addr, args, *got, err, tc.want)
		}
	}
}

func TestAdminUsers(t *testing.T) {
	t.Setenv("WARD_DATABASE_URL", "")
	t.Setenv("WARD_MASTER_KEY", "")
	t.Setenv("WARD_BASE_URL", "")
	t.Setenv("WARD_ADDR", "")
	dir := t.TempDir()
	link := regexp.MustCompile(`^(\S+)/enrol/([A-Za-z0-9_-]{43})\n$`)

	r := adminOK(t, dir, "init", "--email", "Admin@Example.org")
	m := link.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != "http://127.0.0.1:8080" {
		t.Fatalf("init printed %q", r.stdout)
	}
	wantOutput(t, "init", r.stderr, `Created the centre's organisation "centre" (BE).`)
	wantOutput(t, "init", r.stderr, "Added admin@example.org (admin of \"centre\")")
	adminToken := m[2]

	r = runAdminCmd(t, "", false, "init", "--data", dir, "--email", "second@example.org")
	if r.err == nil || !strings.Contains(r.err.Error(), `"centre" has an administrator already (admin@example.org)`) {
		t.Errorf("second init: %v", r.err)
	}
	adminOK(t, dir, "org", "add", "--name", "Hotline NL", "--kind", "hotline", "--country", "NL")
	r = runAdminCmd(t, "", false, "init", "--data", dir, "--email", "x@example.org", "--org", "Hotline NL")
	if r.err == nil || !strings.Contains(r.err.Error(), `"Hotline NL" is a hotline organisation, not the centre`) {
		t.Errorf("init naming a hotline: %v", r.err)
	}

	t.Setenv("WARD_BASE_URL", "https://ward.example.org/console/")
	r = adminOK(t, dir, "user", "add", "--org", "Hotline NL", "--role", "analyst", "ana@example.org")
	if m = link.FindStringSubmatch(r.stdout); m == nil || m[1] != "https://ward.example.org/console" {
		t.Errorf("user add printed %q, want a link under $WARD_BASE_URL", r.stdout)
	}
	anaToken := m[2]
	r = adminOK(t, dir, "user", "add", "--org", "centre", "--role", "auditor", "--base-url", "https://other.example", "aud@example.org")
	if m = link.FindStringSubmatch(r.stdout); m == nil || m[1] != "https://other.example" {
		t.Errorf("user add --base-url printed %q", r.stdout)
	}

	for _, tc := range []struct {
		args []string
		want error
		msg  string
	}{
		{[]string{"--org", "Hotline NL", "--role", "admin", "x@example.org"}, core.ErrInvalid, "the role admin is for centre organisations"},
		{[]string{"--org", "Hotline NL", "--role", "analyst", "ANA@example.org"}, core.ErrConflict, "exists already"},
		{[]string{"--org", "Hotline NL", "--role", "analyst", "not-an-address"}, core.ErrInvalid, "not an e-mail address"},
		{[]string{"--org", "Nobody", "--role", "analyst", "y@example.org"}, nil, `no organisation named "Nobody"`},
	} {
		r := runAdminCmd(t, "", false, append([]string{"user", "add", "--data", dir}, tc.args...)...)
		if r.err == nil || (tc.want != nil && !errors.Is(r.err, tc.want)) || !strings.Contains(r.err.Error(), tc.msg) {
			t.Errorf("user add %q: %v, want %v saying %q", tc.args, r.err, tc.want, tc.msg)
		}
	}
	r = runAdminCmd(t, "", false, "user", "add", "--data", dir, "--org", "centre", "--role", "boss", "z@example.org")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, `unknown role "boss"`) {
		t.Errorf("unknown role: %v, %q", r.err, r.stderr)
	}

	// The links work: they name the users added.
	db, err := store.Open(t.Context(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.LoadKeyring(filepath.Join(dir, "master.keys"))
	if err != nil {
		t.Fatal(err)
	}
	users := auth.NewService(db, seal.NewSealer(keys, db))
	for token, want := range map[string]string{adminToken: "admin@example.org admin centre", anaToken: "ana@example.org analyst Hotline NL"} {
		u, _, _, err := users.BeginEnrolment(t.Context(), token)
		if got := fmt.Sprintf("%s %s %s", u.Email, u.Role, u.OrgName); err != nil || got != want {
			t.Errorf("enrolment link of %s: %s, %v", want, got, err)
		}
	}
	// A lock left in the database by an older version is not shown:
	// lockouts are kept in memory by the server now, so no list could
	// show one that holds.
	err = db.ReadWrite(t.Context(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE users SET enrolled_at = $1, locked_until = $2, failed_logins = 5 WHERE role = 'auditor'`,
			time.Now().UTC(), time.Now().Add(time.Hour).UTC())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	r = adminOK(t, dir, "user", "disable", "Ana@example.org")
	wantOutput(t, "user disable", r.stdout, `disabled ana@example.org (analyst of "Hotline NL")`)
	r = runAdminCmd(t, "", false, "user", "disable", "--data", dir, "nobody@example.org")
	if !errors.Is(r.err, core.ErrNotFound) {
		t.Errorf("disabling an unknown user: %v", r.err)
	}

	r = adminOK(t, dir, "user", "list")
	if !regexp.MustCompile(`^ID +EMAIL +ORGANISATION +ROLE +STATE +CREATED\n` +
		`\d+ +ana@example\.org +Hotline NL +analyst +disabled +\S+ \S+\n` +
		`\d+ +admin@example\.org +centre +admin +enrolling +\S+ \S+\n` +
		`\d+ +aud@example\.org +centre +auditor +active +\S+ \S+\n$`).MatchString(r.stdout) {
		t.Errorf("user list:\n%s", r.stdout)
	}
	r = adminOK(t, dir, "user", "list", "--org", "Hotline NL")
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "ana@example.org") {
		t.Errorf("user list --org:\n%s", r.stdout)
	}
}
