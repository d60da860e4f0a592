package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// addProvider creates another provider with a key and returns its client.
func (e *env) addProvider(t *testing.T, name, country string) *client.Client {
	t.Helper()
	orgs := org.NewService(e.db)
	o, err := orgs.Create(context.Background(), name, org.Provider, country)
	if err != nil {
		t.Fatal(err)
	}
	e.orgs[name] = o
	if e.keys[name], _, err = orgs.CreateKey(context.Background(), name, org.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	return e.client(t, name)
}

// activate makes an active indicator of value v, attested by the two
// hotlines of different countries, and returns its ID.
func (e *env) activate(t *testing.T, v string) int64 {
	t.Helper()
	var id int64
	for _, c := range []string{"hotline-de", "hotline-nl"} {
		res, err := e.client(t, c).Submit(context.Background(), client.SubmitRequest{List: "known",
			Items: []client.Submission{{Type: client.PDQ, Value: v, Category: "A1"}}})
		if err != nil {
			t.Fatal(err)
		}
		id = res.Results[0].Indicator
	}
	return id
}

// matches returns the indicators value v matches through c.
func matches(t *testing.T, c *client.Client, v string) []int64 {
	t.Helper()
	mr, err := c.Match(context.Background(), client.MatchRequest{Items: []client.Item{{PDQ: v}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range mr.Results[0].Matches {
		ids = append(ids, m.Indicator)
	}
	return ids
}

// TestMatchFeedbackAndReview: two providers' false-positive verdicts
// quarantine an indicator, which stops matching and leaves providers'
// feeds; the centre reads the queue and the verdicts, confirms it back,
// and quarantines and withdraws another by hand. Bad input changes
// nothing.
func TestMatchFeedbackAndReview(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		r := rand.New(rand.NewPCG(3, 3))
		v, w := randomPDQ(r), randomPDQ(r)
		id, other := e.activate(t, v), e.activate(t, w)
		e.poll(t)
		provA, provB := e.client(t, "provider"), e.addProvider(t, "provider-b", "FR")
		centre, hotline := e.client(t, "centre"), e.client(t, "hotline-de")
		if got := matches(t, provA, v); len(got) != 1 || got[0] != id {
			t.Fatalf("matches %v before feedback", got)
		}

		// Bad input: 400 or 404, and nothing stored.
		_, err := provA.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: "wrong"})
		p := problemOf(t, err, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "/verdict" || !strings.Contains(p.Errors[0].Detail, "false_positive or confirmed") {
			t.Errorf("bad verdict: %+v", p)
		}
		_, err = provA.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive, Note: strings.Repeat("é", 1001)})
		problemOf(t, err, http.StatusBadRequest)
		_, err = provA.MatchFeedback(ctx, client.MatchFeedback{Indicator: 1 << 40, Verdict: client.VerdictFalsePositive})
		problemOf(t, err, http.StatusNotFound)
		status, _, _ := raw(t, "POST", e.url+"/v1/match-feedback", e.keys["provider"], `{"indicator":1,"verdict":"confirmed","extra":1}`)
		if status != http.StatusBadRequest {
			t.Errorf("unknown field: %d", status)
		}
		_, err = hotline.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive})
		problemOf(t, err, http.StatusForbidden)
		d, err := centre.QuarantineDetail(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Verdicts) != 0 || len(d.Quarantines) != 0 {
			t.Fatalf("bad input stored %+v", d)
		}

		res, err := provA.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive, Note: "a logo"})
		if err != nil || res.Quarantined {
			t.Fatalf("first verdict: %+v, %v", res, err)
		}
		res, err = provB.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive})
		if err != nil || !res.Quarantined || res.Indicator != id || res.Verdict != client.VerdictFalsePositive {
			t.Fatalf("second verdict: %+v, %v", res, err)
		}
		e.poll(t)
		if got := matches(t, provA, v); len(got) != 0 {
			t.Errorf("a quarantined indicator still matches: %v", got)
		}
		if got := kinds(feed(t, provA, 10)); got != "activate activate quarantine" {
			t.Errorf("provider's feed %q", got)
		}

		q, err := centre.QuarantineQueue(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Quarantines) != 1 || q.Quarantines[0].Indicator != id || q.Quarantines[0].Cause != client.CauseFalsePositive ||
			q.Quarantines[0].FalsePositives != 2 || q.Quarantines[0].Value != v || q.Next != 0 {
			t.Errorf("queue %+v", q)
		}
		d, err = centre.QuarantineDetail(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Indicator.State != "quarantined" || len(d.Quarantines) != 1 || d.Quarantines[0].Actor != "system" ||
			len(d.Verdicts) != 2 || d.Verdicts[1].Provider != "provider" || d.Verdicts[1].Note != "a logo" {
			t.Errorf("detail %+v", d)
		}
		_, err = provA.QuarantineQueue(ctx, 0, 0)
		problemOf(t, err, http.StatusForbidden)

		in, err := centre.ConfirmQuarantined(ctx, id, "it is the material")
		if err != nil || in.State != "active" {
			t.Fatalf("confirmed: %+v, %v", in, err)
		}
		_, err = centre.ConfirmQuarantined(ctx, id, "")
		problemOf(t, err, http.StatusConflict)
		e.poll(t)
		if got := matches(t, provA, v); len(got) != 1 {
			t.Errorf("a confirmed indicator does not match: %v", got)
		}
		// The answered verdicts no longer count.
		if res, err := provA.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive}); err != nil || res.Quarantined {
			t.Errorf("a new verdict beside answered ones: %+v, %v", res, err)
		}

		_, err = hotline.Quarantine(ctx, other, "mine")
		problemOf(t, err, http.StatusForbidden)
		_, err = centre.Quarantine(ctx, other, "")
		problemOf(t, err, http.StatusBadRequest)
		in, err = centre.Quarantine(ctx, other, "matches a cartoon")
		if err != nil || in.State != "quarantined" {
			t.Fatalf("quarantined by hand: %+v, %v", in, err)
		}
		_, err = centre.WithdrawQuarantined(ctx, other, " ")
		problemOf(t, err, http.StatusBadRequest)
		in, err = centre.WithdrawQuarantined(ctx, other, "not the material")
		if err != nil || in.State != "withdrawn" {
			t.Fatalf("withdrawn: %+v, %v", in, err)
		}
		_, err = centre.Quarantine(ctx, other, "again")
		problemOf(t, err, http.StatusConflict)
		if got := kinds(feed(t, provA, 10)); got != "activate activate quarantine release quarantine withdraw" {
			t.Errorf("provider's feed %q", got)
		}
		if got := e.auditActions(t); !strings.Contains(got, "indicator.withdraw indicator.quarantine") ||
			!strings.Contains(got, "indicator.release") || !strings.Contains(got, "quarantine.view") {
			t.Errorf("audit trail %q", got)
		}
	})
}

// sawLog records what the match routes told of.
type sawLog struct {
	mu        sync.Mutex
	seen      map[int64][][16]byte
	providers map[int64]bool
}

func (s *sawLog) Saw(indicator, provider int64, item [16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[indicator] = append(s.seen[indicator], item)
	s.providers[provider] = true
}

// TestMatchSightings: the match routes tell the tracker of each match,
// by the provider and a key of the queried hash that matched, and of
// nothing else: another hash the request carried does not make the same
// content another item.
func TestMatchSightings(t *testing.T) {
	log := &sawLog{seen: map[int64][][16]byte{}, providers: map[int64]bool{}}
	e := start(t, storetest.OpenSQLite(t), true, func(s *httpapi.Server) { s.Sightings = log })
	r := rand.New(rand.NewPCG(5, 5))
	v := randomPDQ(r)
	id := e.activate(t, v)
	e.poll(t)
	prov := e.client(t, "provider")
	h, err := pdq.ParseHex(v)
	if err != nil {
		t.Fatal(err)
	}
	h[0] ^= 1 // a bit away: another item, the same indicator
	near := h.String()
	for _, q := range []string{v, v, near, randomPDQ(r)} {
		matches(t, prov, q)
	}
	item := func(s string) [16]byte {
		it, err := matcher.ParseItem(indicator.PDQ, s)
		if err != nil {
			t.Fatal(err)
		}
		return quarantine.ItemKey(it)
	}
	got := log.seen[id]
	if len(log.seen) != 1 || len(got) != 3 || got[0] != item(v) || got[1] != item(v) || got[2] != item(near) {
		t.Errorf("sightings %v, want the 3 matches of indicator %d by their items", log.seen, id)
	}
	if want := e.orgs["provider"].ID; len(log.providers) != 1 || !log.providers[want] {
		t.Errorf("sightings by %v, want provider %d's", log.providers, want)
	}

	// The indicator's PDQ hash with a different SHA-256 each time is one
	// item: the PDQ hash matched, not the digest.
	var items []client.Item
	for range 5 {
		items = append(items, client.Item{PDQ: v, SHA256: fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())})
	}
	if _, err := prov.Match(context.Background(), client.MatchRequest{Items: items}); err != nil {
		t.Fatal(err)
	}
	got = log.seen[id][3:]
	if len(got) != 5 || slices.ContainsFunc(got, func(k [16]byte) bool { return k != item(v) }) {
		t.Errorf("sightings of one PDQ hash with 5 digests: %v, want 5 of the PDQ hash's item", got)
	}

	// An uploaded file is one item to each indicator it matched, by the
	// hash that matched: here its PDQ hash.
	var buf bytes.Buffer
	if err := png.Encode(&buf, synth.Image(300, 200, 5)); err != nil {
		t.Fatal(err)
	}
	hr := filehash.Bytes(buf.Bytes(), filehash.Options{})
	byPDQ := e.activate(t, hr.PDQ.String())
	e.poll(t)
	if _, err := prov.HashMatch(context.Background(), buf.Bytes(), client.HashMatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := log.seen[byPDQ]; len(got) != 1 || got[0] != item(hr.PDQ.String()) {
		t.Errorf("sightings of the file: %v, want one of its PDQ hash", got)
	}
}

// node is one server of a cluster: its own API, index and follower on a
// database shared with the others, polling the feeds as ward serve does.
type node struct {
	url string
}

// startNode starts a node on db whose follower runs in wg until ctx ends.
func startNode(t *testing.T, ctx context.Context, wg *sync.WaitGroup, db *store.DB) node {
	t.Helper()
	inds := indicator.NewService(db)
	m := matcher.New()
	f := matcher.NewFollower(m, inds)
	if err := f.Load(ctx); err != nil {
		t.Fatal(err)
	}
	follow(ctx, wg, t, f)
	q := quarantine.New(db.Quarantines(), quarantine.Options{Sealer: seal.NewSealer(seal.NewKeyring(), db), Audit: audit.NewLog(db, nil)})
	api := &httpapi.Server{
		Orgs: org.NewService(db), Indicators: inds, Matcher: m, Ready: f.Ready,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxThreshold: 64, Images: media.DefaultLimits,
		OpenAPI: docs.OpenAPI, Audit: audit.NewLog(db, nil), Quarantine: q,
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return node{url: srv.URL}
}

// follow runs f as ward serve does, every 250 ms, in wg until ctx ends.
func follow(ctx context.Context, wg *sync.WaitGroup, t *testing.T, f *matcher.Follower) {
	wg.Go(func() {
		f.Run(ctx, 250*time.Millisecond, func(err error) {
			if ctx.Err() == nil {
				t.Error(err)
			}
		})
	})
}

// TestQuarantineAcrossNodes: two servers on one PostgreSQL database; after
// two providers' false-positive verdicts on the first, the second stops
// matching the indicator within a second.
func TestQuarantineAcrossNodes(t *testing.T) {
	url := storetest.PostgresURL(t)
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	e := start(t, dbs[0], true)
	follow(ctx, &wg, t, e.follower)
	second := startNode(t, ctx, &wg, dbs[1])
	// The followers stop before the databases close.
	t.Cleanup(func() { cancel(); wg.Wait() })
	provB := e.addProvider(t, "provider-b", "FR")
	v := randomPDQ(rand.New(rand.NewPCG(8, 8)))
	id := e.activate(t, v)
	onSecond, err := client.New(second.url, e.keys["provider"], client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	// waitFor polls the second server until its answer for v is want, and
	// returns how long that took.
	waitFor := func(want int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := matches(t, onSecond, v)
			if len(got) == want {
				return time.Since(start)
			}
			if time.Since(start) > within {
				t.Fatalf("the second server still matches %v after %v, want %d matches", got, within, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(1, 5*time.Second) // the activation reached it

	for _, c := range []*client.Client{e.client(t, "provider"), provB} {
		if _, err := c.MatchFeedback(ctx, client.MatchFeedback{Indicator: id, Verdict: client.VerdictFalsePositive}); err != nil {
			t.Fatal(err)
		}
	}
	took := waitFor(0, time.Second)
	t.Logf("the second server stopped matching %v after the second verdict", took)
}
