package media

import (
	"encoding/binary"
	"testing"
)

func progressive(data []byte) []byte {
	for i := 2; i+4 < len(data); {
		marker, n := data[i+1], int(binary.BigEndian.Uint16(data[i+2:]))
		if marker == 0xc0 {
			data[i+1] = 0xc2
		}
		if marker == 0xda {
			nc := int(data[i+4])
			data[i+4+1+2*nc+1] = 0 // Se
			return data
		}
		i += 2 + n
	}
	return data
}

func TestZZMeasure(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"jpeg baseline 7000x7000", jpegBomb(t, 7000, 7000)},
		{"jpeg progressive 7000x7000", progressive(jpegBomb(t, 7000, 7000))},
		{"png 7000x7000", pngBomb(t, 7000, 7000)},
		{"png 700x700", pngBomb(t, 700, 700)},
		{"gif 7000x7000 screen", gifBomb(t, 7000, 7000)},
		{"tiff 7000x7000", tiffBomb(t, 7000, 7000)},
		{"webp vp8l 7000x7000", riffWebP(chunk("VP8L", vp8lHeader(7000, 7000).buf))},
	} {
		var err error
		n := allocated(func() { _, _, err = Decode(c.data, DefaultLimits) })
		t.Logf("%s: %d MiB: %v", c.name, n>>20, err)
	}
}
