package takedown

import (
	"context"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
	"github.com/wardhq/ward/internal/reporting/forward"
)

// HostStore reads and writes the register of hosts; package store
// implements it.
type HostStore interface {
	// SetHost sets the domains, IP ranges and notice e-mail of host
	// organisation h.Org, replacing what it had (core.ErrNotFound if there
	// is no organisation of kind host with that ID).
	SetHost(ctx context.Context, h Host) error
	// Hosts returns every organisation of kind host, by name, with its
	// register entry (empty for a host never given one).
	Hosts(ctx context.Context) ([]Host, error)
	// HostByOrg returns host organisation orgID with its register entry;
	// core.ErrNotFound if there is no organisation of kind host with that
	// ID.
	HostByOrg(ctx context.Context, orgID int64) (Host, error)
}

// HostTx is a transaction in which a host's organisation, webhook,
// register entry and the audit entry recording the change are written
// together; package store implements it.
type HostTx interface {
	forward.OrgTx
	// SetHost is HostStore's, within the transaction.
	SetHost(ctx context.Context, h Host) error
}

// HostUpdater runs fn in one transaction, committed if fn returns nil. fn
// may run more than once (the store retries conflicts).
type HostUpdater interface {
	UpdateHost(ctx context.Context, fn func(ctx context.Context, tx HostTx) error) error
}

// AddHost creates organisation o (from org.New, of kind host) with
// webhook hook (a URL that forward.CheckWebhookURL returned, "" for none;
// sealed with a key from keys) and the register entry of h (its domains,
// IP ranges and notice e-mail), recorded in l as done by actor, all in
// one transaction, as forward.AddOrg does for other organisations. It
// returns the host as registered.
func AddHost(ctx context.Context, st HostUpdater, keys forward.KeyMaker, l *audit.Log, o org.Organisation, h Host, hook, actor string) (Host, error) {
	if o.Kind != org.Host {
		return Host{}, core.Errorf(core.ErrInvalid, "%q is a %s, not a host: only hosts have domains, IP ranges and a notice e-mail", o.Name, o.Kind)
	}
	entry, err := checkEntry(h)
	if err != nil {
		return Host{}, err
	}
	dk, err := forward.WebhookKey(ctx, keys, hook)
	if err != nil {
		return Host{}, err
	}
	var added Host
	err = st.UpdateHost(ctx, func(ctx context.Context, tx HostTx) error {
		created, err := forward.CreateOrg(ctx, tx, l, dk, o, hook, actor)
		if err != nil {
			return err
		}
		added = entry
		added.Org, added.Name, added.Country, added.HasWebhook = created.ID, created.Name, created.Country, hook != ""
		return tx.SetHost(ctx, added)
	})
	if err != nil {
		return Host{}, err
	}
	return added, nil
}

// ChangeHost replaces the register entry of host h.Org (its domains, IP
// ranges and notice e-mail) with h's and records the change in l as done
// by actor, in one transaction. It returns the entry as stored.
func ChangeHost(ctx context.Context, st HostUpdater, l *audit.Log, h Host, actor string) (Host, error) {
	entry, err := checkEntry(h)
	if err != nil {
		return Host{}, err
	}
	err = st.UpdateHost(ctx, func(ctx context.Context, tx HostTx) error {
		if err := tx.SetHost(ctx, entry); err != nil {
			return err
		}
		_, err := l.AppendTo(ctx, tx, audit.Event{OrgID: entry.Org, OrgName: entry.Name, Actor: actor,
			Action: "host.set", Object: fmt.Sprintf("org:%d", entry.Org), Outcome: audit.OK})
		return err
	})
	if err != nil {
		return Host{}, err
	}
	return entry, nil
}

// checkEntry returns h with its register entry as ParseDomains,
// ParseIPRanges and CheckNoticeEmail would give it: what is stored is
// only ever what they accept, whoever built h.
func checkEntry(h Host) (Host, error) {
	var err error
	if h.Domains, err = domains(h.Domains); err != nil {
		return Host{}, err
	}
	ranges := make([]netip.Prefix, 0, len(h.IPRanges))
	for _, p := range h.IPRanges {
		q, err := checkRange(p, p.String())
		if err != nil {
			return Host{}, err
		}
		if !slices.Contains(ranges, q) {
			ranges = append(ranges, q)
		}
	}
	h.IPRanges = ranges
	if h.NoticeEmail, err = CheckNoticeEmail(h.NoticeEmail); err != nil {
		return Host{}, err
	}
	return h, nil
}

// ParseDomains parses a comma-separated list of domain names, such as
// "host.example, cdn.host.example": each lower-cased, without a final
// dot, duplicates dropped, blanks between commas skipped. A name is an
// ASCII host name (an internationalised one in its xn-- form), without
// scheme, path, port or wildcard: a domain covers its subdomains anyway.
func ParseDomains(s string) ([]string, error) {
	return domains(strings.Split(s, ","))
}

// domains checks and normalises names, as ParseDomains.
func domains(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			continue
		}
		d, err := checkDomain(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// maxDomain is the longest domain name DNS carries (RFC 1035 2.3.4, less
// the final dot and length octets).
const maxDomain = 253

func checkDomain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	bad := func(why string) (string, error) {
		return "", core.Errorf(core.ErrInvalid, "domains: %q is not a domain name: %s", s, why)
	}
	switch {
	case strings.Contains(d, "://") || strings.ContainsAny(d, "/?#@"):
		return bad("give the name alone, without scheme, path or user")
	case strings.Contains(d, "*"):
		return bad("no wildcards; a domain covers its subdomains already")
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return bad("it is an address; give addresses in ip-ranges")
	}
	if strings.Contains(d, ":") {
		return bad("give the name without a port")
	}
	if len(d) > maxDomain {
		return bad(fmt.Sprintf("longer than %d characters", maxDomain))
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return bad("each part between dots is 1 to 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a part between dots neither starts nor ends with '-'")
		}
		for _, r := range l {
			if r > '~' {
				return bad("write an internationalised name in its ASCII (xn--) form")
			}
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return bad("only letters, digits, '-' and dots")
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return bad("its last part is a number")
	}
	return d, nil
}

// ParseIPRanges parses a comma-separated list of address blocks in CIDR
// notation ("192.0.2.0/24, 2001:db8::/32"), or single addresses (a /32 or
// /128): each masked to its network, IPv4-mapped IPv6 blocks as IPv4,
// duplicates dropped, blanks between commas skipped.
func ParseIPRanges(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(f, "/") {
			p, _ = netip.ParsePrefix(f) // invalid if not a prefix
		} else if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p, err := checkRange(p, f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkRange returns p masked, an IPv4-mapped block as IPv4; s is how it
// was given.
func checkRange(p netip.Prefix, s string) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, core.Errorf(core.ErrInvalid, "ip-ranges: %q is neither an address block in CIDR notation (192.0.2.0/24, 2001:db8::/32) nor an address", s)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		// It would make the host the host of every URL.
		return netip.Prefix{}, core.Errorf(core.ErrInvalid, "ip-ranges: %q covers every address", s)
	}
	return p.Masked(), nil
}

// maxEmail is the longest address SMTP carries (RFC 5321 4.5.3.1.3, less
// the angle brackets).
const maxEmail = 254

// CheckNoticeEmail returns s, the e-mail address a host's notices go to,
// trimmed; "" for none. Only a bare address is accepted, such as
// abuse@host.example, not "Name <abuse@host.example>".
func CheckNoticeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if !bareAddress(s) {
		return "", core.Errorf(core.ErrInvalid, "notice-email: %q is not an e-mail address; give the bare address, such as abuse@host.example", s)
	}
	return s, nil
}

// bareAddress reports whether s is an e-mail address alone, such as
// abuse@host.example, not "Name <abuse@host.example>".
func bareAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && len(s) <= maxEmail && text.Check(s) == nil
}

// Locate finds where rawURL is hosted, given the addresses its host
// name resolved to (for an address literal, itself). Its host is the
// registered host one of whose domains is the URL's name or a parent of
// it, the longest such domain winning; else the host with an IP range
// holding the first of addrs that any range holds, the longest such
// range winning. Its country is that of the first of addrs that the
// embedded IP table places (forward.IPCountry), else the host's country,
// else "". Between equally specific matches, the first in hosts wins.
func Locate(hosts []Host, rawURL string, addrs []netip.Addr) Hosting {
	loc := Hosting{Addresses: slices.Clone(addrs)}
	h, ok := byDomain(hosts, urlHost(rawURL))
	if !ok {
		h, ok = byAddress(hosts, addrs)
	}
	if ok {
		loc.Host, loc.HostName = h.Org, h.Name
	}
	for _, a := range addrs {
		if cc := forward.IPCountry(a); cc != "" {
			loc.Country = cc
			break
		}
	}
	if loc.Country == "" && ok {
		loc.Country = h.Country
	}
	return loc
}

// urlHost returns rawURL's host name, lower case, without a final dot;
// "" if there is none.
func urlHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// byDomain returns the host with the longest domain that is name or a
// parent of it.
func byDomain(hosts []Host, name string) (Host, bool) {
	var best Host
	longest := 0
	if name == "" {
		return best, false
	}
	for _, h := range hosts {
		for _, d := range h.Domains {
			if len(d) > longest && (name == d || strings.HasSuffix(name, "."+d)) {
				best, longest = h, len(d)
			}
		}
	}
	return best, longest > 0
}

// byAddress returns the host with the longest range holding the first of
// addrs that a range holds.
func byAddress(hosts []Host, addrs []netip.Addr) (Host, bool) {
	for _, a := range addrs {
		a = a.Unmap()
		var best Host
		bits := -1
		for _, h := range hosts {
			for _, p := range h.IPRanges {
				if p.Bits() > bits && p.Contains(a) {
					best, bits = h, p.Bits()
				}
			}
		}
		if bits >= 0 {
			return best, true
		}
	}
	return Host{}, false
}
