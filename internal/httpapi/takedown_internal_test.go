package httpapi

import (
	"strings"
	"testing"
)

// TestLimitKey: the public limit's key holds no trace of the address, is
// the same for one client whatever its port (and for one IPv6 /64), and
// differs between clients.
func TestLimitKey(t *testing.T) {
	a := limitKey("192.0.2.7:40000")
	for _, same := range []string{"192.0.2.7:40001", "[::ffff:192.0.2.7]:5"} {
		if limitKey(same) != a {
			t.Errorf("%s keyed apart from 192.0.2.7:40000", same)
		}
	}
	if limitKey("192.0.2.8:40000") == a {
		t.Error("two addresses share a key")
	}
	if limitKey("[2001:db8:1:2::1]:1") != limitKey("[2001:db8:1:2:ffff::9]:2") || limitKey("[2001:db8:1:3::1]:1") == limitKey("[2001:db8:1:2::1]:1") {
		t.Error("IPv6 addresses not keyed by their /64")
	}
	if len(a) != 16 || strings.Contains(a, "192.0.2.7") || strings.Contains(a, "\xc0\x00\x02\x07") {
		t.Errorf("key %q is not a 16-byte hash", a)
	}
}

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
