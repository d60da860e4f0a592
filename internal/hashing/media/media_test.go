package media

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectorDir holds the PDQ reference vectors and the images made for them.
const vectorDir = "../pdq/testdata"

// sharedImages is the shared folder beside the repository, which also
// holds images derived from another project's samples, not copied into
// the repository (../pdq/testdata/README.md).
const sharedImages = "../../../../shared/testdata/pdq/images"

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want Format
		ok   bool
	}{
		{"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG, true},
		{"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG, true},
		{"GIF87a", GIF, true},
		{"GIF89a\x01\x00", GIF, true},
		{"RIFF\x10\x00\x00\x00WEBPVP8L", WebP, true},
		{"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", BMP, true},
		{"II*\x00\x08\x00\x00\x00", TIFF, true},
		{"MM\x00*\x00\x00\x00\x08", TIFF, true},
		{"P1\n", PNM, true},
		{"P6 100 100 255\n", PNM, true},
		{"P5\t", PNM, true},
		{"", "", false},
		{"\xff\xd8", "", false},                     // SOI alone: too short to tell
		{"GIF90a", "", false},                       // no such version
		{"RIFF\x10\x00\x00\x00WAVEfmt ", "", false}, // audio
		{"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x99\x00\x00\x00", "", false},
		{"BMP is a format", "", false},
		{"P7\nWIDTH 1\n", "", false}, // PAM
		{"P6x", "", false},
		{"Plain text", "", false},
		{"II+\x00", "", false}, // BigTIFF
	}
	for _, tt := range tests {
		got, ok := Sniff([]byte(tt.head))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Sniff(%q) = %q, %v; want %q, %v", tt.head, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSniffFixtures(t *testing.T) {
	for name, data := range fixtures(t) {
		want := Format(name)
		if strings.HasPrefix(name, "P") {
			want = PNM
		}
		if got, ok := Sniff(data[:min(len(data), SniffLen)]); !ok || got != want {
			t.Errorf("Sniff(%s fixture) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// sameRGB reports the first pixel where got and want differ in R, G or B.
func sameRGB(got, want image.Image) (x, y int, ok bool) {
	gb, wb := got.Bounds(), want.Bounds()
	if gb.Size() != wb.Size() {
		return -1, -1, false
	}
	for y := range wb.Dy() {
		for x := range wb.Dx() {
			g := color.NRGBAModel.Convert(got.At(gb.Min.X+x, gb.Min.Y+y)).(color.NRGBA)
			w := color.NRGBAModel.Convert(want.At(wb.Min.X+x, wb.Min.Y+y)).(color.NRGBA)
			if g.R != w.R || g.G != w.G || g.B != w.B {
				return x, y, false
			}
		}
	}
	return 0, 0, true
}

func TestDecodeFormats(t *testing.T) {
	src := testImage(13, 7)
	grey := image.NewGray(src.Bounds())
	for i := range grey.Pix {
		grey.Pix[i] = src.Pix[4*i+1] // the PNM fixtures take grey from green
	}
	solid := image.NewNRGBA(src.Bounds()) // the WebP fixture's one colour
	draw.Draw(solid, solid.Bounds(), image.NewUniform(src.At(0, 0)), image.Point{}, draw.Src)
	bits := image.NewGray(src.Bounds())
	for i := range bits.Pix {
		if grey.Pix[i] >= 128 {
			bits.Pix[i] = 255
		}
	}
	tests := []struct {
		name   string
		format Format
		want   image.Image // exact pixels expected, nil for lossy formats
	}{
		{"jpeg", JPEG, nil},
		{"png", PNG, src},
		{"gif", GIF, nil}, // quantised to a palette
		{"webp", WebP, solid},
		{"bmp", BMP, src},
		{"tiff", TIFF, src},
		{"P1", PNM, bits},
		{"P2", PNM, grey},
		{"P3", PNM, src},
		{"P4", PNM, bits},
		{"P5", PNM, grey},
		{"P6", PNM, src},
	}
	fx := fixtures(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f, err := Decode(fx[tt.name], DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if f != tt.format {
				t.Errorf("format %q, want %q", f, tt.format)
			}
			if got := m.Bounds().Size(); got != src.Bounds().Size() {
				t.Fatalf("size %v, want %v", got, src.Bounds().Size())
			}
			if tt.want == nil {
				return
			}
			want := tt.want
			if x, y, ok := sameRGB(m, want); !ok {
				t.Errorf("pixel (%d,%d) is %v, want %v", x, y, m.At(x, y), want.At(x, y))
			}
		})
	}
}

// TestDecodePNMTypes pins the image types the brief promises for PNM.
func TestDecodePNMTypes(t *testing.T) {
	fx := fixtures(t)
	for _, k := range []string{"P1", "P2", "P4", "P5"} {
		if m, _, err := Decode(fx[k], DefaultLimits); err != nil {
			t.Errorf("%s: %v", k, err)
		} else if _, ok := m.(*image.Gray); !ok {
			t.Errorf("%s decodes to %T, want *image.Gray", k, m)
		}
	}
	for _, k := range []string{"P3", "P6"} {
		if m, _, err := Decode(fx[k], DefaultLimits); err != nil {
			t.Errorf("%s: %v", k, err)
		} else if _, ok := m.(*image.RGBA); !ok {
			t.Errorf("%s decodes to %T, want *image.RGBA", k, m)
		}
	}
}

// vectors reads the shared vectors.tsv: file name to its columns by name.
func vectors(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(vectorDir, "vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cols []string
	rows := map[string]map[string]string{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = fields
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			if i < len(fields) {
				row[c] = fields[i]
			}
		}
		rows[row["filename"]] = row
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// pixelsSHA256 hashes the pixels as the vectors do: R, G, B bytes, row
// major, alpha dropped.
func pixelsSHA256(m image.Image) string {
	b := m.Bounds()
	h := sha256.New()
	row := make([]byte, 0, 3*b.Dx())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row = row[:0]
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			row = append(row, c.R, c.G, c.B)
		}
		h.Write(row)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestDecodeSamples decodes real files of every format made by other
// programs. For the lossless ones the decoded pixels must be exactly those
// the reference implementation saw.
func TestDecodeSamples(t *testing.T) {
	vec := vectors(t)
	tests := []struct {
		file       string
		format     Format
		exactPixel bool
	}{
		{"bridge.ppm", PNM, true},
		{"bridge.bmp", BMP, true},
		{"bridge.gif", GIF, true},
		{"q1050.ppm", PNM, true},
		{"q1050.bmp", BMP, true},
		{"bridge_base.png", PNG, true},
		{"bridge_lossless.webp", WebP, true},
		{"bridge_q75.webp", WebP, false},
		{"bridge_q90.jpg", JPEG, false},
		{"syn_ct3_palette.png", PNG, true},
		{"syn_ct6_rgba_alpharamp.png", PNG, true},
		{"syn_plasma_s4_512_q90.jpg", JPEG, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			row, ok := vec[tt.file]
			if !ok {
				t.Fatalf("%s is not in vectors.tsv", tt.file)
			}
			path := filepath.Join(vectorDir, "images", tt.file)
			if _, err := os.Stat(path); err != nil {
				path = filepath.Join(sharedImages, tt.file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s is kept only in the shared folder %s (../pdq/testdata/README.md), which is absent", tt.file, sharedImages)
			}
			m, f, data, err := DecodeFile(path, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != row["file_sha256"] {
				t.Fatalf("DecodeFile returned bytes that are not the file")
			}
			if f != tt.format {
				t.Errorf("format %q, want %q", f, tt.format)
			}
			if got := m.Bounds().Dx(); strconv.Itoa(got) != row["width"] {
				t.Errorf("width %d, want %s", got, row["width"])
			}
			if got := m.Bounds().Dy(); strconv.Itoa(got) != row["height"] {
				t.Errorf("height %d, want %s", got, row["height"])
			}
			if got := pixelsSHA256(m); tt.exactPixel && got != row["decoded_pixels_sha256"] {
				t.Errorf("decoded pixels hash to %s, want %s", got, row["decoded_pixels_sha256"])
			}
		})
	}
}

// allocated returns the bytes f allocates, however short-lived.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBombs feeds headers that lie about the image size. Each must be
// refused from its header: quickly and without allocating for its pixels.
func TestBombs(t *testing.T) {
	const maxAlloc = 16 << 20
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"png 100000x100000", pngBomb(t, 100000, 100000), ErrTooLarge},
		{"png 2^31-1 square", pngBomb(t, 1<<31-1, 1<<31-1), ErrTooLarge},
		{"gif screen 65535x65535", gifBomb(t, 65535, 65535), ErrTooLarge},
		{"gif frame over its 8x8 screen", gifFrameBomb(t, 65535, 65535), ErrCorrupt},
		{"jpeg 65500x65500", jpegBomb(t, 65500, 65500), ErrTooLarge},
		{"bmp 100000x100000", bmpBomb(t, 100000, 100000), ErrTooLarge},
		{"bmp top-down 100000x100000", bmpBomb(t, 100000, -100000), ErrTooLarge},
		{"bmp 7000x7000 in limit, no data", bmpBomb(t, 7000, 7000), ErrCorrupt},
		{"pnm P6 100000x100000", []byte("P6 100000 100000 255\n\x00\x00\x00"), ErrTooLarge},
		{"pnm P4 absurd width", []byte("P4 99999999999999999999 1\n\x00"), ErrTooLarge},
		{"pnm P6 7000x7000 in limit, no data", []byte("P6 7000 7000 255\n\x00\x00\x00"), ErrCorrupt},
		{"pnm P3 7000x7000 in limit, no data", []byte("P3 7000 7000 255\n0 0 0"), ErrCorrupt},
		{"pnm P1 7000x7000 in limit, no data", []byte("P1 7000 7000\n0 1"), ErrCorrupt},
		{"tiff 100000x100000", tiffBomb(t, 100000, 100000), ErrTooLarge},
		{"tiff 2^32-1 square", tiffBomb(t, 1<<32-1, 1<<32-1), ErrTooLarge},
		{"bmp 2^31-1 square", bmpBomb(t, 1<<31-1, 1<<31-1), ErrTooLarge},
		{"webp lossless 16384x16384", riffWebP(chunk("VP8L", vp8lHeader(16384, 16384).buf)), ErrTooLarge},
		{"webp canvas 2^24 square", riffWebP(vp8x(0, 1<<24, 1<<24)), ErrTooLarge},
		{"webp canvas 10000x10000", riffWebP(vp8x(0, 10000, 10000)), ErrTooLarge},
		{"jpeg of 101 scans", progressiveJPEG(1024, 1024, 101), ErrTooLarge},
		{"tiff of 100000 strips", tiffStrips(100000), ErrTooLarge},
		{"webp 8x8 canvas, 16384x16384 lossless", riffWebP(vp8x(0, 8, 8), chunk("VP8L", vp8lHeader(16384, 16384).buf)), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			start := time.Now()
			n := allocated(func() { _, _, err = Decode(tt.data, DefaultLimits) })
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			t.Logf("%v in %v, %d KiB allocated", err, time.Since(start), n>>10)
			if n > maxAlloc {
				t.Errorf("allocated %d MiB, want under %d MiB", n>>20, maxAlloc>>20)
			}
		})
	}
}

func TestTooLargeMessage(t *testing.T) {
	tests := []struct {
		data []byte
		lim  Limits
		want string
	}{
		{[]byte("P6 20000 20000 255\n"), DefaultLimits,
			"image is 20000x20000 (400 megapixels), over the 50 megapixel limit: too large"},
		{[]byte("P6 50000001 1 255\n"), DefaultLimits,
			"image is 50000001x1 (50.000001 megapixels), over the 50 megapixel limit: too large"},
		{[]byte("P5 7100 7100 255\n"), DefaultLimits,
			"image is 7100x7100 (50.4 megapixels), over the 50 megapixel limit: too large"},
		{[]byte("P5 200 100 255\n"), Limits{MaxPixels: 10_000},
			"image is 200x100 (20000 pixels), over the 10000 pixel limit: too large"},
		{make([]byte, 3<<20), Limits{MaxBytes: 2 << 20},
			"image data is 3 MiB, over the 2 MiB limit: too large"},
	}
	for _, tt := range tests {
		_, _, err := Decode(tt.data, tt.lim)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%.20q) error\n got %v\nwant %s", tt.data, err, tt.want)
		}
	}
}

func TestTruncated(t *testing.T) {
	for name, data := range fixtures(t) {
		// Cut inside the pixel data and inside the header. (Cutting the last
		// byte can leave a whole image: GIF's trailer, TIFF's next-IFD
		// offset and a plain PNM's final newline are not needed.)
		for _, n := range []int{len(data) * 3 / 4, len(data) / 2, 20} {
			_, _, err := Decode(data[:n], DefaultLimits)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s cut to %d of %d bytes: got %v, want ErrCorrupt", name, n, len(data), err)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	random := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		want    error
		message string // part of the error's text
	}{
		{"empty", nil, DefaultLimits, ErrCorrupt, "empty"},
		{"random bytes", random, DefaultLimits, ErrUnsupported, "not a JPEG, PNG"},
		{"text", []byte("hello, world\n"), DefaultLimits, ErrUnsupported, "starts with 68 65 6c 6c"},
		{"pdf", []byte("%PDF-1.7\n"), DefaultLimits, ErrUnsupported, "PDF images are not supported"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), DefaultLimits, ErrUnsupported, "HEIC"},
		{"animated webp", riffWebP(vp8x(1<<1, 8, 8)), DefaultLimits, ErrUnsupported, "animated WebP"},
		{"jpeg arithmetic coding", []byte("\xff\xd8\xff\xc9\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00\xff\xd9"), DefaultLimits, ErrUnsupported, "feature"},
		{"one byte over", make([]byte, 101), Limits{MaxBytes: 100}, ErrTooLarge, "over the 100 bytes limit"},
		{"over pixels", encode(t, PNG, testImage(101, 100)), Limits{MaxPixels: 10_000}, ErrTooLarge, "101x100"},
		{"zero width", []byte("P5 0 10 255\n"), DefaultLimits, ErrCorrupt, "no pixels"},
		{"zero-size bmp", bmpBomb(t, 0, 0), DefaultLimits, ErrCorrupt, "no pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := Decode(tt.data, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v (image %v), want %v", err, m, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
			if m != nil {
				t.Errorf("image %T returned with an error", m)
			}
		})
	}
}

// TestWorkLimits accepts files just within the limits on JPEG scans and
// TIFF strips; TestBombs has files just over them.
func TestWorkLimits(t *testing.T) {
	if err := tiffCheck(tiffStrips(maxTIFFBlocks), image.Config{}); err != nil {
		t.Errorf("tiff of %d strips: %v", maxTIFFBlocks, err)
	}
	for name, data := range map[string][]byte{
		"jpeg of 100 scans":   progressiveJPEG(64, 48, maxJPEGScans-1), // and a DC scan
		"tiff of 1000 strips": tiffStrips(1000),
	} {
		m, _, err := Decode(data, DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if m.Bounds().Empty() {
			t.Errorf("%s: empty image", name)
		}
	}
	if n := jpegScans(progressiveJPEG(64, 48, 9)); n != 10 {
		t.Errorf("jpegScans counted %d scans, want 10", n)
	}
	if n := jpegScans(encode(t, JPEG, testImage(8, 8))); n != 1 {
		t.Errorf("jpegScans counted %d scans in a baseline JPEG, want 1", n)
	}
}

// TestLimitsAtEdge accepts an image of exactly MaxPixels and MaxBytes.
func TestLimitsAtEdge(t *testing.T) {
	data := encode(t, PNM, testImage(100, 100))
	if _, _, err := Decode(data, Limits{MaxBytes: int64(len(data)), MaxPixels: 100 * 100}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	if _, _, err := Decode(data, Limits{}); err != nil {
		t.Errorf("zero Limits should mean the defaults: %v", err)
	}
}

func TestPanicBecomesError(t *testing.T) {
	saved := codecs[PNM]
	t.Cleanup(func() { codecs[PNM] = saved })
	broken := saved
	broken.decode = func([]byte) (image.Image, error) { panic("index out of range") }
	codecs[PNM] = broken

	m, f, err := Decode(encodePNM(testImage(2, 2), '6'), DefaultLimits)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, errCrashed) || m != nil || f != PNM {
		t.Fatalf("got %v, %q, %v; want no image, pnm and a crashed ErrCorrupt", m, f, err)
	}
	if want := "PNM decoder crashed (index out of range): corrupt"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestReadAll(t *testing.T) {
	lim := Limits{MaxBytes: 100}
	for _, n := range []int{0, 1, 99, 100} {
		got, err := ReadAll(bytes.NewReader(make([]byte, n)), lim)
		if err != nil || len(got) != n || got == nil {
			t.Errorf("ReadAll of %d bytes = %d bytes, %v", n, len(got), err)
		}
	}
	// A reader that never ends must stop at the limit.
	if _, err := ReadAll(endless{}, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("endless reader: got %v, want ErrTooLarge", err)
	}
	failing := errors.New("disk on fire")
	if _, err := ReadAll(failReader{failing}, lim); !errors.Is(err, failing) {
		t.Errorf("failing reader: got %v, want its error", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := encode(t, PNG, testImage(10, 10))
	goodPath := write("good.dat", good) // content decides, not the name
	m, f, data, err := DecodeFile(goodPath, DefaultLimits)
	if err != nil || f != PNG || m.Bounds().Dx() != 10 || !bytes.Equal(data, good) {
		t.Fatalf("DecodeFile(good) = %T, %q, %d bytes, %v", m, f, len(data), err)
	}

	corrupt := good[:len(good)/2]
	corruptPath := write("corrupt.png", corrupt)
	tests := []struct {
		name     string
		path     string
		lim      Limits
		want     error
		wantData []byte
	}{
		{"corrupt", corruptPath, DefaultLimits, ErrCorrupt, corrupt},
		{"over the byte limit", goodPath, Limits{MaxBytes: 10}, ErrTooLarge, nil},
		{"missing", filepath.Join(dir, "missing.png"), DefaultLimits, fs.ErrNotExist, nil},
		{"directory", dir, DefaultLimits, ErrUnsupported, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, data, err := DecodeFile(tt.path, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.path+": ") {
				t.Errorf("error %q does not start with the path", err)
			}
			if strings.Count(err.Error(), tt.path) != 1 {
				t.Errorf("error %q names the path more than once", err)
			}
			if m != nil || !bytes.Equal(data, tt.wantData) {
				t.Errorf("got image %T and %d bytes, want no image and %d bytes", m, len(data), len(tt.wantData))
			}
		})
	}
}

// TestPNGSizeCheck makes sure the minimum size pngCheck asks of a PNG is
// one that the best compression of the most compressible image meets.
func TestPNGSizeCheck(t *testing.T) {
	for _, m := range []image.Image{
		image.NewGray(image.Rect(0, 0, 4000, 1000)),
		image.NewNRGBA(image.Rect(0, 0, 1000, 1000)),
		image.NewGray16(image.Rect(0, 0, 1000, 1000)),
	} {
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Decode(buf.Bytes(), DefaultLimits); err != nil {
			t.Errorf("%T %v in %d bytes: %v", m, m.Bounds().Size(), buf.Len(), err)
		}
	}
}
