package media

import (
	"bytes"
	"errors"
	"image"
	"strings"
	"testing"
)

func TestDecodePNM(t *testing.T) {
	tests := []struct {
		name string
		data string
		w, h int
		pix  []byte // Gray: one byte a pixel; RGBA: four
	}{
		{"P1", "P1\n# a comment\n3 2\n0 1 0\n1 0 1\n", 3, 2, []byte{255, 0, 255, 0, 255, 0}},
		{"P1 without spaces", "P1 3 2\n010101", 3, 2, []byte{255, 0, 255, 0, 255, 0}},
		{"P4 rows padded to bytes", "P4 3 2\n\x40\xa0", 3, 2, []byte{255, 0, 255, 0, 255, 0}},
		{"P4 ignores padding bits", "P4 3 1\n\x5f", 3, 1, []byte{255, 0, 255}},
		{"P2 maxval 15", "P2 3 1 15\n0 15 7\n", 3, 1, []byte{0, 255, 119}},
		{"P2 maxval 1000 rounds", "P2 2 1 1000 500 2", 2, 1, []byte{128, 1}},
		{"P5 maxval 255", "P5 2 2 255\n\x00\x7f\x80\xff", 2, 2, []byte{0, 127, 128, 255}},
		{"P5 maxval 100", "P5 2 1 100\n\x32\x64", 2, 1, []byte{128, 255}},
		{"P5 16-bit", "P5 3 1 65535\n\x00\x00\x80\x80\xff\xff", 3, 1, []byte{0, 128, 255}},
		{"P6", "P6 2 1 255\n\x01\x02\x03\xfd\xfe\xff", 2, 1, []byte{1, 2, 3, 255, 253, 254, 255, 255}},
		{"P6 16-bit", "P6 1 1 65535\n\xff\xff\x00\x00\x01\x01", 1, 1, []byte{255, 0, 1, 255}},
		{"P6 comments in header", "P6 # w\n1 # h\n1\n#maxval\n255\r\x01\x02\x03", 1, 1, []byte{1, 2, 3, 255}},
		{"P3", "P3\n2 1\n255\n1 2 3   253 254 255", 2, 1, []byte{1, 2, 3, 255, 253, 254, 255, 255}},
		{"P6 whitespace byte is a pixel", "P6 1 1 255\n\n\x0a\x0a", 1, 1, []byte{10, 10, 10, 255}},
		{"trailing data ignored", "P5 1 1 255\n\x07P5 1 1 255\n\x08", 1, 1, []byte{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f, err := Decode([]byte(tt.data), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if f != PNM {
				t.Errorf("format %q", f)
			}
			if got := m.Bounds(); got != image.Rect(0, 0, tt.w, tt.h) {
				t.Fatalf("bounds %v, want %dx%d", got, tt.w, tt.h)
			}
			var pix []byte
			switch m := m.(type) {
			case *image.Gray:
				pix = m.Pix
			case *image.RGBA:
				pix = m.Pix
			default:
				t.Fatalf("decoded to %T", m)
			}
			if !bytes.Equal(pix, tt.pix) {
				t.Errorf("pixels % x, want % x", pix, tt.pix)
			}
		})
	}
}

func TestDecodePNMErrors(t *testing.T) {
	tests := []struct {
		name, data, message string
	}{
		{"no dimensions", "P6\n", "ends early, before the width"},
		{"no maxval", "P5 1 1", "ends early, before the maximum value"},
		{"letter for width", "P6 x 1 255\n", "has 'x' where the width should be"},
		{"maxval 0", "P5 1 1 0\n\x00", "maximum value 0 is outside 1 to 65535"},
		{"maxval too big", "P5 1 1 65536\n\x00\x00", "maximum value 65536 is outside 1 to 65535"},
		{"no whitespace after header", "P5 1 1 255", "ends after the header"},
		{"junk after maxval", "P5 1 1 255x\x00", "not followed by whitespace"},
		{"sample over maxval", "P5 1 1 100\n\x65", "sample 101 is over the maximum value 100"},
		{"16-bit sample over maxval", "P5 1 1 1000\n\x03\xe9", "sample 1001 is over the maximum value 1000"},
		{"plain sample over maxval", "P2 2 1 9\n3 10", "sample 10 is over"},
		{"bad bitmap character", "P1 2 1\n0 2", `has '2' where 0 or 1 should be`},
		{"short bitmap", "P1 3 1\n0 1  ", "ends early, in the pixels"},
		{"short raw", "P6 2 1 255\n\x00\x00\x00", "needs 6 bytes, the file has 3"},
		{"short plain", "P3 2 1 255\n0 0 0 0 0", "needs at least 11 characters"},
		{"short plain, enough spaces", "P3 2 1 255\n0 0 0 0 0           ", "before the next sample"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tt.data), DefaultLimits)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
		})
	}
}
