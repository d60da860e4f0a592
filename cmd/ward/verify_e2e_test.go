package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/indicator/translog"
	wardmirror "github.com/wardhq/ward/internal/matching/mirror"
	"github.com/wardhq/ward/internal/platform/store"
)

// logged is a server whose known list's log a witness witnesses and a
// provider mirrors, for tests that tamper with its database.
type logged struct {
	t          *testing.T
	flags      []string // the store flags
	dir        string
	url        string
	stderr     *syncBuffer
	admin      func(args ...string) string
	key        string // the provider's
	hotlineKey string
	mirror     string
	origin     string
	witness    *witness.Witness
	wkey       string // the witness's verifier key
	db         *store.DB
	imported   int
}

// newLogged starts a server on a fresh database of engine with an origin
// of ward.test, a witness of its known list's log it sends checkpoints to
// every 50 ms, and 10 indicators active.
func newLogged(t *testing.T, flags []string) *logged {
	t.Helper()
	ctx := context.Background()
	l := &logged{t: t, flags: flags, dir: t.TempDir(), origin: "ward.test/lists/known"}
	l.admin = func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), flags...)...) }
	l.admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	l.admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	l.admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	l.key = strings.TrimSpace(l.admin("key", "create", "--org", "acme"))
	l.hotlineKey = strings.TrimSpace(l.admin("key", "create", "--org", "hotline-de"))
	l.importMore(10)

	// The log's key is made before the server, so that the witness can
	// be told it first.
	data := flags[slices.Index(flags, "--data")+1]
	priv, _, err := audit.LoadOrCreateSigningKey(filepath.Join(data, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := translog.VerifierKey(l.origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	skey, wkey, err := witness.GenerateKey("witness.test/w1")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := witness.NewSigner(skey)
	log, err := witness.ParseLog(l.origin + "=" + vkey)
	if err != nil {
		t.Fatal(err)
	}
	if l.witness, err = witness.Open(ctx, filepath.Join(l.dir, "witness.db"), signer, []witness.Log{log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.witness.Close() })
	ws := httptest.NewServer(l.witness.Handler())
	t.Cleanup(ws.Close)
	l.wkey = wkey

	// Started as startMain does, but errors are expected: the server logs
	// a witness's refusal of each checkpoint as one.
	l.stderr = &syncBuffer{}
	args := append([]string{"--addr", "127.0.0.1:0", "--poll", "50ms", "--log-origin", "ward.test",
		"--witness", ws.URL + "=" + wkey, "--witness-interval", "50ms"}, flags...)
	cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: l.stderr}, args)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, l.stderr)
	if err := m.Run(ctx); err != nil {
		t.Fatalf("starting the server: %v\n%s", err, l.stderr)
	}
	t.Cleanup(func() { m.Close() })
	l.url = "http://" + m.Addr()

	dsn := filepath.Join(data, "ward.db")
	if i := slices.Index(flags, "--database"); i >= 0 {
		dsn = flags[i+1]
	}
	if l.db, err = store.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.db.Close() })
	l.mirror = filepath.Join(l.dir, "known.mirror")
	l.waitCosigned(10)
	return l
}

// importMore activates n more indicators (MD5s), attested by hotlines of
// two countries.
func (l *logged) importMore(n int) {
	var b strings.Builder
	b.WriteString("type\tvalue\tcategory\treference\n")
	for i := range n {
		fmt.Fprintf(&b, "md5\t%032x\tA1\tcase-%d\n", l.imported+i+1, l.imported+i+1)
	}
	l.imported += n
	file := filepath.Join(l.dir, fmt.Sprintf("batch-%d.tsv", l.imported))
	os.WriteFile(file, []byte(b.String()), 0o600)
	l.admin("indicator", "import", "--list", "known", "--org", "hotline-de", file)
	l.admin("indicator", "import", "--list", "known", "--org", "hotline-nl", file)
}

// checkpoint returns the known list's checkpoint as served.
func (l *logged) checkpoint() string {
	resp, err := http.Get(l.url + "/v1/lists/known/log/checkpoint")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// waitCosigned waits until the checkpoint served has size n and the
// witness's cosignature.
func (l *logged) waitCosigned(n int64) {
	l.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c := l.checkpoint()
		if strings.Contains(c, fmt.Sprintf("\n%d\n", n)) && strings.Contains(c, "— witness.test/w1 ") {
			return
		}
	}
	l.t.Fatalf("no cosigned checkpoint of size %d: %q\n%s", n, l.checkpoint(), l.stderr)
}

// sync runs ward sync, requiring the witness's cosignature if witnessed,
// and returns its exit status and stderr.
func (l *logged) sync(witnessed bool) (int, string) {
	args := []string{"sync", "--server", l.url, "--key", l.key, "--list", "known", "--mirror", l.mirror}
	if witnessed {
		args = append(args, "--witness-key", l.wkey, "--require-witnesses", "1")
	}
	code, _, errs := ward(l.t, "", args...)
	return code, errs
}

// exec runs a statement on the database directly, as someone with access
// to it but not to the server would.
func (l *logged) exec(query string, args ...any) {
	l.t.Helper()
	err := l.db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		l.t.Fatalf("%s: %v", query, err)
	}
}

// rewrite rewrites the known list's log as someone with the database
// would to hide or add a change: edit returns its new entries, and every
// stored hash, the size and the root are recomputed to match, so the
// server signs the result.
func (l *logged) rewrite(edit func(entries [][]byte) [][]byte) {
	l.t.Helper()
	err := l.db.ReadWrite(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM logs WHERE name = 'lists/known'`).Scan(&id); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT entry FROM log_entries WHERE log_id = $1 ORDER BY idx`, id)
		if err != nil {
			return err
		}
		var entries [][]byte
		for rows.Next() {
			var e []byte
			if err := rows.Scan(&e); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		rows.Close()
		entries = edit(entries)
		var hashes []tlog.Hash
		read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = hashes[x]
			}
			return out, nil
		})
		for _, q := range []string{`DELETE FROM log_entries WHERE log_id = $1`, `DELETE FROM log_hashes WHERE log_id = $1`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		for i, e := range entries {
			hs, err := tlog.StoredHashes(int64(i), e, read)
			if err != nil {
				return err
			}
			hashes = append(hashes, hs...)
			if _, err := tx.Exec(ctx, `INSERT INTO log_entries (log_id, idx, entry) VALUES ($1, $2, $3)`, id, i, e); err != nil {
				return err
			}
		}
		for i, h := range hashes {
			if _, err := tx.Exec(ctx, `INSERT INTO log_hashes (log_id, idx, hash) VALUES ($1, $2, $3)`, id, i, h[:]); err != nil {
				return err
			}
		}
		root, err := tlog.TreeHash(int64(len(entries)), read)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE logs SET size = $1, root = $2 WHERE id = $3`, len(entries), root[:], id)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
}

// recategorised is entries with entry 3's category A1 made B2.
func recategorised(es [][]byte) [][]byte {
	es[3] = bytes.Replace(es[3], []byte(" A1 "), []byte(" B2 "), 1)
	return es
}

// waitRefused waits until the witness has refused a checkpoint of the
// log for a reason saying want.
func (l *logged) waitRefused(want string) {
	l.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		refused, err := l.witness.Refused(context.Background(), l.origin)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, r := range refused {
			if strings.Contains(r.Reason, want) {
				return
			}
		}
	}
	l.t.Errorf("the witness refused no checkpoint as %q\n%s", want, l.stderr)
}

// TestSyncAndWitnessRefuseTampering: on both engines, the database
// edited behind the server's back is refused by ward sync, which leaves
// the mirror byte for byte as it was, whatever was edited: an indicator's
// value, a change deleted or inserted in the feed, an entry of the log
// deleted or forged onto it, a stored hash of the log; and a log
// rewritten to hide a change and grown, or forked (another root signed at
// the size the mirror and the witness hold). Witnesses vouch for the log
// only, that it is append-only and one for everybody: the witness
// refuses the rewritten and the forked log, keeping each as evidence; of
// the log whose hash was edited no checkpoint can be cosigned any more,
// since its tiles prove nothing; a log consistently extended is an
// extension, which the witness cosigns and ward sync refuses as an entry
// the feed lacks. Edits of the lists' rows leave the log as it was,
// cosigned, and ward sync finds that the feed disagrees with it.
func TestSyncAndWitnessRefuseTampering(t *testing.T) {
	value := func(n int) string { return fmt.Sprintf("%032x", n) }
	for _, engine := range engines {
		for _, tt := range []struct {
			name    string
			synced  int64 // the size the mirror is at before the tampering
			tamper  func(l *logged)
			sync    string // what ward sync says
			witness func(l *logged)
		}{
			{"an indicator's value edited", 10, func(l *logged) {
				l.exec(`UPDATE indicators SET value = $1 WHERE value = $2`, strings.Repeat("e", 32), value(15))
			}, `is not its log entry 14: the feed has value "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"`, nil},
			{"a change deleted", 10, func(l *logged) {
				l.exec(`DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes WHERE kind = 'activate')`)
			}, "log entry 19 (seq", nil},
			{"a change inserted", 10, func(l *logged) {
				// Where indicator 12 was added, pending, an activation.
				l.exec(`UPDATE changes SET kind = 'activate' WHERE kind = 'add' AND indicator_id = (SELECT id FROM indicators WHERE value = $1)`, value(12))
			}, ") is not in the log", nil},
			{"an entry of the log deleted", 10, func(l *logged) {
				l.exec(`DELETE FROM log_entries WHERE idx = 15 AND log_id = (SELECT id FROM logs WHERE name = 'lists/known')`)
			}, "reading entry bundle 000.p/20 of the log", nil},
			{"an entry forged onto the log", 10, func(l *logged) {
				l.rewrite(func(es [][]byte) [][]byte {
					e := translog.Entry{Seq: 1000, Kind: "activate", Signal: "md5", Value: strings.Repeat("f", 32), Category: "A1", At: time.Now()}
					return append(es, e.Marshal())
				})
			}, "log entry 20 (seq 1000, activate md5 ffffffffffffffffffffffffffffffff) is not in the list's change feed", func(l *logged) {
				l.waitCosigned(21)
			}},
			{"a hash of the log edited", 10, func(l *logged) {
				l.exec(`UPDATE log_hashes SET hash = $1 WHERE idx = 3 AND log_id = (SELECT id FROM logs WHERE name = 'lists/known')`, bytes.Repeat([]byte{7}, 32))
			}, "the log's tiles do not hash to the root of its checkpoint of size 20", func(l *logged) {
				l.importMore(5)
				time.Sleep(500 * time.Millisecond) // ten periods of the witness job
				if c := l.checkpoint(); !strings.Contains(c, "\n25\n") || strings.Contains(c, "— witness.test/w1 ") {
					t.Errorf("the checkpoint of the log whose hash was edited: %q", c)
				}
				if !strings.Contains(l.stderr.String(), "downloaded inconsistent tile") {
					t.Errorf("the server did not log why it cannot get a cosignature:\n%s", l.stderr)
				}
			}},
			{"the log rewritten and grown", 10, func(l *logged) {
				// Indicator 4's category changed, in the list and in the
				// log, consistently: only the history disagrees.
				l.exec(`UPDATE indicators SET category = 'B2' WHERE value = $1`, value(4))
				l.rewrite(recategorised)
				l.importMore(5)
			}, "the checkpoint of size 25 is not an extension of the one of size 10", func(l *logged) {
				l.waitRefused("does not verify")
				if code, errs := l.sync(true); code != 1 || !strings.Contains(errs, "has 0 valid cosignatures of the witnesses given, 1 required") {
					t.Errorf("ward sync requiring the witness: %d %q", code, errs)
				}
			}},
			{"the log forked", 20, func(l *logged) {
				l.exec(`UPDATE indicators SET category = 'B2' WHERE value = $1`, value(4))
				l.rewrite(recategorised)
			}, "two checkpoints of size 20 with different roots", func(l *logged) {
				l.waitRefused("the log is forked")
				if code, errs := l.sync(true); code != 1 || !strings.Contains(errs, "has 0 valid cosignatures of the witnesses given, 1 required") {
					t.Errorf("ward sync requiring the witness: %d %q", code, errs)
				}
			}},
		} {
			t.Run(engine.name+"/"+tt.name, func(t *testing.T) {
				l := newLogged(t, engine.flags(t))
				if code, errs := l.sync(true); code != 0 {
					t.Fatalf("the first sync: %d %s", code, errs)
				}
				l.importMore(10)
				l.waitCosigned(20)
				if tt.synced == 20 {
					if code, errs := l.sync(true); code != 0 {
						t.Fatalf("the second sync: %d %s", code, errs)
					}
				}
				before, err := os.ReadFile(l.mirror)
				if err != nil {
					t.Fatal(err)
				}
				tt.tamper(l)
				code, errs := l.sync(false)
				if code != 1 || !strings.Contains(errs, tt.sync) || !strings.Contains(errs, "the mirror was left as it was") {
					t.Errorf("ward sync: exit %d, %q; want 1 saying %q", code, errs, tt.sync)
				}
				if after, _ := os.ReadFile(l.mirror); !bytes.Equal(after, before) {
					t.Error("the mirror file changed")
				}
				if tt.witness != nil {
					tt.witness(l)
				}
			})
		}
	}
}

// TestSyncRealServer: against the real server, a mirror verifies from
// scratch and incrementally, a withdrawal included, with the witness's
// cosignature, and reports what it verified.
func TestSyncRealServer(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			l := newLogged(t, engine.flags(t))
			var res wardmirror.SyncResult
			sync := func() {
				t.Helper()
				code, out, errs := ward(t, "", "sync", "--server", l.url, "--key", l.key, "--list", "known", "--mirror", l.mirror,
					"--witness-key", l.wkey, "--require-witnesses", "1")
				if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
					t.Fatalf("sync: %d %s %s", code, out, errs)
				}
			}
			sync()
			if res.Verified != 10 || res.Active != 10 || res.Checkpoint.Origin != l.origin || res.Checkpoint.Size != 10 {
				t.Errorf("first sync: %+v", res)
			}
			l.importMore(10)
			de, err := client.New(l.url, l.hotlineKey)
			if err != nil {
				t.Fatal(err)
			}
			mr, err := de.Match(context.Background(), client.MatchRequest{Items: []client.Item{{MD5: fmt.Sprintf("%032x", 2)}}})
			if err != nil || len(mr.Results[0].Matches) != 1 {
				t.Fatalf("match: %+v, %v", mr, err)
			}
			if _, err := de.Withdraw(context.Background(), mr.Results[0].Matches[0].Indicator, "test"); err != nil {
				t.Fatal(err)
			}
			l.waitCosigned(21)
			sync()
			if res.Verified != 11 || res.Active != 19 || res.Checkpoint.Size != 21 {
				t.Errorf("incremental sync: %+v", res)
			}
		})
	}
}
