package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/hashing/synth"
)

// vectorDir holds the PDQ reference vectors and the images made for them
// (internal/hashing/pdq/testdata/README.md).
const vectorDir = "../../internal/hashing/pdq/testdata"

// ward runs one command line in process and returns its exit status and
// outputs.
func ward(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := testServer.Run(context.Background(), e, args)
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

// testServer stands in for the server that cmd/ward wires and this package
// cannot import; the tests that run it are in cmd/ward.
var testServer = Server{Serve: &Command{Name: "serve", Summary: "the server (in cmd/ward)",
	Run: func(context.Context, *Env, []string) error {
		return errors.New("no server in the tests of internal/cli")
	}}}

func TestHashVectorsDirectory(t *testing.T) {
	want := map[string][2]string{} // file -> hash, class
	f, err := os.Open(filepath.Join(vectorDir, "vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		want[c[0]] = [2]string{c[1], c[7]}
	}

	code, out, stderr := ward(t, "", "hash", "--workers", "2", filepath.Join(vectorDir, "images"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	images, _ := os.ReadDir(filepath.Join(vectorDir, "images"))
	if len(lines) != len(images) {
		t.Fatalf("%d lines for %d images (stderr %q)", len(lines), len(images), stderr)
	}
	exact := 0
	prev := ""
	for _, line := range lines {
		// The reference's zero hash for tiny images is printed but is not
		// a valid pdq.Hash, so read the line with plain strings.
		var r struct {
			Path, PDQ, MD5, SHA256, Error string
			Quality                       *int
			Width                         int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		name := filepath.Base(r.Path)
		if name < prev {
			t.Errorf("%s after %s: output not in input order", name, prev)
		}
		prev = name
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected file %s", name)
			continue
		}
		if w[1] == "edge-too-small" {
			if r.PDQ != strings.Repeat("0", 64) || r.Quality == nil || *r.Quality != 0 {
				t.Errorf("%s: %v, want the zero hash", name, r.PDQ)
			}
			continue
		}
		if r.Error != "" || len(r.PDQ) != 64 || r.Quality == nil || r.Width == 0 || len(r.SHA256) != 64 || len(r.MD5) != 32 {
			t.Errorf("%s: incomplete record %q", name, line)
			continue
		}
		if strings.HasPrefix(w[1], "exact") {
			exact++
			if r.PDQ != w[0] {
				t.Errorf("%s: pdq %s, reference %s", name, r.PDQ, w[0])
			}
		}
	}
	if code != 0 {
		t.Errorf("exit %d, want 0; stderr %q", code, stderr)
	}
	if exact < 30 {
		t.Errorf("only %d exact vectors checked", exact)
	}
}

func TestHashOutputs(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "pic.png")
	fh, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(fh, synth.Image(120, 90, 3)); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	data, _ := os.ReadFile(img)
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 truncated jpeg"), 0o600)

	t.Run("jsonl with dihedral", func(t *testing.T) {
		code, out, _ := ward(t, "", "hash", "--dihedral", img)
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("exit %d, %q: %v", code, out, err)
		}
		d, ok := r["dihedral"].(map[string]any)
		if !ok || len(d) != 7 {
			t.Fatalf("dihedral %v", r["dihedral"])
		}
		for _, k := range dihedralNames {
			if s, _ := d[k].(string); len(s) != 64 {
				t.Errorf("dihedral %s = %v", k, d[k])
			}
		}
		for _, k := range []string{"path", "pdq", "quality", "md5", "sha256", "width", "height"} {
			if _, ok := r[k]; !ok {
				t.Errorf("field %s missing", k)
			}
		}
	})
	t.Run("stdin equals file", func(t *testing.T) {
		_, a, _ := ward(t, "", "hash", img)
		_, b, _ := ward(t, string(data), "hash", "-")
		var ra, rb hashRecord
		json.Unmarshal([]byte(a), &ra)
		json.Unmarshal([]byte(b), &rb)
		if rb.Path != "-" || ra.PDQ == nil || rb.PDQ == nil || *ra.PDQ != *rb.PDQ || ra.SHA256 != rb.SHA256 {
			t.Errorf("file %q, stdin %q", a, b)
		}
	})
	t.Run("failure goes on and exits 1", func(t *testing.T) {
		code, out, _ := ward(t, "", "hash", bad, img)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 1 || len(lines) != 2 {
			t.Fatalf("exit %d, output %q", code, out)
		}
		var r hashRecord
		json.Unmarshal([]byte(lines[0]), &r)
		if r.Path != bad || r.Error == "" || r.PDQ != nil {
			t.Errorf("failure line %q", lines[0])
		}
	})
	t.Run("tsv", func(t *testing.T) {
		code, out, _ := ward(t, "", "hash", "--format", "tsv", img, bad)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 1 || len(lines) != 3 {
			t.Fatalf("exit %d, output %q", code, out)
		}
		if lines[0] != "path\tpdq\tquality\tmd5\tsha256\twidth\theight\terror" {
			t.Errorf("header %q", lines[0])
		}
		for _, l := range lines {
			if n := strings.Count(l, "\t"); n != 7 {
				t.Errorf("%d tabs in %q", n, l)
			}
		}
		if !strings.HasSuffix(lines[1], "\t") || strings.HasSuffix(lines[2], "\t") {
			t.Errorf("error column wrong: %q", lines[1:])
		}
	})
}

// TestErrorsPointToTheFix: the first mistakes of a new user get a message
// naming what to do: the flag and the variable missing, the server that is
// not running, the subcommands of a group.
func TestErrorsPointToTheFix(t *testing.T) {
	t.Setenv("WARD_SERVER", "")
	t.Setenv("WARD_KEY", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() // a port nothing listens on
	ln.Close()
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		contains []string
		lacks    string
	}{
		{"no server, no key", nil, []string{"match", hash}, 2, []string{"--server URL", "--key KEY", "WARD_SERVER", "WARD_KEY"}, ""},
		{"no server", []string{"WARD_KEY", "ward_x"}, []string{"match", hash}, 2, []string{"no server", "--server URL", "WARD_SERVER"}, "no API key"},
		{"no key", []string{"WARD_SERVER", down}, []string{"lea", "inbox"}, 2, []string{"no API key", "WARD_KEY", "--key KEY"}, "no server"},
		{"server not running", []string{"WARD_KEY", "ward_x"}, []string{"match", "--server", down, hash}, 1, []string{"connection refused", "is `ward serve` running at " + down + "?"}, ""},
		{"server not running, report", []string{"WARD_KEY", "ward_x", "WARD_SERVER", down + "/"}, []string{"report", "status", "4KZ"}, 1, []string{"is `ward serve` running at " + down + "?"}, ""},
		{"admin org alone", nil, []string{"admin", "org"}, 2, []string{"usage: ward admin org <subcommand>", "add ", "list ", "set-webhook "}, "key create"},
		{"admin org --help", nil, []string{"admin", "org", "--help"}, 0, []string{"usage: ward admin org <subcommand>", "set-webhook"}, "key create"},
		{"admin org, bad subcommand", nil, []string{"admin", "org", "remove"}, 2, []string{`unknown subcommand "remove"`, "usage: ward admin org <subcommand>", "set-webhook"}, "key create"},
		{"admin key alone", nil, []string{"admin", "key"}, 2, []string{"usage: ward admin key <subcommand>", "create ", "revoke "}, "set-webhook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i+1 < len(tc.env); i += 2 {
				t.Setenv(tc.env[i], tc.env[i+1])
			}
			code, out, errs := ward(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("ward %v: exit %d, want %d:\n%s%s", tc.args, code, tc.code, out, errs)
			}
			for _, want := range tc.contains {
				if !strings.Contains(out+errs, want) {
					t.Errorf("ward %v: output lacks %q:\n%s%s", tc.args, want, out, errs)
				}
			}
			if tc.lacks != "" && strings.Contains(out+errs, tc.lacks) {
				t.Errorf("ward %v: output has %q:\n%s%s", tc.args, tc.lacks, out, errs)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--help"}, 0, "commands:"},
		{[]string{}, 2, "commands:"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"hash"}, 2, "no PATH given"},
		{[]string{"hash", "--format", "xml", "x"}, 2, "--format must be"},
		{[]string{"hash", "--workers", "0", "x"}, 2, "--workers must be"},
		{[]string{"hash", "--bogus", "x"}, 2, "flag provided but not defined"},
		{[]string{"hash", "--help"}, 0, "--dihedral"},
		{[]string{"help", "hash"}, 0, "--dihedral"},
		{[]string{"bench", "nope"}, 2, "unknown benchmark"},
		{[]string{"bench", "--help"}, 0, "match"},
	} {
		code, out, errs := ward(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.contains) {
			t.Errorf("ward %v: exit %d, want %d; output lacks %q:\n%s%s", tc.args, code, tc.code, tc.contains, out, errs)
		}
	}
}
