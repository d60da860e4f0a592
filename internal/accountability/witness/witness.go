// Package witness is a transparency log witness as c2sp.org/tlog-witness
// defines it, and what logs and their clients need of witnesses.
//
// A witness is configured with the logs it witnesses (each an origin and
// the log's note verifier key) and keeps, per log, the latest checkpoint
// it cosigned. It cosigns a new checkpoint of a log only if it is signed
// by the log's key and a consistency proof shows that it extends that
// one: so two clients that each accept only checkpoints cosigned by the
// same witness can never be shown two different histories of one log (a
// fork), nor a history rewritten since. Cosignatures are timestamped
// Ed25519 signatures (c2sp.org/tlog-cosignature, cosignature/v1), which
// Signer makes and NewVerifier checks; checkpoints are signed notes
// (c2sp.org/signed-note, golang.org/x/mod/sumdb/note) whose body is
// c2sp.org/tlog-checkpoint.
//
// Witness.AddCheckpoint is the protocol's one call, and Handler serves it
// as POST /add-checkpoint; Client calls it, and Submitter (for a log) sends
// each new checkpoint of its logs to witnesses and keeps their
// cosignatures. The witness's state is an SQLite file of its own.
package witness

import (
	"bufio"
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/sqldb"
)

// Log is a log a witness witnesses: its origin (the first line of its
// checkpoints) and the key that signs them.
type Log struct {
	Origin string
	Key    note.Verifier
	VKey   string // Key's text
}

// ParseLog parses a log as ORIGIN=VKEY; VKEY is a note verifier key
// (NAME+HASH+KEY), as "ward serve" prints it for each list.
func ParseLog(s string) (Log, error) {
	origin, vkey, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || origin == "" || strings.ContainsAny(origin, " \t\n") {
		return Log{}, fmt.Errorf("log %q: want ORIGIN=VKEY", s)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Log{}, fmt.Errorf("log %s: key %q: %w", origin, vkey, err)
	}
	return Log{Origin: origin, Key: v, VKey: vkey}, nil
}

// ReadLogs reads logs, one ORIGIN=VKEY a line; blank lines and lines
// starting with # are left out.
func ReadLogs(r io.Reader) ([]Log, error) {
	var logs []Log
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		l, err := ParseLog(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		logs = append(logs, l)
	}
	return logs, sc.Err()
}

// Witness cosigns checkpoints of the logs it is configured with.
type Witness struct {
	signer *Signer
	logs   map[string]Log
	db     *sql.DB
	// mu makes each check and update of a log's state one step, so that
	// two requests cannot both pass the check and the smaller be stored
	// last (the race c2sp.org/tlog-witness warns of); the transaction
	// would also refuse it, but later.
	mu    sync.Mutex
	Clock core.Clock
}

//go:embed migrations
var migrations embed.FS

// Open opens (creating it if missing) the witness state file at path and
// returns the witness of logs that signs with signer.
func Open(ctx context.Context, path string, signer *Signer, logs []Log) (*Witness, error) {
	w := &Witness{signer: signer, logs: map[string]Log{}}
	for _, l := range logs {
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("log %s is given twice", l.Origin)
		}
		w.logs[l.Origin] = l
	}
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	uri, err := sqldb.SQLiteURI(path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", uri+sqldb.SQLiteWriter)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := sqldb.MigrateSQLite(ctx, db, ms); err != nil {
		db.Close()
		return nil, fmt.Errorf("witness state %s: %w", path, err)
	}
	w.db = db
	return w, nil
}

// Close closes the state file.
func (w *Witness) Close() error { return w.db.Close() }

// VerifierKey is the witness's verifier key, which logs and clients are
// given to check its cosignatures.
func (w *Witness) VerifierKey() string { return w.signer.VerifierKey() }

// ConflictError is the answer to a checkpoint whose old size is not the
// size of the latest checkpoint the witness cosigned of the log, or whose
// root differs from it at the same size: Size is that latest size, which
// the log sends a proof from next.
type ConflictError struct {
	Size int64
	msg  string
}

func (e *ConflictError) Error() string { return e.msg }
func (e *ConflictError) Unwrap() error { return core.ErrConflict }

// MaxProof is the most hashes of a consistency proof (a tree of up to
// 2^63 leaves needs fewer).
const MaxProof = 63

// AddCheckpoint cosigns the signed checkpoint msg of a log the witness
// witnesses if it is consistent with the latest one the witness cosigned
// of the log: old is that one's size (0 if none) and proof the
// consistency proof from it. It returns the witness's signature lines.
// The errors are those of c2sp.org/tlog-witness, by kind: ErrNotFound for
// a log the witness does not witness, ErrForbidden for a checkpoint the
// log's key did not sign, ErrInvalid for a malformed request or an old
// size above the checkpoint's, a *ConflictError if old is not the size
// the witness holds or the root differs at that size, and
// ErrUnprocessable if the proof does not verify. A validly signed
// checkpoint refused for its root or its proof is also kept as evidence
// (Refused).
func (w *Witness) AddCheckpoint(ctx context.Context, old int64, proof tlog.TreeProof, msg []byte) ([]byte, error) {
	origin, _, _ := strings.Cut(string(msg), "\n")
	l, ok := w.logs[origin]
	if !ok {
		return nil, core.Errorf(core.ErrNotFound, "this witness does not witness log %q", origin)
	}
	c, n, err := OpenCheckpoint(msg, l.Key)
	if err != nil {
		if errors.Is(err, errMalformedCheckpoint) {
			return nil, core.Errorf(core.ErrInvalid, "%v", err)
		}
		return nil, core.Errorf(core.ErrForbidden, "%v", err)
	}
	switch {
	case c.Origin != origin:
		return nil, core.Errorf(core.ErrInvalid, "malformed checkpoint")
	case old < 0 || old > c.N:
		return nil, core.Errorf(core.ErrInvalid, "old size %d is above the checkpoint's size %d", old, c.N)
	case len(proof) > MaxProof:
		return nil, core.Errorf(core.ErrInvalid, "a consistency proof has at most %d hashes, not %d", MaxProof, len(proof))
	case old == 0 && len(proof) > 0:
		return nil, core.Errorf(core.ErrInvalid, "the consistency proof from size 0 must be empty")
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var (
		size int64
		root string
	)
	err = tx.QueryRowContext(ctx, `SELECT size, root FROM logs WHERE origin = ?`, origin).Scan(&size, &root)
	if errors.Is(err, sql.ErrNoRows) {
		size, root, err = 0, "", nil
	}
	if err != nil {
		return nil, err
	}
	if old != size {
		return nil, &ConflictError{Size: size, msg: fmt.Sprintf("the latest checkpoint this witness cosigned of %s has size %d, not %d", origin, size, old)}
	}
	if old > 0 || root != "" {
		var h tlog.Hash
		b, err := base64.StdEncoding.DecodeString(root)
		if err != nil || len(b) != len(h) {
			return nil, fmt.Errorf("witness state of %s: bad root %q", origin, root)
		}
		copy(h[:], b)
		if old == c.N && h != c.Hash {
			reason := fmt.Sprintf("a different root at size %d than the checkpoint this witness cosigned (%s): the log is forked", c.N, root)
			refuse(ctx, tx, w.Clock.Now(), origin, msg, old, proof, reason)
			return nil, &ConflictError{Size: size, msg: "refused: " + reason}
		}
		if old < c.N {
			if err := tlog.CheckTree(proof, c.N, c.Hash, old, h); err != nil {
				reason := fmt.Sprintf("the consistency proof from size %d to %d does not verify: the log is not an extension of the checkpoint this witness cosigned", old, c.N)
				refuse(ctx, tx, w.Clock.Now(), origin, msg, old, proof, reason)
				return nil, core.Errorf(core.ErrUnprocessable, "refused: %s", reason)
			}
		}
	}
	at := w.Clock.Now()
	_, err = tx.ExecContext(ctx, `INSERT INTO logs (origin, size, root, checkpoint, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, checkpoint = excluded.checkpoint, updated_at = excluded.updated_at`,
		origin, c.N, base64.StdEncoding.EncodeToString(c.Hash[:]), string(msg), at)
	if err != nil {
		return nil, err
	}
	// Sign before committing, so that a failure to sign stores nothing;
	// the state is persisted before the cosignature is given out.
	signer := *w.signer
	signer.Clock = func() time.Time { return at }
	signed, err := note.Sign(&note.Note{Text: n.Text}, &signer)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return SignatureLines(signed)
}

// refuse keeps a refused checkpoint as evidence, committing tx (which
// has written nothing else) for it; failing to keep it is not the
// requester's concern, who is refused anyway.
func refuse(ctx context.Context, tx *sql.Tx, at time.Time, origin string, msg []byte, old int64, proof tlog.TreeProof, reason string) {
	var lines strings.Builder
	for _, h := range proof {
		lines.WriteString(h.String() + "\n")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refused (origin, checkpoint, old_size, proof, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		origin, string(msg), old, lines.String(), reason, at)
	if err == nil {
		tx.Commit()
	}
}

// Latest returns the latest checkpoint the witness cosigned of origin, as
// the log sent it.
func (w *Witness) Latest(ctx context.Context, origin string) ([]byte, error) {
	var s string
	err := w.db.QueryRowContext(ctx, `SELECT checkpoint FROM logs WHERE origin = ?`, origin).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.Errorf(core.ErrNotFound, "this witness has cosigned no checkpoint of %q", origin)
	}
	return []byte(s), err
}

// Refusal is a validly signed checkpoint the witness refused.
type Refusal struct {
	Origin     string
	Checkpoint string
	OldSize    int64
	Reason     string
	At         time.Time
}

// Refused returns the checkpoints refused as evidence of origin, oldest
// first.
func (w *Witness) Refused(ctx context.Context, origin string) ([]Refusal, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT origin, checkpoint, old_size, reason, at FROM refused WHERE origin = ? ORDER BY id`, origin)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Refusal
	for rows.Next() {
		var r Refusal
		if err := rows.Scan(&r.Origin, &r.Checkpoint, &r.OldSize, &r.Reason, &r.At); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
