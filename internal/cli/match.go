package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
)

const matchArgs = "--server URL --key KEY [--threshold N] [--dihedral] [--list NAME]... HASH|FILE..."

var matchCommand = &Command{
	Name:    "match",
	Args:    matchArgs,
	Summary: "match hashes or image files against a server's lists",
	Run:     runMatch,
}

const matchHelp = `Matches against the active indicators of a Ward server. Each argument is a
hash or an image file (or - for standard input):
  64 hex digits            a PDQ hash (prefix sha256: for a SHA-256)
  32 hex digits            an MD5
  pdq:HEX md5:HEX sha256:HEX
  a file                   hashed here; only its hashes are sent, never the image
Output is one JSON line per argument with its matches, nearest first. A file's
hashes are matched together, so that a suppress list (known benign content)
that matches one of them removes the matches of the others too; the line says
which of its indicators did in "suppressed_by". Without --threshold each list
is matched within its own threshold. --server and --key default to WARD_SERVER
and WARD_KEY.`

// remoteFlags are the flags of the commands that call a server.
type remoteFlags struct{ server, key *string }

func addRemoteFlags(fs interface {
	String(name, value, usage string) *string
}) remoteFlags {
	return remoteFlags{
		server: fs.String("server", os.Getenv("WARD_SERVER"), "server base URL, e.g. http://127.0.0.1:8080 (default $WARD_SERVER)"),
		key:    fs.String("key", "", "API key (default $WARD_KEY; prefer the variable: arguments are visible to other users)"),
	}
}

func (f remoteFlags) client() (*client.Client, error) {
	key := *f.key
	if key == "" {
		key = os.Getenv("WARD_KEY")
	}
	switch {
	case *f.server == "" && key == "":
		return nil, fmt.Errorf("%w: no server and no API key: give --server URL and --key KEY, or set WARD_SERVER and WARD_KEY (better for the key)", ErrUsage)
	case *f.server == "":
		return nil, fmt.Errorf("%w: no server: give --server URL or set WARD_SERVER, such as http://127.0.0.1:8080", ErrUsage)
	case key == "":
		return nil, fmt.Errorf("%w: no API key: set WARD_KEY (or give --key KEY, which other users of the machine can see)", ErrUsage)
	}
	c, err := client.New(*f.server, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return c, nil
}

// listFlag collects a repeated --list.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// optionalInt is a whole-number flag that tells whether it was given: nil
// until it is.
type optionalInt struct{ n *int }

func (o *optionalInt) String() string {
	if o == nil || o.n == nil {
		return ""
	}
	return strconv.Itoa(*o.n)
}

func (o *optionalInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	o.n = &n
	return nil
}

// matchRecord is one line of "ward match" and "ward scan": the hashes of a
// file (or the hash given) and its matches.
type matchRecord struct {
	Input string `json:"input,omitempty"`
	hashRecord
	Matches []client.Match `json:"matches"`
	// SuppressedBy says which indicators of suppress lists removed the
	// matches the file or hash would otherwise have.
	SuppressedBy []client.Suppression `json:"suppressed_by,omitempty"`
}

func runMatch(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "match", Args: matchArgs}, matchHelp)
	rf := addRemoteFlags(fs)
	var threshold optionalInt
	fs.Var(&threshold, "threshold", "largest PDQ Hamming `distance` of a match (default: each list's own)")
	dihedral := fs.Bool("dihedral", false, "also match rotations and reflections (files only)")
	var lists listFlag
	fs.Var(&lists, "list", "list to match against (repeatable; default: all)")
	inputs, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return fmt.Errorf("%w: no HASH or FILE given", ErrUsage)
	}
	c, err := rf.client()
	if err != nil {
		return err
	}

	// Resolve every input to an item first, so a typo fails before any
	// request is made.
	records := make([]matchRecord, len(inputs))
	var items []client.Item
	var itemOf []int // index in records of each item
	var files []string
	var fileIdx []int
	for i, in := range inputs {
		records[i].Input = in
		if it, ok := client.ParseItem(in); ok {
			if it.PDQ != "" && *dihedral {
				return fmt.Errorf("%w: --dihedral needs image files: the variants of a hash (%s) come from its image", ErrUsage, in)
			}
			items = append(items, it)
			itemOf = append(itemOf, i)
			continue
		}
		if in != filehash.Stdin {
			if _, err := os.Stat(in); err != nil {
				return fmt.Errorf("%w: %q is neither a hash (64 hex digits for PDQ, 32 for MD5, or pdq:/md5:/sha256: and hex) nor a file", ErrUsage, in)
			}
		}
		files = append(files, in)
		fileIdx = append(fileIdx, i)
	}
	failed := 0
	n := 0
	err = filehash.Run(ctx, files, e.Stdin, runtime.NumCPU(), filehash.Options{Dihedral: *dihedral}, func(r filehash.Result) error {
		i := fileIdx[n]
		n++
		records[i].hashRecord = newHashRecord(r)
		if r.Err != nil {
			failed++
			return nil
		}
		it := client.Item{MD5: r.MD5, SHA256: r.SHA256}
		if !r.PDQ.IsZero() {
			it.PDQ, it.Dihedral = r.PDQ.String(), wireDihedral(r.Dihedral)
		}
		items = append(items, it)
		itemOf = append(itemOf, i)
		return nil
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(items); start += 1000 {
		end := min(start+1000, len(items))
		req := client.MatchRequest{Items: items[start:end], Threshold: threshold.n, Dihedral: *dihedral, Lists: lists}
		resp, err := c.Match(ctx, req)
		if err != nil {
			return err
		}
		for j, res := range resp.Results {
			rec := &records[itemOf[start+j]]
			rec.Matches, rec.SuppressedBy = res.Matches, res.SuppressedBy
		}
	}
	enc := json.NewEncoder(e.Stdout)
	for i := range records {
		if records[i].Matches == nil && records[i].Error == "" {
			records[i].Matches = []client.Match{}
		}
		if err := enc.Encode(records[i]); err != nil {
			return err
		}
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

func wireDihedral(d *pdq.Dihedral) *client.Dihedral {
	if d == nil {
		return nil
	}
	return &client.Dihedral{
		Rot90: d.Rot90.String(), Rot180: d.Rot180.String(), Rot270: d.Rot270.String(),
		FlipX: d.FlipX.String(), FlipY: d.FlipY.String(), FlipP: d.FlipP.String(), FlipM: d.FlipM.String(),
	}
}
