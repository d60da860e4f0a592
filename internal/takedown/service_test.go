package takedown_test

import (
	"bytes"
	"errors"
	"image/png"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/takedown"
)

func TestReportInput(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		provider, err := org.NewService(e.db).Create(e.ctx, "Provider", org.Provider, "IE")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			by   org.Principal
			in   takedown.URLReport
			kind error
			msg  string
		}{
			{"no URL", org.Principal{}, takedown.URLReport{}, core.ErrInvalid, "absolute http or https"},
			{"ftp", org.Principal{}, takedown.URLReport{URL: "ftp://files.example/a"}, core.ErrInvalid, "absolute http or https"},
			{"relative", org.Principal{}, takedown.URLReport{URL: "/page"}, core.ErrInvalid, "absolute http or https"},
			{"user info", org.Principal{}, takedown.URLReport{URL: "https://u:p@files.example/"}, core.ErrInvalid, "user name or password"},
			{"too long", org.Principal{}, takedown.URLReport{URL: "https://files.example/" + strings.Repeat("a", 2048)}, core.ErrInvalid, "2048"},
			{"control", org.Principal{}, takedown.URLReport{URL: "https://files.example/\x07"}, core.ErrInvalid, "control"},
			{"long description", org.Principal{}, takedown.URLReport{URL: "https://files.example/", Description: strings.Repeat("x", 4001)},
				core.ErrInvalid, "4000"},
			{"bidi description", org.Principal{}, takedown.URLReport{URL: "https://files.example/", Description: "a\u202eb"}, core.ErrInvalid, "bidirectional"},
			{"bad contact", org.Principal{}, takedown.URLReport{URL: "https://files.example/", Contact: "not an address"}, core.ErrInvalid, "e-mail"},
			{"named contact", org.Principal{}, takedown.URLReport{URL: "https://files.example/", Contact: "Me <me@example.org>"}, core.ErrInvalid, "e-mail"},
			{"a provider", provider.Principal(), takedown.URLReport{URL: "https://files.example/"}, core.ErrForbidden, "hotlines"},
		} {
			_, err := e.svc.Report(e.ctx, tc.by, tc.in)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.kind, tc.msg)
			}
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_cases`); n != 0 {
			t.Fatalf("%d cases after bad reports", n)
		}
	})
}

// TestReportIdempotent: a hotline reporting a URL it has an open case of
// gets that case back, also when it retries concurrently; the public and
// other hotlines get cases of their own.
func TestReportIdempotent(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := "https://files.example/a.jpg"
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[takedown.Receipt]int{}
		)
		for range 8 {
			wg.Go(func() {
				rc, err := e.svc.Report(e.ctx, e.hotlineDE.Principal(), takedown.URLReport{URL: u})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[rc]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(got) != 1 {
			t.Fatalf("concurrent reports of one URL by a hotline: %v", got)
		}
		var first takedown.Receipt
		for rc := range got {
			first = rc
		}
		other, err := e.svc.Report(e.ctx, e.hotlineNL.Principal(), takedown.URLReport{URL: u})
		if err != nil || other.ID == first.ID {
			t.Fatalf("another hotline: %v, %v", other, err)
		}
		p1, err1 := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: u})
		p2, err2 := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: u})
		if err1 != nil || err2 != nil || p1.ID == p2.ID || p1.ID == first.ID {
			t.Fatalf("public reports: %v %v, %v %v", p1, err1, p2, err2)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_cases`); n != 4 {
			t.Fatalf("%d cases, want 4", n)
		}
		if got := e.pending(t, takedown.JobFetch); len(got) != 4 {
			t.Fatalf("fetch jobs %v", got)
		}
		// Once the case is closed, the same URL opens a new case.
		e.exec(t, `UPDATE takedown_cases SET state = 'closed' WHERE id = $1`, first.ID)
		again, err := e.svc.Report(e.ctx, e.hotlineDE.Principal(), takedown.URLReport{URL: u})
		if err != nil || again.ID == first.ID {
			t.Fatalf("after closing: %v, %v", again, err)
		}
	})
}

// TestRouting: a case goes to the hotline of the hosting country (its
// submitter keeps it if it is that hotline), else to the centre; the
// submitter sees it but only the queue's hotline assesses it; a
// hand-over keeps the history.
func TestRouting(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.servePage(t)
		raw := e.site.url("/page.html")
		byDE := e.fetched(t, e.hotlineDE.Principal(), raw)
		if byDE.Queue != e.hotlineNL.ID || byDE.Source != e.hotlineDE.ID {
			t.Fatalf("reported by DE, hosted in NL: queue %d, source %d", byDE.Queue, byDE.Source)
		}
		de, nl, centre := e.analyst(e.hotlineDE), e.analyst(e.hotlineNL), e.analyst(e.centre)
		if _, err := e.svc.Case(e.ctx, de, byDE.ID); err != nil {
			t.Fatalf("the submitter does not see its case: %v", err)
		}
		if cs, err := e.svc.Cases(e.ctx, de, takedown.CaseQuery{}); err != nil || len(cs) != 1 {
			t.Fatalf("the submitter's list: %v, %v", cs, err)
		}
		all := classify(takedown.NotIllegal, takedown.NotIllegal, takedown.NotIllegal, takedown.NotIllegal)
		if _, err := e.svc.Assess(e.ctx, de, byDE.ID, takedown.Assessment{Items: all}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("the submitter assesses: %v", err)
		}
		if err := e.svc.HandOver(e.ctx, de, byDE.ID, e.hotlineDE.ID); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("the submitter takes the case: %v", err)
		}
		if byNL := e.fetched(t, e.hotlineNL.Principal(), raw); byNL.Queue != e.hotlineNL.ID {
			t.Fatalf("reported by NL: queue %d", byNL.Queue)
		}

		// Hosted where no hotline is: the centre's.
		other := newSite(t)
		other.set("/x.png", storetest.Image(t, 5))
		e.setHosting(other.url("/"), takedown.Hosting{Country: "SE"})
		c := e.fetched(t, org.Principal{}, other.url("/x.png"))
		if c.Queue != 0 || c.State != takedown.Assessing || len(c.Items) != 1 {
			t.Fatalf("hosted in SE: %+v", c)
		}
		if _, err := e.svc.Case(e.ctx, nl, c.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a hotline sees the centre's case: %v", err)
		}
		if err := e.svc.HandOver(e.ctx, centre, c.ID, e.host.ID); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("hand-over to a host: %v", err)
		}
		if err := e.svc.HandOver(e.ctx, centre, c.ID, e.hotlineNL.ID); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Case(e.ctx, nl, c.ID)
		if err != nil || got.Queue != e.hotlineNL.ID {
			t.Fatalf("after the hand-over: %+v, %v", got, err)
		}
		var kinds []takedown.EventKind
		for _, ev := range got.Events {
			kinds = append(kinds, ev.Kind)
		}
		if want := []takedown.EventKind{takedown.EventReported, takedown.EventFetched, takedown.EventRouted, takedown.EventHandedOver}; !slices.Equal(kinds, want) {
			t.Fatalf("history %v, want %v", kinds, want)
		}
		// Handed over before it is fetched, a case stays where it was sent.
		rc, err := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: raw})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.HandOver(e.ctx, centre, rc.ID, e.hotlineDE.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Fetch(e.ctx, rc.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.get(t, rc.ID); got.Queue != e.hotlineDE.ID || got.State != takedown.Assessing {
			t.Fatalf("handed over while fetching: queue %d, state %s", got.Queue, got.State)
		}
		if _, err := e.svc.Cases(e.ctx, takedown.Viewer{Org: e.hotlineNL.ID}, takedown.CaseQuery{}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("no scope: %v", err)
		}
	})
}

// TestAssessErrors: each way an assessment is refused, and that it
// changes nothing.
func TestAssessErrors(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/page.html", []byte(`<html><body><img src="/b.png"><img src="/missing.png"></body></html>`))
		e.site.set("/b.png", storetest.Image(t, 2))
		c := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		if len(c.Items) != 3 || c.Items[2].SHA256 != "" || c.Items[2].Error != "gone (HTTP 404)" {
			t.Fatalf("items %+v", c.Items)
		}
		nl := e.analyst(e.hotlineNL)
		ia := func(i int, cl takedown.Classification) takedown.ItemAssessment {
			return takedown.ItemAssessment{Index: i, Classification: cl}
		}
		for _, tc := range []struct {
			name  string
			v     takedown.Viewer
			items []takedown.ItemAssessment
			kind  error
			msg   string
		}{
			{"nothing", nl, nil, core.ErrInvalid, "classifies at least one item"},
			{"no such item", nl, []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, takedown.Baseline), ia(9, takedown.Baseline)},
				core.ErrInvalid, "no item 9"},
			{"twice", nl, []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, takedown.Baseline), ia(1, takedown.National)},
				core.ErrInvalid, "item 1 is classified twice"},
			{"bad classification", nl, []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, "awful")}, core.ErrInvalid, "item 1: classification must be"},
			{"not fetched", nl, []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, takedown.Baseline), ia(2, takedown.Baseline)},
				core.ErrInvalid, "item 2 of case " + c.ID + " could not be fetched"},
			{"another hotline", e.analyst(e.hotlineDE), []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, takedown.Baseline)},
				core.ErrNotFound, "no case"},
			{"no scope", takedown.Viewer{Org: e.hotlineNL.ID, Actor: "user:7"}, []takedown.ItemAssessment{ia(0, takedown.NotIllegal)},
				core.ErrForbidden, "may not"},
		} {
			_, err := e.svc.Assess(e.ctx, tc.v, c.ID, takedown.Assessment{Items: tc.items})
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.kind, tc.msg)
			}
		}
		if got := e.get(t, c.ID); got.State != takedown.Assessing || got.Items[1].Classification != "" || !got.Items[1].HasContent {
			t.Fatalf("changed by refused assessments: %+v", got)
		}
		// Nothing illegal: closed, all content deleted, nothing queued.
		got, err := e.svc.Assess(e.ctx, nl, c.ID, takedown.Assessment{Items: []takedown.ItemAssessment{ia(0, takedown.NotIllegal), ia(1, takedown.NotIllegal)}})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != takedown.Closed || got.Reason == "" || len(got.Notices) != 0 || got.Items[0].HasContent || got.Items[1].HasContent ||
			!got.Items[1].NextCheckAt.IsZero() {
			t.Fatalf("closed: %+v", got)
		}
		if n := len(e.pending(t, takedown.JobNotice)) + len(e.pending(t, takedown.JobRefer)); n != 0 {
			t.Fatalf("%d jobs queued for a case with nothing illegal", n)
		}
		if _, err := e.svc.Assess(e.ctx, nl, c.ID, takedown.Assessment{Items: []takedown.ItemAssessment{ia(0, takedown.NotIllegal)}}); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("assessed twice: %v", err)
		}
	})
}

// TestAssessLenient: the example assessment, of the page alone,
// is taken: the embedded known image (A1) is classified baseline by
// default, as the console pre-fills it, the other images stay
// unclassified, without notice, their content deleted. Only the listed
// item's hashes are submitted as indicators: no analyst saw the other.
func TestAssessLenient(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, _, _ := e.servePage(t)
		e.activate(t, a)
		c := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		if len(c.Items) != 4 || !c.Items[2].HasContent {
			t.Fatalf("fetched %+v", c.Items)
		}
		c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{SubmitIndicators: true, Items: classify(takedown.Baseline)})
		if err != nil {
			t.Fatal(err)
		}
		want := []takedown.Classification{takedown.Baseline, takedown.Baseline, "", ""}
		for i, it := range c.Items {
			if it.ByDefault != (i == 1) {
				t.Errorf("item %d: by default %v", i, it.ByDefault)
			}
			if it.Classification != want[i] || (it.NextCheckAt.IsZero() == want[i].Illegal()) {
				t.Errorf("item %d: %q, next check %v; want %q", i, it.Classification, it.NextCheckAt, want[i])
			}
			if want[i] == "" && it.HasContent {
				t.Errorf("item %d, not classified, keeps its content", i)
			}
		}
		if len(c.Notices) != 1 || !slices.Equal(c.Notices[0].URLs, []string{c.URL, e.site.url("/a.png")}) || c.State != takedown.Noticed {
			t.Fatalf("notices %+v", c.Notices)
		}
		if d := eventDetails(c, takedown.EventAssessed); len(d) != 1 ||
			d[0] != "2 baseline, 0 national, 0 not illegal; 1 pre-classified as known material; 2 not classified" {
			t.Fatalf("assessment event %q", d)
		}
		e.drain(t, takedown.JobRefer, e.svc.Refer)
		c = e.get(t, c.ID)
		if got := storetest.Strings(t, e.db, `SELECT value FROM indicators WHERE value IN ($1, $2) ORDER BY value`,
			c.Items[0].MD5, c.Items[1].MD5); !slices.Equal(got, []string{c.Items[0].MD5}) {
			t.Fatalf("MD5 indicators %v, want the page's only", got)
		}
		if d := eventDetails(c, takedown.EventIndicators); len(d) != 1 || !strings.HasPrefix(d[0], "2 hashes submitted") {
			t.Fatalf("indicators event %q", d)
		}
	})
}

// TestAssessDefaults: an item the assessment does not list is classified
// from the categories of its matches: baseline for a baseline, A1 or A2
// match, else national for a national one, else (B1, B2) not at all.
func TestAssessDefaults(t *testing.T) {
	m := func(cats ...indicator.Category) []takedown.Match {
		var out []takedown.Match
		for _, c := range cats {
			out = append(out, takedown.Match{Category: c})
		}
		return out
	}
	for _, tc := range []struct {
		ms   []takedown.Match
		want takedown.Classification
	}{
		{nil, ""},
		{m(indicator.Baseline), takedown.Baseline},
		{m(indicator.A1), takedown.Baseline},
		{m(indicator.A2), takedown.Baseline},
		{m(indicator.B1), ""},
		{m(indicator.B2), ""},
		{m(indicator.National), takedown.National},
		{m(indicator.B2, indicator.National), takedown.National},
		{m(indicator.National, indicator.B1, indicator.A2), takedown.Baseline},
	} {
		if got := takedown.DefaultClassification(tc.ms); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.ms, got, tc.want)
		}
	}
	engines(t, func(t *testing.T, e *env) {
		a, b, _ := e.servePage(t)
		e.activateAs(t, a, indicator.National)
		e.activateAs(t, b, indicator.B2)
		c := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{SubmitIndicators: true, Items: classify(takedown.NotIllegal)})
		if err != nil {
			t.Fatal(err)
		}
		want := []takedown.Classification{takedown.NotIllegal, takedown.National, "", ""}
		for i, it := range c.Items {
			if it.Classification != want[i] || it.ByDefault != (i == 1) {
				t.Errorf("item %d: %q (by default %v), want %q", i, it.Classification, it.ByDefault, want[i])
			}
		}
		if len(c.Notices) != 1 || c.Notices[0].Classification != takedown.National {
			t.Fatalf("notices %+v", c.Notices)
		}
		e.drain(t, takedown.JobRefer, e.svc.Refer)
		if d := eventDetails(e.get(t, c.ID), takedown.EventIndicators); len(d) != 0 {
			t.Fatalf("indicators submitted: %q", d)
		}
	})
}

// TestFetchGone: a URL gone when fetched closes its case at once.
func TestFetchGone(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.fetched(t, org.Principal{}, e.site.url("/nothing.html"))
		if c.State != takedown.Closed || c.FetchError != "gone (HTTP 404)" || c.Reason != "the URL was gone when fetched" ||
			len(c.Items) != 1 || c.FetchAttempts != 0 {
			t.Fatalf("gone: %+v", c)
		}
	})
}

// TestChannels: one notice per host, channel and classification: by
// webhook, by e-mail to the register's address, through the hotline of
// the country for a host without contact (pushed to its webhook, or in
// its queue), else through Europol.
func TestChannels(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		// The page is on the webhook host; its images on a host with a
		// notice address, on an unregistered Dutch host (the Dutch hotline
		// has a webhook), an unregistered German one (the German hotline
		// has none) and an unregistered Swedish one (no hotline: Europol).
		mailSite, dutch, german, swedish := newSite(t), newSite(t), newSite(t), newSite(t)
		e.setHosting(mailSite.url("/"), takedown.Hosting{Country: "FR", Host: e.mailHost.ID})
		e.setHosting(dutch.url("/"), takedown.Hosting{Country: "NL"})
		e.setHosting(german.url("/"), takedown.Hosting{Country: "DE"})
		e.setHosting(swedish.url("/"), takedown.Hosting{Country: "SE"})
		hotlineHook, europolHook := newReceiver(t), newReceiver(t)
		for _, w := range []struct {
			o  org.Organisation
			rc *receiver
		}{{e.hotlineNL, hotlineHook}, {e.europol, europolHook}} {
			if err := forward.SetWebhook(e.ctx, e.db, e.sealer, w.o.ID, w.rc.srv.URL); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range []*site{e.site, mailSite, dutch, german, swedish} {
			s.set("/i.png", storetest.Image(t, uint64(10+i)))
		}
		mailSite.set("/j.png", storetest.Image(t, 20))
		var page strings.Builder
		page.WriteString("<html><body>")
		for _, u := range []string{"/i.png", mailSite.url("/i.png"), dutch.url("/i.png"), german.url("/i.png"), mailSite.url("/j.png"),
			mailSite.url("/i.png"), swedish.url("/i.png")} {
			page.WriteString(`<img src="` + u + `">`)
		}
		e.site.set("/page.html", []byte(page.String()+"</body></html>"))
		c := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		if len(c.Items) != 8 || c.Items[2].Hosting.Host != e.mailHost.ID || c.Items[2].Hosting.HostName != "Mail Host" || c.Queue != e.hotlineNL.ID {
			t.Fatalf("case %+v", c)
		}
		// The same image, embedded twice, assessed baseline and national:
		// baseline.
		all := classify(takedown.NotIllegal, takedown.National, takedown.Baseline, takedown.National, takedown.National, takedown.National,
			takedown.National, takedown.Baseline)
		c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{Items: all})
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			host    int64
			channel takedown.Channel
			via     int64
			urls    []string
			cl      takedown.Classification
		}
		wants := []want{
			{e.host.ID, takedown.ByWebhook, 0, []string{e.site.url("/i.png")}, takedown.National},
			{e.mailHost.ID, takedown.ByEmail, 0, []string{mailSite.url("/i.png")}, takedown.Baseline},
			{e.mailHost.ID, takedown.ByEmail, 0, []string{mailSite.url("/j.png")}, takedown.National},
			{0, takedown.ByHotline, e.hotlineNL.ID, []string{dutch.url("/i.png")}, takedown.National},
			{0, takedown.ByHotline, e.hotlineDE.ID, []string{german.url("/i.png")}, takedown.National},
			{0, takedown.ByEuropol, e.europol.ID, []string{swedish.url("/i.png")}, takedown.Baseline},
		}
		if len(c.Notices) != len(wants) {
			t.Fatalf("notices %+v", c.Notices)
		}
		// Notices are listed by creation time, then ID: found by route.
		find := func(ch takedown.Channel, via int64, cl takedown.Classification) takedown.Notice {
			t.Helper()
			i := slices.IndexFunc(c.Notices, func(n takedown.Notice) bool { return n.Channel == ch && n.Via == via && n.Classification == cl })
			if i < 0 {
				t.Fatalf("no notice by %s through %d, %s: %+v", ch, via, cl, c.Notices)
			}
			return c.Notices[i]
		}
		c = e.get(t, c.ID)
		for _, w := range wants {
			// Only the German hotline, without a webhook, pulls its notice.
			if n := find(w.channel, w.via, w.cl); n.Host != w.host || !slices.Equal(n.URLs, w.urls) || n.Pulled != (w.via == e.hotlineDE.ID) {
				t.Errorf("notice %+v, want %+v", n, w)
			}
		}
		for _, n := range c.Notices {
			if err := e.svc.SendNotice(e.ctx, n.ID); err != nil {
				t.Fatalf("notice by %s: %v", n.Channel, err)
			}
		}
		for _, rc := range []*receiver{e.hook, hotlineHook, europolHook} {
			got := rc.all()
			if len(got) != 1 {
				t.Fatalf("%d notices at a webhook", len(got))
			}
			verify(t, e.svc.PublicKey(), got[0].body, got[0].header.Get(forward.SignatureHeader))
		}
		// Each notice names its receiver, so that it cannot be passed off
		// as meant for another.
		for _, w := range []struct {
			rc *receiver
			to string
		}{{e.hook, "Hosting NL"}, {hotlineHook, "Hotline NL"}, {europolHook, "Europol"}} {
			if to := noticeTo(t, w.rc.all()[0].body); to != w.to {
				t.Errorf("notice to %q, want %q", to, w.to)
			}
		}
		if !strings.Contains(string(hotlineHook.all()[0].body), `"channel":"hotline"`) {
			t.Errorf("the hotline's notice: %s", hotlineHook.all()[0].body)
		}
		if len(e.mail.sent) != 2 {
			t.Fatalf("%d e-mails", len(e.mail.sent))
		}
		for _, cl := range []takedown.Classification{takedown.Baseline, takedown.National} {
			n := find(takedown.ByEmail, 0, cl)
			i := slices.IndexFunc(e.mail.sent, func(m mail) bool { return m.headers[takedown.NoticeIDHeader] == n.ID })
			if i < 0 {
				t.Fatalf("no e-mail of notice %s", n.ID)
			}
			m := e.mail.sent[i]
			if !slices.Equal(m.to, []string{"abuse@files.example"}) || !strings.Contains(m.text, n.URLs[0]) ||
				!strings.Contains(m.text, "("+string(cl)+")") {
				t.Fatalf("e-mail %+v", m)
			}
			at := strings.Index(m.text, `{"notice"`)
			body, _, _ := strings.Cut(m.text[at:], "\n")
			verify(t, e.svc.PublicKey(), []byte(body), m.headers[forward.SignatureHeader])
			if to := noticeTo(t, []byte(body)); to != "Mail Host" {
				t.Errorf("e-mailed notice to %q", to)
			}
		}
		// The German hotline has no webhook: the notice is in its hands at
		// once, and it sees the case through it, which stays in the Dutch
		// hotline's queue.
		de := find(takedown.ByHotline, e.hotlineDE.ID, takedown.National)
		got := e.get(t, c.ID)
		if n := got.Notices[slices.IndexFunc(got.Notices, func(n takedown.Notice) bool { return n.ID == de.ID })]; n.Sends != 1 ||
			!n.SentAt.Equal(e.clock.Now()) || n.LastError != "" {
			t.Fatalf("the German hotline's notice %+v", n)
		}
		if got.Queue != e.hotlineNL.ID {
			t.Errorf("queue %d, want the Dutch hotline's", got.Queue)
		}
		v := e.analyst(e.hotlineDE)
		if seen, err := e.svc.Case(e.ctx, v, c.ID); err != nil || !slices.ContainsFunc(seen.Notices, func(n takedown.Notice) bool { return n.ID == de.ID }) {
			t.Fatalf("the German hotline's view: %v", err)
		}
		if cs, err := e.svc.Cases(e.ctx, v, takedown.CaseQuery{State: takedown.Noticed}); err != nil || !slices.Equal(ids(cs), []string{c.ID}) {
			t.Fatalf("the German hotline's list: %v, %v", ids(cs), err)
		}
		if _, err := e.svc.Assess(e.ctx, v, c.ID, takedown.Assessment{Items: classify(takedown.NotIllegal)}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("the German hotline acts on the case: %v", err)
		}
		for _, n := range c.Notices {
			if sent, _ := e.db.TakedownNotice(e.ctx, n.ID); sent.Sends != 1 || sent.LastError != "" {
				t.Errorf("sent notice %+v", sent)
			}
		}
	})
}

// TestEscalation: a case noticed longer than EscalateAfter without
// removal is flagged once.
func TestEscalation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/x.png", storetest.Image(t, 4))
		c := e.fetched(t, org.Principal{}, e.site.url("/x.png"))
		if _, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{Items: classify(takedown.Baseline)}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(6 * 24 * time.Hour)
		if err := e.svc.RecheckDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		if e.get(t, c.ID).Escalated {
			t.Fatal("escalated after 6 days")
		}
		e.clock.Add(24*time.Hour + time.Minute)
		for range 2 {
			if err := e.svc.RecheckDue(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		got := e.get(t, c.ID)
		n := 0
		for _, ev := range got.Events {
			if ev.Kind == takedown.EventEscalated {
				n++
			}
		}
		if !got.Escalated || got.State != takedown.Noticed || n != 1 {
			t.Fatalf("after 7 days: escalated %v, state %s, %d events", got.Escalated, got.State, n)
		}
		if a := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'takedown.case.escalate' AND object = $1`, "case:"+c.ID); a != 1 {
			t.Fatalf("%d audit entries of the escalation", a)
		}
	})
}

// TestRecheckVerifies: the host's answer verifies nothing; a 5xx, or the
// same picture in other bytes, keeps the item; other content, found
// twice, removes it.
func TestRecheckVerifies(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		img := storetest.Image(t, 6)
		e.site.set("/x.png", img)
		c := e.fetched(t, org.Principal{}, e.site.url("/x.png"))
		c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{Items: classify(takedown.Baseline)})
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		var reencoded bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&reencoded, decoded); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(reencoded.Bytes(), img) {
			t.Fatal("re-encoding kept the bytes")
		}
		for _, step := range []struct {
			name    string
			serve   func()
			removed bool
		}{
			{"503", func() { e.site.mu.Lock(); e.site.failing = true; e.site.mu.Unlock() }, false},
			{"re-encoded", func() {
				e.site.mu.Lock()
				e.site.failing = false
				e.site.mu.Unlock()
				e.site.set("/x.png", reencoded.Bytes())
			}, false},
			{"other picture", func() { e.site.set("/x.png", storetest.Image(t, 7)) }, true},
		} {
			step.serve()
			if _, err := e.svc.Answer(e.ctx, e.hostKey(e.host), c.Notices[0].ID); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.RecheckDue(e.ctx); err != nil {
				t.Fatal(err)
			}
			checked := e.clock.Now()
			if step.removed {
				if it := e.get(t, c.ID).Items[0]; !it.GoneAt.Equal(checked) || !it.RemovedAt.IsZero() {
					t.Fatalf("%s, found once: item %+v", step.name, it)
				}
				e.clock.Add(takedown.DefaultConfirmAfter)
				if err := e.svc.RecheckDue(e.ctx); err != nil {
					t.Fatal(err)
				}
			}
			got := e.get(t, c.ID)
			if removed := !got.Items[0].RemovedAt.IsZero(); removed != step.removed || (got.State == takedown.Removed) != step.removed ||
				!got.Items[0].LastCheckAt.Equal(e.clock.Now()) || (removed && !got.RemovedAt.Equal(checked)) {
				t.Fatalf("%s: state %s, item %+v", step.name, got.State, got.Items[0])
			}
			e.clock.Add(time.Minute)
		}
	})
}
