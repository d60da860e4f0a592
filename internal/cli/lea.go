package cli

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
)

var leaCommand = &Command{
	Name:    "lea",
	Args:    "<inbox|key|get|ack|feedback> [flags] [ID]",
	Summary: "for authorities: fetch, acknowledge and answer forwarded reports",
	Run:     runLEA,
}

// leaSubcommands are the subcommands of "ward lea".
var leaSubcommands = []struct {
	name, args, summary, help string
	run                       func(ctx context.Context, e *Env, c *Command, help string, args []string) error
}{
	{"inbox", "[--status new|acknowledged|all]", "list the reports routed to your authority",
		`Lists the reports the centre forwarded to your authority, oldest first: by
default those not acknowledged yet. URGENT marks those the provider flagged as
needing urgent action.`, leaInbox},
	{"get", "[--out DIR] [--signing-key FILE] ID", "download a report, check its signature, and write it and its files",
		`Downloads report ID, checks the centre's signature with the key in
--signing-key (kept from 'ward lea key'; else, with a warning, the key the
server gives), checks that the package is report ID's, and writes into DIR (default: ./ID, created,
readable by you only) report.json, the package exactly as signed; report.sig,
its signature; and each file of the report as file-INDEX-SHA256, downloaded
on its own and checked against the size and SHA-256 that the signed package
gives (a file that differs is refused, and never left under that name).
Every download is recorded in the centre's audit trail. It does not acknowledge the
report: run 'ward lea ack ID' once it is safely in your systems.`, leaGet},
	{"key", "", "print the centre's signing key (PEM), to keep and check packages with",
		`Prints the Ed25519 public key that signs report packages and pushes, as PEM.
Fetch it once, check it with the centre through another channel, and keep
it: 'ward lea get --signing-key FILE' then trusts no key the server sends.`, leaKey},
	{"ack", "ID", "acknowledge receipt of a report",
		`Acknowledges that your authority received report ID. Repeating it is harmless.`, leaAck},
	{"feedback", "--outcome OUTCOME [--note TEXT] [--non-disclosure-until DATE] ID", "give feedback on a report",
		`Tells the centre what your authority made of report ID. OUTCOME is received,
investigating, no_action, victim_identified or offender_identified. With
--non-disclosure-until, the provider is told not to inform the reported user
until then: days ahead (180d), a date (2027-01-31, UTC) or an RFC 3339 time,
at most 18 months ahead.`, leaFeedback},
}

func runLEA(ctx context.Context, e *Env, args []string) error {
	subs := make([]subcommand, len(leaSubcommands))
	for i, sub := range leaSubcommands {
		c := &Command{Name: "lea " + sub.name, Args: "--server URL --key KEY " + sub.args}
		help := sub.help + "\n--server and --key default to WARD_SERVER and WARD_KEY."
		subs[i] = subcommand{sub.name, sub.summary, func(ctx context.Context, e *Env, args []string) error {
			return sub.run(ctx, e, c, help, args)
		}}
	}
	return dispatch(ctx, e, "lea", "For law-enforcement authorities and Europol, with an API key of theirs.", subs, args)
}

// leaArgs parses a subcommand's flags (the remote ones, and those define
// adds) and wants arguments named want ("" for none, or "a report ID"),
// and returns the client and the argument.
func leaArgs(e *Env, c *Command, help string, args []string, want string, define func(fs *flag.FlagSet)) (*client.Client, string, error) {
	fs := NewFlagSet(e, c, help)
	rf := addRemoteFlags(fs)
	define(fs)
	rest, err := ParseFlags(fs, args)
	if err != nil {
		return nil, "", err
	}
	var arg string
	switch {
	case want == "" && len(rest) > 0:
		return nil, "", badUsage(e, c, "unexpected argument %q", rest[0])
	case want != "" && len(rest) != 1:
		return nil, "", badUsage(e, c, "give %s", want)
	case want != "":
		arg = rest[0]
	}
	cl, err := rf.client()
	return cl, arg, err
}

// leaID parses a subcommand's flags and its one argument, a report ID.
func leaID(e *Env, c *Command, help string, args []string, define func(fs *flag.FlagSet)) (*client.Client, string, error) {
	return leaArgs(e, c, help, args, "one report ID", define)
}

func leaInbox(ctx context.Context, e *Env, c *Command, help string, args []string) error {
	var status *string
	cl, _, err := leaArgs(e, c, help, args, "", func(fs *flag.FlagSet) {
		status = fs.String("status", "new", "which reports: new (not acknowledged), acknowledged or all")
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tDELIVERED\tTYPE\tURGENT\tACKNOWLEDGED")
	opts := client.InboxOptions{Status: *status}
	for {
		page, err := cl.LEAInbox(ctx, opts)
		if err != nil {
			return err
		}
		for _, r := range page.Reports {
			urgent, acked := "", ""
			if r.Urgent {
				urgent = "URGENT"
			}
			if !r.AcknowledgedAt.IsZero() {
				acked = r.AcknowledgedAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ReportID, r.DeliveredAt.UTC().Format(time.DateTime), r.Type, urgent, acked)
		}
		if page.Next == "" {
			return tw.Flush()
		}
		opts.After = page.Next
	}
}

func leaGet(ctx context.Context, e *Env, c *Command, help string, args []string) error {
	var out, keyFile *string
	cl, id, err := leaID(e, c, help, args, func(fs *flag.FlagSet) {
		out = fs.String("out", "", "`directory` to write the report into (default ./ID)")
		keyFile = fs.String("signing-key", os.Getenv("WARD_SIGNING_KEY"), "`file` with the centre's signing key (PEM), kept from 'ward lea key' ($WARD_SIGNING_KEY)")
	})
	if err != nil {
		return err
	}
	pub, err := signingKey(ctx, e, cl, *keyFile)
	if err != nil {
		return err
	}
	p, dir, err := cl.DownloadReport(ctx, id, *out, pub)
	if err != nil {
		return err
	}
	urgent := ""
	if p.Urgent {
		urgent = " URGENT"
	}
	fmt.Fprintf(e.Stdout, "report %s (%s%s) from %s (%s): signature verified; written to %s with %s\n",
		p.ReportID, p.Type, urgent, p.Provider.Name, p.Provider.Country, dir, plural(len(p.Files), "file"))
	return nil
}

// SigningKey returns the centre's public key: from file, where the
// authority keeps the key it obtained once and checked; without one, from
// the server itself, which proves the package's integrity in transit but
// not the server's honesty, as the warning says.
func signingKey(ctx context.Context, e *Env, cl *client.Client, file string) (ed25519.PublicKey, error) {
	if file == "" {
		fmt.Fprintf(e.Stderr, "ward lea: checking the signature with the key the server gives; keep the key once ('ward lea key > centre.pem') and pass --signing-key centre.pem\n")
		k, err := cl.SigningKey(ctx)
		if err != nil {
			return nil, err
		}
		return k.PublicKey, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pub, err := client.ParseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return pub, nil
}

func leaKey(ctx context.Context, e *Env, c *Command, help string, args []string) error {
	cl, _, err := leaArgs(e, c, help, args, "", func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	k, err := cl.SigningKey(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(e.Stdout, k.PEM)
	return err
}

func leaAck(ctx context.Context, e *Env, c *Command, help string, args []string) error {
	cl, id, err := leaID(e, c, help, args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	r, err := cl.AckReport(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "report %s acknowledged at %s\n", r.ReportID, r.AcknowledgedAt.UTC().Format(time.RFC3339))
	return nil
}

func leaFeedback(ctx context.Context, e *Env, c *Command, help string, args []string) error {
	var outcome, note, until *string
	cl, id, err := leaID(e, c, help, args, func(fs *flag.FlagSet) {
		outcome = fs.String("outcome", "", "received, investigating, no_action, victim_identified or offender_identified")
		note = fs.String("note", "", "a note for the centre")
		until = fs.String("non-disclosure-until", "", "do not let the reported user be told until this `date` (180d, 2027-01-31 or RFC 3339)")
	})
	if err != nil {
		return err
	}
	if err := requireFlags(e, c, "outcome", *outcome); err != nil {
		return err
	}
	req := client.FeedbackRequest{Outcome: strings.TrimSpace(*outcome), Note: *note}
	if *until != "" {
		if req.NonDisclosureUntil, err = org.ParseExpiry(*until, time.Now()); err != nil {
			return badUsage(e, c, "--non-disclosure-until: %v", err)
		}
	}
	f, err := cl.SendFeedback(ctx, id, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "feedback %d on report %s recorded: %s", f.ID, f.ReportID, f.Outcome)
	if !f.NonDisclosureUntil.IsZero() {
		fmt.Fprintf(e.Stdout, "; the reported user is not to be told before %s", f.NonDisclosureUntil.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(e.Stdout)
	return nil
}

// plural counts things in English: "1 file", "2 files".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
