package web_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/web/browsertest"
)

// pdqImages are the shared PDQ test vectors' images beside the
// repository, or, where they are absent, the repository's own subset.
func pdqImages(t testing.TB) []string {
	t.Helper()
	for _, dir := range []string{"../../../shared/testdata/pdq/images", "../hashing/pdq/testdata/images"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		var paths []string
		for _, e := range entries {
			if !e.IsDir() {
				p, err := filepath.Abs(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
		}
		if len(paths) > 0 {
			return paths
		}
	}
	t.Fatal("no PDQ test images")
	return nil
}

// wardHash runs "ward hash" on paths and returns its records by path.
func wardHash(t *testing.T, paths []string) map[string]map[string]any {
	t.Helper()
	var out, errs bytes.Buffer
	code := cli.Server{Serve: &cli.Command{Name: "serve"}}.Run(context.Background(), &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, append([]string{"hash"}, paths...))
	recs := map[string]map[string]any{}
	for line := range strings.Lines(out.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs[r["path"].(string)] = r
	}
	if len(recs) != len(paths) {
		t.Fatalf("ward hash (status %d) gave %d records for %d files: %s", code, len(recs), len(paths), errs.String())
	}
	return recs
}

// pageRow is one file's row of the page's table.
type pageRow struct {
	File, PDQ, Quality, MD5, SHA256, Note string
}

const rowsJS = `JSON.stringify(Array.from(document.querySelectorAll("#hashes tbody tr")).map(tr => {
  const q = (c) => { const e = tr.querySelector("." + c); return e ? e.textContent : ""; };
  const quality = tr.querySelector(".quality");
  return {File: tr.dataset.file, PDQ: q("pdq"), Quality: quality ? quality.dataset.quality : "", MD5: q("md5"), SHA256: q("sha256"), Note: q("note")};
}))`

// choose sets the files of the page's input, as a person's choice in the
// picker would (headless Chromium has no picker), and waits until the
// page has hashed them all.
func (b tab) choose(paths ...string) []pageRow {
	b.t.Helper()
	b.do(chromedp.SetUploadFiles(chromedp.ID("files"), paths))
	want := "Done: " + strconv.Itoa(len(paths)) + " files."
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("progress").textContent.startsWith(`+strconv.Quote(want)+`)`,
		chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		b.t.Fatalf("hashing %d files: %v; the page says %q", len(paths), err, b.text("progress"))
	}
	var rows []pageRow
	if err := json.Unmarshal([]byte(b.eval(rowsJS)), &rows); err != nil {
		b.t.Fatal(err)
	}
	return rows
}

// ready opens the page and waits until its WebAssembly has started.
func (b tab) openHelp(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url + "/help/remove"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("progress").textContent.startsWith("Ready")`)); err != nil {
		b.t.Fatalf("the page did not get ready: %v; it says %q", err, b.text("progress"))
	}
}

// TestHelpRemoveHashesLikeWardHash: in Chromium, the page hashes every
// image of the shared PDQ test vectors, and each of its hashes is what
// "ward hash" prints for the file; sent, the request carries the hashes
// (a few hundred bytes an image) and nothing of the files.
func TestHelpRemoveHashesLikeWardHash(t *testing.T) {
	site := startHelp(t, nil)
	b := tab{t, browsertest.Start(t)}
	paths := pdqImages(t)
	want := wardHash(t, paths)
	b.openHelp(site.srv.URL)
	rows := b.choose(paths...)
	if len(rows) != len(paths) {
		t.Fatalf("%d rows for %d files", len(rows), len(paths))
	}
	pdqs := 0
	for i, row := range rows {
		w := want[paths[i]]
		name := filepath.Base(paths[i])
		if row.File != name {
			t.Fatalf("row %d is %s, want %s", i, row.File, name)
		}
		str := func(k string) string { s, _ := w[k].(string); return s }
		quality := ""
		if q, ok := w["quality"].(float64); ok {
			quality = strconv.Itoa(int(q))
		}
		if row.PDQ != str("pdq") || row.Quality != quality || row.MD5 != str("md5") || row.SHA256 != str("sha256") {
			t.Errorf("%s: the page has pdq %q quality %q md5 %q sha256 %q; ward hash %v", name, row.PDQ, row.Quality, row.MD5, row.SHA256, w)
		}
		if str("error") != "" && row.Note == "" {
			t.Errorf("%s: ward hash fails (%s), the page says nothing", name, str("error"))
		}
		if row.PDQ != "" {
			pdqs++
		}
	}
	if pdqs < len(paths)*9/10 {
		t.Errorf("only %d of %d files have a PDQ hash", pdqs, len(paths))
	}

	// Over 100 hashes go in parts; the rate limit refuses the second, so
	// the case is shown with the rest still to send, and sent again.
	distinct := map[string]bool{}
	for _, row := range rows {
		for _, v := range []string{row.PDQ, row.MD5, row.SHA256} {
			if v != "" {
				distinct[v] = true
			}
		}
	}
	parts := (len(distinct) + 99) / 100
	if parts < 2 {
		t.Fatalf("%d hashes: one request", len(distinct))
	}
	site.refuseAdds.Store(1)
	b.do(chromedp.Click(chromedp.ID("send")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.getElementById("send-error").hidden`)); err != nil {
		t.Fatalf("sending: %v", err)
	}
	if c, s := b.text("case"), b.text("secret"); c != "VK7Q-2M4D-PZ6A-9RTB" || s != "SECRET-abcdefghijklmnopqrst" {
		t.Errorf("the page shows case %q secret %q", c, s)
	}
	if e := b.text("send-error"); !strings.HasPrefix(e, "Only 100 of the "+strconv.Itoa(len(distinct))+" fingerprints were sent.") || !strings.Contains(e, "Too many requests") {
		t.Errorf("the alert says %q", e)
	}
	b.do(chromedp.Click(chromedp.ID("send")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.getElementById("result-added").hidden`)); err != nil {
		t.Fatalf("sending the rest: %v; %s", err, b.text("send-error"))
	}
	// The opening, the refused addition, then all again to the case.
	checkSent(t, site, paths, 2+parts)
	got := map[string]bool{}
	for _, p := range site.posts() {
		var body struct {
			Hashes []struct{ Signal, Value string }
		}
		if err := json.Unmarshal(p.Body, &body); err != nil || len(body.Hashes) > 100 {
			t.Errorf("%s: %d hashes, %v", p.Path, len(body.Hashes), err)
		}
		for _, h := range body.Hashes {
			got[h.Value] = true
		}
	}
	if len(got) != len(distinct) {
		t.Errorf("%d hashes sent, want %d", len(got), len(distinct))
	}
}

// checkSent checks that the page sent n requests with a body, POSTs of
// JSON to the victim-case routes, under 4 KB an image in all, and that none
// holds any 64-byte run of any of the files.
func checkSent(t *testing.T, site *helpSite, paths []string, n int) {
	t.Helper()
	posts := site.posts()
	if len(posts) != n {
		t.Fatalf("the page sent %d requests with a body, want %d: %v", len(posts), n, posts)
	}
	runs := map[string]bool{}
	total := 0
	for _, p := range posts {
		if p.Method != http.MethodPost || !strings.HasPrefix(p.Path, "/v1/public/victim-cases") || p.ContentType != "application/json" {
			t.Errorf("the page sent %s %s (%s)", p.Method, p.Path, p.ContentType)
		}
		total += len(p.Body)
		for i := 0; i+64 <= len(p.Body); i++ {
			runs[string(p.Body[i:i+64])] = true
		}
	}
	if per := total / len(paths); per >= 4<<10 {
		t.Errorf("the page sent %d bytes an image", per)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+64 <= len(data); i++ {
			if runs[string(data[i:i+64])] {
				t.Fatalf("a request carries 64 bytes of %s at offset %d", p, i)
			}
		}
	}
	t.Logf("%d bytes sent for %d files", total, len(paths))
}

// lowContrastJS lists the visible elements with text whose colour has a
// contrast under 4.5:1 with the background they are on (WCAG 2.2 AA).
const lowContrastJS = `(() => {
  const rgb = (c) => c.match(/[\d.]+/g).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor, v = rgb(c); if (v.length < 4 || v[3] > 0) return c; } return "rgb(255, 255, 255)"; };
  const bad = [];
  for (const e of document.querySelectorAll("body *")) {
    if (!e.checkVisibility() || ![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const a = lum(getComputedStyle(e).color), b = lum(bg(e)), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(e.tagName + " " + ratio.toFixed(2) + " " + e.textContent.trim().slice(0, 40));
  }
  return JSON.stringify(bad);
})()`

// TestHelpRemoveKeyboard: at a phone's width, with the keyboard alone,
// a person reaches the file input, the contact field and the button,
// each with a visible focus, every text in enough contrast; types the contact; sends with Space; adds
// to the case with Enter; and shows the services of a country chosen in
// the list with the arrow keys and Enter.
func TestHelpRemoveKeyboard(t *testing.T) {
	site := startHelp(t, &directory{services: testServices})
	b := tab{t, browsertest.Start(t)}
	paths := pdqImages(t)[:1]
	b.do(chromedp.EmulateViewport(360, 740))
	b.openHelp(site.srv.URL)
	if w := b.eval("String(document.documentElement.scrollWidth)"); w != "360" {
		t.Errorf("the page is %s px wide on a 360 px screen", w)
	}
	focusVisible := `(() => { const e = document.activeElement, s = getComputedStyle(e);
	  return e.matches(":focus-visible") && s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2; })()`
	// tabTo presses Tab until id has the focus, checks it is visible,
	// and returns the ids passed on the way.
	tabTo := func(id string) []string {
		t.Helper()
		var passed []string
		for range 40 {
			b.do(chromedp.KeyEvent("\t"))
			got := b.eval("document.activeElement.id || document.activeElement.tagName")
			if got == id {
				if v := b.eval("String(" + focusVisible + ")"); v != "true" {
					t.Errorf("the focus on %s is not visible", id)
				}
				return passed
			}
			passed = append(passed, got)
		}
		t.Fatalf("Tab does not reach %s; it passes %v", id, passed)
		return nil
	}
	tabTo("files")
	b.choose(paths...)
	if passed := tabTo("contact"); len(passed) > 3 {
		t.Errorf("from the files to the contact, Tab passes %v", passed)
	}
	b.do(chromedp.KeyEvent("victim@example.org"))
	if p := b.eval(`document.getElementById("payload").textContent`); !strings.Contains(p, `"contact": "victim@example.org"`) || !strings.Contains(p, `"signal": "pdq"`) {
		t.Errorf("the page says it sends %s", p)
	}
	if bad := b.eval(lowContrastJS); bad != "[]" {
		t.Errorf("text in low contrast: %s", bad)
	}
	tabTo("send")
	b.do(chromedp.KeyEvent(" "))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("case").textContent !== ""`)); err != nil {
		t.Fatalf("sending with Space: %v; %s", err, b.text("send-error"))
	}
	if id := b.eval("document.activeElement.id"); id != "result-heading" {
		t.Errorf("after sending, the focus is on %q", id)
	}
	if w := b.eval("String(document.documentElement.scrollWidth)"); w != "360" {
		t.Errorf("with the case shown, the page is %s px wide on a 360 px screen", w)
	}
	checkSent(t, site, paths, 1)
	if bad := b.eval(lowContrastJS); bad != "[]" {
		t.Errorf("text in low contrast: %s", bad)
	}
	var first struct {
		Hashes  []struct{ Signal, Value string }
		Contact string
	}
	if err := json.Unmarshal(site.posts()[0].Body, &first); err != nil || len(first.Hashes) != 3 || first.Contact != "victim@example.org" {
		t.Errorf("sent %s (%v)", site.posts()[0].Body, err)
	}

	// More files go to the same case, whose number and secret the page
	// filled in (a second case would replace them on screen): Enter.
	if c, sec := b.eval(`document.getElementById("add-case").value`), b.eval(`document.getElementById("add-secret").value`); c != "VK7Q-2M4D-PZ6A-9RTB" || sec != "SECRET-abcdefghijklmnopqrst" {
		t.Errorf("after opening a case, the fields to add to it hold %q and %q", c, sec)
	}
	b.choose(paths...)
	b.do(chromedp.Click(chromedp.CSS("#existing summary")), chromedp.Focus(chromedp.ID("add-case")), chromedp.KeyEvent("\r"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.getElementById("result-added").hidden`)); err != nil {
		t.Fatalf("adding with Enter: %v; %s", err, b.text("send-error"))
	}
	if got := b.text("result-added"); got != "The fingerprints were added to case VK7Q-2M4D-PZ6A-9RTB." {
		t.Errorf("the page says %q", got)
	}
	posts := site.posts()
	if last := posts[len(posts)-1]; last.Path != "/v1/public/victim-cases/VK7Q-2M4D-PZ6A-9RTB/hashes" || last.Authorization != "Bearer SECRET-abcdefghijklmnopqrst" ||
		strings.Contains(string(last.Body), "contact") {
		t.Errorf("added with %s %q %s", last.Path, last.Authorization, last.Body)
	}

	// A wrong secret: the API's words, in the alert.
	b.choose(paths...)
	b.do(chromedp.SetValue(chromedp.ID("add-secret"), "wrong"), chromedp.Focus(chromedp.ID("send")), chromedp.KeyEvent("\r"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.getElementById("send-error").hidden`)); err != nil {
		t.Fatal(err)
	}
	if got := b.text("send-error"); got != "Sending did not work: the case number or the secret is wrong" {
		t.Errorf("the alert says %q", got)
	}

	// While a case is shown, the services of another country open in
	// another tab, so that the case stays on screen.
	if target := b.eval(`document.getElementById("services-form").target`); target != "_blank" {
		t.Errorf("with a case shown, the services form's target is %q", target)
	}

	// The services of a country chosen with the keyboard, on a fresh page.
	b.openHelp(site.srv.URL)
	b.do(chromedp.Focus(chromedp.ID("country")))
	for b.eval(`document.getElementById("country").value`) != "AT" {
		b.do(chromedp.KeyEvent(kb.ArrowDown))
	}
	b.do(chromedp.KeyEvent("\t"))
	if id := b.eval("document.activeElement.id"); id != "show-services" {
		t.Fatalf("after the country, the focus is on %q", id)
	}
	if status := b.load(chromedp.KeyEvent("\r")); status != http.StatusOK || !strings.Contains(b.text("services"), "Rat auf Draht Test") {
		t.Errorf("services: %d %q", status, b.body())
	}
}

// BenchmarkBrowserHash12MP: the page's hashing of a 12-megapixel JPEG in
// Chromium (its worker reading the file and running hash.wasm's
// wardHash), in milliseconds. Sensor-like noise on
// the synthetic image makes the file as large as a phone's photo (some
// megabytes), which decodes slower than a smooth image's.
func BenchmarkBrowserHash12MP(b *testing.B) {
	img := synth.Image(4000, 3000, 12)
	x := uint32(12)
	for i := range img.Pix {
		if i%4 == 3 {
			continue
		}
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = uint8(min(255, max(0, int(img.Pix[i])+int(x%33)-16)))
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	site := startHelp(b, nil)
	site.extra = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jpg.Bytes()) })
	ctx := browsertest.Start(b)
	if err := chromedp.Do(ctx, chromedp.Navigate(site.srv.URL+"/help/remove")); err != nil {
		b.Fatal(err)
	}
	// A worker of the page's own, given the JPEG as a file.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
	  const w = new Worker("/static/hash-worker.js");
	  await new Promise((resolve, reject) => w.addEventListener("message", (e) => "ready" in e.data && (e.data.ready ? resolve() : reject(e.data.error))));
	  const data = await (await fetch("/test/12mp.jpg")).arrayBuffer();
	  window.bench = { w, file: new File([data], "12mp.jpg", { type: "image/jpeg" }), id: 0 };
	  return true;
	})()`, chromedp.EvalAwaitPromise)); err != nil {
		b.Fatal(err)
	}
	var total float64
	b.ResetTimer()
	for range b.N {
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((resolve, reject) => {
		  const { w, file } = window.bench, id = ++window.bench.id, t0 = performance.now();
		  w.onmessage = (e) => { if (e.data.id !== id) return;
		    if (e.data.error || !e.data.result.pdq) reject(new Error(e.data.error || e.data.result.error)); else resolve(performance.now() - t0); };
		  w.postMessage({ id, file });
		})`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		total += ms
	}
	b.ReportMetric(total/float64(b.N), "ms/image")
	b.ReportMetric(float64(jpg.Len()), "jpeg-bytes")
}

// TestHelpRemoveVideoAndTooLarge: a video is hashed in slices (MD5 and
// SHA-256 of the whole file, across slice boundaries), a picture over the
// decoder's pixel limit gets its digests and a note, and neither has a
// PDQ hash.
func TestHelpRemoveVideoAndTooLarge(t *testing.T) {
	dir := t.TempDir()
	video := make([]byte, 9<<20+123) // more than two of the page's slices
	for i := range video {
		video[i] = byte(i*7 + i>>11)
	}
	// A PNG whose header says 10000x10000 pixels, over the 50 megapixel
	// limit: refused after the header.
	ihdr := []byte("IHDR\x00\x00\x27\x10\x00\x00\x27\x10\x08\x02\x00\x00\x00")
	huge := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), ihdr...)
	huge = binary.BigEndian.AppendUint32(huge, crc32.ChecksumIEEE(ihdr))
	files := map[string][]byte{"clip.mp4": video, "huge.png": huge}
	var paths []string
	for _, name := range []string{"clip.mp4", "huge.png"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, files[name], 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	site := startHelp(t, nil)
	b := tab{t, browsertest.Start(t)}
	b.openHelp(site.srv.URL)
	rows := b.choose(paths...)
	notes := map[string]string{"clip.mp4": "A video: only exact copies of this file can be found.",
		"huge.png": "Too large for the picture fingerprint (PDQ). Only exact copies of this file can be found."}
	for i, row := range rows {
		data := files[row.File]
		m, s := md5.Sum(data), sha256.Sum256(data)
		if i >= len(paths) || row.File != filepath.Base(paths[i]) || row.PDQ != "" || row.MD5 != hex.EncodeToString(m[:]) ||
			row.SHA256 != hex.EncodeToString(s[:]) || row.Note != notes[row.File] {
			t.Errorf("row %d: %+v", i, row)
		}
	}
	b.do(chromedp.Click(chromedp.ID("send")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("case").textContent !== ""`)); err != nil {
		t.Fatalf("sending: %v; %s", err, b.text("send-error"))
	}
	checkSent(t, site, paths, 1)
}
