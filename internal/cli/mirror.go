package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/matching/mirror"
)

const syncArgs = "--server URL --key KEY --list NAME --mirror FILE [--follow [--interval D]]"

var syncCommand = &Command{
	Name:    "sync",
	Args:    syncArgs,
	Summary: "bring a local mirror of a list up to date from a server",
	Run:     runSync,
}

const syncHelp = `Keeps a local mirror of one indicator list (a SQLite file) up to date from the
server's change feed: activations are added, withdrawals removed. Each page is
applied in one transaction with its cursor, so an interrupted sync resumes
where it stopped. Each sync also records the list's kind (match, or suppress:
known benign content), maximum distance and threshold, which "ward scan"
applies; the key needs lists.read besides changes.read. Prints one JSON line
when up to date. With --follow it then keeps polling every --interval.
--server and --key default to WARD_SERVER and WARD_KEY.`

func runSync(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "sync", Args: syncArgs}, syncHelp)
	rf := addRemoteFlags(fs)
	list := fs.String("list", indicator.Known, "list to mirror")
	path := fs.String("mirror", "", "mirror file (created if missing)")
	follow := fs.Bool("follow", false, "keep polling for changes after catching up")
	interval := fs.Duration("interval", time.Minute, "polling interval with --follow")
	if rest, err := ParseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, rest[0])
	}
	if *path == "" {
		return fmt.Errorf("%w: --mirror FILE is required", ErrUsage)
	}
	c, err := rf.client()
	if err != nil {
		return err
	}
	m, err := mirror.Open(ctx, *path, true)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Bind(ctx, *rf.server, *list); err != nil {
		return err
	}
	enc := json.NewEncoder(e.Stdout)
	for {
		prog := newProgress(e, "applied")
		res, err := mirror.Sync(ctx, c, m, *list, func(ch client.Change, err error) {
			fmt.Fprintf(e.Stderr, "ward sync: skipping change %d (indicator %d): %v\n", ch.Seq, ch.Indicator, err)
		}, func() { prog.add(false) })
		prog.done()
		if err != nil {
			return err
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		if !*follow {
			if res.Skipped > 0 {
				return errSilent
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

const scanArgs = "--mirror FILE [--mirror FILE]... [--threshold N] [--dihedral] [--workers N] PATH..."

var scanCommand = &Command{
	Name:    "scan",
	Args:    scanArgs,
	Summary: "hash files and match them offline against local mirrors",
	Run:     runScan,
}

const scanHelp = `Hashes files as "ward hash" does and matches them against mirrors made by
"ward sync", entirely offline. Output is "ward hash"'s JSON line per file with a
"matches" field, nearest first. Give one --mirror per list. A mirrored suppress
list (known benign content) works as on the server: a file that matches it has
its matches of the other lists removed (all of them if it matched the file's
SHA-256, all but SHA-256 matches if its MD5, else the PDQ matches), and its line says which indicators did
so in "suppressed_by". Without --threshold each list is matched within its own
threshold, capped by its maximum distance, as of its last sync; with it, every
list but a suppress list within that, capped the same way. The exit status is
1 if any file failed.`

func runScan(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "scan", Args: scanArgs}, scanHelp)
	var (
		paths     listFlag
		threshold optionalInt
	)
	fs.Var(&paths, "mirror", "mirror `file` made by ward sync (repeatable: one per list)")
	fs.Var(&threshold, "threshold", "largest PDQ Hamming `distance` of a match (default: each list's own)")
	dihedral := fs.Bool("dihedral", false, "also match rotations and reflections")
	workers := fs.Int("workers", runtime.NumCPU(), "number of files hashed at once")
	files, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	q := matcher.Query{Threshold: matcher.ListThresholds, Dihedral: *dihedral}
	if threshold.n != nil {
		q.Threshold = *threshold.n
	}
	switch {
	case len(paths) == 0:
		return fmt.Errorf("%w: --mirror FILE is required", ErrUsage)
	case len(files) == 0:
		return fmt.Errorf("%w: no PATH given", ErrUsage)
	case threshold.n != nil && (q.Threshold < 0 || q.Threshold > 128):
		return fmt.Errorf("%w: --threshold must be 0 to 128", ErrUsage)
	case *workers < 1:
		return fmt.Errorf("%w: --workers must be at least 1", ErrUsage)
	}
	var mirrors []*mirror.Mirror
	defer func() {
		for _, m := range mirrors {
			m.Close()
		}
	}()
	for _, p := range paths {
		m, err := mirror.Open(ctx, p, false)
		if err != nil {
			return err
		}
		mirrors = append(mirrors, m)
	}
	idx, err := mirror.Matcher(ctx, mirrors...)
	if err != nil {
		return err
	}

	enc := json.NewEncoder(e.Stdout)
	prog := newProgress(e, "scanned")
	defer prog.done()
	failed := 0
	err = filehash.Run(ctx, files, e.Stdin, *workers, filehash.Options{Dihedral: *dihedral}, func(r filehash.Result) error {
		prog.add(r.Err != nil)
		rec := matchRecord{hashRecord: newHashRecord(r)}
		if r.Err != nil {
			failed++
			return enc.Encode(rec)
		}
		items, err := matcher.FileItems(r.PDQ, r.MD5, r.SHA256)
		if err != nil {
			return err
		}
		res, err := idx.MatchContent(q, r.Dihedral, items...)
		if err != nil {
			return err
		}
		rec.Matches, rec.SuppressedBy = httpapi.WireMatches(res.Matches), httpapi.WireSuppressions(res.SuppressedBy)
		return enc.Encode(rec)
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}
