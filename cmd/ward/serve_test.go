package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
	wardmirror "github.com/wardhq/ward/internal/matching/mirror"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// ward runs one command line in process, with the server of this package,
// and returns its exit status and outputs.
func ward(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := program.Run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// wardOK runs a command line that must succeed and returns its stdout.
func wardOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := ward(t, "", args...)
	if code != 0 {
		t.Fatalf("ward %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// adminOn returns a runner of "ward admin" commands on the store of flags
// db that must succeed, returning their stdout.
func adminOn(t *testing.T, db []string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		return wardOK(t, append(append([]string{"admin"}, args...), db...)...)
	}
}

// apiCaller returns a caller of base's API: it sends body as JSON with the
// key (none if ""), fails the test unless the status is want, and decodes
// the answer into out if not nil.
func apiCaller(t *testing.T, base string) func(method, path, key string, body any, want int, out any) {
	return func(method, path, key string, body any, want int, out any) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, r)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
}

// startServe starts the server of "ward serve" (Main) in process on a free
// port until the test ends, and returns its base URL once it is ready.
func startServe(t *testing.T, store []string, extra ...string) string {
	t.Helper()
	return "http://" + startMain(t, store, extra...).Addr()
}

// startMain is startServe returning the server, for its other addresses.
func startMain(t *testing.T, store []string, extra ...string) *Main {
	t.Helper()
	stderr := &syncBuffer{}
	args := append(append([]string{"--addr", "127.0.0.1:0", "--poll", "50ms"}, store...), extra...)
	cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: stderr}, args)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, stderr)
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("starting the server: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		select {
		case err := <-m.Failed():
			t.Errorf("the server failed: %v", err)
		default:
		}
		if err := m.Close(); err != nil || strings.Contains(stderr.String(), `"level":"ERROR"`) {
			t.Errorf("closing the server: %v, or it logged errors:\n%s", err, stderr)
		}
	})
	url := "http://" + m.Addr()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return m
			}
		}
		select {
		case err := <-m.Failed():
			t.Fatalf("the server failed: %v\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the server did not become ready:\n%s", stderr)
	return nil
}

func writePNG(t *testing.T, path string, seed uint64) filehash.Result {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(320, 240, seed)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return filehash.Bytes(b.Bytes(), filehash.Options{})
}

func scanMatches(t *testing.T, mirror string, files ...string) map[string]int {
	t.Helper()
	out := wardOK(t, append([]string{"scan", "--mirror", mirror}, files...)...)
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct { // a line of "ward scan"
			Path    string
			Matches []json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad scan line %q: %v", line, err)
		}
		got[filepath.Base(r.Path)] = len(r.Matches)
	}
	return got
}

// engines are the store flags of a fresh database of each kind.
var engines = []struct {
	name  string
	flags func(t *testing.T) []string
}{
	{"sqlite", func(t *testing.T) []string { return []string{"--data", t.TempDir()} }},
	// --data still holds the key files with PostgreSQL.
	{"postgres", func(t *testing.T) []string {
		return []string{"--database", storetest.PostgresURL(t), "--data", t.TempDir()}
	}},
}

// TestEndToEnd is the whole provider story over real HTTP, on both
// engines: two hotlines import lists, only their overlap is active and
// matches, a withdrawal stops matching within a second, and a provider's
// offline mirror follows the withdrawal.
func TestEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			db := engine.flags(t)
			dir := t.TempDir()
			admin := adminOn(t, db)
			admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
			admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
			admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
			keyDE := strings.TrimSpace(admin("key", "create", "--org", "hotline-de"))
			keyProv := strings.TrimSpace(admin("key", "create", "--org", "acme"))

			// Images a, b, c; a and b are in both lists, c only in the
			// German one, d only in the Dutch one.
			img := map[string]filehash.Result{}
			for i, n := range []string{"a", "b", "c", "d"} {
				img[n] = writePNG(t, filepath.Join(dir, n+".png"), uint64(100+i))
			}
			list := func(names ...string) string {
				var b strings.Builder
				b.WriteString("type\tvalue\tcategory\treference\n")
				for _, n := range names {
					fmt.Fprintf(&b, "pdq\t%s\tA1\tcase-%s\nmd5\t%s\tA1\tcase-%s\n", img[n].PDQ, n, img[n].MD5, n)
				}
				return b.String()
			}
			os.WriteFile(filepath.Join(dir, "de.tsv"), []byte(list("a", "b", "c")), 0o600)
			os.WriteFile(filepath.Join(dir, "nl.tsv"), []byte(list("a", "b", "d")), 0o600)
			admin("indicator", "import", "--list", "known", "--org", "hotline-de", filepath.Join(dir, "de.tsv"))
			out := admin("indicator", "import", "--list", "known", "--org", "hotline-nl", filepath.Join(dir, "nl.tsv"))
			if !strings.Contains(out, "4 activated") {
				t.Errorf("second import: %q, want 4 activated", out)
			}
			// Administration on the database directly is in the audit trail.
			trail := admin("audit", "export", "--format", "jsonl")
			for _, action := range []string{"org.add", "key.create", "indicator.import"} {
				if strings.Count(trail, `"action":"`+action+`"`) < 2 {
					t.Errorf("audit trail lacks two %s entries:\n%s", action, trail)
				}
			}

			url := startServe(t, db)
			prov, err := client.New(url, keyProv)
			if err != nil {
				t.Fatal(err)
			}
			matched := func() string {
				var items []client.Item
				for _, n := range []string{"a", "b", "c", "d"} {
					items = append(items, client.Item{ID: n, PDQ: img[n].PDQ.String()})
				}
				mr, err := prov.Match(ctx, client.MatchRequest{Items: items})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range mr.Results {
					if len(r.Matches) > 0 {
						ids = append(ids, r.ID)
					}
				}
				return strings.Join(ids, " ")
			}
			if got := matched(); got != "a b" {
				t.Fatalf("matched %q, want the overlap \"a b\"", got)
			}

			// The CLI matches a file through the same API.
			out = wardOK(t, "match", "--server", url, "--key", keyProv, filepath.Join(dir, "a.png"), filepath.Join(dir, "c.png"))
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], `"distance":0`) || !strings.Contains(lines[1], `"matches":[]`) {
				t.Errorf("ward match:\n%s", out)
			}

			// A provider mirror, then a withdrawal.
			mirror := filepath.Join(dir, "known.mirror")
			syncArgs := []string{"sync", "--server", url, "--key", keyProv, "--list", "known", "--mirror", mirror}
			var sr wardmirror.SyncResult
			json.Unmarshal([]byte(wardOK(t, syncArgs...)), &sr)
			if sr.Active != 4 {
				t.Errorf("mirror holds %d indicators, want 4 (PDQ and MD5 of a and b): %+v", sr.Active, sr)
			}
			if got := scanMatches(t, mirror, filepath.Join(dir, "a.png"), filepath.Join(dir, "c.png")); got["a.png"] != 2 || got["c.png"] != 0 {
				t.Errorf("scan before withdrawal: %v", got)
			}

			de, _ := client.New(url, keyDE)
			mr, err := de.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: img["a"].PDQ.String()}, {MD5: img["a"].MD5}}})
			if err != nil {
				t.Fatal(err)
			}
			withdrawn := time.Now()
			for _, r := range mr.Results {
				if _, err := de.Withdraw(ctx, r.Matches[0].Indicator, "test: withdrawn"); err != nil {
					t.Fatal(err)
				}
			}
			for matched() != "b" {
				if time.Since(withdrawn) > time.Second {
					t.Fatalf("withdrawal not effective within a second: matched %q", matched())
				}
				time.Sleep(10 * time.Millisecond)
			}
			json.Unmarshal([]byte(wardOK(t, syncArgs...)), &sr)
			if sr.Active != 2 || sr.Applied != 2 {
				t.Errorf("mirror after withdrawal: %+v", sr)
			}
			if got := scanMatches(t, mirror, filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")); got["a.png"] != 0 || got["b.png"] != 2 {
				t.Errorf("scan after withdrawal: %v", got)
			}
			// The mirror refuses another list.
			code, _, errs := ward(t, "", "sync", "--server", url, "--key", keyProv, "--list", "other", "--mirror", mirror)
			if code == 0 || !strings.Contains(errs, "another server or list") {
				t.Errorf("sync of another list into the mirror: exit %d %q", code, errs)
			}
		})
	}
}

// startDemo runs "ward serve --demo" on data until stop is called, and
// returns the printed key, server and image once it is ready.
func startDemo(t *testing.T, data string) (key, server, image string, stop func()) {
	t.Helper()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- program.Run(ctx, &cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: stderr},
			[]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--demo"})
	}()
	stop = func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr)
		}
	}
	re := regexp.MustCompile(`try: go run ./cmd/ward match --server (\S+) --key (\S+) (\S+)`)
	var m []string
	for deadline := time.Now().Add(120 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = re.FindStringSubmatch(stderr.String())
	}
	if m == nil {
		stop()
		t.Fatalf("no demo instructions:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "demo provider key (kept in "+filepath.Join(data, "demo", "provider.key")+"): "+m[2]) {
		t.Errorf("the key is not printed with the file keeping it:\n%s", stderr)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(m[1] + "/readyz"); err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("not ready")
		}
	}
	return m[2], m[1], m[3], stop
}

// TestServeDemo: the printed command works as printed, and a demo started
// again reuses its one key, kept in a file only its owner reads, and
// prints it again; a revoked demo key is replaced.
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	key, server, image, stop := startDemo(t, data)
	out := wardOK(t, "match", "--server", server, "--key", key, image)
	if !strings.Contains(out, `"signal":"pdq","distance":0`) {
		t.Errorf("demo match: %s", out)
	}
	stop()
	if fi, err := os.Stat(filepath.Join(data, "demo", "provider.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("demo key file: %v, %v; want mode 0600", fi, err)
	}

	again, server, _, stop := startDemo(t, data)
	if again != key {
		t.Errorf("second start printed key %q, want the first one %q", again, key)
	}
	if out := wardOK(t, "match", "--server", server, "--key", again, image); !strings.Contains(out, `"distance":0`) {
		t.Errorf("demo match after a restart: %s", out)
	}
	stop()
	keys := wardOK(t, "admin", "key", "list", "--org", "demo-provider", "--data", data)
	if n := strings.Count(keys, "\n") - 1; n != 1 {
		t.Errorf("%d demo keys after two starts, want 1:\n%s", n, keys)
	}

	id := strings.Fields(strings.Split(keys, "\n")[1])[0]
	wardOK(t, "admin", "key", "revoke", id, "--data", data)
	third, _, _, stop := startDemo(t, data)
	stop()
	if third == key {
		t.Error("a revoked demo key was printed again")
	}
}

// TestServeBusyPort: a start on an address in use fails saying how to
// choose another, and seeds no demo.
func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	code, _, errs := ward(t, "", "serve", "--demo", "--data", data, "--addr", ln.Addr().String())
	if code != 1 || !strings.Contains(errs, ln.Addr().String()+" is in use") || !strings.Contains(errs, "--addr or WARD_ADDR") {
		t.Errorf("busy port: exit %d, %q", code, errs)
	}
	if orgs := wardOK(t, "admin", "org", "list", "--data", data); strings.Contains(orgs, "demo-") {
		t.Errorf("a start that failed seeded the demo:\n%s", orgs)
	}
	if _, err := os.Stat(filepath.Join(data, "demo")); err == nil {
		t.Error("a start that failed wrote demo files")
	}
}

// TestServeCheckpointFileUnwritable: a checkpoint file that cannot be
// appended to stops the start, naming the file and the flag, rather than
// failing every checkpoint later.
func TestServeCheckpointFileUnwritable(t *testing.T) {
	data := t.TempDir()
	wardOK(t, "admin", "org", "list", "--data", data) // creates DATA/ward.db
	// Under a regular file: no directory entry can be made, even by root.
	file := filepath.Join(data, "ward.db", "audit.checkpoints")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stderr := &syncBuffer{}
	code := program.Run(ctx, &cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: stderr},
		[]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--audit-checkpoint-file", file})
	if code != 1 || !strings.Contains(stderr.String(), file) || !strings.Contains(stderr.String(), "--audit-checkpoint-file") ||
		strings.Contains(stderr.String(), "serving on") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// TestMainClose: the server started on port 0 says its address, and
// Close stops listening and signs a last audit checkpoint of what was done
// while it ran.
func TestMainClose(t *testing.T) {
	data := t.TempDir()
	checkpoints := filepath.Join(data, "audit.checkpoints")
	wardOK(t, "admin", "org", "add", "--name", "acme", "--kind", "provider", "--country", "IE", "--data", data)
	before, _ := os.ReadFile(checkpoints)
	m := startMain(t, []string{"--data", data})
	if _, port, _ := net.SplitHostPort(m.Addr()); port == "0" || m.MetricsAddr() != "" {
		t.Errorf("Addr %q, MetricsAddr %q", m.Addr(), m.MetricsAddr())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(checkpoints); err != nil || len(after) <= len(before) {
		t.Errorf("no checkpoint signed at Close: %v, %d bytes before, %d after", err, len(before), len(after))
	}
	if c, err := net.Dial("tcp", m.Addr()); err == nil {
		c.Close()
		t.Error("still listening after Close")
	}
}

// TestServeRateLimit: a key over its rate gets 429 problem details with
// Retry-After, while the probes stay answered.
func TestServeRateLimit(t *testing.T) {
	db := []string{"--data", t.TempDir()}
	wardOK(t, append([]string{"admin", "org", "add", "--name", "acme", "--kind", "provider", "--country", "IE"}, db...)...)
	key := strings.TrimSpace(wardOK(t, append([]string{"admin", "key", "create", "--org", "acme"}, db...)...))
	url := startServe(t, db, "--rate-key", "1")
	var last *http.Response
	for range 5 {
		req, _ := http.NewRequest("GET", url+"/v1/lists", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || last.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("fifth request in a burst of a 1/s key: %d %v", last.StatusCode, last.Header)
	}
	for range 5 {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("probe limited: %d", resp.StatusCode)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "512MiB": 512 << 20, "100000000": 1e8, "2GB": 2e9, "64KiB": 64 << 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1GiB", "1TiB", "GiB", "1.5GiB", "99999999999GiB"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

// TestServeTakedownFlags: the takedown flow's flags parse, with their
// defaults, and the SMTP URL, which holds a password, is read from the
// environment without ever being shown, not even in the help or a
// usage error.
func TestServeTakedownFlags(t *testing.T) {
	parse := func(args ...string) (Config, string, error) {
		var out, errs syncBuffer
		cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, args)
		return cfg, out.String() + errs.String(), err
	}
	cfg, _, err := parse()
	if err != nil || cfg.RecheckInterval != 6*time.Hour || cfg.RenoticeInterval != 24*time.Hour ||
		cfg.EscalateAfter != 7*24*time.Hour || cfg.ContentRetention != 30*24*time.Hour || cfg.FetchAllowPrivate || cfg.SMTP != nil {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, _, err = parse("--recheck-interval", "10s", "--renotice-interval", "2d", "--escalate-after", "36h", "--fetch-allow-private")
	if err != nil || cfg.RecheckInterval != 10*time.Second || cfg.RenoticeInterval != 48*time.Hour ||
		cfg.EscalateAfter != 36*time.Hour || !cfg.FetchAllowPrivate {
		t.Errorf("given: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"--recheck-interval", "0"}, {"--escalate-after", "soon"}, {"--renotice-interval", "-1h"}} {
		if _, _, err := parse(bad...); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	const secret = "S3cretPassw0rd"
	t.Setenv("WARD_SMTP_URL", "smtp://bob:"+secret+"@mail.example:587?from=ward@centre.example")
	cfg, _, err = parse()
	if err != nil || cfg.SMTP == nil || cfg.SMTP.Password != secret {
		t.Fatalf("$WARD_SMTP_URL: %+v, %v", cfg.SMTP, err)
	}
	for _, args := range [][]string{{"--help"}, {"--nosuchflag"}, {"--smtp-url", "smtp://bob:" + secret + "@mail.example"}} {
		if _, printed, _ := parse(args...); strings.Contains(printed, secret) {
			t.Errorf("%v printed the SMTP password: %s", args, printed)
		}
	}
}

// TestServeQuarantineFlags: the quarantine flags parse, with their
// defaults, days or Go durations for the window, and refuse what would
// quarantine on no evidence or never; the help names them.
func TestServeQuarantineFlags(t *testing.T) {
	parse := func(args ...string) (Config, string, error) {
		var out, errs syncBuffer
		cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, args)
		return cfg, out.String() + errs.String(), err
	}
	cfg, _, err := parse()
	if err != nil || cfg.QuarantineAfter != 2 || cfg.FloodMatches != 1000 || cfg.FloodWindow != time.Hour {
		t.Fatalf("defaults: after %d, flood %d in %v, %v", cfg.QuarantineAfter, cfg.FloodMatches, cfg.FloodWindow, err)
	}
	cfg, _, err = parse("--quarantine-after", "3", "--flood-matches", "50", "--flood-window", "1d")
	if err != nil || cfg.QuarantineAfter != 3 || cfg.FloodMatches != 50 || cfg.FloodWindow != 24*time.Hour {
		t.Errorf("given: after %d, flood %d in %v, %v", cfg.QuarantineAfter, cfg.FloodMatches, cfg.FloodWindow, err)
	}
	if cfg, _, err = parse("--flood-window", "90m"); err != nil || cfg.FloodWindow != 90*time.Minute {
		t.Errorf("--flood-window 90m: %v, %v", cfg.FloodWindow, err)
	}
	for _, bad := range [][]string{{"--quarantine-after", "0"}, {"--flood-matches", "-1"}, {"--flood-window", "0"},
		{"--flood-window", "soon"}} {
		_, printed, err := parse(bad...)
		if !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
		if err != nil && !strings.Contains(err.Error()+printed, bad[0]) {
			t.Errorf("%v: the error %q does not name the flag", bad, err)
		}
	}
	_, help, _ := parse("--help")
	for _, f := range []string{"--quarantine-after", "--flood-matches", "--flood-window", "POST /v1/match-feedback"} {
		if !strings.Contains(help, f) {
			t.Errorf("the help does not mention %s", f)
		}
	}
}

// TestServeComplaintFlags: --complaint-deadline parses days or a Go
// duration, 14 days by default, and refuses anything that is not a positive
// period.
func TestServeComplaintFlags(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		var out, errs syncBuffer
		return parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, args)
	}
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 14 * 24 * time.Hour},
		{[]string{"--complaint-deadline", "7d"}, 7 * 24 * time.Hour},
		{[]string{"--complaint-deadline", "36h"}, 36 * time.Hour},
	} {
		if cfg, err := parse(tc.args...); err != nil || cfg.ComplaintDeadline != tc.want {
			t.Errorf("%v: %v, %v; want %v", tc.args, cfg.ComplaintDeadline, err, tc.want)
		}
	}
	for _, bad := range []string{"0", "-1d", "soon", "1w"} {
		if _, err := parse("--complaint-deadline", bad); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--complaint-deadline") {
			t.Errorf("--complaint-deadline %q: %v, want a usage error naming the flag", bad, err)
		}
	}
}
