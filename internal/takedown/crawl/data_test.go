package crawl_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/takedown/crawl"
)

func TestDecodeData(t *testing.T) {
	for _, tc := range []struct {
		uri, mediaType, body string
		ok, bad              bool
	}{
		{"data:image/png;base64,aGk=", "image/png;base64", "hi", true, false},
		{"DATA:IMAGE/PNG;BASE64,aGk=", "image/png;base64", "hi", true, false},
		{"data:image/png;name=x.png;base64,aGk", "image/png;base64", "hi", true, false}, // padding optional
		{"data:image/png; base64 ,a G\nk\t=", "image/png;base64", "hi", true, false},    // white space ignored
		{"data:image/png;base64,aGk%3D", "image/png;base64", "hi", true, false},         // percent-decoded first
		{"data:video/mp4;base64,AAAAGGZ0eXA=", "video/mp4;base64", "\x00\x00\x00\x18ftyp", true, false},
		{"data:image/svg+xml,%3Csvg%2F%3E", "image/svg+xml", "<svg/>", true, false},
		{"data:image/gif,GIF89a%0", "image/gif", "GIF89a%0", true, false}, // a % without two hex digits stays
		{"data:image/x-icon,%00%ff%FF", "image/x-icon", "\x00\xff\xff", true, false},
		{"data:image/png;base64,a", "", "", true, true},
		{"data:image/png;base64,aG=k", "", "", true, true},
		{"data:image/png;base64,aGk===", "", "", true, true},
		{"data:image/png;base64,!!!!", "", "", true, true},
		{"data:text/plain;base64,aGk=", "", "", false, false},
		{"data:,hi", "", "", false, false},
		{"data:;base64,aGk=", "", "", false, false},
		{"data:image/;base64,aGk=", "", "", false, false},
		{"data:image/p<ng,x", "", "", false, false},
		{"data:image/png", "", "", false, false}, // no comma
		{"data:image/png;" + strings.Repeat("x", 300) + ",aGk=", "", "", false, false},
		{"https://site.example/a.png", "", "", false, false},
	} {
		mt, body, ok, err := crawl.DecodeData(tc.uri)
		switch {
		case ok != tc.ok:
			t.Errorf("%.60q: taken %v, want %v", tc.uri, ok, tc.ok)
		case tc.bad && (err == nil || err.Error() != "the inline data is not valid base64"):
			t.Errorf("%.60q: %v; want not valid base64", tc.uri, err)
		case ok && !tc.bad && (err != nil || mt != tc.mediaType || string(body) != tc.body):
			t.Errorf("%.60q: %q %q %v; want %q %q", tc.uri, mt, body, err, tc.mediaType, tc.body)
		}
	}
}

func percentEncode(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "%%%02X", c)
	}
	return s.String()
}

// TestFetchInline fetches a page whose images are data: URIs: each is an
// embedded resource, named briefly, counted toward the limits; other
// data: URIs are not taken.
func TestFetchInline(t *testing.T) {
	png1, png2 := pngOf(t, 11), pngOf(t, 12)
	b64 := base64.StdEncoding.EncodeToString(png1)
	wrapped := ""
	for i := 0; i < len(b64); i += 76 {
		wrapped += b64[i:min(i+76, len(b64))] + "\n"
	}
	page := fmt.Sprintf(`<!doctype html><img src="data:image/png;base64,%s"><img src="data:text/plain;base64,aGk=">`+
		`<picture><source srcset="data:image/png,%s 2x"></picture><img src="data:image/png;base64,%s">`+
		`<video poster="data:image/png;base64,!!!!"></video><img src="/a.png">`, b64, percentEncode(png2), wrapped)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprint(w, page)
			return
		}
		w.Write(png2)
	}))
	res, err := crawl.New(crawl.Config{AllowPrivate: true}).Fetch(t.Context(), srv.URL+"/")
	defer res.Release()
	if err != nil || res.Page.Err != nil {
		t.Fatal(err, res.Page.Err)
	}
	want := []struct {
		url  string
		body []byte
		err  string
	}{
		{fmt.Sprintf("data:image/png;base64 (inline, %d bytes, #1)", len(png1)), png1, ""},
		{fmt.Sprintf("data:image/png (inline, %d bytes, #2)", len(png2)), png2, ""},
		{fmt.Sprintf("data:image/png;base64 (inline, %d bytes, #3)", len(png1)), png1, ""}, // the same, wrapped
		{"data:image/png;base64 (inline, #4)", nil, "the inline data is not valid base64"},
		{srv.URL + "/a.png", png2, ""},
	}
	if len(res.Embedded) != len(want) {
		t.Fatalf("%d embedded, want %d", len(res.Embedded), len(want))
	}
	for i, w := range want {
		e := res.Embedded[i]
		if e.URL != w.url || string(e.Body) != string(w.body) || (e.Err == nil) != (w.err == "") || (e.Err != nil && e.Err.Error() != w.err) {
			t.Errorf("#%d: %s, %d bytes, %v; want %s, %d bytes, %q", i, e.URL, len(e.Body), e.Err, w.url, len(w.body), w.err)
		}
		if e.Err == nil && (e.FinalURL != e.URL || e.Status != 200 || e.Addr != loopback || e.ContentType != "image/png") {
			t.Errorf("#%d: %s, %d, %v, %s; want itself, 200 from the page's address, image/png", i, e.FinalURL, e.Status, e.Addr, e.ContentType)
		}
	}

	// The case's byte limit and the limit of resources hold for them.
	// Any three of the four images fit, not all four.
	limit := len(page) + len(png1) + len(png2) + max(len(png1), len(png2))
	res, err = crawl.New(crawl.Config{AllowPrivate: true, MaxCaseBytes: int64(limit)}).Fetch(t.Context(), srv.URL+"/")
	if err != nil || res.Page.Err != nil {
		t.Fatal(err, res.Page.Err)
	}
	defer res.Release()
	total, over := len(res.Page.Body), 0
	for _, e := range res.Embedded {
		total += len(e.Body)
		if errors.Is(e.Err, crawl.ErrTooLarge) && e.Err.Error() == fmt.Sprintf("over the %d bytes limit of a case", limit) {
			over++
		}
	}
	if over != 1 || total > limit {
		t.Errorf("%d over the case's limit, %d bytes in all; want 1, at most %d", over, total, limit)
	}
	res, err = crawl.New(crawl.Config{AllowPrivate: true, MaxResources: 2}).Fetch(t.Context(), srv.URL+"/")
	defer res.Release()
	if err != nil || len(res.Embedded) != 2 || res.Embedded[0].URL != want[0].url || res.Embedded[1].URL != want[1].url {
		t.Errorf("with MaxResources 2: %v, %d embedded; want the first 2", err, len(res.Embedded))
	}
}
