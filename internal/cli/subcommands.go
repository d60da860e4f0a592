package cli

import (
	"context"
	"fmt"
	"strings"
)

// subcommand is one subcommand of a command with several ("ward admin org
// add"); its name may have several words.
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, e *Env, args []string) error
}

// dispatch runs the subcommand of "ward parent" that args start with, or
// prints the usage, with intro describing the command: on standard output
// for --help, else on standard error as a usage error.
func dispatch(ctx context.Context, e *Env, parent, intro string, subs []subcommand, args []string) error {
	for _, sub := range subs {
		words := strings.Count(sub.name, " ") + 1
		if len(args) >= words && sub.name == strings.Join(args[:words], " ") {
			return sub.run(ctx, e, args[words:])
		}
	}
	// A group's first word alone ("ward admin org"), or with a word that
	// is none of its subcommands, gets the usage of that group.
	if len(args) > 0 {
		var group []subcommand
		for _, sub := range subs {
			if rest, ok := strings.CutPrefix(sub.name, args[0]+" "); ok {
				group = append(group, subcommand{rest, sub.summary, sub.run})
			}
		}
		if group != nil {
			return dispatch(ctx, e, parent+" "+args[0], fmt.Sprintf("The %s subcommands of 'ward %s'.", args[0], parent), group, args[1:])
		}
	}
	isHelp := func(a string) bool { return a == "-h" || a == "--help" || a == "-help" }
	help := len(args) == 1 && isHelp(args[0])
	w := e.Stderr
	if help {
		w = e.Stdout
	} else if len(args) > 0 {
		fmt.Fprintf(w, "ward %s: unknown subcommand %q\n\n", parent, strings.Join(args[:min(2, len(args))], " "))
	} else {
		fmt.Fprintf(w, "ward %s: which subcommand?\n\n", parent)
	}
	fmt.Fprintf(w, "usage: ward %s <subcommand> [flags]\n\n%s\n\nsubcommands:\n", parent, intro)
	width := 0
	for _, sub := range subs {
		width = max(width, len(sub.name))
	}
	for _, sub := range subs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, sub.name, sub.summary)
	}
	fmt.Fprintf(w, "\nRun 'ward %s <subcommand> --help' for its flags.\n", parent)
	if help {
		return nil
	}
	return errUsageShown
}
