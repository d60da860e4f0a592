package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Decode reads a Draft from its JSON and returns it normalised (see
// Draft.Normalize). Decoding is strict: a field that is not in the schema
// (including one in other case, "Type" for "type") is an error, as is a
// value of the wrong JSON type, data after the object, or any error of
// Validate. All of these are reported at once, as a *ValidationError
// wrapping core.ErrInvalid. An error reading r is returned as it is, so
// that the caller sees its own limit (http.MaxBytesError, say): Decode
// reads r to its end and does not limit it.
func Decode(r io.Reader) (Draft, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Draft{}, fmt.Errorf("reading the report: %w", err)
	}
	c := checker{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			c.add("", "the report is empty: it must be a JSON object")
		case errors.As(err, &syn):
			c.add("", "the report is not valid JSON: %v (at byte %d)", syn, syn.Offset)
		default: // io.ErrUnexpectedEOF for truncated input, mostly
			c.add("", "the report is not valid JSON: %v", err)
		}
		return Draft{}, c.err()
	}
	if _, err := dec.Token(); err != io.EOF {
		c.add("", "the report has data after its JSON object")
		return Draft{}, c.err()
	}
	if _, ok := v.(map[string]any); !ok {
		c.add("", "the report must be a JSON object")
		return Draft{}, c.err()
	}
	c.shape("", reflect.TypeFor[Draft](), v)
	if err := c.err(); err != nil {
		return Draft{}, err
	}
	// The shape is right, so this cannot fail; if it does, the checks of
	// shape are incomplete, and the input is refused all the same.
	var d Draft
	if err := json.Unmarshal(data, &d); err != nil {
		c.add("", "the report does not have the expected shape: %v", err)
		return Draft{}, c.err()
	}
	return d.Normalize()
}

var timeType = reflect.TypeFor[time.Time]()

// shape checks that v, decoded from JSON with UseNumber, can be unmarshalled
// into a value of type t with exactly the fields t has, reporting every
// difference. It knows the types Draft is made of: structs with json tags,
// pointers, slices, strings, bools, ints and time.Time. JSON null is
// accepted anywhere, as encoding/json does (leaving the zero value).
func (c *checker) shape(p string, t reflect.Type, v any) {
	if v == nil {
		return
	}
	if t == timeType {
		s, ok := v.(string)
		var tt time.Time
		if !ok || tt.UnmarshalJSON(strconv.AppendQuote(nil, s)) != nil {
			c.add(p, "must be a date and time in RFC 3339 form, such as 2024-05-01T12:00:00+02:00")
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.shape(p, t.Elem(), v)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.add(p, "must be an object")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				c.add(p+"/"+escapePointer(k), "unknown field")
				continue
			}
			c.shape(p+"/"+escapePointer(k), f.Type, m[k])
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			c.add(p, "must be an array")
			return
		}
		for i, e := range a {
			c.shape(p+"/"+strconv.Itoa(i), t.Elem(), e)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.add(p, "must be a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.add(p, "must be true or false")
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			c.add(p, "must be a number")
			return
		}
		if _, err := strconv.ParseInt(string(n), 10, strconv.IntSize); err != nil {
			c.add(p, "must be an integer in range, got %s", n)
		}
	default:
		panic("report: shape cannot check a " + t.String())
	}
}

// jsonFields returns the fields of struct type t by their JSON names.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f
	}
	return m
}

// escapePointer escapes a JSON object key for a JSON pointer (RFC 6901).
func escapePointer(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}
