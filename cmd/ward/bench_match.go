package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/matching/hashindex"
)

const benchMatchHelp = `Builds a Hamming index of N synthetic 256-bit hashes and prints one JSON
line: build time, memory (heap growth over the build), query latency p50 and
p99 one query at a time, queries/s on --workers goroutines, and recall
against a brute-force scan, with that scan's median latency.
Queries are half stored hashes with 8 to 20 bits flipped, half fresh hashes.
--data uniform: random bits; clustered: families of near-duplicates;
skewed: half the hashes share long runs of bits from a few templates.`

func benchMatch(ctx context.Context, e *env, args []string) error {
	c := &command{name: "bench match", args: "[--n N] [--threshold T] [--queries Q] [--data KIND] [--seed S] [--workers W]"}
	fs := newFlagSet(e, c, benchMatchHelp)
	n := fs.Int("n", 1000000, "hashes in the index")
	threshold := fs.Int("threshold", 31, "match distance")
	queries := fs.Int("queries", 10000, "queries to time")
	data := fs.String("data", hashindex.Uniform, "synthetic set: "+strings.Join(hashindex.DataKinds, ", "))
	seed := fs.Int64("seed", 1, "random seed")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines searching at once for queries/s")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	case *n < 1 || *queries < 2 || *workers < 1:
		return fmt.Errorf("%w: --n and --workers must be at least 1, --queries at least 2", errUsage)
	case *threshold < 0 || *threshold > 256:
		return fmt.Errorf("%w: --threshold must be 0..256", errUsage)
	case !slices.Contains(hashindex.DataKinds, *data):
		return fmt.Errorf("%w: --data must be one of %s", errUsage, strings.Join(hashindex.DataKinds, ", "))
	}
	cfg := hashindex.BenchConfig{N: *n, Queries: *queries, Threshold: *threshold, Data: *data, Seed: *seed, Workers: *workers}
	r, err := hashindex.RunBench(ctx, cfg, e.stderr)
	if err != nil {
		return err
	}
	return json.NewEncoder(e.stdout).Encode(r)
}
