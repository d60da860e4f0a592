package victim_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/victim"
)

func TestOpen(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		hs := append(md5s(0, 2), indicator.Hash{Signal: "PDQ", Value: strings.Repeat("F0", 32)})
		rc, err := e.svc.Open(e.ctx, append(hs, hs[0]), " person@example.org ")
		if err != nil {
			t.Fatal(err)
		}
		if rc.Secret == "" || len(rc.Case) != 19 || rc.OpenedAt != start {
			t.Errorf("receipt %+v", rc)
		}
		if g := states(rc.Status); g != "active active active" {
			t.Errorf("states %q, want the repeat sent once", g)
		}
		if h := rc.Hashes[2]; h.ID != 3 || h.Signal != indicator.PDQ || h.Value != strings.Repeat("f0", 32) || h.AddedAt != start {
			t.Errorf("hash %+v", h)
		}
		for _, h := range rc.Hashes {
			ind, atts, err := e.inds.Get(e.ctx, h.Indicator)
			if err != nil {
				t.Fatal(err)
			}
			if ind.List != indicator.VictimReported || ind.Category != indicator.Unverified || ind.State != indicator.Active ||
				len(atts) != 1 || atts[0].OrgID != e.centre.ID {
				t.Errorf("indicator %+v, attestations %+v", ind, atts)
			}
		}
		if c := rc.Counts; c != (victim.Counts{Hashes: 3}) {
			t.Errorf("counts %+v", c)
		}
		// Only the secret's hash is kept, and the contact sealed.
		var secretHash, contact []byte
		err = e.db.ReadOnly(e.ctx, func(ctx context.Context, tx *store.Tx) error {
			return tx.QueryRow(ctx, `SELECT secret_hash, contact_sealed FROM victim_cases WHERE id = $1`, rc.Case).Scan(&secretHash, &contact)
		})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(secretHash, []byte(rc.Secret)) || bytes.Contains(contact, []byte("person@example.org")) {
			t.Error("the secret or the contact is stored in the clear")
		}
		if b, err := e.sealer.Open(e.ctx, contact, victim.ContactAAD(rc.Case)); err != nil || string(b) != "person@example.org" {
			t.Errorf("contact %q, %v", b, err)
		}
		// The number and the secret as a person types them (lower case, in
		// groups, O as 0); a wrong secret is an unknown case.
		typed := strings.ReplaceAll(strings.ToLower(rc.Secret[:8]+" "+rc.Secret[8:16]+"-"+rc.Secret[16:]), "o", "0")
		st, err := e.svc.Status(e.ctx, strings.ToLower(strings.ReplaceAll(rc.Case, "-", " ")), " "+typed+" ")
		if err != nil || st.Case != rc.Case || len(st.Hashes) != 3 {
			t.Errorf("status %+v, %v", st, err)
		}
		_, wrong := e.svc.Status(e.ctx, rc.Case, rc.Secret+"x")
		_, unknown := e.svc.Status(e.ctx, "VAAA-BBBB-CCCC-DDDD", rc.Secret)
		_, empty := e.svc.Status(e.ctx, rc.Case, "")
		for _, err := range []error{wrong, unknown, empty} {
			if !errors.Is(err, core.ErrNotFound) || err.Error() != unknown.Error() {
				t.Errorf("got %v, want the one unknown-case error", err)
			}
		}
		if n := e.count(t, `SELECT COUNT(*) FROM audit_log WHERE action = 'victim.open' AND actor = 'anonymous'`); n != 1 {
			t.Errorf("%d audit entries of the opening", n)
		}
	})
}

func TestOpenInvalid(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		good := md5s(0, 1)
		for _, tc := range []struct {
			name    string
			hashes  []indicator.Hash
			contact string
			want    string
		}{
			{"no hashes", nil, "", "send 1 to 100 hashes"},
			{"too many", md5s(0, 101), "", "not 101"},
			{"signal", append(good, indicator.Hash{Signal: "sha1", Value: "00"}), "", "hash 1:"},
			{"value", append(good, indicator.Hash{Signal: "md5", Value: "xyz"}), "", "hash 1:"},
			{"zero pdq", append(good, indicator.Hash{Signal: "pdq", Value: strings.Repeat("0", 64)}), "", "hash 1:"},
			{"pdq of few bits", append(good, indicator.Hash{Signal: "pdq", Value: strings.Repeat("01", 32)}), "", "hash 1: this PDQ hash has 32 of its 256 bits set"},
			{"pdq of many bits", append(good, indicator.Hash{Signal: "pdq", Value: strings.Repeat("7f", 32)}), "", "hash 1: this PDQ hash has 224 of"},
			{"contact", good, "call me maybe", "the contact"},
			{"contact control", good, "a@exa\u202emple.org", "the contact"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.Open(e.ctx, tc.hashes, tc.contact)
				if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v, want an invalid error with %q", err, tc.want)
				}
			})
		}
		if n := e.count(t, `SELECT COUNT(*) FROM victim_cases`) + e.count(t, `SELECT COUNT(*) FROM indicators`); n != 0 {
			t.Errorf("%d rows after refused openings", n)
		}
	})
}

func TestNoCentre(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		e := newEnv(t, open(t), false)
		_, err := e.svc.Open(e.ctx, md5s(0, 1), "")
		if !errors.Is(err, core.ErrUnavailable) || !strings.Contains(err.Error(), "ward admin org add --kind centre") {
			t.Errorf("got %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM victim_cases`); n != 0 {
			t.Errorf("%d cases", n)
		}
	})
}

func TestAdd(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.open(t, md5s(0, 1)...)
		e.clock.Add(time.Hour)
		st, err := e.svc.Add(e.ctx, rc.Case, rc.Secret, md5s(0, 2))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Hashes) != 2 || st.Hashes[0].AddedAt != start || st.Hashes[1].AddedAt != start.Add(time.Hour) || st.Counts.Hashes != 2 {
			t.Errorf("status %+v", st)
		}
		if _, err := e.svc.Add(e.ctx, rc.Case, "wrong", md5s(5, 1)); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("added with a wrong secret: %v", err)
		}
		// Up to MaxHashesPerCase, withdrawn ones counting.
		for i := range 9 {
			if _, err := e.svc.Add(e.ctx, rc.Case, rc.Secret, md5s(100+100*i, 100)); err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.svc.Add(e.ctx, rc.Case, rc.Secret, md5s(5000, 100))
		if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), "at most 1000") {
			t.Errorf("got %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM victim_hashes WHERE case_id = $1`, rc.Case); n != 902 {
			t.Errorf("%d hashes, want 902 (the refused addition added nothing)", n)
		}
	})
}

// TestListOutOfReach: hashes whose report to the list failed (the list
// out of reach, or a crash between the two commits) are reported again on
// the case's next request.
func TestListOutOfReach(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.open(t, md5s(0, 1)...)
		e.inds.set(true)
		if _, err := e.svc.Add(e.ctx, rc.Case, rc.Secret, md5s(1, 1)); err == nil {
			t.Fatal("added with the list out of reach")
		}
		e.inds.set(false)
		st := e.status(t, rc)
		if g := states(st); g != "active active" || st.Hashes[1].Indicator == 0 {
			t.Errorf("states %q, hashes %+v", g, st.Hashes)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM indicators`); n != 2 {
			t.Errorf("%d indicators", n)
		}
	})
}

func TestWithdraw(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		m := matcher.New()
		f := matcher.NewFollower(m, e.inds.Service)
		if err := f.Load(e.ctx); err != nil {
			t.Fatal(err)
		}
		shared := md5s(0, 1)[0]
		a := e.open(t, shared, md5s(1, 1)[0])
		b := e.open(t, shared)
		matches := func() int {
			t.Helper()
			if err := f.Poll(e.ctx); err != nil {
				t.Fatal(err)
			}
			it, err := matcher.ParseItem(shared.Signal, shared.Value)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := m.Match(matcher.Query{Lists: []string{indicator.VictimReported}}, it, nil)
			if err != nil {
				t.Fatal(err)
			}
			return len(ms)
		}
		if matches() != 1 || a.Hashes[0].Indicator != b.Hashes[0].Indicator {
			t.Fatal("the shared hash is not one matched indicator")
		}
		e.clock.Add(time.Minute)
		st, err := e.svc.Withdraw(e.ctx, a.Case, a.Secret, 1)
		if err != nil {
			t.Fatal(err)
		}
		if g := states(st); g != "withdrawn active" || st.Hashes[0].WithdrawnAt != start.Add(time.Minute) || st.Counts.Hashes != 1 || st.Counts.Withdrawn != 1 {
			t.Errorf("status %+v", st)
		}
		if matches() != 1 {
			t.Error("the indicator another case holds left the list")
		}
		// Again: nothing changes.
		if _, err := e.svc.Withdraw(e.ctx, a.Case, a.Secret, 1); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int64{3, -1} {
			if _, err := e.svc.Withdraw(e.ctx, a.Case, a.Secret, n); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("hash %d: %v", n, err)
			}
		}
		if _, err := e.svc.Withdraw(e.ctx, b.Case, "wrong", 0); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("withdrawn with a wrong secret: %v", err)
		}
		// The last case's withdrawal (all) takes it out of the list.
		if st, err = e.svc.Withdraw(e.ctx, b.Case, b.Secret, 0); err != nil {
			t.Fatal(err)
		}
		if g := states(st); g != "withdrawn" {
			t.Errorf("states %q", g)
		}
		if matches() != 0 {
			t.Error("the withdrawn indicator is still matched")
		}
		ind, _, err := e.inds.Get(e.ctx, b.Hashes[0].Indicator)
		if err != nil || ind.State != indicator.Withdrawn {
			t.Errorf("indicator %+v, %v", ind, err)
		}
		// Sent again, in another case, it is active again: a person's
		// withdrawal cannot keep an image out of the list.
		c := e.open(t, shared)
		if h := c.Hashes[0]; h.State != victim.Active || c.Counts.Withdrawn != 0 || c.Counts.Hashes != 1 {
			t.Errorf("hash %+v, counts %+v", h, c.Counts)
		}
		if matches() != 1 {
			t.Error("the hash sent again is not matched")
		}
		if st, err = e.svc.Withdraw(e.ctx, a.Case, a.Secret, 0); err != nil || states(st) != "withdrawn withdrawn" {
			t.Errorf("states %q, %v", states(st), err)
		}
	})
}

func TestCounts(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.open(t, md5s(0, 3)...)
		h1, h2, h3 := rc.Hashes[0].Indicator, rc.Hashes[1].Indicator, rc.Hashes[2].Indicator
		// A match list's indicator is not counted.
		known, err := e.inds.Submit(e.ctx, indicator.Known, e.hotlineNL.Principal(), []indicator.Submission{{Signal: indicator.MD5,
			Value: md5s(50, 1)[0].Value, Category: indicator.A1}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			provider int64
			inds     []int64
		}{
			{e.provider.ID, []int64{h1, h2, known[0].IndicatorID}},
			{e.provider.ID, []int64{h1}}, // again: once
			{e.other.ID, []int64{h1, h3}},
		} {
			if err := e.svc.ProviderMatched(e.ctx, m.provider, m.inds); err != nil {
				t.Fatal(err)
			}
		}
		// Two takedown cases on the web: one item of case T1 matched h1
		// and h2, another h3 and was removed; T1 had a notice sent, one
		// not yet, and one sent of a URL that matched nothing; T2's item
		// matched nothing of the case.
		e.exec(t, `INSERT INTO takedown_cases (id, url, url_key, state, received_at, fetched_at) VALUES
			('T1', 'https://a.example/', $1, 'noticed', $3, $3), ('T2', 'https://b.example/', $2, 'noticed', $3, $3)`,
			strings.Repeat("a", 64), strings.Repeat("b", 64), start)
		e.exec(t, `INSERT INTO takedown_items (case_id, idx, url, removed_at) VALUES
			('T1', 0, 'https://a.example/1.jpg', NULL), ('T1', 1, 'https://a.example/2.jpg', $1), ('T2', 0, 'https://b.example/1.jpg', $1)`, start)
		e.exec(t, `INSERT INTO takedown_notices (id, case_id, channel, urls, classification, created_at, sent_at) VALUES
			('N1', 'T1', 'email', '["https://a.example/0.jpg","https://a.example/1.jpg"]', 'baseline', $1, $1),
			('N2', 'T1', 'email', '["https://a.example/1.jpg"]', 'baseline', $1, NULL),
			('N4', 'T1', 'email', '["https://a.example/1.jpg.html"]', 'baseline', $1, $1),
			('N3', 'T2', 'email', '["https://b.example/1.jpg"]', 'baseline', $1, $1)`, start)
		e.exec(t, `INSERT INTO takedown_item_matches (case_id, idx, indicator_id) VALUES ('T1', 0, $1), ('T1', 0, $2), ('T1', 1, $3),
			('T2', 0, $4)`, h1, h2, h3, known[0].IndicatorID)
		want := victim.Counts{Hashes: 3, ProviderMatches: 4, WebMatches: 2, NoticesSent: 1, RemovalsVerified: 1}
		if c := e.status(t, rc).Counts; c != want {
			t.Errorf("counts %+v, want %+v", c, want)
		}
		// A withdrawn hash no longer counts.
		st, err := e.svc.Withdraw(e.ctx, rc.Case, rc.Secret, 3)
		if err != nil {
			t.Fatal(err)
		}
		want = victim.Counts{Hashes: 2, Withdrawn: 1, ProviderMatches: 3, WebMatches: 1, NoticesSent: 1}
		if st.Counts != want {
			t.Errorf("counts %+v, want %+v", st.Counts, want)
		}

		// A case sending h1 and h2 later learns nothing of before: only
		// what happens from then on counts for it.
		e.clock.Add(time.Hour)
		later := e.open(t, md5s(0, 2)...)
		if c := later.Counts; c != (victim.Counts{Hashes: 2}) {
			t.Errorf("the later case's counts %+v, want none of before", c)
		}
		if err := e.svc.ProviderMatched(e.ctx, e.other.ID, []int64{h1, h2}); err != nil { // h1 again: nothing new
			t.Fatal(err)
		}
		e.exec(t, `INSERT INTO takedown_cases (id, url, url_key, state, received_at, fetched_at) VALUES ('T3', 'https://c.example/', $1, 'noticed', $2, $2)`,
			strings.Repeat("c", 64), e.clock.Now())
		e.exec(t, `INSERT INTO takedown_items (case_id, idx, url, removed_at) VALUES ('T3', 0, 'https://c.example/1.jpg', $1)`, e.clock.Now())
		e.exec(t, `INSERT INTO takedown_item_matches (case_id, idx, indicator_id) VALUES ('T3', 0, $1)`, h1)
		e.exec(t, `INSERT INTO takedown_notices (id, case_id, channel, urls, classification, created_at, sent_at) VALUES
			('N5', 'T3', 'email', '["https://c.example/1.jpg"]', 'baseline', $1, $1)`, e.clock.Now())
		want = victim.Counts{Hashes: 2, ProviderMatches: 1, WebMatches: 1, NoticesSent: 1, RemovalsVerified: 1}
		if c := e.status(t, later).Counts; c != want {
			t.Errorf("the later case's counts %+v, want %+v", c, want)
		}
	})
}

func TestHelpServices(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			h    victim.HelpService
			want string
		}{
			{victim.HelpService{Country: "BEL", Language: "fr", Name: "X", URL: "https://x.example"}, "country"},
			{victim.HelpService{Country: "be", Language: "french", Name: "X", URL: "https://x.example"}, "language"},
			{victim.HelpService{Country: "be", Language: "fr", Name: " ", URL: "https://x.example"}, "name"},
			{victim.HelpService{Country: "be", Language: "fr", Name: "X"}, "URL or a phone"},
			{victim.HelpService{Country: "be", Language: "fr", Name: "X", URL: "http://x.example"}, "https://"},
			{victim.HelpService{Country: "be", Language: "fr", Name: "X", Phone: "call us"}, "phone"},
		} {
			if _, err := e.svc.AddHelpService(e.ctx, audit.AdminCLI, tc.h); !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: got %v, want %q", tc.h, err, tc.want)
			}
		}
		add := func(country, lang, name string) victim.HelpService {
			h, err := e.svc.AddHelpService(e.ctx, audit.AdminCLI, victim.HelpService{Country: country, Language: lang, Name: name,
				URL: "https://help.example/" + name, Phone: "+32 2 123 45 67"})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		nl := add("be", "NL", "Child Focus NL")
		fr := add("BE", "fr", "Child Focus")
		add("FR", "fr", "e-Enfance")
		if fr.Country != "BE" || fr.Language != "fr" || fr.ID == 0 {
			t.Errorf("added %+v", fr)
		}
		names := func(country, lang string) string {
			t.Helper()
			hs, err := e.svc.HelpServices(e.ctx, country, lang)
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, h := range hs {
				n = append(n, h.Name)
			}
			return strings.Join(n, ",")
		}
		for _, tc := range []struct{ country, lang, want string }{
			{"BE", "nl", "Child Focus NL,Child Focus"},
			{"be", "fr", "Child Focus,Child Focus NL"},
			{"BE", "de", "Child Focus,Child Focus NL"},
			{"DE", "de", ""},
			{"", "fr", "Child Focus,e-Enfance,Child Focus NL"},
		} {
			if g := names(tc.country, tc.lang); g != tc.want {
				t.Errorf("%s/%s: %q, want %q", tc.country, tc.lang, g, tc.want)
			}
		}
		if _, err := e.svc.HelpServices(e.ctx, "Belgium", ""); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("got %v", err)
		}
		if _, err := e.svc.RemoveHelpService(e.ctx, audit.AdminCLI, nl.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RemoveHelpService(e.ctx, audit.AdminCLI, nl.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("removed twice: %v", err)
		}
		if g := names("BE", "nl"); g != "Child Focus" {
			t.Errorf("after removal %q", g)
		}
	})
}

func TestPDQBits(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		// 64 and 192 bits set, the bounds, are taken.
		e.open(t, indicator.Hash{Signal: indicator.PDQ, Value: strings.Repeat("03", 32)},
			indicator.Hash{Signal: indicator.PDQ, Value: strings.Repeat("3f", 32)})
	})
}

// TestWithdrawConcurrent withdraws one indicator from its two cases at
// once, again and again: whichever commits second sees the first's
// withdrawal, and the indicator leaves the list.
func TestWithdrawConcurrent(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		for i := range 20 {
			shared := md5s(100+i, 1)[0]
			a, b := e.open(t, shared), e.open(t, shared)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j, rc := range []victim.Receipt{a, b} {
				wg.Go(func() { _, errs[j] = e.svc.Withdraw(e.ctx, rc.Case, rc.Secret, 1) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if ind, _, err := e.inds.Get(e.ctx, a.Hashes[0].Indicator); err != nil || ind.State != indicator.Withdrawn {
				t.Fatalf("round %d: indicator %+v, %v; want it withdrawn", i, ind, err)
			}
		}
	})
}

// TestWithdrawUnheld: an indicator no case holds any longer, left in the
// list by a withdrawal cut short or by a withdrawal while the hash was
// being listed, is withdrawn on the case's next request.
func TestWithdrawUnheld(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		rc := e.open(t, md5s(0, 2)...)
		// Rows withdrawn, the indicator not (a crash between the two).
		e.exec(t, `UPDATE victim_hashes SET withdrawn_at = $1 WHERE case_id = $2 AND idx = 1`, start, rc.Case)
		if ind, _, err := e.inds.Get(e.ctx, rc.Hashes[0].Indicator); err != nil || ind.State != indicator.Active {
			t.Fatalf("indicator %+v, %v", ind, err)
		}
		if g := states(e.status(t, rc)); g != "withdrawn active" {
			t.Errorf("states %q", g)
		}
		for i, want := range []indicator.State{indicator.Withdrawn, indicator.Active} {
			if ind, _, err := e.inds.Get(e.ctx, rc.Hashes[i].Indicator); err != nil || ind.State != want {
				t.Errorf("indicator %d: %+v, %v; want %s", i, ind, err, want)
			}
		}

		// The hash withdrawn while it is being listed (the list slow).
		late := md5s(5, 1)
		e.inds.during = func() {
			e.exec(t, `UPDATE victim_hashes SET withdrawn_at = $1 WHERE value = $2`, start, late[0].Value)
		}
		st := e.open(t, late...).Status
		e.inds.during = nil
		if g := states(st); g != "withdrawn" || st.Hashes[0].Indicator == 0 {
			t.Fatalf("status %+v", st)
		}
		if ind, _, err := e.inds.Get(e.ctx, st.Hashes[0].Indicator); err != nil || ind.State != indicator.Withdrawn {
			t.Errorf("indicator %+v, %v; want it withdrawn", ind, err)
		}
	})
}

func TestDailyHashes(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		var logs bytes.Buffer
		svc := victim.New(e.db.Victims(), e.inds, victim.Options{Sealer: e.sealer, Clock: e.clock.Now, DailyHashes: 3,
			Log: slog.New(slog.NewTextHandler(&logs, nil))})
		rc, err := svc.Open(e.ctx, md5s(0, 2), "")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Hour)
		for range 2 {
			if _, err := svc.Open(e.ctx, md5s(10, 2), ""); !errors.Is(err, core.ErrUnavailable) || !strings.Contains(err.Error(), "unusually many hashes") {
				t.Errorf("opening past the limit: %v", err)
			}
			if _, err := svc.Add(e.ctx, rc.Case, rc.Secret, md5s(10, 2)); !errors.Is(err, core.ErrUnavailable) {
				t.Errorf("adding past the limit: %v", err)
			}
		}
		if n := e.count(t, `SELECT COUNT(*) FROM victim_hashes`) + e.count(t, `SELECT COUNT(*) FROM victim_cases`); n != 3 {
			t.Errorf("%d rows, want the first case's 3", n)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || strings.Contains(logs.String(), rc.Case) {
			t.Errorf("%d warnings, want 1 without the case: %s", n, logs.String())
		}
		// Up to the limit; a hash the case has is not new.
		if _, err := svc.Add(e.ctx, rc.Case, rc.Secret, md5s(1, 2)); err != nil {
			t.Errorf("adding up to the limit: %v", err)
		}
		// 24 hours after the first, they no longer count.
		e.clock.Set(start.Add(24*time.Hour + time.Second))
		if _, err := svc.Open(e.ctx, md5s(10, 2), ""); err != nil {
			t.Errorf("opening a day later: %v", err)
		}
	})
}
