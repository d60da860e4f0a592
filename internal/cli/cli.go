// Package cli is the ward command line: its subcommands, their flags and
// their output. It is the third edge of the system, beside the JSON API
// (internal/httpapi) and the console (internal/web): each command parses
// its flags, calls the client or the domain packages, and prints. The
// server's wiring ("ward serve") stays in cmd/ward, which hands it to Main.
package cli

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

	"github.com/wardhq/ward/internal/bench"
)

// A Command is one subcommand. Run receives the arguments after the
// command's name; it returns ErrUsage (or a wrapped one) for bad arguments
// so that the usage is printed and the exit status is 2.
type Command struct {
	Name    string
	Args    string // argument synopsis shown in help
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a command may touch of the outside world, so tests can run
// commands in-process with their own streams.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// StderrIsTerminal enables progress lines.
	StderrIsTerminal bool
}

// Defaults of "ward serve" that other commands share.
const (
	// DefaultAddr is the address the server listens on by default, which
	// links point to without --base-url.
	DefaultAddr = "127.0.0.1:8080"
	// DefaultWorkers is how many jobs a node runs at once. Jobs mostly
	// wait for commits and webhooks, so more than the cores: at 4, triage
	// kept up with a third of the intake rate on two cores; at 16, with a
	// half to two thirds (ward bench intake).
	DefaultWorkers = 16
)

// ErrUsage is the error of bad arguments: wrapped with a message, the
// message is printed before the usage.
var ErrUsage = errors.New("usage")

// errUsageShown is a usage error the flag package has already described.
var errUsageShown = errors.New("usage shown")

// errSilent reports failure through the exit status only; the command has
// already said what went wrong on its output streams.
var errSilent = errors.New("failed")

// Server is what the command line needs of the server, which cmd/ward
// wires and this package cannot import: the "ward serve" command, and a
// way to start that server in this process for "ward bench intake".
type Server struct {
	Serve *Command
	Start bench.StartServer
}

func (s Server) commands() []*Command {
	return []*Command{
		s.Serve,
		hashCommand,
		matchCommand,
		syncCommand,
		scanCommand,
		witnessCommand,
		reportCommand,
		leaCommand,
		adminCommand,
		demoHostCommand,
		benchCommand(s.Start),
	}
}

// Main runs the command line of the process, until a signal for a server,
// and exits with its status.
func Main(s Server) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, StderrIsTerminal: isTerminal(os.Stderr)}
	code := s.Run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// Run executes one command line and returns the process exit status; tests
// run commands in process with it.
func (s Server) Run(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c := s.lookup(args[1]); c != nil {
				return s.Run(ctx, e, []string{c.Name, "--help"})
			}
		}
		s.printHelp(e.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := s.lookup(args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "ward: unknown command %q\n\n", args[0])
		s.printHelp(e.Stderr)
		return 2
	}
	err := c.Run(ctx, e, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case errors.Is(err, ErrUsage):
		if msg := err.Error(); msg != ErrUsage.Error() {
			fmt.Fprintf(e.Stderr, "ward %s: %s\n", c.Name, msg)
		}
		fmt.Fprintf(e.Stderr, "usage: ward %s %s\nrun 'ward %s --help' for details\n", c.Name, c.Args, c.Name)
		return 2
	case errors.Is(err, errSilent):
		return 1
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(e.Stderr, "ward %s: %v\n%s\n", c.Name, err, refusedHint(err))
		return 1
	default:
		fmt.Fprintf(e.Stderr, "ward %s: %v\n", c.Name, err)
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

func (s Server) lookup(name string) *Command {
	for _, c := range s.commands() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (s Server) printHelp(w io.Writer) {
	fmt.Fprint(w, `ward: the platform of a centre to prevent and counter child sexual abuse online.

usage: ward <command> [flags] [arguments]

commands:
`)
	width := 0
	for _, c := range s.commands() {
		width = max(width, len(c.Name))
	}
	for _, c := range s.commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprint(w, "\nRun 'ward <command> --help' for a command's flags.\n")
}

// NewFlagSet makes a FlagSet whose usage text names the command and which
// reports errors to the command's stderr rather than exiting.
func NewFlagSet(e *Env, c *Command, long string) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+c.Name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)

	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ward %s %s\n\n%s\n", c.Name, c.Args, long)
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

// ParseFlags parses args, letting flags and positional arguments mix
// ("ward hash dir --workers 2"), which the standard flag package stops at.
func ParseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
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

// EnvOr is the environment variable name, or def if it is unset or empty.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
