// Package text decides which text Ward stores: valid UTF-8 without NUL,
// without control characters other than tab and newline (LF, or CR LF),
// and without the Unicode bidirectional controls (Bidi_Control: marks,
// embeddings, overrides and isolates, U+061C, U+200E–U+200F, U+202A–U+202E,
// U+2066–U+2069), which make stored text display in another order than
// it is read (CVE-2021-42574, "Trojan Source"). Every text field
// of the API, the console and "ward admin" is checked with it, so that
// both database engines store the same (PostgreSQL refuses NUL in text;
// SQLite stores it).
package text

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Check returns nil if s may be stored, or an error saying what is wrong,
// phrased to follow the field's name ("the reason " + err.Error()).
func Check(s string) error {
	if !utf8.ValidString(s) {
		return errInvalidUTF8
	}
	for i, r := range s {
		if bad(r) && !(r == '\r' && i+1 < len(s) && s[i+1] == '\n') {
			return Refused(r)
		}
	}
	return nil
}

var errInvalidUTF8 = fmt.Errorf("is not valid UTF-8")

// Refused describes the character r that Check refuses.
func Refused(r rune) error {
	switch {
	case r == 0:
		return fmt.Errorf("contains a NUL character (U+0000)")
	case isBidi(r):
		return fmt.Errorf("contains a bidirectional control character (%U)", r)
	}
	return fmt.Errorf("contains a control character (%U); only tab and newline are allowed", r)
}

// bad reports whether r is never stored (CR only before LF).
func bad(r rune) bool {
	return (unicode.IsControl(r) && r != '\t' && r != '\n') || isBidi(r)
}

func isBidi(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r)
}
