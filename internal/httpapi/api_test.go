package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/victim"
)

// env is a running API over real HTTP on a real store, with one key per
// kind of organisation.
type env struct {
	url      string
	db       *store.DB
	follower *matcher.Follower
	keys     map[string]string // org name -> key
	orgs     map[string]org.Organisation
	reports  *report.Service
	decode   *media.Budget // testDecodeMemory, shared by hash-match and uploads
	bodies   *media.Budget // testBodyMemory, for request bodies being read and held
	takedown *takedown.Service
	stats    *stats.Service
	web      *fakeWeb // what the takedown service fetches

	quarantine *quarantine.Service
	// complaints has a webhook client that reaches loopback.
	complaints *complaint.Service
	victims    *victim.Service
}

// testDecodeMemory is the servers' decode budget in these tests: enough
// for a small image, not for a megapixel one.
const testDecodeMemory = 8 << 20

// testBodyMemory holds a few test uploads (maxTestFile) at once.
const testBodyMemory = 8 << 20

func engines(t *testing.T, f func(t *testing.T, open func(testing.TB) *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, storetest.OpenSQLite) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.OpenPostgres) })
}

// start runs the API on db, each of adjust applied to the server first.
func start(t *testing.T, db *store.DB, load bool, adjust ...func(*httpapi.Server)) *env {
	t.Helper()
	ctx := context.Background()
	orgs := org.NewService(db)
	inds := indicator.NewService(db)
	sealer := seal.NewSealer(seal.NewKeyring(), db)
	e := &env{db: db, keys: map[string]string{}, orgs: map[string]org.Organisation{},
		reports: report.NewService(db.Reports(), sealer), web: newFakeWeb()}
	for _, o := range []struct {
		name    string
		kind    org.Kind
		country string
	}{
		{"hotline-de", org.Hotline, "DE"}, {"hotline-nl", org.Hotline, "NL"}, {"hotline-de2", org.Hotline, "DE"},
		{"provider", org.Provider, "IE"}, {"centre", org.Centre, "BE"},
	} {
		created, err := orgs.Create(ctx, o.name, o.kind, o.country)
		if err != nil {
			t.Fatal(err)
		}
		e.orgs[o.name] = created
		if e.keys[o.name], _, err = orgs.CreateKey(ctx, o.name, org.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.decode = media.NewBudget(testDecodeMemory, 0, 100*time.Millisecond)
	e.bodies = media.NewBudget(testBodyMemory, 1<<16, 100*time.Millisecond)
	e.reports.Decode = e.decode
	m := matcher.New()
	e.follower = matcher.NewFollower(m, inds)
	if load {
		if err := e.follower.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.takedown = takedown.New(db.Takedown(), takedown.Options{
		Fetcher: e.web, Matcher: m, Decode: e.decode, Sealer: sealer, Key: testSigningKey, Audit: audit.NewLog(db, nil),
		Locate: e.web.locate, BaseURL: "https://ward.example",
		ConfirmAfter: time.Nanosecond, // a removal is confirmed at the next sweep
	})
	e.quarantine = quarantine.New(db.Quarantines(), quarantine.Options{Sealer: sealer, Audit: audit.NewLog(db, nil)})
	e.complaints = complaint.New(db.Complaints(), complaint.Options{Sealer: sealer, Key: testSigningKey, Audit: audit.NewLog(db, nil),
		AllowPrivateWebhooks: true})
	e.stats = stats.New(db.Stats(), stats.Options{})
	e.victims = victim.New(db.Victims(), inds, victim.Options{Sealer: sealer})
	logs, err := translog.New(db.Translog(), testLogKey, "ward.test")
	if err != nil {
		t.Fatal(err)
	}
	api := &httpapi.Server{
		Orgs: orgs, Indicators: inds, Matcher: m, Ready: e.follower.Ready, Complaints: e.complaints, Stats: e.stats,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxThreshold: 64, Images: media.Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}, Decode: e.decode, Bodies: e.bodies, OpenAPI: docs.OpenAPI,
		Audit: audit.NewLog(db, nil), Reports: e.reports, Directory: orgs, MaxReportFile: maxTestFile,
		Forward: forward.NewService(db.Forward(), e.reports, testSigningKey), Takedown: e.takedown,
		Quarantine: e.quarantine, Log: logs, Victims: e.victims, VictimMatches: e.victims,
	}
	for _, f := range adjust {
		f(api)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) client(t *testing.T, orgName string) *client.Client {
	t.Helper()
	c, err := client.New(e.url, e.keys[orgName], client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// poll applies pending changes to the match index, as the server's
// follower does every 250 ms.
func (e *env) poll(t *testing.T) {
	t.Helper()
	if err := e.follower.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func problemOf(t *testing.T, err error, status int) *client.Problem {
	t.Helper()
	var p *client.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v is not a problem", err)
	}
	if p.Status != status {
		t.Fatalf("status %d, want %d: %v", p.Status, status, p)
	}
	return p
}

func randomPDQ(r *rand.Rand) string {
	return pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}.String()
}

func TestOverlapWithdrawAndFeed(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		r := rand.New(rand.NewPCG(7, 7))
		h := []string{randomPDQ(r), randomPDQ(r), randomPDQ(r), randomPDQ(r)}
		md5 := "00112233445566778899aabbccddeeff"
		sub := func(vals ...string) []client.Submission {
			var s []client.Submission
			for _, v := range vals {
				typ := client.PDQ
				if len(v) == 32 {
					typ = client.MD5
				}
				s = append(s, client.Submission{Type: typ, Value: v, Category: "A1", Reference: "case 1"})
			}
			return s
		}
		de, nl, de2 := e.client(t, "hotline-de"), e.client(t, "hotline-nl"), e.client(t, "hotline-de2")
		if _, err := de.Submit(ctx, client.SubmitRequest{List: "known", Items: sub(h[0], h[1], h[2], md5)}); err != nil {
			t.Fatal(err)
		}
		// Same country: no activation.
		if res, err := de2.Submit(ctx, client.SubmitRequest{List: "known", Items: sub(h[0])}); err != nil || res.Results[0].Activated {
			t.Fatalf("same-country attestation: %+v %v", res, err)
		}
		res, err := nl.Submit(ctx, client.SubmitRequest{List: "known", Items: sub(h[1], h[2], h[3], md5)})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Results[0].Activated || res.Results[2].Activated || !res.Results[2].Created {
			t.Errorf("results %+v", res.Results)
		}
		e.poll(t)

		prov := e.client(t, "provider")
		items := []client.Item{{ID: "a", PDQ: h[0]}, {ID: "b", PDQ: h[1]}, {ID: "c", PDQ: h[2]}, {ID: "d", PDQ: h[3]}, {ID: "e", MD5: md5}}
		mr, err := prov.Match(ctx, client.MatchRequest{Items: items})
		if err != nil {
			t.Fatal(err)
		}
		got := matchedIDs(mr)
		if got != "b c e" {
			t.Fatalf("matched %q, want the overlap \"b c e\"", got)
		}
		if mr.Threshold != 31 || mr.Results[1].Matches[0].Distance != 0 || mr.Results[1].Matches[0].List != "known" {
			t.Errorf("response %+v", mr)
		}

		// A near duplicate matches with its distance; over the threshold it does not.
		near, _ := pdq.ParseHex(h[1])
		for k := range 20 {
			near[k/64] ^= 1 << (k % 64)
		}
		for _, tc := range []struct {
			threshold int
			want      int
		}{{31, 1}, {19, 0}, {20, 1}} {
			th := tc.threshold
			mr, err := prov.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: near.String()}}, Threshold: &th})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(mr.Results[0].Matches); n != tc.want || (n == 1 && mr.Results[0].Matches[0].Distance != 20) {
				t.Errorf("threshold %d: %+v", th, mr.Results[0])
			}
		}

		// Withdrawal: refused to the provider and to a non-attesting hotline.
		id := res.Results[0].Indicator
		_, err = prov.Withdraw(ctx, id, "false positive")
		problemOf(t, err, http.StatusForbidden)
		_, err = de2.Withdraw(ctx, id, "not ours")
		problemOf(t, err, http.StatusForbidden)
		in, err := nl.Withdraw(ctx, id, "re-assessed: not illegal")
		if err != nil || in.State != "withdrawn" || in.WithdrawnAt == nil {
			t.Fatalf("withdraw: %+v %v", in, err)
		}
		e.poll(t)
		mr, err = prov.Match(ctx, client.MatchRequest{Items: items})
		if err != nil {
			t.Fatal(err)
		}
		if got := matchedIDs(mr); got != "c e" {
			t.Errorf("after withdrawal matched %q, want \"c e\"", got)
		}

		// The provider's feed has only activations and withdrawals; the
		// hotline's has every change. Both end at the same cursor.
		provFeed := feed(t, prov, 2)
		hotFeed := feed(t, de, 3)
		if kinds(provFeed) != "activate activate activate withdraw" {
			t.Errorf("provider feed kinds %q", kinds(provFeed))
		}
		if !strings.Contains(kinds(hotFeed), "add") || !strings.Contains(kinds(hotFeed), "attest") {
			t.Errorf("hotline feed kinds %q", kinds(hotFeed))
		}
		lists, err := prov.Lists(ctx)
		if err != nil || len(lists) != 2 || lists[0].Name != "known" || lists[1].Name != indicator.VictimReported || lists[0].Active != 2 || lists[0].Head != hotFeed[len(hotFeed)-1].Seq {
			t.Errorf("lists %+v %v", lists, err)
		}
		ind, err := de.Indicator(ctx, res.Results[1].Indicator)
		if err != nil || ind.State != "active" || ind.Value != h[2] {
			t.Errorf("indicator %+v %v", ind, err)
		}
		// Changes made through the API are in the audit trail, with the
		// organisation that made them.
		entries, err := audit.NewLog(e.db, nil).Latest(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, en := range entries {
			trail = append(trail, en.Action+"/"+en.OrgName)
		}
		if want := "indicator.withdraw/hotline-nl indicator.submit/hotline-nl indicator.submit/hotline-de2 indicator.submit/hotline-de"; strings.Join(trail, " ") != want {
			t.Errorf("audit trail %q, want %q", strings.Join(trail, " "), want)
		}
	})
}

func matchedIDs(mr *client.MatchResponse) string {
	var ids []string
	for _, r := range mr.Results {
		if len(r.Matches) > 0 {
			ids = append(ids, r.ID)
		}
	}
	return strings.Join(ids, " ")
}

// feed reads a list's whole feed in pages of size n.
func feed(t *testing.T, c *client.Client, n int) []client.Change {
	t.Helper()
	var all []client.Change
	after := int64(0)
	for {
		p, err := c.Changes(context.Background(), "known", after, n)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Changes...)
		if p.Next <= after || p.Next >= p.Head {
			if p.Next < p.Head {
				t.Fatalf("feed stalled at %d of %d", p.Next, p.Head)
			}
			return all
		}
		after = p.Next
	}
}

func kinds(cs []client.Change) string {
	var k []string
	for _, c := range cs {
		k = append(k, c.Kind)
	}
	return strings.Join(k, " ")
}

func TestHashMatch(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		var buf bytes.Buffer
		if err := png.Encode(&buf, synth.Image(300, 200, 5)); err != nil {
			t.Fatal(err)
		}
		img := buf.Bytes()
		hr := filehash.Bytes(img, filehash.Options{})
		for _, c := range []string{"hotline-de", "hotline-nl"} {
			_, err := e.client(t, c).Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{
				{Type: "pdq", Value: hr.PDQ.String(), Category: "B1"},
				{Type: "sha256", Value: hr.SHA256, Category: "B1"},
			}})
			if err != nil {
				t.Fatal(err)
			}
		}
		e.poll(t)
		prov := e.client(t, "provider")
		resp, err := prov.HashMatch(ctx, img, client.HashMatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.PDQ != hr.PDQ.String() || resp.SHA256 != hr.SHA256 || resp.Width != 300 || len(resp.Matches) != 2 {
			t.Errorf("response %+v", resp)
		}
		for _, m := range resp.Matches {
			if m.Distance != 0 || m.Category != "B1" {
				t.Errorf("match %+v", m)
			}
		}
		// A re-encoded copy matches by PDQ only.
		buf.Reset()
		png.Encode(&buf, synth.Image(300, 200, 5))
		resp, err = prov.HashMatch(ctx, append(buf.Bytes(), 0), client.HashMatchOptions{Dihedral: true})
		if err != nil || len(resp.Matches) != 1 || resp.Matches[0].Signal != "pdq" {
			t.Errorf("copy: %+v %v", resp, err)
		}
		_, err = prov.HashMatch(ctx, img[:100], client.HashMatchOptions{}) // truncated
		problemOf(t, err, http.StatusUnprocessableEntity)
		_, err = prov.HashMatch(ctx, []byte("plain text"), client.HashMatchOptions{})
		problemOf(t, err, http.StatusUnprocessableEntity)
		_, err = prov.HashMatch(ctx, make([]byte, 2<<20), client.HashMatchOptions{})
		problemOf(t, err, http.StatusRequestEntityTooLarge)
		buf.Reset()
		png.Encode(&buf, synth.Image(1100, 1000, 1)) // 1.1 megapixels, over the test limit
		_, err = prov.HashMatch(ctx, buf.Bytes(), client.HashMatchOptions{})
		problemOf(t, err, http.StatusRequestEntityTooLarge)
	})
}

// raw sends a request without the client, to check what any HTTP client
// sees.
func raw(t *testing.T, method, url, key, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, url, b)
	}
	return resp.StatusCode, resp.Header, m
}

func TestErrorsAreProblems(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	prov, hot := e.keys["provider"], e.keys["hotline-de"]
	bad := strings.Repeat("z", 64)
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		contains                      string
	}{
		{"no key", "POST", "/v1/match", "", `{}`, 401, "API key"},
		{"bad key", "POST", "/v1/match", "ward_nope", `{}`, 401, "invalid API key"},
		{"forged key", "GET", "/v1/lists", prov[:len(prov)-3] + "abc", ``, 401, "invalid API key"},
		{"provider submits", "POST", "/v1/indicators", prov, `{"list":"known","items":[]}`, 403, "may not"},
		{"provider reads indicator", "GET", "/v1/indicators/1", prov, ``, 403, "may not"},
		{"unknown route", "GET", "/v1/nothing", prov, ``, 404, "no such endpoint"},
		{"wrong method", "DELETE", "/v1/match", prov, ``, 405, "not allowed"},
		{"not json", "POST", "/v1/match", prov, `{"items":`, 400, "not valid JSON"},
		{"empty body", "POST", "/v1/match", prov, ``, 400, "empty"},
		{"unknown field", "POST", "/v1/match", prov, `{"items":[{"pdq":"` + bad + `"}],"treshold":3}`, 400, "treshold"},
		{"no items", "POST", "/v1/match", prov, `{"items":[]}`, 400, "at least one item"},
		{"too many items", "POST", "/v1/match", prov, `{"items":[` + strings.Repeat(`{"md5":"00112233445566778899aabbccddeeff"},`, 1000) + `{"md5":"00112233445566778899aabbccddeeff"}]}`, 400, "at most 1000"},
		{"huge body", "POST", "/v1/match", prov, `{"items":[{"id":"` + strings.Repeat("x", 5<<20) + `"}]}`, 413, "over the limit"},
		{"unknown list", "GET", "/v1/lists/nope/changes", prov, ``, 404, "nope"},
		{"bad cursor", "GET", "/v1/lists/known/changes?after=-1&limit=0", prov, ``, 400, "after must be"},
		{"bad id", "POST", "/v1/indicators/abc/withdraw", hot, `{"reason":"x"}`, 404, "positive whole number"},
		{"missing indicator", "POST", "/v1/indicators/999/withdraw", hot, `{"reason":"x"}`, 404, "no indicator 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := raw(t, tc.method, e.url+tc.path, tc.key, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if body["status"] != float64(tc.status) || body["title"] == "" || !strings.Contains(fmt.Sprint(body), tc.contains) {
				t.Errorf("body %v lacks %q", body, tc.contains)
			}
		})
	}

	// Every invalid field is reported at once.
	_, _, body := raw(t, "POST", e.url+"/v1/match", prov, `{"threshold":99,"lists":["nope"],"items":[
		{"pdq":"abc"},{"md5":"00112233445566778899aabbccddeeff","sha256":"`+bad+`"},{"pdq":"`+bad+`"},{},
		{"pdq":"`+randomPDQ(rand.New(rand.NewPCG(1, 1)))+`","dihedral":{"rot90":"x"}}]}`)
	errs, _ := body["errors"].([]any)
	var pointers []string
	for _, fe := range errs {
		pointers = append(pointers, fe.(map[string]any)["pointer"].(string))
	}
	// An item may carry several hashes of one content (item 1), each checked.
	want := "/threshold /lists/0 /items/0/pdq /items/1/sha256 /items/2/pdq /items/3 /items/4/dihedral"
	if strings.Join(pointers, " ") != want {
		t.Errorf("pointers %q, want %q (%v)", strings.Join(pointers, " "), want, body)
	}
}

func TestReadiness(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), false)
	if status, _, _ := raw(t, "GET", e.url+"/livez", "", ""); status != 200 {
		t.Errorf("livez %d", status)
	}
	status, h, _ := raw(t, "GET", e.url+"/readyz", "", "")
	if status != 503 || h.Get("Retry-After") == "" {
		t.Errorf("readyz before load: %d %v", status, h)
	}
	if status, _, _ := raw(t, "POST", e.url+"/v1/match", e.keys["provider"], `{"items":[{"md5":"00112233445566778899aabbccddeeff"}]}`); status != 503 {
		t.Errorf("match before load: %d", status)
	}
	if err := e.follower.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := raw(t, "GET", e.url+"/readyz", "", ""); status != 200 {
		t.Errorf("readyz after load: %d", status)
	}
}

// TestLiveUpdate checks that the follower, running as the server runs
// it, makes an activation matchable within a second.
func TestLiveUpdate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := start(t, storetest.OpenSQLite(t), true)
	go e.follower.Run(ctx, 100*time.Millisecond, func(err error) { t.Error(err) })
	v := randomPDQ(rand.New(rand.NewPCG(9, 9)))
	for _, c := range []string{"hotline-de", "hotline-nl"} {
		if _, err := e.client(t, c).Submit(ctx, client.SubmitRequest{List: "known", Items: []client.Submission{{Type: "pdq", Value: v, Category: "A2"}}}); err != nil {
			t.Fatal(err)
		}
	}
	activated := time.Now()
	prov := e.client(t, "provider")
	for {
		mr, err := prov.Match(ctx, client.MatchRequest{Items: []client.Item{{PDQ: v}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(mr.Results[0].Matches) == 1 {
			break
		}
		if time.Since(activated) > time.Second {
			t.Fatal("activation not matchable within one second")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
