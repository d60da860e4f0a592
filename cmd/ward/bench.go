package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// benchmarks are the "ward bench" subcommands; each prints its results.
var benchmarks = map[string]struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}{
	"hash":   {"hash every image in a directory; images/s and ms per image for decode and hash", benchHash},
	"match":  {"build a Hamming index of N synthetic hashes and measure query latency, throughput and recall", benchMatch},
	"http":   {"measure POST /v1/match through real HTTP against a list of N synthetic indicators", benchHTTP},
	"intake": {"submit N reports through real HTTP to a fresh server; reports/s and latency, hash-only and with a file", benchIntake},
}

var benchCommand = &command{
	name:    "bench",
	args:    "<benchmark> [flags]",
	summary: "measure performance (hash, match, http, intake)",
	run: func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprintf(e.stdout, "usage: ward bench <benchmark> [flags]\n\nbenchmarks:\n")
			for _, n := range benchNames() {
				fmt.Fprintf(e.stdout, "  %-6s %s\n", n, benchmarks[n].summary)
			}
			fmt.Fprintf(e.stdout, "\nRun 'ward bench <benchmark> --help' for its flags.\n")
			if len(args) == 0 {
				return errUsageShown
			}
			return nil
		}
		b, ok := benchmarks[args[0]]
		if !ok {
			return fmt.Errorf("%w: unknown benchmark %q (have %s)", errUsage, args[0], strings.Join(benchNames(), ", "))
		}
		return b.run(ctx, e, args[1:])
	},
}

func benchNames() []string {
	var names []string
	for n := range benchmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
