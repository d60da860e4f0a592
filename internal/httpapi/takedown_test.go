package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// fakeWeb is the web the takedown service fetches in these tests: files
// by URL, the media each page embeds, and where each name is hosted.
type fakeWeb struct {
	mu      sync.Mutex
	files   map[string][]byte
	embeds  map[string][]string
	hosting map[string]takedown.Hosting // by host name
}

// webAddr is the address every name of the fake web resolves to.
var webAddr = netip.MustParseAddr("192.0.2.10")

func newFakeWeb() *fakeWeb {
	return &fakeWeb{files: map[string][]byte{}, embeds: map[string][]string{}, hosting: map[string]takedown.Hosting{}}
}

// page serves an HTML page at pageURL embedding each of images, served
// at their URLs.
func (f *fakeWeb) page(pageURL string, images map[string][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	b.WriteString("<!doctype html><html><body>")
	for _, u := range slices.Sorted(func(yield func(string) bool) {
		for u := range images {
			if !yield(u) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, `<img src="%s">`, u)
		f.files[u] = images[u]
		f.embeds[pageURL] = append(f.embeds[pageURL], u)
	}
	b.WriteString("</body></html>")
	f.files[pageURL] = []byte(b.String())
}

func (f *fakeWeb) remove(u string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, u)
}

func (f *fakeWeb) host(name string, h takedown.Hosting) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosting[name] = h
}

func (f *fakeWeb) Get(_ context.Context, raw string) crawl.Resource {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := crawl.Resource{URL: raw, FinalURL: raw, Addr: webAddr}
	b, ok := f.files[raw]
	if !ok {
		r.Status, r.Gone = http.StatusNotFound, true
		return r
	}
	r.Status, r.Body, r.ContentType = http.StatusOK, b, http.DetectContentType(b)
	return r
}

func (f *fakeWeb) Fetch(ctx context.Context, raw string) (crawl.Result, error) {
	res := crawl.Result{Page: f.Get(ctx, raw)}
	f.mu.Lock()
	embeds := f.embeds[raw]
	f.mu.Unlock()
	for _, u := range embeds {
		res.Embedded = append(res.Embedded, f.Get(ctx, u))
	}
	return res, nil
}

func (f *fakeWeb) locate(_ context.Context, raw string, addrs []netip.Addr) (takedown.Hosting, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return takedown.Hosting{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosting[u.Hostname()]
	h.Addresses = addrs
	return h, nil
}

// addOrg adds an organisation with a key to e.
func (e *env) addOrg(t *testing.T, name string, kind org.Kind, country string) {
	t.Helper()
	orgs := org.NewService(e.db)
	o, err := orgs.Create(context.Background(), name, kind, country)
	if err != nil {
		t.Fatal(err)
	}
	e.orgs[name] = o
	if e.keys[name], _, err = orgs.CreateKey(context.Background(), name, org.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// caseCount is how many cases the centre sees.
func (e *env) caseCount(t *testing.T) int {
	t.Helper()
	page, err := e.client(t, "centre").Cases(context.Background(), client.CasesOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Cases)
}

// fetch runs the fetch job of case id, as the job runner would.
func (e *env) fetch(t *testing.T, id string) {
	t.Helper()
	if err := e.takedown.Fetch(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func pngOf(t *testing.T, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(320, 240, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTakedownNotConfigured: a server without the takedown service
// answers its routes, the public one included, with 503 problems rather
// than failing.
func TestTakedownNotConfigured(t *testing.T) {
	api := &httpapi.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	status, h, body := raw(t, "POST", srv.URL+"/v1/public/url-reports", "", `{"url":"https://example.org/"}`)
	if status != http.StatusServiceUnavailable || h.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(body["detail"].(string), "does not run the takedown flow") {
		t.Errorf("%d %v %v", status, h, body)
	}
}

// TestURLReports: the public reports without a key and a hotline with
// its own; each gets a case, which the centre sees, and the reporting
// hotline too, but not a hotline of another country.
func TestURLReports(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		a := e.send(t, "POST", "/v1/public/url-reports", "", strings.NewReader(
			`{"url":"https://Files.Example.net/a/page.html#top","description":"second row","contact":"me@example.org"}`))
		var rc client.URLReceipt
		if a.status != http.StatusAccepted {
			t.Fatalf("public report: %d %s", a.status, a.body)
		}
		a.decode(t, &rc)
		if rc.ID == "" || rc.Receipt == "" || a.header.Get("Location") != "" {
			t.Errorf("public report answered %s, Location %q", a.body, a.header.Get("Location"))
		}
		centre := e.client(t, "centre")
		c, err := centre.Case(ctx, rc.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The receipt checks out from the answer alone, under the key
		// every key reads.
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(rc.ReceivedAt) || rc.URL != "https://files.example.net/a/page.html" {
			t.Errorf("receipt %+v", rc)
		}
		var key client.SigningKey
		e.send(t, "GET", "/v1/lea/signing-key", e.keys["provider"], nil).decode(t, &key)
		sig, err := base64.StdEncoding.DecodeString(rc.Receipt)
		sum := sha256.Sum256([]byte(rc.URL))
		msg := key.ReceiptContext + rc.ID + "\n" + rc.ReceivedAt + "\n" + hex.EncodeToString(sum[:])
		if err != nil || key.ReceiptContext != "ward takedown receipt v1\n" || !ed25519.Verify(key.PublicKey, []byte(msg), sig) {
			t.Errorf("the receipt %+v does not verify under %+v", rc, key)
		}
		received, err := time.Parse(time.RFC3339Nano, rc.ReceivedAt)
		if err != nil || !received.Equal(c.ReceivedAt) || !takedown.VerifyReceipt(key.PublicKey, rc.ID, received, rc.URL, rc.Receipt) ||
			takedown.VerifyReceipt(key.PublicKey, rc.ID, received, rc.URL+"x", rc.Receipt) {
			t.Errorf("VerifyReceipt of %+v (received %v, case %v): %v", rc, received, c.ReceivedAt, err)
		}
		if c.URL != "https://files.example.net/a/page.html" || c.State != client.CaseFetching || c.Description != "second row" ||
			c.RemovedAt != nil || c.TimeToRemovalS != nil || len(c.Items) != 0 || c.Hosting.Addresses == nil {
			t.Errorf("case %+v", c)
		}
		// The names of the issue, null until removed.
		var m map[string]any
		e.send(t, "GET", "/v1/hotline/cases/"+rc.ID, e.keys["centre"], nil).decode(t, &m)
		for _, k := range []string{"id", "url", "state", "received_at", "hosting", "items", "notices", "removed_at", "time_to_removal_s"} {
			if _, ok := m[k]; !ok {
				t.Errorf("the case has no %q: %v", k, m)
			}
		}
		if m["removed_at"] != nil || m["time_to_removal_s"] != nil || m["contact"] != nil {
			t.Errorf("case %v", m)
		}

		a = e.send(t, "POST", "/v1/hotline/url-reports", e.keys["hotline-de"], strings.NewReader(`{"url":"https://de.example/x"}`))
		if a.status != http.StatusAccepted {
			t.Fatalf("hotline report: %d %s", a.status, a.body)
		}
		a.decode(t, &rc)
		if a.header.Get("Location") != "/v1/hotline/cases/"+rc.ID {
			t.Errorf("Location %q", a.header.Get("Location"))
		}
		de, nl := e.client(t, "hotline-de"), e.client(t, "hotline-nl")
		if _, err := de.Case(ctx, rc.ID); err != nil {
			t.Errorf("the reporting hotline cannot see its case: %v", err)
		}
		_, err = nl.Case(ctx, rc.ID)
		problemOf(t, err, http.StatusNotFound)
		_, err = nl.CaseContent(ctx, rc.ID, 0, io.Discard)
		problemOf(t, err, http.StatusNotFound)
		for _, tc := range []struct {
			c    *client.Client
			want int
		}{{de, 1}, {nl, 0}, {centre, 2}} {
			page, err := tc.c.Cases(ctx, client.CasesOptions{State: client.CaseFetching})
			if err != nil || len(page.Cases) != tc.want {
				t.Errorf("cases: %+v %v, want %d", page, err, tc.want)
			}
		}
		// Paging: a page as long as the limit has a next.
		page, err := centre.Cases(ctx, client.CasesOptions{Limit: 1})
		if err != nil || len(page.Cases) != 1 || page.Next == "" {
			t.Fatalf("first page %+v %v", page, err)
		}
		next, err := centre.Cases(ctx, client.CasesOptions{Limit: 1, After: page.Next})
		if err != nil || len(next.Cases) != 1 || next.Cases[0].ID == page.Cases[0].ID {
			t.Errorf("second page %+v %v", next, err)
		}
		if page, err := centre.Cases(ctx, client.CasesOptions{Search: "de.example"}); err != nil || len(page.Cases) != 1 || page.Cases[0].ID != rc.ID {
			t.Errorf("search: %+v %v", page, err)
		}
		// Each list is in the audit trail, as each case viewed is.
		if got := e.auditActions(t); !strings.HasPrefix(got, "takedown.case.list takedown.case.list") {
			t.Errorf("audit trail %q: the lists are not recorded", got)
		}
		for _, q := range []string{"?state=gone", "?limit=0", "?limit=501", "?q=%00"} {
			p := e.send(t, "GET", "/v1/hotline/cases"+q, e.keys["centre"], nil).problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 {
				t.Errorf("%s: %+v", q, p)
			}
		}
	})
}

// TestURLReportRefused: a bad report is refused with 400 naming each
// field at fault (413 if too large), and nothing is stored.
func TestURLReportRefused(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := start(t, open(t), true)
		long := strings.Repeat("x", takedown.MaxDescription+1)
		for _, tc := range []struct {
			name, body string
			status     int
			pointers   string // of the field errors, if any
			detail     string
		}{
			{"not json", `{"url":`, 400, "", "not valid JSON"},
			{"empty", ``, 400, "", "empty"},
			{"array", `[]`, 400, "", "not valid JSON"},
			{"unknown field", `{"url":"https://example.org/","email":"a@example.org"}`, 400, "", "email"},
			{"no url", `{"description":"x"}`, 400, "/url", ""},
			{"not http", `{"url":"ftp://example.org/a"}`, 400, "/url", ""},
			{"relative", `{"url":"/a/b"}`, 400, "/url", ""},
			{"password", `{"url":"https://u:p@example.org/"}`, 400, "/url", ""},
			{"long url", `{"url":"https://example.org/` + strings.Repeat("a", takedown.MaxURL) + `"}`, 400, "/url", ""},
			{"long description", `{"url":"https://example.org/","description":"` + long + `"}`, 400, "/description", ""},
			{"control character", `{"url":"https://example.org/","description":"a\u0007b"}`, 400, "/description", ""},
			{"bad contact", `{"url":"https://example.org/","contact":"me at example.org"}`, 400, "/contact", ""},
			{"named contact", `{"url":"https://example.org/","contact":"Me <me@example.org>"}`, 400, "/contact", ""},
			{"all at once", `{"url":"x","description":"` + long + `","contact":"@"}`, 400, "/url /description /contact", ""},
			{"too large", `{"url":"https://example.org/","description":"` + strings.Repeat("x", 17<<10) + `"}`, 413, "", "over the limit"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.send(t, "POST", "/v1/public/url-reports", "", strings.NewReader(tc.body))
				p := a.problem(t, tc.status)
				var pointers []string
				for _, fe := range p.Errors {
					pointers = append(pointers, fe.Pointer)
				}
				if strings.Join(pointers, " ") != tc.pointers || !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("fields %q (want %q), detail %q (want %q)", pointers, tc.pointers, p.Detail, tc.detail)
				}
			})
		}
		a := e.send(t, "POST", "/v1/public/url-reports", "", strings.NewReader(`{"url":"https://example.org/"}`), "Content-Type", "text/plain")
		a.problem(t, http.StatusBadRequest)
		// And through a hotline's key, the same.
		a = e.send(t, "POST", "/v1/hotline/url-reports", e.keys["hotline-de"], strings.NewReader(`{"url":"mailto:a@example.org"}`))
		if p := a.problem(t, http.StatusBadRequest); len(p.Errors) != 1 || p.Errors[0].Pointer != "/url" {
			t.Errorf("hotline: %+v", p)
		}
		if n := e.caseCount(t); n != 0 {
			t.Errorf("%d cases stored from refused reports", n)
		}
	})
}

// TestPublicReportLimit: the public's reports are limited per client
// address, bad ones counted too, each address on its own.
func TestPublicReportLimit(t *testing.T) {
	var api *httpapi.Server
	e := start(t, storetest.OpenSQLite(t), true, func(s *httpapi.Server) {
		s.PublicLimit = ratelimit.NewPublic(0.01, 2)
		api = s
	})
	for i, tc := range []struct {
		body string
		want int
	}{{`{"url":"https://example.org/1"}`, 202}, {`{"url":"bad"}`, 400}, {`{"url":"https://example.org/2"}`, 429}} {
		status, h, body := raw(t, "POST", e.url+"/v1/public/url-reports", "", tc.body)
		if status != tc.want {
			t.Fatalf("report %d: %d %v, want %d", i, status, body, tc.want)
		}
		if tc.want == 429 {
			if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q", h.Get("Retry-After"))
			}
		}
	}
	// The hotlines' reports are not limited by it.
	if status, _, body := raw(t, "POST", e.url+"/v1/hotline/url-reports", e.keys["hotline-nl"], `{"url":"https://example.org/h"}`); status != 202 {
		t.Errorf("hotline report: %d %v", status, body)
	}
	// Another address has its own allowance; the same /64 shares one.
	h := api.Handler()
	for _, tc := range []struct {
		addr string
		want int
	}{{"198.51.100.7:1000", 202}, {"[2001:db8:5:6::1]:1", 202}, {"[2001:db8:5:6::2]:2", 202}, {"[2001:db8:5:6::3]:3", 429}} {
		req := httptest.NewRequest("POST", "/v1/public/url-reports", strings.NewReader(`{"url":"https://example.org/z"}`))
		req.RemoteAddr = tc.addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.addr, rec.Code, rec.Body, tc.want)
		}
	}
}

// TestCaseFlowAPI: a case fetched and routed to the Dutch hotline is
// read, its content downloaded, assessed (after refused attempts),
// answered by its host and removed, through the API; the figures count
// it.
func TestCaseFlowAPI(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		e.addOrg(t, "hosting-nl", org.Host, "NL")
		e.addOrg(t, "hosting-fr", org.Host, "FR")
		// The page is hosted in the Netherlands, its image in France.
		e.web.host("nl.example", takedown.Hosting{Country: "NL", Host: e.orgs["hosting-nl"].ID})
		e.web.host("img.example", takedown.Hosting{Country: "FR", Host: e.orgs["hosting-fr"].ID})
		page, img := "https://nl.example/gallery.html", "https://img.example/1.png"
		content := pngOf(t, 3)
		e.web.page(page, map[string][]byte{img: content})
		rc, err := e.client(t, "hotline-de").SubmitURL(ctx, client.URLReport{URL: page})
		if err != nil {
			t.Fatal(err)
		}
		e.fetch(t, rc.ID)

		nl, de := e.client(t, "hotline-nl"), e.client(t, "hotline-de")
		var c client.Case
		e.send(t, "GET", "/v1/hotline/cases/"+rc.ID, e.keys["hotline-nl"], nil).decode(t, &c)
		if c.State != client.CaseAssessment || c.Hosting.Country != "NL" || c.Hosting.Host != "hosting-nl" ||
			!slices.Equal(c.Hosting.Addresses, []string{webAddr.String()}) || len(c.Items) != 2 {
			t.Fatalf("case %+v", c)
		}
		it := c.Items[1]
		if c.Items[0].Hosting == nil || c.Items[0].Hosting.Host != "hosting-nl" || it.Hosting == nil || it.Hosting.Host != "hosting-fr" || it.Hosting.Country != "FR" {
			t.Errorf("items' hosting %+v, %+v", c.Items[0].Hosting, it.Hosting)
		}
		if it.Index != 1 || it.URL != img || it.ContentType != "image/png" || it.Size != int64(len(content)) ||
			len(it.SHA256) != 64 || len(it.MD5) != 32 || len(it.PDQ) != 64 || !it.HasContent || it.Matches == nil || it.RemovedAt != nil {
			t.Errorf("item %+v", it)
		}

		// The content, as a download no browser renders.
		a := e.send(t, "GET", "/v1/hotline/cases/"+rc.ID+"/items/1/content", e.keys["hotline-nl"], nil)
		if a.status != 200 || !bytes.Equal(a.body, content) || a.header.Get("Content-Type") != "image/png" ||
			a.header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(a.header.Get("Content-Disposition"), "attachment") ||
			a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("content: %d %v (%d bytes)", a.status, a.header, len(a.body))
		}
		var buf bytes.Buffer
		if ct, err := nl.CaseContent(ctx, rc.ID, 1, &buf); err != nil || ct != "image/png" || !bytes.Equal(buf.Bytes(), content) {
			t.Errorf("client content: %q %v", ct, err)
		}
		e.send(t, "GET", "/v1/hotline/cases/"+rc.ID+"/items/7/content", e.keys["hotline-nl"], nil).problem(t, http.StatusNotFound)
		e.send(t, "GET", "/v1/hotline/cases/"+rc.ID+"/items/x/content", e.keys["hotline-nl"], nil).problem(t, http.StatusBadRequest)

		// Refused assessments change nothing.
		path := "/v1/hotline/cases/" + rc.ID + "/assessment"
		for _, tc := range []struct {
			name, key, body string
			status          int
			pointers        string
		}{
			{"no items", "hotline-nl", `{"items":[]}`, 400, "/items"},
			{"bad classes", "hotline-nl", `{"items":[{"index":-1,"classification":"bad"},{"index":1,"classification":"Baseline"}]}`, 400,
				"/items/0/index /items/0/classification /items/1/classification"},
			{"unknown field", "hotline-nl", `{"items":[{"index":0,"classification":"baseline","note":"x"}]}`, 400, ""},
			{"no such item", "hotline-nl", `{"items":[{"index":0,"classification":"baseline"},{"index":1,"classification":"baseline"},{"index":5,"classification":"baseline"}]}`, 400, ""},
			{"not its queue", "hotline-de", `{"items":[{"index":0,"classification":"not_illegal"},{"index":1,"classification":"baseline"}]}`, 403, ""},
			{"provider", "provider", `{"items":[{"index":0,"classification":"not_illegal"}]}`, 403, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.send(t, "POST", path, e.keys[tc.key], strings.NewReader(tc.body)).problem(t, tc.status)
				var pointers []string
				for _, fe := range p.Errors {
					pointers = append(pointers, fe.Pointer)
				}
				if strings.Join(pointers, " ") != tc.pointers {
					t.Errorf("fields %q, want %q: %+v", pointers, tc.pointers, p)
				}
			})
		}
		e.send(t, "POST", "/v1/hotline/cases/nosuchcase/assessment", e.keys["hotline-nl"],
			strings.NewReader(`{"items":[{"index":0,"classification":"baseline"}]}`)).problem(t, http.StatusNotFound)
		if got, err := nl.Case(ctx, rc.ID); err != nil || got.State != client.CaseAssessment {
			t.Fatalf("after refused assessments: %+v %v", got, err)
		}

		// The image alone is classified: the page, not listed, stays
		// unclassified.
		assessed, err := nl.Assess(ctx, rc.ID, client.Assessment{Items: []client.ItemAssessment{{Index: 1, Classification: client.Baseline}}})
		if err != nil {
			t.Fatal(err)
		}
		if assessed.State != client.CaseNoticed || len(assessed.Notices) != 1 || assessed.Items[1].Classification != client.Baseline ||
			assessed.Items[0].Classification != "" {
			t.Fatalf("assessed %+v", assessed)
		}
		n := assessed.Notices[0]
		if n.Host != "hosting-fr" || !slices.Equal(n.URLs, []string{img}) || n.Classification != client.Baseline || !n.AnsweredAt.IsZero() {
			t.Errorf("notice %+v", n)
		}
		_, err = nl.Assess(ctx, rc.ID, client.Assessment{Items: []client.ItemAssessment{{Index: 0, Classification: client.NotIllegal}}})
		problemOf(t, err, http.StatusConflict)

		// A host answers its own notices only.
		for _, tc := range []struct {
			key, id string
			want    int
		}{{"hosting-nl", n.ID, 404}, {"hosting-fr", "nosuchnotice", 404}, {"hotline-nl", n.ID, 403}, {"hosting-fr", n.ID, 202}, {"hosting-fr", n.ID, 202}} {
			a := e.send(t, "POST", "/v1/notices/"+tc.id+"/removed", e.keys[tc.key], nil)
			if a.status != tc.want {
				t.Errorf("%s answering %s: %d %s, want %d", tc.key, tc.id, a.status, a.body, tc.want)
			}
			if tc.want == 202 {
				var ans client.NoticeAnswer
				if a.decode(t, &ans); ans.Notice != n.ID || ans.Recheck != "scheduled" {
					t.Errorf("answer %s", a.body)
				}
			}
		}
		// The rechecks verify: the image is gone, and gone again when
		// checked once more.
		e.web.remove(img)
		for range 2 {
			if err := e.takedown.RecheckDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var m map[string]any
		e.send(t, "GET", "/v1/hotline/cases/"+rc.ID, e.keys["centre"], nil).decode(t, &m)
		removed, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["removed_at"]))
		ttr, _ := m["time_to_removal_s"].(float64)
		if m["state"] != client.CaseRemoved || removed.IsZero() || ttr <= 0 {
			t.Errorf("after the recheck: state %v, removed_at %v, time_to_removal_s %v", m["state"], m["removed_at"], m["time_to_removal_s"])
		}
		if got, err := de.Case(ctx, rc.ID); err != nil || got.Notices[0].AnsweredAt.IsZero() || got.Items[1].RemovedAt == nil {
			t.Errorf("the reporting hotline's view: %+v %v", got, err)
		}
		// Removed already, an answer schedules nothing, and says so.
		a = e.send(t, "POST", "/v1/notices/"+n.ID+"/removed", e.keys["hosting-fr"], nil)
		var ans client.NoticeAnswer
		if a.decode(t, &ans); a.status != http.StatusOK || ans.Notice != n.ID || ans.Recheck != "not needed: the content is verified removed" {
			t.Errorf("answer after the removal: %d %s", a.status, a.body)
		}

		// The figures count it, overall and for its host.
		var f client.TakedownFigures
		e.send(t, "GET", "/v1/takedown/figures", e.keys["hotline-de"], nil).decode(t, &f)
		today := time.Now().UTC().Format("2006-01-02")
		if f.To != today || f.From != time.Now().UTC().AddDate(0, 0, -364).Format("2006-01-02") ||
			f.Cases != 1 || f.Removed != 1 || f.Open != 0 || f.MedianS == nil || *f.MedianS != ttr || f.Within1d != 1 ||
			len(f.Hosts) != 1 || f.Hosts[0].Host != "hosting-nl" || f.Hosts[0].Country != "NL" || f.Hosts[0].Removed != 1 {
			t.Errorf("figures %+v", f)
		}
		got, err := de.TakedownFigures(ctx, "2020-01-01", "2020-12-31")
		if err != nil || got.Cases != 0 || got.MedianS != nil || got.Hosts == nil || got.From != "2020-01-01" {
			t.Errorf("figures of 2020: %+v %v", got, err)
		}
		var fm map[string]any
		e.send(t, "GET", "/v1/takedown/figures?from=2020-01-01&to=2020-01-01", e.keys["centre"], nil).decode(t, &fm)
		for _, k := range []string{"from", "to", "cases", "removed", "open", "notices", "median_s", "p90_s",
			"removed_within_1d", "removed_within_3d", "removed_within_7d", "hosts"} {
			if _, ok := fm[k]; !ok {
				t.Errorf("the figures have no %q: %v", k, fm)
			}
		}
		for q, pointer := range map[string]string{"?from=2020-13-01": "/from", "?to=yesterday": "/to", "?from=2020-02-01&to=2020-01-31": "/to"} {
			p := e.send(t, "GET", "/v1/takedown/figures"+q, e.keys["centre"], nil).problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Pointer != pointer {
				t.Errorf("%s: %+v", q, p)
			}
		}
		e.send(t, "GET", "/v1/takedown/figures", e.keys["provider"], nil).problem(t, http.StatusForbidden)
	})
}

// TestHandOverAPI: a case not yet assessed moves to another hotline's
// queue, or the centre's, by name; the hotline it left no longer sees it.
func TestHandOverAPI(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		e.web.host("nl.example", takedown.Hosting{Country: "NL"})
		page := "https://nl.example/p.html"
		e.web.page(page, map[string][]byte{"https://nl.example/2.png": pngOf(t, 4)})
		rc, err := e.client(t, "centre").ReportURL(ctx, client.URLReport{URL: page})
		if err != nil {
			t.Fatal(err)
		}
		e.fetch(t, rc.ID)
		path := "/v1/hotline/cases/" + rc.ID + "/handover"
		for _, tc := range []struct {
			name, key, body string
			status          int
			pointer         string
		}{
			{"neither", "hotline-nl", `{}`, 400, ""},
			{"both", "hotline-nl", `{"hotline":"hotline-de","to":"centre"}`, 400, ""},
			{"not a queue", "hotline-nl", `{"to":"europol"}`, 400, "/to"},
			{"not a hotline", "hotline-nl", `{"hotline":"provider"}`, 400, "/hotline"},
			{"no such org", "hotline-nl", `{"hotline":"nobody"}`, 400, "/hotline"},
			{"not its queue", "hotline-de", `{"hotline":"hotline-de"}`, 404, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.send(t, "POST", path, e.keys[tc.key], strings.NewReader(tc.body)).problem(t, tc.status)
				if tc.pointer != "" && (len(p.Errors) != 1 || p.Errors[0].Pointer != tc.pointer) {
					t.Errorf("%+v, want the field %s", p, tc.pointer)
				}
			})
		}
		nl, de := e.client(t, "hotline-nl"), e.client(t, "hotline-de")
		h, err := nl.HandOverCase(ctx, rc.ID, client.HandOver{Hotline: "hotline-de"})
		if err != nil || h.Case != rc.ID || h.Queue != "hotline-de" {
			t.Fatalf("hand-over: %+v %v", h, err)
		}
		_, err = nl.Case(ctx, rc.ID)
		problemOf(t, err, http.StatusNotFound)
		if _, err := de.Case(ctx, rc.ID); err != nil {
			t.Fatal(err)
		}
		if h, err := de.HandOverCase(ctx, rc.ID, client.HandOver{To: "centre"}); err != nil || h.Queue != "centre" {
			t.Fatalf("to the centre: %+v %v", h, err)
		}
		_, err = de.Case(ctx, rc.ID)
		problemOf(t, err, http.StatusNotFound)
		// The case keeps its history across the queues.
		c, err := e.client(t, "centre").Case(ctx, rc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, ev := range c.History {
			steps = append(steps, ev.Kind+":"+ev.Org)
		}
		if got := strings.Join(steps, " "); !strings.HasPrefix(got, "reported:") ||
			!strings.HasSuffix(got, "handed_over:hotline-de handed_over:") {
			t.Errorf("history %q", got)
		}
	})
}
