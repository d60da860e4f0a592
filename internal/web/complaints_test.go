package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
)

var (
	filedCase   = regexp.MustCompile(`<code class="secret" id="complaint-case">([A-Z0-9-]+)</code>`)
	filedSecret = regexp.MustCompile(`<code class="secret" id="complaint-secret">([A-Z0-9]+)</code>`)
)

// fileComplaint files a complaint through the public form and returns
// its case number and secret.
func fileComplaint(t *testing.T, c *console, cl *http.Client, form url.Values) (string, string) {
	t.Helper()
	resp, body := send(t, cl, c.url+"/complaint", form, "same-origin")
	id, secret := filedCase.FindStringSubmatch(body), filedSecret.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || id == nil || secret == nil {
		t.Fatalf("filing %v: %d %s", form, resp.StatusCode, body)
	}
	return id[1], secret[1]
}

// centreReviewer is how the centre's reviewers see complaints.
func (c *console) centreReviewer() complaint.Reviewer {
	return complaint.Reviewer{Actor: "user:1", Org: c.orgs["centre"].ID, OrgName: "centre", Scope: policy.AllData}
}

func (c *console) complaintCount(t *testing.T) int {
	t.Helper()
	cs, err := c.complaints.Queue(context.Background(), c.centreReviewer(), complaint.Query{Limit: complaint.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// complaintIDs returns the complaints the reviewers' queue links to, in
// order.
func complaintIDs(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<a id="complaint-([A-Z0-9-]+)" href="/complaints/([A-Z0-9-]+)">`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestPublicComplaintForm: the complaint page opens without a session,
// in plain language, with no script, a label for every field, what is
// required and what the e-mail address is for; the public pages link to
// each other.
func TestPublicComplaintForm(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	for _, page := range []string{"/complaint", "/complaint/status"} {
		resp, body := fetch(t, anonymous(c), c.url+page)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Language") != "en" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%s: %d %v", page, resp.StatusCode, resp.Header)
		}
		low := strings.ToLower(body)
		if strings.Contains(low, "<script") || regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(low) || strings.Contains(low, "style=") || strings.Contains(low, "log out") {
			t.Errorf("%s has a script, an inline style or the console's header", page)
		}
		for _, link := range []string{`href="/report"`, `href="/complaint"`, `href="/complaint/status"`} {
			if !strings.Contains(body, link) {
				t.Errorf("%s does not link %s", page, link)
			}
		}
	}
	_, body := fetch(t, anonymous(c), c.url+"/complaint")
	for _, want := range []string{
		`<form class="stack" method="post" action="/complaint"`, "<fieldset>", "<legend>",
		`<label for="provider">`, `id="provider" name="provider"`, `<label for="reference">`, `id="reference" name="reference"`,
		`<label for="description">`, `id="description" name="description"`, `<label for="contact">`, `id="contact" name="contact" type="email"`,
		`<button id="send" type="submit">`, "Complain about a removal", "(optional)", "kept encrypted", "not stored", "do not have to give your name",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("complaint page lacks %q", want)
		}
	}
	for field, required := range map[string]bool{"provider": true, "reference": true, "description": true, "contact": false} {
		if got := regexp.MustCompile(`id="` + field + `"[^>]*required`).MatchString(body); got != required {
			t.Errorf("%s required: %v, want %v", field, got, required)
		}
	}
	// The status asks for the secret in a form sent by POST: it is
	// never in a URL.
	_, body = fetch(t, anonymous(c), c.url+"/complaint/status")
	for _, want := range []string{`method="post" action="/complaint/status"`, `<label for="case">`, `<label for="secret">`, `id="secret" name="secret" type="password"`} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

// TestPublicComplaintFiling: bad input is shown at its field, with what
// was typed kept, and files nothing; a filing shows the case number and
// the secret once, keeps nothing of the complainant's address, and the
// status page shows the complaint to whoever holds both, and nothing to
// others; lookups are limited as reports are.
func TestPublicComplaintFiling(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		cl, other := c.fromAddr("127.0.0.6"), c.fromAddr("127.0.0.10")
		good := url.Values{"provider": {"acme"}, "reference": {"R-1234"}, "description": {"My holiday <photo> & more"}, "contact": {""}}
		with := func(k, v string) url.Values {
			f := url.Values{}
			for kk, vv := range good {
				f[kk] = vv
			}
			f.Set(k, v)
			return f
		}
		for _, tc := range []struct {
			name  string
			form  url.Values
			field string
			msg   string
		}{
			{"no provider", with("provider", " "), "provider", "Enter the name of the service"},
			{"no reference", with("reference", ""), "reference", "Enter the reference"},
			{"no description", with("description", "  "), "description", "Describe what was removed"},
			{"bad e-mail", with("contact", "not an address"), "contact", "Enter an e-mail address"},
			{"long reference", with("reference", strings.Repeat("r", complaint.MaxReference+1)), "reference", "at most 255 bytes"},
			{"control characters", with("description", "a\x07b"), "description", "The description"},
			{"unknown provider", with("provider", "nobody"), "provider", "We do not know a service of this name"},
			{"not a provider", with("provider", "bka"), "provider", "We do not know a service of this name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := send(t, other, c.url+"/complaint", tc.form, "same-origin")
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(fieldError(body, tc.field), tc.msg) {
					t.Fatalf("%d, %s error %q: %s", resp.StatusCode, tc.field, fieldError(body, tc.field), body)
				}
				for _, other := range []string{"provider", "reference", "description", "contact"} {
					if other != tc.field && fieldError(body, other) != "" {
						t.Errorf("error shown at %s too", other)
					}
				}
				if !regexp.MustCompile(`id="`+tc.field+`"[^>]*aria-invalid="true"`).MatchString(body) || !strings.Contains(body, tc.field+"-hint "+tc.field+"-error") ||
					!strings.Contains(body, `id="form-error"`) {
					t.Errorf("the field is not marked invalid: %s", body)
				}
				if tc.field != "description" && !strings.Contains(body, ">My holiday &lt;photo&gt; &amp; more</textarea>") {
					t.Errorf("the description typed is not kept: %s", body)
				}
			})
		}
		if n := c.complaintCount(t); n != 0 {
			t.Fatalf("%d complaints filed by refused forms", n)
		}

		id, secret := fileComplaint(t, c, cl, with("contact", "me@example.org"))
		resp, body := send(t, cl, c.url+"/complaint", with("reference", "R-5678"), "same-origin")
		if resp.StatusCode != http.StatusCreated || !strings.Contains(body, "Write down or print") || !strings.Contains(body, "shown only this once") ||
			strings.Contains(body, "me@example.org") {
			t.Errorf("the filed page: %s", body)
		}
		got, err := c.complaints.Complaint(context.Background(), c.centreReviewer(), id)
		if err != nil || got.ProviderName != "acme" || got.Reference != "R-1234" || got.Description != "My holiday <photo> & more" ||
			got.Contact != "me@example.org" || got.State != complaint.Open || got.FiledBy != 0 || got.Resolved() {
			t.Errorf("complaint %+v, %v", got, err)
		}
		if purpose, ok := audited(t, c, "complaint.file", "complaint:"+id); !ok || strings.Contains(purpose, "127.0.0") {
			t.Errorf("filing audited %v, purpose %q", ok, purpose)
		}
		dump := storetest.DumpAll(t, c.db)
		if bytes.Contains(dump, []byte("127.0.0.6")) || bytes.Contains(dump, []byte(secret)) {
			t.Error("the store holds the complainant's address or the secret")
		}

		// The status, by case number and secret.
		status := func(cl *http.Client, id, secret string) (*http.Response, string) {
			return send(t, cl, c.url+"/complaint/status", url.Values{"case": {id}, "secret": {secret}}, "same-origin")
		}
		resp, body = status(cl, "", "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(fieldError(body, "case"), "Enter the case number") || !strings.Contains(fieldError(body, "secret"), "Enter the secret") {
			t.Errorf("empty status form: %d %s", resp.StatusCode, body)
		}
		resp, body = status(cl, id, secret[1:]+"A")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `id="not-found">No complaint has this case number and secret`) ||
			strings.Contains(body, secret[1:]) || !strings.Contains(body, `value="`+id+`"`) || strings.Contains(body, "Being reviewed") {
			t.Errorf("wrong secret: %d %s", resp.StatusCode, body)
		}
		resp, body = status(cl, strings.ToLower(strings.ReplaceAll(id, "-", "")), " "+secret+" ")
		if resp.StatusCode != 200 || !strings.Contains(body, `<code id="complaint-case">`+id+`</code>`) || !strings.Contains(body, `id="complaint-state">Being reviewed`) ||
			!strings.Contains(body, `id="complaint-due">`) || strings.Contains(body, "My holiday") {
			t.Errorf("status: %d %s", resp.StatusCode, body)
		}

		// Refused from another site, as a public page leading back.
		resp, body = send(t, cl, c.url+"/complaint", good, "cross-site")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sent from another site") || !strings.Contains(body, `href="/complaint">Back to the complaint form`) {
			t.Errorf("cross-site complaint: %d %s", resp.StatusCode, body)
		}
		resp, body = send(t, cl, c.url+"/complaint/status", url.Values{"case": {id}, "secret": {secret}}, "cross-site")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `href="/complaint/status"`) {
			t.Errorf("cross-site status: %d %s", resp.StatusCode, body)
		}

		// Each has its own limit per address: filings 5 at once (the
		// client above has filed 2), look-ups 30 (it has made 2 that
		// reached the service, a wrong one too). Past either, the
		// request is refused with the time to wait, and files nothing.
		for i := 3; i <= 5; i++ {
			if resp, _ := send(t, cl, c.url+"/complaint", good, "same-origin"); resp.StatusCode != http.StatusCreated {
				t.Fatalf("filing %d: %d", i, resp.StatusCode)
			}
		}
		before := c.complaintCount(t)
		if resp, _ := send(t, cl, c.url+"/complaint", good, "same-origin"); resp.StatusCode != http.StatusTooManyRequests || c.complaintCount(t) != before {
			t.Errorf("filing past the limit: %d, %d complaints", resp.StatusCode, c.complaintCount(t))
		}
		for i := 3; i <= 30; i++ {
			if resp, _ := status(cl, id, secret); resp.StatusCode != 200 {
				t.Fatalf("look-up %d, past the filings' limit: %d", i, resp.StatusCode)
			}
		}
		resp, body = status(cl, id, secret)
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || err != nil || secs < 1 || !strings.Contains(body, "Too many requests") ||
			!strings.Contains(body, "try again in "+strconv.Itoa(secs)+" seconds") {
			t.Errorf("look-up past its limit: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		// A form with mistakes is not counted, and is answered.
		if resp, _ := send(t, cl, c.url+"/complaint", with("reference", ""), "same-origin"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad complaint past the limit: %d", resp.StatusCode)
		}
		if resp, _ := status(c.fromAddr("127.0.0.7"), id, secret); resp.StatusCode != 200 {
			t.Errorf("status from another address: %d", resp.StatusCode)
		}
	})
}

// complaintSetup is a report of acme's that matched an active indicator,
// and three complaints: about the report, unresolved, and overdue.
type complaintSetup struct {
	report                                string
	indicator                             int64
	aboutReport, unresolved, overdue, key string // key: the secret of aboutReport
}

func setUpComplaints(t *testing.T, c *console) complaintSetup {
	t.Helper()
	ctx := context.Background()
	const md5 = "fedcba9876543210fedcba9876543210"
	var cs complaintSetup
	for _, name := range []string{"hotline", "centre"} {
		res, err := c.indicators.Submit(ctx, indicator.Known, c.orgs[name].Principal(), []indicator.Submission{{Signal: indicator.MD5, Value: md5, Category: indicator.A1}})
		if err != nil {
			t.Fatal(err)
		}
		cs.indicator = res[0].IndicatorID
	}
	c.matcher.SetList(indicator.List{Name: indicator.Known, MaxDistance: indicator.DefaultMaxDistance, Threshold: indicator.DefaultThreshold})
	if err := c.matcher.Add(matcher.Entry{ID: cs.indicator, List: indicator.Known, Signal: indicator.MD5, Value: md5, Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
	r, _, err := c.reports.Submit(ctx, c.orgs["acme"].ID, "removal-1", report.Draft{
		IncidentTime: time.Now().Add(-time.Hour), Type: report.TypeKnown,
		Service:   report.OnlineService{Type: report.Hosting, URL: "https://photos.example.com/"},
		Awareness: report.Awareness{Method: report.AutomatedMatch},
		Items:     []report.Item{{Kind: report.ItemHash, Hashes: report.Hashes{MD5: md5}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.triage.Triage(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	cs.report = r.ID
	cl := c.fromAddr("127.0.0.8")
	// Filed 20 days ago: past its 14 days.
	c.complaintsAgo.Store(int64(20 * 24 * time.Hour))
	cs.overdue, _ = fileComplaint(t, c, cl, url.Values{"provider": {"acme"}, "reference": {"OLD-1"}, "description": {"an old one"}})
	c.complaintsAgo.Store(0)
	cs.aboutReport, cs.key = fileComplaint(t, c, cl, url.Values{"provider": {"acme"}, "reference": {"removal-1"},
		"description": {"My drawing was removed,\nbut it is my own."}, "contact": {"artist@example.org"}})
	cs.unresolved, _ = fileComplaint(t, c, cl, url.Values{"provider": {"acme"}, "reference": {"NOPE-9"}, "description": {"no idea"}})
	return cs
}

// TestComplaintReview: the reviewers' queue lists open complaints first,
// by due date, with the deadline and the overdue marked; a complaint's
// page shows the complainant's text beside the report and indicators it
// concerns (or that the reference did not resolve), audited as the
// user's access; a refused decision says why and changes nothing; an
// upheld one is recorded, queues what follows, and is what the
// complainant then sees.
func TestComplaintReview(t *testing.T) {
	eachEngine(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		cs := setUpComplaints(t, c)
		rv := c.clients[policy.Reviewer]
		me := fmt.Sprintf("user:%d", c.userOf(t, policy.Reviewer).ID)

		_, body := fetch(t, rv, c.url+"/")
		if !strings.Contains(body, `<a href="/complaints">Complaints</a>`) {
			t.Error("the reviewer's menu has no complaints")
		}
		for _, role := range []policy.Role{policy.Admin, policy.Auditor, policy.Analyst, policy.ProviderAdmin} {
			if _, body := fetch(t, c.clients[role], c.url+"/"); strings.Contains(body, `href="/complaints"`) {
				t.Errorf("%s's menu offers the complaints", role)
			}
		}
		_, body = fetch(t, rv, c.url+"/complaints")
		if got := complaintIDs(body); fmt.Sprint(got) != fmt.Sprint([]string{cs.overdue, cs.aboutReport, cs.unresolved}) {
			t.Fatalf("queue %v, want overdue, then by due date", got)
		}
		row := func(body, id string) string {
			i := strings.Index(body, `id="complaint-`+id+`"`)
			if i < 0 {
				return ""
			}
			start := strings.LastIndex(body[:i], "<tr")
			return body[start : i+strings.Index(body[i:], "</tr>")]
		}
		if r := row(body, cs.overdue); !strings.Contains(r, `class="urgent"`) || !strings.Contains(r, "Overdue") || !strings.Contains(r, "days overdue") {
			t.Errorf("overdue row: %s", r)
		}
		if r := row(body, cs.aboutReport); strings.Contains(r, "Overdue") || !strings.Contains(r, "in 13 days") || !strings.Contains(r, "removal-1") {
			t.Errorf("row of a complaint due in 14 days: %s", r)
		}
		if strings.Contains(body, "My drawing") || strings.Contains(body, "artist@") {
			t.Error("the queue shows the complainant's text")
		}
		if got := auditedBy(t, c, "complaint.list", "complaints", me); len(got) != 1 || got[0] != "list: state=all" {
			t.Errorf("the queue's view audited as %q", got)
		}

		page := c.url + "/complaints/" + cs.aboutReport
		_, body = fetch(t, rv, page)
		for _, want := range []string{
			"My drawing was removed,\nbut it is my own.", "artist@example.org", `href="/reports/` + cs.report + `"`,
			fmt.Sprintf(`<a href="/indicators/%d">indicator %d</a>, list known, md5, A1: <strong>active</strong>`, cs.indicator, cs.indicator),
			`action="/complaints/` + cs.aboutReport + `/decision"`, `id="outcome-upheld" name="outcome" value="upheld"`, `<label for="reasons">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the complaint's page lacks %q", want)
			}
		}
		if got := auditedBy(t, c, "complaint.view", "complaint:"+cs.aboutReport, me); len(got) != 1 {
			t.Errorf("the view of the complaint audited %d times as %s", len(got), me)
		}
		// The report's page, as linked, opens for the reviewer.
		if resp, _ := fetch(t, rv, c.url+"/reports/"+cs.report); resp.StatusCode != 200 {
			t.Errorf("the report linked: %d", resp.StatusCode)
		}
		_, body = fetch(t, rv, c.url+"/complaints/"+cs.unresolved)
		if !strings.Contains(body, `id="unresolved">The reference did not resolve`) || strings.Contains(body, `href="/reports/`) {
			t.Errorf("the unresolved complaint's page: %s", body)
		}
		_, body = fetch(t, rv, c.url+"/complaints/"+cs.overdue)
		if !strings.Contains(body, `id="overdue"`) {
			t.Error("the overdue complaint's page does not say so")
		}

		// Refused decisions: nothing recorded, the form as it was sent.
		for _, tc := range []struct {
			form  url.Values
			field string
			msg   string
		}{
			{url.Values{"reasons": {"because"}}, "outcome", "Choose whether the complaint is upheld or rejected"},
			{url.Values{"outcome": {"maybe"}, "reasons": {"because"}}, "outcome", "upheld or rejected"},
			{url.Values{"outcome": {"upheld"}, "reasons": {"  "}}, "reasons", "required"},
		} {
			resp, body := send(t, rv, page+"/decision", tc.form, "same-origin")
			msg := regexp.MustCompile(`id="` + tc.field + `-error">([^<]*)<`).FindStringSubmatch(body)
			if resp.StatusCode != http.StatusBadRequest || msg == nil || !strings.Contains(msg[1], tc.msg) || !strings.Contains(body, `id="decision-error"`) {
				t.Errorf("decision %v: %d %s", tc.form, resp.StatusCode, body)
			}
			if tc.form.Get("outcome") == "upheld" && !regexp.MustCompile(`id="outcome-upheld"[^>]* checked`).MatchString(body) {
				t.Error("the outcome chosen is not kept")
			}
			if tc.form.Get("reasons") == "because" && !strings.Contains(body, ">because</textarea>") {
				t.Error("the reasons typed are not kept")
			}
		}
		if got, _ := c.complaints.Complaint(ctx, c.centreReviewer(), cs.aboutReport); got.State != complaint.Open {
			t.Fatalf("after refused decisions the complaint is %s", got.State)
		}
		// The auditor may not decide.
		if resp, _ := send(t, c.clients[policy.Auditor], page+"/decision", url.Values{"outcome": {"rejected"}, "reasons": {"no"}}, "same-origin"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the auditor's decision: %d", resp.StatusCode)
		}

		resp, _ := send(t, rv, page+"/decision", url.Values{"outcome": {"upheld"}, "reasons": {"The drawing is not\nabuse material."}}, "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/complaints/"+cs.aboutReport+"?decided=1" {
			t.Fatalf("decision: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, body = fetch(t, rv, c.url+resp.Header.Get("Location"))
		for _, want := range []string{`role="status">Your decision was recorded.`, `id="complaint-outcome"><strong>upheld</strong>`,
			"The drawing is not\nabuse material.", "by reviewer@centre.test, centre", "the indicators involved are quarantined"} {
			if !strings.Contains(body, want) {
				t.Errorf("the decided complaint's page lacks %q", want)
			}
		}
		if strings.Contains(body, `action="/complaints/`+cs.aboutReport+`/decision"`) {
			t.Error("a decided complaint still has the decision form")
		}
		if got := auditedBy(t, c, "complaint.decide", "complaint:"+cs.aboutReport, me); len(got) != 1 || got[0] != "upheld" {
			t.Errorf("the decision audited as %q", got)
		}
		jobs, err := c.db.ClaimJobs(ctx, "test", []string{complaint.JobQuarantine}, time.Now().Add(time.Minute), time.Minute, 10)
		if err != nil || len(jobs) != 1 || jobs[0].Ref != complaint.QuarantineRef(cs.aboutReport, cs.indicator) {
			t.Errorf("quarantine jobs %+v, %v", jobs, err)
		}
		// Deciding again is a conflict.
		if resp, _ := send(t, rv, page+"/decision", url.Values{"outcome": {"rejected"}, "reasons": {"no"}}, "same-origin"); resp.StatusCode != http.StatusConflict {
			t.Errorf("second decision: %d", resp.StatusCode)
		}
		// Decided, it goes after the open ones.
		_, body = fetch(t, rv, c.url+"/complaints")
		if got := complaintIDs(body); fmt.Sprint(got) != fmt.Sprint([]string{cs.overdue, cs.unresolved, cs.aboutReport}) {
			t.Errorf("queue after the decision %v", got)
		}
		_, body = fetch(t, rv, c.url+"/complaints?state=upheld")
		if got := complaintIDs(body); fmt.Sprint(got) != fmt.Sprint([]string{cs.aboutReport}) {
			t.Errorf("upheld tab %v", got)
		}
		if resp, _ := fetch(t, rv, c.url+"/complaints?state=nonsense"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a state that is none: %d", resp.StatusCode)
		}
		// The complainant sees the outcome and the reasons.
		resp, body = send(t, c.fromAddr("127.0.0.9"), c.url+"/complaint/status", url.Values{"case": {cs.aboutReport}, "secret": {cs.key}}, "same-origin")
		if resp.StatusCode != 200 || !strings.Contains(body, `id="complaint-state">Upheld`) || !strings.Contains(body, "The drawing is not\nabuse material.") ||
			!strings.Contains(body, `id="complaint-decided">`) {
			t.Errorf("the complainant's status: %d %s", resp.StatusCode, body)
		}
	})
}
