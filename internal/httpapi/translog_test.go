package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/platform/store"
)

var testLogKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))

// get fetches url (with an API key if key is set) and returns the answer
// and its body.
func get(t *testing.T, url, key string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// httpTiles is a tlog.TileReader of a log served over HTTP at prefix, for
// the library's own TileHashReader: it checks each answer's status,
// length and caching, and keeps the tiles the reader confirmed.
type httpTiles struct {
	t       *testing.T
	prefix  string
	fetched int
	saved   map[tlog.Tile][]byte
}

func (h *httpTiles) Height() int { return translog.Height }

func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		if d, ok := h.saved[tl]; ok {
			out[i] = d
			continue
		}
		resp, body := get(h.t, h.prefix+translog.TilePath(tl), "")
		h.fetched++
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %d %s", translog.TilePath(tl), resp.StatusCode, body)
		}
		want := "public, max-age=60"
		if tl.W == translog.TileWidth {
			want = "public, max-age=31536000, immutable"
		}
		if cc, ct := resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"); cc != want || ct != "application/octet-stream" {
			h.t.Errorf("%s: Cache-Control %q, Content-Type %q", translog.TilePath(tl), cc, ct)
		}
		out[i] = body
	}
	return out, nil
}

func (h *httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, tl := range tiles {
		h.saved[tl] = data[i]
	}
}

// openCheckpoint fetches and verifies the checkpoint of the log at
// prefix with the key the server publishes.
func openCheckpoint(t *testing.T, prefix string) (translog.Checkpoint, *note.Note) {
	t.Helper()
	resp, vkey := get(t, prefix+"key", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("key: %d %v %s", resp.StatusCode, resp.Header, vkey)
	}
	v, err := note.NewVerifier(string(vkey)) // the body as it is: no newline to trim
	if err != nil {
		t.Fatalf("key %q: %v", vkey, err)
	}
	if want, _ := translog.VerifierKey(v.Name(), testLogKey.Public().(ed25519.PublicKey)); string(vkey) != want {
		t.Errorf("key %q, want %q", vkey, want)
	}
	resp, signed := get(t, prefix+"checkpoint", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("Cache-Control") != "public, max-age=5" {
		t.Fatalf("checkpoint: %d %v %s", resp.StatusCode, resp.Header, signed)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint %q: %v", signed, err)
	}
	c, err := translog.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != v.Name() {
		t.Errorf("checkpoint of %q signed by %q", c.Origin, v.Name())
	}
	return c, n
}

// fetchEntries fetches every entry of a log of size entries at prefix,
// bundle by bundle (the last partial), checking the caching of each.
func fetchEntries(t *testing.T, prefix, key string, size int64, private bool) [][]byte {
	t.Helper()
	scope := "public"
	if private {
		scope = "private"
	}
	var entries [][]byte
	for n := int64(0); n*translog.TileWidth < size; n++ {
		w := int(min(translog.TileWidth, size-n*translog.TileWidth))
		path := translog.TilePath(tlog.Tile{H: translog.Height, L: -1, N: n, W: w})
		resp, body := get(t, prefix+path, key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		want := scope + ", max-age=60"
		if w == translog.TileWidth {
			want = scope + ", max-age=31536000, immutable"
		}
		if cc := resp.Header.Get("Cache-Control"); cc != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, cc, want)
		}
		es, err := translog.ParseBundle(body)
		if err != nil || len(es) != w {
			t.Fatalf("%s: %d entries, %v", path, len(es), err)
		}
		entries = append(entries, es...)
	}
	return entries
}

// verifyLog checks, with package tlog's own tile reader over the served
// tiles, that every entry is in the tree of checkpoint c (an inclusion
// proof each), and that the tiles are those tlog makes of the entries.
func verifyLog(t *testing.T, prefix string, c translog.Checkpoint, entries [][]byte) *httpTiles {
	t.Helper()
	tiles := &httpTiles{t: t, prefix: prefix, saved: map[tlog.Tile][]byte{}}
	tree := tlog.Tree{N: c.Size, Hash: c.Root}
	thr := tlog.TileHashReader(tree, tiles)
	for i, e := range entries {
		p, err := tlog.ProveRecord(tree.N, int64(i), thr)
		if err != nil {
			t.Fatalf("proving entry %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), tlog.RecordHash(e)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	// Every tile of the tree, as tlog would publish it from the entries.
	ref := &memHashes{}
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, ref)
		if err != nil {
			t.Fatal(err)
		}
		ref.hashes = append(ref.hashes, hs...)
	}
	for _, tl := range tlog.NewTiles(translog.Height, 0, c.Size) {
		want, err := tlog.ReadTileData(tl, ref)
		if err != nil {
			t.Fatal(err)
		}
		resp, got := get(t, prefix+translog.TilePath(tl), "")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("%s: %d, %d bytes, not tlog's %d", translog.TilePath(tl), resp.StatusCode, len(got), len(want))
		}
	}
	return tiles
}

type memHashes struct{ hashes []tlog.Hash }

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m.hashes[x]
	}
	return out, nil
}

// submitN has two hotlines of different countries submit n new MD5
// values from first on, activating them, and returns their IDs.
func (e *env) submitN(t *testing.T, first, n int) []int64 {
	t.Helper()
	items := make([]client.Submission, n)
	for i := range items {
		items[i] = client.Submission{Type: client.MD5, Value: fmt.Sprintf("%032x", first+i+1), Category: "A1"}
	}
	var res *client.SubmitResponse
	for _, h := range []string{"hotline-de", "hotline-nl"} {
		var err error
		if res, err = e.client(t, h).Submit(context.Background(), client.SubmitRequest{List: "known", Items: items}); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]int64, n)
	for i, r := range res.Results {
		ids[i] = r.Indicator
	}
	return ids
}

// TestTransparencyLog: the list's log as served is a C2SP log that
// package tlog and package note verify: the checkpoint opens with the
// served key, every entry has an inclusion proof through the served
// tiles, a later checkpoint is consistent with an earlier one, the tiles
// are those tlog makes, and the entries are the feed's changes.
func TestTransparencyLog(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		prefix := e.url + "/v1/lists/known/log/"
		hot := e.keys["hotline-de"]

		// An empty log has a checkpoint too.
		c0, _ := openCheckpoint(t, prefix)
		if c0.Size != 0 || c0.Origin != "ward.test/lists/known" {
			t.Errorf("empty log: %+v", c0)
		}

		ids := e.submitN(t, 0, 300)
		c1, _ := openCheckpoint(t, prefix)
		if c1.Size != 300 {
			t.Fatalf("checkpoint after 300 activations: %+v", c1)
		}
		entries1 := fetchEntries(t, prefix, hot, c1.Size, true)
		verifyLog(t, prefix, c1, entries1)

		// Grow the log: withdrawals and a quarantine, across a tile.
		for _, id := range ids[:250] {
			if _, err := e.client(t, "hotline-de").Withdraw(context.Background(), id, "test"); err != nil {
				t.Fatal(err)
			}
		}
		e.submitN(t, 1000, 70)
		c2, _ := openCheckpoint(t, prefix)
		if c2.Size != 620 {
			t.Fatalf("checkpoint: %+v", c2)
		}
		entries2 := fetchEntries(t, prefix, hot, c2.Size, true)
		if !slicesEqual(entries2[:300], entries1) {
			t.Fatal("the log's first 300 entries changed")
		}
		tiles := verifyLog(t, prefix, c2, entries2)

		// The earlier checkpoint is a prefix of the later one.
		thr := tlog.TileHashReader(tlog.Tree{N: c2.Size, Hash: c2.Root}, tiles)
		p, err := tlog.ProveTree(c2.Size, c1.Size, thr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, c2.Size, c2.Root, c1.Size, c1.Root); err != nil {
			t.Errorf("consistency of %d and %d: %v", c1.Size, c2.Size, err)
		}
		if tlog.CheckTree(p, c2.Size, c2.Root, c1.Size, c2.Root) == nil {
			t.Error("a wrong old root passed the consistency check")
		}

		// The entries are the feed's logged changes, in order.
		page, err := e.client(t, "hotline-de").Changes(context.Background(), "known", 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var fromFeed [][]byte
		for _, c := range page.Changes {
			ch := indicator.Change{Seq: c.Seq, Kind: indicator.ChangeKind(c.Kind), Signal: indicator.Signal(c.Signal), Value: c.Value,
				Category: indicator.Category(c.Category), At: c.At, WasActive: true}
			if ch.Kind != indicator.Add && ch.Kind != indicator.Attest {
				fromFeed = append(fromFeed, translog.EntryOf(ch).Marshal())
			}
		}
		if !slicesEqual(fromFeed, entries2) {
			t.Errorf("the log's entries are not the feed's changes")
		}

		// Partial tiles of widths a smaller tree had are served too, and
		// are prefixes of the wider ones.
		_, full := get(t, prefix+"tile/0/000", "")
		_, part := get(t, prefix+"tile/0/002.p/108", "")
		for _, tc := range []struct {
			path string
			want []byte
		}{
			{"tile/0/000.p/10", full[:10*tlog.HashSize]},
			{"tile/0/002.p/1", part[:tlog.HashSize]},
			{"tile/1/000.p/2", nil},
		} {
			resp, got := get(t, prefix+tc.path, "")
			if resp.StatusCode != http.StatusOK || tc.want != nil && !bytes.Equal(got, tc.want) || len(got) == 0 {
				t.Errorf("%s: %d, %d bytes", tc.path, resp.StatusCode, len(got))
			}
		}

		// GET /v1/lists tells the size and root.
		lists, err := e.client(t, "provider").Lists(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lists {
			if l.Name == "known" && (l.LogSize != c2.Size || l.LogRoot != base64.StdEncoding.EncodeToString(c2.Root[:])) {
				t.Errorf("list %+v, checkpoint %+v", l, c2)
			}
		}
	})
}

func slicesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestTransparencyLogErrors: bad paths, tiles beyond the tree, unknown
// lists and missing keys are refused with problem details.
func TestTransparencyLogErrors(t *testing.T) {
	engines(t, testTransparencyLogErrors)
}

func testTransparencyLogErrors(t *testing.T, open func(testing.TB) *store.DB) {
	e := start(t, open(t), true)
	e.submitN(t, 0, 300) // tile 0 full, tile 1 of 44
	hot := e.keys["hotline-de"]
	for _, tc := range []struct {
		path, key string
		status    int
	}{
		{"/v1/lists/known/log/tile/0/001.p/44", "", 200},
		{"/v1/lists/known/log/tile/entries/001.p/44", hot, 200},
		{"/v1/lists/known/log/tile/0/1", "", 400},
		{"/v1/lists/known/log/tile/0/000.p/256", "", 400},
		{"/v1/lists/known/log/tile/0/000.p/0", "", 400},
		{"/v1/lists/known/log/tile/0/000.p/010", "", 400},
		{"/v1/lists/known/log/tile/00/000", "", 400},
		{"/v1/lists/known/log/tile/x/000", "", 400},
		{"/v1/lists/known/log/tile/data/000", "", 400},
		{"/v1/lists/known/log/tile/8/0/000", "", 400},
		{"/v1/lists/known/log/tile/0/x000/001", "", 400},
		{"/v1/lists/known/log/tile/entries", hot, 400},
		{"/v1/lists/known/log/tile/entries/", hot, 400},
		{"/v1/lists/known/log/tile/entries/1", hot, 400},
		{"/v1/lists/known/log/tile/entries/000.p/256", hot, 400},
		{"/v1/lists/known/log/tile/0/001", "", 404},
		{"/v1/lists/known/log/tile/0/001.p/45", "", 404},
		{"/v1/lists/known/log/tile/0/002.p/1", "", 404},
		{"/v1/lists/known/log/tile/1/000.p/2", "", 404},
		{"/v1/lists/known/log/tile/2/000.p/1", "", 404},
		{"/v1/lists/known/log/tile/entries/001", hot, 404},
		{"/v1/lists/known/log/tile/entries/001.p/45", hot, 404},
		{"/v1/lists/known/log/tile/entries/000", "", 401},
		{"/v1/lists/nope/log/checkpoint", "", 404},
		{"/v1/lists/nope/log/key", "", 404},
		{"/v1/lists/nope/log/tile/0/000.p/1", "", 404},
		{"/v1/lists/nope/log/tile/entries/000.p/1", hot, 404},
		{"/v1/audit/log/tile/0/000.p/1", "", 404},
		{"/v1/audit/log/tile/0/0", "", 400},
	} {
		resp, body := get(t, e.url+tc.path, tc.key)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status != 200 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d answered as %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// A server without logs says so.
	plain := start(t, open(t), true, func(s *httpapi.Server) { s.Log = nil })
	if resp, _ := get(t, plain.url+"/v1/lists/known/log/checkpoint", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no logs: %d", resp.StatusCode)
	}
}

// TestAuditTransparencyLog: the audit trail's checkpoints are a public
// log of their own, entries included, verified as the lists' are.
func TestAuditTransparencyLog(t *testing.T) {
	engines(t, testAuditTransparencyLog)
}

func testAuditTransparencyLog(t *testing.T, open func(testing.TB) *store.DB) {
	e := start(t, open(t), true)
	trail := audit.NewLog(e.db, testSigningKeyEd25519(t))
	var lines [][]byte
	for i := range 5 {
		if _, err := trail.Append(context.Background(), audit.Event{Actor: audit.System, Action: "test.step", Object: fmt.Sprintf("step:%d", i), Outcome: audit.OK}); err != nil {
			t.Fatal(err)
		}
		cp, err := trail.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, cp.MarshalLine())
	}
	prefix := e.url + "/v1/audit/log/"
	c, _ := openCheckpoint(t, prefix)
	if c.Origin != "ward.test/audit" || c.Size != 5 {
		t.Fatalf("audit checkpoint %+v", c)
	}
	entries := fetchEntries(t, prefix, "", c.Size, false)
	if !slicesEqual(entries, lines) {
		t.Errorf("audit log entries %q, want %q", entries, lines)
	}
	verifyLog(t, prefix, c, entries)
	if !strings.HasPrefix(string(entries[0]), "ward-audit-checkpoint-v1 ") {
		t.Errorf("entry %q", entries[0])
	}
}

func testSigningKeyEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
}
