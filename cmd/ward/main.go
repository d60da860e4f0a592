// Command ward is the single binary of the Ward platform: hashing, matching,
// the server and its administration. Run "ward help" for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

// A command is one subcommand. Run receives the arguments after the
// command's name; it returns errUsage (or a wrapped one) for bad arguments
// so that main prints the usage and exits with status 2.
type command struct {
	name    string
	args    string // argument synopsis shown in help
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch of the outside world, so tests can run
// commands in-process with their own streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// stderrIsTerminal enables progress lines.
	stderrIsTerminal bool
}

var errUsage = errors.New("usage")

// errUsageShown is a usage error the flag package has already described.
var errUsageShown = errors.New("usage shown")

// errSilent reports failure through the exit status only; the command has
// already said what went wrong on its output streams.
var errSilent = errors.New("failed")

func commands() []*command {
	return []*command{
		serveCommand,
		hashCommand,
		matchCommand,
		syncCommand,
		scanCommand,
		reportCommand,
		leaCommand,
		adminCommand,
		benchCommand,
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrIsTerminal: isTerminal(os.Stderr)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return run(ctx, e, []string{c.name, "--help"})
			}
		}
		printHelp(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "ward: unknown command %q\n\n", args[0])
		printHelp(e.stderr)
		return 2
	}
	err := c.run(ctx, e, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case errors.Is(err, errUsage):
		if msg := err.Error(); msg != errUsage.Error() {
			fmt.Fprintf(e.stderr, "ward %s: %s\n", c.name, msg)
		}
		fmt.Fprintf(e.stderr, "usage: ward %s %s\nrun 'ward %s --help' for details\n", c.name, c.args, c.name)
		return 2
	case errors.Is(err, errSilent):
		return 1
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(e.stderr, "ward %s: %v\n%s\n", c.name, err, refusedHint(err))
		return 1
	default:
		fmt.Fprintf(e.stderr, "ward %s: %v\n", c.name, err)
		return 1
	}
}

// refusedHint says what to check when a server refused the connection.
func refusedHint(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			base := u.Scheme + "://" + u.Host
			return fmt.Sprintf("is `ward serve` running at %s? (the server is --server or WARD_SERVER)", base)
		}
	}
	return "is `ward serve` running at the server's address? (--server or WARD_SERVER)"
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `ward: the platform of a centre to prevent and counter child sexual abuse online.

usage: ward <command> [flags] [arguments]

commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'ward <command> --help' for a command's flags.\n")
}

// newFlagSet makes a FlagSet whose usage text names the command and which
// reports errors to the command's stderr rather than exiting.
func newFlagSet(e *env, c *command, long string) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)

	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ward %s %s\n\n%s\n", c.name, c.args, long)
		if hasFlags(fs) {
			fmt.Fprintf(fs.Output(), "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args, letting flags and positional arguments mix
// ("ward hash dir --workers 2"), which the standard flag package stops at.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp // usage already printed
			}
			return nil, errUsageShown
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}
