package pdq

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"
)

// synthetic draws a deterministic, textured RGB image: smooth gradients
// with ripples, so the filter and DCT see realistic values.
func synthetic(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			img.SetRGBA(x, y, color.RGBA{
				R: uint8(255 * fx),
				G: uint8(127 + 127*math.Sin(12*fx+7*fy)),
				B: uint8(255 * fy * (0.5 + 0.5*math.Cos(20*fx*fy))),
				A: 255,
			})
		}
	}
	return img
}

// BenchmarkHash512 is the hash step alone on an image already at the
// reference's working size (512x512 RGB): the figure to compare with the
// reference's 4.2 ms.
func BenchmarkHash512(b *testing.B) {
	img := synthetic(512, 512)
	b.ReportAllocs()
	for b.Loop() {
		FromImage(img)
	}
}

// BenchmarkDihedral512 adds the 7 derived variants.
func BenchmarkDihedral512(b *testing.B) {
	img := synthetic(512, 512)
	b.ReportAllocs()
	for b.Loop() {
		DihedralFromImage(img)
	}
}

// BenchmarkHashJPEG1024x768 decodes and hashes a 1024x768 JPEG (quality
// 85) in one goroutine: the reference does 126 images/s (7.9 ms each).
func BenchmarkHashJPEG1024x768(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, synthetic(1024, 768), &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		FromImage(img)
	}
}

// BenchmarkDecodeJPEG1024x768 is the decoding part of the above alone.
func BenchmarkDecodeJPEG1024x768(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, synthetic(1024, 768), &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
