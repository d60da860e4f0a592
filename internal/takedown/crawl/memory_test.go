package crawl_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/takedown/crawl"
)

// TestTrickle checks that a declared length is not allocated before the
// bytes come: a server declares 32 MiB, sends 1 KiB and hangs up.
func TestTrickle(t *testing.T) {
	const declared = 32 << 20
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(declared))
		w.Write(make([]byte, 1<<10))
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	f := crawl.New(crawl.Config{AllowPrivate: true})
	var res crawl.Resource
	alloc := allocated(func() { res = f.Get(t.Context(), srv.URL+"/") })
	if res.Err == nil || res.Body != nil {
		t.Errorf("%+v; want the cut answer failed", res)
	}
	// The server's allocations count too: a few hundred KiB.
	if alloc > 2<<20 {
		t.Errorf("fetching 1 KiB of a declared 32 MiB allocated %d KiB; want at most 2 MiB", alloc>>10)
	}
}

// TestMemory checks that a fetch holds its content's buffers in the
// fetch memory until released, and gives back what it does not keep.
func TestMemory(t *testing.T) {
	img := pngOf(t, 21)
	big := bytes.Repeat([]byte{1}, 3<<20)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<img src="/a.png"><img src="/b.png"><img src="/big"><img src="/chunked"><img src="/gone">`)
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/chunked":
			for range 3 {
				w.Write(big[:1<<20])
				w.(http.Flusher).Flush()
			}
		case "/gone":
			http.NotFound(w, r)
		default:
			w.Write(img)
		}
	}))
	mem := crawl.NewMemory(64 << 20)
	f := crawl.New(crawl.Config{AllowPrivate: true, Memory: mem, MaxResourceBytes: 4 << 20})
	res, err := f.Fetch(t.Context(), srv.URL+"/")
	if err != nil || res.Page.Err != nil || len(res.Embedded) != 5 {
		t.Fatalf("%v, %+v", err, res)
	}
	var bodies, capacity int64
	for _, r := range append(res.Embedded, res.Page) {
		bodies, capacity = bodies+int64(len(r.Body)), capacity+int64(cap(r.Body))
	}
	if s := mem.Stats(); s.InUse != capacity || s.InUse < bodies {
		t.Errorf("holding %d bytes in buffers of %d: %d in use; want the buffers'", bodies, capacity, s.InUse)
	}
	// Bodies with a length are held as they are; others with room to grow
	// by at most a quarter, beyond 64 KiB.
	for _, r := range res.Embedded {
		if len(r.Body) > 64<<10 && cap(r.Body) > len(r.Body)*5/4 {
			t.Errorf("%s: a buffer of %d bytes for %d", r.URL, cap(r.Body), len(r.Body))
		}
	}
	if c := cap(res.Embedded[2].Body); c != len(big) {
		t.Errorf("a body of a declared %d bytes in a buffer of %d", len(big), c)
	}
	res.Embedded[0].Release()
	if s := mem.Stats(); s.InUse != capacity-int64(cap(res.Embedded[0].Body)) {
		t.Errorf("one released: %d in use; want %d", s.InUse, capacity-int64(cap(res.Embedded[0].Body)))
	}
	res.Release()
	res.Release()
	if s := mem.Stats(); s.InUse != 0 || s.Running != 0 {
		t.Errorf("all released: %+v; want nothing in use", s)
	}

	// A resource that fails keeps nothing, released or not.
	f = crawl.New(crawl.Config{AllowPrivate: true, Memory: mem, MaxResourceBytes: 2 << 20})
	for _, path := range []string{"/big", "/chunked"} {
		if r := f.Get(t.Context(), srv.URL+path); !errors.Is(r.Err, crawl.ErrTooLarge) {
			t.Errorf("%s: %v; want too large", path, r.Err)
		}
		if s := mem.Stats(); s.InUse != 0 {
			t.Errorf("%s failed: %d in use; want 0", path, s.InUse)
		}
	}
	// A Get is held until released.
	r := f.Get(t.Context(), srv.URL+"/a.png")
	if s := mem.Stats(); r.Err != nil || s.InUse != int64(len(img)) {
		t.Errorf("a Get: %v, %d in use; want %d", r.Err, s.InUse, len(img))
	}
	r.Release()
	// Without Memory, Release does nothing.
	crawl.New(crawl.Config{AllowPrivate: true}).Get(t.Context(), srv.URL+"/a.png").Release()
	crawl.Resource{}.Release()
}

// TestMemoryBusy checks that a fetch that cannot get memory in time
// fails with ErrBusy, for the job to be tried again, not with a timeout.
func TestMemoryBusy(t *testing.T) {
	img := pngOf(t, 22)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprint(w, `<!doctype html><img src="/a.png">`)
			return
		}
		w.Write(img)
	}))
	const says = "the server's fetch memory is in use; the fetch is retried later"
	for _, tc := range []struct {
		name string
		wait time.Duration // the memory's
		cfg  crawl.Config
	}{
		{"the memory's wait", 50 * time.Millisecond, crawl.Config{}},
		{"the resource's time limit", time.Minute, crawl.Config{ResourceTimeout: 100 * time.Millisecond}},
		{"the case's time limit", time.Minute, crawl.Config{CaseTimeout: 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := media.NewBudget(1<<20, math.MaxInt, tc.wait)
			hold, err := mem.Acquire(t.Context(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			tc.cfg.AllowPrivate, tc.cfg.Memory = true, mem
			f := crawl.New(tc.cfg)
			r := f.Get(t.Context(), srv.URL+"/a.png")
			if !errors.Is(r.Err, crawl.ErrBusy) || !errors.Is(r.Err, media.ErrBusy) || !errors.Is(r.Err, core.ErrUnavailable) ||
				r.Err.Error() != says || r.Body != nil {
				t.Errorf("%+v; want %q", r, says)
			}
			hold()
			r = f.Get(t.Context(), srv.URL+"/a.png")
			if r.Err != nil || !bytes.Equal(r.Body, img) {
				t.Errorf("with memory: %v", r.Err)
			}
			r.Release()
			if s := mem.Stats(); s.InUse != 0 {
				t.Errorf("%d in use after all", s.InUse)
			}
		})
	}
	// A caller that gives up while the fetch waits gets its context's
	// error.
	mem := media.NewBudget(1<<20, math.MaxInt, time.Minute)
	hold, _ := mem.Acquire(t.Context(), 1<<20)
	defer hold()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if r := crawl.New(crawl.Config{AllowPrivate: true, Memory: mem}).Get(ctx, srv.URL+"/a.png"); !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("the caller's context ending: %v; want its error", r.Err)
	}
}

// TestMemoryUnreleased checks the safeguard: a Resource dropped without
// Release gives its memory back once collected.
func TestMemoryUnreleased(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 100<<10)) }))
	mem := crawl.NewMemory(16 << 20)
	f := crawl.New(crawl.Config{AllowPrivate: true, Memory: mem})
	for range 3 {
		if r := f.Get(t.Context(), srv.URL+"/"); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for range 100 {
		if mem.Stats().InUse == 0 {
			return
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d bytes still in use after the resources were collected", mem.Stats().InUse)
}

// TestHostilePage fetches a page of 31 MiB that arrives as 31 KiB of
// gzip: one srcset of 11 million candidates. The fetch keeps the page,
// and its scan takes no more than the page's own memory.
func TestHostilePage(t *testing.T) {
	member := func(s string) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	// Gzip members follow each other in one stream.
	var gz bytes.Buffer
	gz.Write(member(`<html><img srcset="`))
	candidates := member(strings.Repeat("a, ", 1<<20))
	for range 10 {
		gz.Write(candidates)
	}
	gz.Write(member(`"><img src="b.png"></html>`))
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/" {
			w.Write(gz.Bytes())
		}
	}))
	mem := crawl.NewMemory(256 << 20)
	f := crawl.New(crawl.Config{AllowPrivate: true, Memory: mem})
	var res crawl.Result
	alloc := allocated(func() { res, _ = f.Fetch(t.Context(), srv.URL+"/") })
	defer res.Release()
	if res.Page.Err != nil || len(res.Page.Body) != 30<<20+len(`<html><img srcset="`)+len(`"><img src="b.png"></html>`) || len(res.Embedded) != 0 {
		t.Fatalf("%v, %d bytes, %d embedded; want the page, nothing embedded", res.Page.Err, len(res.Page.Body), len(res.Embedded))
	}
	// The body's buffers, as it grows, are most of it: about 5 times 31
	// MiB, not the GiB a scan of every candidate would take.
	if alloc > 256<<20 {
		t.Errorf("the fetch allocated %d MiB; want at most 256", alloc>>20)
	}
	if s := mem.Stats(); s.InUse != int64(cap(res.Page.Body)) {
		t.Errorf("%d bytes in use; want the page's buffer, %d", s.InUse, cap(res.Page.Body))
	}
}
