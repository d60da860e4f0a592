package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
)

const hashArgs = "[--dihedral] [--workers N] [--format jsonl|tsv] PATH..."

var hashCommand = &Command{
	Name:    "hash",
	Args:    hashArgs,
	Summary: "compute PDQ, MD5 and SHA-256 of image files",
	Run:     runHash,
}

const hashHelp = `Hashes image files: PDQ perceptual hash and quality of the decoded image,
MD5 and SHA-256 of the file's bytes. A PATH is a file, a directory (walked
recursively; image files are recognised by content, other files are
skipped) or - for standard input. Formats: JPEG, PNG, GIF (first frame),
WebP, BMP, TIFF, PNM.

Output is one JSON line per file, in input order:
  {"path":"a.jpg","pdq":"<64 hex>","quality":100,"md5":"<hex>","sha256":"<hex>","width":640,"height":480}
A file that fails gives {"path":"...","error":"..."} and the run goes on;
the exit status is then 1.`

// hashRecord is the public JSON shape of one line of "ward hash".
type hashRecord struct {
	Path     string        `json:"path,omitempty"`
	PDQ      *pdq.Hash     `json:"pdq,omitempty"`
	Quality  *int          `json:"quality,omitempty"`
	MD5      string        `json:"md5,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	Width    int           `json:"width,omitempty"`
	Height   int           `json:"height,omitempty"`
	Dihedral *pdq.Dihedral `json:"dihedral,omitempty"`
	Error    string        `json:"error,omitempty"`
}

func newHashRecord(r filehash.Result) hashRecord {
	if r.Err != nil {
		return hashRecord{Path: r.Path, Error: r.Err.Error()}
	}
	q := r.Quality
	return hashRecord{
		Path: r.Path, PDQ: &r.PDQ, Quality: &q, MD5: r.MD5, SHA256: r.SHA256,
		Width: r.Width, Height: r.Height, Dihedral: r.Dihedral,
	}
}

func runHash(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "hash", Args: hashArgs}, hashHelp)
	dihedral := fs.Bool("dihedral", false, "also output the hashes of the 7 rotations and reflections")
	workers := fs.Int("workers", runtime.NumCPU(), "number of files hashed at once")
	format := fs.String("format", "jsonl", "output format: jsonl or tsv")
	paths, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: no PATH given (use - for standard input)", ErrUsage)
	}
	if *workers < 1 {
		return fmt.Errorf("%w: --workers must be at least 1", ErrUsage)
	}
	var w recordWriter
	out := bufio.NewWriter(e.Stdout)
	switch *format {
	case "jsonl":
		w = &jsonlWriter{enc: json.NewEncoder(out)}
	case "tsv":
		w = &tsvWriter{w: out, dihedral: *dihedral}
	default:
		return fmt.Errorf("%w: --format must be jsonl or tsv, not %q", ErrUsage, *format)
	}

	prog := newProgress(e, "hashed")
	defer prog.done()
	failed := 0
	err = filehash.Run(ctx, paths, e.Stdin, *workers, filehash.Options{Dihedral: *dihedral}, func(r filehash.Result) error {
		if r.Err != nil {
			failed++
		}
		prog.add(r.Err != nil)
		if err := w.write(newHashRecord(r)); err != nil {
			return err
		}
		// Flush per line when few files are in flight would slow large
		// runs; flush only when the buffer fills, and at the end.
		return nil
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

type recordWriter interface{ write(hashRecord) error }

type jsonlWriter struct{ enc *json.Encoder }

func (w *jsonlWriter) write(r hashRecord) error { return w.enc.Encode(r) }

// tsvWriter writes a header line, then one row per file; the error column
// is empty for files that were hashed.
type tsvWriter struct {
	w        io.Writer
	dihedral bool
	started  bool
}

var dihedralNames = []string{"rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}

func (w *tsvWriter) write(r hashRecord) error {
	if !w.started {
		w.started = true
		cols := []string{"path", "pdq", "quality", "md5", "sha256", "width", "height"}
		if w.dihedral {
			cols = append(cols, dihedralNames...)
		}
		if _, err := fmt.Fprintln(w.w, strings.Join(append(cols, "error"), "\t")); err != nil {
			return err
		}
	}
	cols := []string{tsvField(r.Path)}
	if r.Error != "" {
		n := 6
		if w.dihedral {
			n += len(dihedralNames)
		}
		cols = append(cols, make([]string, n)...)
	} else {
		cols = append(cols, r.PDQ.String(), strconv.Itoa(*r.Quality), r.MD5, r.SHA256,
			strconv.Itoa(r.Width), strconv.Itoa(r.Height))
		if w.dihedral {
			all := r.Dihedral.All()
			for _, h := range all[1:] {
				cols = append(cols, h.String())
			}
		}
	}
	_, err := fmt.Fprintln(w.w, strings.Join(append(cols, tsvField(r.Error)), "\t"))
	return err
}

// tsvField keeps a value on one line and in one column.
func tsvField(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// progress prints a status line on a terminal's stderr for runs that last
// more than a couple of seconds, and clears it at the end.
type progress struct {
	e             *Env
	verb          string
	start, last   time.Time
	n, failed     int
	shown         bool
	delay, period time.Duration
}

func newProgress(e *Env, verb string) *progress {
	now := time.Now()
	return &progress{e: e, verb: verb, start: now, last: now, delay: 2 * time.Second, period: 250 * time.Millisecond}
}

func (p *progress) add(failed bool) {
	p.n++
	if failed {
		p.failed++
	}
	if !p.e.StderrIsTerminal {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < p.delay || now.Sub(p.last) < p.period {
		return
	}
	p.last, p.shown = now, true
	rate := float64(p.n) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.e.Stderr, "\r\033[K%s %d files (%.0f/s), %d failed", p.verb, p.n, rate, p.failed)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.e.Stderr, "\r\033[K")
	}
}
