package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/platform/store"
)

// TestTransparencyLogWalkthrough is the README's transparency-log
// walkthrough, on both engines, with the README's commands: the log's key
// read from the server, "ward witness" run with it, the server restarted
// sending checkpoints to the witness, "ward sync" verifying against the
// pinned key and requiring the witness's cosignature, "ward scan" naming
// the checkpoint; then an indicator's value changed in the database
// behind the server's back, and a fresh sync refused, naming the entry,
// with nothing applied.
func TestTransparencyLogWalkthrough(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { transparencyLogWalkthrough(t, engine.flags(t)) })
	}
}

func transparencyLogWalkthrough(t *testing.T, db []string) {
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	providerKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	samples := filepath.Join("..", "..", "docs", "examples", "images")
	var tsv strings.Builder
	for _, name := range []string{"sample-1.png", "sample-2.png"} {
		h := filehash.Bytes(must(os.ReadFile(filepath.Join(samples, name))), filehash.Options{})
		fmt.Fprintf(&tsv, "pdq\t%s\tA1\t%s\n", h.PDQ, name)
	}
	list := filepath.Join(dir, "known.tsv")
	os.WriteFile(list, []byte(tsv.String()), 0o600)
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", list)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", list)

	// The first start makes the log's key; the key is public.
	first := startMain(t, db, "--log-origin", "ward.test")
	logKey := httpText(t, "http://"+first.Addr()+"/v1/lists/known/log/key")
	first.Close()
	if !strings.HasPrefix(logKey, "ward.test/lists/known+") {
		t.Fatalf("the log's key: %q", logKey)
	}

	// A witness of the log, as the README runs it.
	ctx, stop := context.WithCancel(context.Background())
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- program.Run(ctx, &cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errs}, []string{"witness",
			"--addr", "127.0.0.1:0", "--key-file", filepath.Join(dir, "witness.key"), "--name", "witness.example/w1",
			"--state", filepath.Join(dir, "witness.db"), "--log", "ward.test/lists/known=" + logKey})
	}()
	t.Cleanup(func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("ward witness: exit %d: %s", code, errs)
		}
	})
	var witnessURL, witnessKey string
	for deadline := time.Now().Add(10 * time.Second); (witnessURL == "" || witnessKey == "") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		witnessURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(errs.String())
		if m := regexp.MustCompile(`witness key: (\S+)`).FindStringSubmatch(out.String()); m != nil {
			witnessKey = m[1]
		}
	}
	if witnessURL == "" || witnessKey == "" {
		t.Fatalf("ward witness did not start: %s %s", out, errs)
	}

	// The server again, witnessed; a checkpoint cosigned.
	m := startMain(t, db, "--log-origin", "ward.test", "--witness", witnessURL+"="+witnessKey, "--witness-interval", "100ms")
	base := "http://" + m.Addr()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(httpText(t, base+"/v1/lists/known/log/checkpoint"), "— witness.example/w1 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint was never cosigned by the witness")
		}
	}
	sync := func(mirror string) (int, string, string) {
		return ward(t, "", "sync", "--server", base, "--key", providerKey, "--list", "known", "--mirror", mirror,
			"--log-key", logKey, "--witness-key", witnessKey, "--require-witnesses", "1")
	}
	mirror := filepath.Join(dir, "known.mirror")
	code, printed, stderr := sync(mirror)
	var res struct {
		Active, Verified int
		Checkpoint       struct{ Origin string }
		Witnesses        []string
	}
	if code != 0 || json.Unmarshal([]byte(printed), &res) != nil || res.Active != 2 || res.Verified != 2 ||
		res.Checkpoint.Origin != "ward.test/lists/known" {
		t.Fatalf("ward sync: %d %s %s", code, printed, stderr)
	}
	scanned := wardOK(t, "scan", "--mirror", mirror, filepath.Join(samples, "sample-1.png"))
	var line struct {
		Checkpoints []struct {
			List, Origin string
			Size         int
		}
		Matches []json.RawMessage
	}
	if err := json.Unmarshal([]byte(scanned), &line); err != nil || len(line.Matches) != 1 || len(line.Checkpoints) != 1 ||
		line.Checkpoints[0].Origin != "ward.test/lists/known" || line.Checkpoints[0].Size != 2 {
		t.Errorf("ward scan: %s", scanned)
	}

	// The operator changes an indicator's value in the database, and the
	// server serves it; a provider's fresh sync refuses it.
	m.Close()
	dsn := filepath.Join(db[slices.Index(db, "--data")+1], "ward.db")
	if i := slices.Index(db, "--database"); i >= 0 {
		dsn = db[i+1]
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	err = st.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE indicators SET value = $1 WHERE id = 1`, strings.Repeat("f", 64))
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	m = startMain(t, db, "--log-origin", "ward.test", "--witness", witnessURL+"="+witnessKey, "--witness-interval", "100ms")
	base = "http://" + m.Addr()
	fresh := filepath.Join(dir, "fresh.mirror")
	code, _, stderr = sync(fresh)
	if code != 1 || !strings.Contains(stderr, "verification failed") || !strings.Contains(stderr, "is not its log entry") ||
		!strings.Contains(stderr, "the mirror was left as it was") {
		t.Errorf("ward sync of the tampered list: exit %d, %s", code, stderr)
	}
	if got := scanMatchesOf(t, fresh, filepath.Join(samples, "sample-1.png")); got != 0 {
		t.Errorf("the refused mirror matches %d indicators", got)
	}
}

// httpText GETs url and returns its body, failing unless 200.
func httpText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// scanMatchesOf returns how many matches "ward scan" finds for file in
// mirror, 0 if the mirror holds nothing to match.
func scanMatchesOf(t *testing.T, mirror, file string) int {
	t.Helper()
	_, out, _ := ward(t, "", "scan", "--mirror", mirror, file)
	var line struct{ Matches []json.RawMessage }
	json.Unmarshal([]byte(out), &line)
	return len(line.Matches)
}
