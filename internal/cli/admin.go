package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/takedown"
)

// adminSubcommands are the subcommands of "ward admin", named by two words.
var adminSubcommands = []subcommand{
	{"org add", "add an organisation", adminOrgAdd},
	{"org list", "list the organisations", adminOrgList},
	{"org set-webhook", "set or remove the URL reports or notifications are pushed to", adminOrgSetWebhook},
	{"host set", "change a host's domains, IP ranges or notice e-mail", adminHostSet},
	{"host list", "list the hosts with their domains, IP ranges and notice e-mail", adminHostList},
	{"key create", "create an API key for an organisation and print it (once)", adminKeyCreate},
	{"key list", "list an organisation's API keys", adminKeyList},
	{"key revoke", "revoke an API key", adminKeyRevoke},
	{"user add", "add a staff user and print their enrolment link", adminUserAdd},
	{"user list", "list the staff users", adminUserList},
	{"user disable", "disable a staff user and end their sessions", adminUserDisable},
	{"init", "create the centre and its first administrator", adminInit},
	{"list add", "add an indicator list", adminListAdd},
	{"list set", "change a list's default PDQ threshold or maximum distance", adminListSet},
	{"indicator import", "import indicators attested by an organisation from a CSV or TSV file", adminIndicatorImport},
	{"audit verify", "verify the audit trail's hash chain and signed checkpoints", adminAuditVerify},
	{"audit export", "export the audit trail as CSV or JSON lines", adminAuditExport},
	{"audit checkpoint", "sign the audit trail's current head", adminAuditCheckpoint},
	{"audit pubkey", "print the public key that checks audit checkpoints", adminAuditPubkey},
	{"keys rotate", "add a new master key and re-wrap the data keys with it", adminKeysRotate},
	{"search add", "add a place for the centre's search to fetch on a schedule", adminSearchAdd},
	{"search list", "list the places of the centre's search with their last run", adminSearchList},
	{"search remove", "remove a place from the centre's search", adminSearchRemove},
	{"search run", "make a place of the centre's search due now", adminSearchRun},
	{"help-service add", "add a support service for victims to the directory", adminHelpServiceAdd},
	{"help-service list", "list the directory of help services for victims", adminHelpServiceList},
	{"help-service remove", "remove a help service from the directory", adminHelpServiceRemove},
}

var adminCommand = &Command{
	Name:    "admin",
	Args:    "<init|org|host|key|user|list|indicator|audit|keys|help-service|search> <subcommand> [flags]",
	Summary: "manage organisations, hosts, API keys, users, lists, indicators, help services and the centre's search",
	Run:     runAdmin,
}

func runAdmin(ctx context.Context, e *Env, args []string) error {
	return dispatch(ctx, e, "admin", `Administers the database directly (the --data directory or the --database
URL), also while "ward serve" runs on it.`, adminSubcommands, args)
}

// badUsage reports a usage error of subcommand c, with its usage.
func badUsage(e *Env, c *Command, format string, a ...any) error {
	fmt.Fprintf(e.Stderr, "ward %s: %s\nusage: ward %s %s\nrun 'ward %s --help' for details\n",
		c.Name, fmt.Sprintf(format, a...), c.Name, c.Args, c.Name)
	return errUsageShown
}

// adminFlags parses a subcommand's flags, with the store flags, and
// returns its positional arguments.
func adminFlags(e *Env, c *Command, long string, args []string, define func(fs *flag.FlagSet)) (*StoreFlags, []string, error) {
	fs := NewFlagSet(e, c, long)
	sf := AddStoreFlags(fs)
	define(fs)
	rest, err := ParseFlags(fs, args)
	return sf, rest, err
}

// requireFlags reports the first flag left empty, given as pairs of flag
// name and value.
func requireFlags(e *Env, c *Command, nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if strings.TrimSpace(nameValues[i+1]) == "" {
			return badUsage(e, c, "--%s is required", nameValues[i])
		}
	}
	return nil
}

// withStore opens the database the flags name for the duration of fn.
func withStore(ctx context.Context, sf *StoreFlags, fn func(db *store.DB) error) error {
	db, err := sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// findOrg returns the named organisation, explaining how to create it if
// there is none.
func findOrg(ctx context.Context, orgs *org.Service, name string) (org.Organisation, error) {
	o, err := orgs.ByName(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		return o, fmt.Errorf("no organisation named %q; create it with 'ward admin org add --name %q --kind KIND --country CC'", name, name)
	}
	return o, err
}

func adminOrgAdd(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin org add", Args: "--name NAME --kind KIND --country CC [--webhook URL [--allow-private-webhooks]] [--domains NAME,...] [--ip-ranges CIDR,...] [--notice-email ADDR]"}
	var name, kind, country, webhook string
	var allowPrivate bool
	var kf *KeyFlags
	var hf hostFlags
	sf, rest, err := adminFlags(e, c, `Adds an organisation: a provider (online service), hotline, lea (law
enforcement), europol, centre or host (a hosting provider in the register of
points of contact, which notices of illegal content go to). Its kind decides
what its API keys may do; its country (ISO 3166-1 alpha-2, such as NL or DE)
counts towards the lists' rule that an indicator needs attestations from
different countries, and is a host's hosting country where the IP table
does not place its addresses.

With --webhook, reports forwarded to an authority (lea, europol), the
changes of a provider's reports, or a host's notices, are pushed to that
URL, which is sealed in the database (it may hold the receiver's secret).
Its host must not be a loopback, private, link-local or otherwise
non-public address (pushes are refused there when connecting, too), except
with --allow-private-webhooks, for tests and closed networks, whose server
runs with the same flag.

A host's --domains (a URL is the host's if its name is one of them or under
one) and --ip-ranges (else if an address it resolves to is in one) decide
which URLs it is noticed of; --notice-email is where notices are e-mailed.
Change them with 'ward admin host set'.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "organisation `name`, unique")
			fs.StringVar(&kind, "kind", "", "`kind`: provider, hotline, lea, europol, centre or host")
			fs.StringVar(&country, "country", "", "ISO 3166-1 alpha-2 `code` of its country")
			fs.StringVar(&webhook, "webhook", "", "https `URL` to push its reports or notifications to (see 'ward admin org set-webhook')")
			fs.BoolVar(&allowPrivate, "allow-private-webhooks", false, "accept a webhook on a loopback, private or link-local address (tests, closed networks)")
			hf.define(fs)
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "name", name, "kind", kind, "country", country); err != nil {
		return err
	}
	k, err := org.ParseKind(kind)
	if err != nil {
		return badUsage(e, c, "%v", err)
	}
	if k != org.Host && hf.any() {
		return badUsage(e, c, "--domains, --ip-ranges and --notice-email are only for --kind host")
	}
	var h takedown.Host
	if k == org.Host {
		if h, err = hf.apply(h); err != nil {
			return err
		}
	}
	if webhook != "" {
		if webhook, err = forward.CheckWebhookURL(webhook, allowPrivate); err != nil {
			return err
		}
	}
	o, err := org.New(name, k, country, core.Clock(nil).Now())
	if err != nil {
		return err
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		var sealer *seal.Sealer
		if webhook != "" {
			if sealer, err = kf.Sealer(ctx, db); err != nil {
				return err
			}
		}
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		if k == org.Host {
			if h, err = takedown.AddHost(ctx, db, sealer, l, o, h, webhook, audit.AdminCLI); err != nil {
				return err
			}
			o.ID = h.Org
		} else if o, err = forward.AddOrg(ctx, db, sealer, l, o, webhook, audit.AdminCLI); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "added organisation %q: id %d, %s, %s\n", o.Name, o.ID, o.Kind, o.Country)
		if k == org.Host {
			fmt.Fprintf(e.Stdout, "register: %s\n", describeHost(h))
		}
		return nil
	})
}

// hostFlags are the flags of a host's register entry, shared by "org add"
// and "host set".
type hostFlags struct {
	fs                             *flag.FlagSet
	domains, ipRanges, noticeEmail string
}

func (f *hostFlags) define(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.domains, "domains", "", "a host's comma-separated domain `names`; each covers its subdomains")
	fs.StringVar(&f.ipRanges, "ip-ranges", "", "a host's comma-separated address `blocks` (CIDR) or addresses")
	fs.StringVar(&f.noticeEmail, "notice-email", "", "the e-mail `address` a host's notices go to")
}

// given reports whether flag name was given, even as "" (which clears).
func (f *hostFlags) given(name string) bool {
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

func (f *hostFlags) any() bool {
	return f.given("domains") || f.given("ip-ranges") || f.given("notice-email")
}

// apply returns h with what the flags given set.
func (f *hostFlags) apply(h takedown.Host) (takedown.Host, error) {
	var err error
	if f.given("domains") {
		if h.Domains, err = takedown.ParseDomains(f.domains); err != nil {
			return h, err
		}
	}
	if f.given("ip-ranges") {
		if h.IPRanges, err = takedown.ParseIPRanges(f.ipRanges); err != nil {
			return h, err
		}
	}
	if f.given("notice-email") {
		if h.NoticeEmail, err = takedown.CheckNoticeEmail(f.noticeEmail); err != nil {
			return h, err
		}
	}
	return h, nil
}

// describeHost is a host's register entry on one line.
func describeHost(h takedown.Host) string {
	return fmt.Sprintf("domains %s; IP ranges %s; notice e-mail %s", orNone(strings.Join(h.Domains, ",")), orNone(joinPrefixes(h.IPRanges)), orNone(h.NoticeEmail))
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// orNone is s, or "-" for nothing.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func adminHostSet(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin host set", Args: "NAME [--domains NAME,...] [--ip-ranges CIDR,...] [--notice-email ADDR]"}
	var kf *KeyFlags
	var hf hostFlags
	sf, rest, err := adminFlags(e, c, `Changes the register entry of host NAME (an organisation of kind host):
each flag given replaces that list, or the address, and "" clears it; what
is not given stays. A URL is the host's if its name is one of its --domains
or under one, else if an address it resolves to is in one of its
--ip-ranges; its notices are pushed to its webhook (see 'ward admin org
set-webhook') or e-mailed to its --notice-email. The change is recorded in
the audit trail.`,
		args, func(fs *flag.FlagSet) {
			hf.define(fs)
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give the host's NAME")
	}
	if !hf.any() {
		return badUsage(e, c, "give --domains, --ip-ranges or --notice-email")
	}
	// Checked before opening the database, as the flags of "org add".
	if _, err := hf.apply(takedown.Host{}); err != nil {
		return err
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		o, err := findOrg(ctx, org.NewService(db), rest[0])
		if err != nil {
			return err
		}
		if o.Kind != org.Host {
			return core.Errorf(core.ErrInvalid, "%q is a %s, not a host", o.Name, o.Kind)
		}
		h, err := db.HostByOrg(ctx, o.ID)
		if err != nil {
			return err
		}
		if h, err = hf.apply(h); err != nil {
			return err
		}
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		if h, err = takedown.ChangeHost(ctx, db, l, h, audit.AdminCLI); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "host %q: %s\n", h.Name, describeHost(h))
		return nil
	})
}

func adminHostList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin host list"}
	sf, rest, err := adminFlags(e, c, "Lists the hosts (organisations of kind host) and their register entries.", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		hosts, err := db.Hosts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCOUNTRY\tDOMAINS\tIP RANGES\tNOTICE E-MAIL\tWEBHOOK")
		for _, h := range hosts {
			hook := "no"
			if h.HasWebhook {
				hook = "yes"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Org, h.Name, h.Country,
				orNone(strings.Join(h.Domains, ",")), orNone(joinPrefixes(h.IPRanges)), orNone(h.NoticeEmail), hook)
		}
		return tw.Flush()
	})
}

func adminOrgList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin org list"}
	sf, rest, err := adminFlags(e, c, "Lists the organisations.", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		orgs, err := org.NewService(db).List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tCOUNTRY\tCREATED")
		for _, o := range orgs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.Kind, o.Country, o.CreatedAt.Format(time.DateTime))
		}
		return tw.Flush()
	})
}

func adminOrgSetWebhook(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin org set-webhook", Args: `[--allow-private-webhooks] NAME URL|""`}
	var kf *KeyFlags
	var allowPrivate bool
	sf, rest, err := adminFlags(e, c, `Sets the webhook of organisation NAME, or removes it with "". Reports
forwarded to an authority (lea, europol) are pushed to its webhook as signed
packages; a provider's webhook is told of each step of its reports; a host's
gets its notices. The URL must be https (http only to a loopback host); it
is sealed in the database (it may hold the receiver's secret) and only its
host is shown. Its host must not be a loopback, private, link-local or
otherwise non-public address (pushes are refused there when connecting,
too), except with --allow-private-webhooks, for tests and closed networks,
whose server runs with the same flag. Without a webhook, authorities pull
their reports, providers poll, and a host's notices go by e-mail or through
a hotline.`,
		args, func(fs *flag.FlagSet) {
			fs.BoolVar(&allowPrivate, "allow-private-webhooks", false, "accept a webhook on a loopback, private or link-local address (tests, closed networks)")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return badUsage(e, c, `give the organisation's NAME and the URL, or "" to remove the webhook`)
	}
	hook := rest[1]
	if hook != "" {
		if hook, err = forward.CheckWebhookURL(hook, allowPrivate); err != nil {
			return err
		}
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		o, err := findOrg(ctx, org.NewService(db), rest[0])
		if err != nil {
			return err
		}
		sealer, err := kf.Sealer(ctx, db)
		if err != nil {
			return err
		}
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		if err := forward.ChangeWebhook(ctx, db, sealer, l, o, hook, audit.AdminCLI); err != nil {
			return err
		}
		if hook == "" {
			fmt.Fprintf(e.Stdout, "removed the webhook of %q\n", o.Name)
		} else {
			// The host only: the rest may hold the receiver's secret.
			fmt.Fprintf(e.Stdout, "the webhook of %q is set, on host %s\n", o.Name, forward.WebhookHost(hook))
		}
		return nil
	})
}

func adminKeyCreate(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin key create", Args: "--org NAME [--scope ACTION,...] [--expires 90d|YYYY-MM-DD]"}
	var orgName, scopes, expires string
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Creates an API key for an organisation and prints it on standard output.
This is the only time the key is shown: Ward stores only its hash. The key
acts with the organisation's permissions, or only some of them with
--scope: send it as "Authorization: Bearer KEY". Revoke it with
'ward admin key revoke'.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&orgName, "org", "", "`name` of the organisation")
			fs.StringVar(&scopes, "scope", "", "comma-separated policy `actions` the key is limited to, such as match,lists.read (default: all its organisation's)")
			fs.StringVar(&expires, "expires", "", "when the key stops working: a `duration` in days (90d) or a date (2027-01-01, UTC) (default: never)")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "org", orgName); err != nil {
		return err
	}
	var opts org.KeyOptions
	if expires != "" {
		if opts.ExpiresAt, err = org.ParseExpiry(expires, time.Now()); err != nil {
			return badUsage(e, c, "--expires: %v", err)
		}
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		orgs := org.NewService(db)
		o, err := findOrg(ctx, orgs, orgName)
		if err != nil {
			return err
		}
		if scopes != "" {
			actions, err := policy.KeyScopes(o.Kind, strings.Split(scopes, ","))
			if err != nil {
				return err
			}
			for _, a := range actions {
				opts.Scopes = append(opts.Scopes, string(a))
			}
		}
		key, k, err := orgs.CreateKey(ctx, orgName, opts)
		if err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, o.ID, o.Name, "key.create", "key:"+k.ID); err != nil {
			return err
		}
		fmt.Fprintln(e.Stdout, key)
		fmt.Fprintf(e.Stderr, "Created API key %s for %q (%s). Store it now: it cannot be shown again.\n", k.ID, orgName, k.Describe())
		return nil
	})
}

func adminListAdd(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin list add", Args: "--name NAME [--kind match|suppress] [--min-attestations N] [--distinct-countries=BOOL] [--max-distance D] [--threshold N]"}
	l := indicator.List{Policy: indicator.DefaultPolicy, MaxDistance: indicator.DefaultMaxDistance}
	var (
		kind      string
		threshold optionalInt
		kf        *KeyFlags
	)
	sf, rest, err := adminFlags(e, c, `Adds an indicator list. An indicator of the list becomes active (distributed
and matched) once attested by --min-attestations organisations, from as many
different countries if --distinct-countries. --max-distance caps the PDQ
match distance a request may ask for on this list; --threshold is the
distance used when a request asks for none (31, or --max-distance if lower).

A list of --kind suppress holds known benign content that collides with other
lists' indicators, such as common stock images: its indicators are never
matches, and content that matches one of them, within its threshold whatever
a request asks for, has its matches of every other list removed (all of them
if it matched the content's SHA-256, all but SHA-256 matches if its MD5,
else its PDQ matches). Its
indicators are attested and activated like any other, under the same policy.
The kind cannot change later. Change the distances with 'ward admin list set'.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&l.Name, "name", "", "list `name`: a-z, 0-9, '.', '_', '-'")
			fs.StringVar(&kind, "kind", string(indicator.MatchList), "`kind` of list: match (known material) or suppress (known benign content)")
			fs.IntVar(&l.Policy.MinAttestations, "min-attestations", l.Policy.MinAttestations, "attesting organisations needed to activate an indicator")
			fs.BoolVar(&l.Policy.DistinctCountries, "distinct-countries", l.Policy.DistinctCountries, "require the attesting organisations to be from different countries")
			fs.IntVar(&l.MaxDistance, "max-distance", l.MaxDistance, "largest PDQ Hamming `distance` matched")
			fs.Var(&threshold, "threshold", "PDQ `distance` used when a request gives none (default 31, or --max-distance if lower)")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "name", l.Name); err != nil {
		return err
	}
	if l.Kind, err = indicator.ParseListKind(kind); err != nil {
		return badUsage(e, c, "--kind: %v", err)
	}
	l.Threshold = min(indicator.DefaultThreshold, l.MaxDistance)
	if threshold.n != nil {
		l.Threshold = *threshold.n
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l, err := indicator.NewService(db).CreateList(ctx, l)
		if err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, 0, "", "list.add", "list:"+l.Name); err != nil {
			return err
		}
		countries := ""
		if l.Policy.DistinctCountries {
			countries = " from different countries"
		}
		fmt.Fprintf(e.Stdout, "added %s list %q: indicators become active with %d attestations%s; %s\n",
			l.Kind, l.Name, l.Policy.MinAttestations, countries, describeDistances(l))
		return nil
	})
}

// describeDistances says what a list's PDQ distances do.
func describeDistances(l indicator.List) string {
	if l.Kind == indicator.SuppressList {
		return fmt.Sprintf("suppresses matches of content within PDQ distance %d (maximum %d)", l.Threshold, l.MaxDistance)
	}
	return fmt.Sprintf("PDQ matches up to distance %d by default, %d at most", l.Threshold, l.MaxDistance)
}

func adminListSet(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin list set", Args: "NAME [--threshold N] [--max-distance D]"}
	var (
		threshold, maxDistance optionalInt
		kf                     *KeyFlags
	)
	sf, rest, err := adminFlags(e, c, `Changes the PDQ distances of list NAME: --threshold, the distance used when a
request gives none (and always for a suppress list), and --max-distance, the
largest a request may ask for. What is not given stays; the threshold may not
exceed the maximum distance. Servers apply the change within a second (at
their next poll of the lists), providers' mirrors at their next 'ward sync'.
The change is recorded in the audit trail.`,
		args, func(fs *flag.FlagSet) {
			fs.Var(&threshold, "threshold", "PDQ `distance` used when a request gives none")
			fs.Var(&maxDistance, "max-distance", "largest PDQ Hamming `distance` matched")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give the list's NAME")
	}
	if threshold.n == nil && maxDistance.n == nil {
		return badUsage(e, c, "give --threshold or --max-distance")
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l, err := indicator.NewService(db).SetList(ctx, rest[0], indicator.ListChange{MaxDistance: maxDistance.n, Threshold: threshold.n})
		if errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("no list named %q; create it with 'ward admin list add --name %q'", rest[0], rest[0])
		}
		if err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, 0, "", "list.set", fmt.Sprintf("list:%s (threshold %d, max distance %d)", l.Name, l.Threshold, l.MaxDistance)); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s list %q: %s\n", l.Kind, l.Name, describeDistances(l))
		return nil
	})
}

func adminIndicatorImport(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin indicator import", Args: "--list LIST --org NAME [--skip-invalid] FILE|-"}
	var (
		list, orgName string
		skipInvalid   bool
		kf            *KeyFlags
	)
	sf, rest, err := adminFlags(e, c, `Imports indicators from FILE (or standard input, "-") as attested by the
organisation: one per line, as CSV or TSV with the columns type (pdq, md5,
sha256), value (hex), category (A1, A2, B1, B2, baseline, national) and an
optional reference (the organisation's own, up to 200 characters). A header
line naming the columns, in any order, is optional; blank lines and lines
starting with # are skipped.

The whole file is checked first: if a line is invalid, nothing is imported
unless --skip-invalid. A file without a valid row is an error. Importing is idempotent: a value the organisation
already attested is left as it is, and an interrupted import completes when
run again. An indicator becomes active once the list's policy is met, for
example when two organisations of different countries import it.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&list, "list", indicator.Known, "`name` of the list")
			fs.StringVar(&orgName, "org", "", "`name` of the attesting organisation")
			fs.BoolVar(&skipInvalid, "skip-invalid", false, "import the valid lines of a file with invalid ones")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one FILE, or - for standard input")
	}
	if err := requireFlags(e, c, "list", list, "org", orgName); err != nil {
		return err
	}
	in, err := indicator.OpenImportFile(rest[0], e.Stdin, !skipInvalid)
	if err != nil {
		return err
	}
	defer in.Close()

	return withStore(ctx, sf, func(db *store.DB) error {
		o, err := findOrg(ctx, org.NewService(db), orgName)
		if err != nil {
			return err
		}
		svc := indicator.NewService(db)
		if _, err := svc.List(ctx, list); errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("no list named %q; create it with 'ward admin list add --name %q'", list, list)
		} else if err != nil {
			return err
		}
		if err := policy.Require(policy.ForPrincipal(o.Principal()), policy.IndicatorsSubmit); err != nil {
			return fmt.Errorf("%q is a %s: %w", o.Name, o.Kind, err)
		}
		source := in.Source()
		if !skipInvalid {
			n, err := indicator.CheckImport(in)
			if err != nil {
				return fmt.Errorf("%w\nnothing was imported; correct the file, or import its valid lines with --skip-invalid", err)
			}
			if n == 0 {
				return noRows(source)
			}
			if err := in.Rewind(); err != nil {
				return err
			}
		}
		start := time.Now()
		opts := indicator.ImportOptions{SkipInvalid: skipInvalid}
		if e.StderrIsTerminal {
			opts.Progress = func(rows int) {
				fmt.Fprintf(e.Stderr, "\r%d rows, %.0f rows/s\x1b[K", rows, float64(rows)/time.Since(start).Seconds())
			}
		}
		st, err := svc.Import(ctx, list, o.Principal(), indicator.ParseImport(in), opts)
		if e.StderrIsTerminal {
			fmt.Fprint(e.Stderr, "\r\x1b[K")
		}
		for _, re := range st.InvalidRows {
			fmt.Fprintf(e.Stderr, "skipped %v\n", re)
		}
		if more := st.Invalid - len(st.InvalidRows); more > 0 {
			fmt.Fprintf(e.Stderr, "skipped %d more invalid rows\n", more)
		}
		if err != nil {
			return fmt.Errorf("import stopped at row %d: %w\nthe batches committed before stay; running the same import again completes it", st.Rows, err)
		}
		if st.Rows == st.Invalid {
			if st.Rows == 0 {
				return noRows(source)
			}
			return fmt.Errorf("none of the %d rows of %s is valid: nothing was imported", st.Rows, source)
		}
		if err := adminRecord(ctx, kf, db, o.ID, o.Name, "indicator.import", fmt.Sprintf("list:%s (%d rows)", list, st.Rows)); err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(e.Stdout, "imported %d rows into %q as %q in %.1fs (%.0f rows/s): %d new indicators, %d attested existing ones, %d activated, %d already attested, %d invalid\n",
			st.Rows, list, o.Name, secs, float64(st.Rows)/secs, st.Created, st.Attested, st.Activated, st.Unchanged, st.Invalid)
		return nil
	})
}

// noRows is the error of an import without a single row, which is a
// mistake (an empty file, a pipeline that hashed nothing) rather than
// nothing to do.
func noRows(source string) error {
	return fmt.Errorf("%s has no indicator rows (it is empty, or holds only a header, blank lines and comments): nothing was imported", source)
}
