package mirror

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/matching/mirror/mirrortest"
)

// forbiddenServer answers GET /v1/lists with a 403, as to a key that may
// not read the lists.
func forbiddenServer(t *testing.T) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"title":"Forbidden","status":403,"detail":"this key may not lists.read"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "ward_test", client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serve starts a mirrortest server with lists, each holding the
// activations of feeds, logged and signed.
func serve(t *testing.T, lists []client.List, feeds map[string][][3]string) (*mirrortest.Server, *client.Client) {
	t.Helper()
	srv := mirrortest.NewServer(t)
	for _, s := range lists {
		l := srv.AddList(t, s.Name)
		l.Settings = s
		for _, a := range feeds[s.Name] {
			id, _ := strconv.ParseInt(a[0], 10, 64)
			ch := l.Change(client.ChangeActivate, id, a[1], a[2])
			l.Add(t, true, ch)
		}
		l.Sign(t)
	}
	c, err := client.New(srv.URL, "ward_test", client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func flipped(h pdq.Hash, n int) pdq.Hash {
	for k := range n {
		h[k/64] ^= 1 << (k % 64)
	}
	return h
}

// TestSyncAndSuppress: ward sync records a list's kind and distances,
// and the mirrors of a list of known material and of a suppress list
// match together as the server does.
func TestSyncAndSuppress(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	base := pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	sha := strings.Repeat("ab", 32)
	_, c := serve(t, []client.List{
		{Name: "known", Kind: "match", MaxDistance: 31, Threshold: 31},
		{Name: "stock", Kind: "suppress", MaxDistance: 31, Threshold: 6},
		{Name: "old"}, // as a server from before lists had kinds answers
	}, map[string][][3]string{
		"known": {{"1", "pdq", base.String()}},
		"stock": {{"10", "pdq", flipped(base, 20).String()}, {"11", "sha256", sha}},
	})
	dir := t.TempDir()
	open := func(list string) *Mirror {
		t.Helper()
		m, err := Open(ctx, filepath.Join(dir, list+".mirror"), true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if err := m.Bind(ctx, "http://ward.example", list); err != nil {
			t.Fatal(err)
		}
		if _, err := Sync(ctx, c, m, list, SyncOptions{Skip: func(ch client.Change, err error) { t.Errorf("skipped %+v: %v", ch, err) }}); err != nil {
			t.Fatalf("sync of %s: %v", list, err)
		}
		return m
	}
	known, stock, old := open("known"), open("stock"), open("old")
	for _, tt := range []struct {
		m    *Mirror
		want string
	}{{known, "match 31/31 1"}, {stock, "suppress 6/31 2"}, {old, "match 0/0 0"}} {
		st, err := tt.m.State(ctx)
		if got := fmt.Sprintf("%s %d/%d %d", st.Kind, st.Threshold, st.MaxDistance, st.Count); err != nil || got != tt.want {
			t.Errorf("state of %s: %s, %v; want %s", st.List, got, err, tt.want)
		}
	}

	idx, err := Matcher(ctx, known, stock)
	if err != nil {
		t.Fatal(err)
	}
	q := matcher.Query{Threshold: matcher.ListThresholds}
	for _, tt := range []struct {
		name  string
		q     matcher.Query
		h     pdq.Hash
		sha   string
		want  string // the matches, then what suppressed them
		count int
	}{
		{"known, far from the stock image", q, flipped(base, 10), strings.Repeat("00", 32), "[1] []", 1},
		{"near the stock image", q, flipped(base, 17), strings.Repeat("00", 32), "[] [10]", 0},
		{"an explicit threshold does not widen the stock list's", matcher.Query{Threshold: 31}, flipped(base, 12), strings.Repeat("00", 32), "[1] []", 1},
		{"the stock file by its SHA-256", q, flipped(base, 5), sha, "[] [11]", 0},
	} {
		items, err := matcher.FileItems(tt.h, strings.Repeat("0", 32), tt.sha)
		if err != nil {
			t.Fatal(err)
		}
		res, err := idx.MatchContent(tt.q, nil, items...)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(ms []matcher.Match) []int64 {
			out := []int64{}
			for _, m := range ms {
				out = append(out, m.Indicator)
			}
			return out
		}
		if got := fmt.Sprint(ids(res.Matches), " ", ids(res.SuppressedBy)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}

	if _, err := Matcher(ctx, known, known); err == nil || !strings.Contains(err.Error(), `two mirrors of list "known"`) {
		t.Errorf("the same list twice: %v", err)
	}
	m, err := Open(ctx, filepath.Join(dir, "empty.mirror"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := Matcher(ctx, known, m); err == nil || !strings.Contains(err.Error(), "is empty: run ward sync first") {
		t.Errorf("an empty mirror: %v", err)
	}
	m.Bind(ctx, "http://ward.example", "gone")
	if _, err := Sync(ctx, c, m, "gone", SyncOptions{}); err == nil || !strings.Contains(err.Error(), `the server has no list named "gone"`) {
		t.Errorf("sync of a list the server lacks: %v", err)
	}
	if _, err := Sync(ctx, forbiddenServer(t), known, "known", SyncOptions{}); err == nil || !strings.Contains(err.Error(), "a key needs lists.read to sync") {
		t.Errorf("sync with a key that may not read the lists: %v", err)
	}
}

// TestMatcherOfAnOldMirror: a mirror no sync recorded settings in is a
// match list of threshold 31 that only PDQ's 128 bits cap.
func TestMatcherOfAnOldMirror(t *testing.T) {
	ctx := context.Background()
	m, err := Open(ctx, filepath.Join(t.TempDir(), "known.mirror"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := pdq.Hash{1, 2, 3, 4}
	if err := m.Bind(ctx, "http://ward.example", "known"); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(ctx, []Change{{1, "activate", Entry{ID: 1, Signal: "pdq", Value: base.String(), Category: "A1"}}}, 1); err != nil {
		t.Fatal(err)
	}
	idx, err := Matcher(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q    matcher.Query
		bits int
		want int
	}{
		{matcher.Query{Threshold: matcher.ListThresholds}, 31, 1},
		{matcher.Query{Threshold: matcher.ListThresholds}, 32, 0},
		{matcher.Query{Threshold: 60}, 60, 1},
	} {
		ms, err := idx.Match(tt.q, matcher.Item{Signal: indicator.PDQ, PDQ: flipped(base, tt.bits)}, nil)
		if err != nil || len(ms) != tt.want {
			t.Errorf("threshold %d, %d bits away: %v, %v; want %d matches", tt.q.Threshold, tt.bits, ms, err, tt.want)
		}
	}
}
