package httpapi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestCheckTextDeepNesting: a body nested 40,000 arrays deep with 20,000
// refused strings inside is refused at the depth limit, with bounded work
// (it used to rebuild a 40,000-level pointer for each string: seconds of
// CPU for 220 KB).
func TestCheckTextDeepNesting(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"items":`)
	b.Write(bytes.Repeat([]byte("["), 40000))
	b.WriteString(strings.Repeat(`"\u0000",`, 20000))
	body := b.Bytes()
	var err error
	allocs := testing.AllocsPerRun(1, func() { err = checkText(body) })
	if err == nil || !strings.Contains(err.Error(), "deeper than 64") {
		t.Errorf("error %v, want one naming the depth limit of 64", err)
	}
	if allocs > 2000 {
		t.Errorf("%.0f allocations, want at most 2000", allocs)
	}
	// Nesting up to the limit is fine.
	ok := `{"a":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`
	if err := checkText([]byte(ok)); err != nil {
		t.Errorf("%d levels: %v", maxJSONDepth, err)
	}
	if err := checkText([]byte(`{"a":` + strings.Repeat("[", maxJSONDepth) + `}`)); err == nil {
		t.Errorf("%d levels accepted", maxJSONDepth+1)
	}
}

// TestCheckTextLongKey: refused strings under a key of megabytes give
// errors of a few hundred bytes each, and only the listed ones cost a
// pointer.
func TestCheckTextLongKey(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(strings.Repeat("a~/", 1<<20))
	b.WriteString(`":[`)
	b.WriteString(strings.Repeat(`"\u0000",`, 149))
	b.WriteString(`"\u0000"]}`)
	err := checkText(b.Bytes())
	var fe fieldErrors
	if !errors.As(err, &fe) || fe.total != 150 || len(fe.list) != maxFieldErrors {
		t.Fatalf("error %v, want 150 field errors, %d listed", err, maxFieldErrors)
	}
	for _, e := range fe.list {
		if len(e.Pointer) > maxErrorText+len("…") || len(e.Detail) > maxErrorText+len("…") {
			t.Fatalf("pointer of %d bytes, detail of %d", len(e.Pointer), len(e.Detail))
		}
	}
	if p := fe.list[7].Pointer; !strings.HasPrefix(p, "/a~0~1a~0~1") || !strings.HasSuffix(p, "…") {
		t.Errorf("pointer %.40q…%q, want the key's start, escaped, then an ellipsis", p, p[max(0, len(p)-10):])
	}
	var long fieldErrors
	long.add("/ok", errors.New(strings.Repeat("x", 10000)))
	if d := long.list[0].Detail; len(d) > maxErrorText+len("…") {
		t.Errorf("detail of %d bytes kept", len(d))
	}
}
