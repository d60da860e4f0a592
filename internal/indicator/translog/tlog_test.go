package translog_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator/translog"
)

var update = flag.Bool("update", false, "rewrite the pinned vectors in testdata")

// memHashes is a log's stored hashes in memory, counting the reads.
type memHashes struct {
	hashes []tlog.Hash
	reads  int
}

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	m.reads += len(indexes)
	return out, nil
}

func entries(n int) [][]byte {
	es := make([][]byte, n)
	for i := range es {
		es[i] = fmt.Appendf(nil, "entry %d\n", i)
	}
	return es
}

// TestAppend: appending in batches of any size stores exactly the hashes
// that tlog.StoredHashes stores one record at a time, and gives the tree
// hash of tlog.TreeHash, reading only the right edge of the tree.
func TestAppend(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const total = 3000
	es := entries(total)
	want := &memHashes{}
	for i, e := range es {
		hs, err := tlog.StoredHashes(int64(i), e, want)
		if err != nil {
			t.Fatal(err)
		}
		want.hashes = append(want.hashes, hs...)
	}
	for _, maxBatch := range []int{1, 2, 7, 256, 1000, total} {
		got := &memHashes{}
		for n := 0; n < total; {
			k := min(1+r.IntN(maxBatch), total-n)
			got.reads = 0
			hs, root, err := translog.Append(int64(n), es[n:n+k], got)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got.hashes)) != tlog.StoredHashCount(int64(n)) {
				t.Fatalf("stored %d hashes before entry %d", len(got.hashes), n)
			}
			got.hashes = append(got.hashes, hs...)
			n += k
			if int64(len(got.hashes)) != tlog.StoredHashCount(int64(n)) {
				t.Fatalf("batch %d: %d hashes for a tree of %d", maxBatch, len(got.hashes), n)
			}
			wantRoot, err := tlog.TreeHash(int64(n), want)
			if err != nil {
				t.Fatal(err)
			}
			if root != wantRoot {
				t.Fatalf("batch %d: root of %d is %v, want %v", maxBatch, n, root, wantRoot)
			}
			if got.reads > 2*12+2 { // log2(3000) < 12: the right edge twice at most
				t.Errorf("batch %d: appending %d to %d read %d stored hashes", maxBatch, k, n-k, got.reads)
			}
		}
		for i := range want.hashes {
			if got.hashes[i] != want.hashes[i] {
				t.Fatalf("batch %d: stored hash %d differs", maxBatch, i)
			}
		}
	}
	if _, _, err := translog.Append(0, [][]byte{make([]byte, translog.MaxEntry+1)}, &memHashes{}); err == nil {
		t.Error("an entry too long for a bundle was appended")
	}
}

func TestTilePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		tile tlog.Tile
	}{
		{"tile/0/000", tlog.Tile{H: 8, L: 0, N: 0, W: 256}},
		{"tile/0/001.p/7", tlog.Tile{H: 8, L: 0, N: 1, W: 7}},
		{"tile/1/x001/234", tlog.Tile{H: 8, L: 1, N: 1234, W: 256}},
		{"tile/2/x001/x234/067.p/255", tlog.Tile{H: 8, L: 2, N: 1234067, W: 255}},
		{"tile/entries/000.p/1", tlog.Tile{H: 8, L: -1, N: 0, W: 1}},
		{"tile/entries/x001/234", tlog.Tile{H: 8, L: -1, N: 1234, W: 256}},
	} {
		got, err := translog.ParseTilePath(tc.path)
		if err != nil || got != tc.tile {
			t.Errorf("ParseTilePath(%q) = %+v, %v; want %+v", tc.path, got, err, tc.tile)
		}
		if p := translog.TilePath(tc.tile); p != tc.path {
			t.Errorf("TilePath(%+v) = %q, want %q", tc.tile, p, tc.path)
		}
	}
	for _, bad := range []string{
		"", "tile", "tile/", "tile/0", "tile/0/", "tile/0/0", "tile/0/00", "tile/0/1", "tile/0/0000",
		"tile/00/000", "tile/-1/000", "tile/a/000", "tile/0/x000", "tile/0/001/234", "tile/0/x01/234",
		"tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/010", "tile/0/000.p/", "tile/0/000.p", "tile/0/000.p/-1",
		"tile/0/000/", "tile/0/x000/001", "tile/data/000", "tile/8/0/000", "tile/entries/000.p/256", "tile/entries",
		"tile/entries/", "tile/64/000", "tile/0/x999/x999/x999/x999/x999/x999/x999/999", "tile/0/+01", "tile/0/ 01",
		"/tile/0/000", "tile/0/000?x=1",
	} {
		if tl, err := translog.ParseTilePath(bad); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseTilePath(%q) = %+v, %v; want an error", bad, tl, err)
		}
	}
}

func TestInTree(t *testing.T) {
	for _, tc := range []struct {
		tile tlog.Tile
		size int64
		want bool
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 1}, 0, false},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 1}, 1, true},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, 255, false},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, 256, true},
		{tlog.Tile{H: 8, L: 0, N: 1, W: 1}, 256, false},
		{tlog.Tile{H: 8, L: 0, N: 1, W: 1}, 257, true},
		{tlog.Tile{H: 8, L: -1, N: 1, W: 44}, 300, true},
		{tlog.Tile{H: 8, L: -1, N: 1, W: 45}, 300, false},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 1}, 255, false},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 1}, 256, true},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 2}, 511, false},
		{tlog.Tile{H: 8, L: 7, N: 0, W: 1}, 1 << 56, true},
		{tlog.Tile{H: 8, L: 8, N: 0, W: 1}, 1<<63 - 1, false},
		{tlog.Tile{H: 8, L: 0, N: 1 << 60, W: 256}, 1<<63 - 1, false},
	} {
		if got := translog.InTree(tc.tile, tc.size); got != tc.want {
			t.Errorf("InTree(%+v, %d) = %v", tc.tile, tc.size, got)
		}
	}
}

func TestBundle(t *testing.T) {
	es := [][]byte{[]byte("a\n"), {}, bytes.Repeat([]byte("x"), translog.MaxEntry)}
	var b []byte
	for _, e := range es {
		b = translog.AppendBundle(b, e)
	}
	if !bytes.Equal(b[:4], []byte{0, 2, 'a', '\n'}) {
		t.Errorf("bundle starts %q", b[:4])
	}
	got, err := translog.ParseBundle(b)
	if err != nil || len(got) != len(es) {
		t.Fatalf("ParseBundle: %d entries, %v", len(got), err)
	}
	for i := range es {
		if !bytes.Equal(got[i], es[i]) {
			t.Errorf("entry %d differs", i)
		}
	}
	for _, bad := range [][]byte{{0}, {0, 3, 'a', 'b'}, append(b, 0)} {
		if _, err := translog.ParseBundle(bad); err == nil {
			t.Errorf("ParseBundle(%q...) took a broken bundle", bad[:min(len(bad), 8)])
		}
	}
}

// testKey is a fixed key, so that the signed checkpoint is a pinned
// vector (Ed25519 signatures are deterministic).
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// TestCheckpoint: a checkpoint signed with NewSigner opens with package
// note and the key of VerifierKey, and parses back; the key and the note
// are pinned in testdata.
func TestCheckpoint(t *testing.T) {
	const origin = "ward.example.org/lists/known"
	hs := &memHashes{}
	for i, e := range entries(5) {
		h, err := tlog.StoredHashes(int64(i), e, hs)
		if err != nil {
			t.Fatal(err)
		}
		hs.hashes = append(hs.hashes, h...)
	}
	root, err := tlog.TreeHash(5, hs)
	if err != nil {
		t.Fatal(err)
	}
	c := translog.Checkpoint{Origin: origin, Size: 5, Root: root}
	signer, err := translog.NewSigner(origin, testKey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := translog.Sign(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := translog.VerifierKey(origin, testKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != signer.KeyHash() || v.Name() != origin {
		t.Errorf("verifier %s %08x, signer %s %08x", v.Name(), v.KeyHash(), signer.Name(), signer.KeyHash())
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	got, err := translog.ParseCheckpoint(n.Text)
	if err != nil || got != c {
		t.Errorf("ParseCheckpoint = %+v, %v; want %+v", got, err, c)
	}
	pin(t, "checkpoint.txt", signed)
	pin(t, "key.txt", []byte(vkey+"\n"))

	if _, err := translog.Sign(translog.Checkpoint{Origin: "other", Size: 5, Root: root}, signer); err == nil {
		t.Error("signed another origin's checkpoint")
	}
	for _, bad := range []string{"", "a\n5\n", "a\n05\n" + b64(root) + "\n", "a\n-1\n" + b64(root) + "\n", "a\n5\nxyz\n",
		"a b\n5\n" + b64(root) + "\n", "a\n5\n" + b64(root), "a+b\n5\n" + b64(root) + "\n"} {
		if _, err := translog.ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) took it", bad)
		}
	}
	if got, err := translog.ParseCheckpoint("a\n5\n" + b64(root) + "\nextension\n"); err != nil || got.Size != 5 {
		t.Errorf("a checkpoint with an extension line: %+v, %v", got, err)
	}
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// pin compares b with testdata/name, or rewrites it with -update.
func pin(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s changed:\n%s\nwant:\n%s", path, b, want)
	}
}

func TestParseCosignature(t *testing.T) {
	good := "— witness.example/w1 " + "AAAAAQE="
	if name, err := translog.ParseCosignature(good); err != nil || name != "witness.example/w1" {
		t.Errorf("ParseCosignature(%q) = %q, %v", good, name, err)
	}
	for _, bad := range []string{"", "- witness AAAAAQE=", "— witness", "— witness AAAA", "— witness AAAAAQE=\n",
		"— wit ness AAAAAQE=", "— witness+x AAAAAQE=", "— witness !!!!"} {
		if _, err := translog.ParseCosignature(bad); err == nil {
			t.Errorf("ParseCosignature(%q) took it", bad)
		}
	}
}
