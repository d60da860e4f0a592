// Package clientip tells which client a request comes from, for the limits
// and records that are kept per client (the rate limit per IP address,
// the login lockout, a session's address): the peer's address or, behind
// trusted proxies, the address they forwarded in X-Forwarded-For.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is the set of trusted proxies' address ranges. The zero value
// trusts none: every request's client is its peer.
type Proxies struct {
	ranges []netip.Prefix
}

// ParseProxies reads a comma-separated list of CIDR ranges (a single
// address stands for itself). The empty string trusts none.
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pre, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return Proxies{}, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32", f)
			}
			pre = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if pre.Addr().Is4In6() {
			pre = netip.PrefixFrom(pre.Addr().Unmap(), max(0, pre.Bits()-96))
		}
		p.ranges = append(p.ranges, pre.Masked())
	}
	return p, nil
}

func (p Proxies) trusts(a netip.Addr) bool {
	for _, r := range p.ranges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the address of the client that sent r. If r's peer is
// not a trusted proxy, that is r.RemoteAddr (host:port) and
// X-Forwarded-For is ignored: anyone can send one. Otherwise it is the
// right-most address of X-Forwarded-For that is not itself a trusted
// proxy (each proxy appends its peer, so what is left of that was written
// by the client), without a port. An entry that is no address ends the
// walk at the trusted proxy after it, so that a client cannot choose.
func (p Proxies) Client(r *http.Request) string {
	if len(p.ranges) == 0 {
		return r.RemoteAddr
	}
	peer, ok := parse(r.RemoteAddr)
	if !ok || !p.trusts(peer) {
		return r.RemoteAddr
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parse(strings.TrimSpace(entries[j]))
			if !ok {
				return client.String()
			}
			client = a
			if !p.trusts(a) {
				return client.String()
			}
		}
	}
	return client.String()
}

// Middleware sets each request's RemoteAddr to its Client, so that
// everything after it (rate limits, the login lockout, sessions, logs)
// sees the same client. With no trusted proxies it is next.
func (p Proxies) Middleware(next http.Handler) http.Handler {
	if len(p.ranges) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := p.Client(r); c != r.RemoteAddr {
			r2 := *r // a shallow copy, as http.Request.WithContext makes
			r2.RemoteAddr = c
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// parse reads an address, with or without a port, unmapped and without
// its zone.
func parse(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// Key returns the part of an address (host:port, or an address alone)
// that clients are told apart by: the IP address without the port, IPv6
// addresses reduced to their /64, which one holder usually has whole (a
// bucket per address would give him 2^64). Anything else is returned
// as it is.
func Key(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
