package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/wardhq/ward/internal/hashing/media/internal/jpeg"
)

// Cost is what decoding an image will take, as told by its header.
type Cost struct {
	Format        Format
	Width, Height int
	// Bytes is an upper bound of the memory Decode allocates for the
	// image: the decoder's buffers and the decoded image, which the caller
	// then holds. It is calibrated against Go's decoders (see
	// TestEstimateBounds) and is a few times the pixel count: from 1 byte a
	// pixel for a grey baseline JPEG to 16 for a progressive CMYK JPEG or
	// a 16-bit TIFF.
	Bytes int64
}

// decoderOverhead is what a decoder allocates besides pixels: its state,
// Huffman and LZW tables, zlib windows, rows being filtered.
const decoderOverhead = 1 << 20

// Estimate checks data as Decode does before decoding (size, format,
// header, pixel limit, structure) and returns the cost of decoding it,
// without allocating anything for the pixels. Every error is one Decode
// would return for the same data.
func Estimate(data []byte, lim Limits) (Cost, error) {
	lim = lim.orDefault()
	if len(data) == 0 {
		return Cost{}, fmt.Errorf("no image data (the file is empty): %w", ErrCorrupt)
	}
	if n := int64(len(data)); n > lim.MaxBytes {
		return Cost{}, fmt.Errorf("image data is %s, over the %s limit: %w", byteSize(n), byteSize(lim.MaxBytes), ErrTooLarge)
	}
	f, ok := Sniff(data)
	if !ok {
		return Cost{}, unknownFormat(data)
	}
	c := Cost{Format: f}
	cfg, err := config(codecs[f], data, lim)
	if err != nil {
		return c, err
	}
	c.Width, c.Height = cfg.Width, cfg.Height
	px := int64(cfg.Width) * int64(cfg.Height)
	var bytes int64
	switch f {
	case JPEG:
		bytes = jpegCost(data, cfg)
	case PNG:
		bytes = pngCost(data, px)
	case GIF:
		bytes = px // a paletted frame, at most the screen's size
	case BMP:
		bytes = 4 * px // paletted, or RGBA
	case WebP:
		bytes = webpCost(data, cfg)
	case TIFF:
		bytes = tiffCost(data, cfg)
	case PNM:
		bytes = 4 * px // grey or RGBA; the raster is read in place
	}
	c.Bytes = bytes + decoderOverhead
	return c, nil
}

// config reads the header and runs the checks Decode runs before decoding.
func config(c codec, data []byte, lim Limits) (image.Config, error) {
	cfg, err := c.config(data)
	if err != nil {
		if c.claimed != nil {
			if w, h, ok := c.claimed(data); ok {
				if err := checkPixels(w, h, lim.MaxPixels); errors.Is(err, ErrTooLarge) {
					return cfg, err
				}
			}
		}
		return cfg, explain(c, err)
	}
	if err := checkPixels(cfg.Width, cfg.Height, lim.MaxPixels); err != nil {
		return cfg, err
	}
	if c.check != nil {
		if err := c.check(data, cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// jpegCost is what the decoder (package media/internal/jpeg) allocates,
// as its own header pass tells: never another parser's reading of the
// segments, which a crafted file can make differ from the decoder's.
// Decode holds the decoder to the same cost (jpegDecode).
func jpegCost(data []byte, cfg image.Config) int64 {
	h, err := jpeg.DecodeHeader(bytes.NewReader(data))
	if err != nil {
		// Decode will fail at the same place, before allocating; this
		// is the most any header could ask for.
		return 24 * int64(cfg.Width) * int64(cfg.Height)
	}
	return h.Cost()
}

// tiffCost is the image, of the decoder's own colour model, and a
// block's samples. x/image/tiff reads an uncompressed block in 10 MB
// chunks into a slice grown by append, and inflates a compressed one into
// a bytes.Buffer, as much as 8 bytes a pixel of the block whatever the
// image's depth, allocating up to 4 times that; the block may be the
// whole image. A large uncompressed block is read from the file, so the
// file's size bounds it too.
func tiffCost(data []byte, cfg image.Config) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	var bpp int64
	switch cfg.ColorModel {
	case color.GrayModel:
		bpp = 1
	case color.Gray16Model:
		bpp = 2
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	default: // RGBA, NRGBA; a palette, of 1
		bpp = 4
	}
	ifd := readTIFFIFD(data)
	// A strip is at most the whole image; a tile may be larger (up to
	// 1024x1024 pixels, as x/image/tiff allows).
	block := max(px, ifd.tileWidth*ifd.tileHeight)
	buf := 4 * 8 * block
	if ifd.compression <= 1 { // none; some files leave it out
		// Under a chunk, allocated at once, before reading; over, as read.
		buf = min(buf, maxTIFFChunk+4*int64(len(data)))
		if 8*block < maxTIFFChunk {
			buf = 8 * block
		}
	}
	return bpp*px + buf
}

// maxTIFFChunk is the chunk x/image/tiff reads a large uncompressed block in.
const maxTIFFChunk = 10 << 20

// pngCost is the decoded image, at 1 to 8 bytes a pixel by colour type and
// depth (4 or 8 when a tRNS chunk adds alpha), twice for an interlaced
// image, whose passes are decoded into images of their own first.
func pngCost(data []byte, px int64) int64 {
	depth, colour, interlaced := data[24], data[25], data[28] == 1
	trns := false
	for p := 8; p+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[p:]))
		t := string(data[p+4 : p+8])
		if t == "tRNS" {
			trns = true
		}
		if t == "IDAT" || n > int64(len(data)) {
			break
		}
		p += 12 + int(n)
	}
	var bpp int64
	switch {
	case colour == 3: // palette
		bpp = 1
	case colour == 0 && !trns: // grey
		bpp = 1
	default:
		bpp = 4
	}
	if depth == 16 {
		bpp = map[bool]int64{true: 2, false: 8}[colour == 0 && !trns]
	}
	n := bpp * px
	if interlaced {
		n *= 2
	}
	return n
}

// webpCost: a lossy image is 4:2:0 YCbCr in whole macroblocks, 1.5 bytes
// a pixel, and alpha adds a byte a pixel and, when compressed, a lossless
// decode of 4 more; a lossless image is 4 bytes a pixel, and as much again
// for a transform that makes a new buffer.
func webpCost(data []byte, cfg image.Config) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	if len(data) >= 16 && string(data[12:16]) == "VP8 " {
		mw, mh := (int64(cfg.Width)+15)/16, (int64(cfg.Height)+15)/16
		return 384 * mw * mh
	}
	if len(data) >= 16 && string(data[12:16]) == "VP8X" {
		mw, mh := (int64(cfg.Width)+15)/16, (int64(cfg.Height)+15)/16
		return max(384*mw*mh+5*px, 8*px) // lossy with alpha, or lossless
	}
	return 8 * px
}
