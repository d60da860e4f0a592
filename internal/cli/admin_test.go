package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// adminRun runs "ward admin args..." in process.
type adminRun struct {
	stdout, stderr string
	err            error
}

func runAdminCmd(t *testing.T, stdin string, terminal bool, args ...string) adminRun {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, StderrIsTerminal: terminal}
	err := adminCommand.Run(t.Context(), e, args)
	return adminRun{out.String(), errOut.String(), err}
}

// adminOK runs "ward admin args..." with --data dir and fails the test
// unless it succeeds.
func adminOK(t *testing.T, dir string, args ...string) adminRun {
	t.Helper()
	r := runAdminCmd(t, "", false, append(args, "--data", dir)...)
	if r.err != nil {
		t.Fatalf("ward admin %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

func wantOutput(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s: %q does not contain %q", what, got, want)
	}
}

func TestAdminOrgsAndKeys(t *testing.T) {
	t.Setenv("WARD_DATABASE_URL", "")
	dir := filepath.Join(t.TempDir(), "data")
	r := adminOK(t, dir, "org", "add", "--name", "Hotline NL", "--kind", "hotline", "--country", "nl")
	wantOutput(t, "org add", r.stdout, `added organisation "Hotline NL": id 1, hotline, NL`)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	adminOK(t, dir, "org", "add", "--name", "BKA", "--kind", "lea", "--country", "DE")

	r = runAdminCmd(t, "", false, "org", "add", "--data", dir, "--name", "BKA", "--kind", "lea", "--country", "DE")
	if !errors.Is(r.err, core.ErrConflict) {
		t.Errorf("duplicate: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "org", "add", "--data", dir, "--name", "X", "--kind", "police", "--country", "DE")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, `unknown organisation kind "police"`) {
		t.Errorf("bad kind: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "org", "add", "--data", dir, "--name", "X", "--kind", "lea")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, "--country is required\nusage: ward admin org add --name NAME") {
		t.Errorf("missing flag: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "org", "add", "--data", dir, "--name", "X", "--kind", "lea", "--country", "EU")
	if !errors.Is(r.err, core.ErrInvalid) {
		t.Errorf("bad country: %v", r.err)
	}

	r = adminOK(t, dir, "org", "list")
	if !regexp.MustCompile(`(?m)^ID +NAME +KIND +COUNTRY +CREATED\n2 +BKA +lea +DE +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n1 +Hotline NL +hotline +NL `).MatchString(r.stdout) {
		t.Errorf("org list:\n%s", r.stdout)
	}

	r = adminOK(t, dir, "key", "create", "--org", "Hotline NL")
	key := strings.TrimSuffix(r.stdout, "\n")
	if !strings.HasPrefix(key, "ward_") || strings.Contains(key, "\n") {
		t.Errorf("key create printed %q", r.stdout)
	}
	wantOutput(t, "key create", r.stderr, "cannot be shown again")
	db, err := store.Open(t.Context(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := org.NewService(db).Authenticate(t.Context(), key)
	db.Close()
	if err != nil || p.OrgName != "Hotline NL" {
		t.Errorf("the printed key authenticates as %+v, %v", p, err)
	}
	r = runAdminCmd(t, "", false, "key", "create", "--data", dir, "--org", "Nobody")
	if r.err == nil || !strings.Contains(r.err.Error(), `no organisation named "Nobody"; create it with 'ward admin org add --name "Nobody"`) {
		t.Errorf("key for an unknown organisation: %v", r.err)
	}
}

// pdqFile is an import file of the PDQ values from..to-1.
func pdqFile(from, to int, sep string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type%svalue%scategory%sreference\n", sep, sep, sep)
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "pdq%s%064x%sA1%scase %d\n", sep, i+1, sep, sep, i)
	}
	return b.String()
}

func TestAdminImport(t *testing.T) {
	t.Setenv("WARD_DATABASE_URL", "")
	dir := t.TempDir()
	adminOK(t, dir, "org", "add", "--name", "Hotline NL", "--kind", "hotline", "--country", "NL")
	adminOK(t, dir, "org", "add", "--name", "BKA", "--kind", "lea", "--country", "DE")
	adminOK(t, dir, "org", "add", "--name", "Provider", "--kind", "provider", "--country", "IE")
	file := filepath.Join(dir, "nl.tsv")
	if err := os.WriteFile(file, []byte(pdqFile(0, 100, "\t")), 0o600); err != nil {
		t.Fatal(err)
	}
	summary := regexp.MustCompile(`^imported (\d+) rows into "known" as "([^"]+)" in [0-9.]+s \(\d+ rows/s\): (\d+) new indicators, (\d+) attested existing ones, (\d+) activated, (\d+) already attested, (\d+) invalid\n$`)
	check := func(what string, r adminRun, want string) {
		t.Helper()
		m := summary.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Errorf("%s: summary %q", what, r.stdout)
			return
		}
		if got := strings.Join(m[1:], " "); got != want {
			t.Errorf("%s: rows org created attested activated unchanged invalid = %s, want %s", what, got, want)
		}
	}

	check("first import", adminOK(t, dir, "indicator", "import", "--org", "Hotline NL", file), "100 Hotline NL 100 0 0 0 0")
	r := runAdminCmd(t, pdqFile(50, 150, ","), true, "indicator", "import", "--data", dir, "--org", "BKA", "-")
	if r.err != nil {
		t.Fatal(r.err)
	}
	check("import from standard input", r, "100 BKA 50 50 50 0 0")
	wantOutput(t, "progress on a terminal", r.stderr, "100 rows, ")
	check("import again", adminOK(t, dir, "indicator", "import", "--org", "Hotline NL", "--list", "known", file), "100 Hotline NL 0 0 0 100 0")

	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(fmt.Sprintf("pdq,%064x,A1\npdq,123,A1\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runAdminCmd(t, "", false, "indicator", "import", "--data", dir, "--org", "BKA", bad)
	if r.err == nil || !strings.Contains(r.err.Error(), "1 invalid rows:\nline 2: a pdq value is 64 hex digits") ||
		!strings.Contains(r.err.Error(), "nothing was imported") || r.stdout != "" {
		t.Errorf("invalid file: %v, %q", r.err, r.stdout)
	}
	r = adminOK(t, dir, "indicator", "import", "--org", "BKA", "--skip-invalid", bad)
	check("skipping invalid rows", r, "2 BKA 1 0 0 0 1")
	wantOutput(t, "skipped rows", r.stderr, "skipped line 2: a pdq value")

	// A file without a single valid row is a mistake, not an import of
	// nothing: an empty file, only a header, or only invalid rows.
	empty := filepath.Join(dir, "empty.tsv")
	headerOnly := filepath.Join(dir, "header.tsv")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(headerOnly, []byte("type\tvalue\tcategory\n# nothing\n\n"), 0o600)
	invalidOnly := filepath.Join(dir, "invalid.csv")
	os.WriteFile(invalidOnly, []byte("pdq,123,A1\n"), 0o600)
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"empty file", "", []string{empty}, "empty.tsv has no indicator rows"},
		{"header only", "", []string{headerOnly}, "header.tsv has no indicator rows"},
		{"empty standard input", "", []string{"-"}, "standard input has no indicator rows"},
		{"empty, skipping invalid rows", "", []string{"--skip-invalid", empty}, "empty.tsv has no indicator rows"},
		{"only invalid rows, skipped", "", []string{"--skip-invalid", invalidOnly}, "none of the 1 rows of " + invalidOnly + " is valid"},
	} {
		r := runAdminCmd(t, tt.stdin, false, append([]string{"indicator", "import", "--data", dir, "--org", "BKA"}, tt.args...)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tt.want) || !strings.Contains(r.err.Error(), "nothing was imported") || r.stdout != "" {
			t.Errorf("%s: %v, %q; want an error saying %q", tt.name, r.err, r.stdout, tt.want)
		}
	}
	if code, _, errs := ward(t, "", "admin", "indicator", "import", "--data", dir, "--org", "BKA", empty); code != 1 || !strings.Contains(errs, "has no indicator rows") {
		t.Errorf("empty file: exit %d, %q; want 1 and the reason", code, errs)
	}

	r = runAdminCmd(t, "", false, "indicator", "import", "--data", dir, "--org", "Provider", file)
	if !errors.Is(r.err, core.ErrForbidden) || !strings.Contains(r.err.Error(), `"Provider" is a provider`) {
		t.Errorf("import by a provider: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "indicator", "import", "--data", dir, "--org", "BKA", "--list", "nope", file)
	if r.err == nil || !strings.Contains(r.err.Error(), `no list named "nope"; create it with 'ward admin list add --name "nope"'`) {
		t.Errorf("unknown list: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "indicator", "import", "--data", dir, "--org", "BKA")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, "give one FILE") {
		t.Errorf("no file: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "indicator", "import", "--data", dir, "--org", "BKA", filepath.Join(dir, "missing.csv"))
	if !errors.Is(r.err, os.ErrNotExist) {
		t.Errorf("missing file: %v", r.err)
	}

	r = adminOK(t, dir, "list", "add", "--name", "national-nl", "--min-attestations", "1", "--distinct-countries=false", "--max-distance", "20")
	wantOutput(t, "list add", r.stdout, `added match list "national-nl": indicators become active with 1 attestations; PDQ matches up to distance 20 by default, 20 at most`)
	r = runAdminCmd(t, "", false, "list", "add", "--data", dir, "--name", "national-nl")
	if !errors.Is(r.err, core.ErrConflict) {
		t.Errorf("duplicate list: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "list", "add", "--data", dir, "--name", "x", "--min-attestations", "0")
	if !errors.Is(r.err, core.ErrInvalid) {
		t.Errorf("invalid list: %v", r.err)
	}
	r = adminOK(t, dir, "indicator", "import", "--org", "Hotline NL", "--list", "national-nl", file)
	wantOutput(t, "import into a one-attestation list", r.stdout, "100 new indicators, 0 attested existing ones, 100 activated")

	db, err := store.Open(t.Context(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lists, err := indicator.NewService(db).Lists(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %d %d, %s %d %d", lists[0].Name, lists[0].Head, lists[0].Active, lists[1].Name, lists[1].Head, lists[1].Active); got != "known 251 50, national-nl 200 100" {
		t.Errorf("lists: %s", got)
	}
}

func TestAdminUsage(t *testing.T) {
	r := runAdminCmd(t, "", false)
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, "indicator import") {
		t.Errorf("no subcommand: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "--help")
	if r.err != nil || !strings.Contains(r.stdout, "org add") || !strings.Contains(r.stdout, "key create") {
		t.Errorf("help: %v, %q", r.err, r.stdout)
	}
	r = runAdminCmd(t, "", false, "org", "frobnicate")
	if !errors.Is(r.err, errUsageShown) || !strings.Contains(r.stderr, `ward admin org: unknown subcommand "frobnicate"`) {
		t.Errorf("unknown subcommand: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "key", "create", "--help")
	if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "usage: ward admin key create --org NAME") ||
		!strings.Contains(r.stderr, "-database URL") {
		t.Errorf("subcommand help: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "org", "list", "--data", t.TempDir(), "extra")
	if !errors.Is(r.err, errUsageShown) {
		t.Errorf("extra argument: %v", r.err)
	}
	r = runAdminCmd(t, "", false, "org", "list", "--database", "ward.db")
	if !errors.Is(r.err, ErrUsage) {
		t.Errorf("--database not a URL: %v", r.err)
	}
}

func TestAdminPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	r := runAdminCmd(t, "", false, "org", "add", "--database", url, "--data", t.TempDir(), "--name", "Centre", "--kind", "centre", "--country", "NL")
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Setenv("WARD_DATABASE_URL", url)
	dir := t.TempDir()
	r = adminOK(t, dir, "org", "list") // --data is ignored when a URL is set
	wantOutput(t, "org list from WARD_DATABASE_URL", r.stdout, "Centre")
	if _, err := os.Stat(filepath.Join(dir, "ward.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an SQLite database was created with WARD_DATABASE_URL set: %v", err)
	}
}

func TestStoreFlagsDescribe(t *testing.T) {
	t.Setenv("WARD_DATABASE_URL", "")
	f := &StoreFlags{data: "d"}
	if got := f.Describe(); got != "sqlite:"+filepath.Join("d", "ward.db") {
		t.Errorf("describe: %q", got)
	}
	f.database = "postgres://ward:secret@db.example/ward"
	if got := f.Describe(); strings.Contains(got, "secret") || !strings.Contains(got, "db.example") {
		t.Errorf("describe shows %q", got)
	}
	if f.DemoDir() != filepath.Join("d", "demo") {
		t.Errorf("demoDir %q", f.DemoDir())
	}
}

func TestAdminHosts(t *testing.T) {
	dir := keyEnv(t)
	r := adminOK(t, dir, "org", "add", "--name", "hoster", "--kind", "host", "--country", "DE",
		"--domains", "Host.example, cdn.host.example", "--ip-ranges", "192.0.2.0/24,2001:db8::1",
		"--notice-email", "abuse@host.example", "--webhook", "https://host.example/notices?token=s3cret")
	if want := `added organisation "hoster": id 1, host, DE
register: domains host.example,cdn.host.example; IP ranges 192.0.2.0/24,2001:db8::1/128; notice e-mail abuse@host.example
`; r.stdout != want {
		t.Errorf("org add --kind host printed\n%s\nwant\n%s", r.stdout, want)
	}
	adminOK(t, dir, "org", "add", "--name", "bare", "--kind", "host", "--country", "SE")
	adminOK(t, dir, "org", "add", "--name", "photos", "--kind", "provider", "--country", "IE")

	for _, tt := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"register flags for another kind", []string{"org", "add", "--name", "x", "--kind", "provider", "--country", "IE", "--domains", "x.example"},
			errUsageShown, "--domains, --ip-ranges and --notice-email are only for --kind host"},
		{"even empty", []string{"org", "add", "--name", "x", "--kind", "lea", "--country", "IE", "--notice-email", ""},
			errUsageShown, "only for --kind host"},
		{"a URL for a domain", []string{"org", "add", "--name", "x", "--kind", "host", "--country", "IE", "--domains", "https://x.example/"},
			core.ErrInvalid, `domains: "https://x.example/" is not a domain name`},
		{"a bad range", []string{"org", "add", "--name", "x", "--kind", "host", "--country", "IE", "--ip-ranges", "192.0.2.0/33"},
			core.ErrInvalid, `ip-ranges: "192.0.2.0/33"`},
		{"a named address", []string{"org", "add", "--name", "x", "--kind", "host", "--country", "IE", "--notice-email", "Abuse <a@x.example>"},
			core.ErrInvalid, "notice-email: "},
		{"set without a flag", []string{"host", "set", "hoster"}, errUsageShown, "give --domains, --ip-ranges or --notice-email"},
		{"set without a name", []string{"host", "set", "--domains", "x.example"}, errUsageShown, "give the host's NAME"},
		{"set a bad domain", []string{"host", "set", "hoster", "--domains", "*.x.example"}, core.ErrInvalid, "no wildcards"},
		{"set a provider", []string{"host", "set", "photos", "--domains", "x.example"}, core.ErrInvalid, `"photos" is a provider, not a host`},
		{"set an unknown host", []string{"host", "set", "nobody", "--domains", "x.example"}, nil, `no organisation named "nobody"`},
	} {
		r := runAdminCmd(t, "", false, append(tt.args, "--data", dir)...)
		msg := r.stderr
		if r.err != nil && !errors.Is(r.err, errUsageShown) {
			msg = r.err.Error()
		}
		if r.err == nil || (tt.err != nil && !errors.Is(r.err, tt.err)) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %v, %q; want %v saying %q", tt.name, r.err, r.stderr, tt.err, tt.want)
		}
	}

	// Only the flags given change; "" clears.
	r = adminOK(t, dir, "host", "set", "hoster", "--ip-ranges", "198.51.100.0/24", "--notice-email", "")
	wantOutput(t, "host set", r.stdout, `host "hoster": domains host.example,cdn.host.example; IP ranges 198.51.100.0/24; notice e-mail -`)
	r = adminOK(t, dir, "host", "set", "bare", "--domains", "bare.example")
	wantOutput(t, "host set of a host without an entry", r.stdout, `host "bare": domains bare.example; IP ranges -; notice e-mail -`)

	r = adminOK(t, dir, "host", "list")
	if !regexp.MustCompile(`(?m)^ID +NAME +COUNTRY +DOMAINS +IP RANGES +NOTICE E-MAIL +WEBHOOK\n2 +bare +SE +bare\.example +- +- +no\n1 +hoster +DE +host\.example,cdn\.host\.example +198\.51\.100\.0/24 +- +yes\n$`).MatchString(r.stdout) {
		t.Errorf("host list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "s3cret") {
		t.Errorf("host list shows the webhook: %s", r.stdout)
	}

	db := openData(t, dir)
	h, err := db.HostByOrg(t.Context(), 1)
	if err != nil || strings.Join(h.Domains, " ") != "host.example cdn.host.example" || joinPrefixes(h.IPRanges) != "198.51.100.0/24" || h.NoticeEmail != "" || !h.HasWebhook {
		t.Errorf("the database holds %+v, %v", h, err)
	}
	entries, err := audit.NewLog(db, nil).List(t.Context(), audit.Filter{})
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Object)
	}
	if want := "org.add org:1,org.add org:2,org.add org:3,host.set org:1,host.set org:2"; err != nil || strings.Join(got, ",") != want {
		t.Errorf("audit trail %q, %v; want %q", got, err, want)
	}
}

func TestAdminLists(t *testing.T) {
	dir := keyEnv(t)
	r := adminOK(t, dir, "list", "add", "--name", "stock", "--kind", "suppress", "--max-distance", "20", "--min-attestations", "1")
	if want := "added suppress list \"stock\": indicators become active with 1 attestations from different countries; suppresses matches of content within PDQ distance 20 (maximum 20)\n"; r.stdout != want {
		t.Errorf("list add --kind suppress printed %q, want %q", r.stdout, want)
	}
	r = adminOK(t, dir, "list", "add", "--name", "wide", "--max-distance", "64", "--threshold", "40")
	wantOutput(t, "list add --threshold", r.stdout, "PDQ matches up to distance 40 by default, 64 at most")

	for _, tt := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"an unknown kind", []string{"list", "add", "--name", "x", "--kind", "allow"}, errUsageShown, `--kind: unknown kind of list "allow" (want match, suppress or unverified)`},
		{"a threshold above the maximum", []string{"list", "add", "--name", "x", "--threshold", "32"}, core.ErrInvalid, "threshold must be 0 to the maximum distance 31, got 32"},
		{"a threshold that is not a number", []string{"list", "add", "--name", "x", "--threshold", "near"}, errUsageShown, `"near" is not a whole number`},
		{"set without a name", []string{"list", "set", "--threshold", "3"}, errUsageShown, "give the list's NAME"},
		{"set without a flag", []string{"list", "set", "stock"}, errUsageShown, "give --threshold or --max-distance"},
		{"set an unknown list", []string{"list", "set", "nope", "--threshold", "3"}, nil, `no list named "nope"; create it with 'ward admin list add --name "nope"'`},
		{"a maximum below the threshold", []string{"list", "set", "known", "--max-distance", "20"}, core.ErrInvalid, "threshold must be 0 to the maximum distance 20, got 31"},
		{"a threshold above the maximum", []string{"list", "set", "stock", "--threshold", "21"}, core.ErrInvalid, "threshold must be 0 to the maximum distance 20, got 21"},
	} {
		r := runAdminCmd(t, "", false, append(tt.args, "--data", dir)...)
		msg := r.stderr
		if r.err != nil && !errors.Is(r.err, errUsageShown) {
			msg = r.err.Error()
		}
		if r.err == nil || (tt.err != nil && !errors.Is(r.err, tt.err)) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %v, %q; want %v saying %q", tt.name, r.err, r.stderr, tt.err, tt.want)
		}
	}

	r = adminOK(t, dir, "list", "set", "stock", "--threshold", "8")
	if want := "suppress list \"stock\": suppresses matches of content within PDQ distance 8 (maximum 20)\n"; r.stdout != want {
		t.Errorf("list set printed %q, want %q", r.stdout, want)
	}
	r = adminOK(t, dir, "list", "set", "known", "--max-distance", "20", "--threshold", "12")
	wantOutput(t, "list set of both", r.stdout, `match list "known": PDQ matches up to distance 12 by default, 20 at most`)

	db := openData(t, dir)
	lists, err := indicator.NewService(db).Lists(t.Context())
	var got []string
	for _, l := range lists {
		got = append(got, fmt.Sprintf("%s %s %d/%d", l.Name, l.Kind, l.Threshold, l.MaxDistance))
	}
	if want := "known match 12/20, stock suppress 8/20, victim-reported unverified 31/31, wide match 40/64"; err != nil || strings.Join(got, ", ") != want {
		t.Errorf("the database holds %q, %v; want %q", got, err, want)
	}
	entries, err := audit.NewLog(db, nil).List(t.Context(), audit.Filter{})
	got = nil
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Object)
	}
	if want := "list.add list:stock,list.add list:wide,list.set list:stock (threshold 8, max distance 20),list.set list:known (threshold 12, max distance 20)"; err != nil || strings.Join(got, ",") != want {
		t.Errorf("audit trail %q, %v; want %q", got, err, want)
	}

	r = runAdminCmd(t, "", false, "list", "set", "--help")
	if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "usage: ward admin list set NAME [--threshold N] [--max-distance D]") ||
		!strings.Contains(r.stderr, "-threshold distance") {
		t.Errorf("list set --help: %v, %q", r.err, r.stderr)
	}
	r = runAdminCmd(t, "", false, "--help")
	if r.err != nil || !strings.Contains(r.stdout, "list set") {
		t.Errorf("admin --help: %v, %q", r.err, r.stdout)
	}
}
