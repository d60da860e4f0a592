// Package mirrortest is a Ward server's list feeds and transparency logs
// for tests of mirrors and witnesses, on 127.0.0.1 and a free port: GET
// /v1/lists, each list's change feed, and its log as c2sp.org/tlog-tiles
// (checkpoint, key, tiles, entry bundles), built with
// golang.org/x/mod/sumdb/tlog and note. Everything it serves can be
// tampered with, as a rewritten database would be, to test that clients
// notice.
package mirrortest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
)

// Server serves lists.
type Server struct {
	URL   string
	mu    sync.Mutex
	lists map[string]*List
	order []string
	// Requests counts the requests answered.
	Requests int
}

// List is one list: its feed, and its log of the feed's changes that
// providers mirror.
type List struct {
	srv      *Server
	Settings client.List
	// Feed is the change feed as served; Entries, Hashes and Checkpoint
	// the log: its entries, stored hashes (tlog.StoredHashIndex order)
	// and the signed checkpoint served.
	Feed       []client.Change
	Entries    [][]byte
	Hashes     []tlog.Hash
	Checkpoint []byte
	Signer     note.Signer
	VKey       string
	// NoPartials makes the server answer 404 for a partial tile once the
	// full one exists, as c2sp.org/tlog-tiles allows.
	NoPartials bool
	seq        int64
}

// NewServer starts a server, closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{lists: map[string]*List{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/lists", s.handleLists)
	mux.HandleFunc("GET /v1/lists/{list}/changes", s.handleChanges)
	mux.HandleFunc("GET /v1/lists/{list}/log/{path...}", s.handleLog)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// AddList adds a match list named name with an empty log whose origin is
// "ward.test/lists/NAME".
func (s *Server) AddList(t testing.TB, name string) *List {
	skey, vkey, err := note.GenerateKey(nil, "ward.test/lists/"+name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := &List{srv: s, Settings: client.List{Name: name, Kind: "match", MaxDistance: 31, Threshold: 31}, Signer: signer, VKey: vkey}
	s.mu.Lock()
	s.lists[name] = l
	s.order = append(s.order, name)
	s.mu.Unlock()
	l.Sign(t)
	return l
}

// Entry is the log entry of change ch.
func Entry(ch client.Change) []byte {
	return translog.Entry{Seq: ch.Seq, Kind: indicator.ChangeKind(ch.Kind), Signal: indicator.Signal(ch.Signal), Value: ch.Value,
		Category: indicator.Category(ch.Category), At: ch.At}.Marshal()
}

// Change is the next change of l: its Seq and At are set.
func (l *List) Change(kind string, id int64, signal, value string) client.Change {
	l.srv.mu.Lock()
	defer l.srv.mu.Unlock()
	l.seq++
	return client.Change{Seq: l.seq, Kind: kind, Indicator: id, Signal: signal, Value: value, Category: "A1",
		At: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(l.seq) * time.Microsecond)}
}

// Add appends changes to the feed, and those of them logged to the log
// (all but additions, attestations, and withdrawals with logged false);
// it does not sign a new checkpoint.
func (l *List) Add(t testing.TB, logged bool, changes ...client.Change) {
	l.srv.mu.Lock()
	defer l.srv.mu.Unlock()
	for _, ch := range changes {
		l.Feed = append(l.Feed, ch)
		switch ch.Kind {
		case client.ChangeAdd, client.ChangeAttest:
			continue
		case client.ChangeWithdraw:
			if !logged {
				continue
			}
		}
		l.AppendEntry(t, Entry(ch))
	}
}

// AppendEntry appends raw entry bytes to the log (the caller holds no
// lock of l's server).
func (l *List) AppendEntry(t testing.TB, e []byte) {
	n := int64(len(l.Entries))
	hs, err := tlog.StoredHashes(n, e, hashReader(l.Hashes))
	if err != nil {
		t.Fatal(err)
	}
	l.Entries = append(l.Entries, e)
	l.Hashes = append(l.Hashes, hs...)
}

// Rebuild recomputes the stored hashes from the entries, as a log
// rewritten whole would have them.
func (l *List) Rebuild(t testing.TB) {
	l.srv.mu.Lock()
	defer l.srv.mu.Unlock()
	entries := l.Entries
	l.Entries, l.Hashes = nil, nil
	for _, e := range entries {
		l.AppendEntry(t, e)
	}
}

type hashReader []tlog.Hash

func (h hashReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d of %d", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}

// Tree returns the tree of the log's first n entries.
func (l *List) Tree(t testing.TB, n int64) tlog.Tree {
	l.srv.mu.Lock()
	defer l.srv.mu.Unlock()
	h, err := tlog.TreeHash(n, hashReader(l.Hashes))
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: n, Hash: h}
}

// SignTree returns the checkpoint of tree signed by l's key.
func (l *List) SignTree(t testing.TB, tree tlog.Tree) []byte {
	c := witness.Checkpoint{Origin: l.Signer.Name(), Tree: tree}
	msg, err := note.Sign(&note.Note{Text: c.String()}, l.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// Sign signs and serves a checkpoint of the whole log, and returns it.
func (l *List) Sign(t testing.TB) []byte {
	msg := l.SignTree(t, l.Tree(t, int64(len(l.Entries))))
	l.srv.mu.Lock()
	l.Checkpoint = msg
	l.srv.mu.Unlock()
	return msg
}

// Cosign has each witness cosign the served checkpoint, from the size
// it holds, and serves it with the cosignatures.
func (l *List) Cosign(t testing.TB, ws ...*witness.Client) {
	msg := l.Checkpoint
	body, _, _ := strings.Cut(string(msg), "\n\n")
	c, err := witness.ParseCheckpoint(body + "\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		old := int64(0)
		for range 2 {
			var proof tlog.TreeProof
			if old > 0 && old < c.N {
				if proof, err = tlog.ProveTree(c.N, old, hashReader(l.Hashes)); err != nil {
					t.Fatal(err)
				}
			}
			line, err := w.AddCheckpoint(t.Context(), old, proof, l.Checkpoint)
			if conflict, ok := err.(*witness.ConflictError); ok {
				old = conflict.Size
				continue
			}
			if err != nil {
				t.Fatalf("cosigning by %s: %v", w.Name(), err)
			}
			msg = append(msg, line...)
			break
		}
	}
	l.srv.mu.Lock()
	l.Checkpoint = msg
	l.srv.mu.Unlock()
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) *List {
	s.mu.Lock()
	s.Requests++
	l := s.lists[r.PathValue("list")]
	s.mu.Unlock()
	if l == nil {
		http.Error(w, "no such list", http.StatusNotFound)
	}
	return l
}

func (s *Server) handleLists(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out client.ListsResponse
	for _, name := range s.order {
		out.Lists = append(out.Lists, s.lists[name].Settings)
	}
	s.mu.Unlock()
	json.NewEncoder(w).Encode(out)
}

func (s *Server) handleChanges(w http.ResponseWriter, r *http.Request) {
	l := s.list(w, r)
	if l == nil {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	s.mu.Lock()
	page := client.ChangesPage{List: l.Settings.Name, Changes: []client.Change{}, Next: after, Head: after}
	for _, ch := range l.Feed {
		page.Head = max(page.Head, ch.Seq)
		if ch.Seq > after && len(page.Changes) < limit {
			page.Changes = append(page.Changes, ch)
			page.Next = ch.Seq
		}
	}
	s.mu.Unlock()
	json.NewEncoder(w).Encode(page)
}

func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	l := s.list(w, r)
	if l == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := r.PathValue("path")
	switch path {
	case "checkpoint":
		w.Write(l.Checkpoint)
		return
	case "key":
		fmt.Fprintln(w, l.VKey)
		return
	}
	t, err := tlog.ParseTilePath("tile/8/" + strings.Replace(strings.TrimPrefix(path, "tile/"), "entries/", "data/", 1))
	if err != nil || !strings.HasPrefix(path, "tile/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if t.L < 0 {
		// An entry bundle needs a key.
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "a key is needed", http.StatusUnauthorized)
			return
		}
		start := t.N * 256
		if start+int64(t.W) > int64(len(l.Entries)) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var b []byte
		for _, e := range l.Entries[start : start+int64(t.W)] {
			b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
			b = append(b, e...)
		}
		w.Write(b)
		return
	}
	if l.NoPartials && t.W < 256 && int64(len(l.Entries)) >= (t.N+1)<<(8*(t.L+1)) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	b, err := tlog.ReadTileData(t, hashReader(l.Hashes))
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Write(b)
}
