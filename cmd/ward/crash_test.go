package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

// buildWard builds the ward binary once per test run, for tests that need
// a server in a process of its own.
var buildWard = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ward-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ward")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// serverProc is "ward serve" running as a separate process.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
}

// startProc starts "ward serve" as a process and waits until it is ready.
func startProc(t *testing.T, storeFlags []string, extra ...string) *serverProc {
	t.Helper()
	bin, err := buildWard()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"serve", "--addr", "127.0.0.1:0", "--rate-key", "1e6", "--rate-ip", "1e6"}, storeFlags...), extra...)
	p := &serverProc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}}
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	re := regexp.MustCompile(`serving on (http://[0-9.:]+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m := re.FindStringSubmatch(p.stderr.String())
		if m == nil {
			continue
		}
		resp, err := http.Get(m[1] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.url = m[1]
				return p
			}
		}
	}
	t.Fatalf("ward serve did not become ready:\n%s", p.stderr)
	return nil
}

// crashDraft is the report submitted with idempotency key key: always the
// same for the same key, as a retry must be.
func crashDraft(key string) []byte {
	d := report.Draft{
		IncidentTime: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Type:         report.TypeKnown,
		Items:        []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: fmt.Sprintf("%x", md5.Sum([]byte(key)))}}},
		User:         report.User{ID: key, Country: "DE"},
		Service:      report.OnlineService{Type: report.Hosting},
		Awareness:    report.Awareness{Method: report.AutomatedMatch},
		Urgency:      report.Urgency{Urgent: true, Reason: "ongoing abuse"},
	}
	b, _ := json.Marshal(d)
	return b
}

// submit posts one hash-only report and returns its id, or an error if it
// was not acknowledged.
func submit(ctx context.Context, url, apiKey, key string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/reports?finish=true", bytes.NewReader(crashDraft(key)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		ID string `json:"id"`
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("%s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ID == "" {
		return "", fmt.Errorf("no report id in the answer: %v", err)
	}
	return r.ID, nil
}

// TestCrashIntake kills the server (SIGKILL, a separate process) while
// reports stream in from many clients, restarts it, and checks on both
// engines that every acknowledged report is there exactly once, whole
// (finished, its receipt recorded, its triage queued), that a retry of
// any report with its idempotency key after the restart creates no
// duplicate, and that every report is then forwarded (urgent reports
// forward automatically) to the competent authority and to Europol.
func TestCrashIntake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes a server")
	}
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			flags := engine.flags(t)
			admin := func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), flags...)...) }
			admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
			admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
			admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
			provKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
			serveFlags := append(slices.Clone(flags), "--auto-forward-urgent")

			srv := startProc(t, serveFlags)
			var (
				mu        sync.Mutex
				acked     = map[string]string{} // idempotency key -> report id
				attempted []string
				stop      atomic.Bool
				wg        sync.WaitGroup
			)
			for w := range 16 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						key := fmt.Sprintf("crash-%02d-%05d", w, i)
						mu.Lock()
						attempted = append(attempted, key)
						mu.Unlock()
						id, err := submit(ctx, srv.url, provKey, key)
						if err != nil {
							if stop.Load() {
								return
							}
							continue // the server died under it: not acknowledged
						}
						mu.Lock()
						acked[key] = id
						mu.Unlock()
					}
				})
			}
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= 300 {
					break
				}
			}
			if err := srv.cmd.Process.Kill(); err != nil { // SIGKILL, mid-stream
				t.Fatal(err)
			}
			srv.cmd.Wait()
			stop.Store(true)
			wg.Wait()
			if len(acked) < 300 {
				t.Fatalf("only %d reports acknowledged before the crash", len(acked))
			}
			t.Logf("%d reports acknowledged, %d attempted before SIGKILL", len(acked), len(attempted))

			db, err := store.Open(ctx, storeURL(flags))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stored := reportsByKey(t, db)
			for key, id := range acked {
				if stored[key] != id {
					t.Errorf("acknowledged report %s (%s) lost after the crash: stored as %q", key, id, stored[key])
				}
			}
			if n := storetest.Count(t, db, `SELECT count(*) FROM reports r WHERE r.state = 'draft'
				OR NOT EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.kind = 'received')
				OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'report.triage' AND j.ref = r.id)`); n != 0 {
				t.Errorf("%d reports half-stored", n)
			}

			// The providers retry everything not acknowledged, and
			// (wrongly, but harmlessly) everything acknowledged too.
			srv = startProc(t, serveFlags)
			for _, key := range attempted {
				id, err := submit(ctx, srv.url, provKey, key)
				if err != nil {
					t.Fatalf("retry of %s: %v", key, err)
				}
				if want, ok := acked[key]; ok && id != want {
					t.Errorf("retry of acknowledged %s gave report %s, want %s", key, id, want)
				}
			}
			stored = reportsByKey(t, db)
			if len(stored) != len(attempted) {
				t.Errorf("%d reports stored for %d distinct reports", len(stored), len(attempted))
			}
			if n := storetest.Count(t, db, `SELECT count(*) FROM report_events WHERE kind = 'received'`); n != len(attempted) {
				t.Errorf("%d receipts for %d reports", n, len(attempted))
			}

			// Every report reaches the DE authority and Europol once.
			want := 2 * len(attempted)
			var got int
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if got = storetest.Count(t, db, `SELECT count(*) FROM deliveries`); got >= want {
					break
				}
			}
			if got != want {
				t.Fatalf("%d deliveries, want %d (each report to bka and europol)\n%s", got, want, srv.stderr)
			}
			if n := storetest.Count(t, db, `SELECT count(*) FROM reports WHERE state <> 'forwarded'`); n != 0 {
				t.Errorf("%d reports not forwarded", n)
			}
			if n := storetest.Count(t, db, `SELECT count(*) FROM (SELECT report_id, org_id FROM deliveries GROUP BY report_id, org_id HAVING count(*) > 1) d`); n != 0 {
				t.Errorf("%d duplicate deliveries", n)
			}
		})
	}
}

// storeURL is the database that store flags name.
func storeURL(flags []string) string {
	if i := slices.Index(flags, "--database"); i >= 0 {
		return flags[i+1]
	}
	return "sqlite:" + filepath.Join(flags[slices.Index(flags, "--data")+1], "ward.db")
}

func reportsByKey(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := db.ReadOnly(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		clear(m)
		rows, err := tx.Query(ctx, `SELECT idempotency_key, id FROM reports`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, id string
			if err := rows.Scan(&k, &id); err != nil {
				return err
			}
			if _, dup := m[k]; dup {
				return fmt.Errorf("idempotency key %s stored twice", k)
			}
			m[k] = id
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
