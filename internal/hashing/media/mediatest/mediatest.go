// Package mediatest makes image files that cost a decoder much memory or
// time for few bytes, for the tests of the packages that decode uploads.
// Nothing here is used outside tests.
package mediatest

// ProgressiveJPEG is a w x h progressive JPEG of comps components (1 for
// grey, 4 for CMYK, marked as such by an Adobe segment), all sampled at
// full resolution, with one DC scan and acScans AC scans per component.
// Every block says "no coefficients": a DC scan takes one bit a block and
// an AC scan a few bytes (end-of-band runs of 32767 blocks), while Go's
// decoder still keeps coefficients for every block and passes over all of
// them in each scan. So a 7000x7000 CMYK image of 96 scans is a file of
// about 390 KB that costs over a gigabyte to decode.
func ProgressiveJPEG(w, h, comps, acScans int) []byte {
	b := []byte{0xff, 0xd8}
	segment := func(marker byte, body ...byte) {
		b = append(b, 0xff, marker, byte((len(body)+2)>>8), byte(len(body)+2))
		b = append(b, body...)
	}
	if comps == 4 {
		// APP14 "Adobe", version 100, no flags, transform 0: CMYK.
		segment(0xee, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0)
	}
	quant := make([]byte, 65)
	for i := 1; i < len(quant); i++ {
		quant[i] = 1
	}
	segment(0xdb, quant...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(comps)}
	for c := range comps {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	segment(0xc2, sof...)
	oneCode := make([]byte, 16) // one code, of length 1
	oneCode[0] = 1
	segment(0xc4, append(append([]byte{0x00}, oneCode...), 0x00)...) // DC: difference 0
	segment(0xc4, append(append([]byte{0x10}, oneCode...), 0xe0)...) // AC: run of 2^14+ blocks
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	for c := range comps {
		segment(0xda, 1, byte(c+1), 0x00, 0, 0, 0)
		b = append(b, make([]byte, (blocks+7)/8)...) // a 0 bit per block
	}
	for i := range acScans * comps {
		segment(0xda, 1, byte(i%comps+1), 0x00, 1, 63, 0)
		var bits []bool
		for range (blocks + 32766) / 32767 {
			bits = append(bits, false) // the code, then 14 ones
			for range 14 {
				bits = append(bits, true)
			}
		}
		for len(bits)%8 != 0 {
			bits = append(bits, true)
		}
		for i := 0; i < len(bits); i += 8 {
			var c byte
			for _, bit := range bits[i : i+8] {
				c <<= 1
				if bit {
					c |= 1
				}
			}
			b = append(b, c)
			if c == 0xff {
				b = append(b, 0) // byte stuffing
			}
		}
	}
	return append(b, 0xff, 0xd9)
}
