package triage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
)

type env struct {
	ctx       context.Context
	db        *store.DB
	reports   *report.Service
	m         *matcher.Matcher
	svc       *triage.Service
	providers [2]int64
	n         int // reports created, for distinct idempotency keys
}

// engines runs test on a new database of each engine, with a Service
// configured by opts.
func engines(t *testing.T, opts triage.Options, test func(t *testing.T, e *env)) {
	for _, eng := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"SQLite", storetest.OpenSQLite}, {"Postgres", storetest.OpenPostgres}} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			db := eng.open(t)
			e := &env{ctx: t.Context(), db: db, m: matcher.New()}
			e.reports = report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))
			e.m.SetList(indicator.List{Name: indicator.Known, MaxDistance: 31, Threshold: 31})
			e.svc = triage.New(db.Triage(), e.reports, e.m, opts)
			orgs := org.NewService(db)
			for i, name := range []string{"photos", "chat"} {
				o, err := orgs.Create(e.ctx, name, org.Provider, "IE")
				if err != nil {
					t.Fatal(err)
				}
				e.providers[i] = o.ID
			}
			test(t, e)
		})
	}
}

// indicate makes an indicator of the known list matchable.
func (e *env) indicate(t *testing.T, id int64, sig indicator.Signal, value string) {
	t.Helper()
	if err := e.m.Add(matcher.Entry{ID: id, List: indicator.Known, Signal: sig, Value: value, Category: indicator.A1}); err != nil {
		t.Fatal(err)
	}
}

func draft(urgent bool, items ...report.Item) report.Draft {
	d := report.Draft{
		IncidentTime: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
		Type:         report.TypeNew,
		Items:        items,
		Service:      report.OnlineService{Type: report.Hosting, URL: "https://photos.example.com/"},
		Awareness:    report.Awareness{Method: report.AutomatedMatch},
		User:         report.User{ScreenName: "offender-4711"},
	}
	if len(items) == 0 {
		d.Type = report.TypeSolicitation
	}
	if urgent {
		d.Urgency = report.Urgency{Urgent: true, Reason: "A meeting with the child is planned."}
	}
	return d
}

func hashItem(h report.Hashes) report.Item { return report.Item{Kind: report.ItemHash, Hashes: h} }

var fileItem = report.Item{Kind: report.ItemFile}

// submit creates, fills and finishes a report of the provider: files
// holds the content of each item of kind file, in order.
func (e *env) submit(t *testing.T, provider int64, d report.Draft, files ...[]byte) string {
	t.Helper()
	e.n++
	r, _, err := e.reports.CreateDraft(e.ctx, provider, fmt.Sprint("key-", e.n), d)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range d.Items {
		if it.Kind == report.ItemFile {
			if _, _, err := e.reports.AddFile(e.ctx, provider, r.ID, i, files[0]); err != nil {
				t.Fatal(err)
			}
			files = files[1:]
		}
	}
	if _, err := e.reports.Finish(e.ctx, provider, r.ID); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// triaged submits a report and triages it.
func (e *env) triaged(t *testing.T, provider int64, d report.Draft, files ...[]byte) string {
	t.Helper()
	id := e.submit(t, provider, d, files...)
	if err := e.svc.Triage(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) view(t *testing.T, id string) triage.CaseView {
	t.Helper()
	v, err := e.svc.Case(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) state(t *testing.T, id string) report.State { return e.view(t, id).Report.State }

// history returns a report's events as "kind/actor/detail" (detail
// opened).
func (e *env) history(t *testing.T, id string) string {
	t.Helper()
	var s []string
	for _, ev := range e.view(t, id).Events {
		x := string(ev.Kind) + "/" + ev.Actor
		if ev.Detail != nil {
			x += "/" + string(ev.Detail)
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

// jobRefs returns the refs of the jobs of a kind, sorted.
func (e *env) jobRefs(t *testing.T, kind string) []string {
	t.Helper()
	return storetest.Strings(t, e.db, `SELECT ref FROM jobs WHERE kind = $1 ORDER BY ref`, kind)
}

func (e *env) queue(t *testing.T) []string {
	t.Helper()
	q, err := e.svc.Queue(e.ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, en := range q {
		ids = append(ids, en.ReportID)
	}
	return ids
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// flip returns h with its first n bits flipped: at distance n.
func flip(t *testing.T, h string, n int) string {
	t.Helper()
	p, err := pdq.ParseHex(h)
	if err != nil {
		t.Fatal(err)
	}
	for k := range n {
		p[k/64] ^= 1 << (k % 64)
	}
	return p.String()
}

func md5Of(n int) string { return fmt.Sprintf("%032x", n) }

func sha256Of(n int) string { return fmt.Sprintf("%064x", n) }

func TestTriageKnownAndNew(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		img := pngOf(t, synth.Image(256, 256, 1))
		h := filehash.Bytes(img, filehash.Options{})
		e.indicate(t, 10, indicator.MD5, md5Of(1))
		e.indicate(t, 11, indicator.PDQ, flip(t, h.PDQ.String(), 5))
		e.indicate(t, 12, indicator.PDQ, flip(t, h.PDQ.String(), 40)) // too far
		// The hash of a nearly flat image, of quality 0, is not matched.
		flat := image.NewGray(image.Rect(0, 0, 256, 256))
		for y := range 256 {
			for x := range 256 {
				flat.SetGray(x, y, color.Gray{Y: uint8(128 + x/64)})
			}
		}
		flatPNG := pngOf(t, flat)
		fh := filehash.Bytes(flatPNG, filehash.Options{})
		if fh.PDQ.IsZero() || fh.Quality >= 50 {
			t.Fatalf("the flat image hashes as %v, quality %d", fh.PDQ, fh.Quality)
		}
		e.indicate(t, 13, indicator.PDQ, fh.PDQ.String())

		knownHash := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(1)}), hashItem(report.Hashes{MD5: md5Of(2)})))
		knownFile := e.triaged(t, p, draft(false, fileItem), img)
		other := filehash.Bytes(pngOf(t, synth.Image(256, 256, 3)), filehash.Options{}).PDQ
		fresh := e.triaged(t, p, draft(false, hashItem(report.Hashes{SHA256: sha256Of(3), PDQ: other.String()})))
		flatFile := e.triaged(t, p, draft(false, fileItem), flatPNG)
		solicit := e.triaged(t, p, draft(false))
		e.indicate(t, 14, indicator.MD5, md5Of(4))
		urgent := e.triaged(t, p, draft(true, hashItem(report.Hashes{MD5: md5Of(4)})))

		for _, c := range []struct {
			id       string
			material string
			priority int
			matched  int
		}{
			{knownHash, triage.MaterialKnown, triage.PriorityKnown, 1},
			{knownFile, triage.MaterialKnown, triage.PriorityKnown, 1},
			{fresh, triage.MaterialNew, triage.PriorityNew, 0},
			{flatFile, triage.MaterialNew, triage.PriorityNew, 0},
			{solicit, triage.MaterialNone, triage.PriorityNew, 0},
			{urgent, triage.MaterialKnown, triage.PriorityUrgent, 1},
		} {
			v := e.view(t, c.id)
			if v.Material != c.material || v.Priority != c.priority || v.CaseID != c.id || v.Report.State != report.StateQueued || v.ProviderName != "photos" {
				t.Errorf("report %s: %s, priority %d, case %s, %s, provider %q; want %s, %d, its own, queued",
					c.id, v.Material, v.Priority, v.CaseID, v.Report.State, v.ProviderName, c.material, c.priority)
			}
		}
		if got, want := e.queue(t), []string{urgent, fresh, flatFile, solicit, knownHash, knownFile}; !slices.Equal(got, want) {
			t.Errorf("queue\n%v\nwant\n%v", got, want)
		}
		v := e.view(t, knownFile)
		want := []triage.Match{{Item: 0, Indicator: 11, List: indicator.Known, Signal: indicator.PDQ, Category: indicator.A1, Distance: 5}}
		if !slices.Equal(v.Matches, want) {
			t.Errorf("matches of the file\n%+v\nwant\n%+v", v.Matches, want)
		}
		if len(v.Report.Files) != 1 || v.Report.Files[0].SHA256 != h.SHA256 || v.Report.Draft.Items[0].Kind != report.ItemFile {
			t.Errorf("the report as opened: %+v", v.Report)
		}
		if got, err := e.svc.FileContent(e.ctx, knownFile, 0); err != nil || !bytes.Equal(got, img) {
			t.Errorf("FileContent: %d bytes, %v", len(got), err)
		}
		if ms := e.view(t, knownHash).Matches; len(ms) != 1 || ms[0].Item != 0 || ms[0].Indicator != 10 || ms[0].Signal != indicator.MD5 {
			t.Errorf("matches of the hashes %+v", ms)
		}
		if h := e.history(t, knownHash); h != "received/provider queued/system" {
			t.Errorf("history %s", h)
		}
		if _, err := e.svc.Queue(e.ctx, 0); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("Queue(0): %v", err)
		}
	})
}

// TestTriageSuppressed: content that matches a known indicator and an
// indicator of a suppress list (known benign content) is not known
// material, whether the centre hashed the file or the provider sent the
// hashes together.
func TestTriageSuppressed(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		img := pngOf(t, synth.Image(256, 256, 5))
		h := filehash.Bytes(img, filehash.Options{})
		e.m.SetList(indicator.List{Name: "stock", Kind: indicator.SuppressList, MaxDistance: 31, Threshold: 10})
		e.indicate(t, 20, indicator.PDQ, h.PDQ.String())
		if err := e.m.Add(matcher.Entry{ID: 30, List: "stock", Signal: indicator.SHA256, Value: h.SHA256, Category: indicator.Baseline}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name     string
			id       string
			material string
		}{
			{"the file, by its SHA-256", e.triaged(t, p, draft(false, fileItem), img), triage.MaterialNew},
			{"its hashes together", e.triaged(t, p, draft(false, hashItem(report.Hashes{PDQ: flip(t, h.PDQ.String(), 3), SHA256: h.SHA256}))), triage.MaterialNew},
			{"its PDQ hash alone", e.triaged(t, p, draft(false, hashItem(report.Hashes{PDQ: flip(t, h.PDQ.String(), 3)}))), triage.MaterialKnown},
		} {
			if v := e.view(t, c.id); v.Material != c.material || (c.material == triage.MaterialNew) != (len(v.Matches) == 0) {
				t.Errorf("%s: %s with matches %+v, want %s", c.name, v.Material, v.Matches, c.material)
			}
		}
	})
}

func TestTriageBundling(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p, other := e.providers[0], e.providers[1]
		img := pngOf(t, synth.Image(256, 256, 2))
		viral := draft(false, fileItem)
		lead := e.triaged(t, p, viral, img)
		b1 := e.triaged(t, p, viral, img)
		// The same content sent as its hash, beside other content.
		b2 := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(9)}),
			hashItem(report.Hashes{SHA256: filehash.Bytes(img, filehash.Options{}).SHA256})))
		elsewhere := e.triaged(t, other, viral, img)

		v := e.view(t, lead)
		if v.CaseID != lead || len(v.Bundle) != 2 || v.Bundle[0].ReportID != b1 || v.Bundle[1].ReportID != b2 {
			t.Fatalf("case of the lead: %s, bundle %+v", v.CaseID, v.Bundle)
		}
		for _, b := range v.Bundle {
			if b.State != report.StateBundled || b.CaseID != lead || b.Bundled != 2 {
				t.Errorf("bundled %+v", b)
			}
		}
		if v := e.view(t, b2); v.CaseID != lead || len(v.Bundle) != 2 || v.Bundle[0].ReportID != lead {
			t.Errorf("case of a bundled report: %s, %+v", v.CaseID, v.Bundle)
		}
		if v := e.view(t, elsewhere); v.CaseID != elsewhere || len(v.Bundle) != 0 {
			t.Errorf("the other provider's report: case %s, bundle %+v", v.CaseID, v.Bundle)
		}
		if got := e.queue(t); !slices.Equal(got, []string{lead, elsewhere}) {
			t.Errorf("queue %v, want the two leads", got)
		}
		if h := e.history(t, b1); h != "received/provider bundled/system" {
			t.Errorf("history of a bundled report: %s", h)
		}

		// A decision on a bundled report names the lead.
		err := e.svc.Decide(e.ctx, "user:1", b1, triage.Decision{Kind: triage.Forward})
		if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), lead) {
			t.Errorf("decision on a bundled report: %v", err)
		}
		if err := e.svc.Decide(e.ctx, "user:1", lead, triage.Decision{Kind: triage.Forward}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{lead, b1, b2} {
			if h := e.history(t, id); !strings.HasSuffix(h, " forwarded/user:1") {
				t.Errorf("history of %s: %s", id, h)
			}
		}
		if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, sorted(lead, b1, b2)) {
			t.Errorf("route jobs %v, want one per report of the case", refs)
		}
		if e.state(t, elsewhere) != report.StateQueued {
			t.Error("the other provider's case was decided too")
		}
		if got := e.queue(t); !slices.Equal(got, []string{elsewhere}) {
			t.Errorf("queue after the decision: %v", got)
		}
	})
}

func TestTriageLateJoiner(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		meme := draft(false, hashItem(report.Hashes{SHA256: sha256Of(1)}))
		lead := e.triaged(t, p, meme)
		const reasons = "A cartoon: not child sexual abuse material."
		if err := e.svc.Decide(e.ctx, "user:3", lead, triage.Decision{Kind: triage.Unfounded, Text: reasons}); err != nil {
			t.Fatal(err)
		}
		joiner := e.triaged(t, p, meme)
		if st := e.state(t, joiner); st != report.StateUnfounded {
			t.Errorf("a report joining an unfounded case is %s", st)
		}
		if h := e.history(t, joiner); h != "received/provider bundled/system unfounded/system/"+reasons {
			t.Errorf("history of the joiner: %s", h)
		}
		if h := e.history(t, lead); h != "received/provider queued/system unfounded/user:3/"+reasons {
			t.Errorf("history of the lead: %s", h)
		}

		// An urgent report of the same content is not closed unseen: it
		// leads a case of its own, first in the queue.
		urgent := e.triaged(t, p, draft(true, hashItem(report.Hashes{SHA256: sha256Of(1)})))
		if st := e.state(t, urgent); st != report.StateQueued {
			t.Errorf("an urgent report joining an unfounded case is %s", st)
		}
		if got := e.queue(t); !slices.Equal(got, []string{urgent}) {
			t.Errorf("queue %v, want the urgent report", got)
		}
		if err := e.svc.Decide(e.ctx, "user:3", urgent, triage.Decision{Kind: triage.Forward}); err != nil {
			t.Fatal(err)
		}

		forwarded := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(5)})))
		if err := e.svc.Decide(e.ctx, "user:3", forwarded, triage.Decision{Kind: triage.Forward}); err != nil {
			t.Fatal(err)
		}
		// A crash after bundling and before inheriting: the re-run
		// finishes the work.
		j2 := e.submit(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(5)})))
		res, err := triage.Record(e.ctx, e.db.Triage(), triage.Assessment{ReportID: j2, At: time.Now(), Priority: triage.PriorityNew,
			Material: triage.MaterialNew, Keys: []string{"md5:" + md5Of(5)}})
		if err != nil || res.State != report.StateBundled || res.LeadState != report.StateForwarded {
			t.Fatalf("bundling: %+v, %v", res, err)
		}
		if err := e.svc.Triage(e.ctx, j2); err != nil {
			t.Fatal(err)
		}
		if h := e.history(t, j2); h != "received/provider bundled/system forwarded/system" {
			t.Errorf("history of the joiner of a forwarded case: %s", h)
		}
		if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, sorted(urgent, forwarded, j2)) {
			t.Errorf("route jobs %v", refs)
		}
		if got := e.queue(t); len(got) != 0 {
			t.Errorf("queue %v", got)
		}
	})
}

func TestTriageDecide(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		lead := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(1)})))
		bundled := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(1)})))
		untriaged := e.submit(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(2)})))
		for _, c := range []struct {
			actor string
			d     triage.Decision
		}{
			{"user:1", triage.Decision{Kind: triage.Unfounded}},
			{"user:1", triage.Decision{Kind: triage.RequestInfo, Text: "  "}},
			{"user:1", triage.Decision{Kind: triage.Forward, Text: "why"}},
			{"user:1", triage.Decision{Kind: "praise", Text: "x"}},
			{"user:1", triage.Decision{Kind: triage.Unfounded, Text: strings.Repeat("x", triage.MaxText+1)}},
			{"user:1", triage.Decision{Kind: triage.Unfounded, Text: "\xff"}},
			{"", triage.Decision{Kind: triage.Forward}},
		} {
			if err := e.svc.Decide(e.ctx, c.actor, lead, c.d); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("Decide(%q, %+v): %v, want ErrInvalid", c.actor, c.d, err)
			}
		}
		if err := e.svc.Decide(e.ctx, "user:1", untriaged, triage.Decision{Kind: triage.Forward}); !errors.Is(err, core.ErrConflict) {
			t.Errorf("decision on an untriaged report: %v", err)
		}
		if err := e.svc.Decide(e.ctx, "user:1", "nope", triage.Decision{Kind: triage.Forward}); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("decision on no report: %v", err)
		}

		const question = "Which account uploaded the file?"
		if err := e.svc.Decide(e.ctx, "user:1", lead, triage.Decision{Kind: triage.RequestInfo, Text: question}); err != nil {
			t.Fatal(err)
		}
		if e.state(t, lead) != report.StateInfoRequested || e.state(t, bundled) != report.StateBundled {
			t.Errorf("after a request for information: %s, %s", e.state(t, lead), e.state(t, bundled))
		}
		if h := e.history(t, lead); h != "received/provider queued/system info_requested/user:1/"+question {
			t.Errorf("history %s", h)
		}
		if got := e.queue(t); !slices.Equal(got, []string{lead}) {
			t.Errorf("queue %v: the case waiting for information is still listed", got)
		}
		if err := e.svc.Decide(e.ctx, "user:1", lead, triage.Decision{Kind: triage.RequestInfo, Text: "again?"}); !errors.Is(err, core.ErrConflict) {
			t.Errorf("second request for information: %v", err)
		}
		if err := e.svc.Decide(e.ctx, "user:2", lead, triage.Decision{Kind: triage.Unfounded, Text: "Adults only."}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{lead, bundled} {
			if h := e.history(t, id); !strings.HasSuffix(h, " unfounded/user:2/Adults only.") {
				t.Errorf("history of %s: %s", id, h)
			}
		}
		if err := e.svc.Decide(e.ctx, "user:1", lead, triage.Decision{Kind: triage.Forward}); !errors.Is(err, core.ErrConflict) {
			t.Errorf("decision on a decided case: %v", err)
		}
		if refs := e.jobRefs(t, forward.JobRoute); len(refs) != 0 {
			t.Errorf("route jobs %v", refs)
		}
	})
}

func TestTriageUrgent(t *testing.T) {
	t.Run("Queued", func(t *testing.T) {
		engines(t, triage.Options{}, func(t *testing.T, e *env) {
			p := e.providers[0]
			old := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(1)})))
			urgent := e.triaged(t, p, draft(true, hashItem(report.Hashes{MD5: md5Of(2)})))
			if got := e.queue(t); !slices.Equal(got, []string{urgent, old}) {
				t.Errorf("queue %v, want the urgent report first", got)
			}
			// An urgent report bundled makes its case urgent.
			e.triaged(t, p, draft(true, hashItem(report.Hashes{MD5: md5Of(1)})))
			if v := e.view(t, old); v.Priority != triage.PriorityUrgent {
				t.Errorf("priority of a case with an urgent report: %d", v.Priority)
			}
		})
	})
	t.Run("AutoForward", func(t *testing.T) {
		engines(t, triage.Options{AutoForwardUrgent: true}, func(t *testing.T, e *env) {
			p := e.providers[0]
			urgent := e.triaged(t, p, draft(true, hashItem(report.Hashes{MD5: md5Of(1)})))
			calm := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(2)})))
			if h := e.history(t, urgent); h != "received/provider forwarded/system" {
				t.Errorf("history of the urgent report: %s", h)
			}
			if refs := e.jobRefs(t, forward.JobRoute); !slices.Equal(refs, []string{urgent}) {
				t.Errorf("route jobs %v", refs)
			}
			if got := e.queue(t); !slices.Equal(got, []string{calm}) {
				t.Errorf("queue %v", got)
			}
		})
	})
}

func TestTriageIdempotent(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		// Status changes are notified to providers with a webhook.
		if err := e.db.SetWebhook(e.ctx, p, []byte("a sealed webhook")); err != nil {
			t.Fatal(err)
		}
		e.indicate(t, 1, indicator.MD5, md5Of(1))
		id := e.submit(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(1)})))
		for range 3 {
			if err := e.svc.Triage(e.ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		v := e.view(t, id)
		if h := e.history(t, id); h != "received/provider queued/system" || len(v.Matches) != 1 {
			t.Errorf("after three runs: history %s, %d matches", h, len(v.Matches))
		}
		if refs := e.jobRefs(t, forward.JobNotify); len(refs) != 1 {
			t.Errorf("%d notify jobs, want 1", len(refs))
		}
		// Triage leaves decided reports alone.
		if err := e.svc.Decide(e.ctx, "user:1", id, triage.Decision{Kind: triage.Forward}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Triage(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		if h := e.history(t, id); h != "received/provider queued/system forwarded/user:1" {
			t.Errorf("history %s", h)
		}
		if err := e.svc.Triage(e.ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("Triage of no report: %v", err)
		}
	})
}

func TestTriageConcurrent(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		p := e.providers[0]
		const n = 6
		var ids []string
		for range n {
			ids = append(ids, e.submit(t, p, draft(false, hashItem(report.Hashes{SHA256: sha256Of(7)}))))
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				if err := e.svc.Triage(e.ctx, id); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		q := e.queue(t)
		if len(q) != 1 {
			t.Fatalf("queue %v, want one case", q)
		}
		if v := e.view(t, q[0]); len(v.Bundle) != n-1 {
			t.Errorf("the case bundles %d reports, want %d", len(v.Bundle), n-1)
		}
	})
}

func TestRetain(t *testing.T) {
	engines(t, triage.Options{Retention: 24 * time.Hour}, func(t *testing.T, e *env) {
		p := e.providers[0]
		img := pngOf(t, synth.Image(256, 256, 5))
		old := e.triaged(t, p, draft(false, fileItem, hashItem(report.Hashes{MD5: md5Of(1)})), img)
		recent := e.triaged(t, p, draft(false, fileItem), pngOf(t, synth.Image(256, 256, 6)))
		undecided := e.triaged(t, p, draft(false, hashItem(report.Hashes{MD5: md5Of(2)})))
		for _, id := range []string{old, recent} {
			if err := e.svc.Decide(e.ctx, "user:1", id, triage.Decision{Kind: triage.Forward}); err != nil {
				t.Fatal(err)
			}
		}
		before := e.view(t, old)
		err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE reports SET decided_at = $1 WHERE id = $2`, time.Now().Add(-25*time.Hour), old)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Content stays while the report is still being delivered.
		if err := e.svc.Retain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if v := e.view(t, old); v.Purged {
			t.Error("a report was purged before it was routed")
		}
		js, err := e.db.ClaimJobs(e.ctx, "test", []string{forward.JobRoute}, time.Now(), time.Minute, 10)
		if err != nil || len(js) != 2 {
			t.Fatalf("route jobs: %d, %v", len(js), err)
		}
		for _, j := range js {
			if err := e.db.CompleteJob(e.ctx, j.ID, "test", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.svc.Retain(e.ctx); err != nil {
			t.Fatal(err)
		}
		v := e.view(t, old)
		if !v.Purged || v.Report.State != report.StateForwarded || len(v.Report.Draft.Items) != 0 ||
			len(v.Report.Files) != 1 || v.Report.Files[0].SHA256 != before.Report.Files[0].SHA256 || v.Material != triage.MaterialNew {
			t.Errorf("purged report: %+v", v)
		}
		if h := e.history(t, old); h != "received/provider queued/system forwarded/user:1 purged/system" {
			t.Errorf("history %s", h)
		}
		if _, err := e.svc.FileContent(e.ctx, old, 0); !errors.Is(err, triage.ErrPurged) || !errors.Is(err, core.ErrNotFound) {
			t.Errorf("FileContent of a purged report: %v", err)
		}
		if _, err := e.reports.Open(e.ctx, old); err == nil {
			t.Error("a purged report opens")
		}
		if _, err := e.reports.OpenFile(e.ctx, p, old, 0); err == nil {
			t.Error("a purged file opens")
		}
		for _, id := range []string{recent, undecided} {
			if v := e.view(t, id); v.Purged || len(v.Report.Draft.Items) == 0 {
				t.Errorf("report %s was purged", id)
			}
		}
		if _, err := e.svc.FileContent(e.ctx, recent, 0); err != nil {
			t.Errorf("FileContent of a recent report: %v", err)
		}
		// Once is enough.
		if err := e.svc.Retain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if h := e.history(t, old); strings.Count(h, "purged") != 1 {
			t.Errorf("history after a second run: %s", h)
		}
	})
}

func TestRetainForever(t *testing.T) {
	engines(t, triage.Options{}, func(t *testing.T, e *env) {
		id := e.triaged(t, e.providers[0], draft(false, hashItem(report.Hashes{MD5: md5Of(1)})))
		if err := e.svc.Decide(e.ctx, "user:1", id, triage.Decision{Kind: triage.Forward}); err != nil {
			t.Fatal(err)
		}
		err := e.db.ReadWrite(e.ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE reports SET decided_at = $1 WHERE id = $2`, time.Now().AddDate(-10, 0, 0), id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Retain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if e.view(t, id).Purged {
			t.Error("purged with a retention of 0")
		}
	})
}
