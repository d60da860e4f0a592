package clientip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:4711":                  "192.0.2.7",
		"[::ffff:192.0.2.7]:80":           "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1%eth0]:443": "2001:db8:1:2::/64",
		"2001:db8:1:2::9":                 "2001:db8:1:2::/64",
		"192.0.2.7":                       "192.0.2.7",
		"":                                "",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseProxies(t *testing.T) {
	p, err := ParseProxies(" 10.0.0.0/8, 2001:db8::/32,192.0.2.1 ,::ffff:198.51.100.0/120")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.ranges); got != 4 {
		t.Fatalf("%d ranges", got)
	}
	for _, s := range []string{"10.9.9.9", "2001:db8:5::1", "192.0.2.1", "198.51.100.77", "::ffff:10.1.1.1"} {
		if a, _ := parse(s); !p.trusts(a) {
			t.Errorf("%s not trusted", s)
		}
	}
	for _, s := range []string{"11.0.0.1", "192.0.2.2", "2001:db9::1", "198.51.101.1"} {
		if a, _ := parse(s); p.trusts(a) {
			t.Errorf("%s trusted", s)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "fe80::1%eth0"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := ParseProxies(""); err != nil || len(p.ranges) != 0 {
		t.Errorf("empty: %v %v", p, err)
	}
}

func TestClient(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8,2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no header", "192.0.2.7:4711", nil, "192.0.2.7:4711"},
		{"spoofed from an untrusted peer", "192.0.2.7:4711", []string{"203.0.113.9"}, "192.0.2.7:4711"},
		{"via a trusted proxy", "10.0.0.2:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client's own entry left of the real one", "10.0.0.2:5555", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", "10.0.0.2:5555", []string{"1.2.3.4, 203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"several header lines", "10.0.0.2:5555", []string{"1.2.3.4", "203.0.113.9", "10.1.1.1"}, "203.0.113.9"},
		{"IPv6 with port", "[2001:db8:ffff::1]:443", []string{"[2001:db8:1::5]:1234"}, "2001:db8:1::5"},
		{"mapped", "[::ffff:10.0.0.2]:80", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"garbage stops at the trusted hop", "10.0.0.2:5555", []string{"203.0.113.9, bogus, 10.1.1.1"}, "10.1.1.1"},
		{"only trusted entries", "10.0.0.2:5555", []string{"10.3.3.3"}, "10.3.3.3"},
		{"trusted peer, no header", "10.0.0.2:5555", nil, "10.0.0.2"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.Client(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		var seen string
		p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)
		if seen != tc.want {
			t.Errorf("%s: handler saw %q, want %q", tc.name, seen, tc.want)
		}
	}
	// No trusted proxies: the header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := (Proxies{}).Client(r); got != "10.0.0.2:5555" {
		t.Errorf("no proxies: %q", got)
	}
}
