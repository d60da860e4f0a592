// Package translog keeps a verifiable transparency log of every list: an
// append-only Merkle tree of each change that altered what providers
// match, with signed checkpoints, so that every provider, mirror and
// witness can check that the list it was given is the one everybody was
// given, and that nobody, the centre's operator included, added or
// dropped an entry unseen. The audit trail's signed checkpoints have a
// log of their own.
//
// It follows Certificate Transparency and the Go checksum database, and
// their formats, so that existing tools read it:
//
//   - hashing: RFC 6962 (leaf hash SHA-256(0x00 || entry), node hash
//     SHA-256(0x01 || left || right)), as golang.org/x/mod/sumdb/tlog
//     computes it;
//   - checkpoints: C2SP tlog-checkpoint (origin, size, root) signed as a
//     C2SP signed-note with Ed25519, the note's key name being the origin;
//     witnesses' cosignatures (C2SP tlog-cosignature) are kept and served
//     after the log's own signature;
//   - tiles: C2SP tlog-tiles of height 8, hash tiles read from the stored
//     hashes, entry bundles of length-prefixed entries.
//
// # Logs
//
// Each list has a log named "lists/<list>"; the audit trail's is "audit".
// A log's origin, the first line of its checkpoints and the name of its
// key, is the installation's prefix followed by "/" and the log's name
// (ward.example.org/lists/known); it is stored with the log the first
// time a server signs one of its checkpoints and never changes after,
// whatever prefix a later server is given.
//
// A list's log holds, in feed order, each change of its feed that is
// Logged: activations, quarantines, releases and the withdrawals of
// indicators that had been active, encoded as Entry.Marshal says. The
// store appends them in the transaction of the change itself, so the log
// and the list cannot disagree. Each log also records how far into its
// source it is (Log.Through): a log created for a feed that has changes
// already (a database from before the logs) is behind, and CatchUp
// appends the changes it lacks in order, in batches, before the store
// appends new ones as they happen.
//
// The audit log holds the audit trail's checkpoints, each the first one
// signed of a new head, as the line the checkpoint file holds
// (audit.Checkpoint.MarshalLine, newline included).
//
// The entries are stored, not rebuilt from the lists' tables, so that the
// log stays what was published: a row of the lists edited behind the
// store's back makes the feed disagree with the log, which mirrors (and
// Check, at a server's start) see.
package translog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
)

// AuditLog is the name of the audit trail's log.
const AuditLog = "audit"

// ListLog returns the name of list's log.
func ListLog(list string) string { return "lists/" + list }

// Log is a log as stored.
type Log struct {
	Name string // ListLog(list) or AuditLog
	List string // the list it logs; "" for the audit log
	// Origin names the log in its checkpoints, and Key is the public key
	// that signs them; both are unset until its first checkpoint is
	// signed, and fixed then.
	Origin string
	Key    ed25519.PublicKey
	Size   int64     // number of entries
	Root   tlog.Hash // the tree's hash
	// Through is how far the log covers its source: the feed's Seq (a
	// list's log) or the audit trail's seq (the audit log) of the last
	// change or checkpoint it considered.
	Through int64
	// Behind is how far the source has gone past Through: changes of the
	// feed, or seqs of the audit trail checkpointed, that the log has not
	// considered yet (CatchUp appends them).
	Behind int64
}

// Store keeps the logs. Package store implements it; the appending
// itself happens in the store's transactions of the changes logged.
type Store interface {
	// Logs returns every log, by name.
	Logs(ctx context.Context) ([]Log, error)
	// Log returns the named log, or an ErrNotFound error.
	Log(ctx context.Context, name string) (Log, error)
	// SetLogOrigin stores origin and key as the named log's origin and
	// key unless it has an origin already, and returns the log as
	// stored.
	SetLogOrigin(ctx context.Context, name, origin string, key ed25519.PublicKey) (Log, error)
	// LogHashes returns the named log's stored hashes at the given
	// indexes (tlog.StoredHashIndex), in order; an index not stored is
	// an error.
	LogHashes(ctx context.Context, name string, indexes []int64) ([]tlog.Hash, error)
	// LogEntries returns entries start, start+1, ..., start+n-1 of the
	// named log; one not stored is an error.
	LogEntries(ctx context.Context, name string, start int64, n int) ([][]byte, error)
	// CatchUpLog appends to the named log, in one transaction, what the
	// next at most limit changes (or checkpoints) of its source after
	// Through hold, and returns the log as it is afterwards.
	CatchUpLog(ctx context.Context, name string, limit int) (Log, error)
	// AddCosignatures stores the signature lines (ParseCosignature) of
	// the named log's checkpoint of size, each keyed by its key's name:
	// a name that has a line for that size already keeps it.
	AddCosignatures(ctx context.Context, name string, size int64, lines []string) error
	// Cosignatures returns the signature lines stored for the named
	// log's checkpoint of size, by the order they were added.
	Cosignatures(ctx context.Context, name string, size int64) ([]string, error)
}

// Service signs and serves the logs. It is safe for concurrent use.
type Service struct {
	store  Store
	key    ed25519.PrivateKey
	prefix string

	mu      sync.Mutex
	signers map[string]note.Signer // by origin
	signed  map[string]signedCheckpoint
}

// signedCheckpoint is a log's last checkpoint signed, kept because each
// size's note is the same whenever it is signed.
type signedCheckpoint struct {
	c    Checkpoint
	note []byte
}

// New returns the service of the logs in s, which signs checkpoints with
// key and names logs that have no origin yet with prefix (see the package
// documentation).
func New(s Store, key ed25519.PrivateKey, prefix string) (*Service, error) {
	if err := CheckOrigin(prefix); err != nil {
		return nil, err
	}
	if strings.HasSuffix(prefix, "/") {
		return nil, core.Errorf(core.ErrInvalid, "log origin prefix %q must not end with '/'", prefix)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("translog: no Ed25519 signing key")
	}
	return &Service{store: s, key: key, prefix: prefix, signers: map[string]note.Signer{}, signed: map[string]signedCheckpoint{}}, nil
}

// Logs returns every log.
func (s *Service) Logs(ctx context.Context) ([]Log, error) {
	return s.store.Logs(ctx)
}

// Log returns the named log.
func (s *Service) Log(ctx context.Context, name string) (Log, error) {
	l, err := s.store.Log(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		if list, ok := strings.CutPrefix(name, "lists/"); ok {
			return Log{}, core.Errorf(core.ErrNotFound, "no list named %q", list)
		}
	}
	return l, err
}

// origin returns l's origin, fixing it and the key now with the
// service's prefix and key if it has none yet. A log whose checkpoints
// another key signed is an error: clients that know it by that key would
// refuse every checkpoint.
func (s *Service) origin(ctx context.Context, l Log) (string, error) {
	pub := s.key.Public().(ed25519.PublicKey)
	if l.Origin == "" {
		var err error
		if l, err = s.store.SetLogOrigin(ctx, l.Name, s.prefix+"/"+l.Name, pub); err != nil {
			return "", err
		}
	}
	if !pub.Equal(l.Key) {
		return "", fmt.Errorf("the checkpoints of log %s were signed with another key than this server's: is its log key file the right one?", l.Name)
	}
	return l.Origin, nil
}

// Init fixes the origin of every log that has none yet (see the package
// documentation) and returns, for the operator, a note on each log whose
// origin was fixed earlier with another prefix than the service's.
func (s *Service) Init(ctx context.Context) ([]string, error) {
	logs, err := s.store.Logs(ctx)
	if err != nil {
		return nil, err
	}
	var notes []string
	for _, l := range logs {
		origin, err := s.origin(ctx, l)
		if err != nil {
			return nil, err
		}
		if want := s.prefix + "/" + l.Name; origin != want {
			notes = append(notes, fmt.Sprintf("log %s keeps its origin %s (not %s): a log's origin never changes", l.Name, origin, want))
		}
	}
	return notes, nil
}

func (s *Service) signer(origin string) (note.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sg, ok := s.signers[origin]; ok {
		return sg, nil
	}
	sg, err := NewSigner(origin, s.key)
	if err != nil {
		return nil, err
	}
	s.signers[origin] = sg
	return sg, nil
}

// Checkpoint returns the named log's current checkpoint as a signed note,
// signed by the log's key and followed by the witnesses' cosignatures
// stored for its size.
func (s *Service) Checkpoint(ctx context.Context, name string) ([]byte, error) {
	l, err := s.Log(ctx, name)
	if err != nil {
		return nil, err
	}
	origin, err := s.origin(ctx, l)
	if err != nil {
		return nil, err
	}
	c := Checkpoint{Origin: origin, Size: l.Size, Root: l.Root}
	s.mu.Lock()
	last, ok := s.signed[name]
	s.mu.Unlock()
	if !ok || last.c != c {
		sg, err := s.signer(origin)
		if err != nil {
			return nil, err
		}
		n, err := Sign(c, sg)
		if err != nil {
			return nil, err
		}
		last = signedCheckpoint{c: c, note: n}
		s.mu.Lock()
		s.signed[name] = last
		s.mu.Unlock()
	}
	cos, err := s.store.Cosignatures(ctx, name, c.Size)
	if err != nil {
		return nil, err
	}
	return withCosignatures(last.note, cos), nil
}

// VerifierKey returns the note verifier key of the named log's
// checkpoints (VerifierKey, with the log's origin).
func (s *Service) VerifierKey(ctx context.Context, name string) (string, error) {
	l, err := s.Log(ctx, name)
	if err != nil {
		return "", err
	}
	origin, err := s.origin(ctx, l)
	if err != nil {
		return "", err
	}
	return VerifierKey(origin, s.key.Public().(ed25519.PublicKey))
}

// Tile returns the data of tile t of the named log (from ParseTilePath):
// its hashes, or its entry bundle if t.L is -1. A tile the log's tree
// does not hold in whole is an ErrNotFound error.
func (s *Service) Tile(ctx context.Context, name string, t tlog.Tile) ([]byte, error) {
	l, err := s.Log(ctx, name)
	if err != nil {
		return nil, err
	}
	if t.H != Height || !InTree(t, l.Size) {
		return nil, core.Errorf(core.ErrNotFound, "%s is beyond the log's %d entries", TilePath(t), l.Size)
	}
	if t.L == -1 {
		entries, err := s.store.LogEntries(ctx, name, t.N*TileWidth, t.W)
		if err != nil {
			return nil, err
		}
		var b []byte
		for _, e := range entries {
			b = AppendBundle(b, e)
		}
		return b, nil
	}
	return tlog.ReadTileData(t, tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return s.store.LogHashes(ctx, name, indexes)
	}))
}

// AddCosignatures stores witnesses' cosignatures of the named log's
// checkpoint of size: signature lines as ParseCosignature reads them,
// served after the log's signature whenever the log has that size. At
// most 50 are kept per size; a line of a key that has one is ignored.
func (s *Service) AddCosignatures(ctx context.Context, name string, size int64, lines []string) error {
	if size < 0 {
		return core.Errorf(core.ErrInvalid, "a log's size is not negative, got %d", size)
	}
	have, err := s.store.Cosignatures(ctx, name, size)
	if err != nil {
		return err
	}
	for _, line := range lines {
		if _, err := ParseCosignature(line); err != nil {
			return err
		}
	}
	if len(have)+len(lines) > maxCosignatures {
		return core.Errorf(core.ErrTooLarge, "at most %d cosignatures are kept of a checkpoint", maxCosignatures)
	}
	return s.store.AddCosignatures(ctx, name, size, lines)
}

// Cosignatures returns the cosignatures stored of the named log's
// checkpoint of size.
func (s *Service) Cosignatures(ctx context.Context, name string, size int64) ([]string, error) {
	return s.store.Cosignatures(ctx, name, size)
}

// Progress is how far CatchUp is with a log.
type Progress struct {
	Log     string
	Through int64 // the source's seq covered so far
	Behind  int64 // how far it is still behind
	Size    int64 // the log's entries
	Elapsed time.Duration
}

// catchUpBatch is how many changes of a source one transaction of CatchUp
// considers: enough to be quick, few enough not to hold the list locked
// long.
const catchUpBatch = 10000

// CatchUp appends to every log what its source holds and it lacks (see
// the package documentation), calling progress, if not nil, after each
// batch. Several servers may run it at once: each batch is a transaction
// that starts where the log is.
func (s *Service) CatchUp(ctx context.Context, progress func(Progress)) error {
	logs, err := s.store.Logs(ctx)
	if err != nil {
		return err
	}
	for _, l := range logs {
		start := time.Now()
		for l.Behind > 0 {
			next, err := s.store.CatchUpLog(ctx, l.Name, catchUpBatch)
			if err != nil {
				return fmt.Errorf("catching up log %s: %w", l.Name, err)
			}
			if next.Through <= l.Through {
				return fmt.Errorf("catching up log %s: no progress past %d", l.Name, l.Through)
			}
			l = next
			if progress != nil {
				progress(Progress{Log: l.Name, Through: l.Through, Behind: l.Behind, Size: l.Size, Elapsed: time.Since(start)})
			}
		}
	}
	return nil
}
