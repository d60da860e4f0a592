package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// readJSON reads a JSON request body, bounded, and refuses it with field
// errors if any of its strings (keys or values) holds text that may not be
// stored (package text). It is the one place that sees the raw bytes:
// encoding/json replaces invalid UTF-8, and escapes of unpaired UTF-16
// surrogates ("\ud800"), with U+FFFD when it decodes, so that the
// handlers could no longer tell.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readJSONMax(w, r, maxJSONBody)
}

// readJSONMax is readJSON for a body of at most limit bytes.
func readJSONMax(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkJSONType(r); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, err
	}
	return data, checkText(data)
}

// maxJSONDepth is how deeply a request body may nest arrays and objects.
const maxJSONDepth = 64

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// checkText walks the tokens of data and checks each string, naming it by
// its JSON pointer. Syntax errors end the walk quietly: decoding reports
// them.
func checkText(data []byte) error {
	type level struct {
		object bool
		key    string // of the value being read, in an object
		index  int    // of the value being read, in an array
		value  bool   // in an object: the next string is a value, not a key
	}
	var (
		stack []level
		errs  fieldErrors
	)
	// pointer names the string being read, cut to maxErrorText bytes:
	// keys can be megabytes long. It is built only for the errors listed.
	pointer := func() string {
		var b strings.Builder
		for _, l := range stack {
			if b.Len() > maxErrorText {
				break
			}
			b.WriteByte('/')
			if l.object {
				b.WriteString(pointerEscaper.Replace(clip(l.key, maxErrorText)))
			} else {
				b.WriteString(strconv.Itoa(l.index))
			}
		}
		return clip(b.String(), maxErrorText)
	}
	// done moves past a value of the innermost container.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].value = false
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		// The token's bytes, with the separators before it (ASCII).
		raw := data[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if n := len(stack); n > 0 && stack[n-1].object {
					stack[n-1].value = true // the key was read
				}
				if len(stack) == maxJSONDepth {
					// Deeper than any request of the API, and each level
					// costs every pointer built below it.
					return core.Errorf(core.ErrInvalid, "the request body nests deeper than %d levels", maxJSONDepth)
				}
				stack = append(stack, level{object: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
			continue
		case string:
			key := len(stack) > 0 && stack[len(stack)-1].object && !stack[len(stack)-1].value
			if key {
				stack[len(stack)-1].key, stack[len(stack)-1].value = t, true
			}
			var bad error
			if !utf8.Valid(raw) {
				bad = fmt.Errorf("is not valid UTF-8")
			} else if esc, ok := loneSurrogate(raw); ok {
				bad = fmt.Errorf("contains %s, half of a UTF-16 surrogate pair without the other half", esc)
			} else {
				bad = text.Check(t)
			}
			if bad != nil {
				errs.addLazy(pointer, bad)
			}
			if key {
				continue
			}
		}
		done()
	}
	return errs.err()
}

// loneSurrogate returns the first escape in raw, the bytes of a JSON string
// token, of a UTF-16 surrogate that is not half of a pair (a high one not
// followed by an escaped low one, or a low one on its own), if any.
func loneSurrogate(raw []byte) (string, bool) {
	// hex4 reads the four hexadecimal digits of a \u escape at b.
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[:4]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped byte: a backslash escaped is not an escape
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw[i+1:])
		if !ok {
			continue // a syntax error, which decoding reports
		}
		esc := string(raw[i-1 : i+5])
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return esc, true
		case r >= 0xd800 && r <= 0xdbff:
			if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw[i+3:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
					i += 6 // the pair
					continue
				}
			}
			return esc, true
		}
	}
	return "", false
}
