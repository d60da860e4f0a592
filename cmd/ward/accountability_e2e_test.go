package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/pdq"
)

// webhook is a provider's webhook on loopback: it keeps every body posted.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// received waits for a body containing every one of want.
func (h *webhook) received(t *testing.T, want ...string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h.mu.Lock()
		for _, b := range h.bodies {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(b, w)
			}
			if ok {
				h.mu.Unlock()
				return b
			}
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Fatalf("the webhook received nothing with %q: %q", want, h.bodies)
	return ""
}

// TestAccountabilityEndToEnd is the accountability story over real HTTP,
// on both engines: two providers call one indicator's matches false
// positives and it stops matching at once, in the API and in a mirror; a
// flood of matches quarantines another; a reviewer confirms that one back
// in the console (real Chromium); a provider's report of a third is
// forwarded, and a person whose upload it was complains on the public
// page; the reviewer upholds the complaint, so the provider is told to
// reinstate (status and webhook), the indicator is quarantined and the
// police get the report corrected; the complainant sees the outcome; and
// the public statistics count exactly this, without a person's address or
// name.
func TestAccountabilityEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { accountabilityEndToEnd(t, engine.flags(t)) })
	}
}

func accountabilityEndToEnd(t *testing.T, db []string) {
	ctx := browser(t)
	bg := context.Background()
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	hook := newWebhook(t)
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE", "--webhook", hook.URL, "--allow-private-webhooks")
	admin("org", "add", "--name", "beta", "--kind", "provider", "--country", "FR")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	out := admin("user", "add", "--org", "centre", "--role", "reviewer", "reviewer@centre.test")
	link := regexp.MustCompile(`http://\S+/enrol/\S+`).FindString(out)
	acmeKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	betaKey := strings.TrimSpace(admin("key", "create", "--org", "beta"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))

	// Three images the hotlines of two countries list: one that will be
	// called a false positive, one that will flood, one that will be
	// reported.
	var tsv strings.Builder
	images := map[string]string{}
	hashes := map[string]pdq.Hash{}
	for i, name := range []string{"flagged", "flooded", "reported"} {
		images[name] = filepath.Join(dir, name+".png")
		h := writePNG(t, images[name], uint64(100+i))
		hashes[name] = h.PDQ
		fmt.Fprintf(&tsv, "pdq\t%s\tA1\t%s\n", h.PDQ, name)
	}
	list := filepath.Join(dir, "known.tsv")
	os.WriteFile(list, []byte(tsv.String()), 0o600)
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", list)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", list)

	base := startServe(t, db, "--allow-private-webhooks", "--flood-matches", "5", "--statistics-interval", "1s")
	acme, beta, bka, public := apiClient(t, base, acmeKey), apiClient(t, base, betaKey), apiClient(t, base, bkaKey), apiClient(t, base, "")
	// matches returns the indicators h matches, as acme asks.
	matches := func(h pdq.Hash) []int64 {
		t.Helper()
		res, err := acme.Match(bg, client.MatchRequest{Items: []client.Item{{PDQ: h.String()}}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, m := range res.Results[0].Matches {
			ids = append(ids, m.Indicator)
		}
		return ids
	}
	// within waits until h matches want indicators, for at most d.
	within := func(d time.Duration, h pdq.Hash, want int) []int64 {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			got := matches(h)
			if len(got) == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v %s matches %v, want %d indicators", d, h, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ids := map[string]int64{}
	for name, h := range hashes {
		ids[name] = within(5*time.Second, h, 1)[0]
	}
	mirror := filepath.Join(dir, "known.mirror")
	syncMirror := func() { wardOK(t, "sync", "--server", base, "--key", acmeKey, "--list", "known", "--mirror", mirror) }
	syncMirror()
	if got := scanMatches(t, mirror, images["flagged"]); got["flagged.png"] != 1 {
		t.Fatalf("the mirror before the verdicts: %v", got)
	}

	// Two providers call the first indicator's matches false positives:
	// it stops matching within a second, and leaves the mirror.
	for i, c := range []*client.Client{acme, beta} {
		res, err := c.MatchFeedback(bg, client.MatchFeedback{Indicator: ids["flagged"], Verdict: client.VerdictFalsePositive, Note: "a holiday photo"})
		if err != nil || res.Quarantined != (i == 1) {
			t.Fatalf("verdict %d: %+v, %v", i, res, err)
		}
	}
	within(time.Second, hashes["flagged"], 0)
	syncMirror()
	if got := scanMatches(t, mirror, images["flagged"], images["flooded"]); got["flagged.png"] != 0 || got["flooded.png"] != 1 {
		t.Errorf("the mirror after the verdicts: %v", got)
	}

	// The second indicator matches six different items (near it), three
	// of acme's and three of beta's: a flood, over --flood-matches 5.
	for i, c := range []*client.Client{acme, beta} {
		var near []client.Item
		for j := range 3 {
			v := hashes["flooded"]
			v[0] ^= 1 << (3*i + j)
			near = append(near, client.Item{PDQ: v.String()})
		}
		if res, err := c.Match(bg, client.MatchRequest{Items: near}); err != nil || len(res.Results[2].Matches) != 1 {
			t.Fatalf("the flood, as provider %d: %+v, %v", i, res, err)
		}
	}
	within(5*time.Second, hashes["flooded"], 0)

	// A reviewer sees both in the console and confirms the flooded one.
	u, _ := url.Parse(link)
	p := page{t, ctx}
	enrolAndLogin(p, base+u.Path, "reviewer@centre.test", "a long reviewer passphrase")
	p.do(chromedp.Navigate(base + "/quarantine"))
	shot(t, ctx, "quarantine-queue")
	if body := p.body(); !strings.Contains(body, "false-positive verdicts of 2 providers") || !strings.Contains(body, "flood of matches") {
		t.Errorf("the quarantine queue: %s", body)
	}
	p.navigate(chromedp.Click(chromedp.ID(fmt.Sprintf("quarantine-%d", ids["flooded"]))))
	if status := p.navigate(chromedp.Click(chromedp.ID("confirm"))); status != http.StatusOK {
		t.Fatalf("confirming: status %d: %s", status, p.body())
	}
	within(5*time.Second, hashes["flooded"], 1)

	// acme reports the third image; the reviewer forwards it.
	var rep client.ReportStatus
	reportFile := filepath.Join("..", "..", "docs", "examples", "report.json")
	json.Unmarshal([]byte(wardOK(t, "report", "submit", "--json", "--file", images["reported"], "--server", base, "--key", acmeKey, reportFile)), &rep)
	if rep.ID == "" {
		t.Fatal("no report")
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if p.do(chromedp.Navigate(base + "/reports/" + rep.ID)); strings.Contains(p.body(), "reported") {
			break
		}
	}
	p.navigate(chromedp.Click(chromedp.ID("forward")))
	if status := p.navigate(chromedp.Click(chromedp.ID("confirm-forward"))); status != http.StatusOK {
		t.Fatalf("forwarding: status %d: %s", status, p.body())
	}
	// inbox waits for the report in bka's inbox of the status given.
	inbox := func(status string) client.InboxReport {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			in, err := bka.LEAInbox(bg, client.InboxOptions{Status: status})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range in.Reports {
				if r.ReportID == rep.ID {
					return r
				}
			}
		}
		t.Fatalf("report %s is not in bka's inbox of %s reports", rep.ID, status)
		return client.InboxReport{}
	}
	inbox("new")
	if _, err := bka.AckReport(bg, rep.ID); err != nil {
		t.Fatal(err)
	}

	// The person whose upload it was complains on the public page, with
	// the report's ID as acme's reference.
	p.do(chromedp.Navigate(base + "/complaint"))
	shot(t, ctx, "complaint")
	if status := p.submit(map[string]string{"provider": "acme", "reference": rep.ID,
		"description": "My holiday photo was removed.", "contact": "person@example.test"}, "#send"); status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("complaining: status %d: %s", status, p.body())
	}
	caseID, secret := p.text("complaint-case"), p.text("complaint-secret")
	if caseID == "" || secret == "" {
		t.Fatalf("no case or secret: %s", p.body())
	}

	// The reviewer upholds it beside the report it concerns.
	p.do(chromedp.Navigate(base + "/complaints"))
	p.navigate(chromedp.Click(chromedp.ID("complaint-" + caseID)))
	shot(t, ctx, "complaint-review")
	if body := p.body(); !strings.Contains(body, rep.ID) || !strings.Contains(body, "person@example.test") {
		t.Errorf("the complaint's page: %s", body)
	}
	p.do(chromedp.Click(chromedp.ID("outcome-upheld")), chromedp.SendKeys(chromedp.ID("reasons"), "The photo is not what the indicator stands for."))
	if status := p.navigate(chromedp.Click(chromedp.ID("decide"))); status != http.StatusOK {
		t.Fatalf("deciding: status %d: %s", status, p.body())
	}
	if got := p.text("complaint-outcome"); got != "upheld" {
		t.Errorf("the outcome shown: %q", got)
	}

	// The complainant sees the outcome; acme is told to reinstate, in its
	// status and at its webhook; the indicator is quarantined; the police
	// see the report corrected, new again.
	st, err := public.ComplaintStatus(bg, caseID, secret)
	if err != nil || st.State != "upheld" || !strings.Contains(st.Reasons, "not what the indicator stands for") {
		t.Errorf("the complainant's status: %+v, %v", st, err)
	}
	pc, err := acme.GetComplaint(bg, caseID)
	if err != nil || !pc.Reinstate || pc.Reference != rep.ID {
		t.Errorf("acme's view: %+v, %v", pc, err)
	}
	hook.received(t, caseID, "upheld")
	within(5*time.Second, hashes["reported"], 0)
	if r := inbox("new"); r.CorrectedAt.IsZero() {
		t.Errorf("new again in bka's inbox, but not corrected: %+v", r)
	}

	// The statistics count exactly this, and name nobody.
	checkStatistics(t, base)
}

// apiClient returns a client of base with key (none for the public).
func apiClient(t *testing.T, base, key string) *client.Client {
	t.Helper()
	c, err := client.New(base, key, client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkStatistics checks the public statistics of yesterday and today (the
// test may cross midnight UTC), as JSON, CSV and the page, against what
// the accountability test did, once a roll-up has counted everything up
// to now.
func checkStatistics(t *testing.T, base string) {
	t.Helper()
	now := time.Now().UTC()
	q := "?from=" + now.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + now.Format(time.DateOnly)
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d: %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	var st client.Statistics
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		body = get("/v1/public/statistics" + q)
		st = client.Statistics{}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if st.UpdatedAt != nil {
			if at, err := time.Parse(time.RFC3339Nano, *st.UpdatedAt); err == nil && at.After(now) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no roll-up after %v: %s", now, body)
		}
	}
	r, in, c, td := st.Reports, st.Indicators, st.Complaints, st.Takedown
	if r.Received != 1 || len(r.ByProvider) != 1 || r.ByProvider["acme"] != 1 || len(r.ByCountry) != 1 || r.ByCountry["DE"] != 1 ||
		r.ByType["new"] != 1 || r.ByType["known"] != 0 || r.Known != 1 || r.New != 0 || r.Urgent != 0 || r.Unfounded != 0 ||
		r.Forwarded != 1 || r.MedianHoursToForward == nil || *r.MedianHoursToForward > 1 {
		t.Errorf("reports: %+v", r)
	}
	// Three activated; quarantined: by the verdicts, the flood and the
	// complaint; the flooded one confirmed back.
	if in.Added != 3 || in.Withdrawn != 0 || in.Quarantined != 3 || in.FalsePositiveVerdicts != 2 || in.Active != 1 || in.InQuarantine != 2 {
		t.Errorf("indicators: %+v", in)
	}
	if c.Received != 1 || c.Upheld != 1 || c.Rejected != 0 {
		t.Errorf("complaints: %+v", c)
	}
	if td.URLsReported != 0 || td.Notices != 0 || td.Removed != 0 || td.MedianHoursToRemoval != nil || td.RemovedWithin3Days != 0 {
		t.Errorf("takedown: %+v", td)
	}
	csv := get("/v1/public/statistics" + q + "&format=csv")
	for _, row := range []string{"reports.by_provider,acme,1", "complaints.upheld,,1", "indicators.quarantined,,3"} {
		if !strings.Contains(csv, row+"\n") && !strings.Contains(csv, row+"\r\n") {
			t.Errorf("the CSV has no row %q:\n%s", row, csv)
		}
	}
	page := get("/transparency" + q)
	if !strings.Contains(page, "acme") || !strings.Contains(page, "<svg") || strings.Contains(page, "<script") {
		t.Errorf("the transparency page: %s", page)
	}
	// Nobody is named: not the complainant, nor the reported user of
	// docs/examples/report.json (id, screen name, IP address), nor an
	// address of this machine.
	for _, personal := range []string{"person@example.test", "u-1234", "someone", "10.1.2.3", "127.0.0.1", "reviewer@centre.test"} {
		for name, text := range map[string]string{"JSON": body, "CSV": csv, "page": page} {
			if strings.Contains(text, personal) {
				t.Errorf("the statistics' %s show %q", name, personal)
			}
		}
	}
}
