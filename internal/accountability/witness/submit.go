package witness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Source is what a Submitter needs of the logs whose checkpoints it
// sends to witnesses (translog.Service is one).
type Source interface {
	// Checkpoint returns the named log's current checkpoint, signed,
	// with the cosignatures stored for its size.
	Checkpoint(ctx context.Context, name string) ([]byte, error)
	// Tile returns the hashes of tile t (of height 8) of the named log.
	Tile(ctx context.Context, name string, t tlog.Tile) ([]byte, error)
	// AddCosignatures stores cosignatures (signature lines without their
	// newline) of the named log's checkpoint of size.
	AddCosignatures(ctx context.Context, name string, size int64, lines []string) error
}

// Witnessed is a witness a log's checkpoints are sent to.
type Witnessed struct {
	URL string
	Key note.Verifier
}

// ParseWitnesses parses URL=VKEY,URL=VKEY,... (the value of ward serve
// --witness), VKEY being the witness's cosignature verifier key.
func ParseWitnesses(s string) ([]Witnessed, error) {
	var out []Witnessed
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		u, vkey, ok := strings.Cut(item, "=")
		if pu, err := url.Parse(u); !ok || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("witness %q: want URL=VKEY, the URL http(s)", item)
		}
		v, err := NewVerifier(vkey)
		if err != nil {
			return nil, err
		}
		out = append(out, Witnessed{URL: u, Key: v})
	}
	return out, nil
}

// JobSubmit is the kind of the periodic job of a server that submits its
// logs' checkpoints to witnesses.
const JobSubmit = "witness.submit"

// Submitter sends the checkpoints of logs to witnesses, with consistency
// proofs from the logs' tiles, and stores the cosignatures they return,
// which the logs then serve with their checkpoints. It remembers, per log
// and witness, the size the witness holds, learnt from its answers, and
// that a witness does not witness a log (a server's audit log, say): it
// is not asked again until the Submitter is made again.
type Submitter struct {
	source    Source
	witnesses []*Client
	mu        sync.Mutex
	held      map[[2]string]int64 // {log, witness} -> size the witness holds
	unknown   map[[2]string]bool  // {log, witness} the witness does not witness
}

// NewSubmitter returns the submitter of source's checkpoints to ws.
func NewSubmitter(source Source, ws []Witnessed, hc *http.Client) *Submitter {
	s := &Submitter{source: source, held: map[[2]string]int64{}, unknown: map[[2]string]bool{}}
	for _, w := range ws {
		s.witnesses = append(s.witnesses, NewClient(w.URL, w.Key, hc))
	}
	return s
}

// Submit sends the current checkpoint of each named log to every witness
// whose cosignature of it is not stored yet, and stores the cosignatures.
// It returns the errors of the witnesses that did not cosign, joined: a
// witness that refuses a checkpoint as a fork says so there.
func (s *Submitter) Submit(ctx context.Context, names []string) error {
	var errs []error
	for _, name := range names {
		msg, err := s.source.Checkpoint(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("log %s: %w", name, err))
			continue
		}
		text, _, _ := strings.Cut(string(msg), "\n\n")
		c, err := ParseCheckpoint(text + "\n")
		if err != nil {
			errs = append(errs, fmt.Errorf("log %s: %w", name, err))
			continue
		}
		n := &note.Note{Text: text + "\n"}
		if sigs, err := SignatureLines(msg); err == nil {
			n.UnverifiedSigs = parseLines(string(sigs))
		}
		var lines []string
		for _, w := range s.witnesses {
			k := [2]string{name, w.Name()}
			s.mu.Lock()
			unknown := s.unknown[k]
			s.mu.Unlock()
			if unknown || len(Cosigned(n, []note.Verifier{w.key})) > 0 {
				continue // not witnessed by w, or stored already
			}
			line, err := s.submit(ctx, name, c, msg, w)
			if errors.Is(err, ErrUnknownLog) {
				s.mu.Lock()
				s.unknown[k] = true
				s.mu.Unlock()
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("log %s, size %d: %w", name, c.N, err))
				continue
			}
			lines = append(lines, strings.TrimSuffix(string(line), "\n"))
		}
		if len(lines) > 0 {
			if err := s.source.AddCosignatures(ctx, name, c.N, lines); err != nil {
				errs = append(errs, fmt.Errorf("log %s: storing cosignatures: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// submit sends checkpoint msg (body c) of log name to w, from the size w
// holds: the remembered one, or the one w answers a conflict with.
func (s *Submitter) submit(ctx context.Context, name string, c Checkpoint, msg []byte, w *Client) ([]byte, error) {
	k := [2]string{name, w.Name()}
	s.mu.Lock()
	old := s.held[k]
	s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if old > c.N {
			return nil, fmt.Errorf("witness %s holds size %d, larger than the log's %d", w.Name(), old, c.N)
		}
		var proof tlog.TreeProof
		if old > 0 && old < c.N {
			var err error
			proof, err = tlog.ProveTree(c.N, old, tlog.TileHashReader(c.Tree, &sourceTiles{ctx: ctx, source: s.source, log: name}))
			if err != nil {
				return nil, fmt.Errorf("proving size %d consistent with %d from the log's tiles: %w", c.N, old, err)
			}
		}
		line, err := w.AddCheckpoint(ctx, old, proof, msg)
		var conflict *ConflictError
		if errors.As(err, &conflict) && attempt == 0 && conflict.Size != old {
			old = conflict.Size
			continue
		}
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.held[k] = c.N
		s.mu.Unlock()
		return line, nil
	}
}

// sourceTiles reads a log's tiles from a Source, for tlog.TileHashReader,
// which checks them against the checkpoint's root.
type sourceTiles struct {
	ctx    context.Context
	source Source
	log    string
}

func (t *sourceTiles) Height() int { return 8 }

func (t *sourceTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		b, err := t.source.Tile(t.ctx, t.log, tile)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (t *sourceTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// parseLines parses signature lines ("— NAME BASE64\n"...), leaving out
// malformed ones.
func parseLines(sigs string) []note.Signature {
	var out []note.Signature
	for line := range strings.Lines(sigs) {
		name, b64, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "— "), "\n"), " ")
		if ok {
			out = append(out, note.Signature{Name: name, Base64: b64})
		}
	}
	return out
}
