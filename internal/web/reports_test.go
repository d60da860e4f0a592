package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// eachEngine runs test on a console on a new database of each engine.
func eachEngine(t *testing.T, test func(t *testing.T, c *console)) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(engine.name, func(t *testing.T) { test(t, startConsole(t, engine.open(t))) })
	}
}

// fetch gets a page and returns the response (body read) and the body.
func fetch(t *testing.T, cl *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return do(t, cl, req)
}

// do sends req and returns the response (body read) and the body.
func do(t *testing.T, cl *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// send posts a form as a browser does from the site, or from site.
func send(t *testing.T, cl *http.Client, u string, form url.Values, site string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	return do(t, cl, req)
}

// audited returns the purpose of the latest audit entry of action on
// object, and whether there is one.
func audited(t *testing.T, c *console, action, object string) (string, bool) {
	t.Helper()
	entries, err := audit.NewLog(c.db, nil).Latest(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == action && e.Object == object && e.Outcome == audit.OK {
			return e.Purpose, true
		}
	}
	return "", false
}

func (c *console) state(t *testing.T, id string) report.State {
	t.Helper()
	v, err := c.triage.Case(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Report.State
}

// pnm encodes a synthetic image as a raw PPM (P6), which browsers do not
// show.
func pnm(w, h int, seed uint64) []byte {
	img := synth.Image(w, h, seed)
	b := fmt.Appendf(nil, "P6\n%d %d\n255\n", w, h)
	for y := range h {
		for x := range w {
			p := img.RGBAAt(x, y)
			b = append(b, p.R, p.G, p.B)
		}
	}
	return b
}

// reports of the assessment test: one of each priority, created in the
// reverse of the queue's order.
type testReports struct {
	known, fresh, urgent string
	png                  []byte
}

func createReports(t *testing.T, c *console) testReports {
	t.Helper()
	ctx := context.Background()
	acme, err := org.NewService(c.db).ByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	const md5 = "0123456789abcdef0123456789abcdef"
	c.matcher.SetList(indicator.List{Name: indicator.Known, MaxDistance: 31, Threshold: 31})
	if err := c.matcher.Add(matcher.Entry{ID: 7, List: indicator.Known, Signal: indicator.MD5, Value: md5, Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.FixedZone("", 3600))
	base := func(typ report.Type) report.Draft {
		return report.Draft{
			IncidentTime: at, Type: typ,
			Service:   report.OnlineService{Type: report.Hosting, URL: "https://photos.example.com/"},
			Awareness: report.Awareness{Method: report.AutomatedMatch},
		}
	}
	var tr testReports
	known := base(report.TypeKnown)
	known.Items = []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: md5}}}
	r, _, err := c.reports.Submit(ctx, acme.ID, "known", known)
	if err != nil {
		t.Fatal(err)
	}
	tr.known = r.ID

	fresh := base(report.TypeNew)
	fresh.Items = []report.Item{
		{Kind: report.ItemFile, FileName: "IMG_0042.PNG", Annotations: []report.Annotation{report.SelfGenerated}},
		{Kind: report.ItemFile, FileName: "scan.ppm"},
		{Kind: report.ItemFile, FileName: "notes.txt"},
	}
	fresh.User = report.User{ScreenName: "offender-4711", Country: "BE",
		IPCaptures: []report.IPCapture{{IP: "192.0.2.7", Port: 47110, Time: at, Event: report.CaptureUpload}}}
	fresh.Victims = []report.Victim{{Age: &report.AgeRange{Min: 12, Max: 14}}}
	fresh.ThirdCountry = []report.ThirdCountryReport{{Country: "US", Authority: "NCMEC", Reference: "CT-123"}}
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(64, 64, 1)); err != nil {
		t.Fatal(err)
	}
	tr.png = b.Bytes()
	r, _, err = c.reports.CreateDraft(ctx, acme.ID, "fresh", fresh)
	if err != nil {
		t.Fatal(err)
	}
	tr.fresh = r.ID
	for i, content := range [][]byte{tr.png, pnm(48, 32, 2), []byte("<script>alert(1)</script> not an image")} {
		if _, _, err := c.reports.AddFile(ctx, acme.ID, r.ID, i, content); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.reports.Finish(ctx, acme.ID, r.ID); err != nil {
		t.Fatal(err)
	}

	urgent := base(report.TypeSolicitation)
	urgent.Urgency = report.Urgency{Urgent: true, Reason: "A meeting with the child is planned."}
	if r, _, err = c.reports.Submit(ctx, acme.ID, "urgent", urgent); err != nil {
		t.Fatal(err)
	}
	tr.urgent = r.ID

	for _, id := range []string{tr.known, tr.fresh, tr.urgent} {
		if err := c.triage.Triage(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// TestFileContentDecodeBudget: converting a PPM to PNG for the console
// waits for the decode budget the server shares with the API, and gets 503
// with Retry-After, unaudited, while others hold it; a PNG, sent as it is,
// needs none.
func TestFileContentDecodeBudget(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		tr := createReports(t, c)
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")
		ppm := "/reports/" + tr.fresh + "/files/1/content"

		release, err := c.decode.Acquire(context.Background(), c.decode.Stats().Limit)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := fetch(t, analyst, c.url+ppm)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "decoding other images") {
			t.Errorf("PPM content with the budget held: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if _, ok := audited(t, c, "report.file.content", "report:"+tr.fresh+"/file:1"); ok {
			t.Error("a refused conversion was audited as shown")
		}
		if resp, _ := fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/0/content"); resp.StatusCode != 200 {
			t.Errorf("PNG content with the budget held: %d", resp.StatusCode)
		}
		if s := c.decode.Stats(); s.Refused != 1 || s.Running != 1 {
			t.Errorf("budget %+v, want one refusal and the holder running", s)
		}

		release()
		resp, body = fetch(t, analyst, c.url+ppm)
		img, err := png.Decode(strings.NewReader(body))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || err != nil || img.Bounds().Dx() != 48 {
			t.Errorf("PPM content with the budget free: %d %v, %v", resp.StatusCode, resp.Header, err)
		}
		if s := c.decode.Stats(); s.InUse != 0 || s.Running != 0 {
			t.Errorf("budget after the conversion %+v, want it all given back", s)
		}
	})
}

func TestAssessment(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		tr := createReports(t, c)
		analyst := c.loginAt(t, c.srv, policy.Analyst, "centre")

		// The queue: urgent first, then new material, then known.
		resp, body := fetch(t, analyst, c.url+"/reports")
		iu, ifr, ik := strings.Index(body, tr.urgent), strings.Index(body, tr.fresh), strings.Index(body, tr.known)
		if resp.StatusCode != 200 || iu < 0 || !(iu < ifr && ifr < ik) || !strings.Contains(body, "Urgent") {
			t.Fatalf("queue: %d, positions urgent %d, new %d, known %d: %s", resp.StatusCode, iu, ifr, ik, body)
		}
		if !strings.Contains(body, `href="/reports/`+tr.fresh+`"`) || !strings.Contains(body, "acme") {
			t.Errorf("queue lacks the link or the provider: %s", body)
		}

		// The case view shows the facts and the items, no file, and is
		// audited.
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh)
		for _, want := range []string{"offender-4711", "192.0.2.7", "47110", "NCMEC", "CT-123", "12–14 years", "self_generated",
			"View file (blurred)", `href="/reports/` + tr.fresh + `/files/0"`, "received", "Forward to law enforcement"} {
			if !strings.Contains(body, want) {
				t.Errorf("report page lacks %q", want)
			}
		}
		if resp.StatusCode != 200 || strings.Contains(body, "<img") || strings.Contains(body, "/content") {
			t.Errorf("report page: %d, shows a file: %s", resp.StatusCode, body)
		}
		if _, ok := audited(t, c, "report.view", "report:"+tr.fresh); !ok {
			t.Error("report view not audited")
		}
		_, body = fetch(t, analyst, c.url+"/reports/"+tr.known)
		if !strings.Contains(body, "known indicator 7") {
			t.Errorf("known report page lacks its match: %s", body)
		}

		// The file page shows the image blurred, by reference only.
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/0")
		content := "/reports/" + tr.fresh + "/files/0/content"
		if resp.StatusCode != 200 || !strings.Contains(body, `class="blurred"`) || !strings.Contains(body, `src="`+content+`"`) ||
			!strings.Contains(body, `?reveal=1"`) || strings.Contains(body, "data:") || strings.Contains(body, "\x89PNG") {
			t.Errorf("file page: %d %s", resp.StatusCode, body)
		}
		if _, ok := audited(t, c, "report.file.view", "report:"+tr.fresh+"/file:0"); !ok {
			t.Error("file view not audited")
		}
		if _, ok := audited(t, c, "report.file.reveal", "report:"+tr.fresh+"/file:0"); ok {
			t.Error("a reveal was audited before the analyst revealed the image")
		}
		// Revealing is a second, explicit click, recorded on its own.
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/0?reveal=1")
		if resp.StatusCode != 200 || strings.Contains(body, `class="blurred"`) || !strings.Contains(body, `src="`+content+`"`) {
			t.Errorf("revealed file page: %d %s", resp.StatusCode, body)
		}
		if _, ok := audited(t, c, "report.file.reveal", "report:"+tr.fresh+"/file:0"); !ok {
			t.Error("reveal not audited")
		}

		// The content: the PNG, inline, never cached nor sniffed.
		resp, body = fetch(t, analyst, c.url+content)
		h := resp.Header
		if resp.StatusCode != 200 || body != string(tr.png) || h.Get("Content-Type") != "image/png" ||
			h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Disposition") != "inline" {
			t.Errorf("content: %d, %d bytes, headers %v", resp.StatusCode, len(body), h)
		}
		if _, ok := audited(t, c, "report.file.content", "report:"+tr.fresh+"/file:0"); !ok {
			t.Error("content fetch not audited")
		}

		// A PPM, which browsers do not show, is sent as PNG.
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/1/content")
		img, err := png.Decode(strings.NewReader(body))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || err != nil || img.Bounds().Dx() != 48 {
			t.Errorf("PPM content: %d %v, %v", resp.StatusCode, resp.Header, err)
		}

		// A file that is not an image is neither shown nor sent.
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/2")
		if resp.StatusCode != 200 || !strings.Contains(body, "not an image") || strings.Contains(body, "<img") {
			t.Errorf("page of a file that is not an image: %d %s", resp.StatusCode, body)
		}
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/files/2/content")
		if resp.StatusCode != 404 || strings.Contains(body, "alert(1)") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("content of a file that is not an image: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if resp, _ = fetch(t, analyst, c.url+"/reports/"+tr.known+"/files/0"); resp.StatusCode != 404 {
			t.Errorf("file page of a hash item: %d", resp.StatusCode)
		}

		// Decisions.
		decide := func(id, kind, text string) (*http.Response, string) {
			t.Helper()
			return send(t, analyst, c.url+"/reports/"+id+"/decision", url.Values{"kind": {kind}, "text": {text}}, "same-origin")
		}
		resp, body = decide(tr.known, "unfounded", " ")
		if resp.StatusCode != 400 || !strings.Contains(body, "reasons") || c.state(t, tr.known) != report.StateQueued {
			t.Errorf("unfounded without reasons: %d %s", resp.StatusCode, body)
		}
		resp, _ = decide(tr.known, "unfounded", "The image shows an adult.")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports?done="+tr.known ||
			c.state(t, tr.known) != report.StateUnfounded {
			t.Errorf("unfounded: %d to %q, state %s", resp.StatusCode, resp.Header.Get("Location"), c.state(t, tr.known))
		}
		if purpose, ok := audited(t, c, "report.decide", "report:"+tr.known); !ok || purpose != "decision: unfounded" {
			t.Errorf("decision audited: %v, purpose %q", ok, purpose)
		}
		if _, body = fetch(t, analyst, c.url+"/reports/"+tr.known); !strings.Contains(body, "The image shows an adult.") ||
			strings.Contains(body, "Forward to law enforcement") {
			t.Errorf("decided report's page: %s", body)
		}
		// A forward needs its confirmation, from the page that shows
		// where the report goes.
		if resp, body = decide(tr.fresh, "forward", ""); resp.StatusCode != 400 || !strings.Contains(body, "Confirm the forward") || c.state(t, tr.fresh) != report.StateQueued {
			t.Errorf("forward without confirmation: %d, state %s: %s", resp.StatusCode, c.state(t, tr.fresh), body)
		}
		resp, body = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/forward")
		if resp.StatusCode != 200 || !strings.Contains(body, `name="confirm" value="yes"`) || c.state(t, tr.fresh) != report.StateQueued {
			t.Errorf("forward confirmation page: %d, state %s: %s", resp.StatusCode, c.state(t, tr.fresh), body)
		}
		resp, _ = send(t, analyst, c.url+"/reports/"+tr.fresh+"/decision", url.Values{"kind": {"forward"}, "confirm": {"yes"}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || c.state(t, tr.fresh) != report.StateForwarded {
			t.Errorf("forward: %d, state %s", resp.StatusCode, c.state(t, tr.fresh))
		}
		if pending, err := c.db.PendingJobs(context.Background()); err != nil || pending[forward.JobRoute] != 1 {
			t.Errorf("route jobs after forwarding: %v, %v", pending, err)
		}
		if resp, body = send(t, analyst, c.url+"/reports/"+tr.fresh+"/decision", url.Values{"kind": {"forward"}, "confirm": {"yes"}}, "same-origin"); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "That did not work") {
			t.Errorf("forward twice: %d %s", resp.StatusCode, body)
		}
		if resp, _ = fetch(t, analyst, c.url+"/reports/"+tr.fresh+"/forward"); resp.StatusCode != http.StatusConflict {
			t.Errorf("confirmation page of a forwarded report: %d", resp.StatusCode)
		}
		if resp, _ = decide(tr.urgent, "request_info", "Where was the meeting planned?"); resp.StatusCode != http.StatusSeeOther ||
			c.state(t, tr.urgent) != report.StateInfoRequested {
			t.Errorf("request info: %d, state %s", resp.StatusCode, c.state(t, tr.urgent))
		}
		_, body = fetch(t, analyst, c.url+"/reports/"+tr.urgent)
		if !strings.Contains(body, "Forward to law enforcement") || strings.Contains(body, "Request more information") {
			t.Errorf("page of a report waiting for information: %s", body)
		}
		if _, body = fetch(t, analyst, c.url+"/reports?done="+tr.urgent); !strings.Contains(body, "Your decision on report "+tr.urgent+" was recorded") ||
			strings.Contains(body, tr.known) {
			t.Errorf("queue after the decisions: %s", body)
		}

		// A cross-site post is refused.
		if resp, _ = send(t, analyst, c.url+"/reports/"+tr.urgent+"/decision", url.Values{"kind": {"forward"}}, "cross-site"); resp.StatusCode != 403 ||
			c.state(t, tr.urgent) != report.StateInfoRequested {
			t.Errorf("cross-site decision: %d, state %s", resp.StatusCode, c.state(t, tr.urgent))
		}

		// Only the centre's analysts and reviewers see reports: not the
		// hotline's analyst, nor the provider's administrator nor an
		// officer, who may read some reports elsewhere.
		if resp, _ = fetch(t, c.clients[policy.Reviewer], c.url+"/reports/"+tr.urgent); resp.StatusCode != 200 {
			t.Errorf("reviewer: %d", resp.StatusCode)
		}
		for _, role := range []policy.Role{policy.Admin, policy.Analyst, policy.Auditor, policy.ProviderAdmin, policy.LEAOfficer} {
			cl := c.clients[role]
			for _, p := range []string{"/reports", "/reports/" + tr.urgent, "/reports/" + tr.fresh + "/files/0", content} {
				if resp, body := fetch(t, cl, c.url+p); resp.StatusCode != 403 || strings.Contains(body, "\x89PNG") {
					t.Errorf("%s as %s: %d", p, role, resp.StatusCode)
				}
			}
			if resp, _ := send(t, cl, c.url+"/reports/"+tr.urgent+"/decision", url.Values{"kind": {"forward"}}, "same-origin"); resp.StatusCode != 403 {
				t.Errorf("decision as %s: %d", role, resp.StatusCode)
			}
			if _, body := fetch(t, cl, c.url+"/"); strings.Contains(body, `href="/reports"`) {
				t.Errorf("%s's menu links to the reports", role)
			}
		}
		if c.state(t, tr.urgent) != report.StateInfoRequested {
			t.Errorf("state after refused decisions: %s", c.state(t, tr.urgent))
		}
	})
}

func TestJobsPage(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		now := time.Now()
		id, err := c.db.EnqueueJob(ctx, "test.fail", "ref-1", now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.db.ClaimJobs(ctx, "node-1", []string{"test.fail"}, now, time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		if err := c.db.KillJob(ctx, id, "node-1", now, "the input is bad"); err != nil {
			t.Fatal(err)
		}
		admin := c.clients[policy.Admin]
		resp, body := fetch(t, admin, c.url+"/jobs")
		retry := fmt.Sprintf("/jobs/%d/retry", id)
		for _, want := range []string{"test.fail", "ref-1", "the input is bad", `action="` + retry + `"`, "Retry"} {
			if resp.StatusCode != 200 || !strings.Contains(body, want) {
				t.Errorf("jobs page: %d, lacks %q", resp.StatusCode, want)
			}
		}
		if _, body = fetch(t, admin, c.url+"/"); !strings.Contains(body, `href="/jobs"`) {
			t.Error("the admin's menu lacks the jobs")
		}
		for _, role := range []policy.Role{policy.Reviewer, policy.Auditor, policy.Analyst, policy.ProviderAdmin} {
			if resp, _ := send(t, c.clients[role], c.url+retry, nil, "same-origin"); resp.StatusCode != 403 {
				t.Errorf("retry as %s: %d", role, resp.StatusCode)
			}
		}
		if resp, _ = send(t, admin, c.url+retry, nil, "cross-site"); resp.StatusCode != 403 {
			t.Errorf("cross-site retry: %d", resp.StatusCode)
		}
		resp, _ = send(t, admin, c.url+retry, nil, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/jobs?retried=%d", id) {
			t.Errorf("retry: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		dead, err := c.db.DeadJobs(ctx, 10)
		if err != nil || len(dead) != 0 {
			t.Errorf("dead jobs after the retry: %v, %v", dead, err)
		}
		if pending, err := c.db.PendingJobs(ctx); err != nil || pending["test.fail"] != 1 {
			t.Errorf("pending jobs after the retry: %v, %v", pending, err)
		}
		if _, ok := audited(t, c, "job.retry", fmt.Sprintf("job:%d", id)); !ok {
			t.Error("retry not audited")
		}
		if resp, body = send(t, admin, c.url+retry, nil, "same-origin"); resp.StatusCode != http.StatusConflict {
			t.Errorf("retrying a live job: %d %s", resp.StatusCode, body)
		}
		if _, body = fetch(t, admin, c.url+fmt.Sprintf("/jobs?retried=%d", id)); !strings.Contains(body, "will run again") || strings.Contains(body, "ref-1") {
			t.Errorf("jobs page after the retry: %s", body)
		}
	})
}
