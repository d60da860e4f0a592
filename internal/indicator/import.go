package indicator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
)

// Row is one data line of an import file.
type Row struct {
	Line int // 1-based line number in the file
	Submission
}

// RowError describes an invalid line of an import file.
type RowError struct {
	Line int
	Err  error // wraps core.ErrInvalid
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// MaxRowErrors is how many invalid rows CheckImport and Import describe; the
// rest are only counted.
const MaxRowErrors = 100

// RowErrors is the error of a file with invalid rows.
type RowErrors struct {
	Errs  []*RowError // the first MaxRowErrors
	Total int         // how many rows were invalid
}

func (e *RowErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid rows:", e.Total)
	for _, r := range e.Errs {
		fmt.Fprintf(&b, "\n%v", r)
	}
	if more := e.Total - len(e.Errs); more > 0 {
		fmt.Fprintf(&b, "\n... and %d more", more)
	}
	return b.String()
}

func (e *RowErrors) Unwrap() error { return core.ErrInvalid }

// maxLine bounds an import line; longer is an error that stops the parse.
const maxLine = 1 << 20

// ParseImport reads an import file and yields its rows as valid, normalized
// submissions. An invalid row yields a *RowError and parsing goes on; an
// error reading r (or a line over 1 MiB) is yielded last.
//
// An import file lists submissions one per line, as CSV or as TSV (tab
// separated, no quoting); the format is detected from the first data line
// (more tabs than commas: TSV). The columns are type, value, category and
// an optional reference, in that order, or in any order given by a header
// line naming them (type, value, category, reference). Blank lines and
// lines starting with # are skipped. A UTF-8 byte order mark is ignored.
func ParseImport(r io.Reader) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
			br.Discard(3)
		}
		p := &parser{cols: columns{0, 1, 2, 3}}
		if isTSV(br) {
			parseTSV(br, p, yield)
		} else {
			parseCSV(br, p, yield)
		}
	}
}

// isTSV looks at the first data line, as far as it is buffered.
func isTSV(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Size())
	for len(buf) > 0 {
		line, rest, _ := bytes.Cut(buf, []byte("\n"))
		buf = rest
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		return bytes.Count(line, []byte("\t")) > bytes.Count(line, []byte(","))
	}
	return false
}

func parseTSV(br *bufio.Reader, p *parser, yield func(Row, error) bool) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	fields := make([]string, 0, 4)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if t := strings.TrimSpace(text); t == "" || t[0] == '#' {
			continue
		}
		fields = append(fields[:0], strings.Split(text, "\t")...)
		if !p.record(line, fields, yield) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		yield(Row{}, fmt.Errorf("reading import: %w", err))
	}
}

func parseCSV(br *bufio.Reader, p *parser, yield func(Row, error) bool) {
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // the parser checks the count, with a better message
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			if !yield(Row{}, &RowError{Line: perr.StartLine, Err: core.Errorf(core.ErrInvalid, "%v", perr.Err)}) {
				return
			}
			continue
		}
		if err != nil {
			yield(Row{}, fmt.Errorf("reading import: %w", err))
			return
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a line of only spaces
		}
		if !p.record(line, rec, yield) {
			return
		}
	}
}

// columns holds the index of each column in a record; reference is -1 when
// a header leaves it out.
type columns struct{ typ, value, category, reference int }

type parser struct {
	cols      columns
	ncols     int  // required field count once a header fixed it, else 0
	dataSeen  bool // a header can only be the first record
	headerErr bool // the header was invalid, so every row is suspect
}

// record handles one non-blank record and reports whether to go on.
func (p *parser) record(line int, f []string, yield func(Row, error) bool) bool {
	if !p.dataSeen {
		p.dataSeen = true
		if isHeader(f) {
			if err := p.header(f); err != nil {
				p.headerErr = true
				return yield(Row{}, &RowError{Line: line, Err: err})
			}
			return true
		}
	}
	if p.headerErr {
		return yield(Row{}, &RowError{Line: line, Err: core.Errorf(core.ErrInvalid, "the header line is invalid")})
	}
	sub, err := p.submission(f)
	if err != nil {
		return yield(Row{}, &RowError{Line: line, Err: err})
	}
	return yield(Row{Line: line, Submission: sub}, nil)
}

var columnNames = []string{"type", "value", "category", "reference"}

func isHeader(f []string) bool {
	first := strings.ToLower(strings.TrimSpace(f[0]))
	for _, n := range columnNames {
		if first == n {
			return true
		}
	}
	return false
}

func (p *parser) header(f []string) error {
	idx := map[string]int{}
	for i, name := range f {
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(columnNames, name) {
			return core.Errorf(core.ErrInvalid, "unknown column %q in header (want type, value, category, reference)", f[i])
		}
		if _, dup := idx[name]; dup {
			return core.Errorf(core.ErrInvalid, "column %q appears twice in header", name)
		}
		idx[name] = i
	}
	for _, need := range columnNames[:3] {
		if _, ok := idx[need]; !ok {
			return core.Errorf(core.ErrInvalid, "header has no %q column", need)
		}
	}
	ref, ok := idx["reference"]
	if !ok {
		ref = -1
	}
	p.cols = columns{idx["type"], idx["value"], idx["category"], ref}
	p.ncols = len(f)
	return nil
}

func (p *parser) submission(f []string) (Submission, error) {
	switch {
	case p.ncols != 0 && len(f) != p.ncols:
		return Submission{}, core.Errorf(core.ErrInvalid, "%d columns, the header has %d", len(f), p.ncols)
	case p.ncols == 0 && (len(f) < 3 || len(f) > 4):
		return Submission{}, core.Errorf(core.ErrInvalid, "%d columns, want type, value, category and optionally reference", len(f))
	}
	s := Submission{
		Signal:   Signal(f[p.cols.typ]),
		Value:    f[p.cols.value],
		Category: Category(f[p.cols.category]),
	}
	if p.cols.reference >= 0 && p.cols.reference < len(f) {
		s.Reference = f[p.cols.reference]
	}
	return s.Normalize()
}

// CheckImport reads a whole import file and returns the number of data rows
// in it, and a *RowErrors error if any row is invalid. Reading it before
// Import lets a caller import nothing from a file with a bad row.
func CheckImport(r io.Reader) (int, error) {
	n := 0
	bad := &RowErrors{}
	for _, err := range ParseImport(r) {
		var re *RowError
		switch {
		case errors.As(err, &re):
			if len(bad.Errs) < MaxRowErrors {
				bad.Errs = append(bad.Errs, re)
			}
			bad.Total++
		case err != nil:
			return n, err
		}
		n++
	}
	if bad.Total > 0 {
		return n, bad
	}
	return n, nil
}

// ImportOptions tune Import.
type ImportOptions struct {
	// SkipInvalid makes Import count and skip invalid rows rather than
	// stop at the first.
	SkipInvalid bool
	// Progress, if set, is called after each committed batch with the
	// number of rows read so far.
	Progress func(rows int)
	// BatchSize is how many rows one transaction records; 0 means
	// DefaultImportBatch.
	BatchSize int
}

// ImportStats counts what an import did.
type ImportStats struct {
	Rows      int // data rows read, valid or not
	Created   int // new indicators
	Attested  int // attestations added to existing indicators
	Activated int // indicators made active
	Unchanged int // rows the organisation had already attested (in the store or earlier in the file)
	Invalid   int // invalid rows skipped
	// InvalidRows describes the first MaxRowErrors invalid rows.
	InvalidRows []*RowError
}

// DefaultImportBatch is how many rows one transaction of Import records.
// Larger batches amortise the fixed cost of a transaction and of its
// set-based statements, but hold the list's write lock for longer: this
// size keeps a transaction to about a second on a list of millions.
const DefaultImportBatch = 20000

// Import records by's attestation of every row in list, in batches of one
// transaction each, so it is fast for millions of rows; rows with the same
// value as an earlier row count as unchanged. It is idempotent: importing a
// file again changes nothing, and after a failure importing it again
// completes it. Importing the same values from organisations of different
// countries activates those that both attested.
//
// An invalid row (a *RowError from rows) stops the import unless
// opts.SkipInvalid; batches committed before it stay. Check the file
// first with CheckImport to import all or nothing.
func (s *Service) Import(ctx context.Context, list string, by org.Principal, rows iter.Seq2[Row, error], opts ImportOptions) (st ImportStats, err error) {
	defer func() { st.Unchanged = st.Rows - st.Invalid - st.Created - st.Attested }()
	if err := policy.Require(policy.ForPrincipal(by), policy.IndicatorsSubmit); err != nil {
		return st, err
	}
	if err := s.attestable(ctx, list); err != nil {
		return st, err
	}
	type key struct {
		sig Signal
		val string
	}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultImportBatch
	}
	batch := make([]Submission, 0, size)
	seen := make(map[key]struct{}, size)
	flush := func() error {
		if len(batch) > 0 {
			res, err := s.store.Attest(ctx, list, by, batch, s.Clock.Now())
			if err != nil {
				return err
			}
			for _, r := range res {
				switch {
				case r.Created:
					st.Created++
				case r.Attested:
					st.Attested++
				}
				if r.Activated {
					st.Activated++
				}
			}
			batch = batch[:0]
			clear(seen)
		}
		if opts.Progress != nil {
			opts.Progress(st.Rows)
		}
		return nil
	}
	for row, err := range rows {
		if err == nil {
			row.Submission, err = row.Normalize()
			if err != nil {
				err = &RowError{Line: row.Line, Err: err}
			}
		}
		var re *RowError
		if errors.As(err, &re) {
			st.Rows++
			if !opts.SkipInvalid {
				return st, err
			}
			st.Invalid++
			if len(st.InvalidRows) < MaxRowErrors {
				st.InvalidRows = append(st.InvalidRows, re)
			}
			continue
		}
		if err != nil {
			return st, err
		}
		st.Rows++
		k := key{row.Signal, row.Value}
		if _, dup := seen[k]; dup {
			continue // counted as unchanged
		}
		seen[k] = struct{}{}
		batch = append(batch, row.Submission)
		if len(batch) == size {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	return st, flush()
}
