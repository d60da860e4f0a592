package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
)

// readVectors reads testdata/chain.jsonl: entries whose hashes were
// computed independently of this package (with Python's hashlib, from the
// encoding in the package documentation).
func readVectors(t *testing.T) []audit.Entry {
	t.Helper()
	f, err := os.Open("testdata/chain.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []audit.Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	return es
}

func TestVectors(t *testing.T) {
	ctx := context.Background()
	want := readVectors(t)
	l := audit.NewLog(newMemStore(), nil)
	for _, w := range want {
		e, err := l.Append(ctx, w.Event)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != w.Seq || e.Prev != w.Prev || e.Hash != w.Hash {
			t.Errorf("entry %d: seq %d prev %s hash %s; want prev %s hash %s", w.Seq, e.Seq, e.Prev, e.Hash, w.Prev, w.Hash)
		}
	}
	// The JSON lines export reads back as the same entries.
	var out bytes.Buffer
	if err := l.Export(ctx, &out, audit.Filter{}, "jsonl"); err != nil {
		t.Fatal(err)
	}
	var got []audit.Entry
	for line := range strings.Lines(out.String()) {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, e)
	}
	if !slices.EqualFunc(got, want, func(a, b audit.Entry) bool { return a.Hash == b.Hash && a.At.Equal(b.At) && a.Purpose == b.Purpose }) {
		t.Errorf("exported:\n%s", out.String())
	}
}

func TestAppendChecks(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	l := audit.NewLog(ms, nil)
	for _, actor := range []string{"user:1", "key:3f9a0c1d2e4b5a6f", audit.AdminCLI, audit.System, audit.Anonymous} {
		ev := event(0)
		ev.Actor = actor
		if _, err := l.Append(ctx, ev); err != nil {
			t.Errorf("actor %q: %v", actor, err)
		}
	}
	for name, edit := range map[string]func(*audit.Event){
		"e-mail actor":      func(e *audit.Event) { e.Actor = "alice@example.org" },
		"user name":         func(e *audit.Event) { e.Actor = "user:alice" },
		"empty actor":       func(e *audit.Event) { e.Actor = "" },
		"action one word":   func(e *audit.Event) { e.Action = "view" },
		"action capital":    func(e *audit.Event) { e.Action = "Report.view" },
		"action long":       func(e *audit.Event) { e.Action = "a." + strings.Repeat("b", 63) },
		"outcome":           func(e *audit.Event) { e.Outcome = "success" },
		"e-mail object":     func(e *audit.Event) { e.Object = "user:alice@example.org" },
		"e-mail purpose":    func(e *audit.Event) { e.Purpose = "asked by bob@example.org" },
		"control character": func(e *audit.Event) { e.Purpose = "a\nb" },
		"NUL":               func(e *audit.Event) { e.OrgName = "a\x00" },
		"bad UTF-8":         func(e *audit.Event) { e.Object = "\xff" },
		"long purpose":      func(e *audit.Event) { e.Purpose = strings.Repeat("x", 1001) },
		"negative org":      func(e *audit.Event) { e.OrgID = -1 },
	} {
		ev := event(0)
		edit(&ev)
		if _, err := l.Append(ctx, ev); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if len(ms.entries) != 5 {
		t.Errorf("%d entries, want 5", len(ms.entries))
	}

	// The time is set if missing, and kept as the databases keep it.
	ev := event(0)
	ev.At = time.Time{}
	before := time.Now()
	e, err := l.Append(ctx, ev)
	if err != nil || e.At.Before(before.Truncate(time.Microsecond)) || e.At.Location() != time.UTC {
		t.Errorf("no time given: %v, %v", e.At, err)
	}
	ev.At = time.Date(2026, 1, 1, 12, 0, 0, 1999, time.FixedZone("CET", 3600))
	if e, _ := l.Append(ctx, ev); e.At != time.Date(2026, 1, 1, 11, 0, 0, 1000, time.UTC) {
		t.Errorf("time %v", e.At)
	}
}

// chain makes a Log of n entries in memory, with a checkpoint after the
// first cp entries if cp > 0.
func chain(t *testing.T, n, cp int) (*memStore, *audit.Log, ed25519.PublicKey) {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(nil)
	ms := newMemStore()
	l := audit.NewLog(ms, key)
	for i := range n {
		if _, err := l.Append(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
		if i+1 == cp {
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ms, l, pub
}

// problems returns the problems of r as "kind first-last" strings.
func problems(r audit.Report) string {
	var ps []string
	for _, p := range r.Problems {
		ps = append(ps, fmt.Sprintf("%s %d-%d", p.Kind, p.Seq, p.Last))
	}
	return strings.Join(ps, ", ")
}

func TestVerify(t *testing.T) {
	rehash := func(ms *memStore, from int64) { // recompute the chain from an entry on
		prev := ms.entries[from-1].Hash
		for seq := from; seq <= int64(len(ms.entries)); seq++ {
			e := audit.Next(audit.Head{Seq: seq - 1, Hash: prev}, ms.entries[seq].Event)
			ms.entries[seq], prev = e, e.Hash
		}
		ms.head = audit.Head{Seq: int64(len(ms.entries)), Hash: prev}
	}
	truncate := func(ms *memStore, from int64) {
		for seq := range ms.entries {
			if seq >= from {
				delete(ms.entries, seq)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		cp     int // checkpoint after this many of the 10 entries
		tamper func(ms *memStore)
		want   string
	}{
		{"intact", 10, func(*memStore) {}, ""},
		{"intact without checkpoint", 0, func(*memStore) {}, ""},
		{"edit", 10, func(ms *memStore) {
			e := ms.entries[5]
			e.Action = "report.delete"
			ms.entries[5] = e
		}, "edited 5-5"},
		{"edit the time", 10, func(ms *memStore) {
			e := ms.entries[1]
			e.At = e.At.Add(time.Microsecond)
			ms.entries[1] = e
		}, "edited 1-1"},
		{"edit the hash", 10, func(ms *memStore) {
			e := ms.entries[10]
			e.Hash[0] ^= 1
			ms.entries[10] = e
		}, "edited 10-10"},
		{"edit and rehash one", 0, func(ms *memStore) {
			e := ms.entries[5]
			e.Purpose = "nothing to see"
			ms.entries[5] = audit.Next(audit.Head{Seq: 4, Hash: e.Prev}, e.Event)
		}, "inserted 6-6"},
		{"edit and rehash one under a checkpoint", 10, func(ms *memStore) {
			e := ms.entries[10]
			e.Purpose = "nothing to see"
			ms.entries[10] = audit.Next(audit.Head{Seq: 9, Hash: e.Prev}, e.Event)
			ms.head.Hash = ms.entries[10].Hash
		}, "rewritten 10-10"},
		{"edit and recompute the chain", 8, func(ms *memStore) {
			e := ms.entries[3]
			e.Outcome = audit.Denied
			ms.entries[3] = e
			rehash(ms, 3)
		}, "rewritten 8-8"},
		{"delete", 10, func(ms *memStore) { delete(ms.entries, 5) }, "deleted 5-5"},
		{"delete a range", 10, func(ms *memStore) { delete(ms.entries, 4); delete(ms.entries, 5); delete(ms.entries, 6) }, "deleted 4-6"},
		{"delete the first", 10, func(ms *memStore) { delete(ms.entries, 1) }, "deleted 1-1"},
		{"swap", 10, func(ms *memStore) {
			e3, e4 := ms.entries[3], ms.entries[4]
			e3.Seq, e4.Seq = 4, 3
			ms.entries[3], ms.entries[4] = e4, e3
		}, "reordered 3-3, reordered 4-4"},
		{"insert and renumber", 0, func(ms *memStore) {
			for seq := int64(10); seq >= 5; seq-- {
				e := ms.entries[seq]
				e.Seq++
				ms.entries[seq+1] = e
			}
			ms.entries[5] = audit.Next(audit.Head{Seq: 4, Hash: ms.entries[4].Hash}, event(99))
		}, "inserted 5-5, reordered 6-6, reordered 7-7, reordered 8-8, reordered 9-9, reordered 10-10, reordered 11-11, inserted 11-11"},
		{"append behind the log's back", 10, func(ms *memStore) {
			ms.entries[11] = audit.Next(ms.head, event(11))
		}, "inserted 11-11"},
		{"truncate", 0, func(ms *memStore) { truncate(ms, 9) }, "truncated 9-10"},
		{"truncate and move the head", 10, func(ms *memStore) {
			truncate(ms, 9)
			ms.head = audit.Head{Seq: 8, Hash: ms.entries[8].Hash}
		}, "truncated 9-10"},
		{"empty the log", 10, func(ms *memStore) {
			truncate(ms, 1)
			ms.head = audit.Head{}
		}, "truncated 1-10"},
		{"forge a checkpoint", 10, func(ms *memStore) {
			_, other, _ := ed25519.GenerateKey(nil)
			c := audit.Checkpoint{Seq: 3, Hash: ms.entries[3].Hash, At: time.Now()}
			c.Signature = ed25519.Sign(other, c.Message())
			ms.cps = append(ms.cps, c)
		}, "bad signature 3-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, _, pub := chain(t, 10, tc.cp)
			tc.tamper(ms)
			r, err := audit.Verify(context.Background(), ms, pub)
			if err != nil {
				t.Fatal(err)
			}
			if got := problems(r); got != tc.want {
				t.Errorf("problems: %s\nwant:     %s\n%v", got, tc.want, r.Problems)
			}
			if r.OK() != (tc.want == "") {
				t.Errorf("OK %v", r.OK())
			}
			if tc.cp > 0 && tc.name != "forge a checkpoint" && (r.Checkpoints != 1 || r.LastCheckpoint.Seq != int64(tc.cp)) {
				t.Errorf("checkpoints %d, last %+v", r.Checkpoints, r.LastCheckpoint)
			}
		})
	}
}

func TestVerifyReportsBounded(t *testing.T) {
	ms, _, pub := chain(t, audit.MaxProblems+10, 0)
	for seq, e := range ms.entries {
		e.Object = "report:2"
		ms.entries[seq] = e
	}
	r, err := audit.Verify(context.Background(), ms, pub)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != audit.MaxProblems || r.More != 10 || r.Entries != audit.MaxProblems+10 {
		t.Errorf("%d problems, %d more, %d entries", len(r.Problems), r.More, r.Entries)
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	ms, l, pub := chain(t, 3, 0)
	c, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Seq != 3 || c.Hash != ms.head.Hash || !c.Valid(pub) || c.At.Location() != time.UTC {
		t.Errorf("checkpoint %+v", c)
	}
	if !strings.HasPrefix(string(c.Message()), "ward audit checkpoint v1\nseq 3\nhash "+c.Hash.String()+"\ntime ") {
		t.Errorf("message %q", c.Message())
	}
	c.Seq = 2
	if c.Valid(pub) {
		t.Error("altered checkpoint is valid")
	}
	if _, err := audit.NewLog(ms, nil).Checkpoint(ctx); err == nil {
		t.Error("checkpoint without a key")
	}
}

func TestCheckpointText(t *testing.T) {
	ctx := context.Background()
	ms, l, pub := chain(t, 10, 10)
	var text []byte
	for range 2 {
		c, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.MarshalText()
		text = append(append(text, b...), '\n')
	}
	cps, err := audit.ParseCheckpoints(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 2 || !cps[1].Valid(pub) || cps[1].Seq != 10 || !cps[1].At.Equal(ms.cps[2].At) {
		t.Fatalf("parsed %+v", cps)
	}
	cut := cps[0]
	cut.Signature = cut.Signature[:60]
	b, _ := cut.MarshalText()
	short := string(b)
	for _, bad := range []string{
		"ward audit checkpoint v1\nseq 1\n",
		strings.Replace(string(text), "seq 10", "seq x", 1),
		strings.Replace(string(text), "hash ", "hash 00", 1),
		strings.Replace(string(text), "v1", "v2", 1),
		strings.Replace(string(text), "signature ", "signature !", 1),
		short, // a shorter signature, still base64
	} {
		if _, err := audit.ParseCheckpoints([]byte(bad)); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}

	// Someone cuts the tail off and deletes the stored checkpoints: only
	// the copies kept elsewhere show it.
	for seq := int64(8); seq <= 10; seq++ {
		delete(ms.entries, seq)
	}
	ms.head, ms.cps = audit.Head{Seq: 7, Hash: ms.entries[7].Hash}, nil
	if r, _ := audit.Verify(ctx, ms, pub); !r.OK() {
		t.Errorf("without the copies: %v", r.Problems)
	}
	r, err := audit.Verify(ctx, ms, pub, cps...)
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(r); got != "truncated 8-10" || r.Checkpoints != 2 {
		t.Errorf("with the copies: %s, %d checkpoints", got, r.Checkpoints)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.key")
	key, created, err := audit.LoadOrCreateSigningKey(path)
	if err != nil || !created {
		t.Fatalf("created %v, %v", created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", fi.Mode(), err)
	}
	again, created, err := audit.LoadOrCreateSigningKey(path)
	if err != nil || created || !key.Equal(again) {
		t.Errorf("second load: created %v, %v, same %v", created, err, key.Equal(again))
	}
	pub := key.Public().(ed25519.PublicKey)
	pubPath := filepath.Join(dir, "audit.pub")
	if err := os.WriteFile(pubPath, audit.MarshalPublicKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, pubPath} {
		if got, err := audit.LoadPublicKey(p); err != nil || !pub.Equal(got) {
			t.Errorf("LoadPublicKey(%s): %v", p, err)
		}
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := audit.LoadPublicKey(bad); err == nil {
		t.Error("LoadPublicKey of junk succeeded")
	}
	if _, _, err := audit.LoadOrCreateSigningKey(bad); err == nil {
		t.Error("LoadOrCreateSigningKey of junk succeeded")
	}

	// The formats are OpenSSL's: it reads the key, derives the same
	// public key, and checks a checkpoint's signature.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl to check interoperability")
	}
	out, err := exec.Command(openssl, "pkey", "-in", path, "-pubout").Output()
	if err != nil || !bytes.Equal(out, audit.MarshalPublicKey(pub)) {
		t.Errorf("openssl pkey -pubout: %s, %v", out, err)
	}
	ms := newMemStore()
	c, err := audit.NewLog(ms, key).Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msg, sig := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
	os.WriteFile(msg, c.Message(), 0o600)
	os.WriteFile(sig, c.Signature, 0o600)
	if out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput(); err != nil {
		t.Errorf("openssl pkeyutl -verify: %s, %v", out, err)
	}
}

func TestListAndLatest(t *testing.T) {
	ctx := context.Background()
	_, l, _ := chain(t, 30, 0)
	es, err := l.List(ctx, audit.Filter{After: 10, Limit: 5, Action: "user.add"})
	if err != nil {
		t.Fatal(err)
	}
	if seqs(es) != "12 15 18 21 24" {
		t.Errorf("List: %s", seqs(es))
	}
	es, _ = l.List(ctx, audit.Filter{OrgID: 2, Since: event(4).At, Until: event(13).At})
	if seqs(es) != "5 8 11" {
		t.Errorf("List by org and time: %s", seqs(es))
	}
	if _, err := l.List(ctx, audit.Filter{Limit: audit.MaxLimit + 1}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("limit too large: %v", err)
	}
	es, _ = l.Latest(ctx, 3)
	if seqs(es) != "30 29 28" {
		t.Errorf("Latest: %s", seqs(es))
	}
	es, _ = l.Latest(ctx, 100)
	if len(es) != 30 {
		t.Errorf("Latest(100) of 30: %d", len(es))
	}
}

func seqs(es []audit.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprint(e.Seq))
	}
	return strings.Join(s, " ")
}

func TestExportCSV(t *testing.T) {
	ctx := context.Background()
	l := audit.NewLog(newMemStore(), nil)
	for i := range 2500 { // more than one page
		ev := event(i)
		if i == 7 {
			ev.Purpose = "=HYPERLINK(\"http://evil\")"
		}
		if _, err := l.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := l.Export(ctx, &out, audit.Filter{}, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2501 || strings.Join(rows[0], ",") != "seq,at,org_id,org_name,actor,action,object,purpose,outcome,prev_hash,hash" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if r := rows[8]; r[0] != "8" || r[7] != "'=HYPERLINK(\"http://evil\")" || r[1] != "2026-01-02T03:04:05.000007Z" || len(r[10]) != 64 {
		t.Errorf("row 8: %q", r)
	}
	out.Reset()
	if err := l.Export(ctx, &out, audit.Filter{After: 1000, Limit: 1200, Action: "report.view"}, "csv"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1+500 { // a header, and of the 1500 entries after 1000 a third are views
		t.Errorf("%d lines", n)
	}
	out.Reset()
	if err := l.Export(ctx, &out, audit.Filter{Limit: 1001}, "jsonl"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1001 {
		t.Errorf("jsonl with limit 1001: %d lines", n)
	}
	if err := l.Export(ctx, &out, audit.Filter{}, "xml"); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("format xml: %v", err)
	}
}

func TestCheckpointFile(t *testing.T) {
	ctx := context.Background()
	ms, l, pub := chain(t, 4, 0)
	path := filepath.Join(t.TempDir(), "audit.checkpoints")
	l.CheckpointFile = path
	for range 3 { // the same head thrice, as an idle server signs it
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", fi, err)
	}
	// Each is stored in the database, but the file has a line only for
	// the head's first: it grows with the trail, not with time.
	if b, _ := os.ReadFile(path); len(ms.cps) != 3 || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("%d checkpoints stored, file of %d lines:\n%s", len(ms.cps), bytes.Count(b, []byte("\n")), b)
	}
	// Other processes (a restarted server, "ward admin audit checkpoint")
	// append the same head again.
	for _, c := range ms.cps[1:] {
		if err := audit.AppendCheckpointFile(path, c); err != nil {
			t.Fatal(err)
		}
	}

	// A line checks with the public key alone: Message rebuilt from its
	// fields.
	b, _ := os.ReadFile(path)
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	sig, _ := base64.StdEncoding.DecodeString(f[4])
	msg := fmt.Sprintf("ward audit checkpoint v1\nseq %s\nhash %s\ntime %s\n", f[1], f[2], f[3])
	if f[0] != "ward-audit-checkpoint-v1" || f[1] != "4" || f[2] != ms.head.Hash.String() || !ed25519.Verify(pub, []byte(msg), sig) {
		t.Errorf("line %q does not verify", f)
	}

	// A crash in the middle of an append tears the last line.
	torn := ms.cps[0].MarshalLine()
	fh, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	fh.Write(torn[:40])
	fh.Close()
	cf, err := audit.ReadCheckpointFile(path, pub)
	if err != nil || cf.Lines != 4 || len(cf.Checkpoints) != 1 || !slices.Equal(cf.Damaged, []int{4}) {
		t.Fatalf("torn tail: %+v, %v", cf, err)
	}
	// The latest of the repeated checkpoints is kept, with its line.
	if c := cf.Checkpoints[0]; c.Seq != 4 || !c.At.Equal(ms.cps[2].At) || c.From != path+" line 3" || !c.Valid(pub) {
		t.Errorf("checkpoint %+v", c)
	}

	// The next append ends the torn line: nothing before or after is lost.
	if _, err := l.Append(ctx, event(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// A line signed by another key is kept, for Verify to report.
	_, other, _ := ed25519.GenerateKey(nil)
	forged := audit.Checkpoint{Seq: 5, Hash: ms.head.Hash, At: time.Now()}
	forged.Signature = ed25519.Sign(other, forged.Message())
	if err := audit.AppendCheckpointFile(path, forged); err != nil {
		t.Fatal(err)
	}
	cf, err = audit.ReadCheckpointFile(path, pub)
	if err != nil || cf.Lines != 6 || len(cf.Checkpoints) != 3 || !slices.Equal(cf.Damaged, []int{4}) {
		t.Fatalf("after the torn line: %+v, %v", cf, err)
	}
	if c := cf.Checkpoints[1]; c.Seq != 5 || !c.Valid(pub) || c.From != path+" line 5" {
		t.Errorf("checkpoint after the torn line %+v", c)
	}
	r, err := audit.Verify(ctx, ms, pub, cf.Checkpoints...)
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(r); got != "bad signature 5-5" || !strings.Contains(r.Problems[0].Detail, path+" line 6") {
		t.Errorf("verify: %v", r.Problems)
	}

	// Lines of any length are bounded.
	fh, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	fh.Write(bytes.Repeat([]byte("x"), 1<<20))
	fh.Close()
	if cf, err = audit.ReadCheckpointFile(path, pub); err != nil || !slices.Equal(cf.Damaged, []int{4, 7}) || len(cf.Checkpoints) != 3 {
		t.Errorf("long line: %+v, %v", cf, err)
	}
	if _, err := audit.ReadCheckpointFile(filepath.Join(t.TempDir(), "none"), pub); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestCheckpointFileTornAnywhere cuts a line at every position, as a
// crash during its append may: the torn line is reported and skipped,
// never read as a checkpoint (a signature cut at a multiple of 4
// characters is still base64, of a shorter signature, that would fail
// Verify as forged), both before and after the next append ends it.
func TestCheckpointFileTornAnywhere(t *testing.T) {
	ctx := context.Background()
	ms, l, pub := chain(t, 4, 0)
	var cps [3]audit.Checkpoint
	for i := range cps {
		c, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cps[i] = c
	}
	whole, torn := cps[0].MarshalLine(), cps[1].MarshalLine()
	dir := t.TempDir()
	for n := range len(torn) {
		path := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(path, append(slices.Clip(whole), torn[:n]...), 0o600); err != nil {
			t.Fatal(err)
		}
		check := func(when string, lines int, damaged []int) {
			t.Helper()
			cf, err := audit.ReadCheckpointFile(path, pub)
			if err != nil {
				t.Fatalf("cut at %d, %s: %v", n, when, err)
			}
			for _, c := range cf.Checkpoints {
				if !c.Valid(pub) {
					t.Errorf("cut at %d, %s: %s read as a checkpoint with a bad signature", n, when, c.From)
				}
			}
			if cf.Lines != lines || !slices.Equal(cf.Damaged, damaged) {
				t.Errorf("cut at %d, %s: %d lines, damaged %v; want %d, %v", n, when, cf.Lines, cf.Damaged, lines, damaged)
			}
			if r, err := audit.Verify(ctx, ms, pub, cf.Checkpoints...); err != nil || !r.OK() {
				t.Errorf("cut at %d, %s: verify %v, %v", n, when, r.Problems, err)
			}
		}
		switch {
		case n == 0:
			check("before the next append", 1, nil)
		default: // a last line without its newline is torn, however much of it was written
			check("before the next append", 2, []int{2})
		}
		if err := audit.AppendCheckpointFile(path, cps[2]); err != nil {
			t.Fatal(err)
		}
		switch {
		case n == 0:
			check("after the next append", 2, nil)
		case n == len(torn)-1:
			// Only the newline was lost: the line, ended by the next
			// append, is whole and validly signed.
			check("after the next append", 3, nil)
		default:
			check("after the next append", 3, []int{2})
		}
	}
}
