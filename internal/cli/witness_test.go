package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/matching/mirror"
	"github.com/wardhq/ward/internal/matching/mirror/mirrortest"
)

// syncBuffer is a buffer written by a command running in the background.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWitness runs ward witness with args until the test ends, and
// returns its URL and verifier key.
func startWitness(t *testing.T, args ...string) (string, string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int)
	go func() {
		done <- testServer.Run(ctx, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, append([]string{"witness", "--addr", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("ward witness exited with %d:\n%s", code, errs.String())
		}
	})
	listening := regexp.MustCompile(`listening on (http://[^/]+)/add-checkpoint`)
	for range 200 {
		if m := listening.FindStringSubmatch(errs.String()); m != nil {
			key := strings.TrimSpace(strings.TrimPrefix(out.String(), "witness key: "))
			return m[1], key, &errs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("ward witness did not start:\n%s", errs.String())
	return "", "", nil
}

// TestWitnessAndSync: ward witness cosigns a list's log; ward sync
// requires its cosignature, trusts the log's key on first use and says so
// once, refuses another key and a fork, leaving the mirror as it was; and
// ward scan says which checkpoint it matched against.
func TestWitnessAndSync(t *testing.T) {
	srv := mirrortest.NewServer(t)
	l := srv.AddList(t, "known")
	for i := range 300 {
		l.Add(t, true, l.Change(client.ChangeActivate, int64(i+1), "md5", fmt.Sprintf("%032x", i)))
	}
	l.Sign(t)
	dir := t.TempDir()
	keyFile, state := filepath.Join(dir, "w", "witness.key"), filepath.Join(dir, "witness.db")
	logArg := l.Signer.Name() + "=" + l.VKey
	url, wkey, errs := startWitness(t, "--key-file", keyFile, "--name", "witness.test/w1", "--state", state, "--log", logArg)
	if !strings.HasPrefix(wkey, "witness.test/w1+") || !strings.Contains(errs.String(), "created the key") {
		t.Errorf("witness key %q; stderr:\n%s", wkey, errs.String())
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v", fi, err)
	}
	v, err := witness.NewVerifier(wkey)
	if err != nil {
		t.Fatal(err)
	}
	l.Cosign(t, witness.NewClient(url, v, http.DefaultClient))

	t.Setenv("WARD_SERVER", srv.URL)
	t.Setenv("WARD_KEY", "ward_test")
	path := filepath.Join(dir, "known.mirror")
	code, out, stderr := ward(t, "", "sync", "--mirror", path, "--witness-key", wkey, "--require-witnesses", "1")
	var res mirror.SyncResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Verified != 300 || fmt.Sprint(res.Witnesses) != "[witness.test/w1]" {
		t.Fatalf("sync: exit %d %s %s", code, out, stderr)
	}
	if strings.Count(stderr, "trusting the key of list \"known\"'s log on first use: "+l.VKey) != 1 {
		t.Errorf("the trust on first use is not said once: %q", stderr)
	}

	// A witness restarted keeps its key and its state.
	url2, wkey2, _ := startWitness(t, "--key-file", keyFile, "--state", state, "--log", logArg)
	if wkey2 != wkey {
		t.Errorf("restarted, the witness's key is %q, was %q", wkey2, wkey)
	}
	for i := 300; i < 310; i++ {
		l.Add(t, true, l.Change(client.ChangeActivate, int64(i+1), "md5", fmt.Sprintf("%032x", i)))
	}
	l.Sign(t)
	l.Cosign(t, witness.NewClient(url2, v, http.DefaultClient))
	if _, stderr := wardLines(t, 0, "sync", "--mirror", path, "--witness-key", wkey, "--require-witnesses", "1"); strings.Contains(stderr, "first use") {
		t.Errorf("the key announced again: %q", stderr)
	}

	// Another server's copy of the log: consistent if it is a prefix,
	// a fork if not.
	copyOf := func(entries [][]byte) string {
		s := mirrortest.NewServer(t)
		o := s.AddList(t, "known")
		o.Signer, o.VKey = l.Signer, l.VKey
		for _, e := range entries {
			o.AppendEntry(t, e)
		}
		o.Sign(t)
		return s.URL + "/v1/lists/known/log/checkpoint"
	}
	lines, _ := wardLines(t, 0, "sync", "--mirror", path, "--compare", copyOf(l.Entries[:200]))
	if len(lines) != 2 || !strings.Contains(lines[1], `"consistent":true`) || !strings.Contains(lines[1], `"size":200`) {
		t.Errorf("compare with a consistent copy: %q", lines)
	}
	other := append([][]byte(nil), l.Entries[:200]...)
	other[7] = bytes.Replace(other[7], []byte(" A1 "), []byte(" B1 "), 1)
	if _, stderr := wardLines(t, 1, "sync", "--mirror", path, "--compare", copyOf(other)); !strings.Contains(stderr, "the log is forked") {
		t.Errorf("compare with a fork: %q", stderr)
	}

	// A fork: the log rewritten at the size the witness holds.
	forked := l.Entries[:310:310]
	forked[5] = bytes.Replace(forked[5], []byte(" A1 "), []byte(" B2 "), 1)
	l.Entries = forked
	l.Rebuild(t)
	fork := l.Sign(t)
	_, err = witness.NewClient(url2, v, http.DefaultClient).AddCheckpoint(t.Context(), 310, nil, fork)
	if c, ok := err.(*witness.ConflictError); !ok || c.Size != 310 {
		t.Errorf("the witness given a fork: %v", err)
	}
	before := stateDump(t, path)
	_, stderr = wardLines(t, 1, "sync", "--mirror", path)
	if !strings.Contains(stderr, "two checkpoints of size 310 with different roots") || !strings.Contains(stderr, "the mirror was left as it was") {
		t.Errorf("sync of a fork: %q", stderr)
	}
	if stateDump(t, path) != before {
		t.Error("the mirror changed")
	}
	_, stderr = wardLines(t, 2, "sync", "--mirror", path, "--log-key", strings.Replace(l.VKey, "known", "other", 1))
	if !strings.Contains(stderr, "--log-key") {
		t.Errorf("a malformed --log-key: %q", stderr)
	}
	_, otherKey, _ := note.GenerateKey(nil, l.Signer.Name())
	if _, stderr = wardLines(t, 1, "sync", "--mirror", path, "--log-key", otherKey); !strings.Contains(stderr, "the mirror trusts the log key "+l.VKey) {
		t.Errorf("another --log-key: %q", stderr)
	}

	// ward scan names the checkpoint it matched against.
	var img bytes.Buffer
	if err := png.Encode(&img, synth.Image(64, 64, 1)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "a.png")
	os.WriteFile(file, img.Bytes(), 0o600)
	lines, _ = wardLines(t, 0, "scan", "--mirror", path, file)
	var rec scanRecord
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || len(rec.Checkpoints) != 1 || rec.Checkpoints[0].Size != 310 ||
		rec.Checkpoints[0].Origin != l.Signer.Name() || rec.Checkpoints[0].List != "known" || rec.Checkpoints[0].Root == "" {
		t.Errorf("scan: %s (%v)", lines[0], err)
	}
}

// wardLines runs a command that must exit with code and returns its
// stdout's lines and its stderr.
func wardLines(t *testing.T, want int, args ...string) ([]string, string) {
	t.Helper()
	code, out, errs := ward(t, "", args...)
	if code != want {
		t.Fatalf("ward %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
	}
	return strings.Split(strings.TrimSpace(out), "\n"), errs
}

func stateDump(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	m, err := mirror.Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", st)
	m.ForEach(ctx, func(e mirror.Entry) error { fmt.Fprintf(&b, "%+v\n", e); return nil })
	return b.String()
}

func TestWitnessUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--state", "s", "--log", "a=b"}, "--key-file FILE is required"},
		{[]string{"--key-file", "k", "--log", "a=b"}, "--state FILE is required"},
		{[]string{"--key-file", "k", "--state", "s"}, "give the logs to witness"},
		{[]string{"--key-file", "k", "--state", "s", "--log", "nokey"}, "want ORIGIN=VKEY"},
		{[]string{"--key-file", filepath.Join(dir, "k"), "--state", filepath.Join(dir, "s"), "--logs", filepath.Join(dir, "missing")}, "no such file"},
	} {
		if code, _, errs := ward(t, "", append([]string{"witness"}, tt.args...)...); code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("witness %q: exit %d, %q; want %q", tt.args, code, errs, tt.want)
		}
	}
	for _, cmd := range []string{"witness", "sync"} {
		if code, _, errs := ward(t, "", cmd, "--help"); code != 0 || !strings.Contains(errs, "c2sp.org/tlog-witness") && !strings.Contains(errs, "--require-witnesses") {
			t.Errorf("%s --help: exit %d, %q", cmd, code, errs)
		}
	}
}
