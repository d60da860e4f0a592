package cli

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/bench"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/matching/hashindex"
)

// benchmark is a "ward bench" subcommand: it parses its flags and runs its
// benchmark of internal/bench.
type benchmark struct {
	summary string
	run     func(ctx context.Context, e *Env, args []string) error
}

// benchmarks are the "ward bench" subcommands; intake starts servers with
// start.
func benchmarks(start bench.StartServer) map[string]benchmark {
	return map[string]benchmark{
		"hash":  {"hash every image in a directory; images/s and ms per image for decode and hash", benchHash},
		"match": {"build a Hamming index of N synthetic hashes and measure query latency, throughput and recall", benchMatch},
		"http":  {"measure POST /v1/match through real HTTP against a list of N synthetic indicators", benchHTTP},
		"intake": {"submit N reports through real HTTP to a fresh server; reports/s and latency, hash-only and with a file",
			func(ctx context.Context, e *Env, args []string) error { return benchIntake(ctx, e, start, args) }},
	}
}

// benchCommand is "ward bench", whose intake starts servers with start.
func benchCommand(start bench.StartServer) *Command {
	benchmarks := benchmarks(start)
	return &Command{
		Name:    "bench",
		Args:    "<benchmark> [flags]",
		Summary: "measure performance (hash, match, http, intake)",
		Run: func(ctx context.Context, e *Env, args []string) error {
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
				fmt.Fprintf(e.Stdout, "usage: ward bench <benchmark> [flags]\n\nbenchmarks:\n")
				for _, n := range benchNames(benchmarks) {
					fmt.Fprintf(e.Stdout, "  %-6s %s\n", n, benchmarks[n].summary)
				}
				fmt.Fprintf(e.Stdout, "\nRun 'ward bench <benchmark> --help' for its flags.\n")
				if len(args) == 0 {
					return errUsageShown
				}
				return nil
			}
			b, ok := benchmarks[args[0]]
			if !ok {
				return fmt.Errorf("%w: unknown benchmark %q (have %s)", ErrUsage, args[0], strings.Join(benchNames(benchmarks), ", "))
			}
			return b.run(ctx, e, args[1:])
		},
	}
}

func benchNames(benchmarks map[string]benchmark) []string {
	var names []string
	for n := range benchmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const benchHashHelp = `Hashes every image under DIR as "ward hash" does and prints one JSON line:
images/s over the whole run, and milliseconds per image spent reading,
decoding, and hashing (PDQ plus MD5 and SHA-256), summed over workers.
Without DIR, it generates --count 1024x768 JPEGs and --count 512x512 PNGs
(benign synthetic pictures) in a temporary directory and measures each set.`

func benchHash(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "bench hash", Args: "[--workers N] [--count N] [DIR]"}
	fs := NewFlagSet(e, c, benchHashHelp)
	workers := fs.Int("workers", runtime.NumCPU(), "number of images hashed at once")
	count := fs.Int("count", 300, "images of each kind to generate when no DIR is given")
	rest, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	if *workers < 1 || *count < 1 {
		return fmt.Errorf("%w: --workers and --count must be at least 1", ErrUsage)
	}
	if len(rest) > 1 {
		return fmt.Errorf("%w: one DIR at most", ErrUsage)
	}
	o := bench.HashOptions{Workers: *workers, Count: *count}
	if len(rest) == 1 {
		o.Dir = rest[0]
	}
	return bench.Hash(ctx, o, e.Stdout, e.Stderr)
}

const benchMatchHelp = `Builds a Hamming index of N synthetic 256-bit hashes and prints one JSON
line: build time, memory (heap growth over the build), query latency p50 and
p99 one query at a time, queries/s on --workers goroutines, and recall
against a brute-force scan, with that scan's median latency.
Queries are half stored hashes with 8 to 20 bits flipped, half fresh hashes.
--data uniform: random bits; clustered: families of near-duplicates;
skewed: half the hashes share long runs of bits from a few templates.`

func benchMatch(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "bench match", Args: "[--n N] [--threshold T] [--queries Q] [--data KIND] [--seed S] [--workers W]"}
	fs := NewFlagSet(e, c, benchMatchHelp)
	n := fs.Int("n", 1000000, "hashes in the index")
	threshold := fs.Int("threshold", 31, "match distance")
	queries := fs.Int("queries", 10000, "queries to time")
	data := fs.String("data", hashindex.Uniform, "synthetic set: "+strings.Join(hashindex.DataKinds, ", "))
	seed := fs.Int64("seed", 1, "random seed")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines searching at once for queries/s")
	rest, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, rest[0])
	case *n < 1 || *queries < 2 || *workers < 1:
		return fmt.Errorf("%w: --n and --workers must be at least 1, --queries at least 2", ErrUsage)
	case *threshold < 0 || *threshold > 256:
		return fmt.Errorf("%w: --threshold must be 0..256", ErrUsage)
	case !slices.Contains(hashindex.DataKinds, *data):
		return fmt.Errorf("%w: --data must be one of %s", ErrUsage, strings.Join(hashindex.DataKinds, ", "))
	}
	o := bench.MatchOptions{N: *n, Queries: *queries, Threshold: *threshold, Data: *data, Seed: *seed, Workers: *workers}
	return bench.Match(ctx, o, e.Stdout, e.Stderr)
}

const benchHTTPHelp = `Measures POST /v1/match through real HTTP on this machine: builds a list of
--n synthetic PDQ indicators, starts the API on a loopback port (with a real
SQLite store for the organisation and key), and sends requests of --items
hashes each (half near-duplicates of indicators, half unrelated) from
--concurrency connections for --duration. Prints one JSON line.`

func benchHTTP(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "bench http", Args: "[--n N] [--items N] [--concurrency N] [--duration D]"}, benchHTTPHelp)
	n := fs.Int("n", 1_000_000, "indicators in the list")
	items := fs.Int("items", 100, "hashes per request")
	conc := fs.Int("concurrency", 8, "requests in flight")
	dur := fs.Duration("duration", 10*time.Second, "how long to send requests")
	if _, err := ParseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *items < 1 || *items > httpapi.MaxItems || *conc < 1 || *dur <= 0 {
		return fmt.Errorf("%w: --n, --items (at most %d), --concurrency and --duration must be positive", ErrUsage, httpapi.MaxItems)
	}
	return bench.HTTP(ctx, bench.HTTPOptions{N: *n, Items: *items, Concurrency: *conc, Duration: *dur}, e.Stdout, e.Stderr)
}

const benchIntakeHelp = `Measures report intake through real HTTP: starts "ward serve" in this process
(SQLite in a temporary directory, or PostgreSQL with --database in a schema of
its own, dropped afterwards; rate limits off; triage running as in
production), registers a provider, and submits --reports hash-only reports
(POST /v1/reports?finish=true, one request each), then a tenth as many with a
1024x768 JPEG file of about --file-size bytes each (create, upload, finish:
three requests), from --concurrency clients. A report counts once its last
request is answered: it is then durably committed. After each kind it waits
for triage to catch up. Prints one JSON line per kind: reports/s, p50 and p99
latency, and the triage rate. With --server and --key it measures a running
server instead (without the triage rate).`

func benchIntake(ctx context.Context, e *Env, start bench.StartServer, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "bench intake", Args: "[--reports N] [--concurrency C] [--file-size BYTES] [--workers N] [--database URL | --server URL --key KEY]"}, benchIntakeHelp)
	n := fs.Int("reports", 20000, "hash-only reports to submit (and a tenth as many with a file)")
	conc := fs.Int("concurrency", 32, "clients submitting at once")
	fileSize := fs.Int("file-size", 200_000, "approximate size of the JPEG file of each report with a file")
	database := fs.String("database", "", "PostgreSQL URL to measure on instead of SQLite")
	server := fs.String("server", "", "measure this running server instead of starting one")
	key := fs.String("key", "", "a provider's API key, with --server")
	workers := fs.Int("workers", DefaultWorkers, "background jobs (triage) the started server runs at once, competing with intake")
	if rest, err := ParseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, rest[0])
	}
	if *n < 1 || *conc < 1 || *fileSize < 1 {
		return fmt.Errorf("%w: --reports, --concurrency and --file-size must be positive", ErrUsage)
	}
	if (*server == "") != (*key == "") {
		return fmt.Errorf("%w: --server and --key go together", ErrUsage)
	}
	return bench.Intake(ctx, bench.IntakeOptions{
		Reports: *n, Concurrency: *conc, FileSize: *fileSize,
		Start: start, PostgresURL: *database, Workers: *workers,
		Server: *server, Key: *key,
	}, e.Stdout, e.Stderr)
}
