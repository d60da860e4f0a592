// Package media decodes untrusted image files safely enough to hash them.
//
// Ward hashes images that strangers upload, and an image file is a program
// for a decoder: a few hundred bytes can claim to be 100000x100000 pixels
// (a decompression bomb) and make a naive decoder allocate tens of
// gigabytes, and a damaged file can crash one. So this package
//
//   - decodes only JPEG, PNG, GIF (first frame), WebP, BMP, TIFF (first
//     image) and PNM (P1-P6), chosen by the file's first bytes (Sniff),
//     never by its name and never through image.Decode, which would try
//     whatever format any imported package registered;
//   - refuses data over Limits.MaxBytes before looking at it, and images over
//     Limits.MaxPixels after reading only their header, before any pixel
//     buffer is allocated;
//   - checks, where the header fixes the size of the pixel data (BMP, PNM)
//     or bounds it (PNG), that the file can hold it, before allocating;
//   - refuses the structures that make Go's decoders work far longer than
//     the pixels need: JPEGs of over 100 scans, TIFFs of over 65536 strips
//     or tiles;
//   - turns a panic inside a decoder into an error.
//
// Every error about the data wraps exactly one of ErrTooLarge,
// ErrUnsupported and ErrCorrupt (test with errors.Is) and says the reason in
// plain words; errors reading a file or stream wrap the I/O error instead.
// A Budget's ErrBusy says nothing about the data.
//
// The pixel limit is also the memory limit. Go's decoders need from 1 to
// about 25 bytes per pixel: 1.5 for a baseline colour JPEG, 4 for an 8-bit
// RGBA PNG, 8 for a lossless WebP, and the most for a progressive 4-channel
// JPEG, whose coefficients are kept for the whole image (16, with the
// decoder in media/internal/jpeg; 24 with the standard library's). So at the default
// 50 megapixels one decode takes 75 to 400 MB in common cases and can take
// 800 MB, even for a file of a few hundred bytes whose header lies or
// whose pixels all compress away. Callers that decode in parallel should
// bound how many decodes run at once and the memory they take together:
// Estimate tells a decode's cost from the header, and a Budget admits
// decodes while their costs fit.
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/media/internal/jpeg"
)

// Error kinds. Every error from this package wraps exactly one of them.
var (
	// ErrTooLarge: the data is over Limits.MaxBytes or the image over
	// Limits.MaxPixels.
	ErrTooLarge = core.Errorf(core.ErrTooLarge, "too large")
	// ErrUnsupported: the data is not in one of the formats listed in the
	// package doc, or uses a feature of one that its decoder lacks.
	ErrUnsupported = core.Errorf(core.ErrUnprocessable, "unsupported")
	// ErrCorrupt: the data looks like a supported format but cannot be
	// decoded: damaged, truncated or empty.
	ErrCorrupt = core.Errorf(core.ErrUnprocessable, "corrupt")
)

// errCrashed marks an ErrCorrupt that came from a decoder's panic, so that
// the fuzz test can tell decoder bugs from merely bad input.
var errCrashed = errors.New("crashed")

// Format names an image format by its usual short name.
type Format string

// The supported formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	PNM  Format = "pnm" // PBM, PGM and PPM, plain and raw (P1-P6)
)

// Limits bounds the work one image may cause.
type Limits struct {
	// MaxBytes is the largest file accepted, in bytes; zero or less means
	// DefaultLimits.MaxBytes.
	MaxBytes int64
	// MaxPixels is the largest width*height accepted; zero or less means
	// DefaultLimits.MaxPixels. It also bounds the memory a decode may use
	// (see the package doc).
	MaxPixels int64
}

// DefaultLimits fit any photograph a phone takes (a 200 megapixel camera
// saves 50 megapixel pictures by default) with room for the decoder to run.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxPixels: 50_000_000}

// orDefault fills unset fields, so that a zero Limits is safe, not unlimited.
func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	return l
}

// SniffLen is how many leading bytes Sniff needs to recognise every format.
const SniffLen = 32

// Sniff tells the format of an image from its first bytes (SniffLen are
// enough; fewer may do). It reports false for anything else, including
// formats this package does not decode.
func Sniff(head []byte) (Format, bool) {
	s := string(head[:min(len(head), SniffLen)])
	switch {
	case strings.HasPrefix(s, "\xff\xd8\xff"):
		return JPEG, true
	case strings.HasPrefix(s, "\x89PNG\r\n\x1a\n"):
		return PNG, true
	case strings.HasPrefix(s, "GIF87a"), strings.HasPrefix(s, "GIF89a"):
		return GIF, true
	case len(s) >= 12 && s[:4] == "RIFF" && s[8:12] == "WEBP":
		return WebP, true
	case len(s) >= 18 && s[:2] == "BM" && isBMPInfoLen(binary.LittleEndian.Uint32(head[14:18])):
		// "BM" alone is too weak; the DIB header length that follows the
		// 14-byte file header takes one of a few values.
		return BMP, true
	case strings.HasPrefix(s, "II*\x00"), strings.HasPrefix(s, "MM\x00*"):
		return TIFF, true
	case len(s) >= 3 && s[0] == 'P' && '1' <= s[1] && s[1] <= '6' && isPNMSpace(s[2]):
		return PNM, true
	}
	return "", false
}

func isBMPInfoLen(n uint32) bool {
	switch n {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// codec holds one format's decoders, each reading from the whole file.
type codec struct {
	name   string // as people write it, for messages
	config func(data []byte) (image.Config, error)
	decode func(data []byte) (image.Image, error)
	// check, if set, runs after the size check and before decode, to
	// reject data that cannot hold the image its header describes.
	check func(data []byte, c image.Config) error
	// claimed, if set, reads the size in the header without the decoder.
	// Decoders call a size they cannot represent invalid; when config
	// fails, this lets Decode say "too large" if that is the reason.
	claimed func(data []byte) (w, h int, ok bool)
}

// codecs lists every format Decode will hand data to.
var codecs = map[Format]codec{
	JPEG: {name: "JPEG", config: readerConfig(jpeg.DecodeConfig), decode: jpegDecode, check: jpegCheck},
	PNG:  {name: "PNG", config: readerConfig(png.DecodeConfig), decode: readerDecode(png.Decode), check: pngCheck, claimed: pngClaimed},
	// gif.Decode returns the first frame and rejects a frame that does not
	// fit the logical screen, so the screen size bounds every frame.
	GIF:  {name: "GIF", config: readerConfig(gif.DecodeConfig), decode: readerDecode(gif.Decode)},
	WebP: {name: "WebP", config: webpConfig, decode: readerDecode(webp.Decode), claimed: webpClaimed},
	BMP:  {name: "BMP", config: readerConfig(bmp.DecodeConfig), decode: readerDecode(bmp.Decode), check: bmpCheck, claimed: bmpClaimed},
	// tiff.DecodeConfig reads the first IFD, the image tiff.Decode decodes.
	TIFF: {name: "TIFF", config: readerConfig(tiff.DecodeConfig), decode: readerDecode(tiff.Decode), check: tiffCheck, claimed: tiffClaimed},
	PNM:  {name: "PNM", config: pnmConfig, decode: decodePNM},
}

func readerConfig(f func(io.Reader) (image.Config, error)) func([]byte) (image.Config, error) {
	return func(data []byte) (image.Config, error) { return f(bytes.NewReader(data)) }
}

func readerDecode(f func(io.Reader) (image.Image, error)) func([]byte) (image.Image, error) {
	return func(data []byte) (image.Image, error) { return f(bytes.NewReader(data)) }
}

// Decode decodes an image held whole in data. It returns the format
// whenever it was recognised, even with an error. The image's bounds need
// not start at (0, 0): a GIF's first frame keeps its place on the screen.
func Decode(data []byte, lim Limits) (m image.Image, f Format, err error) {
	defer func() {
		// A decoder bug must cost one image, not the process.
		if r := recover(); r != nil {
			name := "image"
			if c, ok := codecs[f]; ok {
				name = c.name
			}
			m, err = nil, fmt.Errorf("%s decoder %w (%v): %w", name, errCrashed, r, ErrCorrupt)
		}
	}()
	lim = lim.orDefault()
	if len(data) == 0 {
		return nil, "", fmt.Errorf("no image data (the file is empty): %w", ErrCorrupt)
	}
	if n := int64(len(data)); n > lim.MaxBytes {
		return nil, "", fmt.Errorf("image data is %s, over the %s limit: %w", byteSize(n), byteSize(lim.MaxBytes), ErrTooLarge)
	}
	f, ok := Sniff(data)
	if !ok {
		return nil, "", unknownFormat(data)
	}
	c := codecs[f]

	cfg, err := config(c, data, lim)
	if err != nil {
		return nil, f, err
	}

	if m, err = c.decode(data); err != nil {
		return nil, f, explain(c, err)
	}
	// The header was checked, but what the decoder made is what callers
	// get; make sure it is within what they allowed.
	b := m.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		if err := checkPixels(b.Dx(), b.Dy(), lim.MaxPixels); err != nil {
			return nil, f, fmt.Errorf("%s decoded to %dx%d, not the %dx%d its header said: %w",
				c.name, b.Dx(), b.Dy(), cfg.Width, cfg.Height, ErrCorrupt)
		}
	}
	return m, f, nil
}

// explain turns a decoder's error into ErrCorrupt or ErrUnsupported,
// keeping the decoder's reason in the message.
func explain(c codec, err error) error {
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrUnsupported), errors.Is(err, ErrCorrupt):
		return err // from this package's own code, already explained
	case isUnsupported(err):
		return fmt.Errorf("%s uses a feature the decoder lacks (%v): %w", c.name, err, ErrUnsupported)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%s data ends early (the file is truncated): %w", c.name, ErrCorrupt)
	default:
		return fmt.Errorf("%s data is damaged (%v): %w", c.name, err, ErrCorrupt)
	}
}

func isUnsupported(err error) bool {
	var (
		j jpeg.UnsupportedError
		p png.UnsupportedError
		t tiff.UnsupportedError
	)
	return errors.As(err, &j) || errors.As(err, &p) || errors.As(err, &t) || errors.Is(err, bmp.ErrUnsupported)
}

// checkPixels refuses an empty image or one over max pixels, without
// overflowing however large the header's numbers are.
func checkPixels(w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image is %dx%d, which has no pixels: %w", w, h, ErrCorrupt)
	}
	if int64(w) > max/int64(h) {
		got, limit := pixelCounts(float64(w)*float64(h), float64(max))
		return fmt.Errorf("image is %dx%d (%s), over the %s limit: %w", w, h, got, limit, ErrTooLarge)
	}
	return nil
}

// pixelCounts writes n pixels and a limit of max pixels in megapixels,
// as in "400 megapixels" and "50 megapixel", or in pixels for small limits.
func pixelCounts(n, max float64) (got, limit string) {
	if max < 1e6 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " pixels", strconv.FormatFloat(max, 'f', 0, 64) + " pixel"
	}
	mp := n / 1e6
	prec := 1
	if mp >= 100 {
		prec = 0
	}
	got = strconv.FormatFloat(mp, 'f', prec, 64)
	if v, _ := strconv.ParseFloat(got, 64); v <= max/1e6 {
		got = strconv.FormatFloat(mp, 'f', -1, 64) // rounding hid the excess
	}
	return strings.TrimSuffix(got, ".0") + " megapixels", strconv.FormatFloat(max/1e6, 'f', -1, 64) + " megapixel"
}

// byteSize writes n bytes the way people read file sizes.
func byteSize(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + [...]string{"KiB", "MiB", "GiB", "TiB"}[i]
}

// otherFormats names formats people send that this package does not
// decode, so that the error says what the file is.
var otherFormats = []struct {
	off         int
	magic, name string
}{
	{4, "ftypavif", "AVIF"},
	{4, "ftypavis", "AVIF"},
	{4, "ftypheic", "HEIC"},
	{4, "ftypheix", "HEIC"},
	{4, "ftypmif1", "HEIF"},
	{4, "ftypmsf1", "HEIF"},
	{0, "\xff\x0a", "JPEG XL"},
	{0, "\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"},
	{0, "II+\x00", "BigTIFF"},
	{0, "MM\x00+", "BigTIFF"},
	{0, "8BPS", "Photoshop"},
	{0, "%PDF", "PDF"},
	{0, "P7\n", "PAM"},
	{0, "\x00\x00\x01\x00", "ICO"},
}

func unknownFormat(data []byte) error {
	for _, o := range otherFormats {
		if len(data) >= o.off+len(o.magic) && string(data[o.off:o.off+len(o.magic)]) == o.magic {
			return fmt.Errorf("%s images are not supported: %w", o.name, ErrUnsupported)
		}
	}
	head := data[:min(len(data), 8)]
	return fmt.Errorf("not a JPEG, PNG, GIF, WebP, BMP, TIFF or PNM image (it starts with % x): %w", head, ErrUnsupported)
}

// webpConfig refuses animations, which x/image/webp would only fail on
// after decoding the header.
func webpConfig(data []byte) (image.Config, error) {
	const animation = 1 << 1
	if len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&animation != 0 {
		return image.Config{}, fmt.Errorf("animated WebP images are not supported: %w", ErrUnsupported)
	}
	return webp.DecodeConfig(bytes.NewReader(data))
}

// webpClaimed reads the canvas size of an extended (VP8X) WebP, which
// x/image/webp calls invalid when over 2^31 pixels.
func webpClaimed(data []byte) (w, h int, ok bool) {
	if len(data) < 30 || string(data[12:16]) != "VP8X" {
		return 0, 0, false
	}
	w = int(data[24]) | int(data[25])<<8 | int(data[26])<<16 + 1
	h = int(data[27]) | int(data[28])<<8 | int(data[29])<<16 + 1
	return w, h, true
}

// pngClaimed reads the size in IHDR, which png.DecodeConfig calls an
// unsupported "dimension overflow" when 8 bytes a pixel would overflow.
func pngClaimed(data []byte) (w, h int, ok bool) {
	if len(data) < 24 || string(data[12:16]) != "IHDR" {
		return 0, 0, false
	}
	w64, h64 := binary.BigEndian.Uint32(data[16:]), binary.BigEndian.Uint32(data[20:])
	if w64 > math.MaxInt32 || h64 > math.MaxInt32 {
		return 0, 0, false // the PNG limit: invalid, not large
	}
	return int(w64), int(h64), true
}

// bmpClaimed reads the size in a BMP's info header, which bmp.DecodeConfig
// calls unsupported when 4 bytes a pixel would overflow. A negative height
// means rows run top down.
func bmpClaimed(data []byte) (w, h int, ok bool) {
	if len(data) < 26 {
		return 0, 0, false
	}
	w = int(int32(binary.LittleEndian.Uint32(data[18:])))
	h = int(int32(binary.LittleEndian.Uint32(data[22:])))
	return w, max(h, -h), true
}

// tiffClaimed reads the size in the first IFD, which tiff.DecodeConfig
// calls invalid when 8 bytes a pixel would overflow.
func tiffClaimed(data []byte) (w, h int, ok bool) {
	ifd := readTIFFIFD(data)
	return ifd.width, ifd.height, ifd.width > 0 && ifd.height > 0
}

// maxTIFFBlocks bounds the strips or tiles of a TIFF. tiff.Decode starts a
// new decompressor for each, some 30µs, and a strip can take six bytes of
// the file, so a file of 1x10000000 pixels in one-row strips would take
// minutes. Scanners write a strip per row of a few thousand rows; tiled
// images have tiles of 256x256 pixels or more.
const maxTIFFBlocks = 1 << 16

func tiffCheck(data []byte, _ image.Config) error {
	if n := readTIFFIFD(data).blocks; n > maxTIFFBlocks {
		return fmt.Errorf("TIFF has %d strips or tiles, over the limit of %d: %w", n, maxTIFFBlocks, ErrTooLarge)
	}
	return nil
}

// tiffIFD is what Decode reads itself from a TIFF's first IFD.
type tiffIFD struct {
	width, height int
	blocks        int64 // number of strip or tile offsets
	// Read as x/image/tiff reads them (BYTE, SHORT or LONG; the last
	// entry of a tag wins), for the cost of its block buffer.
	tileWidth, tileHeight int64
	compression           int64 // 0 if not given
}

func readTIFFIFD(data []byte) tiffIFD {
	var ifd tiffIFD
	if len(data) < 8 {
		return ifd
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(data[4:]))
	if off+2 > int64(len(data)) {
		return ifd
	}
	for i := range int64(bo.Uint16(data[off:])) {
		e := data[min(off+2+12*i, int64(len(data))):]
		if len(e) < 12 {
			break
		}
		tag, typ, count := bo.Uint16(e), bo.Uint16(e[2:]), int64(bo.Uint32(e[4:]))
		var v int64
		switch typ {
		case 1: // BYTE
			v = int64(e[8])
		case 3: // SHORT
			v = int64(bo.Uint16(e[8:]))
		case 4: // LONG
			v = int64(bo.Uint32(e[8:]))
		}
		switch tag {
		case 256: // ImageWidth
			ifd.width = int(min(v, math.MaxInt))
		case 257: // ImageLength
			ifd.height = int(min(v, math.MaxInt))
		case 322: // TileWidth
			ifd.tileWidth = v
		case 323: // TileLength
			ifd.tileHeight = v
		case 259: // Compression
			ifd.compression = v
		case 273, 324: // StripOffsets, TileOffsets
			ifd.blocks = max(ifd.blocks, count)
		}
	}
	return ifd
}

// maxJPEGScans bounds the scans of a JPEG. Go's decoder passes over every
// block of the image in each scan, and a progressive scan can say "nothing
// here" for 32767 blocks in two bytes, so a 50 KB file of 400 scans takes
// seconds. libjpeg writes 10 scans for a progressive image and mozjpeg
// rarely more than 20.
const maxJPEGScans = 100

// jpegDecode decodes with the decoder held to the cost that Estimate
// gives for the same data, and to maxJPEGScans, so that no marker the
// header pass did not see can make it take more.
func jpegDecode(data []byte) (image.Image, error) {
	h, err := jpeg.DecodeHeader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return jpeg.DecodeLimited(bytes.NewReader(data), jpeg.Limits{Bytes: h.Cost(), Scans: maxJPEGScans})
}

func jpegCheck(data []byte, _ image.Config) error {
	if n := jpegScans(data); n > maxJPEGScans {
		return fmt.Errorf("JPEG has over %d scans, each a pass over the whole image: %w", maxJPEGScans, ErrTooLarge)
	}
	return nil
}

// jpegScans counts the start-of-scan markers in a JPEG, up to one more
// than maxJPEGScans, walking segments as the decoder does: a marker is
// 0xff and a byte that is neither 0 (an escaped 0xff in scan data) nor
// a restart marker; all but SOS give their length, SOS is followed by
// scan data that holds no markers.
func jpegScans(data []byte) int {
	n := 0
	for i := 2; i+1 < len(data) && n <= maxJPEGScans; {
		j := bytes.IndexByte(data[i:], 0xff)
		if j < 0 || i+j+1 >= len(data) {
			break
		}
		i += j + 1
		switch m := data[i]; {
		case m == 0xff, m == 0, 0xd0 <= m && m <= 0xd7:
			// fill byte, escaped 0xff, restart marker: not a segment
		case m == 0xd9: // end of image
			return n
		default:
			if m == 0xda {
				n++
			}
			if i+2 < len(data) {
				i += 1 + int(binary.BigEndian.Uint16(data[i+1:]))
			}
		}
	}
	return n
}

// pngCheck refuses a PNG whose compressed pixels (IDAT chunks) are too few
// to hold the image its header describes, before png.Decode allocates the
// image and then finds them missing. Deflate packs at most 258 bytes into
// 2 bits (1032:1), so no valid PNG has fewer bytes of IDAT than this.
func pngCheck(data []byte, c image.Config) error {
	depth, colour := int64(data[24]), data[25]
	channels := int64(1) // grey (0) and palette (3)
	switch colour {
	case 2: // RGB
		channels = 3
	case 4: // grey and alpha
		channels = 2
	case 6: // RGBA
		channels = 4
	}
	minRaw := int64(c.Width) * int64(c.Height) * depth * channels / 8
	var idat int64
	for p := 8; p+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[p:]))
		if string(data[p+4:p+8]) == "IDAT" {
			idat += n
		}
		if string(data[p+4:p+8]) == "IEND" || n > int64(len(data)) {
			break
		}
		p += 12 + int(n)
	}
	if need := minRaw / 1032; idat < need {
		return fmt.Errorf("PNG data ends early: a %dx%d image needs at least %d bytes of compressed pixels, the file has %d: %w",
			c.Width, c.Height, need, idat, ErrCorrupt)
	}
	return nil
}

// bmpCheck refuses a BMP whose pixel rows are not all in the file, before
// bmp.Decode allocates the image and then finds them missing. bmp.Decode
// reads uncompressed rows, padded to 4 bytes, from the header's data offset.
func bmpCheck(data []byte, c image.Config) error {
	offset := int64(binary.LittleEndian.Uint32(data[10:14]))
	bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
	row := (int64(c.Width)*bpp + 31) / 32 * 4
	if need := offset + row*int64(c.Height); need > int64(len(data)) {
		return fmt.Errorf("BMP data ends early: a %dx%d image needs %d bytes, the file has %d: %w",
			c.Width, c.Height, need, len(data), ErrCorrupt)
	}
	return nil
}

// ReadAll reads r to its end but no further than lim.MaxBytes+1 bytes, so
// that a stream that is too large is refused without being held.
func ReadAll(r io.Reader, lim Limits) ([]byte, error) {
	return readLimited(r, lim.orDefault().MaxBytes, 0)
}

// readLimited reads at most max+1 bytes from r; sizeHint, if known, saves
// the buffer from growing.
func readLimited(r io.Reader, max, sizeHint int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(sizeHint, max)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(r, min(max, math.MaxInt64-1)+1)); err != nil {
		return nil, fmt.Errorf("reading image data: %w", err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("image data is over the %s limit: %w", byteSize(max), ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// DecodeFile reads and decodes the image file at path, refusing a file
// over lim.MaxBytes by its size before reading it. It also returns the
// file's bytes, for hashing, whenever it could read them, even when decoding
// failed. Errors start with the path.
func DecodeFile(path string, lim Limits) (image.Image, Format, []byte, error) {
	lim = lim.orDefault()
	data, err := readFile(path, lim.MaxBytes)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	m, f, err := Decode(data, lim)
	if err != nil {
		return nil, f, data, fmt.Errorf("%s: %w", path, err)
	}
	return m, f, data, nil
}

func readFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathless(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, pathless(err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("is a directory, not an image: %w", ErrUnsupported)
	}
	var size int64
	if fi.Mode().IsRegular() {
		size = fi.Size()
		if size > max {
			return nil, fmt.Errorf("file is %s, over the %s limit: %w", byteSize(size), byteSize(max), ErrTooLarge)
		}
	}
	// Read with the limit anyway: the file may grow, or not be a regular
	// file at all.
	return readLimited(f, max, size)
}

// pathless drops the path from an *fs.PathError, which DecodeFile puts
// first itself, keeping the cause for errors.Is (fs.ErrNotExist and so on).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}
