package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/wardhq/ward/internal/hashing/media/mediatest"
)

// costFixtures are images of every format and of the kinds that cost most
// (progressive, CMYK, 16-bit, interlaced, alpha), made here or, where Go
// cannot encode them, by real encoders (testdata/decode/README.md).
func costFixtures(t *testing.T) map[string][]byte {
	t.Helper()
	big := testImage(1200, 900)
	out := map[string][]byte{
		"jpeg baseline 4:2:0":      encode(t, JPEG, big),
		"jpeg progressive grey":    mediatest.ProgressiveJPEG(1200, 900, 1, 20),
		"jpeg progressive cmyk 96": mediatest.ProgressiveJPEG(1200, 900, 4, 23),
		"png rgba 8-bit":           encode(t, PNG, big),
		"gif":                      encode(t, GIF, big),
		"webp lossless (solid)":    encode(t, WebP, big),
		"bmp":                      encode(t, BMP, big),
		"tiff":                     encode(t, TIFF, big),
		"pnm":                      encode(t, PNM, big),
		"jpeg baseline grey":       nil,
		"png rgba 16-bit":          nil,
		"png grey 16-bit":          nil,
		"png paletted":             nil,
		"tiff 16-bit":              nil,
	}
	var buf bytes.Buffer
	grey := image.NewGray(big.Rect)
	for i := range grey.Pix {
		grey.Pix[i] = big.Pix[4*i]
	}
	stdjpeg.Encode(&buf, grey, nil)
	out["jpeg baseline grey"] = bytes.Clone(buf.Bytes())
	m64 := image.NewNRGBA64(big.Rect)
	g16 := image.NewGray16(big.Rect)
	pal := image.NewPaletted(big.Rect, color.Palette{color.Black, color.White, color.Gray{128}})
	for y := range big.Rect.Dy() {
		for x := range big.Rect.Dx() {
			c := big.NRGBAAt(x, y)
			m64.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 251, uint16(c.B) * 253, 0xffff})
			g16.SetGray16(x, y, color.Gray16{uint16(c.G) * 255})
			pal.SetColorIndex(x, y, c.R%3)
		}
	}
	for name, m := range map[string]image.Image{"png rgba 16-bit": m64, "png grey 16-bit": g16, "png paletted": pal} {
		buf.Reset()
		png.Encode(&buf, m)
		out[name] = bytes.Clone(buf.Bytes())
	}
	buf.Reset()
	tiff.Encode(&buf, m64, nil)
	out["tiff 16-bit"] = bytes.Clone(buf.Bytes())
	// 8-bit RGBA in one strip of over 10 MB, which x/image/tiff reads in
	// growing chunks, and the same deflated, which it inflates into a
	// growing buffer: each about 3 to 4 times the strip.
	rgba := image.NewNRGBA(image.Rect(0, 0, 3000, 3000))
	for i := range rgba.Pix {
		rgba.Pix[i] = byte(i * 7)
	}
	for name, c := range map[string]tiff.CompressionType{"tiff rgba 3000x3000": tiff.Uncompressed, "tiff rgba deflate 3000x3000": tiff.Deflate} {
		buf.Reset()
		tiff.Encode(&buf, rgba, &tiff.Options{Compression: c})
		out[name] = bytes.Clone(buf.Bytes())
	}
	files, _ := filepath.Glob("testdata/decode/*.*")
	for _, f := range files {
		if filepath.Ext(f) == ".md" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = data
	}
	return out
}

// TestEstimateBounds checks that the estimate of every fixture is at least
// what decoding it allocates, and not so far above that the budget would
// turn away much more than it must.
func TestEstimateBounds(t *testing.T) {
	for name, data := range costFixtures(t) {
		c, err := Estimate(data, Limits{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var derr error
		got := int64(allocated(func() { _, _, derr = Decode(data, Limits{}) }))
		if derr != nil {
			t.Errorf("%s: %v", name, derr)
			continue
		}
		px := float64(c.Width * c.Height)
		t.Logf("%-26s %5dx%-5d estimate %6.1f MiB (%4.1f B/px), allocated %6.1f MiB (%4.1f B/px)",
			name, c.Width, c.Height, float64(c.Bytes)/(1<<20), float64(c.Bytes)/px, float64(got)/(1<<20), float64(got)/px)
		if c.Bytes < got {
			t.Errorf("%s: estimate %d bytes, under the %d allocated", name, c.Bytes, got)
		}
		if c.Bytes > 3*got+2*decoderOverhead {
			t.Errorf("%s: estimate %d bytes, over three times the %d allocated", name, c.Bytes, got)
		}
	}
}

// TestEstimateCMYK96 is the costliest case at full size: a 7000x7000
// progressive CMYK JPEG of 96 scans, 390 KB.
func TestEstimateCMYK96(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 750 MB")
	}
	data := mediatest.ProgressiveJPEG(7000, 7000, 4, 23)
	c, err := Estimate(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := int64(allocated(func() { _, _, err = Decode(data, Limits{}) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes of file: estimate %d MiB, allocated %d MiB", len(data), c.Bytes>>20, got>>20)
	if c.Bytes < got || c.Bytes > DefaultDecodeMemory {
		t.Errorf("estimate %d, allocated %d, budget %d: want allocated <= estimate <= budget", c.Bytes, got, DefaultDecodeMemory)
	}
}

// TestEstimateErrors checks that Estimate refuses what Decode refuses
// before decoding, with the same kind of error.
func TestEstimateErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":                  {},
		"not an image":           []byte("hello, world, this is not an image"),
		"png bomb":               pngBomb(t, 100000, 100000),
		"jpeg bomb":              jpegBomb(t, 60000, 60000),
		"jpeg 101 scans":         progressiveJPEG(64, 64, 101),
		"bmp without its pixels": encode(t, BMP, testImage(300, 300))[:100],
	} {
		_, _, want := Decode(data, Limits{})
		_, got := Estimate(data, Limits{})
		if got == nil || kindOf(got) != kindOf(want) {
			t.Errorf("%s: Estimate gives %v, Decode %v", name, got, want)
		}
	}
}

func kindOf(err error) error {
	for _, k := range []error{ErrTooLarge, ErrUnsupported, ErrCorrupt} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// TestJPEGSame checks that the decoder in internal/jpeg gives the
// standard library's pixels, for JPEGs of real encoders (baseline and
// progressive, YCbCr, grey and CMYK) and the generated progressive ones.
func TestJPEGSame(t *testing.T) {
	n := 0
	for name, data := range costFixtures(t) {
		if f, _ := Sniff(data); f != JPEG {
			continue
		}
		n++
		want, werr := stdjpeg.Decode(bytes.NewReader(data))
		got, _, gerr := Decode(data, Limits{})
		if werr != nil || gerr != nil {
			t.Errorf("%s: standard library: %v; ours: %v", name, werr, gerr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %T %v differs from the standard library's %T %v", name, got, got.Bounds(), want, want.Bounds())
		}
	}
	if n < 7 {
		t.Errorf("only %d JPEGs compared", n)
	}
}

// markerDesync hides a fake baseline grey SOF from the decoder: after the
// SOI comes a restart marker, which the decoder skips as two bytes, then
// an APP1 segment whose marker, read as a length, points into its own
// body, where the fake SOF is. A parser that read a length after the
// restart marker would find the fake SOF and miss the real one after it.
func markerDesync(orig []byte) []byte {
	const app1 = 0xffe1 // as a length: the jump from offset 4
	out := []byte{0xff, 0xd8, 0xff, 0xd0}
	body := make([]byte, 4+app1-8) // the APP1 body starts at offset 8
	fake := []byte{0xff, 0xc0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xff, 0xd9}
	body = append(body, fake...)
	body = append(body, make([]byte, 0xffff-2-len(body))...)
	out = append(out, 0xff, 0xe1, 0xff, 0xff)
	out = append(out, body...)
	return append(out, orig[2:]...)
}

// TestEstimateJPEGMarkerDesync: the estimate is read by the decoder's own
// header pass, so a file laid out to mislead another parser of its
// segments is estimated at what decoding it takes.
func TestEstimateJPEGMarkerDesync(t *testing.T) {
	orig := mediatest.ProgressiveJPEG(1500, 1500, 4, 1)
	data := markerDesync(orig)
	want, err := Estimate(orig, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Estimate(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var derr error
	got := int64(allocated(func() { _, _, derr = Decode(data, Limits{}) }))
	t.Logf("estimate %d MiB (%d MiB without the trick), allocated %d MiB (%v)", c.Bytes>>20, want.Bytes>>20, got>>20, derr)
	if derr != nil {
		t.Errorf("the decoder reads the file: %v", derr)
	}
	if c.Bytes != want.Bytes || c.Bytes < got {
		t.Errorf("estimate %d, want %d and at least the %d allocated", c.Bytes, want.Bytes, got)
	}
}

// TestJPEGCostOverHeader: what the decoder learns after the first scan (an
// Adobe segment that makes the image RGB, to be converted to 4 bytes a
// pixel) cannot make it allocate more than the estimate its header gave:
// the decoder refuses to go over it.
func TestJPEGCostOverHeader(t *testing.T) {
	data := encode(t, JPEG, testImage(1200, 900))
	if !bytes.HasSuffix(data, []byte{0xff, 0xd9}) {
		t.Fatal("no EOI")
	}
	adobe := []byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
	data = append(append(data[:len(data)-2:len(data)-2], adobe...), 0xff, 0xd9)
	c, err := Estimate(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var derr error
	got := int64(allocated(func() { _, _, derr = Decode(data, Limits{}) }))
	t.Logf("estimate %d, allocated %d (%v)", c.Bytes, got, derr)
	if got > c.Bytes {
		t.Errorf("allocated %d, over the estimate of %d", got, c.Bytes)
	}
	if !errors.Is(derr, ErrCorrupt) {
		t.Errorf("Decode: %v, want ErrCorrupt", derr)
	}
}
