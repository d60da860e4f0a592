package takedown_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
)

// TestAnswerRepeated: an answer repeated within a minute of the last
// changes nothing and is not an error; one later is recorded.
func TestAnswerRepeated(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/x.png", storetest.Image(t, 35))
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		id := c.Notices[0].ID
		answers := func() (events, audits int, jobs []string) {
			return countEvents(e.get(t, c.ID), takedown.EventAnswered),
				storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'takedown.notice.answer' AND object = $1`, "notice:"+id),
				e.pending(t, takedown.JobRecheck)
		}
		if _, err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
			t.Fatal(err)
		}
		first := e.clock.Now()
		e.drain(t, takedown.JobRecheck, func(_ context.Context, _ string) error { return nil })
		for _, d := range []time.Duration{time.Second, 58 * time.Second} {
			e.clock.Add(d)
			if _, err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
				t.Fatal(err)
			}
		}
		if ev, au, jobs := answers(); ev != 1 || au != 1 || len(jobs) != 0 {
			t.Fatalf("repeated within a minute: %d events, %d audit entries, recheck jobs %v", ev, au, jobs)
		}
		if n, _ := e.db.TakedownNotice(e.ctx, id); !n.AnsweredAt.Equal(first) {
			t.Fatalf("answered at %v, want %v", n.AnsweredAt, first)
		}
		e.clock.Add(time.Minute)
		if _, err := e.svc.Answer(e.ctx, e.hostKey(e.host), id); err != nil {
			t.Fatal(err)
		}
		if ev, au, jobs := answers(); ev != 2 || au != 2 || !slices.Equal(jobs, []string{"notice:" + id}) {
			t.Fatalf("a minute later: %d events, %d audit entries, recheck jobs %v", ev, au, jobs)
		}
	})
}

// noticeTo returns the "to" of a notice's body.
func noticeTo(t *testing.T, body []byte) string {
	t.Helper()
	var m struct{ To string }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m.To
}

// TestAnswerRemoved: an answer about a case verified removed already
// schedules no recheck, and says so.
func TestAnswerRemoved(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.site.set("/x.png", storetest.Image(t, 36))
		c := e.noticedCase(t, e.site.url("/x.png"), takedown.Baseline)
		e.exec(t, `UPDATE takedown_cases SET state = 'removed', removed_at = $2 WHERE id = $1`, c.ID, e.clock.Now())
		recheck, err := e.svc.Answer(e.ctx, e.hostKey(e.host), c.Notices[0].ID)
		if err != nil || recheck {
			t.Fatalf("answer about a removed case: recheck %v, %v", recheck, err)
		}
		if jobs := e.pending(t, takedown.JobRecheck); len(jobs) != 0 {
			t.Fatalf("recheck jobs %v", jobs)
		}
		if got := e.get(t, c.ID); !got.Notices[0].AnsweredAt.Equal(e.clock.Now()) || countEvents(got, takedown.EventAnswered) != 1 {
			t.Fatalf("the answer is not recorded: %+v", got.Notices[0])
		}
	})
}

// notice returns notice id of case c.
func notice(t *testing.T, c takedown.Case, id string) takedown.Notice {
	t.Helper()
	i := slices.IndexFunc(c.Notices, func(n takedown.Notice) bool { return n.ID == id })
	if i < 0 {
		t.Fatalf("case %s has no notice %s", c.ID, id)
	}
	return c.Notices[i]
}

// eventDetails returns the details of the events of kind of case c.
func eventDetails(c takedown.Case, k takedown.EventKind) []string {
	var out []string
	for _, ev := range c.Events {
		if ev.Kind == k {
			out = append(out, ev.Detail)
		}
	}
	return out
}

// TestPulledNotices: a hotline without a webhook gets its notice at once
// in the case, which it sees as relay only (without the reporter's
// description and contact, the content or the other notices) and which
// stays in the centre's queue, marked again at each re-notice; Europol
// without a webhook gets its notice with the case's report to the
// police, once, when the referral is made.
func TestPulledNotices(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		// The page is in Sweden, where no hotline is: the centre's queue.
		// Its image on an unregistered Swedish host goes through Europol,
		// that on an unregistered German one through the German hotline;
		// neither has a webhook.
		swedish, german := newSite(t), newSite(t)
		e.setHosting(swedish.url("/"), takedown.Hosting{Country: "SE"})
		e.setHosting(german.url("/"), takedown.Hosting{Country: "DE"})
		swedish.set("/x.png", storetest.Image(t, 40))
		german.set("/y.png", storetest.Image(t, 41))
		swedish.set("/page.html", []byte(`<html><body><img src="/x.png"><img src="`+german.url("/y.png")+`"></body></html>`))
		rc, err := e.svc.Report(e.ctx, org.Principal{}, takedown.URLReport{URL: swedish.url("/page.html"),
			Description: "a page of images", Contact: "reporter@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Fetch(e.ctx, rc.ID); err != nil {
			t.Fatal(err)
		}
		c := e.get(t, rc.ID)
		if c.Queue != 0 {
			t.Fatalf("queue %d", c.Queue)
		}
		c, err = e.svc.Assess(e.ctx, e.analyst(e.centre), c.ID, takedown.Assessment{Items: classify(takedown.NotIllegal, takedown.Baseline, takedown.National)})
		if err != nil || len(c.Notices) != 2 {
			t.Fatalf("assessed: %+v, %v", c, err)
		}
		eu, de := noticeOf(c, takedown.Baseline), noticeOf(c, takedown.National)
		if eu.Channel != takedown.ByEuropol || eu.Via != e.europol.ID || de.Channel != takedown.ByHotline || de.Via != e.hotlineDE.ID {
			t.Fatalf("notices %+v", c.Notices)
		}
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		sent := e.clock.Now()
		got := e.get(t, c.ID)
		if n := notice(t, got, de.ID); n.Sends != 1 || !n.SentAt.Equal(sent) || !n.NextSendAt.Equal(sent.Add(takedown.DefaultRenotice)) || n.LastError != "" {
			t.Fatalf("the hotline's notice %+v", n)
		}
		if n := notice(t, got, eu.ID); n.Sends != 0 || !n.SentAt.IsZero() || !strings.Contains(n.LastError, "waits for the case's report to the police") {
			t.Fatalf("Europol's notice before the referral %+v", n)
		}
		if got.Queue != 0 || countEvents(got, takedown.EventHandedOver) != 0 {
			t.Fatalf("queue %d, %d hand-overs; want the centre's, none", got.Queue, countEvents(got, takedown.EventHandedOver))
		}
		if got.Relay || got.Description != "a page of images" || got.Contact != "reporter@example.org" || len(got.Notices) != 2 ||
			!got.Items[1].HasContent || !notice(t, got, de.ID).Pulled || notice(t, got, eu.ID).Pulled {
			t.Fatalf("the centre's view %+v", got)
		}
		if d := eventDetails(got, takedown.EventNoticed); len(d) != 1 || d[0] != "notice "+de.ID+" in the queue of hotline Hotline DE, to pass on to the host" {
			t.Fatalf("notices in the history %q", d)
		}
		rel, err := e.svc.Case(e.ctx, e.analyst(e.hotlineDE), c.ID)
		if err != nil || !rel.Relay || rel.Description != "" || rel.Contact != "" || len(rel.Notices) != 1 ||
			rel.Notices[0].ID != de.ID || !rel.Notices[0].Pulled || len(rel.Items) != 3 || rel.Items[2].URL != german.url("/y.png") ||
			rel.Items[2].SHA256 == "" {
			t.Fatalf("the German hotline's view: %+v, %v", rel, err)
		}
		for _, it := range rel.Items {
			if it.HasContent {
				t.Errorf("the German hotline's view: item %d with content", it.Index)
			}
			if _, _, err := e.svc.Content(e.ctx, e.analyst(e.hotlineDE), c.ID, it.Index); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("the German hotline's access to item %d: %v", it.Index, err)
			}
		}
		if _, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineDE), c.ID, takedown.Assessment{Items: classify(takedown.NotIllegal)}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("the German hotline's assessment: %v", err)
		}
		if cs, err := e.svc.Cases(e.ctx, e.analyst(e.hotlineDE), takedown.CaseQuery{}); err != nil || len(cs) != 1 || cs[0].ID != c.ID {
			t.Fatalf("the German hotline's cases: %+v, %v", cs, err)
		}
		if _, err := e.svc.Case(e.ctx, e.analyst(e.hotlineNL), c.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("another hotline's view: %v", err)
		}

		// The referral takes Europol's notice with it.
		e.drain(t, takedown.JobRefer, e.svc.Refer)
		got = e.get(t, c.ID)
		if n := notice(t, got, eu.ID); got.Referral == "" || n.Sends != 1 || !n.SentAt.Equal(sent) || !n.NextSendAt.IsZero() || n.LastError != "" {
			t.Fatalf("Europol's notice after the referral %+v (referral %q)", n, got.Referral)
		}
		want := "notice " + eu.ID + " with the report " + got.Referral + " to Europol"
		if d := eventDetails(got, takedown.EventNoticed); len(d) != 2 || d[1] != want {
			t.Fatalf("notices in the history %q, want %q last", d, want)
		}

		// A day on, the hotline's notice is marked again; Europol's is not
		// sent again, nor is anything pushed.
		e.clock.Add(takedown.DefaultRenotice + time.Minute)
		e.sweep(t)
		if jobs := e.pending(t, takedown.JobNotice); !slices.Equal(jobs, []string{de.ID}) {
			t.Fatalf("renotices %v", jobs)
		}
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		got = e.get(t, c.ID)
		if n := notice(t, got, de.ID); n.Sends != 2 || !n.SentAt.Equal(e.clock.Now()) {
			t.Fatalf("the hotline's notice renoticed %+v", n)
		}
		if n := notice(t, got, eu.ID); n.LastError != "" || !n.NextSendAt.IsZero() {
			t.Fatalf("Europol's notice after the renotice %+v", n)
		}
		if notice(t, got, eu.ID).Sends != 1 || countEvents(got, takedown.EventNoticed) != 2 || countEvents(got, takedown.EventHandedOver) != 0 {
			t.Fatalf("after the renotice: %+v, %d noticed events", got.Notices, countEvents(got, takedown.EventNoticed))
		}
		if n := len(e.hook.all()); n != 0 {
			t.Fatalf("%d notices pushed", n)
		}
	})
}

// TestEuropolReferredFirst: a notice to Europol without a webhook, taken
// with the case's report to the police before its own job runs, needs
// nothing more: the job leaves it delivered, without error or next send,
// and the sweep does not queue it again.
func TestEuropolReferredFirst(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		swedish := newSite(t)
		e.setHosting(swedish.url("/"), takedown.Hosting{Country: "SE"})
		swedish.set("/x.png", storetest.Image(t, 43))
		c := e.fetched(t, org.Principal{}, swedish.url("/x.png"))
		c, err := e.svc.Assess(e.ctx, e.analyst(e.centre), c.ID, takedown.Assessment{Items: classify(takedown.Baseline)})
		if err != nil || len(c.Notices) != 1 || c.Notices[0].Channel != takedown.ByEuropol || c.Notices[0].Via != e.europol.ID {
			t.Fatalf("assessed: %+v, %v", c.Notices, err)
		}
		id := c.Notices[0].ID
		delivered := func(when string) {
			t.Helper()
			n, err := e.db.TakedownNotice(e.ctx, id)
			if err != nil || n.Sends != 1 || n.LastError != "" || !n.NextSendAt.IsZero() {
				t.Fatalf("%s: %+v, %v", when, n, err)
			}
		}
		e.drain(t, takedown.JobRefer, e.svc.Refer)
		delivered("after the referral")
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		delivered("after the notice's job")
		e.clock.Add(takedown.DefaultRenotice + time.Minute)
		e.sweep(t)
		if jobs := e.pending(t, takedown.JobNotice); len(jobs) != 0 {
			t.Fatalf("notice jobs %v after the sweep", jobs)
		}
		delivered("after the sweep")
		if d := eventDetails(e.get(t, c.ID), takedown.EventNoticed); len(d) != 1 {
			t.Fatalf("notices in the history %q", d)
		}
	})
}

// TestNoticeWaits: a notice with no hotline of the country nor Europol to
// go through waits, saying what to register, without failing its job; it
// is tried again at the renotice interval and goes through what was
// registered since.
func TestNoticeWaits(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.exec(t, `UPDATE orgs SET kind = 'lea' WHERE id = $1`, e.europol.ID)
		swedish := newSite(t)
		e.setHosting(swedish.url("/"), takedown.Hosting{Country: "SE"})
		swedish.set("/x.png", storetest.Image(t, 42))
		c := e.fetched(t, org.Principal{}, swedish.url("/x.png"))
		c, err := e.svc.Assess(e.ctx, e.analyst(e.centre), c.ID, takedown.Assessment{Items: classify(takedown.Baseline)})
		if err != nil || len(c.Notices) != 1 || c.Notices[0].Channel != takedown.ByEuropol || c.Notices[0].Via != 0 {
			t.Fatalf("assessed: %+v, %v", c.Notices, err)
		}
		id := c.Notices[0].ID
		waits := func(why string) {
			t.Helper()
			e.drain(t, takedown.JobNotice, e.svc.SendNotice)
			n, err := e.db.TakedownNotice(e.ctx, id)
			if err != nil || n.Sends != 0 || n.LastError != why || !n.NextSendAt.Equal(e.clock.Now().Add(takedown.DefaultRenotice)) {
				t.Fatalf("waiting notice %+v, %v; want the error %q", n, err, why)
			}
			e.sweep(t)
			if jobs := e.pending(t, takedown.JobNotice); len(jobs) != 0 {
				t.Fatalf("notice jobs %v while it waits", jobs)
			}
			e.clock.Add(takedown.DefaultRenotice)
			e.sweep(t)
		}
		waits("no hotline for SE and no Europol organisation is registered: " +
			"register one (ward admin org add --kind hotline|europol)")
		e.drain(t, takedown.JobRefer, e.svc.Refer)

		// A Europol registered after the report went to the police cannot
		// have the notice with it.
		e.exec(t, `UPDATE orgs SET kind = 'europol' WHERE id = $1`, e.europol.ID)
		waits("Europol was registered after the case's report went to the police, so the notice cannot go with it: " +
			"give Europol a webhook (ward admin org set-webhook)")

		// A Swedish hotline is registered: the notice is in its queue.
		se, err := org.NewService(e.db).Create(e.ctx, "Hotline SE", org.Hotline, "SE")
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		got := e.get(t, c.ID)
		if n := got.Notices[0]; n.Channel != takedown.ByHotline || n.Via != se.ID || n.Sends != 1 || n.LastError != "" || got.Queue != 0 {
			t.Fatalf("after the hotline's registration: notice %+v, queue %d", n, got.Queue)
		}
	})
}
