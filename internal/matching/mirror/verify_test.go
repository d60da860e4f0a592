package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/matching/mirror/mirrortest"
)

// md5s returns n distinct MD5 values from k.
func md5s(k, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%032x", k*1_000_000+i)
	}
	return out
}

// grow adds n activations to l, indicators from id on.
func grow(t *testing.T, l *mirrortest.List, id int64, n int) {
	t.Helper()
	for i, v := range md5s(int(id), n) {
		l.Add(t, true, l.Change(client.ChangeActivate, id+int64(i), "md5", v))
	}
}

func syncMirror(t *testing.T, c *client.Client, path string, o SyncOptions) (SyncResult, error) {
	t.Helper()
	ctx := context.Background()
	m, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Bind(ctx, "http://ward.test", "known"); err != nil {
		t.Fatal(err)
	}
	return Sync(ctx, c, m, "known", o)
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, "ward_test", client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contents returns everything a mirror holds, closing nothing.
func contents(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	m, err := Open(ctx, path, false)
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
	m.ForEach(ctx, func(e Entry) error { fmt.Fprintf(&b, "%+v\n", e); return nil })
	return b.String()
}

// TestSyncVerified: a sync from scratch and then incremental ones verify
// every entry across bundles and partial tiles, apply quarantines,
// releases and withdrawals, trust the server's key once and say so, and
// store the checkpoint they verified.
func TestSyncVerified(t *testing.T) {
	srv := mirrortest.NewServer(t)
	l := srv.AddList(t, "known")
	c := newClient(t, srv.URL)
	path := filepath.Join(t.TempDir(), "known.mirror")

	grow(t, l, 1, 600)
	l.Sign(t)
	var trusted []string
	o := SyncOptions{Trusted: func(k string) { trusted = append(trusted, k) }}
	res, err := syncMirror(t, c, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != 600 || res.Applied != 600 || res.Active != 600 || res.Seq != 600 || res.Checkpoint.Size != 600 || res.Checkpoint.Origin != "ward.test/lists/known" {
		t.Errorf("first sync: %+v", res)
	}
	if len(trusted) != 1 || trusted[0] != l.VKey {
		t.Errorf("trusted on first use: %q, want the server's key once", trusted)
	}

	// Changes after the checkpoint wait for the next one; an unlogged
	// withdrawal of what was never active, as a key that reads pending
	// indicators sees, changes nothing.
	q := l.Change(client.ChangeQuarantine, 5, "md5", md5s(1, 600)[4])
	w := l.Change(client.ChangeWithdraw, 7, "md5", md5s(1, 600)[6])
	l.Add(t, true, q, w)
	l.Add(t, false, l.Change(client.ChangeAdd, 9000, "md5", md5s(9, 1)[0]), l.Change(client.ChangeWithdraw, 9000, "md5", md5s(9, 1)[0]))
	grow(t, l, 601, 100)
	l.Sign(t)
	l.Add(t, true, l.Change(client.ChangeRelease, 5, "md5", md5s(1, 600)[4])) // after the checkpoint
	l.NoPartials = true
	res, err = syncMirror(t, c, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != 102 || res.Applied != 102 || res.Active != 698 || res.Seq != 704 || res.Checkpoint.Size != 702 {
		t.Errorf("incremental sync: %+v", res)
	}
	l.Sign(t)
	if res, err = syncMirror(t, c, path, o); err != nil || res.Verified != 1 || res.Active != 699 || res.Seq != 705 {
		t.Errorf("the release: %+v, %v", res, err)
	}
	if res, err = syncMirror(t, c, path, o); err != nil || res.Verified != 0 || res.Applied != 0 {
		t.Errorf("a sync with nothing new: %+v, %v", res, err)
	}
	if len(trusted) != 1 {
		t.Errorf("the key was announced %d times", len(trusted))
	}
	st := stateOf(t, path)
	if st.LogKey != l.VKey || st.Checkpoint != string(l.Checkpoint) {
		t.Errorf("the mirror holds key %q and checkpoint %q, want %q and %q", st.LogKey, st.Checkpoint, l.VKey, l.Checkpoint)
	}
}

func stateOf(t *testing.T, path string) State {
	t.Helper()
	m, err := Open(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSyncRefuses: whatever is tampered with, in the feed, the entries,
// the tree or the checkpoint, the sync fails naming the check, and the
// mirror file is left byte for byte as it was.
func TestSyncRefuses(t *testing.T) {
	other := func(t *testing.T) note.Signer {
		skey, _, _ := note.GenerateKey(nil, "ward.test/lists/known")
		s, _ := note.NewSigner(skey)
		return s
	}
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, l *mirrortest.List) SyncOptions
		want   string
	}{
		{"an indicator's value edited in the feed", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Feed[21].Value = strings.Repeat("f", 32)
			return SyncOptions{}
		}, `is not its log entry 21: the feed has value "ffffffffffffffffffffffffffffffff"`},
		{"a change deleted from the feed", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Feed = append(l.Feed[:21:21], l.Feed[22:]...)
			return SyncOptions{}
		}, "log entry 21 (seq 22, activate md5"},
		{"an activation inserted in the feed", func(t *testing.T, l *mirrortest.List) SyncOptions {
			ch := l.Change(client.ChangeActivate, 999, "md5", strings.Repeat("e", 32))
			l.Feed = append(l.Feed, ch)
			l.Add(t, true, l.Change(client.ChangeActivate, 1000, "md5", strings.Repeat("d", 32)))
			l.Sign(t)
			return SyncOptions{}
		}, "change seq 31 (activate of indicator 999, md5 eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee) is not in the log"},
		{"an unlogged withdrawal of a held indicator", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Add(t, false, l.Change(client.ChangeWithdraw, 3, "md5", md5s(1, 30)[2]))
			grow(t, l, 100, 1)
			l.Sign(t)
			return SyncOptions{}
		}, "change seq 31 withdraws indicator 3, which the mirror holds"},
		{"an indicator's ID reused for another hash", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Feed = l.Feed[:20]
			l.Entries, l.Hashes = l.Entries[:20], nil
			l.Rebuild(t)
			for i := range 10 {
				ch := l.Change(client.ChangeActivate, int64(i+1), "md5", strings.Repeat(fmt.Sprint(i), 32))
				ch.Seq = int64(21 + i)
				l.Add(t, true, ch)
			}
			l.Sign(t)
			return SyncOptions{}
		}, "change seq 21 (activate of indicator 1 as md5 00000000000000000000000000000000): the mirror holds indicator 1 as md5"},
		{"an entry edited in the log", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Entries[25] = bytes.Replace(l.Entries[25], []byte(" md5 "), []byte(" sha256 "), 1)
			return SyncOptions{}
		}, "log entry 25: the entry the server sent"},
		{"a hash edited in the log", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Hashes[len(l.Hashes)-3][0] ^= 1
			return SyncOptions{}
		}, "the log's tiles do not hash to the root of its checkpoint of size 30"},
		{"the log rewritten and signed again", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Entries[3] = bytes.Replace(l.Entries[3], []byte(" A1 "), []byte(" B2 "), 1)
			l.Feed[3].Category = "B2"
			l.Rebuild(t)
			l.Sign(t)
			return SyncOptions{}
		}, "the checkpoint of size 30 is not an extension of the one of size 20"},
		{"a fork: another root at the mirror's size", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Entries = l.Entries[:20]
			l.Entries[19] = bytes.Replace(l.Entries[19], []byte(" A1 "), []byte(" B2 "), 1)
			l.Rebuild(t)
			l.Sign(t)
			return SyncOptions{}
		}, "two checkpoints of size 20 with different roots"},
		{"the log rolled back", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Checkpoint = l.SignTree(t, l.Tree(t, 10))
			return SyncOptions{}
		}, "the server's checkpoint has size 10, older than the mirror's (20)"},
		{"the log's key changed", func(t *testing.T, l *mirrortest.List) SyncOptions {
			l.Signer = other(t)
			l.VKey = "ward.test/lists/known+00000000+AQ=="
			l.Sign(t)
			return SyncOptions{}
		}, "the server now gives the key ward.test/lists/known+00000000+AQ==, which the mirror refuses"},
		{"another key pinned", func(t *testing.T, l *mirrortest.List) SyncOptions {
			_, vkey, _ := note.GenerateKey(nil, "ward.test/lists/known")
			return SyncOptions{LogKey: vkey}
		}, "the mirror trusts the log key " + "ward.test/lists/known+"},
		{"too few cosignatures", func(t *testing.T, l *mirrortest.List) SyncOptions {
			_, vkey, _ := witness.GenerateKey("witness.test/w")
			v, _ := witness.NewVerifier(vkey)
			return SyncOptions{Witnesses: []note.Verifier{v}, Quorum: 1}
		}, "the checkpoint of size 30 has 0 valid cosignatures of the witnesses given, 1 required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := mirrortest.NewServer(t)
			l := srv.AddList(t, "known")
			c := newClient(t, srv.URL)
			path := filepath.Join(t.TempDir(), "known.mirror")
			grow(t, l, 1, 20)
			l.Sign(t)
			if _, err := syncMirror(t, c, path, SyncOptions{}); err != nil {
				t.Fatal(err)
			}
			grow(t, l, 21, 10)
			l.Sign(t)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := contents(t, path)
			o := tt.tamper(t, l)
			_, err = syncMirror(t, c, path, o)
			if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("sync: %v\nwant ErrVerify saying %q", err, tt.want)
			}
			if got := contents(t, path); got != want {
				t.Errorf("the mirror changed:\n%s\nwas\n%s", got, want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("the mirror file is not byte for byte as it was")
			}
		})
	}
}

// TestSyncWitnessed: a sync that requires cosignatures accepts a
// checkpoint with enough of the given witnesses' valid ones.
func TestSyncWitnessed(t *testing.T) {
	srv := mirrortest.NewServer(t)
	l := srv.AddList(t, "known")
	c := newClient(t, srv.URL)
	var (
		clients   []*witness.Client
		verifiers []note.Verifier
	)
	for i := range 3 {
		w, v := startWitness(t, fmt.Sprintf("witness.test/w%d", i), l)
		clients, verifiers = append(clients, w), append(verifiers, v)
	}
	grow(t, l, 1, 300)
	l.Sign(t)
	l.Cosign(t, clients[:2]...)
	path := filepath.Join(t.TempDir(), "known.mirror")
	if _, err := syncMirror(t, c, path, SyncOptions{LogKey: l.VKey, Witnesses: verifiers, Quorum: 3}); !errors.Is(err, ErrVerify) {
		t.Errorf("3 of 3 required, 2 given: %v", err)
	}
	res, err := syncMirror(t, c, path, SyncOptions{LogKey: l.VKey, Witnesses: verifiers, Quorum: 2})
	if err != nil || fmt.Sprint(res.Witnesses) != "[witness.test/w0 witness.test/w1]" {
		t.Fatalf("2 of 3: %+v, %v", res, err)
	}
	grow(t, l, 301, 300)
	l.Sign(t)
	l.Cosign(t, clients...)
	if res, err := syncMirror(t, c, path, SyncOptions{Witnesses: verifiers, Quorum: 3}); err != nil || res.Verified != 300 {
		t.Errorf("3 of 3 after growing: %+v, %v", res, err)
	}
}

// startWitness starts a witness of l's log.
func startWitness(t *testing.T, name string, l *mirrortest.List) (*witness.Client, note.Verifier) {
	t.Helper()
	skey, vkey, err := witness.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := witness.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	log, err := witness.ParseLog(l.Signer.Name() + "=" + l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), s, []witness.Log{log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	hs := httptest.NewServer(w.Handler())
	t.Cleanup(hs.Close)
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return witness.NewClient(hs.URL, v, hs.Client()), v
}

// TestCompare: another copy of the log, larger or smaller, is consistent
// with the mirror's checkpoint; a fork is found whichever is larger, with
// the proof from either server's tiles.
func TestCompare(t *testing.T) {
	ctx := context.Background()
	srv := mirrortest.NewServer(t)
	l := srv.AddList(t, "known")
	c := newClient(t, srv.URL)
	grow(t, l, 1, 300)
	l.Sign(t)
	path := filepath.Join(t.TempDir(), "known.mirror")
	if _, err := syncMirror(t, c, path, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// other is another server of the same log (the same key), with the
	// entries of changes, possibly others.
	other := func(t *testing.T, entries [][]byte) string {
		s := mirrortest.NewServer(t)
		o := s.AddList(t, "known")
		o.Signer, o.VKey = l.Signer, l.VKey
		for _, e := range entries {
			o.AppendEntry(t, e)
		}
		o.Sign(t)
		return s.URL + "/v1/lists/known/log/checkpoint"
	}
	forked := func(n int) [][]byte {
		es := append([][]byte(nil), l.Entries[:n]...)
		es[100] = bytes.Replace(es[100], []byte(" A1 "), []byte(" B2 "), 1)
		return es
	}
	grow(t, l, 301, 200)
	l.Sign(t)
	longer := append([][]byte(nil), l.Entries...)
	m, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tt := range []struct {
		name    string
		entries [][]byte
		fork    bool
	}{
		{"a larger copy", longer, false},
		{"a smaller copy", longer[:150], false},
		{"the same", longer[:300], false},
		{"a larger fork", forked(500), true},
		{"a smaller fork", forked(200), true},
		{"a fork of the same size", forked(300), true},
	} {
		res, err := Compare(ctx, c, http.DefaultClient, m, other(t, tt.entries))
		if tt.fork != errors.Is(err, ErrFork) || (!tt.fork && err != nil) {
			t.Errorf("%s: %+v, %v", tt.name, res, err)
		}
		if res.Mirror.Size != 300 || res.Other.Size != int64(len(tt.entries)) {
			t.Errorf("%s: compared %+v", tt.name, res)
		}
	}
	// Signed by another key, it is not the log's checkpoint at all.
	s := mirrortest.NewServer(t)
	s.AddList(t, "known")
	if _, err := Compare(ctx, c, http.DefaultClient, m, s.URL+"/v1/lists/known/log/checkpoint"); !errors.Is(err, ErrVerify) || errors.Is(err, ErrFork) {
		t.Errorf("a checkpoint of another key: %v", err)
	}
}

// TestSyncRebuildsUnverified: a mirror an unverified sync made is rebuilt
// from the log, so what it held without proof is gone.
func TestSyncRebuildsUnverified(t *testing.T) {
	ctx := context.Background()
	srv := mirrortest.NewServer(t)
	l := srv.AddList(t, "known")
	grow(t, l, 1, 10)
	l.Sign(t)
	path := filepath.Join(t.TempDir(), "known.mirror")
	m, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	m.Bind(ctx, "http://ward.test", "known")
	if err := m.Apply(ctx, []Change{{Seq: 5, Kind: "activate", Entry: Entry{ID: 77, Signal: "md5", Value: strings.Repeat("7", 32), Category: "A1"}}}, 5); err != nil {
		t.Fatal(err)
	}
	m.Close()
	res, err := syncMirror(t, newClient(t, srv.URL), path, SyncOptions{})
	if err != nil || res.Verified != 10 || res.Active != 10 {
		t.Fatalf("%+v, %v", res, err)
	}
	if strings.Contains(contents(t, path), "ID:77 ") {
		t.Error("the unverified entry survived")
	}
}
