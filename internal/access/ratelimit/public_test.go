package ratelimit

import (
	"strings"
	"testing"
)

// TestPublicBucket: the public limit's key holds no trace of the address,
// is the same for one client whatever its port (and for one IPv6 /64),
// differs between clients, and between two limits.
func TestPublicBucket(t *testing.T) {
	p := NewPublic(1, 1)
	a := p.bucket("192.0.2.7:40000")
	for _, same := range []string{"192.0.2.7:40001", "[::ffff:192.0.2.7]:5"} {
		if p.bucket(same) != a {
			t.Errorf("%s keyed apart from 192.0.2.7:40000", same)
		}
	}
	if p.bucket("192.0.2.8:40000") == a {
		t.Error("two addresses share a key")
	}
	if p.bucket("[2001:db8:1:2::1]:1") != p.bucket("[2001:db8:1:2:ffff::9]:2") || p.bucket("[2001:db8:1:3::1]:1") == p.bucket("[2001:db8:1:2::1]:1") {
		t.Error("IPv6 addresses not keyed by their /64")
	}
	if len(a) != 16 || strings.Contains(a, "192.0.2.7") || strings.Contains(a, "\xc0\x00\x02\x07") {
		t.Errorf("key %q is not a 16-byte hash", a)
	}
	if NewPublic(1, 1).bucket("192.0.2.7:40000") == a {
		t.Error("two limits key an address alike: the key is not drawn per limit")
	}
	if ok, _ := p.Allow("192.0.2.7:1"); !ok {
		t.Error("the first request refused")
	}
	if ok, wait := p.Allow("192.0.2.7:2"); ok || wait <= 0 {
		t.Errorf("a second at once: allowed %v, wait %v", ok, wait)
	}
	if ok, _ := p.Allow("192.0.2.8:1"); !ok {
		t.Error("another address refused")
	}
}
