// Package netguard is the one rule of which addresses the centre's
// outgoing connections (webhooks, the takedown fetcher) may reach on
// behalf of someone else: public unicast addresses only, never the
// centre's own services (a database, a cloud metadata service at
// 169.254.169.254). The address ranges are IANA's special-purpose
// registries (RFC 6890) and the IPv6 forms of IPv4 addresses.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrNotPublic is matched (errors.Is) by every *Error.
var ErrNotPublic = errors.New("not a public address")

// Error is an address that is not public unicast.
type Error struct {
	Addr netip.Addr
	Kind string // what it is: "loopback", "private", "link-local", …
}

func (e *Error) Error() string {
	article := "a"
	switch e.Kind[0] | 0x20 { // lower case
	case 'a', 'e', 'i', 'o', 'u':
		article = "an"
	}
	return fmt.Sprintf("%s is %s %s address", e.Addr, article, e.Kind)
}

// Is makes errors.Is(err, ErrNotPublic) hold.
func (e *Error) Is(target error) bool { return target == ErrNotPublic }

// nonPublic are the prefixes, beyond those netip.Addr's methods name, of
// addresses that are not public unicast.
var nonPublic = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `reserved ("this network")`},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"}, // RFC 6598
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved (IETF protocol assignments)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"}, // deprecated, RFC 7526: a relay tunnels onwards
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},              // and the broadcast address
	// IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) are
	// routed nowhere, and a stack that still knows them tunnels them to
	// the IPv4 address: refused whatever that is.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	// Teredo tunnels to an IPv4 address that the prefix does not show
	// plainly (the client's is obfuscated, the server's may be any).
	{netip.MustParsePrefix("2001::/32"), "Teredo (tunnelled)"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID (deprecated)"},
	// ORCHIDv2 (RFC 7343) are identifiers of hosts for HIP, not locators
	// to connect to.
	{netip.MustParsePrefix("2001:20::/28"), "ORCHIDv2 (identifiers)"},
	// The rest of 2001::/23 is IETF protocol assignments, not globally
	// reachable; its few anycast services (PCP, TURN, AMT, AS112) host
	// no web content.
	{netip.MustParsePrefix("2001::/23"), "reserved (IETF protocol assignments)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},        // RFC 9637
	{netip.MustParsePrefix("5f00::/16"), "reserved (SRv6 SIDs)"}, // RFC 9602
	{netip.MustParsePrefix("fec0::/10"), "site-local"},           // deprecated
}

// embedsIPv4 are IPv6 prefixes whose addresses lead to an IPv4 address
// they carry (NAT64, RFC 6052 and 8215; SIIT's IPv4-translated
// addresses, RFC 2765; 6to4, RFC 3056): public only if it is. The offset
// is where the IPv4 address starts. (IPv4-mapped addresses are unmapped
// first.)
var embedsIPv4 = []struct {
	prefix netip.Prefix
	offset int
}{
	{netip.MustParsePrefix("::ffff:0:0:0/96"), 12},
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
}

// kind returns what a is if it is not public unicast, "" if it is.
func kind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	for _, p := range nonPublic {
		if p.prefix.Contains(a) {
			return p.kind
		}
	}
	if a.Is6() {
		b := a.As16()
		for _, e := range embedsIPv4 {
			if e.prefix.Contains(a) {
				return kind(netip.AddrFrom4([4]byte(b[e.offset : e.offset+4])))
			}
		}
	}
	if !a.IsGlobalUnicast() {
		return "reserved"
	}
	return ""
}

// PublicAddr reports whether a is a public unicast address: not loopback,
// private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10),
// unspecified, multicast, shared (100.64/10), reserved, benchmarking or
// documentation, not a tunnel (Teredo, 6to4 relays, IPv4-compatible), in
// IPv4, IPv6 or the IPv6 forms of IPv4 addresses (IPv4-mapped and
// -translated, NAT64, 6to4).
func PublicAddr(a netip.Addr) bool { return kind(a) == "" }

// Check returns nil if a is public unicast (PublicAddr), else an *Error
// that says what it is.
func Check(a netip.Addr) error {
	if k := kind(a); k != "" {
		return &Error{Addr: a, Kind: k}
	}
	return nil
}

// Control is a net.Dialer's Control that refuses to connect to an
// address that is not public (Check). It sees each address about to be
// connected to, after name resolution, so that a name resolving to an
// internal address, also one that changes between a check and the
// connection (DNS rebinding), is refused.
func Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotPublic, address)
	}
	return Check(ap.Addr())
}
