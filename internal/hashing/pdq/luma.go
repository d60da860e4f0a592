package pdq

import (
	"image"
	"image/color"
)

// Luma coefficients (BT.601) as float32 constants, as in the reference.
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

// fillLuma writes img's luma into s.luma, squashed to 512x512 when a side
// is over 512, and returns its size; ok is false when a side is under 5
// after the squash (the reference squashes first: 3x700 is hashed).
func (s *state) fillLuma(img image.Image) (rows, cols int, ok bool) {
	bounds := img.Bounds()
	w, h := bounds.Dx(), bounds.Dy()
	rows, cols = h, w
	if w > MaxSide || h > MaxSide {
		rows, cols = MaxSide, MaxSide
	}
	if rows < MinSide || cols < MinSide {
		return 0, 0, false
	}
	if n := rows * cols; cap(s.luma) < n {
		s.luma = make([]float32, n)
		s.tmp = make([]float32, n)
	} else {
		s.luma, s.tmp = s.luma[:n], s.tmp[:n]
	}
	// Nearest-neighbour source coordinates: floor(x*W/512) when squashing.
	xs := make([]int, cols)
	for x := range xs {
		xs[x] = bounds.Min.X + x*w/cols
	}
	ys := make([]int, rows)
	for y := range ys {
		ys[y] = bounds.Min.Y + y*h/rows
	}
	src := newRGBSource(img)
	// The reference reads an image whose every pixel has R=G=B as a single
	// grey channel and uses the value itself, which differs from the
	// weighted sum in the last float32 bit.
	grey := src.grey || src.allGrey(bounds)
	var row []byte
	for y, sy := range ys {
		out := s.luma[y*cols : (y+1)*cols]
		if src.lumaRow(sy, xs, out, grey) {
			continue
		}
		row = src.row(sy, xs, row[:0])
		if grey {
			for x := range out {
				out[x] = float32(row[3*x])
			}
			continue
		}
		for x := range out {
			out[x] = luma(row[3*x], row[3*x+1], row[3*x+2])
		}
	}
	return rows, cols, true
}

// Products of each coefficient with every 8-bit value, rounded to float32
// as the reference rounds each product before adding.
var lumaTables = func() (t [3][256]float32) {
	for v := range 256 {
		t[0][v] = float32(lumaR * float32(v))
		t[1][v] = float32(lumaG * float32(v))
		t[2][v] = float32(lumaB * float32(v))
	}
	return t
}()

// luma is 0.299R + 0.587G + 0.114B in float32, added left to right.
func luma(r, g, b byte) float32 {
	return lumaTables[0][r] + lumaTables[1][g] + lumaTables[2][b]
}

// lumaRow writes the luma of pixels (x, y) for x in xs directly for the
// common opaque 8-bit types, and reports false for other types.
func (s *rgbSource) lumaRow(y int, xs []int, out []float32, grey bool) bool {
	switch m := s.img.(type) {
	case *image.RGBA:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for i, x := range xs {
			o := (x - m.Rect.Min.X) * 4
			r, g, b := p[o], p[o+1], p[o+2]
			if a := p[o+3]; a != 0xff {
				c := nrgb(color.RGBA{r, g, b, a})
				r, g, b = c[0], c[1], c[2]
			}
			if grey {
				out[i] = float32(r)
			} else {
				out[i] = luma(r, g, b)
			}
		}
		return true
	case *image.NRGBA:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for i, x := range xs {
			o := (x - m.Rect.Min.X) * 4
			if grey {
				out[i] = float32(p[o])
			} else {
				out[i] = luma(p[o], p[o+1], p[o+2])
			}
		}
		return true
	case *image.Gray:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for i, x := range xs {
			out[i] = float32(p[x-m.Rect.Min.X])
		}
		return true
	}
	return false
}

// rgbSource reads 8-bit non-premultiplied RGB from an image, with fast paths
// for the types the standard decoders return. Alpha is dropped, not blended.
type rgbSource struct {
	img  image.Image
	pal  [][3]byte // for *image.Paletted
	grey bool      // the type can only hold grey pixels
}

func newRGBSource(img image.Image) *rgbSource {
	s := &rgbSource{img: img}
	switch m := img.(type) {
	case *image.Gray, *image.Gray16:
		s.grey = true
	case *image.Paletted:
		s.pal = make([][3]byte, len(m.Palette))
		for i, c := range m.Palette {
			s.pal[i] = nrgb(c)
		}
	}
	return s
}

// row appends the RGB triples of pixels (x, y) for x in xs to dst.
func (s *rgbSource) row(y int, xs []int, dst []byte) []byte {
	switch m := s.img.(type) {
	case *image.NRGBA:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for _, x := range xs {
			i := (x - m.Rect.Min.X) * 4
			dst = append(dst, p[i], p[i+1], p[i+2])
		}
	case *image.RGBA:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for _, x := range xs {
			i := (x - m.Rect.Min.X) * 4
			if a := p[i+3]; a == 0xff {
				dst = append(dst, p[i], p[i+1], p[i+2])
			} else {
				c := nrgb(color.RGBA{p[i], p[i+1], p[i+2], a})
				dst = append(dst, c[0], c[1], c[2])
			}
		}
	case *image.Gray:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for _, x := range xs {
			v := p[x-m.Rect.Min.X]
			dst = append(dst, v, v, v)
		}
	case *image.YCbCr:
		for _, x := range xs {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			dst = append(dst, r, g, b)
		}
	case *image.NYCbCrA:
		for _, x := range xs {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			dst = append(dst, r, g, b)
		}
	case *image.Paletted:
		p := m.Pix[(y-m.Rect.Min.Y)*m.Stride:]
		for _, x := range xs {
			var c [3]byte
			if i := int(p[x-m.Rect.Min.X]); i < len(s.pal) {
				c = s.pal[i]
			}
			dst = append(dst, c[0], c[1], c[2])
		}
	case *image.CMYK, *image.Gray16, *image.RGBA64, *image.NRGBA64:
		// Through RGBA64At, which gives what At(x, y).RGBA() gives without
		// boxing a colour a pixel: allGrey reads every pixel, and 8 bytes
		// of garbage a pixel is hundreds of megabytes for a large image.
		m64 := m.(image.RGBA64Image)
		for _, x := range xs {
			c := nrgb64(m64.RGBA64At(x, y))
			dst = append(dst, c[0], c[1], c[2])
		}
	default:
		for _, x := range xs {
			c := nrgb(m.At(x, y))
			dst = append(dst, c[0], c[1], c[2])
		}
	}
	return dst
}

// allGrey reports whether every pixel of the image has R=G=B.
func (s *rgbSource) allGrey(b image.Rectangle) bool {
	xs := make([]int, b.Dx())
	for i := range xs {
		xs[i] = b.Min.X + i
	}
	var row []byte
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row = s.row(y, xs, row[:0])
		for i := 0; i < len(row); i += 3 {
			if row[i] != row[i+1] || row[i] != row[i+2] {
				return false
			}
		}
	}
	return true
}

// nrgb converts any colour to 8-bit non-premultiplied RGB.
func nrgb(c color.Color) [3]byte {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]byte{n.R, n.G, n.B}
}

// nrgb64 is nrgb of a colour whose RGBA method returns c, computed as
// color.NRGBAModel does.
func nrgb64(c color.RGBA64) [3]byte {
	r, g, b, a := uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
	switch a {
	case 0xffff:
	case 0:
		return [3]byte{}
	default:
		r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
	}
	return [3]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)}
}
