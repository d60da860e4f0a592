package client

import (
	"strings"
	"testing"
)

func TestParseItem(t *testing.T) {
	pdq, md5 := strings.Repeat("ab", 32), strings.Repeat("0F", 16)
	for in, want := range map[string]Item{
		pdq: {PDQ: pdq}, md5: {MD5: md5}, "pdq:" + pdq: {PDQ: pdq}, "md5:" + md5: {MD5: md5}, "sha256:" + pdq: {SHA256: pdq},
	} {
		if got, ok := ParseItem(in); !ok || got != want {
			t.Errorf("ParseItem(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "photo.jpg", strings.Repeat("g", 64), "sha1:" + md5, strings.Repeat("a", 40)} {
		if got, ok := ParseItem(in); ok {
			t.Errorf("ParseItem(%q) = %+v, want none", in, got)
		}
	}
}
