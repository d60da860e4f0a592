package witness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
)

// memLog is a log in memory: its stored hashes and its key.
type memLog struct {
	origin string
	signer note.Signer
	vkey   string
	prefix string // of the records' text; "" is "record"
	hashes []tlog.Hash
	n      int64
}

func newMemLog(t *testing.T, origin string) *memLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &memLog{origin: origin, signer: s, vkey: vkey}
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = l.hashes[x]
	}
	return out, nil
}

// add appends n records.
func (l *memLog) add(t *testing.T, n int) {
	t.Helper()
	for range n {
		hs, err := tlog.StoredHashes(l.n, fmt.Appendf(nil, "%s %d\n", cmp.Or(l.prefix, "record"), l.n), l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
		l.n++
	}
}

func (l *memLog) tree(t *testing.T) tlog.Tree {
	t.Helper()
	h, err := tlog.TreeHash(l.n, l)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: l.n, Hash: h}
}

// checkpoint returns the log's checkpoint of tree, signed by signer.
func (l *memLog) checkpoint(t *testing.T, tree tlog.Tree, signer note.Signer) []byte {
	t.Helper()
	c := Checkpoint{Origin: l.origin, Tree: tree}
	msg, err := note.Sign(&note.Note{Text: c.String()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func (l *memLog) proof(t *testing.T, old int64) tlog.TreeProof {
	t.Helper()
	if old == 0 {
		return nil
	}
	p, err := tlog.ProveTree(l.n, old, l)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newWitness(t *testing.T, logs ...*memLog) (*Witness, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey("witness.example/w")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var ls []Log
	for _, l := range logs {
		pl, err := ParseLog(l.origin + "=" + l.vkey)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, pl)
	}
	w, err := Open(context.Background(), filepath.Join(t.TempDir(), "witness.db"), s, ls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.Clock = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return w, v
}

// TestAddCheckpoint: the witness cosigns a log's checkpoints as long as
// each extends the last it cosigned, and refuses, by the protocol's
// errors, everything else: a fork and a rewritten log are kept as
// evidence.
func TestAddCheckpoint(t *testing.T) {
	ctx := context.Background()
	log := newMemLog(t, "ward.example/lists/known")
	w, wv := newWitness(t, log)

	cosign := func(old int64, proof tlog.TreeProof, msg []byte) error {
		t.Helper()
		sigs, err := w.AddCheckpoint(ctx, old, proof, msg)
		if err != nil {
			return err
		}
		n, err := note.Open(append(msg, sigs...), note.VerifierList(wv, mustVerifier(t, log.vkey)))
		if err != nil || len(n.Sigs) != 2 {
			t.Fatalf("the answer %q is not the witness's cosignature: %v", sigs, err)
		}
		return nil
	}
	log.add(t, 5)
	five := log.tree(t)
	if err := cosign(0, nil, log.checkpoint(t, five, log.signer)); err != nil {
		t.Fatalf("the first checkpoint: %v", err)
	}
	log.add(t, 300)
	big := log.tree(t)
	if err := cosign(5, log.proof(t, 5), log.checkpoint(t, big, log.signer)); err != nil {
		t.Fatalf("an extension: %v", err)
	}
	if err := cosign(big.N, nil, log.checkpoint(t, big, log.signer)); err != nil {
		t.Fatalf("the same checkpoint again: %v", err)
	}
	if got, err := w.Latest(ctx, log.origin); err != nil || !strings.Contains(string(got), fmt.Sprintf("\n%d\n", big.N)) {
		t.Errorf("latest: %q, %v", got, err)
	}

	// A fork: another log of the same origin and key, as a rewritten
	// database would give.
	fork := &memLog{origin: log.origin, signer: log.signer, vkey: log.vkey, prefix: "other"}
	fork.add(t, 305)
	forked := fork.tree(t)
	other := newMemLog(t, "ward.example/lists/other")
	otherKey := newMemLog(t, log.origin) // same origin, another key
	var conflict *ConflictError
	for _, tt := range []struct {
		name  string
		old   int64
		proof tlog.TreeProof
		msg   []byte
		kind  error
		size  int64 // of a conflict
	}{
		{"a fork at the same size", big.N, nil, fork.checkpoint(t, forked, log.signer), core.ErrConflict, big.N},
		{"a stale old size", 5, log.proof(t, 5), log.checkpoint(t, big, log.signer), core.ErrConflict, big.N},
		{"a log it does not witness", 0, nil, other.checkpoint(t, big, other.signer), core.ErrNotFound, 0},
		{"another key", big.N, nil, log.checkpoint(t, big, otherKey.signer), core.ErrForbidden, 0},
		{"old above the size", big.N + 1, nil, log.checkpoint(t, big, log.signer), core.ErrInvalid, 0},
		{"a proof from size 0", 0, tlog.TreeProof{{}}, log.checkpoint(t, big, log.signer), core.ErrInvalid, 0},
		{"not a note", 0, nil, []byte(log.origin + "\n1\n"), core.ErrInvalid, 0},
	} {
		_, err := w.AddCheckpoint(ctx, tt.old, tt.proof, tt.msg)
		if !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
		if errors.As(err, &conflict) && conflict.Size != tt.size {
			t.Errorf("%s: conflict with size %d, want %d", tt.name, conflict.Size, tt.size)
		}
	}
	// A rewritten log grown further: its proof from the cosigned size
	// cannot verify.
	fork.add(t, 95)
	_, err := w.AddCheckpoint(ctx, big.N, fork.proof(t, big.N), fork.checkpoint(t, fork.tree(t), log.signer))
	if !errors.Is(err, core.ErrUnprocessable) {
		t.Errorf("a rewritten log: %v", err)
	}
	refused, err := w.Refused(ctx, log.origin)
	if err != nil || len(refused) != 2 || !strings.Contains(refused[0].Reason, "forked") || !strings.Contains(refused[1].Reason, "does not verify") {
		t.Errorf("refused: %+v, %v", refused, err)
	}
	if got, _ := w.Latest(ctx, log.origin); !strings.Contains(string(got), fmt.Sprintf("\n%d\n%s\n", big.N, big.Hash)) {
		t.Errorf("the witness's state moved: %q", got)
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHTTP: the protocol over HTTP, with its statuses, and the client's
// view of them; of two racing requests from the same size only one is
// cosigned, so the witness never goes back.
func TestHTTP(t *testing.T) {
	ctx := context.Background()
	log := newMemLog(t, "ward.example/lists/known")
	w, wv := newWitness(t, log)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	c := NewClient(srv.URL, wv, srv.Client())

	log.add(t, 3)
	three := log.tree(t)
	line, err := c.AddCheckpoint(ctx, 0, nil, log.checkpoint(t, three, log.signer))
	if err != nil || !strings.HasPrefix(string(line), "— witness.example/w ") {
		t.Fatalf("cosignature %q, %v", line, err)
	}
	ts, err := Timestamp(note.Signature{Base64: strings.Fields(string(line))[2]})
	if err != nil || !ts.Equal(w.Clock()) {
		t.Errorf("timestamp %v, %v; want the witness's clock", ts, err)
	}
	var conflict *ConflictError
	if _, err := c.AddCheckpoint(ctx, 0, nil, log.checkpoint(t, three, log.signer)); !errors.As(err, &conflict) || conflict.Size != 3 {
		t.Errorf("from size 0 again: %v, want a conflict at 3", err)
	}

	for _, tt := range []struct {
		body string
		code int
	}{
		{"old 3\n\n" + string(log.checkpoint(t, three, log.signer)), 200},
		{"old x\n\n" + string(log.checkpoint(t, three, log.signer)), 400},
		{"old 03\n\n" + string(log.checkpoint(t, three, log.signer)), 400},
		{"old 3\nnot a hash\n\n" + string(log.checkpoint(t, three, log.signer)), 400},
		{"old 3\n" + string(log.checkpoint(t, three, log.signer)), 400},
		{"old 1\n\n" + string(log.checkpoint(t, three, log.signer)), 409},
		{"old 0\n\nward.example/lists/other\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— x AAAA\n", 404},
	} {
		resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%q: %d, want %d", tt.body, resp.StatusCode, tt.code)
		}
		if tt.code == 409 && resp.Header.Get("Content-Type") != "text/x.tlog.size" {
			t.Errorf("conflict of type %q", resp.Header.Get("Content-Type"))
		}
	}

	log.add(t, 10)
	msg, proof := log.checkpoint(t, log.tree(t), log.signer), log.proof(t, 3)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.AddCheckpoint(ctx, 3, proof, msg) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.As(err, &conflict) || conflict.Size != 13 {
			t.Errorf("a racing request: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of the racing requests cosigned, want 1", ok)
	}
}
