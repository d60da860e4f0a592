package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
)

// TestServeTransparencyLog: ward serve signs the lists' logs with a key
// it creates in the data directory, naming them after the host of its
// base URL; a log's origin then stays whatever later servers are called;
// a database whose logs lag its lists (one from before the logs) is
// caught up at start; and a list edited behind the store's back is
// reported at start while the server goes on serving.
func TestServeTransparencyLog(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			flags := engine.flags(t)
			admin := func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), flags...)...) }
			admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
			admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
			dir := t.TempDir()
			tsv := "type\tvalue\tcategory\n"
			for _, v := range []string{"00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100", "0123456789abcdef0123456789abcdef"} {
				tsv += "md5\t" + v + "\tA1\n"
			}
			os.WriteFile(filepath.Join(dir, "l.tsv"), []byte(tsv), 0o600)
			admin("indicator", "import", "--list", "known", "--org", "hotline-de", filepath.Join(dir, "l.tsv"))
			admin("indicator", "import", "--list", "known", "--org", "hotline-nl", filepath.Join(dir, "l.tsv"))

			m := startMain(t, flags)
			url := "http://" + m.Addr()
			c1 := servedCheckpoint(t, url)
			if c1.Origin != m.Addr()+"/lists/known" || c1.Size != 3 {
				t.Errorf("checkpoint %+v, want origin %s/lists/known and 3 entries", c1, m.Addr())
			}
			data := flags[slices.Index(flags, "--data")+1]
			if _, err := os.Stat(filepath.Join(data, "log.key")); err != nil {
				t.Errorf("no log key in the data directory: %v", err)
			}
			if !strings.Contains(stderrOf(m), "created a new transparency log signing key") {
				t.Errorf("the new key was not reported:\n%s", stderrOf(m))
			}
			m.Close()

			// The logs lag the lists, as in a database from before them.
			db, err := store.Open(ctx, databaseURL(flags))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`DELETE FROM log_hashes`, `DELETE FROM log_entries`, `UPDATE logs SET size = 0, through = 0`} {
				if err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error { _, err := tx.Exec(ctx, q); return err }); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			m = startMain(t, append(flags, "--log-origin", "elsewhere.example"))
			waitLog(t, m, "transparency logs checked")
			if c2 := servedCheckpoint(t, "http://"+m.Addr()); c2 != c1 {
				t.Errorf("after catching up: %+v, want %+v", c2, c1)
			}
			if s := stderrOf(m); !strings.Contains(s, "catching up the transparency log") || !strings.Contains(s, "keeps its origin") ||
				strings.Contains(s, "disagrees") {
				t.Errorf("second start:\n%s", s)
			}
			m.Close()

			// An indicator's value edited in its table.
			db, err = store.Open(ctx, databaseURL(flags))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE indicators SET value = '99999999999999999999999999999999' WHERE id = 2`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			m = startMain(t, flags)
			waitLog(t, m, "transparency logs checked")
			if s := stderrOf(m); !strings.Contains(s, "the transparency log disagrees with the database") || !strings.Contains(s, "99999999999999999999999999999999") {
				t.Errorf("the edit was not reported:\n%s", s)
			}
			if c3 := servedCheckpoint(t, "http://"+m.Addr()); c3 != c1 {
				t.Errorf("the log served after the edit: %+v, want %+v", c3, c1)
			}
			m.Close()

			// A server with another log key does not start.
			code, _, errs := ward(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--log-key-file", filepath.Join(dir, "other.key")}, flags...)...)
			if code != 1 || !strings.Contains(errs, "another key") {
				t.Errorf("serve with another log key: exit %d\n%s", code, errs)
			}
		})
	}
}

func databaseURL(flags []string) string {
	if i := slices.Index(flags, "--database"); i >= 0 {
		return flags[i+1]
	}
	return "sqlite:" + filepath.Join(flags[slices.Index(flags, "--data")+1], "ward.db")
}

func stderrOf(m *Main) string { return m.stderr.(*syncBuffer).String() }

// waitLog waits until the server has logged msg.
func waitLog(t *testing.T, m *Main, msg string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(stderrOf(m), msg) {
			return
		}
	}
	t.Fatalf("the server did not log %q:\n%s", msg, stderrOf(m))
}

// servedCheckpoint fetches the known list's checkpoint and verifies it
// with the key the server publishes.
func servedCheckpoint(t *testing.T, url string) translog.Checkpoint {
	t.Helper()
	read := func(path string) []byte {
		resp, err := http.Get(url + "/v1/lists/known/log/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	v, err := note.NewVerifier(string(read("key")))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(read("checkpoint"), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	c, err := translog.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServeLogOriginFlag: an origin that cannot name a log is refused.
func TestServeLogOriginFlag(t *testing.T) {
	for _, bad := range []string{"a b", "a+b", "example.org/"} {
		code, _, errs := ward(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--log-origin", bad)
		if code != 2 || !strings.Contains(errs, "--log-origin") {
			t.Errorf("--log-origin %q: exit %d\n%s", bad, code, errs)
		}
	}
}
