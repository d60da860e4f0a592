package jpeg

import (
	"image"
	"io"
	"unsafe"
)

// This file is not in the standard library: it lets a caller tell what a
// decode will allocate before it starts, from the decoder's own reading of
// the header, and bound the decode to it.

// Header is what the decoder knows at the first scan: everything that
// decides what it allocates, but for markers after the first scan.
type Header struct {
	Width, Height int
	Components    int  // 1, 3 or 4
	Progressive   bool // coefficients are kept for the whole image
	// Converted: the decoded planes are converted into a new image of 4
	// bytes a pixel (CMYK, or RGB that is not stored as YCbCr).
	Converted bool

	comp [maxComponents]component // sampling factors as the decoder uses them
}

// DecodeHeader reads a JPEG's segments up to its first scan with the
// decoder's own code, so that what it reports is what Decode will find.
func DecodeHeader(r io.Reader) (Header, error) {
	d := decoder{toFirstScan: true}
	if _, err := d.decode(r, true); err != nil {
		return Header{}, err
	}
	if d.nComp == 0 {
		return Header{}, FormatError("missing SOF marker")
	}
	return Header{
		Width: d.width, Height: d.height, Components: d.nComp, Progressive: d.progressive,
		Converted: d.nComp == 4 || d.nComp == 3 && d.isRGB(),
		comp:      d.comp,
	}, nil
}

// Cost is the most Decode allocates for pixels and coefficients for an
// image of this header, all counted as held at once: a plane a component,
// padded to whole MCUs; for a progressive image, the coefficients of every
// block; and the converted image, if any. The rest is under a megabyte.
func (h Header) Cost() int64 {
	d := decoder{width: h.Width, height: h.Height, nComp: h.Components, progressive: h.Progressive, comp: h.comp}
	n := d.planeBytes()
	for i := range d.nComp {
		n += d.coeffBytes(i)
	}
	if h.Converted {
		n += d.convertedBytes()
	}
	return n
}

// Limits bound a decode.
type Limits struct {
	// Bytes bounds what the decoder allocates for pixels and coefficients,
	// as Header.Cost counts it.
	Bytes int64
	// Scans bounds the scans, each a pass over every block of the image.
	Scans int
}

// DecodeLimited is Decode, but refuses an image that would take more than
// lim allows, before allocating for it. Given its own Header's Cost, it
// refuses only images whose markers after the first scan change the cost.
func DecodeLimited(r io.Reader, lim Limits) (image.Image, error) {
	d := decoder{limited: true, lim: lim}
	return d.decode(r, false)
}

// errOverCost is refused by DecodeLimited: the image takes more than its
// header said, which only a crafted file does.
var errOverCost = FormatError("the image needs more memory than its header before the first scan says")

// charge counts n bytes about to be allocated against the decoder's limit.
func (d *decoder) charge(n int64) error {
	if !d.limited {
		return nil
	}
	if d.allocated+n > d.lim.Bytes {
		return errOverCost
	}
	d.allocated += n
	return nil
}

// mcus is the image's size in MCUs, as processSOS computes it.
func (d *decoder) mcus() (mxx, myy int64) {
	h0, v0 := int64(d.comp[0].h), int64(d.comp[0].v)
	return (int64(d.width) + 8*h0 - 1) / (8 * h0), (int64(d.height) + 8*v0 - 1) / (8 * v0)
}

// planeBytes is what makeImg allocates: a byte a sample, in whole MCUs.
func (d *decoder) planeBytes() int64 {
	mxx, myy := d.mcus()
	var n int64
	for i := range d.nComp {
		n += 64 * mxx * myy * int64(d.comp[i].h) * int64(d.comp[i].v)
	}
	return n
}

// coeffBytes is what a progressive image keeps of component i's
// coefficients between scans.
func (d *decoder) coeffBytes(i int) int64 {
	if !d.progressive {
		return 0
	}
	mxx, myy := d.mcus()
	return mxx * myy * int64(d.comp[i].h) * int64(d.comp[i].v) * int64(unsafe.Sizeof(coeffs{}))
}

// convertedBytes is the image applyBlack or convertToRGB makes.
func (d *decoder) convertedBytes() int64 {
	return 4 * int64(d.width) * int64(d.height)
}
