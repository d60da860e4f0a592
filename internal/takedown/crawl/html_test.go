package crawl_test

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/takedown/crawl"
)

// allocated returns what f allocates, in bytes.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// attrs returns n attributes, named apart if distinct, else all "a".
func attrs(n int, distinct bool) string {
	var b strings.Builder
	for i := range n {
		if distinct {
			fmt.Fprintf(&b, " a%d", i)
		} else {
			b.WriteString(" a")
		}
	}
	return b.String()
}

// TestEmbedsBounded scans pages made to cost much for the bytes they are:
// what they embed is found or skipped as documented, and the scan
// allocates a bounded amount, far from what the page could make a
// scan that builds every candidate and attribute allocate (hundreds of
// MiB for a page of a few MiB).
func TestEmbedsBounded(t *testing.T) {
	page, _ := url.Parse("https://site.example/")
	var srcset200 []string
	for i := range 200 {
		srcset200 = append(srcset200, fmt.Sprintf("%d.jpg %dw", i, i+1))
	}
	first64 := func() (w []string) {
		for i := range 64 {
			w = append(w, fmt.Sprintf("https://site.example/%d.jpg", i))
		}
		return w
	}()
	script := "<script>" + strings.Repeat("var x = 1 < 2;\n", 300<<10/15) + "</script>"
	for _, tc := range []struct {
		name, html string
		want       []string
		alloc      uint64 // at most, in bytes
	}{
		{"a srcset of 30,000 duplicates", `<img srcset="` + strings.Repeat("a.jpg, ", 30000) + `">`,
			[]string{"https://site.example/a.jpg"}, 2 << 20},
		{"the first 64 candidates of a srcset", `<img srcset="` + strings.Join(srcset200, ", ") + `">`, first64, 1 << 20},
		{"200,000 tags naming one image", strings.Repeat(`<img src="a.jpg">`, 200000) + `<img src="b.jpg">`,
			[]string{"https://site.example/a.jpg"}, 4 << 20},
		{"a tag of 500,000 attributes", "<img" + attrs(500000, false) + ` src="x.jpg"><img src="y.jpg">`,
			[]string{"https://site.example/y.jpg"}, 4 << 20},
		{"a tag of 200,000 attributes named apart", "<img" + attrs(200000, true) + ` src="x.jpg"><img src="y.jpg">`,
			[]string{"https://site.example/y.jpg"}, 16 << 20},
		{"attributes after the 64th", "<img" + attrs(100, true) + ` src="late.jpg"><img src="early.jpg"` + attrs(100, true) + ">",
			[]string{"https://site.example/early.jpg"}, 1 << 20},
		{"past the first 2 MiB", `<img src="a.jpg">` + strings.Repeat("<p>"+strings.Repeat("x", 1000), crawl.MaxScan/1000) + `<img src="b.jpg">`,
			[]string{"https://site.example/a.jpg"}, 8 << 20},
		{"after a script over 256 KiB", `<img src="a.jpg">` + script + `<img src="b.jpg">`,
			[]string{"https://site.example/a.jpg", "https://site.example/b.jpg"}, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.html)
			var got []string
			alloc := allocated(func() { got = crawl.Embeds(t.Context(), body, page, 1000) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %.200q\nwant %.200q", got, tc.want)
			}
			if alloc > tc.alloc {
				t.Errorf("the scan of %d KiB allocated %d KiB; want at most %d KiB", len(body)>>10, alloc>>10, tc.alloc>>10)
			}
		})
	}
}

// TestEmbedsContext checks that the scan stops when its context ends.
func TestEmbedsContext(t *testing.T) {
	page, _ := url.Parse("https://site.example/")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := crawl.Embeds(ctx, []byte(strings.Repeat(`<p>x</p><img src="a.jpg">`, 10000)), page, 50); got != nil {
		t.Errorf("a cancelled scan found %q", got)
	}
}

// TestEmbedsMaxURL checks that a URL longer than MaxURL is skipped, as
// written or resolved.
func TestEmbedsMaxURL(t *testing.T) {
	page, _ := url.Parse("https://site.example/")
	pad := func(n int) string {
		return "/" + strings.Repeat("p", n-len("https://site.example/")-len(".jpg")) + ".jpg"
	}
	html := fmt.Sprintf(`<img src="%s"><img src="%s"><img src="https://site.example%s"><a href="%s">x</a>`,
		pad(crawl.MaxURL), pad(crawl.MaxURL+1), pad(crawl.MaxURL+1), pad(crawl.MaxURL-1))
	want := []string{"https://site.example" + pad(crawl.MaxURL), "https://site.example" + pad(crawl.MaxURL-1)}
	if got := crawl.Embeds(t.Context(), []byte(html), page, 50); !slices.Equal(got, want) {
		t.Errorf("got %d URLs of lengths %v; want %v", len(got), lengths(got), lengths(want))
	}
}

func lengths(s []string) (n []int) {
	for _, x := range s {
		n = append(n, len(x))
	}
	return n
}

func TestLinks(t *testing.T) {
	page := `<html><head><base href="/dir/"></head><body>
<a href="next">next</a> <a href="/top#part">top</a> <a href="next">again</a>
<a href="https://other.example/x">other</a> <a href="mailto:a@example.org">mail</a> <a href="javascript:void(0)">js</a>
<area href="map.html"> <a href="data:image/png;base64,iVBORw0KGgo=">inline</a> <a href="self.html">self</a>
<img src="img.png"> <a href="b.jpg">image</a> <a>no href</a>`
	r := crawl.Resource{URL: "http://site.example/dir/self.html", FinalURL: "http://site.example/dir/self.html", ContentType: "text/html", Body: []byte(page)}
	want := []string{"http://site.example/dir/next", "http://site.example/top", "https://other.example/x",
		"http://site.example/dir/map.html", "http://site.example/dir/b.jpg"}
	if got := crawl.Links(t.Context(), r, 10); !slices.Equal(got, want) {
		t.Errorf("Links = %q; want %q", got, want)
	}
	if got := crawl.Links(t.Context(), r, 2); !slices.Equal(got, want[:2]) {
		t.Errorf("Links with limit 2 = %q; want %q", got, want[:2])
	}
	r.ContentType = "image/png"
	if got := crawl.Links(t.Context(), r, 10); got != nil {
		t.Errorf("Links of an image = %q; want none", got)
	}
	// Embeds is unchanged: an area is not media, nor a link to a page.
	base, _ := url.Parse(r.FinalURL)
	if got := crawl.Embeds(context.Background(), []byte(page), base, 10); !slices.Equal(got,
		[]string{"data:image/png;base64,iVBORw0KGgo=", "http://site.example/dir/img.png", "http://site.example/dir/b.jpg"}) {
		t.Errorf("Embeds = %q", got)
	}
}
