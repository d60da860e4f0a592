package media

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// This file decodes the Netpbm formats PBM, PGM and PPM, which Go's
// libraries lack, as the Netpbm documents define them
// (netpbm.sourceforge.net/doc/pbm.html, pgm.html, ppm.html): a header
// "P<n> width height [maxval]" of decimal numbers separated by whitespace and
// '#' comments, then the pixels, as bytes for P4-P6 (after exactly one
// whitespace character) or as decimal text for P1-P3. Only the first image
// of a file is decoded. Samples are scaled from 0..maxval to 0..255.

// pnmHeader is what the header of a PNM file says.
type pnmHeader struct {
	kind          byte // '1' to '6', the digit after 'P'
	width, height int
	maxval        int // 1 for bitmaps (P1, P4)
	raster        int // offset in the file of the first pixel
}

// channels is the number of samples per pixel.
func (h pnmHeader) channels() int {
	if h.kind == '3' || h.kind == '6' {
		return 3
	}
	return 1
}

func (h pnmHeader) kindName() string {
	switch h.kind {
	case '1', '4':
		return "bitmap"
	case '2', '5':
		return "greyscale"
	}
	return "colour"
}

func isPNMSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func pnmError(format string, args ...any) error {
	return fmt.Errorf("PNM "+format+": %w", append(args, ErrCorrupt)...)
}

// pnmScanner reads the decimal numbers of a PNM header or plain raster.
type pnmScanner struct {
	data []byte
	pos  int
}

// skip passes whitespace and comments, which run from '#' to the end of
// the line.
func (s *pnmScanner) skip() {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case isPNMSpace(c):
			s.pos++
		case c == '#':
			for s.pos < len(s.data) && s.data[s.pos] != '\n' && s.data[s.pos] != '\r' {
				s.pos++
			}
		default:
			return
		}
	}
}

// number reads the next number, saturating at math.MaxInt32 so that an
// absurd width reads as too large rather than wrapping to a small one.
func (s *pnmScanner) number(what string) (int, error) {
	s.skip()
	if s.pos == len(s.data) {
		return 0, pnmError("data ends early, before the %s", what)
	}
	start, n := s.pos, 0
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		n = min(n*10+int(s.data[s.pos]-'0'), math.MaxInt32)
		s.pos++
	}
	if s.pos == start {
		return 0, pnmError("has %q where the %s should be", s.data[s.pos], what)
	}
	return n, nil
}

func parsePNMHeader(data []byte) (pnmHeader, error) {
	if len(data) < 3 || data[0] != 'P' || data[1] < '1' || data[1] > '6' || !isPNMSpace(data[2]) {
		return pnmHeader{}, pnmError("header does not start with P1 to P6")
	}
	h := pnmHeader{kind: data[1], maxval: 1}
	s := pnmScanner{data: data, pos: 2}
	var err error
	if h.width, err = s.number("width"); err != nil {
		return h, err
	}
	if h.height, err = s.number("height"); err != nil {
		return h, err
	}
	if h.kind != '1' && h.kind != '4' {
		if h.maxval, err = s.number("maximum value"); err != nil {
			return h, err
		}
		if h.maxval < 1 || h.maxval > 65535 {
			return h, pnmError("maximum value %d is outside 1 to 65535", h.maxval)
		}
	}
	if h.kind >= '4' {
		// Binary pixels start after exactly one whitespace character; any
		// more would be taken as pixels.
		if s.pos == len(data) {
			return h, pnmError("data ends after the header")
		}
		if !isPNMSpace(data[s.pos]) {
			return h, pnmError("header is not followed by whitespace")
		}
		s.pos++
	}
	h.raster = s.pos
	return h, nil
}

func pnmConfig(data []byte) (image.Config, error) {
	h, err := parsePNMHeader(data)
	if err != nil {
		return image.Config{}, err
	}
	model := color.GrayModel
	if h.channels() == 3 {
		model = color.RGBAModel
	}
	return image.Config{ColorModel: model, Width: h.width, Height: h.height}, nil
}

// decodePNM decodes a PNM image whose size Decode has already checked:
// P1 and P4 to *image.Gray holding 0 (black) and 255, P2 and P5 to
// *image.Gray, P3 and P6 to opaque *image.RGBA. It checks that the pixels
// can all be in the file before allocating for them.
func decodePNM(data []byte) (image.Image, error) {
	h, err := parsePNMHeader(data)
	if err != nil {
		return nil, err
	}
	w, ht, c := h.width, h.height, h.channels()
	if w <= 0 || ht <= 0 {
		return nil, pnmError("image is %dx%d, which has no pixels", w, ht)
	}
	raster := data[h.raster:]
	// fits reports whether n bytes have room for w*ht*per, in a way that
	// cannot overflow.
	fits := func(n, per int) bool { return w <= n/per/ht }
	short := func(need string) error {
		return pnmError("data ends early: a %dx%d %s image needs %s, the file has %d bytes of pixels",
			w, ht, h.kindName(), need, len(raster))
	}

	switch h.kind {
	case '4':
		stride := (w + 7) / 8
		if ht > len(raster)/stride {
			return nil, short(fmt.Sprintf("%d bytes", stride*ht))
		}
		m := image.NewGray(image.Rect(0, 0, w, ht))
		for y := range ht {
			row, out := raster[y*stride:], m.Pix[y*m.Stride:]
			for x := range w {
				if row[x>>3]&(0x80>>(x&7)) == 0 { // 1 is black
					out[x] = 255
				}
			}
		}
		return m, nil

	case '5', '6':
		size := 1
		if h.maxval > 255 {
			size = 2 // big-endian
		}
		if !fits(len(raster), c*size) {
			return nil, short(fmt.Sprintf("%d bytes", w*ht*c*size))
		}
		if h.maxval == 255 {
			return pnmFill8(w, ht, c, raster), nil
		}
		scale := pnmScaler(h.maxval)
		sample := func(i int) (uint8, error) {
			if size == 1 {
				return scale(int(raster[i]))
			}
			return scale(int(raster[2*i])<<8 | int(raster[2*i+1]))
		}
		return pnmFill(w, ht, c, sample)

	case '1':
		// Each pixel is one character, '0' or '1', whitespace optional.
		if !fits(len(raster), 1) {
			return nil, short(fmt.Sprintf("at least %d characters", w*ht))
		}
		s := pnmScanner{data: raster}
		return pnmFill(w, ht, 1, func(int) (uint8, error) {
			s.skip()
			if s.pos == len(raster) {
				return 0, pnmError("data ends early, in the pixels")
			}
			b := raster[s.pos]
			s.pos++
			switch b {
			case '0':
				return 255, nil
			case '1':
				return 0, nil
			}
			return 0, pnmError("bitmap has %q where 0 or 1 should be", b)
		})

	default: // '2', '3'
		// Each sample is at least one digit and a separator, but the last.
		if !fits((len(raster)+1)/2, c) {
			return nil, short(fmt.Sprintf("at least %d characters", 2*w*ht*c-1))
		}
		scale := pnmScaler(h.maxval)
		s := pnmScanner{data: raster}
		return pnmFill(w, ht, c, func(int) (uint8, error) {
			v, err := s.number("next sample")
			if err != nil {
				return 0, err
			}
			return scale(v)
		})
	}
}

// pnmScaler returns a function that scales a sample from 0..maxval to
// 0..255, rounding to nearest, and refuses samples over maxval.
func pnmScaler(maxval int) func(int) (uint8, error) {
	return func(v int) (uint8, error) {
		if v > maxval {
			return 0, pnmError("sample %d is over the maximum value %d", v, maxval)
		}
		if maxval == 255 {
			return uint8(v), nil
		}
		return uint8((v*255 + maxval/2) / maxval), nil
	}
}

// pnmFill8 is pnmFill for the common raw files with 8-bit samples, which
// need no scaling: a copy for grey, a copy adding alpha for colour.
func pnmFill8(w, h, c int, raster []byte) image.Image {
	r := image.Rect(0, 0, w, h)
	if c == 1 {
		m := image.NewGray(r)
		copy(m.Pix, raster)
		return m
	}
	m := image.NewRGBA(r)
	for p, i := 0, 0; p < len(m.Pix); p, i = p+4, i+3 {
		m.Pix[p], m.Pix[p+1], m.Pix[p+2], m.Pix[p+3] = raster[i], raster[i+1], raster[i+2], 255
	}
	return m
}

// pnmFill makes a w x h image of c channels (1: grey, 3: opaque RGB) from
// samples given in file order by sample(i), i counting from 0.
func pnmFill(w, h, c int, sample func(i int) (uint8, error)) (image.Image, error) {
	r := image.Rect(0, 0, w, h)
	if c == 1 {
		m := image.NewGray(r)
		for i := range m.Pix {
			v, err := sample(i)
			if err != nil {
				return nil, err
			}
			m.Pix[i] = v
		}
		return m, nil
	}
	m := image.NewRGBA(r)
	for p, i := 0, 0; p < len(m.Pix); p += 4 {
		for k := range 3 {
			v, err := sample(i)
			if err != nil {
				return nil, err
			}
			m.Pix[p+k] = v
			i++
		}
		m.Pix[p+3] = 255
	}
	return m, nil
}
