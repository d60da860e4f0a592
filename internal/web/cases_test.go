package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// fakeWeb is the web as the takedown service's fetcher sees it: pages
// by URL, each with the resources it embeds; anything else is gone.
// Names under de.example are hosted in Germany, where the console's
// hotline is; others nowhere known, so the centre assesses them.
type fakeWeb struct {
	mu    sync.Mutex
	pages map[string]crawl.Result
}

func newFakeWeb() *fakeWeb { return &fakeWeb{pages: map[string]crawl.Result{}} }

var webAddr = netip.MustParseAddr("192.0.2.80")

func resource(raw, typ string, body []byte) crawl.Resource {
	return crawl.Resource{URL: raw, FinalURL: raw, Status: 200, ContentType: typ, Body: body, Addr: webAddr}
}

// page puts a page at raw embedding the resources given.
func (f *fakeWeb) page(raw string, embedded ...crawl.Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages[raw] = crawl.Result{Page: resource(raw, "text/html; charset=utf-8", []byte("<html><body>a page</body></html>")), Embedded: embedded}
}

func (f *fakeWeb) Fetch(_ context.Context, raw string) (crawl.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.pages[raw]; ok {
		return r, nil
	}
	return crawl.Result{Page: crawl.Resource{URL: raw, FinalURL: raw, Status: 404, Gone: true}}, nil
}

func (f *fakeWeb) Get(ctx context.Context, raw string) crawl.Resource {
	r, _ := f.Fetch(ctx, raw)
	return r.Page
}

func (f *fakeWeb) locate(_ context.Context, raw string, addrs []netip.Addr) (takedown.Hosting, error) {
	h := takedown.Hosting{Addresses: addrs}
	if u, err := url.Parse(raw); err == nil && strings.HasSuffix(u.Hostname(), "de.example") {
		h.Country = "DE"
	}
	return h, nil
}

func pngOf(t *testing.T, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(64, 64, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testCase is a fetched case: its page embeds a known image (item 1), a
// new one (2), a PPM (3) and an image that is gone (4).
type testCase struct {
	id           string
	known, fresh []byte
}

// fetchedCase reports raw as the public does, through the form, and
// fetches it.
func fetchedCase(t *testing.T, c *console, raw string, seed uint64) testCase {
	t.Helper()
	tc := testCase{known: pngOf(t, seed), fresh: pngOf(t, seed+1)}
	sum := sha256.Sum256(tc.known)
	c.matcher.SetList(indicator.List{Name: indicator.Known, MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold})
	if err := c.matcher.Add(matcher.Entry{ID: int64(700 + seed), List: indicator.Known, Signal: indicator.SHA256, Value: hex.EncodeToString(sum[:]), Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
	c.web.page(raw,
		resource(raw+"/known.png", "image/png", tc.known),
		resource(raw+"/new.png", "image/png", tc.fresh),
		resource(raw+"/scan.ppm", "image/x-portable-pixmap", pnm(48, 32, seed)),
		crawl.Resource{URL: raw + "/gone.png", FinalURL: raw + "/gone.png", Status: 404, Gone: true},
	)
	resp, body := send(t, anonymous(c), c.url+"/report", url.Values{"url": {raw}, "description": {"on the second page"}}, "same-origin")
	m := regexp.MustCompile(`<code id="case">([A-Z0-9]+)</code>`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusAccepted || m == nil {
		t.Fatalf("report of %s: %d %s", raw, resp.StatusCode, body)
	}
	tc.id = m[1]
	if err := c.takedown.Fetch(context.Background(), tc.id); err != nil {
		t.Fatal(err)
	}
	return tc
}

// centreView is how the centre's analysts see cases.
func (c *console) centreView() takedown.Viewer {
	return takedown.Viewer{Org: c.orgs["centre"].ID, Kind: org.Centre, Actor: "user:1", Scope: policy.AllData}
}

func (c *console) caseOf(t *testing.T, id string) takedown.Case {
	t.Helper()
	tc, err := c.takedown.Case(context.Background(), c.centreView(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// caseCount is how many cases there are.
func (c *console) caseCount(t *testing.T) int {
	t.Helper()
	cs, err := c.takedown.Cases(context.Background(), c.centreView(), takedown.CaseQuery{Limit: takedown.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// TestPublicReportCreatesCase: the public form opens a case with what the
// reporter wrote, shows its ID and receipt, and keeps nothing of the
// reporter's address; what the service refuses is shown at its field, and
// stores nothing.
func TestPublicReportCreatesCase(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		cl := c.fromAddr("127.0.0.3")
		resp, body := send(t, cl, c.url+"/report", url.Values{"url": {" https://Bad.example/page#top "}, "description": {"in the gallery"}, "contact": {"reporter@example.org"}}, "same-origin")
		id := regexp.MustCompile(`<code id="case">([A-Z0-9]+)</code>`).FindStringSubmatch(body)
		receipt := regexp.MustCompile(`<code id="receipt">([^<]+)</code>`).FindStringSubmatch(body)
		received := regexp.MustCompile(`<code id="received">([^<]+)</code>`).FindStringSubmatch(body)
		if resp.StatusCode != http.StatusAccepted || id == nil || receipt == nil || received == nil || !strings.Contains(body, "What happens next") ||
			!strings.Contains(body, "cannot promise") || strings.Contains(body, "reporter@example.org") || strings.Contains(body, "<script") ||
			!strings.Contains(body, `<code id="url">https://bad.example/page</code>`) {
			t.Fatalf("report: %d %s", resp.StatusCode, body)
		}
		// What the page shows is what the receipt signs.
		at, err := time.Parse(takedown.ReceiptTime, received[1])
		if err != nil || !takedown.VerifyReceipt(c.takedown.PublicKey(), id[1], at, "https://bad.example/page", html.UnescapeString(receipt[1])) {
			t.Errorf("the receipt %q of %q does not verify: %v", receipt[1], received[1], err)
		}
		got := c.caseOf(t, id[1])
		if got.URL != "https://bad.example/page" || got.Description != "in the gallery" || got.Contact != "reporter@example.org" ||
			got.State != takedown.Fetching || got.Source != 0 {
			t.Errorf("case %+v", got)
		}
		if purpose, ok := audited(t, c, "takedown.report", "case:"+id[1]); !ok || strings.Contains(purpose, "127.0.0") {
			t.Errorf("report audited %v, purpose %q", ok, purpose)
		}
		// Nothing of the reporter's address is kept, in the case or in
		// the audit trail.
		if bytes.Contains(storetest.DumpAll(t, c.db), []byte("127.0.0.3")) {
			t.Error("the store holds the reporter's address")
		}

		// Refused by the service, which the form's own checks let pass:
		// shown at the field, nothing stored.
		for _, tc := range []struct {
			form  url.Values
			field string
			msg   string
		}{
			{url.Values{"url": {"https://bad.example/page"}, "description": {strings.Repeat("x", takedown.MaxDescription+1)}}, "description", "at most"},
			{url.Values{"url": {"https://user:pw@bad.example/"}}, "url", "user name or password"},
			{url.Values{"url": {"https://bad.example/" + strings.Repeat("a", takedown.MaxURL)}}, "url", "at most"},
		} {
			resp, body := send(t, cl, c.url+"/report", tc.form, "same-origin")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(fieldError(body, tc.field), tc.msg) {
				t.Errorf("%s refused: %d, %q: %s", tc.field, resp.StatusCode, fieldError(body, tc.field), body)
			}
		}
		resp, _ = send(t, cl, c.url+"/report", url.Values{"url": {"not a url"}}, "same-origin")
		if resp.StatusCode != http.StatusBadRequest || c.caseCount(t) != 1 {
			t.Errorf("after the refusals: %d, %d cases", resp.StatusCode, c.caseCount(t))
		}
		if resp, _ := send(t, cl, c.url+"/report", url.Values{"url": {"https://bad.example/other"}}, "cross-site"); resp.StatusCode != http.StatusForbidden || c.caseCount(t) != 1 {
			t.Errorf("cross-site report: %d, %d cases", resp.StatusCode, c.caseCount(t))
		}
	})
}

// TestPublicReportLimit: reports are limited per client address (by
// default 5 at once), with a 429 page saying when to retry, and no case
// opened past the limit; another address has its own allowance, and the
// form itself stays open.
func TestPublicReportLimit(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		cl := c.fromAddr("127.0.0.4")
		for i := range 5 {
			if resp, body := send(t, cl, c.url+"/report", url.Values{"url": {fmt.Sprintf("https://bad.example/%d", i)}}, "same-origin"); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("report %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := send(t, cl, c.url+"/report", url.Values{"url": {"https://bad.example/5"}}, "same-origin")
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 120 ||
			!strings.Contains(body, "Too many reports") || !strings.Contains(body, "try again in "+strconv.Itoa(secs)+" seconds") {
			t.Errorf("sixth report: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if n := c.caseCount(t); n != 5 {
			t.Errorf("%d cases, want 5", n)
		}
		// A mistyped address is not counted, nor refused.
		if resp, _ := send(t, cl, c.url+"/report", url.Values{"url": {""}}, "same-origin"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad report past the limit: %d", resp.StatusCode)
		}
		if resp, _ := fetch(t, cl, c.url+"/report"); resp.StatusCode != 200 {
			t.Errorf("form past the limit: %d", resp.StatusCode)
		}
		if resp, _ := send(t, c.fromAddr("127.0.0.5"), c.url+"/report", url.Values{"url": {"https://bad.example/x"}}, "same-origin"); resp.StatusCode != http.StatusAccepted {
			t.Errorf("report from another address: %d", resp.StatusCode)
		}
	})
}

// queueIDs returns the case IDs the queue's table links to, in order.
func queueIDs(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<a id="case-([A-Z0-9]+)" href="/cases/([A-Z0-9]+)">`).FindAllStringSubmatch(body, -1) {
		if m[1] == m[2] {
			ids = append(ids, m[1])
		}
	}
	return ids
}

func TestCasesAssessment(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		tc := fetchedCase(t, c, "https://bad.example/page", 1)
		fetched := c.caseOf(t, tc.id)
		if fetched.State != takedown.Assessing || len(fetched.Items) != 5 {
			t.Fatalf("fetched case %+v", fetched)
		}
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")

		// The queue: the case, its hosting and counts, its URL as text.
		resp, body := fetch(t, analyst, c.url+"/cases")
		if ids := queueIDs(body); resp.StatusCode != 200 || len(ids) != 1 || ids[0] != tc.id {
			t.Fatalf("queue: %d %v %s", resp.StatusCode, ids, body)
		}
		row := regexp.MustCompile(`(?s)<a id="case-` + tc.id + `".*?</tr>`).FindString(body)
		for _, want := range []string{"<code>https://bad.example/page</code>", "<td>5</td><td>1</td>", "the centre", "assessment", "country unknown"} {
			if !strings.Contains(row, want) {
				t.Errorf("queue row lacks %q: %s", want, row)
			}
		}
		if strings.Contains(body, `href="https://bad.example`) {
			t.Error("the queue links to the reported URL")
		}
		if purpose, ok := audited(t, c, "takedown.case.list", "cases"); !ok || purpose != "list: state=assessment" {
			t.Errorf("queue audited %v, purpose %q", ok, purpose)
		}
		// Search by hash, by URL; other states.
		sum := sha256.Sum256(tc.fresh)
		for q, want := range map[string]int{hex.EncodeToString(sum[:]): 1, "bad.example/pa": 1, "nothing.example": 0} {
			if _, body := fetch(t, analyst, c.url+"/cases?q="+url.QueryEscape(q)); len(queueIDs(body)) != want {
				t.Errorf("search %q: %v", q, queueIDs(body))
			}
		}
		if _, body := fetch(t, analyst, c.url+"/cases?state=noticed"); len(queueIDs(body)) != 0 || !strings.Contains(body, "No cases here") {
			t.Errorf("noticed cases before the assessment: %v", queueIDs(body))
		}
		for _, bad := range []string{"state=gone", "n=0", "n=x", "after=not-an-id", "after=AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			if resp, _ := fetch(t, analyst, c.url+"/cases?"+bad); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("queue with %s: %d", bad, resp.StatusCode)
			}
		}

		// The case: its URL in a <code> and a field to copy it from,
		// never a link; no image; the known item pre-filled as baseline.
		resp, body = fetch(t, analyst, c.url+"/cases/"+tc.id)
		for _, want := range []string{
			`<code id="case-url-text">https://bad.example/page</code>`, `id="case-url" type="text" readonly value="https://bad.example/page"`,
			"192.0.2.80", "on the second page", "known indicator 701", "reported",
			`id="class-1-baseline" name="class-1" value="baseline" checked`,
			`id="class-2-baseline" name="class-2" value="baseline" required`, `id="class-2-national" name="class-2" value="national" required`,
			`id="class-3-not_illegal" name="class-3" value="not_illegal" required`,
			`id="submit_indicators" name="submit_indicators" value="yes"`, `<button id="assess" type="submit">`,
			`href="/cases/` + tc.id + `/items/2"`, `action="/cases/` + tc.id + `/handover"`, `<option value="` + fmt.Sprint(c.orgs["hotline"].ID) + `">hotline (DE)</option>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("case page lacks %q", want)
			}
		}
		if resp.StatusCode != 200 || strings.Contains(body, "<img") || strings.Contains(body, `href="https://bad.example`) ||
			strings.Contains(body, `name="class-4"`) || strings.Count(body, " checked") != 1 {
			t.Errorf("case page: %d %s", resp.StatusCode, body)
		}
		if _, ok := audited(t, c, "takedown.case.view", "case:"+tc.id); !ok {
			t.Error("case view not audited")
		}

		// An item: blurred, by reference; revealed on a second click;
		// each view and the content audited.
		item := "/cases/" + tc.id + "/items/2"
		before := auditCount(t, c, "takedown.case.view", "case:"+tc.id)
		resp, body = fetch(t, analyst, c.url+item)
		if resp.StatusCode != 200 || !strings.Contains(body, `class="blurred" src="`+item+`/content"`) || !strings.Contains(body, `href="`+item+`?reveal=1"`) ||
			strings.Contains(body, `href="https://bad.example`) {
			t.Errorf("item page: %d %s", resp.StatusCode, body)
		}
		if auditCount(t, c, "takedown.case.view", "case:"+tc.id) != before+1 {
			t.Error("item view not audited")
		}
		if _, ok := audited(t, c, "case.item.reveal", "case:"+tc.id+"/item:2"); ok {
			t.Error("a reveal audited before the analyst revealed")
		}
		resp, body = fetch(t, analyst, c.url+item+"?reveal=1")
		if resp.StatusCode != 200 || strings.Contains(body, `class="blurred"`) || !strings.Contains(body, `src="`+item+`/content"`) {
			t.Errorf("revealed item page: %d %s", resp.StatusCode, body)
		}
		if _, ok := audited(t, c, "case.item.reveal", "case:"+tc.id+"/item:2"); !ok {
			t.Error("reveal not audited")
		}
		resp, body = fetch(t, analyst, c.url+item+"/content")
		h := resp.Header
		if resp.StatusCode != 200 || body != string(tc.fresh) || h.Get("Content-Type") != "image/png" || h.Get("Cache-Control") != "no-store" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Disposition") != "inline" {
			t.Errorf("content: %d, %d bytes, %v", resp.StatusCode, len(body), h)
		}
		if purpose, ok := audited(t, c, "takedown.content.view", "case:"+tc.id); !ok || purpose != "item 2" {
			t.Errorf("content audited %v, %q", ok, purpose)
		}
		// A PPM is sent as PNG; known material is not kept, and the page
		// itself is not an image.
		resp, body = fetch(t, analyst, c.url+"/cases/"+tc.id+"/items/3/content")
		if img, err := png.Decode(strings.NewReader(body)); resp.StatusCode != 200 || err != nil || img.Bounds().Dx() != 48 {
			t.Errorf("PPM content: %d %v", resp.StatusCode, err)
		}
		if _, body = fetch(t, analyst, c.url+"/cases/"+tc.id+"/items/1"); !strings.Contains(body, "not kept") || strings.Contains(body, "<img") {
			t.Errorf("known item's page: %s", body)
		}
		for _, p := range []string{"/items/1/content", "/items/0/content", "/items/9", "/items/x"} {
			if resp, body := fetch(t, analyst, c.url+"/cases/"+tc.id+p); resp.StatusCode != 404 || strings.Contains(body, "a page</body>") {
				t.Errorf("%s: %d", p, resp.StatusCode)
			}
		}

		// An assessment of an item that was not fetched is refused with
		// the choices kept.
		assess := c.url + "/cases/" + tc.id + "/assessment"
		resp, body = send(t, analyst, assess, url.Values{"class-0": {"not_illegal"}, "class-1": {"baseline"}, "class-2": {"national"},
			"class-4": {"baseline"}, "submit_indicators": {"yes"}}, "same-origin")
		if resp.StatusCode != 400 || !strings.Contains(body, `id="assess-error"`) || !strings.Contains(body, "Item 4 of case "+tc.id+" could not be fetched") ||
			!strings.Contains(body, `value="national" checked`) || !strings.Contains(body, `value="yes" checked`) || c.caseOf(t, tc.id).State != takedown.Assessing {
			t.Errorf("incomplete assessment: %d %s", resp.StatusCode, body)
		}
		if resp, _ = send(t, analyst, assess, url.Values{"class-0": {"illegal"}}, "same-origin"); resp.StatusCode != 400 {
			t.Errorf("bad classification: %d", resp.StatusCode)
		}
		full := url.Values{"class-0": {"not_illegal"}, "class-1": {"baseline"}, "class-2": {"national"}, "class-3": {"not_illegal"}}
		if resp, _ = send(t, analyst, assess, full, "cross-site"); resp.StatusCode != 403 || c.caseOf(t, tc.id).State != takedown.Assessing {
			t.Errorf("cross-site assessment: %d", resp.StatusCode)
		}
		if resp, _ = send(t, c.clients[policy.Reviewer], assess, full, "same-origin"); resp.StatusCode != 403 {
			t.Errorf("reviewer's assessment: %d", resp.StatusCode)
		}
		resp, _ = send(t, analyst, assess, full, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cases?done="+tc.id {
			t.Fatalf("assessment: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		done := c.caseOf(t, tc.id)
		if done.State != takedown.Noticed || done.Items[1].Classification != takedown.Baseline || done.Items[2].Classification != takedown.National ||
			len(done.Notices) == 0 {
			t.Errorf("assessed case %+v", done)
		}
		_, body = fetch(t, analyst, c.url+"/cases?done="+tc.id)
		if !strings.Contains(body, "Your assessment of case "+tc.id+" was recorded") || len(queueIDs(body)) != 0 {
			t.Errorf("queue after the assessment: %s", body)
		}
		if _, body = fetch(t, analyst, c.url+"/cases?state=noticed"); len(queueIDs(body)) != 1 {
			t.Errorf("noticed cases: %v", queueIDs(body))
		}
		_, body = fetch(t, analyst, c.url+"/cases/"+tc.id)
		for _, want := range []string{"noticed", "assessed", `<table id="notices">`, "national", "<code>https://bad.example/page/new.png</code>"} {
			if !strings.Contains(body, want) {
				t.Errorf("assessed case page lacks %q", want)
			}
		}
		if strings.Contains(body, `id="assess"`) || strings.Contains(body, "/handover") {
			t.Error("an assessed case offers the assessment or the hand-over")
		}
		// Assessed, the content is gone.
		if resp, _ = fetch(t, analyst, c.url+"/cases/"+tc.id+"/items/3/content"); resp.StatusCode != 404 {
			t.Errorf("content after the assessment: %d", resp.StatusCode)
		}

		// The figures count the noticed case.
		resp, body = fetch(t, c.clients[policy.Reviewer], c.url+"/takedown")
		fig := regexp.MustCompile(`(?s)<th scope="row">All hosts</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>`).FindStringSubmatch(body)
		if resp.StatusCode != 200 || fig == nil || fig[1] != "1" || fig[2] != "0" || fig[3] != "1" || !strings.Contains(body, "<meter") {
			t.Errorf("figures: %d %v %s", resp.StatusCode, fig, body)
		}
		for _, bad := range []string{"from=2026-13-01", "from=2026-02-01&to=2026-01-01"} {
			if resp, _ := fetch(t, analyst, c.url+"/takedown?"+bad); resp.StatusCode != 400 {
				t.Errorf("figures with %s: %d", bad, resp.StatusCode)
			}
		}
		if _, body = fetch(t, analyst, c.url+"/takedown?from=2000-01-01&to=2000-01-31"); !strings.Contains(body, "<th scope=\"row\">All hosts</th><td>0</td>") {
			t.Errorf("figures of an empty period: %s", body)
		}
	})
}

// auditCount counts the audit entries of action on object.
func auditCount(t *testing.T, c *console, action, object string) int {
	t.Helper()
	return len(storetest.Strings(t, c.db, `SELECT action FROM audit_log WHERE action = $1 AND object = $2`, action, object))
}

// TestCasesScope: a hotline's analyst sees and assesses its own queue
// only, and may hand a case over; the other roles see what the policy
// lets them.
func TestCasesScope(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		mine := fetchedCase(t, c, "https://files.de.example/album", 10)
		theirs := fetchedCase(t, c, "https://bad.example/elsewhere", 20)
		if q := c.caseOf(t, mine.id).Queue; q != c.orgs["hotline"].ID {
			t.Fatalf("the German case is in queue %d", q)
		}
		hotline := c.clients[policy.Analyst] // of the hotline (DE)
		if _, body := fetch(t, hotline, c.url+"/cases"); !slices.Equal(queueIDs(body), []string{mine.id}) {
			t.Errorf("the hotline's queue: %v", queueIDs(body))
		}
		if _, body := fetch(t, hotline, c.url+"/cases?state=all&q=example"); !slices.Equal(queueIDs(body), []string{mine.id}) {
			t.Errorf("the hotline's search: %v", queueIDs(body))
		}
		for _, p := range []string{"", "/items/2", "/items/2/content"} {
			if resp, body := fetch(t, hotline, c.url+"/cases/"+theirs.id+p); resp.StatusCode != 404 || strings.Contains(body, "elsewhere") {
				t.Errorf("another queue's case%s: %d", p, resp.StatusCode)
			}
		}
		if resp, _ := send(t, hotline, c.url+"/cases/"+theirs.id+"/assessment", url.Values{"class-0": {"not_illegal"}}, "same-origin"); resp.StatusCode != 404 {
			t.Errorf("assessing another queue's case: %d", resp.StatusCode)
		}
		resp, body := fetch(t, hotline, c.url+"/cases/"+mine.id)
		if resp.StatusCode != 200 || !strings.Contains(body, `id="assess"`) || !strings.Contains(body, `<option value="0">the centre's analysts</option>`) ||
			!strings.Contains(body, "Hosting") || !strings.Contains(body, "<dd>DE</dd>") {
			t.Errorf("the hotline's case: %d %s", resp.StatusCode, body)
		}
		if resp, body := fetch(t, hotline, c.url+"/cases/"+mine.id+"/items/2/content"); resp.StatusCode != 200 || body != string(mine.fresh) {
			t.Errorf("the hotline's content: %d", resp.StatusCode)
		}

		// The centre sees both; its reviewer reads without assessing.
		centre := c.loginAt(t, c.srv, policy.Analyst, "centre")
		if _, body := fetch(t, centre, c.url+"/cases"); len(queueIDs(body)) != 2 || !strings.Contains(body, "hotline (DE)") {
			t.Errorf("the centre's queue: %v", queueIDs(body))
		}
		resp, body = fetch(t, c.clients[policy.Reviewer], c.url+"/cases/"+mine.id)
		if resp.StatusCode != 200 || strings.Contains(body, `id="assess"`) || strings.Contains(body, "/handover") {
			t.Errorf("reviewer's case page: %d", resp.StatusCode)
		}
		for _, role := range []policy.Role{policy.LEAOfficer, policy.ProviderAdmin, policy.Auditor, policy.Admin} {
			if resp, _ := fetch(t, c.clients[role], c.url+"/cases/"+mine.id); resp.StatusCode != 403 {
				t.Errorf("case page as %s: %d", role, resp.StatusCode)
			}
			if _, body := fetch(t, c.clients[role], c.url+"/"); strings.Contains(body, `href="/cases"`) {
				t.Errorf("%s's menu links to the cases", role)
			}
		}
		for _, cl := range []*http.Client{hotline, centre, c.clients[policy.Reviewer]} {
			if _, body := fetch(t, cl, c.url+"/"); !strings.Contains(body, `href="/cases"`) || !strings.Contains(body, `href="/takedown"`) {
				t.Errorf("start page lacks the cases or figures: %s", body)
			}
		}

		// Hand-over: refused to what is not a hotline; to the centre, the
		// case leaves the hotline's sight, its history kept.
		handover := c.url + "/cases/" + mine.id + "/handover"
		for _, to := range []string{"x", "-1", fmt.Sprint(c.orgs["bka"].ID), "999999"} {
			if resp, _ := send(t, hotline, handover, url.Values{"to": {to}}, "same-origin"); resp.StatusCode != 400 {
				t.Errorf("hand-over to %s: %d", to, resp.StatusCode)
			}
		}
		resp, _ = send(t, hotline, handover, url.Values{"to": {"0"}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cases?handed="+mine.id || c.caseOf(t, mine.id).Queue != 0 {
			t.Fatalf("hand-over: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := fetch(t, hotline, c.url+"/cases/"+mine.id); resp.StatusCode != 404 {
			t.Errorf("the hotline's view of the case handed over: %d", resp.StatusCode)
		}
		if _, body := fetch(t, hotline, c.url+"/cases?handed="+mine.id); !strings.Contains(body, "was handed over") || len(queueIDs(body)) != 0 {
			t.Errorf("the hotline's queue after the hand-over: %v", queueIDs(body))
		}
		if _, body := fetch(t, centre, c.url+"/cases/"+mine.id); !strings.Contains(body, "handed_over") || !strings.Contains(body, "routed") {
			t.Errorf("the history after the hand-over: %s", body)
		}

		// Assessed by the centre, its notice goes through the German
		// hotline, which has no webhook: the hotline sees the case again,
		// as relay only (neither the reporter's words nor the content),
		// and the notice to pass on to the host.
		ctx := context.Background()
		a := takedown.Assessment{Items: []takedown.ItemAssessment{{Index: 2, Classification: takedown.Baseline}}}
		assessed, err := c.takedown.Assess(ctx, c.centreView(), mine.id, a)
		if err != nil || len(assessed.Notices) != 1 {
			t.Fatalf("assessed: %+v, %v", assessed, err)
		}
		if err := c.takedown.SendNotice(ctx, assessed.Notices[0].ID); err != nil {
			t.Fatal(err)
		}
		resp, body = fetch(t, hotline, c.url+"/cases/"+mine.id)
		if resp.StatusCode != 200 || !strings.Contains(body, "yours to pass on to the host") || !strings.Contains(body, "1 time(s)") ||
			!strings.Contains(body, "in the queue of hotline hotline, to pass on to the host") {
			t.Errorf("the hotline's noticed case: %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(body, `id="relay-only"`) || strings.Contains(body, "on the second page") || strings.Contains(body, "View (blurred)") {
			t.Errorf("the relaying hotline sees the reporter's words or the content: %s", body)
		}
		if resp, _ := fetch(t, hotline, c.url+"/cases/"+mine.id+"/items/2/content"); resp.StatusCode != 404 {
			t.Errorf("the relaying hotline's access to the content: %d", resp.StatusCode)
		}
		if _, body := fetch(t, centre, c.url+"/cases/"+mine.id); strings.Contains(body, "yours to pass on") ||
			!strings.Contains(body, "on the second page") || strings.Contains(body, `id="relay-only"`) {
			t.Errorf("the centre's noticed case: %s", body)
		}
	})
}

// TestCasesPages: the queue pages by keyset, oldest first.
func TestCasesPages(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	var ids []string
	for i := range 5 {
		ids = append(ids, fetchedCase(t, c, fmt.Sprintf("https://bad.example/p%d", i), uint64(30+2*i)).id)
	}
	analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")
	var seen []string
	next := "/cases?n=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		_, body := fetch(t, analyst, c.url+strings.ReplaceAll(next, "&amp;", "&"))
		seen = append(seen, queueIDs(body)...)
		next = ""
		if m := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(body); m != nil {
			next = m[1]
			if !strings.Contains(body, "First page") && len(seen) > 2 {
				t.Error("no link to the first page")
			}
		}
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("pages %v, want %v", seen, ids)
	}
}

// TestCaseFoundUnverified: a case the centre's search found, whose image
// matched a victim-reported hash, says who found it, marks the match
// victim-reported and unverified, and leaves the item not pre-filled.
func TestCaseFoundUnverified(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		img := pngOf(t, 40)
		sum := sha256.Sum256(img)
		c.matcher.SetList(indicator.List{Name: indicator.VictimReported, Kind: indicator.UnverifiedList,
			MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold})
		if err := c.matcher.Add(matcher.Entry{ID: 901, List: indicator.VictimReported, Signal: indicator.SHA256,
			Value: hex.EncodeToString(sum[:]), Category: indicator.Unverified}); err != nil {
			t.Fatal(err)
		}
		raw := "https://found.example/gallery"
		c.web.page(raw, resource(raw+"/photo.png", "image/png", img))
		id, opened, err := c.takedown.Found(context.Background(), raw, 7)
		if err != nil || !opened {
			t.Fatalf("Found: %v, %v", opened, err)
		}
		if err := c.takedown.Fetch(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")
		resp, body := fetch(t, analyst, c.url+"/cases/"+id)
		if resp.StatusCode != 200 {
			t.Fatalf("case page: %d", resp.StatusCode)
		}
		for _, want := range []string{
			`<dd id="case-source">found by the centre&#39;s search (place 7)</dd>`,
			`<strong>victim-reported, unverified</strong>: indicator 901`,
			"Item 1 (victim-reported, unverified: not pre-filled)",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("case page lacks %q", want)
			}
		}
		if regexp.MustCompile(`name="class-1" value="[a-z_]+" checked`).MatchString(body) {
			t.Error("the unverified item is pre-filled")
		}
		if _, body := fetch(t, analyst, c.url+"/cases/"+id+"/items/1"); !strings.Contains(body, "<strong>victim-reported, unverified</strong>") {
			t.Error("the item's page does not mark the match unverified")
		}
	})
}
