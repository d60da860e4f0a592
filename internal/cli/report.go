package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/filehash"
)

// reportSubcommands are the subcommands of "ward report".
var reportSubcommands = []subcommand{
	{"submit", "submit a report, with its files, and print its status", reportSubmit},
	{"status", "print a report's status", reportStatus},
	{"retract", "retract a draft report", reportRetract},
	{"answer", "answer the centre's request for more information about a report", reportAnswer},
}

var reportCommand = &Command{
	Name:    "report",
	Args:    "<submit|status|retract|answer> [flags]",
	Summary: "submit reports to a server and follow them (providers)",
	Run:     runReport,
}

func runReport(ctx context.Context, e *Env, args []string) error {
	return dispatch(ctx, e, "report", `Sends reports of potential child sexual abuse to a Ward server and follows
them, as an online service provider, with the provider's API key.`, reportSubcommands, args)
}

// reportFlags parses a subcommand's flags, with the remote flags and
// --json, and returns its positional arguments.
func reportFlags(e *Env, c *Command, long string, args []string, define func(fs *flag.FlagSet)) (remoteFlags, *bool, []string, error) {
	fs := NewFlagSet(e, c, long)
	rf := addRemoteFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	define(fs)
	rest, err := ParseFlags(fs, args)
	return rf, asJSON, rest, err
}

// fileFlag collects a repeated --file.
type fileFlag []string

func (f *fileFlag) String() string     { return strings.Join(*f, ",") }
func (f *fileFlag) Set(v string) error { *f = append(*f, v); return nil }

func reportSubmit(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "report submit", Args: "REPORT.json [--file FILE]... [--idempotency-key KEY] [--json] [--server URL --key KEY]"}
	var files fileFlag
	var key string
	rf, asJSON, rest, err := reportFlags(e, c, `Submits a report (its JSON as the API's ReportDraft schema describes it; -
for standard input) and prints its id and status. The files given with
--file are the contents of the report's items of kind "file", in order:
there must be as many. They are uploaded, and the report finished, once
all are in; a report without items of kind file is sent in one request.

Running the same command again does not make a second report: the
idempotency key defaults to a hash of the report and its files, so a
submission cut short is completed and a finished one is only shown.
--server and --key default to WARD_SERVER and WARD_KEY.`,
		args, func(fs *flag.FlagSet) {
			fs.Var(&files, "file", "`file` of the next item of kind file (repeatable)")
			fs.StringVar(&key, "idempotency-key", "", "the report's idempotency `key` (default: derived from the report and its files)")
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one REPORT.json")
	}
	var body []byte
	if rest[0] == filehash.Stdin {
		body, err = io.ReadAll(e.Stdin)
	} else {
		body, err = os.ReadFile(rest[0])
	}
	if err != nil {
		return err
	}
	items, err := client.FileItems(body)
	if err != nil {
		return fmt.Errorf("%s is not a report in JSON: %v", rest[0], err)
	}
	if len(files) != len(items) {
		return badUsage(e, c, "the report has %d items of kind file and %d --file were given", len(items), len(files))
	}
	uploads := make([]client.Upload, len(files))
	for i, f := range files {
		uploads[i].Name = f
		if uploads[i].Content, err = os.ReadFile(f); err != nil {
			return err
		}
	}
	cl, err := rf.client()
	if err != nil {
		return err
	}
	st, err := cl.SubmitReport(ctx, body, uploads, key)
	if err != nil {
		return err
	}
	return printReportStatus(e.Stdout, st, *asJSON)
}

func reportStatus(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "report status", Args: "ID [--json] [--server URL --key KEY]"}
	return reportCall(ctx, e, c, `Prints a report's status: its state, files and history, what the centre
asked or decided, and until when the reported user must not be informed.`, args, nil,
		func(cl *client.Client, id string) (*client.ReportStatus, error) { return cl.ReportStatus(ctx, id) })
}

func reportRetract(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "report retract", Args: "ID [--json] [--server URL --key KEY]"}
	return reportCall(ctx, e, c, `Retracts a draft report: the centre will not handle it. A finished report
cannot be retracted.`, args, nil,
		func(cl *client.Client, id string) (*client.ReportStatus, error) { return cl.RetractReport(ctx, id) })
}

func reportAnswer(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "report answer", Args: "ID --message TEXT [--json] [--server URL --key KEY]"}
	var message string
	define := func(fs *flag.FlagSet) {
		fs.StringVar(&message, "message", "", "the answer, at most 8 KiB of `text`")
	}
	return reportCall(ctx, e, c, `Answers the centre's request for more information about a report (state
info_requested; 'ward report status' shows the request). The report goes
back to the centre's assessment queue.`, args, define,
		func(cl *client.Client, id string) (*client.ReportStatus, error) {
			if message == "" {
				return nil, badUsage(e, c, "--message is required")
			}
			return cl.AnswerReportInfo(ctx, id, message)
		})
}

// reportCall runs a subcommand that takes a report's ID, calls the server
// and prints the report's status.
func reportCall(ctx context.Context, e *Env, c *Command, long string, args []string, define func(*flag.FlagSet),
	call func(cl *client.Client, id string) (*client.ReportStatus, error)) error {
	if define == nil {
		define = func(*flag.FlagSet) {}
	}
	rf, asJSON, rest, err := reportFlags(e, c, long, args, define)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one report ID")
	}
	cl, err := rf.client()
	if err != nil {
		return err
	}
	st, err := call(cl, rest[0])
	if err != nil {
		return err
	}
	return printReportStatus(e.Stdout, st, *asJSON)
}

// printReportStatus prints a report's status as JSON, or for people.
func printReportStatus(w io.Writer, st *client.ReportStatus, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(st)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(label, format string, a ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{label}, a...)...)
	}
	when := func(t time.Time) string { return t.Local().Format(time.DateTime + " MST") }
	line("report", "%s", st.ID)
	line("state", "%s", st.State)
	line("created", "%s", when(st.CreatedAt))
	if !st.FinishedAt.IsZero() {
		line("finished", "%s", when(st.FinishedAt))
	}
	if !st.RetractedAt.IsZero() {
		line("retracted", "%s", when(st.RetractedAt))
	}
	for _, f := range st.Files {
		pdq := "no PDQ (not an image)"
		if f.PDQ != "" {
			pdq = fmt.Sprintf("pdq %s (quality %d)", f.PDQ, f.Quality)
		}
		line(fmt.Sprintf("file %d", f.Index), "%d bytes, sha256 %s, md5 %s, %s", f.Size, f.SHA256, f.MD5, pdq)
	}
	if st.InformationRequested != "" {
		line("information requested", "%s", st.InformationRequested)
	}
	if st.UnfoundedReasons != "" {
		line("unfounded because", "%s", st.UnfoundedReasons)
	}
	if !st.ForwardedAt.IsZero() {
		line("forwarded", "%s to %s", when(st.ForwardedAt), strings.Join(st.ForwardedTo, ", "))
	}
	if !st.DoNotInformUserUntil.IsZero() {
		line("do not inform the user until", "%s", when(st.DoNotInformUserUntil))
	}
	for i, ev := range st.History {
		label := ""
		if i == 0 {
			label = "history"
		}
		line(label, "%s  %s", when(ev.At), ev.Kind)
	}
	return tw.Flush()
}
