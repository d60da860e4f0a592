package media

import (
	"errors"
	"testing"
)

// FuzzDecode checks that no input, however malformed, makes Decode panic,
// crash a decoder (a recovered panic is still a bug to find), return an
// error of no kind, or return an image over the limits.
func FuzzDecode(f *testing.F) {
	m := testImage(5, 3)
	for _, format := range []Format{JPEG, PNG, GIF, WebP, BMP, TIFF} {
		f.Add(encode(f, format, m))
	}
	for k := byte('1'); k <= '6'; k++ {
		f.Add(encodePNM(m, k))
	}
	f.Add([]byte("P5 2 1 65535\n\x01\x02\x03\x04"))
	f.Add(pngBomb(f, 100000, 100000))
	f.Add(gifFrameBomb(f, 300, 300))
	f.Add(riffWebP(vp8x(0, 8, 8), chunk("VP8L", vp8lHeader(16, 16).buf)))

	// Small limits keep each run fast; the checks are the same at any size.
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, format, err := Decode(data, lim)
		if err != nil {
			if errors.Is(err, errCrashed) {
				t.Fatalf("decoder crashed: %v", err)
			}
			kinds := 0
			for _, k := range []error{ErrTooLarge, ErrUnsupported, ErrCorrupt} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("error %q wraps %d kinds, want 1", err, kinds)
			}
			if img != nil {
				t.Fatalf("image %T returned with error %v", img, err)
			}
			return
		}
		if want, _ := Sniff(data); format != want {
			t.Fatalf("format %q, but Sniff says %q", format, want)
		}
		b := img.Bounds()
		if b.Empty() || int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
			t.Fatalf("decoded %v, outside the limit of %d pixels", b, lim.MaxPixels)
		}
	})
}
