package takedown_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/takedown"
)

func TestParseDomains(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want: the names joined by " ", or the error's text
		ok       bool
	}{
		{"", "", true},
		{" , ,", "", true},
		{"Host.Example", "host.example", true},
		{"a.example, B.example.,a.example", "a.example b.example", true},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"localhost", "localhost", true},
		{"my-cdn.host.example", "my-cdn.host.example", true},
		{"https://a.example", "without scheme", false},
		{"a.example/path", "without scheme, path", false},
		{"abuse@a.example", "without scheme, path or user", false},
		{"a.example:8080", "without a port", false},
		{"*.a.example", "no wildcards", false},
		{"192.0.2.1", "give addresses in ip-ranges", false},
		{"2001:db8::1", "give addresses in ip-ranges", false},
		{"bücher.example", "xn--", false},
		{"a..example", "1 to 63 characters", false},
		{".a.example", "1 to 63 characters", false},
		{strings.Repeat("a", 64) + ".example", "1 to 63 characters", false},
		{strings.Repeat("a.", 127) + "example", "longer than 253", false},
		{"-a.example", "starts nor ends with '-'", false},
		{"a_b.example", "only letters, digits", false},
		{"a example", "only letters, digits", false},
		{"a.example,b\x00.example", "only letters, digits", false},
		{"a.123", "last part is a number", false},
	} {
		got, err := takedown.ParseDomains(tt.in)
		if !tt.ok {
			if !errors.Is(err, core.ErrInvalid) || !strings.HasPrefix(err.Error(), "domains: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseDomains(%q) = %q, %v; want an invalid error saying %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("ParseDomains(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseIPRanges(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"192.0.2.0/24", "192.0.2.0/24", true},
		{" 192.0.2.77/24 , 2001:DB8::1/32", "192.0.2.0/24 2001:db8::/32", true},
		{"192.0.2.1", "192.0.2.1/32", true},
		{"2001:db8::1", "2001:db8::1/128", true},
		{"::ffff:192.0.2.1", "192.0.2.1/32", true},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", true},
		{"192.0.2.0/24,192.0.2.9/24,,", "192.0.2.0/24", true},
		{"192.0.2.0/33", "neither an address block", false},
		{"192.0.2", "neither an address block", false},
		{"a.example", "neither an address block", false},
		{"fe80::1%eth0", "neither an address block", false},
		{"0.0.0.0/0", "covers every address", false},
		{"::/0", "covers every address", false},
	} {
		got, err := takedown.ParseIPRanges(tt.in)
		if !tt.ok {
			if !errors.Is(err, core.ErrInvalid) || !strings.HasPrefix(err.Error(), "ip-ranges: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseIPRanges(%q) = %v, %v; want an invalid error saying %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if err != nil || prefixes(got) != tt.want {
			t.Errorf("ParseIPRanges(%q) = %v, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

func TestCheckNoticeEmail(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{" abuse@host.example ", "abuse@host.example", true},
		{"noc+ward@host.example", "noc+ward@host.example", true},
		{"Abuse <abuse@host.example>", "", false},
		{"<abuse@host.example>", "", false},
		{"abuse@host.example (desk)", "", false},
		{"abuse", "", false},
		{"abuse@host.example, noc@host.example", "", false},
		{strings.Repeat("a", 250) + "@h.example", "", false},
	} {
		got, err := takedown.CheckNoticeEmail(tt.in)
		if !tt.ok {
			if !errors.Is(err, core.ErrInvalid) || !strings.HasPrefix(err.Error(), "notice-email: ") {
				t.Errorf("CheckNoticeEmail(%q) = %q, %v; want an invalid error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckNoticeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLocate(t *testing.T) {
	mustRanges := func(s string) []netip.Prefix {
		p, err := takedown.ParseIPRanges(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hosts := []takedown.Host{
		{Org: 1, Name: "bighost", Country: "DE", Domains: []string{"host.example"}, IPRanges: mustRanges("10.0.0.0/8, 2001:db8::/32")},
		{Org: 2, Name: "cdn", Country: "FR", Domains: []string{"cdn.host.example", "cdn.example"}, IPRanges: mustRanges("10.1.0.0/16, 2001:db8:1::/48")},
		{Org: 3, Name: "local", Country: "SE", IPRanges: mustRanges("127.0.0.0/8")},
		{Org: 4, Name: "ripe-hosting", Country: "DE", IPRanges: mustRanges("193.0.0.0/21")},
	}
	// The public address's country is whatever the embedded table says;
	// the test only needs one it places, in another country than the
	// host registered on its range says.
	public := netip.MustParseAddr("193.0.6.139")
	publicCC := forward.IPCountry(public)
	if publicCC == "" || publicCC == "DE" {
		t.Fatalf("the embedded IP table places %s in %q; pick a public address it places outside DE", public, publicCC)
	}
	unregistered := netip.MustParseAddr("8.8.8.8") // in no host's range
	unregisteredCC := forward.IPCountry(unregistered)
	if unregisteredCC == "" {
		t.Fatalf("the embedded IP table does not place %s; pick a public address it places", unregistered)
	}
	addrs := func(s ...string) []netip.Addr {
		var as []netip.Addr
		for _, a := range s {
			as = append(as, netip.MustParseAddr(a))
		}
		return as
	}
	for _, tt := range []struct {
		name     string
		url      string
		addrs    []netip.Addr
		host     int64
		country  string
		hostName string
	}{
		{"the domain itself", "https://host.example/a.jpg", nil, 1, "DE", "bighost"},
		{"a subdomain", "https://img.eu.HOST.example./a.jpg", nil, 1, "DE", "bighost"},
		{"the most specific domain", "https://x.cdn.host.example/a.jpg", nil, 2, "FR", "cdn"},
		{"a domain over an address", "http://cdn.example:8080/", addrs("10.0.0.1"), 2, "FR", "cdn"},
		{"no suffix match without a dot", "https://nothost.example/", nil, 0, "", ""},
		{"an IPv4 range", "https://other.example/", addrs("10.2.3.4"), 1, "DE", "bighost"},
		{"the most specific IPv4 range", "https://other.example/", addrs("10.1.3.4"), 2, "FR", "cdn"},
		{"an IPv6 range", "https://other.example/", addrs("2001:db8:2::1"), 1, "DE", "bighost"},
		{"the most specific IPv6 range", "https://other.example/", addrs("2001:db8:1::1"), 2, "FR", "cdn"},
		{"an IPv4-mapped address", "https://other.example/", addrs("::ffff:10.1.0.9"), 2, "FR", "cdn"},
		{"the first address a range holds", "https://other.example/", addrs("192.0.2.1", "10.9.9.9", "10.1.0.1"), 1, "DE", "bighost"},
		{"an address literal", "http://[2001:db8:1::5]/", addrs("2001:db8:1::5"), 2, "FR", "cdn"},
		{"loopback: the host's country", "http://localhost/", addrs("127.0.0.1"), 3, "SE", "local"},
		{"a public address: the table's country over the host's", "https://ripe.example/", []netip.Addr{public}, 4, publicCC, "ripe-hosting"},
		{"the first placed address's country", "https://host.example/", addrs("10.0.0.1", public.String()), 1, publicCC, "bighost"},
		{"no host, a public address", "https://unknown.example/", []netip.Addr{unregistered}, 0, unregisteredCC, ""},
		{"no match", "https://unknown.example/", addrs("192.0.2.1"), 0, "", ""},
		{"no URL", "::not a url", nil, 0, "", ""},
	} {
		got := takedown.Locate(hosts, tt.url, tt.addrs)
		if got.Host != tt.host || got.HostName != tt.hostName || got.Country != tt.country || !slices.Equal(got.Addresses, tt.addrs) {
			t.Errorf("%s: Locate(%q, %v) = %+v; want host %d %q, country %q", tt.name, tt.url, tt.addrs, got, tt.host, tt.hostName, tt.country)
		}
	}
}

// TestHostStore runs the register's reads and writes (HostStore), and
// AddHost and ChangeHost over HostUpdater, on each engine.
func TestHostStore(t *testing.T) {
	storetest.OnEachEngine(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx, db := t.Context(), open(t)
		orgs := org.NewService(db)
		sealer := seal.NewSealer(seal.NewKeyring(), db)
		l := audit.NewLog(db, nil)
		newOrg := func(name string, kind org.Kind) org.Organisation {
			t.Helper()
			o, err := org.New(name, kind, "nl", core.Clock(nil).Now())
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		trail := func(action string) []audit.Entry {
			t.Helper()
			es, err := l.List(ctx, audit.Filter{Action: action})
			if err != nil {
				t.Fatal(err)
			}
			return es
		}
		ranges, err := takedown.ParseIPRanges("192.0.2.0/24,2001:db8::/32")
		if err != nil {
			t.Fatal(err)
		}
		const hook = "https://host.example/notices?secret=s"

		// A failure at the last step (the audit entry) leaves nothing.
		entry := takedown.Host{Domains: []string{"host.example", "cdn.example"}, IPRanges: ranges, NoticeEmail: "abuse@host.example"}
		if _, err := takedown.AddHost(ctx, db, sealer, l, newOrg("hoster", org.Host), entry, hook, "not an actor"); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("AddHost with a bad actor: %v", err)
		}
		if _, err := orgs.ByName(ctx, "hoster"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("after a failed AddHost: %v, want no organisation", err)
		}
		if _, err := takedown.AddHost(ctx, db, sealer, l, newOrg("acme", org.Provider), entry, "", audit.AdminCLI); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("AddHost of a provider: %v", err)
		}
		bad := entry
		bad.Domains = []string{"a.example,b.example"}
		if _, err := takedown.AddHost(ctx, db, sealer, l, newOrg("hoster", org.Host), bad, "", audit.AdminCLI); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("AddHost with a comma in a domain: %v", err)
		}

		entry.Domains = append(entry.Domains, "HOST.example") // normalised and deduplicated
		added, err := takedown.AddHost(ctx, db, sealer, l, newOrg("hoster", org.Host), entry, hook, audit.AdminCLI)
		if err != nil {
			t.Fatal(err)
		}
		want := takedown.Host{Org: added.Org, Name: "hoster", Country: "NL", Domains: []string{"host.example", "cdn.example"},
			IPRanges: ranges, NoticeEmail: "abuse@host.example", HasWebhook: true}
		if !equalHost(added, want) {
			t.Errorf("AddHost = %+v, want %+v", added, want)
		}
		if got, err := db.HostByOrg(ctx, added.Org); err != nil || !equalHost(got, want) {
			t.Errorf("HostByOrg after AddHost = %+v, %v; want %+v", got, err, want)
		}
		if got, err := forward.OpenWebhook(ctx, db, sealer, added.Org); err != nil || got != hook {
			t.Errorf("webhook = %q, %v", got, err)
		}
		if es := trail("org.add"); len(es) != 1 || es[0].Object != fmt.Sprintf("org:%d", added.Org) {
			t.Errorf("org.add entries: %+v", es)
		}

		// A host organisation without an entry has empty lists; other
		// kinds are not hosts.
		bare, err := orgs.Create(ctx, "bare-host", org.Host, "SE")
		if err != nil {
			t.Fatal(err)
		}
		provider, err := orgs.Create(ctx, "photos", org.Provider, "IE")
		if err != nil {
			t.Fatal(err)
		}
		wantBare := takedown.Host{Org: bare.ID, Name: "bare-host", Country: "SE"}
		hosts, err := db.Hosts(ctx)
		if err != nil || len(hosts) != 2 || !equalHost(hosts[0], wantBare) || !equalHost(hosts[1], want) {
			t.Fatalf("Hosts = %+v, %v; want bare-host then hoster", hosts, err)
		}
		for _, id := range []int64{provider.ID, 999} {
			if _, err := db.HostByOrg(ctx, id); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("HostByOrg(%d): %v, want not found", id, err)
			}
			if err := db.SetHost(ctx, takedown.Host{Org: id, Domains: []string{"x.example"}}); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("SetHost(%d): %v, want not found", id, err)
			}
		}

		// SetHost inserts, then replaces.
		if err := db.SetHost(ctx, takedown.Host{Org: bare.ID, Domains: []string{"bare.example"}}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetHost(ctx, takedown.Host{Org: bare.ID, IPRanges: ranges[:1], NoticeEmail: "noc@bare.example"}); err != nil {
			t.Fatal(err)
		}
		wantBare.IPRanges, wantBare.NoticeEmail = ranges[:1], "noc@bare.example"
		if got, err := db.HostByOrg(ctx, bare.ID); err != nil || !equalHost(got, wantBare) {
			t.Errorf("after SetHost: %+v, %v; want %+v", got, err, wantBare)
		}

		// ChangeHost replaces and records; a failed one changes nothing.
		change := want
		change.Domains, change.IPRanges, change.NoticeEmail = []string{"new.example"}, nil, ""
		if _, err := takedown.ChangeHost(ctx, db, l, change, "not an actor"); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ChangeHost with a bad actor: %v", err)
		}
		if got, _ := db.HostByOrg(ctx, added.Org); !equalHost(got, want) {
			t.Errorf("after a failed ChangeHost: %+v", got)
		}
		if _, err := takedown.ChangeHost(ctx, db, l, takedown.Host{Org: provider.ID, Name: "photos"}, audit.AdminCLI); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("ChangeHost of a provider: %v", err)
		}
		if _, err := takedown.ChangeHost(ctx, db, l, change, audit.AdminCLI); err != nil {
			t.Fatal(err)
		}
		if got, err := db.HostByOrg(ctx, added.Org); err != nil || !equalHost(got, change) {
			t.Errorf("after ChangeHost: %+v, %v; want %+v", got, err, change)
		}
		if es := trail("host.set"); len(es) != 1 || es[0].Object != fmt.Sprintf("org:%d", added.Org) || es[0].OrgName != "hoster" {
			t.Errorf("host.set entries: %+v", es)
		}
	})
}

func equalHost(a, b takedown.Host) bool {
	return a.Org == b.Org && a.Name == b.Name && a.Country == b.Country && slices.Equal(a.Domains, b.Domains) &&
		slices.Equal(a.IPRanges, b.IPRanges) && a.NoticeEmail == b.NoticeEmail && a.HasWebhook == b.HasWebhook
}
