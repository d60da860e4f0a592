package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/core"
)

// A Checkpoint is a signed statement that the chain had Seq entries, the
// last with hash Hash, at time At. Verify checks the chain against every
// checkpoint, so cutting entries off the tail, or recomputing the chain
// after editing it, shows unless done before the first checkpoint.
type Checkpoint struct {
	Seq  int64
	Hash Hash
	// At is when it was signed, in UTC to the microsecond.
	At time.Time
	// Signature is the Ed25519 signature of Message.
	Signature []byte
	// From says where the checkpoint was read, for Verify's report: ""
	// for the database, else a checkpoint file and line. It is not signed.
	From string
}

// Message returns the text the checkpoint's signature covers:
//
//	ward audit checkpoint v1
//	seq 1234
//	hash <64 hex digits>
//	time 2026-05-01T12:00:00.000000Z
//
// each line ended by a newline. It is text so that an auditor can check a
// checkpoint with common tools (openssl pkeyutl -verify -rawin).
func (c Checkpoint) Message() []byte {
	return fmt.Appendf(nil, "%s\nseq %d\nhash %s\ntime %s\n",
		checkpointHeader, c.Seq, c.Hash, c.At.UTC().Format("2006-01-02T15:04:05.000000Z"))
}

// checkpointHeader is the first line of a checkpoint's text.
const checkpointHeader = "ward audit checkpoint v1"

// MarshalText returns the checkpoint as text: Message followed by a line
// "signature " and the signature in standard base64. Keeping these texts
// outside the database (as "ward admin audit checkpoint" prints them) lets
// Verify detect even the deletion of the checkpoints stored in it.
func (c Checkpoint) MarshalText() ([]byte, error) {
	return fmt.Appendf(c.Message(), "signature %s\n", base64.StdEncoding.EncodeToString(c.Signature)), nil
}

// ParseCheckpoints reads checkpoints in their text form (MarshalText),
// one after another, blank lines between them allowed. It checks their
// form, not their signatures.
func ParseCheckpoints(text []byte) ([]Checkpoint, error) {
	var (
		cps   []Checkpoint
		block []string
	)
	for i, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if block = append(block, line); len(block) < 5 {
			continue
		}
		c, err := parseCheckpoint(block)
		if err != nil {
			return nil, core.Errorf(core.ErrInvalid, "checkpoint ending on line %d: %v", i+1, err)
		}
		cps, block = append(cps, c), nil
	}
	if len(block) > 0 {
		return nil, core.Errorf(core.ErrInvalid, "incomplete checkpoint at the end")
	}
	return cps, nil
}

func parseCheckpoint(lines []string) (Checkpoint, error) {
	var c Checkpoint
	if lines[0] != checkpointHeader {
		return c, fmt.Errorf("first line is not %q", checkpointHeader)
	}
	var v [4]string
	for i, name := range []string{"seq", "hash", "time", "signature"} {
		var ok bool
		if v[i], ok = strings.CutPrefix(lines[i+1], name+" "); !ok {
			return c, fmt.Errorf("its line %d is not %q and a value", i+2, name)
		}
	}
	var err error
	if c.Seq, err = strconv.ParseInt(v[0], 10, 64); err != nil || c.Seq < 0 {
		return c, fmt.Errorf("seq %q is not a number", v[0])
	}
	if err := c.Hash.UnmarshalText([]byte(v[1])); err != nil {
		return c, err
	}
	if c.At, err = time.Parse(time.RFC3339Nano, v[2]); err != nil {
		return c, err
	}
	// The length too: a signature cut at a multiple of 4 characters (a
	// torn line) is still base64, and would fail Verify as forged.
	if c.Signature, err = base64.StdEncoding.Strict().DecodeString(v[3]); err != nil || len(c.Signature) != ed25519.SignatureSize {
		return c, errors.New("signature is not an Ed25519 signature in base64")
	}
	return c, nil
}

// Valid reports whether the checkpoint is signed by the key pub.
func (c Checkpoint) Valid(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, c.Message(), c.Signature)
}

// Checkpoint signs the chain's current head with the Log's key and stores
// the checkpoint in the database and, unless this Log appended a line of
// the same head already, in the Log's CheckpointFile: the file grows only
// when the trail does. Make one periodically (every few minutes on a
// server, and after administrative work) and keep the signing key off the
// database server.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.key == nil {
		return Checkpoint{}, errors.New("audit checkpoint: no signing key")
	}
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Seq: head.Seq, Hash: head.Hash, At: l.Clock.Now()}
	c.Signature = ed25519.Sign(l.key, c.Message())
	// The file first: it is the copy that someone with access to the
	// database cannot delete. A failure of either is an error, but the
	// other copy is still made.
	var ferr error
	if l.CheckpointFile != "" {
		ferr = l.file(head, c)
	}
	if err := l.store.AddAuditCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, errors.Join(ferr, fmt.Errorf("storing audit checkpoint: %w", err))
	}
	if ferr != nil {
		return Checkpoint{}, ferr
	}
	return c, nil
}

// file appends c, a checkpoint of head, to the Log's CheckpointFile
// unless the last line the Log appended there is of the same head.
func (l *Log) file(head Head, c Checkpoint) error {
	l.filedMu.Lock()
	defer l.filedMu.Unlock()
	if l.filedOK && l.filed == head {
		return nil
	}
	if err := AppendCheckpointFile(l.CheckpointFile, c); err != nil {
		return err
	}
	l.filed, l.filedOK = head, true
	return nil
}

// The signing key file is the key in PKCS #8 (RFC 8410), PEM-encoded as
// "PRIVATE KEY", as "openssl genpkey -algorithm ed25519" writes it; the
// public key is PKIX, PEM-encoded as "PUBLIC KEY".
const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// LoadOrCreateSigningKey reads the checkpoint signing key from the file at
// path, or if there is none creates a new key there, readable only by its
// owner, and reports that it did. (The transparency logs' key is kept
// the same way.)
func LoadOrCreateSigningKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = loadSigningKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // created meanwhile by another process
		key, err = loadSigningKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating signing key: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: pemPrivate, Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("writing signing key %s: %w", path, err)
	}
	return key, true, nil
}

func loadSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != pemPrivate {
		return nil, fmt.Errorf("%s: not a PEM %q block", path, pemPrivate)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	key, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 private key", path)
	}
	return key, nil
}

// LoadPublicKey reads the public key that checks checkpoints from the file
// at path: a public key as MarshalPublicKey writes it, or the signing key
// itself.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	switch {
	case blk == nil:
	case blk.Type == pemPublic:
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if pub, ok := k.(ed25519.PublicKey); err == nil && ok {
			return pub, nil
		}
	case blk.Type == pemPrivate:
		key, err := loadSigningKey(path)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("%s: not a PEM Ed25519 public or private key", path)
}

// MarshalPublicKey returns pub PEM-encoded, as LoadPublicKey reads it.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // only for key types other than Ed25519's
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der})
}
