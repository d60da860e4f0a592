package media

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/wardhq/ward/internal/hashing/media/mediatest"
)

// Fixtures are made here with the standard encoders, so that no image file
// has to be kept in the repository.

// testImage is an opaque w x h image in which every pixel differs from its
// neighbours, so that a decoder that misplaces pixels is caught.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 37), uint8(y * 59), uint8(x*y + 11), 255})
		}
	}
	return m
}

// encode writes m in format f; for WebP, which Go cannot encode, it writes a
// lossless image of m's size in one colour, m's top-left pixel.
func encode(tb testing.TB, f Format, m *image.NRGBA) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var err error
	switch f {
	case JPEG:
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
	case PNG:
		err = png.Encode(&buf, m)
	case GIF:
		err = gif.Encode(&buf, m, nil)
	case BMP:
		err = bmp.Encode(&buf, m)
	case TIFF:
		err = tiff.Encode(&buf, m, nil)
	case WebP:
		return solidWebP(m.Bounds().Dx(), m.Bounds().Dy(), m.NRGBAAt(0, 0))
	case PNM:
		return encodePNM(m, '6')
	default:
		tb.Fatalf("no encoder for %q", f)
	}
	if err != nil {
		tb.Fatalf("encoding %s: %v", f, err)
	}
	return buf.Bytes()
}

// encodePNM writes m as P1 to P6 with maxval 255; bitmaps are black where
// the green channel is under 128.
func encodePNM(m *image.NRGBA, kind byte) []byte {
	b := m.Bounds()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "P%c\n# made by a test\n%d %d\n", kind, b.Dx(), b.Dy())
	if kind != '1' && kind != '4' {
		buf.WriteString("255\n")
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		var bits byte
		for x := b.Min.X; x < b.Max.X; x++ {
			c := m.NRGBAAt(x, y)
			black := c.G < 128
			switch kind {
			case '1':
				buf.WriteString(map[bool]string{true: "1", false: "0"}[black])
			case '2':
				fmt.Fprintf(&buf, "%d ", c.G)
			case '3':
				fmt.Fprintf(&buf, "%d %d %d\n", c.R, c.G, c.B)
			case '4':
				if black {
					bits |= 0x80 >> (x % 8)
				}
				if x%8 == 7 || x == b.Max.X-1 {
					buf.WriteByte(bits)
					bits = 0
				}
			case '5':
				buf.WriteByte(c.G)
			case '6':
				buf.Write([]byte{c.R, c.G, c.B})
			}
		}
		if kind == '1' || kind == '2' {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

// bitWriter packs bits least significant first, as VP8L wants them.
type bitWriter struct {
	buf []byte
	n   uint
}

func (b *bitWriter) write(v uint32, bits uint) {
	for i := range bits {
		if b.n%8 == 0 {
			b.buf = append(b.buf, 0)
		}
		if v>>i&1 != 0 {
			b.buf[len(b.buf)-1] |= 1 << (b.n % 8)
		}
		b.n++
	}
}

// vp8lHeader is the start of a VP8L (lossless WebP) bitstream for a w x h
// image: signature, sizes, no alpha, version 0.
func vp8lHeader(w, h int) *bitWriter {
	var b bitWriter
	b.write(0x2f, 8)
	b.write(uint32(w-1), 14)
	b.write(uint32(h-1), 14)
	b.write(0, 1)
	b.write(0, 3)
	return &b
}

// solidWebP is a lossless WebP of one colour: no transforms and five prefix
// codes of one symbol each, so that every pixel takes zero bits.
func solidWebP(w, h int, c color.NRGBA) []byte {
	b := vp8lHeader(w, h)
	b.write(0, 1) // no transform
	b.write(0, 1) // no colour cache
	b.write(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A} {
		b.write(1, 1) // simple code
		b.write(0, 1) // one symbol
		b.write(1, 1) // of 8 bits
		b.write(uint32(sym), 8)
	}
	b.write(1, 1) // distance code: simple, one symbol of 1 bit, 0
	b.write(0, 1)
	b.write(0, 1)
	b.write(0, 1)
	return riffWebP(chunk("VP8L", b.buf))
}

func chunk(id string, data []byte) []byte {
	out := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func riffWebP(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// vp8x is a VP8X chunk for a canvas of w x h with the given flags.
func vp8x(flags byte, w, h int) []byte {
	d := []byte{flags, 0, 0, 0}
	for _, v := range []int{w - 1, h - 1} {
		d = append(d, byte(v), byte(v>>8), byte(v>>16))
	}
	return chunk("VP8X", d)
}

// Bombs: small valid files whose headers were then made to claim huge
// sizes, each against the header field its decoder trusts.

func pngBomb(tb testing.TB, w, h uint32) []byte {
	data := bytes.Clone(encode(tb, PNG, testImage(8, 8)))
	// IHDR is the first chunk: length at 8, type at 12, data at 16, CRC
	// of type and data at 29.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func gifBomb(tb testing.TB, w, h uint16) []byte {
	data := bytes.Clone(encode(tb, GIF, testImage(8, 8)))
	binary.LittleEndian.PutUint16(data[6:], w)
	binary.LittleEndian.PutUint16(data[8:], h)
	return data
}

// gifFrameBomb keeps the 8x8 logical screen and makes the first frame
// claim w x h.
func gifFrameBomb(tb testing.TB, w, h uint16) []byte {
	data := bytes.Clone(encode(tb, GIF, testImage(8, 8)))
	i := 13
	if data[10]&0x80 != 0 { // global colour table
		i += 3 << (data[10]&7 + 1)
	}
	for data[i] == 0x21 { // extensions: introducer, label, sub-blocks
		i += 2
		for data[i] != 0 {
			i += int(data[i]) + 1
		}
		i++
	}
	if data[i] != 0x2c {
		tb.Fatalf("no image descriptor at %d", i)
	}
	binary.LittleEndian.PutUint16(data[i+5:], w)
	binary.LittleEndian.PutUint16(data[i+7:], h)
	return data
}

func jpegBomb(tb testing.TB, w, h uint16) []byte {
	data := bytes.Clone(encode(tb, JPEG, testImage(8, 8)))
	for i := 2; i+4 < len(data); {
		marker, n := data[i+1], int(binary.BigEndian.Uint16(data[i+2:]))
		if marker == 0xc0 { // SOF0: length, precision, height, width
			binary.BigEndian.PutUint16(data[i+5:], h)
			binary.BigEndian.PutUint16(data[i+7:], w)
			return data
		}
		i += 2 + n
	}
	tb.Fatal("no SOF0 marker")
	return nil
}

func bmpBomb(tb testing.TB, w, h int32) []byte {
	data := bytes.Clone(encode(tb, BMP, testImage(8, 8)))
	binary.LittleEndian.PutUint32(data[18:], uint32(w))
	binary.LittleEndian.PutUint32(data[22:], uint32(h))
	return data
}

// tiffBomb rewrites ImageWidth and ImageLength in the first IFD.
func tiffBomb(tb testing.TB, w, h uint32) []byte {
	data := bytes.Clone(encode(tb, TIFF, testImage(8, 8)))
	le := binary.LittleEndian
	if string(data[:4]) != "II*\x00" {
		tb.Fatal("Go's TIFF encoder is expected to write little-endian")
	}
	ifd := int(le.Uint32(data[4:]))
	for i := range int(le.Uint16(data[ifd:])) {
		e := data[ifd+2+12*i:]
		var v uint32
		switch le.Uint16(e) {
		case 256:
			v = w
		case 257:
			v = h
		default:
			continue
		}
		le.PutUint16(e[2:], 4) // LONG
		le.PutUint32(e[4:], 1)
		le.PutUint32(e[8:], v)
	}
	return data
}

// fixtures returns one small image of each format and PNM kind.
func fixtures(tb testing.TB) map[string][]byte {
	m := testImage(13, 7)
	out := map[string][]byte{}
	for _, f := range []Format{JPEG, PNG, GIF, WebP, BMP, TIFF} {
		out[string(f)] = encode(tb, f, m)
	}
	for k := byte('1'); k <= '6'; k++ {
		out["P"+string(k)] = encodePNM(m, k)
	}
	return out
}

// progressiveJPEG is a grey w x h progressive JPEG of acScans AC scans
// (see mediatest.ProgressiveJPEG).
func progressiveJPEG(w, h, acScans int) []byte { return mediatest.ProgressiveJPEG(w, h, 1, acScans) }

// tiffStrips is a 1 x n grey TIFF of n one-row deflate strips that all
// point at the same tiny compressed row: six bytes a strip, each of which
// costs the decoder a new decompressor.
func tiffStrips(n int) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{7})
	zw.Close()

	le := binary.LittleEndian
	const entries = 9
	offsets := 8 + 2 + 12*entries + 4 // after the header and the IFD
	counts := offsets + 4*n
	row := counts + 2*n
	const short, long = 3, 4
	b := le.AppendUint32([]byte("II*\x00"), 8)
	b = le.AppendUint16(b, entries)
	for _, e := range [entries][3]uint32{ // tag, type, count; value
		{256, long, 1}, {257, long, 1}, {258, short, 1}, {259, short, 1}, {262, short, 1},
		{273, long, uint32(n)}, {277, short, 1}, {278, short, 1}, {279, short, uint32(n)},
	} {
		value := map[uint32]uint32{256: 1, 257: uint32(n), 258: 8, 259: 8, 262: 1, 273: uint32(offsets), 277: 1, 278: 1, 279: uint32(counts)}[e[0]]
		b = le.AppendUint16(b, uint16(e[0]))
		b = le.AppendUint16(b, uint16(e[1]))
		b = le.AppendUint32(b, e[2])
		b = le.AppendUint32(b, value)
	}
	b = le.AppendUint32(b, 0) // no next IFD
	for range n {
		b = le.AppendUint32(b, uint32(row))
	}
	for range n {
		b = le.AppendUint16(b, uint16(z.Len()))
	}
	return append(b, z.Bytes()...)
}
