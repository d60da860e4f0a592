package filehash

import (
	"image"
	"testing"

	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/synth"
)

// FuzzBytes feeds arbitrary bytes through decoding and hashing: nothing may
// panic, a decoded image stays within the limits, and digests are always
// there.
func FuzzBytes(f *testing.F) {
	img := synth.Image(24, 18, 1)
	for _, format := range []string{"png", "jpeg", "gif", "bmp", "tiff"} {
		f.Add(encode(f, format, img))
	}
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	f.Add(encode(f, "png", gray))
	f.Add([]byte("P6\n3 2\n255\n" + string(make([]byte, 18))))
	f.Add([]byte("P5 5 5 255 " + string(make([]byte, 25))))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L"))
	f.Add([]byte{})
	lim := media.Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Bytes(data, Options{Dihedral: true, Limits: lim})
		if len(r.MD5) != 32 || len(r.SHA256) != 64 {
			t.Fatalf("digests missing: %q %q", r.MD5, r.SHA256)
		}
		if r.Err != nil {
			return
		}
		if r.Width <= 0 || r.Height <= 0 || int64(r.Width)*int64(r.Height) > lim.MaxPixels {
			t.Fatalf("decoded %dx%d, outside the limits", r.Width, r.Height)
		}
		if r.Quality < 0 || r.Quality > 100 {
			t.Fatalf("quality %d", r.Quality)
		}
		if r.Dihedral == nil || r.Dihedral.Orig != r.PDQ {
			t.Fatal("dihedral original differs from the hash")
		}
	})
}
