package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/accountability/witness"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/matching/mirror"
)

const syncArgs = "--server URL --key KEY --list NAME --mirror FILE [--log-key VKEY] [--witness-key VKEY]... [--require-witnesses K] [--compare URL]... [--follow [--interval D]]"

var syncCommand = &Command{
	Name:    "sync",
	Args:    syncArgs,
	Summary: "bring a local mirror of a list up to date from a server, verified against the list's log",
	Run:     runSync,
}

const syncHelp = `Keeps a local mirror of one indicator list (a SQLite file) up to date from the
server's change feed: activations are added, withdrawals and quarantines
removed. Each sync also records the list's kind (match, or suppress: known
benign content), maximum distance and threshold, which "ward scan" applies; the
key needs lists.read besides changes.read.

Every sync is verified against the list's transparency log, and applies
nothing unless every check passes:
  - the log's checkpoint is signed by the log's key: the one given with
    --log-key, else the one the mirror holds; a new mirror without --log-key
    trusts the key the server gives, on first use, and says so once;
  - with --require-witnesses K, it carries valid cosignatures of at least K
    of the witnesses given with --witness-key;
  - it is consistent with the checkpoint the mirror holds (a consistency
    proof from the log's tiles): the log was only appended to;
  - each entry added to the log since hashes into the checkpoint's tree, and
    each change of the feed applied is its log entry (same seq, kind,
    signal, value and category); a change no entry vouches for is refused
    unless it changes nothing the mirror holds.
Changes after the checkpoint's last entry wait for the next checkpoint. All
is applied in one transaction, with the checkpoint: on any failed check the
mirror is left exactly as it was, and the exit status is 1 with a message
naming the entry and the check. A mirror made by a ward that did not verify
is rebuilt from the start of the log.

--compare URL then checks that the checkpoint at URL (another server of the
list, or a copy another provider keeps) is signed by the same key and
consistent with the mirror's, whichever is larger; a fork exits with status 1.

Prints one JSON line when up to date (with the checkpoint verified: origin,
size, root), and one per --compare. With --follow it then keeps polling every
--interval. --server and --key default to WARD_SERVER and WARD_KEY.`

func runSync(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "sync", Args: syncArgs}, syncHelp)
	rf := addRemoteFlags(fs)
	list := fs.String("list", indicator.Known, "list to mirror")
	path := fs.String("mirror", "", "mirror file (created if missing)")
	logKey := fs.String("log-key", "", "the note verifier `key` of the list's log (NAME+HASH+KEY) to trust; default: the mirror's, else the server's on first use")
	var witnessKeys, compare listFlag
	fs.Var(&witnessKeys, "witness-key", "a witness's cosignature verifier `key` (NAME+HASH+KEY; repeatable)")
	quorum := fs.Int("require-witnesses", 0, "how many of the --witness-key witnesses must have cosigned a checkpoint to accept it")
	fs.Var(&compare, "compare", "`URL` of another copy of the list's checkpoint to check the mirror's against (repeatable)")
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
	o := mirror.SyncOptions{LogKey: strings.TrimSpace(*logKey), Quorum: *quorum}
	if o.LogKey != "" {
		if _, err := note.NewVerifier(o.LogKey); err != nil {
			return fmt.Errorf("%w: --log-key %q: %v", ErrUsage, o.LogKey, err)
		}
	}
	for _, k := range witnessKeys {
		v, err := witness.NewVerifier(k)
		if err != nil {
			return fmt.Errorf("%w: --witness-key: %v", ErrUsage, err)
		}
		o.Witnesses = append(o.Witnesses, v)
	}
	if *quorum < 0 || *quorum > len(o.Witnesses) {
		return fmt.Errorf("%w: --require-witnesses %d: give at least as many --witness-key", ErrUsage, *quorum)
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
	o.Skip = func(ch client.Change, err error) {
		fmt.Fprintf(e.Stderr, "ward sync: skipping change %d (indicator %d): %v\n", ch.Seq, ch.Indicator, err)
	}
	o.Trusted = func(vkey string) {
		fmt.Fprintf(e.Stderr, "ward sync: trusting the key of list %q's log on first use: %s\n(give it with --log-key to check it came from the centre)\n", *list, vkey)
	}
	enc := json.NewEncoder(e.Stdout)
	hc := &http.Client{Timeout: time.Minute}
	for {
		prog := newProgress(e, "applied")
		o.Applied = func() { prog.add(false) }
		res, err := mirror.Sync(ctx, c, m, *list, o)
		prog.done()
		if err != nil {
			// Sync applies everything in one transaction, or nothing.
			return fmt.Errorf("%w; the mirror was left as it was", err)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		for _, u := range compare {
			cr, err := mirror.Compare(ctx, c, hc, m, u)
			if err != nil {
				return fmt.Errorf("comparing with %s: %w", u, err)
			}
			if err := enc.Encode(struct {
				Compare    mirror.CompareResult `json:"compare"`
				Consistent bool                 `json:"consistent"`
			}{cr, true}); err != nil {
				return err
			}
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
"matches" field, nearest first, and "checkpoints": for each mirror, the
checkpoint of its list's log (origin, size, root) it was last verified
against, which identifies exactly the list each file was matched with (a
mirror never verified is left out, with a warning). Give one --mirror per
list. A mirrored suppress list (known benign content) works as on the
server: a file that matches it has its matches of the other lists removed
(all of them if it matched the file's SHA-256, all but SHA-256 matches if
its MD5, else the PDQ matches), and its line says which indicators did so in "suppressed_by". Without
--threshold each list is matched within its own threshold, capped by its
maximum distance, as of its last sync; with it, every list but a suppress
list within that, capped the same way. The exit status is 1 if any file
failed.`

// scanRecord is ward scan's line of a file: ward match's, and the
// checkpoints of the lists' logs the mirrors matched against were
// verified against.
type scanRecord struct {
	hashRecord
	Checkpoints  []scanCheckpoint     `json:"checkpoints,omitempty"`
	Matches      []client.Match       `json:"matches"`
	SuppressedBy []client.Suppression `json:"suppressed_by,omitempty"`
}

type scanCheckpoint struct {
	List string `json:"list"`
	mirror.CheckpointInfo
}

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
	q := matcher.Query{Threshold: matcher.ListThresholds, Dihedral: *dihedral, Unverified: true}
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
	var checkpoints []scanCheckpoint
	for i, m := range mirrors {
		st, err := m.State(ctx)
		if err != nil {
			return err
		}
		cp, ok := st.Verified()
		if !ok {
			fmt.Fprintf(e.Stderr, "ward scan: mirror %s was not verified against list %q's log: run ward sync\n", paths[i], st.List)
			continue
		}
		checkpoints = append(checkpoints, scanCheckpoint{List: st.List, CheckpointInfo: cp})
	}

	enc := json.NewEncoder(e.Stdout)
	prog := newProgress(e, "scanned")
	defer prog.done()
	failed := 0
	err = filehash.Run(ctx, files, e.Stdin, *workers, filehash.Options{Dihedral: *dihedral}, func(r filehash.Result) error {
		prog.add(r.Err != nil)
		rec := scanRecord{hashRecord: newHashRecord(r), Checkpoints: checkpoints}
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
