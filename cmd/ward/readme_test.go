package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

// readmeBlock is one shell code block of README.md: its commands, one a
// line, with their trailing comments removed.
type readmeBlock struct {
	section  string
	commands []string
	// outputs holds, by command, the comment lines right below it: what
	// the README says it prints, with … for what varies.
	outputs map[int][]string
}

// readmeBlocks returns the ```sh blocks of README.md under each "## "
// section.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var section string
	var cur *readmeBlock
	comment := regexp.MustCompile(`\s+#\s.*$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && line == "```sh":
			cur = &readmeBlock{section: section, outputs: map[int][]string{}}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil && strings.HasPrefix(line, "# ") && len(cur.commands) > 0:
			i := len(cur.commands) - 1
			cur.outputs[i] = append(cur.outputs[i], strings.TrimPrefix(line, "# "))
		case cur != nil && line != "" && !strings.HasPrefix(line, "#"):
			cur.commands = append(cur.commands, comment.ReplaceAllString(line, ""))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestReadme runs the README's "Five minutes" as written, on both engines:
// every command of its shell blocks in a directory holding what a fresh
// clone has (docs/examples), with "go run ./cmd/ward" the built binary and
// the placeholders (ward_…, <provider key>, <bka key>, 4KZ…) what earlier
// commands printed. Each must exit 0, and the key outputs must be there: a
// match, import counts, a report id, the report in the authority's inbox,
// its status forwarded. The one step done in a browser, the analyst's
// decision to forward, is made by the triage service the console calls.
// The commands of "Two commands" and "Benchmarks" are checked to parse.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ward and runs the README's commands")
	}
	blocks := readmeBlocks(t)
	var five []string
	outputs := map[int][]string{}
	for _, b := range blocks {
		if strings.HasPrefix(b.section, "Five minutes") {
			for i, c := range b.commands {
				outputs[len(five)] = b.outputs[i]
				five = append(five, c)
			}
		}
	}
	if len(five) < 25 {
		t.Fatalf("only %d commands in the README's five minutes", len(five))
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			env := map[string]string{}
			if engine == "postgres" {
				env["WARD_DATABASE_URL"] = storetest.PostgresURL(t)
			}
			readmeFiveMinutes(t, five, outputs, env)
		})
	}
	t.Run("other commands parse", func(t *testing.T) {
		bin, err := buildWard()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range blocks {
			if strings.HasPrefix(b.section, "Five minutes") {
				continue
			}
			for _, c := range b.commands {
				args, ok := strings.CutPrefix(c, "go run ./cmd/ward ")
				if !ok {
					if !strings.HasPrefix(c, "go test ") {
						t.Errorf("README command %q is neither ward nor go test", c)
					}
					continue
				}
				// --help after the README's flags: they must exist, and
				// nothing runs.
				out, err := exec.Command(bin, append(strings.Fields(args), "--help")...).CombinedOutput()
				if err != nil {
					t.Errorf("README command %q: %v\n%s", c, err, out)
				}
				n++
			}
		}
		if n < 5 {
			t.Errorf("only %d ward commands outside the five minutes", n)
		}
	})
}

func readmeFiveMinutes(t *testing.T, commands []string, outputs map[int][]string, env map[string]string) {
	bin, err := buildWard()
	if err != nil {
		t.Fatal(err)
	}
	// What a fresh clone has that the commands use.
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "docs", "examples"), os.DirFS(filepath.Join("..", "..", "docs", "examples"))); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env["WARD_ADDR"] = addr // the README's 127.0.0.1:8080 may be in use
	subst := map[string]string{"go run ./cmd/ward": bin, "http://127.0.0.1:8080": "http://" + addr}
	replace := func(s string) string {
		for k, v := range subst {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	environ := func() []string {
		e := os.Environ()
		for k, v := range env {
			e = append(e, k+"="+v)
		}
		return e
	}
	sh := func(line string) (string, error) {
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir, cmd.Env = dir, environ()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var (
		reportID  string
		forwarded bool
		imports   int
		seen      = map[string]bool{}
	)
	// Each output line the README shows must be a line of what the
	// command printed, … standing for anything.
	printed := func(c, out string, want []string) {
		for _, w := range want {
			// Programs print "go run ./cmd/ward" as the README does; a
			// report id the command itself prints is not known yet.
			expect := w
			for k, v := range subst {
				if k != "go run ./cmd/ward" {
					expect = strings.ReplaceAll(expect, k, v)
				}
			}
			expect = strings.ReplaceAll(expect, "4KZ…", "…")
			pattern := regexp.QuoteMeta(expect)
			pattern = strings.ReplaceAll(pattern, "…", ".*")
			pattern = regexp.MustCompile(` +`).ReplaceAllString(pattern, `\s+`)
			if !regexp.MustCompile("(?m)^" + pattern + "$").MatchString(out) {
				t.Errorf("%s: the README says it prints\n\t%s\nbut it printed:\n%s", c, w, out)
			}
		}
	}
	for i, c := range commands {
		line := replace(c)
		for _, p := range []string{"ward_…", "<provider key>", "<bka key>", "4KZ…"} {
			if strings.Contains(line, p) {
				t.Fatalf("%q: no value yet for %s", c, p)
			}
		}
		switch {
		case strings.HasSuffix(c, " serve --demo"):
			key, out := readmeServe(t, line, dir, environ(), addr)
			subst["ward_…"], subst["<provider key>"] = key, key
			printed(c, out, outputs[i])
			seen["serve"] = true
			continue
		case strings.HasPrefix(c, "export "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "export ")) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			continue
		case strings.Contains(c, "lea inbox") && !forwarded:
			readmeForward(t, dir, env["WARD_DATABASE_URL"], reportID)
			forwarded = true
		}
		out, err := sh(line)
		// The route to the authority and the feedback to the provider
		// are background jobs, done within a second or so.
		for deadline := time.Now().Add(20 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if strings.Contains(c, "lea inbox") && !strings.Contains(out, reportID) ||
				strings.Contains(c, "report status") && !strings.Contains(out, "forwarded") {
				out, err = sh(line)
				continue
			}
			break
		}
		if err != nil {
			t.Fatalf("README command failed: %s\n(run as %s)\n%v\n%s", c, line, err, out)
		}
		t.Logf("%s\n%s", c, out)
		printed(c, out, outputs[i])
		switch {
		case strings.Contains(c, " match "):
			if !strings.Contains(out, `"distance":0`) {
				t.Errorf("%s: no match:\n%s", c, out)
			}
			seen["match"] = true
		case strings.Contains(c, "indicator import"):
			m := regexp.MustCompile(`imported (\d+) rows .*: (\d+) new indicators, (\d+) attested existing ones, (\d+) activated`).FindStringSubmatch(out)
			if m == nil || m[1] == "0" {
				t.Errorf("%s: no rows imported:\n%s", c, out)
			} else if imports++; imports == 2 && m[4] == "0" {
				t.Errorf("%s: the second hotline's import activated nothing:\n%s", c, out)
			}
		case strings.Contains(c, "key create --org bka"):
			subst["<bka key>"] = strings.TrimSpace(strings.Split(out, "\n")[0])
		case strings.Contains(c, "report submit"):
			m := regexp.MustCompile(`(?m)^report\s+(\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("%s: no report id:\n%s", c, out)
			}
			reportID, subst["4KZ…"] = m[1], m[1]
		case strings.Contains(c, " scan "):
			for _, want := range []string{`sample-1.png","pdq"`, `sample-2.png","pdq"`} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: lacks %s:\n%s", c, want, out)
				}
			}
			if n := strings.Count(out, `"distance":0`); n != 2 {
				t.Errorf("%s: %d matches, want sample-1 and sample-2:\n%s", c, n, out)
			}
			seen["scan"] = true
		case strings.Contains(c, "admin init") || strings.Contains(c, "admin user add"):
			if !strings.Contains(out, "/enrol/") {
				t.Errorf("%s: no enrolment link:\n%s", c, out)
			}
		case strings.Contains(c, "lea get"):
			if _, err := os.Stat(filepath.Join(dir, reportID, "report.json")); err != nil {
				t.Errorf("%s wrote no report.json: %v\n%s", c, err, out)
			}
		case strings.Contains(c, "report status"):
			seen["status"] = true
			if !strings.Contains(out, "DE") || !strings.Contains(out, "Europol") {
				t.Errorf("%s: not forwarded to DE and Europol:\n%s", c, out)
			}
		}
	}
	if imports != 2 || reportID == "" || !forwarded || len(seen) != 4 {
		t.Errorf("the README's steps are not all there: %d imports, report %q, forwarded %v, %v", imports, reportID, forwarded, seen)
	}
}

// readmeServe starts the README's server command and returns the demo
// provider key it prints, and what it printed, once the server is ready.
func readmeServe(t *testing.T, line, dir string, environ []string, addr string) (key, printed string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "exec "+line)
	stderr := &syncBuffer{}
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, environ, io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ward serve: %v\n%s", err, stderr)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("ward serve did not stop")
		}
	})
	re := regexp.MustCompile(`demo provider key \(kept in ward-data/demo/provider.key\): (\S+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m := re.FindStringSubmatch(stderr.String())
		if m == nil {
			continue
		}
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m[1], stderr.String()
			}
		}
	}
	t.Fatalf("ward serve --demo did not print its key and become ready:\n%s", stderr)
	return "", ""
}

// readmeForward is the analyst's decision in the console: forward the
// report once it is triaged, through the service the console calls.
func readmeForward(t *testing.T, dir, databaseURL, reportID string) {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(dir, "ward-data")
	url := databaseURL
	if url == "" {
		url = "sqlite:" + filepath.Join(data, "ward.db")
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, err := seal.LoadKeyring(filepath.Join(data, "master.keys"))
	if err != nil {
		t.Fatal(err)
	}
	tr := triage.New(db.Triage(), report.NewService(db.Reports(), seal.NewSealer(k, db)), matcher.New(), triage.Options{})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err = tr.Decide(ctx, "user:"+strconv.Itoa(1), reportID, triage.Decision{Kind: triage.Forward})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwarding report %s: %v", reportID, fmt.Sprint(err))
		}
	}
}
