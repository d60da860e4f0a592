package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
)

// keyEnv clears the environment variables that would take the keys and the
// database from elsewhere than --data, and returns a new data directory.
func keyEnv(t *testing.T) string {
	t.Helper()
	for _, v := range []string{"WARD_DATABASE_URL", "WARD_MASTER_KEY", "WARD_AUDIT_KEY_FILE", "WARD_AUDIT_CHECKPOINT_FILE"} {
		t.Setenv(v, "")
	}
	return filepath.Join(t.TempDir(), "data")
}

// openData opens the SQLite database of a data directory, closed when t
// ends.
func openData(t *testing.T, dir string) *store.DB {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// appendEvents appends n events to the audit trail of db.
func appendEvents(t *testing.T, db *store.DB, n int) {
	t.Helper()
	l := audit.NewLog(db, nil)
	for i := range n {
		ev := audit.Event{
			At:      time.Date(2026, 4, 1, 10, 0, i, 0, time.UTC),
			OrgID:   1,
			OrgName: "Hotline NL",
			Actor:   fmt.Sprintf("user:%d", i%3+1),
			Action:  []string{"report.view", "indicator.withdraw"}[i%2],
			Object:  fmt.Sprintf("report:%d", i),
			Outcome: audit.OK,
		}
		if _, err := l.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func wantExit(t *testing.T, what string, code, want int, stderr string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: exit status %d, want %d; stderr:\n%s", what, code, want, stderr)
	}
}

func TestAdminAuditVerify(t *testing.T) {
	dir := keyEnv(t)
	appendEvents(t, openData(t, dir), 6)

	code, cpText, stderr := ward(t, "", "admin", "audit", "checkpoint", "--data", dir)
	wantExit(t, "checkpoint", code, 0, stderr)
	wantOutput(t, "checkpoint", cpText, "ward audit checkpoint v1\nseq 6\nhash ")
	wantOutput(t, "checkpoint", stderr, "signed checkpoint at seq 6 at ")
	cps := filepath.Join(t.TempDir(), "audit.checkpoints")
	os.WriteFile(cps, []byte(cpText), 0o600)
	wantOutput(t, "checkpoint note", stderr, "created a new audit signing key in "+filepath.Join(dir, "audit.key"))
	wantOutput(t, "checkpoint note", stderr, "in production, keep it outside the data directory")
	appendEvents(t, openData(t, dir), 2)

	code, out, stderr := ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify", code, 0, stderr)
	wantOutput(t, "verify", out, "audit trail intact: 8 entries, last checkpoint at seq 6 signed ")
	wantOutput(t, "verify", out, "entries 7-8 are not covered by a checkpoint yet")

	// An auditor with only the public key.
	code, pem, stderr := ward(t, "", "admin", "audit", "pubkey", "--data", dir)
	wantExit(t, "pubkey", code, 0, stderr)
	wantOutput(t, "pubkey", pem, "-----BEGIN PUBLIC KEY-----\n")
	if stderr != "" {
		t.Errorf("pubkey of an existing key: stderr %q", stderr)
	}
	pub := filepath.Join(t.TempDir(), "audit.pub")
	os.WriteFile(pub, []byte(pem), 0o644)
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--key-file", pub)
	wantExit(t, "verify with the public key", code, 0, stderr)
	wantOutput(t, "verify with the public key", out, "audit trail intact: 8 entries")

	// Tampering through the database file, bypassing Ward.
	raw, err := sql.Open("sqlite", filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_log SET outcome = 'denied' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM audit_log WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify after tampering", code, 1, stderr)
	if want := "entry 3: edited: its fields do not match its hash\nentry 5: deleted: missing between entries 4 and 6\n"; out != want {
		t.Errorf("report:\n%s\nwant:\n%s", out, want)
	}
	wantOutput(t, "verify after tampering", stderr, "the audit trail has been tampered with: 2 problems in 7 entries")

	// Wrong or missing keys.
	other := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := audit.LoadOrCreateSigningKey(other); err != nil {
		t.Fatal(err)
	}
	code, out, _ = ward(t, "", "admin", "audit", "verify", "--data", dir, "--key-file", other)
	wantExit(t, "verify with another key", code, 1, "")
	wantOutput(t, "verify with another key", out, "entry 6: bad signature: the checkpoint of ")
	code, _, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--key-file", filepath.Join(dir, "missing"))
	wantExit(t, "verify without a key", code, 1, stderr)
	wantOutput(t, "verify without a key", stderr, "no audit key in ")
	code, _, stderr = ward(t, "", "admin", "audit", "checkpoint", "--data", dir, "--audit-key-file", other)
	wantExit(t, "checkpoint with another key", code, 1, stderr)
	wantOutput(t, "checkpoint with another key", stderr, "did not sign the audit checkpoints in the database")

	// Cutting the tail and deleting the stored checkpoints is seen with
	// the copy kept outside.
	if _, err := raw.Exec(`DELETE FROM audit_log WHERE seq >= 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)`); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.checkpoints")
	os.WriteFile(empty, nil, 0o600)
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--audit-checkpoint-file", empty)
	wantExit(t, "verify without the file", code, 0, stderr)
	wantOutput(t, "verify without the file", out, "audit trail intact: 2 entries; no signed checkpoint yet")
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--audit-checkpoint-file", empty, "--checkpoints", cps)
	wantExit(t, "verify with the copy", code, 1, stderr)
	wantOutput(t, "verify with the copy", out, "entries 3-6: truncated: missing at the end: the checkpoint signed ")
	// The checkpoint file, read by default, shows it too.
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify with the file", code, 1, stderr)
	wantOutput(t, "verify with the file", out, "entries 3-6: truncated: missing at the end: the checkpoint signed ")
	wantOutput(t, "verify with the file", out, "("+filepath.Join(dir, "audit.checkpoints")+" line 1) covers 6 entries")
}

// TestAdminAuditVerifyWiped: someone with write access to the database
// deletes the whole trail, resets the head and deletes the checkpoints.
// The checkpoint file beside the key, written by the server and by
// "ward admin audit checkpoint", shows it.
func TestAdminAuditVerifyWiped(t *testing.T) {
	dir := keyEnv(t)
	appendEvents(t, openData(t, dir), 6)
	code, _, stderr := ward(t, "", "admin", "audit", "checkpoint", "--data", dir)
	wantExit(t, "checkpoint", code, 0, stderr)
	file := filepath.Join(dir, "audit.checkpoints")
	wantOutput(t, "checkpoint", stderr, "appended to "+file)
	appendEvents(t, openData(t, dir), 2)

	raw, err := sql.Open("sqlite", filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DELETE FROM audit_log`, `DELETE FROM audit_checkpoints`,
		`UPDATE audit_head SET seq = 0, hash = zeroblob(32)`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify the wiped trail", code, 1, stderr)
	wantOutput(t, "verify the wiped trail", out, "entries 1-6: truncated: missing at the end: the checkpoint signed ")
	wantOutput(t, "verify the wiped trail", stderr, "the audit trail has been tampered with: 1 problem in 0 entries")

	// A crash tore the file's last line: reported, and the rest still counts.
	f, _ := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("ward-audit-checkpoint-v1 7 ab")
	f.Close()
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify with a torn line", code, 1, stderr)
	wantOutput(t, "verify with a torn line", stderr, file+" line 2: not a checkpoint (a write torn by a crash?): skipped")
	wantOutput(t, "verify with a torn line", out, "entries 1-6: truncated")

	// Elsewhere (another node's file), the flag names it; a missing
	// default file is only a note.
	other := filepath.Join(t.TempDir(), "node2.checkpoints")
	os.Rename(file, other)
	code, _, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir)
	wantExit(t, "verify without the file", code, 0, stderr)
	wantOutput(t, "verify without the file", stderr, "no checkpoint file "+file)
	code, _, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--audit-checkpoint-file", filepath.Join(dir, "missing"))
	wantExit(t, "verify with a missing file", code, 1, stderr)
	code, out, stderr = ward(t, "", "admin", "audit", "verify", "--data", dir, "--audit-checkpoint-file", other)
	wantExit(t, "verify with the other file", code, 1, stderr)
	wantOutput(t, "verify with the other file", out, "("+other+" line 1) covers 6 entries")
}

func TestAdminAuditExport(t *testing.T) {
	dir := keyEnv(t)
	appendEvents(t, openData(t, dir), 10)

	code, out, stderr := ward(t, "", "admin", "audit", "export", "--data", dir, "--action", "report.view",
		"--since", "2026-04-01T10:00:04Z", "--purpose", "annual audit")
	wantExit(t, "export", code, 0, stderr)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, r := range rows[1:] {
		seqs = append(seqs, r[0])
	}
	if rows[0][0] != "seq" || strings.Join(seqs, " ") != "5 7 9" {
		t.Errorf("export:\n%s", out)
	}

	code, out, stderr = ward(t, "", "admin", "audit", "export", "--data", dir, "--format", "jsonl", "--until", "2999-01-01")
	wantExit(t, "export jsonl", code, 0, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The ten events and the first export, which was recorded; this one
	// is recorded after it is written.
	if len(lines) != 11 || !strings.Contains(lines[10], `"actor":"admin-cli","action":"audit.export","object":"","purpose":"annual audit","outcome":"ok"`) {
		t.Errorf("export jsonl:\n%s", out)
	}

	for _, args := range [][]string{{"--format", "xml"}, {"--since", "yesterday"}, {"extra"}} {
		code, _, stderr := ward(t, "", append([]string{"admin", "audit", "export", "--data", dir}, args...)...)
		wantExit(t, fmt.Sprint(args), code, 2, stderr)
	}
}

func TestAdminKeysRotate(t *testing.T) {
	ctx := context.Background()
	dir := keyEnv(t)
	code, _, stderr := ward(t, "", "admin", "keys", "rotate", "--data", dir)
	wantExit(t, "rotate without a keyring", code, 1, stderr)
	wantOutput(t, "rotate without a keyring", stderr, "no keyring in "+filepath.Join(dir, "master.keys"))

	// Seal records as the server would, with the default keyring.
	db := openData(t, dir)
	kf := parseKeyFlags(t, "--data", dir)
	s, err := kf.Sealer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for i := range 5 {
		b, err := s.Seal(ctx, fmt.Appendf(nil, "secret %d", i), fmt.Appendf(nil, "r:%d", i))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	wantOutput(t, "keyring note", kf.fs.Output().(*bytes.Buffer).String(), "created a new keyring in "+filepath.Join(dir, "master.keys"))

	code, out, stderr := ward(t, "", "admin", "keys", "rotate", "--data", dir)
	wantExit(t, "rotate", code, 0, stderr)
	for _, want := range []string{
		"added master key v2 to " + filepath.Join(dir, "master.keys") + "\n",
		"re-wrapped 5 data keys with master key v2\n",
		"data keys by master key: v2: 5\n",
		"no data key needs master keys v1 any more: they can be removed from ",
	} {
		wantOutput(t, "rotate", out, want)
	}
	code, out, stderr = ward(t, "", "admin", "keys", "rotate", "--data", dir, "--rewrap-only")
	wantExit(t, "rotate --rewrap-only", code, 0, stderr)
	wantOutput(t, "rotate --rewrap-only", out, "re-wrapped 0 data keys with master key v2\n")

	// Remove v1 from the file: everything opens.
	path := filepath.Join(dir, "master.keys")
	b, _ := os.ReadFile(path)
	var kept []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "master:v1:") {
			kept = append(kept, line)
		}
	}
	os.WriteFile(path, []byte(strings.Join(kept, "")), 0o600)
	s, err = parseKeyFlags(t, "--data", dir).Sealer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		if got, err := s.Open(ctx, b, fmt.Appendf(nil, "r:%d", i)); err != nil || string(got) != fmt.Sprintf("secret %d", i) {
			t.Errorf("record %d: %q, %v", i, got, err)
		}
	}
	es, err := audit.NewLog(db, nil).List(ctx, audit.Filter{Action: "keys.rotate"})
	if err != nil || len(es) != 2 || es[0].Object != "master_key:v2" {
		t.Errorf("rotations audited: %+v, %v", es, err)
	}

	// Another keyring is refused, by the server as by rotation.
	other := filepath.Join(t.TempDir(), "other.keys")
	if _, err := seal.CreateKeyringFile(other); err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeyFlags(t, "--data", dir, "--master-key-file", other).Sealer(ctx, db); err == nil ||
		!strings.Contains(err.Error(), "the keyring lacks master keys that wrap data keys in the database: v2 (missing; it wraps 5 data key(s))") {
		t.Errorf("sealer with another keyring: %v", err)
	}
	code, _, stderr = ward(t, "", "admin", "keys", "rotate", "--data", dir, "--master-key-file", other)
	wantExit(t, "rotate another keyring", code, 1, stderr)
	wantOutput(t, "rotate another keyring", stderr, "the keyring lacks")

	t.Setenv("WARD_MASTER_KEY", string(b))
	code, _, stderr = ward(t, "", "admin", "keys", "rotate", "--data", dir)
	wantExit(t, "rotate WARD_MASTER_KEY", code, 1, stderr)
	wantOutput(t, "rotate WARD_MASTER_KEY", stderr, "the keyring comes from WARD_MASTER_KEY")
}

// parseKeyFlags parses key and store flags as a command would, with the
// notes about new keys going to a buffer.
func parseKeyFlags(t *testing.T, args ...string) *KeyFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	AddStoreFlags(fs)
	kf := AddKeyFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return kf
}
