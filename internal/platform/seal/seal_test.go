package seal_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/platform/seal"
)

const (
	testIndex = "index:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testV1    = "master:v1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
	testV2    = "master:v2:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
)

func mustKeyring(t *testing.T, s string) *seal.Keyring {
	t.Helper()
	k, err := seal.KeyringFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringText(t *testing.T) {
	for _, s := range []string{
		testIndex + "\n" + testV1 + "\n",
		testIndex + " " + testV1,
		"# comment\n\n  " + testV1 + " # the first\n" + testIndex + "\r\n",
	} {
		k := mustKeyring(t, s)
		if k.Current() != "v1" || fmt.Sprint(k.Versions()) != "[v1]" {
			t.Errorf("%q: current %s, versions %v", s, k.Current(), k.Versions())
		}
	}
	// Versions need not be listed in order nor start at 1 (older ones may
	// have been removed); the highest is current.
	k := mustKeyring(t, strings.Join([]string{testIndex, strings.Replace(testV2, "v2", "v10", 1), strings.Replace(testV1, "v1", "v9", 1)}, "\n"))
	if k.Current() != "v10" || fmt.Sprint(k.Versions()) != "[v9 v10]" {
		t.Errorf("current %s, versions %v", k.Current(), k.Versions())
	}

	secret := strings.TrimPrefix(testV1, "master:v1:")
	for s, want := range map[string]string{
		"":                                          "no index key",
		testIndex:                                   "no master key",
		testV1:                                      "no index key",
		testIndex + " " + testIndex:                 "line 1: second index key",
		testIndex + "\n" + testV1 + " " + testV1:    "line 2: second master key v1",
		testIndex + " master:1:" + secret:           `not "v" and a number`,
		testIndex + " master:v0:" + secret:          `not "v" and a number`,
		testIndex + " master:v01:" + secret:         `not "v" and a number`,
		testIndex + " master:v1:" + secret[:40]:     "master key v1: not 32 bytes",
		testIndex + " master:v1:" + secret + "AAAA": "master key v1: not 32 bytes",
		"index:" + secret[1:] + " " + testV1:        "index key: not 32 bytes",
		testIndex + " " + testV1 + " key:" + secret: "neither index",
	} {
		_, err := seal.KeyringFromString(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", s, err, want)
		}
		if err != nil && strings.Contains(err.Error(), secret[:20]) {
			t.Errorf("error %q quotes the key", err)
		}
	}
}

func TestKeyringFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.keys")
	k, err := seal.CreateKeyringFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, path)
	if _, err := seal.CreateKeyringFile(path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second create: %v", err)
	}
	before, _ := os.ReadFile(path)

	if v := k.Rotate(); v != "v2" {
		t.Errorf("rotated to %s", v)
	}
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, path)
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after[bytes.Index(after, []byte("index:")):], before[bytes.Index(before, []byte("index:")):]) {
		t.Errorf("rotation changed the existing keys:\n%s\n%s", before, after)
	}
	l, err := seal.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Current() != "v2" || fmt.Sprint(l.Versions()) != "[v1 v2]" {
		t.Errorf("loaded %v", l)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", l, l, l, l); strings.Contains(s, "index:") || strings.Contains(s, string(after[len(after)-20:len(after)-1])) {
		t.Errorf("printing a keyring shows its keys: %s", s)
	}
	if _, err := seal.LoadKeyring(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func wantPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	s := seal.NewSealer(mustKeyring(t, testIndex+" "+testV1), ms)
	msg := []byte("alice@example.org")
	aad := []byte("users.email:42")
	blob, err := s.Seal(ctx, msg, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, msg) || len(blob) != 1+8+12+len(msg)+16 {
		t.Errorf("blob %x", blob)
	}
	got, err := s.Open(ctx, blob, aad)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open: %q, %v", got, err)
	}
	again, _ := s.Seal(ctx, msg, aad)
	if bytes.Equal(again, blob) {
		t.Error("sealing twice gave the same blob")
	}
	if len(ms.keys) != 2 {
		t.Errorf("%d data keys, want one per Seal", len(ms.keys))
	}
	empty, err := s.Seal(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open(ctx, empty, nil); err != nil || len(got) != 0 {
		t.Errorf("empty payload: %q, %v", got, err)
	}

	if _, err := s.Open(ctx, blob, []byte("users.email:43")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("other aad: %v", err)
	}
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		if _, err := s.Open(ctx, bad, aad); err == nil {
			t.Errorf("blob altered at byte %d opens", i)
		}
	}
	for _, n := range []int{0, 1, 9, 20, len(blob) - 1} {
		if _, err := s.Open(ctx, blob[:n], aad); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("blob cut to %d bytes: %v", n, err)
		}
	}
	// The data key's row altered in the store.
	ms.keys[1].wrapped[20] ^= 1
	fresh := seal.NewSealer(mustKeyring(t, testIndex+" "+testV1), ms)
	if _, err := fresh.Open(ctx, blob, aad); !errors.Is(err, seal.ErrOpen) || !strings.Contains(err.Error(), "data key 1") {
		t.Errorf("altered data key: %v", err)
	}
	// Another keyring that happens to call its master key v1.
	other := seal.NewSealer(seal.NewKeyring(), ms)
	if _, err := other.Open(ctx, again, aad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("other keyring: %v", err)
	}
}

// TestVectors opens blobs sealed, and checks blind indexes computed,
// independently of this package (testdata/vectors.txt).
func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms := newMemStore()
	var s *seal.Sealer
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		c := strings.Split(rest, " ")
		switch kind {
		case "keyring":
			s = seal.NewSealer(mustKeyring(t, rest), ms)
		case "datakey":
			id, _ := strconv.ParseInt(c[0], 10, 64)
			ms.keys[id] = memKey{c[1], mustHex(t, c[2])}
		case "sealed":
			got, err := s.Open(context.Background(), mustHex(t, c[2]), []byte(c[0]))
			if err != nil || string(got) != c[1] {
				t.Errorf("%s: %q, %v", line, got, err)
			}
		case "blindindex":
			if got := s.BlindIndex(c[0], []byte(c[1])); !bytes.Equal(got, mustHex(t, c[2])) {
				t.Errorf("%s: got %x", line, got)
			}
		default:
			t.Fatalf("bad line %q", line)
		}
		n++
	}
	if n < 6 {
		t.Errorf("only %d vectors", n)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRotateDataKeys(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	k := mustKeyring(t, testIndex+" "+testV1)
	s := seal.NewSealer(k, ms)
	type rec struct{ aad, msg, blob []byte }
	var recs []rec
	for i := range 10 {
		r := rec{aad: fmt.Appendf(nil, "r:%d", i), msg: bytes.Repeat([]byte{byte(i)}, i*100)}
		var err error
		if r.blob, err = s.Seal(ctx, r.msg, r.aad); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if n, err := s.RotateDataKeys(ctx); n != 0 || err != nil {
		t.Errorf("rotation to the same key: %d, %v", n, err)
	}
	if v := k.Rotate(); v != "v2" {
		t.Fatalf("rotated to %s", v)
	}
	if n, err := s.RotateDataKeys(ctx); n != 10 || err != nil {
		t.Fatalf("rotation re-wrapped %d, %v; want 10", n, err)
	}
	if n, err := s.RotateDataKeys(ctx); n != 0 || err != nil {
		t.Errorf("second rotation: %d, %v", n, err)
	}
	if c, _ := s.DataKeyVersions(ctx); fmt.Sprint(c) != "map[v2:10]" {
		t.Errorf("versions %v", c)
	}
	// Without v1 (and without the cache) everything still opens.
	var text bytes.Buffer
	path := filepath.Join(t.TempDir(), "keys")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "master:v1:") {
			text.WriteString(line)
		}
	}
	k2 := mustKeyring(t, text.String())
	if fmt.Sprint(k2.Versions()) != "[v2]" {
		t.Fatalf("versions %v", k2.Versions())
	}
	s2 := seal.NewSealer(k2, ms)
	if err := s2.Check(ctx); err != nil {
		t.Error(err)
	}
	for _, r := range recs {
		if got, err := s2.Open(ctx, r.blob, r.aad); err != nil || !bytes.Equal(got, r.msg) {
			t.Errorf("%s after rotation: %v", r.aad, err)
		}
	}
	// A keyring without the master key the data keys need fails Check.
	s3 := seal.NewSealer(mustKeyring(t, testIndex+" "+testV1), ms)
	if err := s3.Check(ctx); err == nil || !strings.Contains(err.Error(), "v2 (missing; it wraps 10 data key(s))") {
		t.Errorf("Check with the wrong keyring: %v", err)
	}
	// A new keyring has a v1 too, but not the same.
	other := seal.NewKeyring()
	other.Rotate()
	if err := seal.NewSealer(other, ms).Check(ctx); err == nil || !strings.Contains(err.Error(), "v2 (a different key from the one that wraps 10 data key(s))") {
		t.Errorf("Check with another keyring: %v", err)
	}
	if _, err := s3.Open(ctx, recs[1].blob, recs[1].aad); err == nil || !strings.Contains(err.Error(), "master key v2, which the keyring lacks") {
		t.Errorf("Open with the wrong keyring: %v", err)
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	k := mustKeyring(t, testIndex+" "+testV1)
	blob, err := seal.NewSealer(k, ms).Seal(ctx, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(k, ms)
	for range 3 {
		if _, err := s.Open(ctx, blob, nil); err != nil {
			t.Fatal(err)
		}
	}
	if ms.reads != 1 {
		t.Errorf("%d data key reads for three opens, want 1", ms.reads)
	}
}

func TestBlindIndex(t *testing.T) {
	s := seal.NewSealer(mustKeyring(t, testIndex+" "+testV1), newMemStore())
	a := s.BlindIndex("users.email", []byte("a@example.org"))
	if len(a) != 32 || !bytes.Equal(a, s.BlindIndex("users.email", []byte("a@example.org"))) {
		t.Errorf("not deterministic: %x", a)
	}
	if bytes.Equal(a, s.BlindIndex("users.email", []byte("b@example.org"))) ||
		bytes.Equal(a, s.BlindIndex("victims.email", []byte("a@example.org"))) {
		t.Error("different values or domains give the same index")
	}
	// The index key, not the master keys, decides: rotation keeps indexes.
	rotated := mustKeyring(t, testIndex+" "+testV1+" "+testV2)
	if !bytes.Equal(a, seal.NewSealer(rotated, newMemStore()).BlindIndex("users.email", []byte("a@example.org"))) {
		t.Error("a new master key changed the blind index")
	}
	if bytes.Equal(a, seal.NewSealer(seal.NewKeyring(), newMemStore()).BlindIndex("users.email", []byte("a@example.org"))) {
		t.Error("another index key gives the same index")
	}
}

// TestSealShared checks that shared sealing reuses one data key, that its
// blobs open like any other (also in a fresh Sealer), and that a master key
// rotation starts a new shared key wrapped by the new master key.
func TestSealShared(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	k := mustKeyring(t, testIndex+" "+testV1)
	s := seal.NewSealer(k, ms)
	var blobs [][]byte
	for i := range 100 {
		b, err := s.SealShared(ctx, fmt.Appendf(nil, "report %d", i), fmt.Appendf(nil, "r:%d", i))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if len(ms.keys) != 1 {
		t.Errorf("%d data keys for 100 shared seals, want 1", len(ms.keys))
	}
	if bytes.Equal(blobs[0][9:21], blobs[1][9:21]) {
		t.Error("two shared seals used the same nonce")
	}
	fresh := seal.NewSealer(k, ms)
	for i, b := range blobs {
		got, err := fresh.Open(ctx, b, fmt.Appendf(nil, "r:%d", i))
		if err != nil || string(got) != fmt.Sprintf("report %d", i) {
			t.Fatalf("blob %d: %q, %v", i, got, err)
		}
	}
	if _, err := fresh.Open(ctx, blobs[0], []byte("r:1")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("shared blob opened with another record's aad: %v", err)
	}
	k.Rotate()
	if _, err := s.SealShared(ctx, []byte("after rotation"), nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DataKeyVersions(ctx); fmt.Sprint(c) != "map[v1:1 v2:1]" {
		t.Errorf("after rotation, data keys by version: %v", c)
	}
}

// TestSegments seals payloads of several sizes in segments and checks
// that they open in order, and that a segment reordered, moved to another
// record, altered, taken for the last when it is not (a truncated
// payload), or of another sealing of the same record (spliced) does not
// open.
func TestSegments(t *testing.T) {
	ctx := context.Background()
	s := seal.NewSealer(mustKeyring(t, testIndex+" "+testV1), newMemStore())
	aad := []byte("report_files.content:r1:0")
	for _, size := range []int{0, 1, seal.SegmentSize - 1, seal.SegmentSize, seal.SegmentSize + 1, 3*seal.SegmentSize + 7} {
		msg := bytes.Repeat([]byte{0x5a, 0xa5, 3}, size/3+1)[:size]
		segs, err := s.SealSegments(ctx, msg, aad)
		if err != nil {
			t.Fatal(err)
		}
		if want := max(1, (size+seal.SegmentSize-1)/seal.SegmentSize); len(segs) != want {
			t.Fatalf("size %d: %d segments, want %d", size, len(segs), want)
		}
		key, err := seal.SegmentKey(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for i, seg := range segs {
			pt, err := s.OpenSegment(ctx, seg, aad, i, i == len(segs)-1, key)
			if err != nil {
				t.Fatalf("size %d, segment %d: %v", size, i, err)
			}
			got = append(got, pt...)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("size %d: opened %d bytes, not the payload", size, len(got))
		}
	}
	segs, err := s.SealSegments(ctx, make([]byte, 2*seal.SegmentSize+1), aad)
	if err != nil {
		t.Fatal(err)
	}
	// Another sealing of the same record (same aad), to splice in.
	other, err := s.SealSegments(ctx, make([]byte, 2*seal.SegmentSize+1), aad)
	if err != nil {
		t.Fatal(err)
	}
	key, otherKey := must(seal.SegmentKey(segs[0])), must(seal.SegmentKey(other[0]))
	if key == otherKey {
		t.Fatalf("two sealings share data key %d", key)
	}
	altered := bytes.Clone(segs[1])
	altered[len(altered)-1] ^= 1
	for name, tc := range map[string]struct {
		seg   []byte
		aad   []byte
		index int
		last  bool
		key   int64
	}{
		"reordered":               {segs[0], aad, 1, false, key},
		"another record":          {segs[0], []byte("report_files.content:r1:1"), 0, false, key},
		"altered":                 {altered, aad, 1, false, key},
		"truncated":               {segs[1], aad, 1, true, key},
		"last not as last":        {segs[2], aad, 2, false, key},
		"a v1 blob":               {must(s.Seal(ctx, []byte("x"), aad)), aad, 0, true, key},
		"another sealing's":       {other[1], aad, 1, false, key},
		"another sealing's last":  {other[2], aad, 2, true, key},
		"after another segment 0": {segs[1], aad, 1, false, otherKey},
	} {
		if _, err := s.OpenSegment(ctx, tc.seg, tc.aad, tc.index, tc.last, tc.key); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
