package netguard_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/wardhq/ward/internal/platform/netguard"
)

func TestPublicAddr(t *testing.T) {
	for a, public := range map[string]bool{
		"8.8.8.8": true, "2a00:1450:4001:82b::200e": true, "203.0.114.1": true, "100.128.0.1": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "10.0.0.1": false, "172.16.0.1": false,
		"192.168.0.1": false, "fd00::1": false, "fc00::1": false, "169.254.169.254": false, "fe80::1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false, "100.64.0.1": false,
		"100.127.255.255": false, "255.255.255.255": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"::ffff:169.254.169.254": false, "::ffff:8.8.8.8": true, "64:ff9b::7f00:1": false, "64:ff9b::808:808": true,
		"2002:a9fe:a9fe::1": false, "2002:808:808::1": true, "192.0.2.1": false, "0.1.2.3": false,
	} {
		addr := netip.MustParseAddr(a)
		if got := netguard.PublicAddr(addr); got != public {
			t.Errorf("PublicAddr(%s) = %v, want %v", a, got, public)
		}
		if err := netguard.Check(addr); (err == nil) != public || (err != nil && !errors.Is(err, netguard.ErrNotPublic)) {
			t.Errorf("Check(%s) = %v; want nil only if public, else ErrNotPublic", a, err)
		}
	}
	if netguard.PublicAddr(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestCheckSays(t *testing.T) {
	for a, want := range map[string]string{
		"127.0.0.1":        "127.0.0.1 is a loopback address",
		"10.0.0.1":         "10.0.0.1 is a private address",
		"169.254.169.254":  "169.254.169.254 is a link-local address",
		"0.0.0.0":          "0.0.0.0 is an unspecified address",
		"100.64.0.1":       "100.64.0.1 is a shared (CGNAT) address",
		"64:ff9b::a00:1":   "64:ff9b::a00:1 is a private address",
		"::ffff:127.0.0.1": "::ffff:127.0.0.1 is a loopback address",
	} {
		if err := netguard.Check(netip.MustParseAddr(a)); err == nil || err.Error() != want {
			t.Errorf("Check(%s) = %v, want %q", a, err, want)
		}
	}
}

// TestTunnelsAndReserved checks the IPv6 forms that lead to an IPv4
// address or to nowhere public, and the special-purpose ranges beyond
// those netip names: each refused, saying what it is, beside its public
// neighbours.
func TestTunnelsAndReserved(t *testing.T) {
	for _, tc := range []struct{ addr, says string }{
		// IPv4-compatible (::a.b.c.d): refused whatever it carries.
		{"::127.0.0.1", "::7f00:1 is an IPv4-compatible (deprecated) address"},
		{"::10.0.0.1", "::a00:1 is an IPv4-compatible (deprecated) address"},
		{"::169.254.169.254", "::a9fe:a9fe is an IPv4-compatible (deprecated) address"},
		{"::8.8.8.8", "::808:808 is an IPv4-compatible (deprecated) address"},
		{"::", ":: is an unspecified address"},
		{"::1", "::1 is a loopback address"},
		// SIIT's IPv4-translated addresses carry their IPv4 address.
		{"::ffff:0:127.0.0.1", "::ffff:0:7f00:1 is a loopback address"},
		{"::ffff:0:169.254.169.254", "::ffff:0:a9fe:a9fe is a link-local address"},
		{"::ffff:0:8.8.8.8", ""},
		// NAT64 and 6to4 carry theirs.
		{"64:ff9b::7f00:1", "64:ff9b::7f00:1 is a loopback address"},
		{"64:ff9b:1::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe is a link-local address"},
		{"2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1 is a link-local address"},
		{"2002:808:808::1", ""},
		// Tunnels and relays.
		{"2001::1", "2001::1 is a Teredo (tunnelled) address"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2 is a Teredo (tunnelled) address"},
		{"192.88.99.1", "192.88.99.1 is a 6to4 relay anycast address"},
		{"192.88.98.255", ""},
		{"192.88.100.0", ""},
		// 2001::/23, IETF protocol assignments.
		{"2001:2::1", "2001:2::1 is a benchmarking address"},
		{"2001:10::1", "2001:10::1 is an ORCHID (deprecated) address"},
		{"2001:1f:ffff::1", "2001:1f:ffff::1 is an ORCHID (deprecated) address"},
		{"2001:20::1", "2001:20::1 is an ORCHIDv2 (identifiers) address"},
		{"2001:3::1", "2001:3::1 is a reserved (IETF protocol assignments) address"},
		{"2001:1ff:ffff::1", "2001:1ff:ffff::1 is a reserved (IETF protocol assignments) address"},
		{"2001:200::1", ""}, // the first RIR allocation after it
		// Documentation and SRv6.
		{"3fff::1", "3fff::1 is a documentation address"},
		{"3fff:fff::1", "3fff:fff::1 is a documentation address"},
		{"3fff:1000::1", ""},
		{"5f00::1", "5f00::1 is a reserved (SRv6 SIDs) address"},
		{"fd00:ec2::254", "fd00:ec2::254 is a private address"},
		{"100::1", "100::1 is a discard address"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			err := netguard.Check(a)
			if tc.says == "" {
				if err != nil || !netguard.PublicAddr(a) {
					t.Errorf("Check(%s) = %v; want public", tc.addr, err)
				}
				return
			}
			if err == nil || err.Error() != tc.says || !errors.Is(err, netguard.ErrNotPublic) || netguard.PublicAddr(a) {
				t.Errorf("Check(%s) = %v; want %q", tc.addr, err, tc.says)
			}
		})
	}
}

// TestControl dials a listener on loopback through a dialer whose
// Control is netguard's: refused before any connection is made.
func TestControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: netguard.Control}
	if c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String()); !errors.Is(err, netguard.ErrNotPublic) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dialling %s: %v; want ErrNotPublic", ln.Addr(), err)
	}
	for _, address := range []string{"8.8.8.8:443", "[2a00:1450:4001:82b::200e]:443"} {
		if err := netguard.Control("tcp", address, nil); err != nil {
			t.Errorf("Control(%s) = %v, want nil", address, err)
		}
	}
	if err := netguard.Control("tcp", "nonsense", nil); !errors.Is(err, netguard.ErrNotPublic) {
		t.Errorf("Control(nonsense) = %v, want ErrNotPublic", err)
	}
}
