package matcher

import "image"

// image90 rotates an image 90 degrees clockwise.
func image90(src *image.RGBA) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			dst.Set(b.Dy()-1-y, x, src.At(x, y))
		}
	}
	return dst
}
