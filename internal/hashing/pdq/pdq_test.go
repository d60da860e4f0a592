package pdq

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/hashing/media"
)

// vectorDir holds the reference vectors and the images made for them
// (testdata/README.md says where each comes from).
const vectorDir = "testdata"

// sharedImages is the shared folder beside the repository, which also
// holds the images derived from another project's samples, not copied
// here: their rows run only where it is present.
const sharedImages = "../../../../shared/testdata/pdq/images"

// vectorImage returns the path of a reference image, skipping the test
// when it is one of those kept only in the shared folder and that is
// absent.
func vectorImage(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{filepath.Join(vectorDir, "images"), sharedImages} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("%s is not in the repository (it derives from another project's samples, see testdata/README.md) and %s is absent", name, sharedImages)
	return ""
}

// readTSV returns the rows of a tab-separated file under vectorDir, header
// excluded.
func readTSV(t testing.TB, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no rows", name)
	}
	return rows
}

func decodeVector(t testing.TB, name string) image.Image {
	t.Helper()
	img, _, _, err := media.DecodeFile(vectorImage(t, name), media.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// parseRefHash parses a reference hash, allowing the all-zero hash that the
// reference gives images too small to hash.
func parseRefHash(t testing.TB, s string) Hash {
	t.Helper()
	if s == strings.Repeat("0", HexLen) {
		return Hash{}
	}
	h, err := ParseHex(s)
	if err != nil {
		t.Fatalf("bad reference hash %q: %v", s, err)
	}
	return h
}

func TestVectors(t *testing.T) {
	counts := map[string]int{}
	for _, row := range readTSV(t, "vectors.tsv") {
		name, class := row[0], row[7]
		wantQ, err := strconv.Atoi(row[2])
		if err != nil {
			t.Fatalf("%s: quality %q", name, row[2])
		}
		want := parseRefHash(t, row[1])
		counts[class]++
		t.Run(name, func(t *testing.T) {
			h, q := FromImage(decodeVector(t, name))
			d := Distance(h, want)
			switch {
			case strings.HasPrefix(class, "exact"):
				if h != want || q != wantQ {
					t.Errorf("got %v q=%d, reference %v q=%d (distance %d)", h, q, want, wantQ, d)
				}
			case strings.HasPrefix(class, "decoder-dependent"):
				// Go's JPEG and WebP decoders differ slightly from
				// libjpeg-turbo; the tolerance is the folder's README's.
				limit := 24
				if wantQ >= 70 {
					limit = 8
				}
				if d > limit {
					t.Errorf("distance %d to the reference, over the tolerance %d (q=%d, reference q=%d)", d, limit, q, wantQ)
				}
			case class == "edge-too-small":
				if !h.IsZero() || q != 0 {
					t.Errorf("got %v q=%d, want the zero hash and quality 0", h, q)
				}
			default:
				t.Fatalf("unknown class %q", class)
			}
		})
	}
	// Guard against a vectors file that silently lost its exact rows.
	if counts["exact"] == 0 || counts["exact+squash512"] == 0 {
		t.Errorf("too few exact vectors: %v", counts)
	}
}

func TestDihedral(t *testing.T) {
	for _, row := range readTSV(t, "dihedral.tsv") {
		t.Run(row[0], func(t *testing.T) {
			d, q := DihedralFromImage(decodeVector(t, row[0]))
			if want, _ := strconv.Atoi(row[1]); q != want {
				t.Errorf("quality %d, want %d", q, want)
			}
			names := []string{"orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}
			for i, h := range d.All() {
				if want := parseRefHash(t, row[2+i]); h != want {
					t.Errorf("%s: got %v, want %v (distance %d)", names[i], h, want, Distance(h, want))
				}
			}
			if h, _ := FromImage(decodeVector(t, row[0])); h != d.Orig {
				t.Errorf("FromImage %v differs from the dihedral original %v", h, d.Orig)
			}
		})
	}
}

// TestIntermediates compares each stage with the reference's float32 bit
// patterns, so a regression points at the stage that diverged.
func TestIntermediates(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "intermediates", "*.json"))
	if len(files) == 0 {
		t.Fatalf("no intermediates under %s", vectorDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var ref struct {
				File     string   `json:"file"`
				FirstRow []string `json:"luma_first_row"`
				Buffer64 []string `json:"buffer64x64"`
				DCT      []string `json:"dct16x16"`
				Median   string   `json:"median"`
				Quality  int      `json:"quality"`
				LumaRows int      `json:"luma_rows"`
				LumaCols int      `json:"luma_cols"`
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(ref.File, ".jpg") {
				t.Skip("JPEG decoding differs from libjpeg-turbo; stages not comparable")
			}
			s := getState()
			defer putState(s)
			img := decodeVector(t, ref.File)
			rows, cols, ok := s.fillLuma(img)
			if !ok {
				t.Fatal("image reported too small")
			}
			if rows != ref.LumaRows || cols != ref.LumaCols {
				t.Fatalf("luma %dx%d, reference %dx%d", rows, cols, ref.LumaRows, ref.LumaCols)
			}
			compare(t, "luma first row", s.luma[:cols], ref.FirstRow)
			if !s.dct(img) {
				t.Fatal("dct: too small")
			}
			compare(t, "64x64 buffer", s.a[:], ref.Buffer64)
			compare(t, "16x16 DCT", s.b[:], ref.DCT)
			sorted := s.b
			slices.Sort(sorted[:])
			compare(t, "median", sorted[127:128], []string{ref.Median})
			if s.quality != ref.Quality {
				t.Errorf("quality %d, reference %d", s.quality, ref.Quality)
			}
		})
	}
}

// compare reports the first element whose float32 bits differ.
func compare(t *testing.T, stage string, got []float32, want []string) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d values, reference has %d", stage, len(got), len(want))
	}
	for i, w := range want {
		bits, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			t.Fatalf("%s: bad reference value %q", stage, w)
		}
		if g := math.Float32bits(got[i]); g != uint32(bits) {
			t.Fatalf("%s: first difference at index %d: got %08x (%g), reference %08x (%g)",
				stage, i, g, got[i], bits, math.Float32frombits(uint32(bits)))
		}
	}
}

func TestDCTMatrix(t *testing.T) {
	rows := readTSV(t, "dct_matrix_16x64_float32.tsv")
	if len(rows) != 16*64 {
		t.Fatalf("%d entries, want 1024", len(rows))
	}
	for _, r := range rows {
		i, _ := strconv.Atoi(r[0])
		j, _ := strconv.Atoi(r[1])
		bits, _ := strconv.ParseUint(r[2], 16, 32)
		if g := math.Float32bits(dctMatrix[i*64+j]); g != uint32(bits) {
			t.Errorf("D[%d][%d] = %08x, reference %08x", i, j, g, bits)
		}
	}
}

func TestTooSmall(t *testing.T) {
	for _, size := range []image.Point{{4, 4}, {4, 100}, {100, 4}, {0, 0}, {3, 300}} {
		h, q := FromImage(image.NewGray(image.Rectangle{Max: size}))
		if !h.IsZero() || q != 0 {
			t.Errorf("%v: got %v q=%d, want zero hash and quality 0", size, h, q)
		}
	}
	// Squashing happens first, so a thin but long image is hashed.
	img := image.NewGray(image.Rect(0, 0, 3, 700))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if h, _ := FromImage(img); h.IsZero() {
		t.Error("3x700 image: zero hash, want it squashed to 512x512 and hashed")
	}
}

// TestBoundsOffset checks that an image whose bounds do not start at the
// origin (a sub-image) hashes like a copy of those pixels.
func TestBoundsOffset(t *testing.T) {
	full := image.NewNRGBA(image.Rect(0, 0, 200, 150))
	for i := range full.Pix {
		full.Pix[i] = uint8(i*31 + i/977)
	}
	sub := full.SubImage(image.Rect(20, 10, 180, 140)).(*image.NRGBA)
	cp := image.NewNRGBA(image.Rect(0, 0, 160, 130))
	for y := range 130 {
		copy(cp.Pix[y*cp.Stride:y*cp.Stride+160*4], sub.Pix[y*sub.Stride:])
	}
	h1, q1 := FromImage(sub)
	h2, q2 := FromImage(cp)
	if h1 != h2 || q1 != q2 {
		t.Errorf("sub-image %v q=%d, copy %v q=%d", h1, q1, h2, q2)
	}
}

func TestParseHex(t *testing.T) {
	valid := "f8f870eee0f4a84f0637022a078f67f0b36e2ed596221e1d33e6339c4e9c9b22"
	for _, tc := range []struct {
		in      string
		wantErr error
	}{
		{valid, nil},
		{strings.ToUpper(valid), nil},
		{valid[:63], ErrHashLength},
		{valid + "0", ErrHashLength},
		{"", ErrHashLength},
		{"g" + valid[1:], ErrHashHex},
		{" " + valid[1:], ErrHashHex},
		{strings.Repeat("0", 64), ErrHashZero},
	} {
		h, err := ParseHex(tc.in)
		if tc.wantErr != nil {
			if err != tc.wantErr && !strings.Contains(fmt.Sprint(err), tc.wantErr.Error()) {
				t.Errorf("ParseHex(%q) error %v, want %v", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHex(%q): %v", tc.in, err)
			continue
		}
		if h.String() != strings.ToLower(tc.in) {
			t.Errorf("round trip %q -> %q", tc.in, h.String())
		}
	}
}

func TestBitOrder(t *testing.T) {
	// Bit 0 is the low bit of w[0], the last hex digit; bit 255 the high
	// bit of w[15], the first.
	for _, tc := range []struct {
		bit int
		hex string
	}{
		{0, strings.Repeat("0", 63) + "1"},
		{4, strings.Repeat("0", 62) + "10"},
		{16, strings.Repeat("0", 59) + "10000"},
		{255, "8" + strings.Repeat("0", 63)},
	} {
		var h Hash
		h.setBit(tc.bit)
		if h.String() != tc.hex || !h.Bit(tc.bit) {
			t.Errorf("bit %d: %s, want %s", tc.bit, h, tc.hex)
		}
	}
}

func TestDistance(t *testing.T) {
	a, _ := ParseHex("f8f870eee0f4a84f0637022a078f67f0b36e2ed596221e1d33e6339c4e9c9b22")
	for _, n := range []int{0, 1, 31, 64, 200, 256} {
		b := a
		for k := range n {
			b[3-k/64] ^= 1 << (k % 64)
		}
		if d := Distance(a, b); d != n {
			t.Errorf("flipped %d bits, Distance %d", n, d)
		}
	}
}

// TestPairs checks distances between an image and its edits, and between
// a rotated or reflected image and the matching variant derived from the
// original's DCT (close but not always identical: the box filter and the
// decimation are not symmetric).
func TestPairs(t *testing.T) {
	variants := map[string]int{"orig": 0, "rot90": 1, "rot180": 2, "rot270": 3, "flipx": 4, "flipy": 5, "flipp": 6, "flipm": 7}
	for _, row := range readTSV(t, "pairs.tsv") {
		t.Run(row[0]+"~"+row[1], func(t *testing.T) {
			want, err := strconv.Atoi(row[2])
			if err != nil {
				t.Fatalf("bad pairs row %q", row)
			}
			// Exact inputs give the reference's distance; lossy ones are close.
			tol := 0
			for _, f := range row[:2] {
				if strings.HasSuffix(f, ".jpg") || strings.HasSuffix(f, "q75.webp") {
					tol = 10
				}
			}
			orig, _ := DihedralFromImage(decodeVector(t, row[0]))
			other, _ := FromImage(decodeVector(t, row[1]))
			if d := Distance(orig.Orig, other); d < want-tol || d > want+tol {
				t.Errorf("distance %d, reference %d", d, want)
			}
			if row[3] == "-" {
				return
			}
			v, ok := variants[row[3]]
			wantV, err := strconv.Atoi(row[4])
			if !ok || err != nil {
				t.Fatalf("bad pairs row %q", row)
			}
			if d := Distance(orig.All()[v], other); d < wantV-tol || d > wantV+tol {
				t.Errorf("distance to variant %s: %d, reference %d", row[3], d, wantV)
			}
		})
	}
}

// TestRGBA64Row checks that the rows read through RGBA64At are what
// converting At's colour gives, for every type read that way.
func TestRGBA64Row(t *testing.T) {
	r := image.Rect(-3, 2, 37, 21)
	imgs := []image.Image{image.NewCMYK(r), image.NewGray16(r), image.NewRGBA64(r), image.NewNRGBA64(r)}
	var seed uint32 = 1
	for _, img := range imgs {
		var pix []byte
		switch m := img.(type) {
		case *image.CMYK:
			pix = m.Pix
		case *image.Gray16:
			pix = m.Pix
		case *image.RGBA64:
			pix = m.Pix
		case *image.NRGBA64:
			pix = m.Pix
		}
		for i := range pix {
			seed = seed*1664525 + 1013904223
			pix[i] = byte(seed >> 24)
		}
		if m, ok := img.(*image.RGBA64); ok { // valid premultiplied colours
			for i := 0; i < len(m.Pix); i += 8 {
				a := m.Pix[i+6]
				for j := range 6 {
					m.Pix[i+j] = min(m.Pix[i+j], a)
				}
			}
		}
		// Transparent and opaque pixels, the special cases.
		for _, x := range []int{0, 1} {
			if m, ok := img.(*image.NRGBA64); ok {
				m.Pix[6+8*x], m.Pix[7+8*x] = byte(0xff*x), byte(0xff*x)
			}
		}
		s := newRGBSource(img)
		xs := make([]int, r.Dx())
		for i := range xs {
			xs[i] = r.Min.X + i
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := s.row(y, xs, nil)
			for i, x := range xs {
				if want := nrgb(img.At(x, y)); [3]byte(row[3*i:]) != want {
					t.Fatalf("%T (%d, %d): %v, want %v", img, x, y, row[3*i:3*i+3], want)
				}
			}
		}
	}
}
