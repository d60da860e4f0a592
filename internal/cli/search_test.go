package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/core"
)

func TestAdminSearch(t *testing.T) {
	dir := keyEnv(t)
	r := adminOK(t, dir, "search", "add", "https://Site.example/start#top", "--depth", "1", "--max-pages", "20")
	wantOutput(t, "search add", r.stdout, "search place 1: https://site.example/start, depth 1, at most 20 pages, every 1d\n")
	r = adminOK(t, dir, "search", "add", "http://other.example/", "--depth", "0", "--max-pages", "1", "--every", "12h")
	wantOutput(t, "search add --every", r.stdout, "search place 2: http://other.example/, depth 0, at most 1 page, every 12h\n")

	for _, tt := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"no URL", []string{"search", "add", "--depth", "1", "--max-pages", "2"}, errUsageShown, "give the place's URL"},
		{"no depth", []string{"search", "add", "https://x.example/", "--max-pages", "2"}, errUsageShown, "--depth and --max-pages are required"},
		{"no max", []string{"search", "add", "https://x.example/", "--depth", "2"}, errUsageShown, "--depth and --max-pages are required"},
		{"too deep", []string{"search", "add", "https://x.example/", "--depth", "6", "--max-pages", "2"}, core.ErrInvalid, "the depth must be 0 to 5"},
		{"too many", []string{"search", "add", "https://x.example/", "--depth", "1", "--max-pages", "10001"}, core.ErrInvalid, "1 to 10000"},
		{"too often", []string{"search", "add", "https://x.example/", "--depth", "1", "--max-pages", "2", "--every", "10m"}, core.ErrInvalid, "at most every hour"},
		{"bad every", []string{"search", "add", "https://x.example/", "--depth", "1", "--max-pages", "2", "--every", "often"}, errUsageShown, "--every"},
		{"not http", []string{"search", "add", "ftp://x.example/", "--depth", "1", "--max-pages", "2"}, core.ErrInvalid, "absolute http or https URL"},
		{"remove no ID", []string{"search", "remove"}, errUsageShown, "give the place's ID"},
		{"remove a name", []string{"search", "remove", "one"}, errUsageShown, `is a number, not "one"`},
		{"remove unknown", []string{"search", "remove", "9"}, core.ErrNotFound, "no search place 9"},
		{"run unknown", []string{"search", "run", "9"}, core.ErrNotFound, "no search place 9"},
	} {
		r := runAdminCmd(t, "", false, append(tt.args, "--data", dir)...)
		msg := r.stderr
		if r.err != nil && !errors.Is(r.err, errUsageShown) {
			msg = r.err.Error()
		}
		if r.err == nil || !errors.Is(r.err, tt.err) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %v, %q; want %v saying %q", tt.name, r.err, msg, tt.err, tt.want)
		}
	}

	r = adminOK(t, dir, "search", "run", "2")
	wantOutput(t, "search run", r.stdout, "search place 2 queued to run\n")
	r = adminOK(t, dir, "search", "remove", "1")
	wantOutput(t, "search remove", r.stdout, "search place 1 removed\n")
	r = adminOK(t, dir, "search", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "CASES") ||
		!strings.HasPrefix(lines[1], "2 ") || !strings.Contains(lines[1], "http://other.example/") || !strings.Contains(lines[1], "never") {
		t.Errorf("search list:\n%s", r.stdout)
	}
	// The changes are in the audit trail, which still verifies.
	adminOK(t, dir, "audit", "verify")
	r = adminOK(t, dir, "audit", "export", "--format", "jsonl")
	for _, action := range []string{"search.place.add", "search.place.run", "search.place.remove"} {
		wantOutput(t, "audit export", r.stdout, action)
	}
}
