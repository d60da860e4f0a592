package complaint_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/jobs"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

const (
	description = "My holiday photo of the beach was removed; it shows only adults."
	contact     = "complainant.4711@example.org"
)

// TestFile: a valid complaint is filed with its reference resolved, its
// personal data sealed and a secret only the complainant holds; bad
// input is refused and changes nothing.
func TestFile(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		inds := e.indicators(t, 2)
		rep := e.report(t, "idem-42", inds...)
		count := func() int { return storetest.Count(t, e.db, `SELECT count(*) FROM complaints`) }

		for _, tc := range []struct {
			name string
			f    complaint.Filing
			want string // in the error
		}{
			{"no provider", complaint.Filing{Reference: rep, Description: description}, "provider is required"},
			{"unknown provider", complaint.Filing{Provider: "Nobody", Reference: rep, Description: description}, "no provider or host of this name is registered"},
			{"not a provider", complaint.Filing{Provider: e.lea.Name, Reference: rep, Description: description}, "no provider or host of this name is registered"},
			{"no reference", complaint.Filing{Provider: e.provider.Name, Reference: "  ", Description: description}, "reference is required"},
			{"long reference", complaint.Filing{Provider: e.provider.Name, Reference: strings.Repeat("r", 256), Description: description}, "at most 255"},
			{"no description", complaint.Filing{Provider: e.provider.Name, Reference: rep}, "description is required"},
			{"long description", complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: strings.Repeat("d", complaint.MaxDescription+1)}, "at most 4000"},
			{"control character", complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: "a\x07b"}, "description"},
			{"bad contact", complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: description, Contact: "Me <me@example.org>"}, "e-mail address"},
		} {
			_, err := e.svc.File(e.ctx, org.Principal{}, tc.f)
			if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want ErrInvalid with %q", tc.name, err, tc.want)
			}
		}
		if n := count(); n != 0 {
			t.Fatalf("%d complaints stored from bad input", n)
		}

		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: " " + rep + " ", Description: description, Contact: contact})
		if !regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$`).MatchString(rc.Case) || len(rc.Secret) < 26 {
			t.Errorf("receipt %+v: want a case of four groups of base32 and a secret of 130 bits", rc)
		}
		if !rc.Resolved || !rc.ReceivedAt.Equal(start) || !rc.DueAt.Equal(start.Add(complaint.DefaultDeadline)) {
			t.Errorf("receipt %+v: want resolved, received now, due in 14 days", rc)
		}
		c, err := e.svc.Complaint(e.ctx, e.reviewer(), rc.Case)
		if err != nil {
			t.Fatal(err)
		}
		if c.Report != rep || c.Case != "" || c.Reference != rep || c.Provider != e.provider.ID || c.FiledBy != 0 ||
			c.Description != description || c.Contact != contact || c.State != complaint.Open {
			t.Errorf("complaint %+v", c)
		}
		if len(c.Indicators) != 2 || c.Indicators[0].ID != inds[0] || c.Indicators[0].List != "known" || c.Indicators[0].State != "active" {
			t.Errorf("indicators %+v, want %v, active, of list known", c.Indicators, inds)
		}
		dump := storetest.DumpAll(t, e.db)
		for _, secret := range []string{description, contact, rc.Secret} {
			if bytes.Contains(dump, []byte(secret)) {
				t.Errorf("%q is stored in clear", secret)
			}
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'complaint.file' AND actor = 'anonymous'`); n != 1 {
			t.Errorf("%d audit entries of the filing, want 1", n)
		}

		// The Idempotency-Key the provider gave, and the report's ID in
		// lower case, resolve to the report too.
		for _, ref := range []string{"idem-42", strings.ToLower(rep)} {
			rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: ref, Description: description})
			c, err := e.svc.Complaint(e.ctx, e.reviewer(), rc.Case)
			if err != nil || c.Report != rep || len(c.Indicators) != 2 {
				t.Errorf("reference %q: %+v, %v; want report %s", ref, c, err, rep)
			}
		}
		// Another provider's report, or anything else, does not resolve,
		// and is accepted all the same.
		for _, f := range []complaint.Filing{
			{Provider: e.other.Name, Reference: rep, Description: description},
			{Provider: e.provider.Name, Reference: "ticket #123", Description: description},
		} {
			rc := e.file(t, f)
			c, err := e.svc.Complaint(e.ctx, e.reviewer(), rc.Case)
			if err != nil || rc.Resolved || c.Resolved() || c.Report != "" || len(c.Indicators) != 0 {
				t.Errorf("%+v: receipt %+v, complaint %+v, %v; want unresolved", f, rc, c, err)
			}
		}
	})
}

// TestFileByProvider: a provider or host files for a person with its key,
// about its own removals only; other kinds may not.
func TestFileByProvider(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rep := e.report(t, "idem-1")
		rc, err := e.svc.File(e.ctx, key(e.provider), complaint.Filing{Reference: rep, Description: description})
		if err != nil || !rc.Resolved {
			t.Fatalf("filing by the provider: %+v, %v", rc, err)
		}
		pc, err := e.svc.ProviderComplaint(e.ctx, e.provider.ID, rc.Case)
		if err != nil || !pc.Filed || pc.Report != rep || pc.Reinstate {
			t.Errorf("provider's view %+v, %v", pc, err)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'complaint.file' AND actor = 'key:kP'`); n != 1 {
			t.Errorf("%d audit entries of the key's filing, want 1", n)
		}
		if _, err := e.svc.File(e.ctx, key(e.provider), complaint.Filing{Provider: e.other.Name, Reference: rep, Description: description}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("filing about another provider: %v, want ErrInvalid", err)
		}
		if _, err := e.svc.File(e.ctx, key(e.lea), complaint.Filing{Reference: rep, Description: description}); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("filing by an authority: %v, want ErrForbidden", err)
		}
		// The host's reference is its notice, or the case.
		inds := e.indicators(t, 3)
		e.noticed(t, "CASE1", "NOTICE1", inds[:2], inds[2])
		for _, ref := range []string{"NOTICE1", "notice1", "CASE1"} {
			rc, err := e.svc.File(e.ctx, key(e.host), complaint.Filing{Reference: ref, Description: description})
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.svc.Complaint(e.ctx, e.reviewer(), rc.Case)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, i := range c.Indicators {
				got = append(got, i.ID)
			}
			wantNotice := "NOTICE1"
			if ref == "CASE1" {
				wantNotice = ""
			}
			// The item not illegal is not involved.
			if c.Case != "CASE1" || c.Notice != wantNotice || !slices.Equal(got, inds[:2]) {
				t.Errorf("reference %q: case %q notice %q indicators %v, want CASE1 %q %v", ref, c.Case, c.Notice, got, wantNotice, inds[:2])
			}
		}
		// Another host's notice does not resolve.
		rc, err = e.svc.File(e.ctx, org.Principal{}, complaint.Filing{Provider: e.provider.Name, Reference: "NOTICE1", Description: description})
		if err != nil || rc.Resolved {
			t.Errorf("another's notice: %+v, %v; want unresolved", rc, err)
		}
	})
}

// TestStatus: the complainant sees the state, the times and the reasons;
// a wrong secret is answered exactly as an unknown case.
func TestStatus(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: "R-1", Description: description, Contact: contact})
		st, err := e.svc.Status(e.ctx, rc.Case, rc.Secret)
		if err != nil || st.State != complaint.Open || !st.DueAt.Equal(rc.DueAt) || st.Reasons != "" || !st.DecidedAt.IsZero() {
			t.Fatalf("status %+v, %v", st, err)
		}
		// A person types the case in lower case, without dashes.
		if _, err := e.svc.Status(e.ctx, strings.ToLower(strings.ReplaceAll(rc.Case, "-", "")), rc.Secret); err != nil {
			t.Errorf("lower case: %v", err)
		}
		_, wrong := e.svc.Status(e.ctx, rc.Case, rc.Secret+"x")
		_, unknown := e.svc.Status(e.ctx, "AAAA-AAAA-AAAA-AAAA", rc.Secret)
		_, empty := e.svc.Status(e.ctx, rc.Case, "")
		for _, err := range []error{wrong, empty} {
			if !errors.Is(err, core.ErrNotFound) || err.Error() != unknown.Error() {
				t.Errorf("wrong secret: %v; want the unknown case's %v", err, unknown)
			}
		}
		e.clock.Add(time.Hour)
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, complaint.Decision{Outcome: complaint.Rejected, Reasons: "The photo matched known material."}); err != nil {
			t.Fatal(err)
		}
		st, err = e.svc.Status(e.ctx, rc.Case, rc.Secret)
		if err != nil || st.State != complaint.Rejected || st.Reasons != "The photo matched known material." || !st.DecidedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("decided status %+v, %v", st, err)
		}
	})
}

// TestQueue: open complaints first, by due date, then the decided; pages
// follow on; overdue ones say so; only reviewers see them.
func TestQueue(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 4 {
			ids = append(ids, e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: "R-" + strconv.Itoa(i), Description: description}).Case)
			e.clock.Add(time.Hour)
		}
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), ids[0], complaint.Decision{Outcome: complaint.Upheld, Reasons: "lawful"}); err != nil {
			t.Fatal(err)
		}
		var got []string
		after := ""
		for {
			page, err := e.svc.Queue(e.ctx, e.reviewer(), complaint.Query{After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.ID)
				if c.Description != "" || c.Contact != "" || c.Reasons != "" {
					t.Errorf("a list shows personal data: %+v", c)
				}
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		if want := []string{ids[1], ids[2], ids[3], ids[0]}; !slices.Equal(got, want) {
			t.Errorf("queue %v, want %v", got, want)
		}
		open, err := e.svc.Queue(e.ctx, e.reviewer(), complaint.Query{State: complaint.Open})
		if err != nil || len(open) != 3 {
			t.Fatalf("open: %d, %v", len(open), err)
		}
		now := start.Add(complaint.DefaultDeadline + 90*time.Minute)
		if !open[0].Overdue(now) || open[2].Overdue(now) {
			t.Errorf("at %v: overdue %v and %v, want the first only", now, open[0].Overdue(now), open[2].Overdue(now))
		}
		for _, q := range []complaint.Query{{Limit: complaint.MaxLimit + 1}, {State: "closed"}, {After: "NOSUCH"}} {
			if _, err := e.svc.Queue(e.ctx, e.reviewer(), q); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("query %+v: %v, want ErrInvalid", q, err)
			}
		}
		notReviewer := e.reviewer()
		notReviewer.Scope = policy.OwnOrg
		if _, err := e.svc.Queue(e.ctx, notReviewer, complaint.Query{}); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("queue for another scope: %v", err)
		}
		if _, err := e.svc.Complaint(e.ctx, notReviewer, ids[0]); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("detail for another scope: %v", err)
		}
		// A provider sees its own complaints only.
		if ps, err := e.svc.ProviderComplaints(e.ctx, e.other.ID, complaint.Query{}); err != nil || len(ps) != 0 {
			t.Errorf("another provider's list: %v, %v", ps, err)
		}
		if _, err := e.svc.ProviderComplaint(e.ctx, e.other.ID, ids[0]); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("another provider's complaint: %v, want ErrNotFound", err)
		}
		ps, err := e.svc.ProviderComplaints(e.ctx, e.provider.ID, complaint.Query{})
		if err != nil || len(ps) != 4 || ps[3].ID != ids[0] || !ps[3].Reinstate || ps[3].Reasons != "" {
			t.Errorf("provider's list %+v, %v", ps, err)
		}
		pc, err := e.svc.ProviderComplaint(e.ctx, e.provider.ID, ids[0])
		if err != nil || !pc.Reinstate || pc.Reasons != "lawful" || pc.Filed {
			t.Errorf("provider's view %+v, %v", pc, err)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'complaint.view'`); n != 0 {
			t.Errorf("%d views audited; the lists open no personal data", n)
		}
	})
}

// TestDecideUpheld: an upheld complaint queues, in its transaction, the
// provider's notification and the quarantine of each indicator, and
// corrects the forwarded report with each authority it went to: new in
// its inbox again, in its package, pushed to its webhook.
func TestDecideUpheld(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		inds := e.indicators(t, 2)
		rep := e.report(t, "idem-7", inds...)
		e.forwarded(t, rep)
		for _, o := range []int64{e.lea.ID, e.europol.ID} {
			if _, err := e.fwd.Ack(e.ctx, o, rep, "key:x"); err != nil {
				t.Fatal(err)
			}
		}
		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: description, Contact: contact})

		// Bad decisions change nothing.
		for _, d := range []complaint.Decision{
			{Outcome: complaint.Upheld},
			{Outcome: complaint.Upheld, Reasons: strings.Repeat("x", complaint.MaxReasons+1)},
			{Outcome: "maybe", Reasons: "why"},
			{Outcome: complaint.Open, Reasons: "why"},
		} {
			if _, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, d); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("decision %+v: %v, want ErrInvalid", d, err)
			}
		}
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), "NOSU-CHCA-SEAT-ALL2", complaint.Decision{Outcome: complaint.Upheld, Reasons: "r"}); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("unknown complaint: %v", err)
		}
		if n := len(e.pending(t, complaint.JobNotify)) + storetest.Count(t, e.db, `SELECT count(*) FROM report_events WHERE kind = 'corrected'`); n != 0 {
			t.Fatalf("bad decisions queued or recorded %d", n)
		}

		e.clock.Add(time.Hour)
		const reasons = "The image is a beach photograph of adults: the match was wrong."
		c, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, complaint.Decision{Outcome: complaint.Upheld, Reasons: reasons})
		if err != nil {
			t.Fatal(err)
		}
		if c.State != complaint.Upheld || c.Corrected != 2 || c.DecidedBy != "user:7" || !c.DecidedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("decided %+v", c)
		}
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, complaint.Decision{Outcome: complaint.Rejected, Reasons: "r"}); !errors.Is(err, core.ErrConflict) {
			t.Errorf("deciding again: %v, want ErrConflict", err)
		}
		if got := e.pending(t, complaint.JobNotify); !slices.Equal(got, []string{rc.Case}) {
			t.Errorf("notify jobs %v", got)
		}
		wantQ := []string{complaint.QuarantineRef(rc.Case, inds[0]), complaint.QuarantineRef(rc.Case, inds[1])}
		if got := e.pending(t, complaint.JobQuarantine); !slices.Equal(got, wantQ) {
			t.Errorf("quarantine jobs %v, want %v", got, wantQ)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'complaint.decide' AND actor = 'user:7'`); n != 1 {
			t.Errorf("%d audit entries of the decision", n)
		}

		// The quarantine jobs reach the Quarantiner, once each however
		// often they run.
		for range 2 {
			for _, ref := range wantQ {
				if err := e.svc.Quarantine(e.ctx, ref); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := e.quar.all(); !slices.Equal(got, []string{strconv.FormatInt(inds[0], 10) + "/" + rc.Case, strconv.FormatInt(inds[1], 10) + "/" + rc.Case}) {
			t.Errorf("quarantined %v", got)
		}
		for _, ref := range []string{"nonsense", rc.Case + "/999999"} {
			if err := e.svc.Quarantine(e.ctx, ref); !jobs.IsPermanent(err) {
				t.Errorf("quarantine %q: %v, want a permanent error", ref, err)
			}
		}

		// Both authorities see the correction: new again in their inbox,
		// in the package; the one with a webhook has it pushed.
		for _, o := range []int64{e.lea.ID, e.europol.ID} {
			ds, err := e.fwd.Inbox(e.ctx, o, forward.InboxQuery{Status: forward.StatusNew, Limit: 10})
			if err != nil || len(ds) != 1 || ds[0].ReportID != rep || !ds[0].CorrectedAt.Equal(start.Add(time.Hour)) {
				t.Errorf("authority %d's new reports: %+v, %v", o, ds, err)
			}
			body, _, err := e.fwd.Package(e.ctx, o, rep)
			if err != nil {
				t.Fatal(err)
			}
			var p forward.Package
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Corrections) != 1 || p.Corrections[0].Complaint != rc.Case || p.Corrections[0].Reasons != reasons {
				t.Errorf("authority %d's package corrections %+v", o, p.Corrections)
			}
			if _, err := e.fwd.Ack(e.ctx, o, rep, "key:x"); err != nil {
				t.Fatal(err)
			}
			if ds, _ := e.fwd.Inbox(e.ctx, o, forward.InboxQuery{Status: forward.StatusNew, Limit: 10}); len(ds) != 0 {
				t.Errorf("authority %d: still new after acknowledging the correction: %+v", o, ds)
			}
		}
		refs := e.pending(t, forward.JobCorrection)
		if len(refs) != 1 {
			t.Fatalf("correction pushes %v, want one (the authority with a webhook)", refs)
		}
		if err := e.fwd.PushCorrection(e.ctx, refs[0]); err != nil {
			t.Fatal(err)
		}
		got := e.leaHook.all()
		if len(got) != 1 {
			t.Fatalf("the authority's webhook got %d requests", len(got))
		}
		verify(t, e.key.Public().(ed25519.PublicKey), forward.CorrectionContext, got[0].body, got[0].header.Get("Ward-Signature"))
		var corr forward.Correction
		if err := json.Unmarshal(got[0].body, &corr); err != nil {
			t.Fatal(err)
		}
		if corr.ReportID != rep || corr.Complaint != rc.Case || corr.Reasons != reasons || got[0].header.Get("Ward-Event-Id") != refs[0] ||
			got[0].header.Get("Ward-Report-Id") != rep {
			t.Errorf("pushed correction %s, headers %v", got[0].body, got[0].header)
		}
		for _, leak := range []string{description, contact, reportEmail} {
			if bytes.Contains(got[0].body, []byte(leak)) {
				t.Errorf("the correction carries %q", leak)
			}
		}
		// The provider does not see the correction as a step of its
		// report's own history, nor is it notified of it as one.
		evs, err := e.reports.Events(e.ctx, rep)
		if err != nil {
			t.Fatal(err)
		}
		if n := slices.IndexFunc(evs, func(ev report.Event) bool { return ev.Kind == report.EventCorrected }); n < 0 || report.EventCorrected.ProviderSees() {
			t.Errorf("events %v: want a corrected event the provider does not see", evs)
		}
	})
}

// TestDecideRejected: a rejection queues the notification only.
func TestDecideRejected(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		inds := e.indicators(t, 1)
		rep := e.report(t, "idem-8", inds...)
		e.forwarded(t, rep)
		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: description})
		c, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, complaint.Decision{Outcome: complaint.Rejected, Reasons: "the match is exact"})
		if err != nil || c.Corrected != 0 {
			t.Fatalf("%+v, %v", c, err)
		}
		if n := len(e.pending(t, complaint.JobQuarantine)) + len(e.pending(t, forward.JobCorrection)) +
			storetest.Count(t, e.db, `SELECT count(*) FROM report_events WHERE kind = 'corrected'`); n != 0 {
			t.Errorf("a rejection quarantined or corrected %d", n)
		}
		if err := e.svc.Quarantine(e.ctx, complaint.QuarantineRef(rc.Case, inds[0])); !errors.Is(err, core.ErrConflict) || !jobs.IsPermanent(err) {
			t.Errorf("quarantine of a rejected complaint: %v", err)
		}
		if got := e.pending(t, complaint.JobNotify); !slices.Equal(got, []string{rc.Case}) {
			t.Errorf("notify jobs %v", got)
		}
	})
}

// TestNotify: the provider's webhook, a real loopback server, gets the
// signed outcome; a provider without one gets nothing, and an open
// complaint is no job's.
func TestNotify(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rep := e.report(t, "idem-9")
		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: rep, Description: description, Contact: contact})
		if err := e.svc.Notify(e.ctx, rc.Case); !errors.Is(err, core.ErrConflict) || !jobs.IsPermanent(err) {
			t.Errorf("notifying an open complaint: %v", err)
		}
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), rc.Case, complaint.Decision{Outcome: complaint.Upheld, Reasons: "lawful content"}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Notify(e.ctx, rc.Case); err != nil {
			t.Fatal(err)
		}
		got := e.provHook.all()
		if len(got) != 1 {
			t.Fatalf("%d requests", len(got))
		}
		verify(t, e.key.Public().(ed25519.PublicKey), complaint.NotificationContext, got[0].body, got[0].header.Get("Ward-Signature"))
		var n complaint.Notification
		if err := json.Unmarshal(got[0].body, &n); err != nil {
			t.Fatal(err)
		}
		if n.Complaint != rc.Case || n.State != complaint.Upheld || !n.Reinstate || n.Reference != rep || n.Report != rep || !n.DecidedAt.Equal(start) {
			t.Errorf("notification %s", got[0].body)
		}
		if got[0].header.Get("Ward-Complaint-Id") != rc.Case || got[0].header.Get("Ward-Complaint-State") != "upheld" {
			t.Errorf("headers %v", got[0].header)
		}
		for _, leak := range []string{description, contact, "lawful content"} {
			if bytes.Contains(got[0].body, []byte(leak)) {
				t.Errorf("the notification carries %q", leak)
			}
		}
		// The other provider has no webhook: nothing to send.
		rc2 := e.file(t, complaint.Filing{Provider: e.other.Name, Reference: "X", Description: description})
		if _, err := e.svc.Decide(e.ctx, e.reviewer(), rc2.Case, complaint.Decision{Outcome: complaint.Rejected, Reasons: "r"}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Notify(e.ctx, rc2.Case); err != nil || len(e.provHook.all()) != 1 {
			t.Errorf("notifying a provider without a webhook: %v, %d requests", err, len(e.provHook.all()))
		}
	})
}

// TestReviewerDetail: opening a complaint's personal data is audited.
func TestReviewerDetail(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.file(t, complaint.Filing{Provider: e.provider.Name, Reference: "R", Description: description, Contact: contact})
		if _, err := e.svc.Complaint(e.ctx, e.reviewer(), rc.Case); err != nil {
			t.Fatal(err)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'complaint.view' AND actor = 'user:7' AND object = $1`,
			"complaint:"+rc.Case); n != 1 {
			t.Errorf("%d audit entries of the view, want 1", n)
		}
		if _, err := e.svc.Complaint(e.ctx, e.reviewer(), "AAAA-BBBB-CCCC-DDDD"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("unknown: %v", err)
		}
	})
}
