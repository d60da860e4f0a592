package takedown_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/takedown"
)

const page = `<html><body><h1>Gallery</h1>
<img src="/a.png"> <img src="/b.png"> <img src="/old.png">
</body></html>`

// servePage puts the page and its three images on the test host: a.png
// (known material), b.png and c.png (behind the redirect of old.png).
func (e *env) servePage(t *testing.T) (a, b, c []byte) {
	t.Helper()
	a, b, c = storetest.Image(t, 1), storetest.Image(t, 2), storetest.Image(t, 3)
	e.site.set("/page.html", []byte(page))
	e.site.set("/a.png", a)
	e.site.set("/b.png", b)
	e.site.set("/c.png", c)
	e.site.mu.Lock()
	e.site.redirects["/old.png"] = "/c.png"
	e.site.mu.Unlock()
	return a, b, c
}

// noticeOf returns the notice of case c with classification cl.
func noticeOf(c takedown.Case, cl takedown.Classification) takedown.Notice {
	for _, n := range c.Notices {
		if n.Classification == cl {
			return n
		}
	}
	return takedown.Notice{}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// classify classifies items 0, 1, ... as cs says.
func classify(cs ...takedown.Classification) []takedown.ItemAssessment {
	out := make([]takedown.ItemAssessment, len(cs))
	for i, c := range cs {
		out[i] = takedown.ItemAssessment{Index: i, Classification: c}
	}
	return out
}

// TestFlow drives a public report through the whole flow over real HTTP
// on each engine: fetched with what the page embeds, matched, routed to
// the hotline of the hosting country, assessed, noticed to the host's
// webhook (signature checked), reported to the police, answered,
// rechecked until every illegal item is gone, and counted in the figures.
func TestFlow(t *testing.T) {
	engines(t, testFlow)
}

func testFlow(t *testing.T, e *env) {
	a, b, _ := e.servePage(t)
	e.activate(t, a)
	raw := e.site.url("/page.html#top")

	// Reported: a receipt, a case fetching, its fetch queued.
	rc, err := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: raw, Description: "seen on a forum", Contact: "reporter@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.get(t, rc.ID)
	if c.State != takedown.Fetching || c.URL != e.site.url("/page.html") || c.Source != 0 {
		t.Fatalf("reported: %+v", c)
	}
	if !rc.ReceivedAt.Equal(c.ReceivedAt) || rc.URL != c.URL || !takedown.VerifyReceipt(e.svc.PublicKey(), rc.ID, rc.ReceivedAt, rc.URL, rc.Receipt) {
		t.Fatalf("the receipt %+v does not verify", rc)
	}
	if takedown.VerifyReceipt(e.svc.PublicKey(), rc.ID, c.ReceivedAt.Add(time.Second), c.URL, rc.Receipt) {
		t.Fatal("the receipt verifies for another time")
	}
	if c.Description != "seen on a forum" || c.Contact != "reporter@example.org" {
		t.Fatalf("description %q, contact %q", c.Description, c.Contact)
	}
	dump := string(storetest.DumpAll(t, e.db))
	if strings.Contains(dump, "seen on a forum") || strings.Contains(dump, "reporter@example.org") {
		t.Fatal("the description or contact is stored in clear")
	}
	if got := e.drain(t, takedown.JobFetch, e.svc.Fetch); !slices.Equal(got, []string{rc.ID}) {
		t.Fatalf("fetch jobs %v", got)
	}
	// A second run of the job adds nothing.
	if err := e.svc.Fetch(e.ctx, rc.ID); err != nil {
		t.Fatal(err)
	}

	// Fetched: the page and its three images (the third through a
	// redirect), a.png matched and not kept, nor the page (not an image);
	// routed to the hotline of the Netherlands, where the test host is.
	c = e.get(t, rc.ID)
	if c.State != takedown.Assessing || c.Queue != e.hotlineNL.ID || c.Hosting.Country != "NL" || c.Hosting.Host != e.host.ID ||
		c.Hosting.HostName != "Hosting NL" || len(c.Hosting.Addresses) != 1 || c.Hosting.Addresses[0] != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("fetched: %+v", c)
	}
	if len(c.Items) != 4 {
		t.Fatalf("%d items, want 4: %+v", len(c.Items), c.Items)
	}
	wantURLs := []string{c.URL, e.site.url("/a.png"), e.site.url("/b.png"), e.site.url("/old.png")}
	hb := filehash.Bytes(b, filehash.Options{})
	for i, it := range c.Items {
		if it.Index != i || it.URL != wantURLs[i] || it.SHA256 == "" || it.Error != "" {
			t.Errorf("item %d: %+v", i, it)
		}
		if want := i >= 2; it.HasContent != want {
			t.Errorf("item %d: content kept %v, want %v", i, it.HasContent, want)
		}
		if want := i == 1; (len(it.Matches) > 0) != want {
			t.Errorf("item %d: matches %+v", i, it.Matches)
		}
	}
	if it := c.Items[2]; it.SHA256 != hb.SHA256 || it.PDQ != hb.PDQ.String() || it.Quality != hb.Quality || it.Size != int64(len(b)) ||
		it.ContentType != "image/png" {
		t.Errorf("item 2: %+v", it)
	}
	if m := c.Items[1].Matches; m[0].List != indicator.Known || m[0].Distance != 0 {
		t.Errorf("matches of a.png: %+v", m)
	}
	if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_items WHERE case_id = $1`, rc.ID); n != 4 {
		t.Fatalf("%d item rows after a repeated fetch, want 4", n)
	}

	// The hotline of Germany sees nothing of it; the Dutch one does.
	de, nl := e.analyst(e.hotlineDE), e.analyst(e.hotlineNL)
	if _, err := e.svc.Case(e.ctx, de, rc.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("another hotline's case: %v", err)
	}
	if cs, err := e.svc.Cases(e.ctx, de, takedown.CaseQuery{}); err != nil || len(cs) != 0 {
		t.Fatalf("another hotline's queue: %v, %v", cs, err)
	}
	if cs, err := e.svc.Cases(e.ctx, nl, takedown.CaseQuery{State: takedown.Assessing}); err != nil || len(cs) != 1 || cs[0].ID != rc.ID {
		t.Fatalf("the hotline's queue: %+v, %v", cs, err)
	}
	content, typ, err := e.svc.Content(e.ctx, nl, rc.ID, 2)
	if err != nil || string(content) != string(b) || typ != "image/png" {
		t.Fatalf("content of item 2: %d bytes, %q, %v", len(content), typ, err)
	}
	if _, _, err := e.svc.Content(e.ctx, nl, rc.ID, 1); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("content of known material: %v", err)
	}
	if got := storetest.Strings(t, e.db, `SELECT action FROM audit_log WHERE object = $1 AND org_id = $2 ORDER BY seq`,
		"case:"+rc.ID, e.hotlineNL.ID); !slices.Equal(got, []string{"takedown.content.view"}) {
		t.Fatalf("audit of the hotline's access: %v", got)
	}

	// Assessed: a, known material, baseline, and b national; both on the
	// same host: a baseline and a national notice by webhook.
	c, err = e.svc.Assess(e.ctx, nl, rc.ID, takedown.Assessment{SubmitIndicators: true, Items: classify(
		takedown.NotIllegal, takedown.Baseline, takedown.National, takedown.NotIllegal)})
	if err != nil {
		t.Fatal(err)
	}
	assessed := e.clock.Now()
	if c.State != takedown.Noticed || !c.AssessedAt.Equal(assessed) || c.AssessedBy != "user:7" || c.AssessedOrg != e.hotlineNL.ID ||
		c.Items[1].Classification != takedown.Baseline {
		t.Fatalf("assessed: %+v", c)
	}
	if ev := c.Events[len(c.Events)-1]; ev.Kind != takedown.EventAssessed || ev.Detail != "1 baseline, 1 national, 2 not illegal" {
		t.Fatalf("assessment event %+v", ev)
	}
	if len(c.Notices) != 2 {
		t.Fatalf("notices %+v", c.Notices)
	}
	n, nat := noticeOf(c, takedown.Baseline), noticeOf(c, takedown.National)
	if n.Host != e.host.ID || n.Channel != takedown.ByWebhook || !slices.Equal(n.URLs, []string{wantURLs[1]}) ||
		nat.Host != e.host.ID || nat.Channel != takedown.ByWebhook || !slices.Equal(nat.URLs, []string{wantURLs[2]}) {
		t.Fatalf("notices %+v", c.Notices)
	}
	// The illegal item's content stays for the report to the police.
	for i, it := range c.Items {
		if want := i == 2; it.HasContent != want {
			t.Errorf("after assessment, item %d: content kept %v", i, it.HasContent)
		}
		if want := i == 1 || i == 2; it.NextCheckAt.IsZero() == want {
			t.Errorf("item %d: next check %v", i, it.NextCheckAt)
		}
	}
	both := []string{n.ID, nat.ID}
	slices.Sort(both)
	if got := sorted(e.pending(t, takedown.JobNotice)); !slices.Equal(got, both) {
		t.Fatalf("notice jobs %v", got)
	}

	// The notices arrive, signed, each with its classification and URLs.
	e.drain(t, takedown.JobNotice, e.svc.SendNotice)
	got := e.hook.all()
	if len(got) != 2 {
		t.Fatalf("%d notices received", len(got))
	}
	for _, w := range []struct {
		n  takedown.Notice
		cl string
	}{{n, "baseline"}, {nat, "national"}} {
		i := slices.IndexFunc(got, func(r received) bool { return r.header.Get(takedown.NoticeIDHeader) == w.n.ID })
		if i < 0 {
			t.Fatalf("notice %s not received", w.n.ID)
		}
		verify(t, e.svc.PublicKey(), got[i].body, got[i].header.Get(forward.SignatureHeader))
		var msg map[string]any
		if err := json.Unmarshal(got[i].body, &msg); err != nil {
			t.Fatal(err)
		}
		if msg["notice"] != w.n.ID || msg["case"] != rc.ID || msg["classification"] != w.cl || msg["send"] != 1.0 ||
			msg["removal_url"] != "https://ward.example/v1/notices/"+w.n.ID+"/removed" || msg["host"] != "Hosting NL" || msg["to"] != "Hosting NL" {
			t.Fatalf("notice %s", got[i].body)
		}
		if urls, _ := msg["urls"].([]any); len(urls) != 1 || urls[0] != w.n.URLs[0] {
			t.Fatalf("notice urls %v", msg["urls"])
		}
		if got[i].header.Get(takedown.NoticeSendHeader) != "1" {
			t.Fatalf("notice headers %v", got[i].header)
		}
	}
	// Sent in this round already: a repeated job sends nothing.
	if err := e.svc.SendNotice(e.ctx, n.ID); err != nil || len(e.hook.all()) != 2 {
		t.Fatalf("repeated send: %v, %d received", err, len(e.hook.all()))
	}

	// Referred to the police through forwarding, indicators submitted,
	// then the content deleted.
	e.drain(t, takedown.JobRefer, e.svc.Refer)
	c = e.get(t, rc.ID)
	if c.Referral == "" || c.ReferredAt.IsZero() {
		t.Fatalf("not referred: %+v", c)
	}
	for _, it := range c.Items {
		if it.HasContent {
			t.Errorf("item %d: content kept after the referral", it.Index)
		}
	}
	if err := e.svc.Refer(e.ctx, rc.ID); err != nil || e.get(t, rc.ID).Referral != c.Referral {
		t.Fatalf("repeated referral: %v", err)
	}
	r, err := e.reports.Open(e.ctx, c.Referral)
	if err != nil {
		t.Fatal(err)
	}
	if r.Provider != e.centre.ID || r.State != report.StateForwarded || r.Draft.Type != report.TypeKnown ||
		r.Draft.User.Country != "NL" || len(r.Draft.Items) != 2 || r.Draft.Items[0].Kind != report.ItemHash ||
		r.Draft.Items[1].Kind != report.ItemFile || len(r.Files) != 1 || r.Files[0].SHA256 != hb.SHA256 {
		t.Fatalf("referral %+v", r)
	}
	fwd := forward.NewService(e.db.Forward(), e.reports, e.key)
	if err := fwd.Route(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	for _, o := range []int64{e.leaNL.ID, e.europol.ID} {
		if _, err := e.db.Delivery(e.ctx, r.ID, o); err != nil {
			t.Errorf("delivery to %d: %v", o, err)
		}
	}
	// The baseline item's MD5, new, is attested by the Dutch hotline: the
	// German one's attestation activates it. The national item's hashes
	// are not submitted.
	res, err := e.ind.Submit(e.ctx, indicator.Known, e.hotlineDE.Principal(), []indicator.Submission{
		{Signal: indicator.MD5, Value: c.Items[1].MD5, Category: indicator.Baseline},
		{Signal: indicator.SHA256, Value: hb.SHA256, Category: indicator.National}})
	if err != nil || !res[0].Activated || !res[1].Created {
		t.Fatalf("indicators after the referral: %+v, %v", res, err)
	}

	// Two hours on, nothing is due; a.png is taken down and the host
	// says so: the recheck comes at once and finds it gone, and another
	// confirms it ConfirmAfter later: removed at the first.
	e.clock.Add(2 * time.Hour)
	if err := e.svc.RecheckDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if c = e.get(t, rc.ID); !c.Items[1].LastCheckAt.IsZero() {
		t.Fatalf("rechecked before due: %+v", c.Items[1])
	}
	e.site.set("/a.png", nil)
	if _, err := e.svc.Answer(e.ctx, e.hostKey(e.hotlineNL), n.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("an answer from another organisation: %v", err)
	}
	if recheck, err := e.svc.Answer(e.ctx, e.hostKey(e.host), n.ID); err != nil || !recheck {
		t.Fatalf("answer: recheck %v, %v", recheck, err)
	}
	answered := e.clock.Now()
	if got := e.pending(t, takedown.JobRecheck); !slices.Equal(got, []string{"notice:" + n.ID}) {
		t.Fatalf("recheck jobs %v", got)
	}
	e.drain(t, takedown.JobRecheck, func(ctx context.Context, _ string) error { return e.svc.RecheckDue(ctx) })
	if it := e.get(t, rc.ID).Items[1]; !it.GoneAt.Equal(answered) || !it.RemovedAt.IsZero() ||
		!it.NextCheckAt.Equal(answered.Add(takedown.DefaultConfirmAfter)) {
		t.Fatalf("found gone once: %+v", it)
	}
	e.clock.Add(takedown.DefaultConfirmAfter)
	if err := e.svc.RecheckDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	c = e.get(t, rc.ID)
	// The answer is about a's notice: b is not checked before it is due.
	if !c.Items[1].RemovedAt.Equal(answered) || !c.Items[2].RemovedAt.IsZero() || !c.Items[2].LastCheckAt.IsZero() ||
		c.State != takedown.Noticed || !noticeOf(c, takedown.Baseline).AnsweredAt.Equal(answered) {
		t.Fatalf("after the answer: state %s, items %+v, notices %+v", c.State, c.Items[1:3], c.Notices)
	}

	// A day after the notice it is sent again.
	e.clock.Add(22*time.Hour + time.Minute - takedown.DefaultConfirmAfter)
	if err := e.svc.RecheckDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := sorted(e.pending(t, takedown.JobNotice)); !slices.Equal(got, both) {
		t.Fatalf("renotice jobs %v", got)
	}
	// A second sweep queues each once.
	if err := e.svc.RecheckDue(e.ctx); err != nil || len(e.pending(t, takedown.JobNotice)) != 2 {
		t.Fatalf("second sweep: %v, %v", err, e.pending(t, takedown.JobNotice))
	}
	e.drain(t, takedown.JobNotice, e.svc.SendNotice)
	if got := e.hook.all(); len(got) != 4 || got[2].header.Get(takedown.NoticeSendHeader) != "2" || got[3].header.Get(takedown.NoticeSendHeader) != "2" {
		t.Fatalf("renotice: %d received", len(got))
	}

	// b is replaced by other content: the next recheck finds it gone, the
	// one after confirms it, and the case is removed at the first.
	e.site.set("/b.png", storetest.Image(t, 99))
	removed := e.clock.Add(6 * time.Hour)
	for range 2 {
		if err := e.svc.RecheckDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(takedown.DefaultConfirmAfter)
	}
	c = e.get(t, rc.ID)
	if c.State != takedown.Removed || !c.RemovedAt.Equal(removed) || c.TimeToRemoval() != removed.Sub(c.ReceivedAt) ||
		!c.Items[2].RemovedAt.Equal(removed) || !c.Notices[0].NextSendAt.IsZero() || !c.Notices[1].NextSendAt.IsZero() {
		t.Fatalf("removed: state %s at %v (ttr %v), items %+v, notice %+v", c.State, c.RemovedAt, c.TimeToRemoval(), c.Items, c.Notices)
	}
	// Notices stop.
	e.clock.Add(48 * time.Hour)
	if err := e.svc.RecheckDue(e.ctx); err != nil || len(e.pending(t, takedown.JobNotice)) != 0 {
		t.Fatalf("notices after removal: %v, %v", err, e.pending(t, takedown.JobNotice))
	}
	var kinds []takedown.EventKind
	for _, ev := range c.Events {
		kinds = append(kinds, ev.Kind)
	}
	want := []takedown.EventKind{takedown.EventReported, takedown.EventFetched, takedown.EventRouted, takedown.EventAssessed,
		takedown.EventNoticed, takedown.EventNoticed, takedown.EventIndicators, takedown.EventReferred, takedown.EventAnswered, takedown.EventItemGone,
		takedown.EventItemGone, takedown.EventRemoved}
	if !slices.Equal(kinds, want) {
		t.Fatalf("history %v, want %v", kinds, want)
	}

	rep, err := e.svc.Figures(e.ctx, start, start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ttr := removed.Sub(start).Seconds()
	if rep.Cases != 1 || rep.Removed != 1 || rep.Open != 0 || rep.Notices != 4 || rep.MedianS != ttr || rep.P90S != ttr ||
		rep.Within1d != 0 || rep.Within3d != 1 || len(rep.Hosts) != 1 || rep.Hosts[0].Host != e.host.ID || rep.Hosts[0].Cases != 1 {
		t.Fatalf("figures %+v", rep)
	}
}
