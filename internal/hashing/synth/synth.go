// Package synth draws benign synthetic images (gradients, shapes, ripples)
// for benchmarks, demos and tests, so that no real material is ever needed.
// Images are deterministic for a given seed.
package synth

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Image draws a w x h RGB picture: a two-colour gradient with ripples and a
// few filled shapes, all chosen by seed. Different seeds give images whose
// PDQ hashes are far apart.
func Image(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	angle := r.Float64() * 2 * math.Pi
	freq := 3 + r.Float64()*20
	dx, dy := math.Cos(angle), math.Sin(angle)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			t := 0.5 + 0.5*(fx*dx+fy*dy)
			ripple := 24 * math.Sin(freq*(fx*dy-fy*dx)*math.Pi)
			i := img.PixOffset(x, y)
			for c := range 3 {
				img.Pix[i+c] = clamp(c0[c]*(1-t) + c1[c]*t + ripple)
			}
			img.Pix[i+3] = 255
		}
	}
	for range 3 + r.IntN(4) {
		col := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		cx, cy := r.IntN(w), r.IntN(h)
		rad := (w + h) / (8 + r.IntN(10))
		if r.IntN(2) == 0 {
			disc(img, cx, cy, rad, col)
		} else {
			rect(img, image.Rect(cx-rad, cy-rad/2, cx+rad, cy+rad/2), col)
		}
	}
	return img
}

func clamp(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

func disc(img *image.RGBA, cx, cy, rad int, c color.RGBA) {
	b := image.Rect(cx-rad, cy-rad, cx+rad+1, cy+rad+1).Intersect(img.Rect)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= rad*rad {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

func rect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}
