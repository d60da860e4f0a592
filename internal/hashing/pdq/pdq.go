// Package pdq computes PDQ perceptual hashes of images, bit for bit as Meta's
// C++ reference implementation does (facebook/ThreatExchange, pdq/cpp;
// algorithm described in "The TMK+PDQF and PDQ hashing algorithms", 2019).
//
// The pipeline is: RGB to float32 luma (or the grey value itself when every
// pixel has R=G=B); a nearest-neighbour squash to 512x512 when a side is over
// 512; two passes of a Jarosz box filter; decimation to 64x64; a quality score
// from the 64x64 gradients; a 16x16 corner of the 2-D DCT; and one bit per DCT
// coefficient, set when it is above the lower median of all 256.
//
// Every float32 operation is done in the reference's order and rounded where
// the reference rounds, with explicit float32 conversions so the Go compiler
// may not fuse a multiply and an add (the reference is built without FMA).
// Change nothing here without running the vector tests.
package pdq

import (
	"image"
	"math"
	"slices"
	"sync"
)

const (
	// MinSide is the smallest width or height that is hashed (after any
	// squash); smaller images get the zero hash and quality 0, as in the
	// reference.
	MinSide = 5
	// MaxSide is the largest side hashed as is; larger images are first
	// squashed to MaxSide x MaxSide, aspect ratio not kept.
	MaxSide = 512
	// MatchThreshold is the conventional largest Hamming distance of a match.
	MatchThreshold = 31
	// WeakQuality is the quality under which a hash is considered weak.
	WeakQuality = 50
)

// Dihedral holds the hashes of the 8 rotations and reflections of one image,
// all derived from one DCT as the reference does.
type Dihedral struct {
	Orig   Hash `json:"-"`
	Rot90  Hash `json:"rot90"` // rotated 90 degrees counter-clockwise
	Rot180 Hash `json:"rot180"`
	Rot270 Hash `json:"rot270"` // rotated 90 degrees clockwise
	FlipX  Hash `json:"flipx"`  // reflected about the horizontal axis (top to bottom)
	FlipY  Hash `json:"flipy"`  // reflected about the vertical axis (left to right)
	FlipP  Hash `json:"flipp"`  // reflected about the main diagonal (transpose)
	FlipM  Hash `json:"flipm"`  // reflected about the anti-diagonal
}

// All returns the 8 hashes, Orig first.
func (d Dihedral) All() [8]Hash {
	return [8]Hash{d.Orig, d.Rot90, d.Rot180, d.Rot270, d.FlipX, d.FlipY, d.FlipP, d.FlipM}
}

// FromImage returns the PDQ hash of img and its quality, 0..100.
func FromImage(img image.Image) (Hash, int) {
	s := getState()
	defer putState(s)
	if !s.dct(img) {
		return Hash{}, 0
	}
	return bitsOf(&s.b), s.quality
}

// DihedralFromImage returns the hashes of img's 8 dihedral variants and the
// quality, at the cost of one hash plus a few microseconds.
func DihedralFromImage(img image.Image) (Dihedral, int) {
	s := getState()
	defer putState(s)
	if !s.dct(img) {
		return Dihedral{}, 0
	}
	var d Dihedral
	var t [256]float32
	d.Orig = bitsOf(&s.b)
	for _, v := range []struct {
		dst *Hash
		v   variant
	}{
		{&d.Rot90, rot90}, {&d.Rot180, rot180}, {&d.Rot270, rot270},
		{&d.FlipX, flipX}, {&d.FlipY, flipY}, {&d.FlipP, flipPlus}, {&d.FlipM, flipMinus},
	} {
		v.v.apply(&s.b, &t)
		*v.dst = bitsOf(&t)
	}
	return d, s.quality
}

// state holds one hashing's buffers; states are pooled because the luma
// buffers of a 512x512 image are 2 MiB.
type state struct {
	luma, tmp []float32
	a         [64 * 64]float32
	t         [16 * 64]float32
	b         [16 * 16]float32
	quality   int
}

var states = sync.Pool{New: func() any { return new(state) }}

func getState() *state  { return states.Get().(*state) }
func putState(s *state) { states.Put(s) }

// dct fills s.b with the 16x16 DCT of img and s.quality; it reports false
// for an image too small to hash.
func (s *state) dct(img image.Image) bool {
	rows, cols, ok := s.fillLuma(img)
	if !ok {
		return false
	}
	if rows == 64 && cols == 64 {
		copy(s.a[:], s.luma)
	} else {
		jarosz(s.luma, s.tmp, rows, cols)
		decimate(s.luma, rows, cols, &s.a)
	}
	s.quality = quality(&s.a)
	dct64To16(&s.a, &s.t, &s.b)
	return true
}

// jarosz applies the reference's two passes of box filtering, each along
// rows then along columns, leaving the result in buf.
func jarosz(buf, tmp []float32, rows, cols int) {
	// Window sizes: ceil(dim / (2*64)), as computeJaroszFilterWindowSize.
	wRows := (cols + 127) / 128
	wCols := (rows + 127) / 128
	for range 2 {
		i := 0
		for ; i+4 <= rows; i += 4 {
			boxRows4(buf[i*cols:(i+4)*cols], tmp[i*cols:(i+4)*cols], cols, wRows)
		}
		for ; i < rows; i++ {
			boxRow(buf[i*cols:(i+1)*cols], tmp[i*cols:(i+1)*cols], wRows)
		}
		boxCols(tmp, buf, rows, cols, wCols)
	}
}

// boxRow is the reference's box1DFloat with stride 1: a running float32 sum,
// each add and subtract a separate rounding, divided by the number of
// samples in the window, which shrinks at both ends.
func boxRow(in, out []float32, window int) {
	half := (window + 2) / 2
	n := len(in)
	var sum float32
	cnt := 0
	ri, li, oi := 0, 0, 0
	for range half - 1 {
		sum += in[ri]
		cnt++
		ri++
	}
	for range window - half + 1 {
		sum += in[ri]
		cnt++
		out[oi] = sum / float32(cnt)
		ri++
		oi++
	}
	d := float32(cnt)
	for range n - window {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / d
		li++
		ri++
		oi++
	}
	for range half - 1 {
		sum -= in[li]
		cnt--
		out[oi] = sum / float32(cnt)
		li++
		oi++
	}
}

// boxRows4 is boxRow on 4 consecutive rows at once: the operations on each
// row are the same and in the same order, but four independent running
// sums keep the processor busy where one sum's chain of dependent adds
// would stall it.
func boxRows4(in, out []float32, n, window int) {
	half := (window + 2) / 2
	r0, r1, r2, r3 := in[:n], in[n:2*n], in[2*n:3*n], in[3*n:4*n]
	o0, o1, o2, o3 := out[:n], out[n:2*n], out[2*n:3*n], out[3*n:4*n]
	var s0, s1, s2, s3 float32
	cnt := 0
	ri, li, oi := 0, 0, 0
	for range half - 1 {
		s0 += r0[ri]
		s1 += r1[ri]
		s2 += r2[ri]
		s3 += r3[ri]
		cnt++
		ri++
	}
	for range window - half + 1 {
		s0 += r0[ri]
		s1 += r1[ri]
		s2 += r2[ri]
		s3 += r3[ri]
		cnt++
		d := float32(cnt)
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		ri++
		oi++
	}
	d := float32(cnt)
	for range n - window {
		s0 += r0[ri]
		s1 += r1[ri]
		s2 += r2[ri]
		s3 += r3[ri]
		s0 -= r0[li]
		s1 -= r1[li]
		s2 -= r2[li]
		s3 -= r3[li]
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		li++
		ri++
		oi++
	}
	for range half - 1 {
		s0 -= r0[li]
		s1 -= r1[li]
		s2 -= r2[li]
		s3 -= r3[li]
		cnt--
		d := float32(cnt)
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		li++
		oi++
	}
}

// boxCols is box1DFloat down every column. Columns are independent, so it
// walks the image row by row with one running sum per column: the same
// operations in the same order per column as the reference, but reading
// memory sequentially.
func boxCols(in, out []float32, rows, cols, window int) {
	half := (window + 2) / 2
	sum := make([]float32, cols)
	cnt := 0
	ri, li, oi := 0, 0, 0
	row := func(i int) []float32 { return in[i*cols : (i+1)*cols] }
	for range half - 1 {
		for j, v := range row(ri) {
			sum[j] += v
		}
		cnt++
		ri++
	}
	for range window - half + 1 {
		cnt++
		d := float32(cnt)
		o := out[oi*cols : (oi+1)*cols]
		for j, v := range row(ri) {
			sum[j] += v
			o[j] = sum[j] / d
		}
		ri++
		oi++
	}
	d := float32(cnt)
	for range rows - window {
		o := out[oi*cols : (oi+1)*cols]
		add, sub := row(ri)[:len(o)], row(li)[:len(o)]
		sum := sum[:len(o)]
		for j := range o {
			sum[j] += add[j]
			sum[j] -= sub[j]
			o[j] = sum[j] / d
		}
		li++
		ri++
		oi++
	}
	for range half - 1 {
		cnt--
		d := float32(cnt)
		o := out[oi*cols : (oi+1)*cols]
		for j, v := range row(li) {
			sum[j] -= v
			o[j] = sum[j] / d
		}
		li++
		oi++
	}
}

// decimate samples 64x64 points of the filtered image, at source index
// int((i+0.5)*N/64) computed in double precision as the reference does.
func decimate(in []float32, rows, cols int, out *[64 * 64]float32) {
	var js [64]int
	for j := range 64 {
		js[j] = int((float64(j) + 0.5) * float64(cols) / 64)
	}
	for i := range 64 {
		r := in[int((float64(i)+0.5)*float64(rows)/64)*cols:]
		for j, sj := range js {
			out[i*64+j] = r[sj]
		}
	}
}

// quality is the reference's image-domain quality metric: the sum of
// int(|u-v|*100/255) over vertically and horizontally adjacent pixels of
// the 64x64 buffer, divided by 90 and capped at 100.
func quality(a *[64 * 64]float32) int {
	sum := 0
	step := func(u, v float32) {
		d := int(float32(float32(u-v)*100) / 255)
		if d < 0 {
			d = -d
		}
		sum += d
	}
	for i := range 63 {
		for j := range 64 {
			step(a[i*64+j], a[(i+1)*64+j])
		}
	}
	for i := range 64 {
		for j := range 63 {
			step(a[i*64+j], a[i*64+j+1])
		}
	}
	return min(sum/90, 100)
}

// dctMatrix is the 16x64 DCT-II basis without the DC row, in float32:
// D[i][j] = float32(sqrt(2/64)) * cos(pi/128 * (i+1) * (2j+1)), the product
// taken in double and rounded once, as the reference computes it.
var dctMatrix = func() (d [16 * 64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64.0)))
	for i := range 16 {
		for j := range 64 {
			d[i*64+j] = float32(scale * math.Cos(math.Pi/2/64*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// dct64To16 computes B = D A D^T with float32 sums in order k = 0..63.
func dct64To16(a *[64 * 64]float32, t *[16 * 64]float32, b *[16 * 16]float32) {
	d := &dctMatrix
	// T = D A, accumulated row by row of A so the inner loop is sequential;
	// each T[i][j] still receives its terms in order k = 0..63.
	for i := range 16 {
		ti := t[i*64 : i*64+64 : i*64+64]
		clear(ti)
		for k := range 64 {
			dik := d[i*64+k]
			ak := a[k*64 : k*64+64 : k*64+64]
			for j := range ti {
				ti[j] += float32(dik * ak[j])
			}
		}
	}
	for i := range 16 {
		ti := t[i*64 : i*64+64 : i*64+64]
		for j := range 16 {
			dj := d[j*64 : j*64+64 : j*64+64]
			var sum float32
			for k := range ti {
				sum += float32(ti[k] * dj[k])
			}
			b[i*16+j] = sum
		}
	}
}

// bitsOf sets bit 16i+j when B[i][j] is above the lower median of B.
func bitsOf(b *[256]float32) Hash {
	sorted := *b
	slices.Sort(sorted[:])
	median := sorted[127]
	var h Hash
	for k, v := range b {
		if v > median {
			h.setBit(k)
		}
	}
	return h
}

// The dihedral variants permute and negate DCT coefficients: a reflection
// negates the odd-frequency coefficients along its axis, a transpose swaps
// the two frequency indices. Index i holds frequency i+1 (the DC term is
// not kept), so odd frequencies sit at even indices. Rotations are
// counter-clockwise, as the reference names them.
type variant struct {
	transpose bool
	negate    func(i, j int) bool
}

var (
	rot90     = variant{true, func(_, j int) bool { return j&1 == 0 }}
	rot180    = variant{false, func(i, j int) bool { return (i+j)&1 == 1 }}
	rot270    = variant{true, func(i, _ int) bool { return i&1 == 0 }}
	flipX     = variant{false, func(i, _ int) bool { return i&1 == 0 }}
	flipY     = variant{false, func(_, j int) bool { return j&1 == 0 }}
	flipPlus  = variant{true, func(int, int) bool { return false }}
	flipMinus = variant{true, func(i, j int) bool { return (i+j)&1 == 1 }}
)

// apply writes the variant of DCT a into b.
func (v variant) apply(a, b *[256]float32) {
	for i := range 16 {
		for j := range 16 {
			x := a[i*16+j]
			if v.negate(i, j) {
				x = -x
			}
			if v.transpose {
				b[j*16+i] = x
			} else {
				b[i*16+j] = x
			}
		}
	}
}
