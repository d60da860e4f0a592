package takedown_test

import (
	"bytes"
	"context"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// reopen makes e's service again with its options changed by adjust.
func (e *env) reopen(adjust func(*takedown.Options)) {
	adjust(&e.opts)
	e.svc = takedown.New(e.db.Takedown(), e.opts)
}

// trackedFetcher answers Fetch with a page and the images it embeds,
// each body a new allocation whose release the test observes: live[i]
// is true until the garbage collector has freed the body of item i.
type trackedFetcher struct {
	images [][]byte
	live   []atomic.Bool
}

func (f *trackedFetcher) resource(i int, raw, typ string, content []byte) crawl.Resource {
	b := bytes.Clone(content)
	f.live[i].Store(true)
	live := &f.live[i]
	runtime.AddCleanup(&b[0], func(l *atomic.Bool) { l.Store(false) }, live)
	return crawl.Resource{URL: raw, FinalURL: raw, Status: 200, ContentType: typ, Body: b, Addr: netip.MustParseAddr("127.0.0.1")}
}

func (f *trackedFetcher) Fetch(_ context.Context, raw string) (crawl.Result, error) {
	html := []byte("<html><body>" + strings.Repeat("<p>a gallery</p>", 1000) + "</body></html>")
	res := crawl.Result{Page: f.resource(0, raw, "text/html", html)}
	for i, b := range f.images {
		res.Embedded = append(res.Embedded, f.resource(i+1, raw+strconv.Itoa(i)+".png", "image/png", b))
	}
	return res, nil
}

func (f *trackedFetcher) Get(context.Context, string) crawl.Resource { return crawl.Resource{} }

// releaseSealer checks, at each sealing of an item's content, that the
// bodies of the items before it were released.
type releaseSealer struct {
	*seal.Sealer
	t      *testing.T
	f      *trackedFetcher
	sealed atomic.Int32
}

func (s *releaseSealer) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	prefix, rest, ok := strings.Cut(string(aad), "takedown_items.content:")
	if ok && prefix == "" {
		idx, _ := strconv.Atoi(rest[strings.LastIndexByte(rest, ':')+1:])
		s.sealed.Add(1)
		held := func() []int {
			var out []int
			for i := range idx {
				if s.f.live[i].Load() {
					out = append(out, i)
				}
			}
			return out
		}
		// Cleanups run after a collection, on a goroutine of their own.
		for range 50 {
			if len(held()) == 0 {
				break
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		if h := held(); len(h) > 0 {
			s.t.Errorf("sealing item %d, the bodies of items %v are still held", idx, h)
		}
	}
	return s.Sealer.Seal(ctx, plaintext, aad)
}

// TestFetchReleasesBodies: the fetch hashes and seals item by item and
// lets go of each body once done with it, so that a case's content is
// not held twice (clear and sealed) at once.
func TestFetchReleasesBodies(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), nil)
	f := &trackedFetcher{live: make([]atomic.Bool, 5)}
	for i := range 4 {
		f.images = append(f.images, storetest.Image(t, uint64(40+i)))
	}
	s := &releaseSealer{Sealer: e.sealer, t: t, f: f}
	e.reopen(func(o *takedown.Options) { o.Fetcher, o.Sealer = f, s })
	c := e.fetched(t, org.Principal{}, "http://127.0.0.1/gallery")
	if c.State != takedown.Assessing || len(c.Items) != 5 || s.sealed.Load() != 4 {
		t.Fatalf("state %s, %d items, %d sealed", c.State, len(c.Items), s.sealed.Load())
	}
	for i, it := range c.Items {
		if want := i > 0; it.HasContent != want {
			t.Errorf("item %d: content kept %v, want %v", i, it.HasContent, want)
		}
	}
}

// mp4 is the head of an MP4 file, as http.DetectContentType knows it.
var mp4 = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{7}, 2000)...)

// TestKeptContent: only images and videos are kept, and at most
// Options.MaxKeptBytes of a case (an item that fits in what is left
// still is); every item keeps its hashes.
func TestKeptContent(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		img, big, small := storetest.Image(t, 21), storetest.Image(t, 22), storetest.Image(t, 23)
		if len(big) < len(small) {
			big, small = small, big
		}
		e.site.set("/page.html", []byte(`<html><body><img src="/a.png"><img src="/blob.bin"><img src="/text.txt">`+
			`<img src="/v.mp4"><img src="/big.png"><img src="/b.png"></body></html>`))
		e.site.set("/a.png", img)
		e.site.set("/blob.bin", bytes.Repeat([]byte{0, 1, 2, 3}, 64<<10))
		e.site.set("/text.txt", []byte(strings.Repeat("just text ", 1000)))
		e.site.set("/v.mp4", mp4)
		e.site.set("/big.png", big)
		e.site.set("/b.png", small)
		// Room for a.png, the video and b.png, not big.png.
		e.reopen(func(o *takedown.Options) { o.MaxKeptBytes = int64(len(img) + len(mp4) + len(small)) })
		c := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		if c.State != takedown.Assessing || len(c.Items) != 7 {
			t.Fatalf("state %s, items %+v", c.State, c.Items)
		}
		for i, want := range []struct {
			typ  string
			kept bool
			note string
		}{
			{"text/html", false, ""},
			{"image/png", true, ""},
			{"application/octet-stream", false, ""},
			{"text/plain", false, ""},
			{"video/mp4", true, ""},
			{"image/png", false, "content not kept: over the case's limit"},
			{"image/png", true, ""},
		} {
			it := c.Items[i]
			if !strings.HasPrefix(it.ContentType, want.typ) || it.HasContent != want.kept || len(it.SHA256) != 64 ||
				!strings.HasPrefix(it.Error, want.note) || (want.note == "" && it.Error != "") {
				t.Errorf("item %d: type %q, kept %v, sha256 %q, error %q; want %+v", i, it.ContentType, it.HasContent, it.SHA256, it.Error, want)
			}
		}
		if c.FetchError != "" {
			t.Errorf("fetch error %q", c.FetchError)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM takedown_items WHERE case_id = $1 AND content_sealed IS NOT NULL`, c.ID); n != 3 {
			t.Errorf("%d items stored with content, want 3", n)
		}
	})
}

// TestContentRetention: a case's content is deleted Options.
// ContentRetention after its fetch by the sweep, whatever its state; its
// hashes and matches stay.
func TestContentRetention(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, _, _ := e.servePage(t)
		e.activate(t, a)
		old := e.fetched(t, org.Principal{}, e.site.url("/page.html"))
		e.clock.Add(time.Hour)
		young := e.fetched(t, org.Principal{}, e.site.url("/b.png"))
		e.clock.Add(takedown.DefaultContentRetention - time.Hour)
		if err := e.svc.RecheckDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		got := e.get(t, old.ID)
		if got.State != takedown.Assessing || len(got.Items) != 4 {
			t.Fatalf("after the retention: %+v", got)
		}
		for i, it := range got.Items {
			if it.HasContent || it.SHA256 != old.Items[i].SHA256 || len(it.Matches) != len(old.Items[i].Matches) {
				t.Errorf("item %d after the retention: %+v", i, it)
			}
		}
		if len(got.Items[1].Matches) == 0 {
			t.Error("the matches went with the content")
		}
		if last := got.Events[len(got.Events)-1]; last.Kind != takedown.EventContentDeleted || !last.At.Equal(e.clock.Now()) {
			t.Errorf("last event %+v", last)
		}
		if n := storetest.Count(t, e.db, `SELECT count(*) FROM audit_log WHERE action = 'takedown.content.expire' AND object = $1`,
			"case:"+old.ID); n != 1 {
			t.Errorf("%d audit entries of the deletion", n)
		}
		if y := e.get(t, young.ID); !y.Items[0].HasContent {
			t.Error("a case fetched within the retention lost its content")
		}
		// Nothing left to delete: a second sweep records nothing.
		if err := e.svc.RecheckDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(e.get(t, old.ID).Events); n != len(got.Events) {
			t.Errorf("%d events after a second sweep, want %d", n, len(got.Events))
		}
	})
}
