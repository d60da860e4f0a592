package text

import (
	"fmt"
	"testing"
	"unicode"
)

// TestCheckBidiControls: every character of Unicode's Bidi_Control
// property is refused, the marks (U+061C, U+200E, U+200F) as well as the
// overrides and isolates, and named as such.
func TestCheckBidiControls(t *testing.T) {
	n := 0
	for _, rg := range unicode.Bidi_Control.R16 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			n++
			if err := Check("x" + string(r)); err == nil || err.Error() != fmt.Sprintf("contains a bidirectional control character (%U)", r) {
				t.Errorf("Check(%U) = %v", r, err)
			}
		}
	}
	if n < 12 {
		t.Errorf("only %d Bidi_Control characters tried", n)
	}
}
