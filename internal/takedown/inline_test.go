package takedown_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// crawled runs test on each engine with package crawl's fetcher (which
// decodes data: URIs and records certificate problems) instead of the
// tests' plain one.
func crawled(t *testing.T, test func(t *testing.T, e *env)) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		t.Parallel()
		test(t, newEnv(t, open(t), func(o *takedown.Options) { o.Fetcher = crawl.New(crawl.Config{AllowPrivate: true}) }))
	})
}

func inlineImg(b []byte) string {
	return `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(b) + `">`
}

// reencoded is PNG b encoded again: other bytes, the same pixels.
func reencoded(t *testing.T, b []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out.Bytes(), b) {
		t.Fatal("the image encoded again has the same bytes")
	}
	return out.Bytes()
}

// TestInlineItems: images inline in a page (data: URIs), one known
// material and one assessed baseline, are part of the page: hosted where
// it is, noticed by the page's URL (once), reported to the police with
// it, still there while the page embeds them (the same bytes, or the same
// pixels encoded again), and verified gone once it no longer does.
func TestInlineItems(t *testing.T) {
	crawled(t, func(t *testing.T, e *env) {
		a, b := storetest.Image(t, 1), storetest.Image(t, 2)
		e.activate(t, a)
		e.site.set("/page.html", []byte("<html><body>"+inlineImg(a)+inlineImg(b)+"</body></html>"))
		raw := e.site.url("/page.html")
		c := e.fetched(t, org.Principal{}, raw)
		if c.State != takedown.Assessing || len(c.Items) != 3 || c.Items[0].URL != raw {
			t.Fatalf("fetched: %+v", c)
		}
		for _, it := range c.Items[1:] {
			if !strings.HasPrefix(it.URL, "data:image/png;base64 (inline, ") || it.Hosting.Host != e.host.ID || it.Hosting.Country != "NL" {
				t.Fatalf("inline item %d: %+v", it.Index, it)
			}
		}
		if len(c.Items[1].Matches) == 0 || !c.Items[2].HasContent {
			t.Fatalf("inline items: %+v", c.Items[1:])
		}
		c, err := e.svc.Assess(e.ctx, e.analyst(e.hotlineNL), c.ID, takedown.Assessment{Items: classify(takedown.NotIllegal, takedown.Baseline, takedown.Baseline)})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Notices) != 1 || !slices.Equal(c.Notices[0].URLs, []string{raw}) || c.Notices[0].Host != e.host.ID {
			t.Fatalf("notices %+v", c.Notices)
		}
		n := c.Notices[0]
		e.drain(t, takedown.JobNotice, e.svc.SendNotice)
		if got := e.hook.all(); len(got) != 1 || !strings.Contains(string(got[0].body), `"urls":["`+raw+`"]`) {
			t.Fatalf("notices received: %v", got)
		}

		// The report to the police gives the page's URL for both.
		e.drain(t, takedown.JobRefer, e.svc.Refer)
		if dead := storetest.Count(t, e.db, `SELECT count(*) FROM jobs WHERE dead_at IS NOT NULL`); dead != 0 {
			t.Fatalf("%d dead jobs", dead)
		}
		c = e.get(t, c.ID)
		if c.Referral == "" {
			t.Fatalf("not referred: %+v", c)
		}
		r, err := e.reports.Open(e.ctx, c.Referral)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != report.StateForwarded || len(r.Draft.Items) != 2 || r.Draft.Items[0].URL != raw || r.Draft.Items[1].URL != raw ||
			r.Draft.Items[1].Kind != report.ItemFile || !strings.Contains(r.Draft.AdditionalInfo, "2 of them are inline on the page") {
			t.Fatalf("referral %+v", r)
		}

		// The page embeds them still, b encoded again: there.
		e.site.set("/page.html", []byte("<html><body>"+inlineImg(a)+inlineImg(reencoded(t, b))+"</body></html>"))
		e.clock.Add(takedown.DefaultRecheck)
		e.sweep(t)
		for _, it := range e.get(t, c.ID).Items[1:] {
			if it.LastCheckAt.IsZero() || !it.GoneAt.IsZero() || !it.RemovedAt.IsZero() {
				t.Fatalf("item %d while on the page: %+v", it.Index, it)
			}
		}

		// The page no longer embeds them (another image instead): the
		// host's answer rechecks both at once, and a later check
		// confirms it.
		e.site.set("/page.html", []byte("<html><body>"+inlineImg(storetest.Image(t, 99))+"</body></html>"))
		answered := e.clock.Add(time.Minute)
		if recheck, err := e.svc.Answer(e.ctx, e.hostKey(e.host), n.ID); err != nil || !recheck {
			t.Fatalf("answer: %v, %v", recheck, err)
		}
		for _, it := range e.get(t, c.ID).Items[1:] {
			if !it.NextCheckAt.Equal(answered) {
				t.Fatalf("item %d after the answer: %+v", it.Index, it)
			}
		}
		e.sweep(t)
		for _, it := range e.get(t, c.ID).Items[1:] {
			if !it.GoneAt.Equal(answered) || !it.RemovedAt.IsZero() {
				t.Fatalf("item %d found gone once: %+v", it.Index, it)
			}
		}
		e.clock.Add(takedown.DefaultConfirmAfter)
		e.sweep(t)
		c = e.get(t, c.ID)
		if c.State != takedown.Removed || !c.RemovedAt.Equal(answered) || !c.Items[1].RemovedAt.Equal(answered) || !c.Items[2].RemovedAt.Equal(answered) {
			t.Fatalf("removed: %s at %v, items %+v", c.State, c.RemovedAt, c.Items)
		}
	})
}

// TestTLSErrorRecorded: a page and image served with a certificate that
// is not valid are fetched all the same, and each item says what is wrong
// with the certificate, without it being the case's fetch error.
func TestTLSErrorRecorded(t *testing.T) {
	img := storetest.Image(t, 5)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a.png" {
			w.Write(img)
			return
		}
		w.Write([]byte(`<html><body><img src="/a.png"></body></html>`))
	}))
	t.Cleanup(srv.Close)
	crawled(t, func(t *testing.T, e *env) {
		c := e.fetched(t, org.Principal{}, srv.URL+"/page.html")
		const want = "TLS: x509: certificate signed by unknown authority; fetched anyway"
		if c.State != takedown.Assessing || c.FetchError != "" || len(c.Items) != 2 {
			t.Fatalf("fetched: %+v", c)
		}
		for _, it := range c.Items {
			if it.Error != want || it.SHA256 == "" {
				t.Errorf("item %d: error %q, want %q", it.Index, it.Error, want)
			}
		}
		if !c.Items[1].HasContent {
			t.Errorf("the image's content is not kept: %+v", c.Items[1])
		}
	})
}
