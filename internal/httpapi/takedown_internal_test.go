package httpapi

import "testing"

// TestMediaType: what a fetched server declares is written anew, and
// anything that is no media type is served as octet-stream.
func TestMediaType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"image/jpeg", "image/jpeg"},
		{"Text/HTML; Charset=UTF-8", "text/html; charset=UTF-8"},
		{"", "application/octet-stream"},
		{"image/png\r\nSet-Cookie: a=b", "application/octet-stream"},
		{"not a type", "application/octet-stream"},
	} {
		if got := mediaType(tc.in); got != tc.want {
			t.Errorf("mediaType(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := safeName(`01AB"; x=../y`); got != "01ABxy" {
		t.Errorf("safeName = %q", got)
	}
}
