package synth

import (
	"bytes"
	"testing"
)

func TestDeterministicAndDistinct(t *testing.T) {
	a, b, c := Image(64, 48, 1), Image(64, 48, 1), Image(64, 48, 2)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("same seed gave different images")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("different seeds gave the same image")
	}
	if a.Bounds().Dx() != 64 || a.Bounds().Dy() != 48 {
		t.Errorf("bounds %v", a.Bounds())
	}
}
