package translog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size (number of entries) and the RFC 6962 hash of its tree.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Marshal returns the checkpoint's text, which its signed note carries:
//
//	ORIGIN\nSIZE\nBASE64(ROOT)\n
//
// with SIZE in decimal and ROOT in standard base64. Ward adds no extension
// lines, so the text of a size is the same on every server and at every
// time, and witnesses' cosignatures of it stay valid.
func (c Checkpoint) Marshal() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads the text of a checkpoint (a signed note's Text).
// Extension lines after the root are allowed, as C2SP says, and ignored.
func ParseCheckpoint(text string) (Checkpoint, error) {
	bad := func(format string, a ...any) (Checkpoint, error) {
		return Checkpoint{}, core.Errorf(core.ErrInvalid, "checkpoint: %s", fmt.Sprintf(format, a...))
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return bad("want origin, size and root hash, each on a line ended by a newline")
	}
	var c Checkpoint
	c.Origin = strings.TrimSuffix(lines[0], "\n")
	if err := CheckOrigin(c.Origin); err != nil {
		return Checkpoint{}, err
	}
	size := strings.TrimSuffix(lines[1], "\n")
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != size {
		return bad("size %q is not a decimal number", size)
	}
	c.Size = n
	root, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != tlog.HashSize {
		return bad("root %q is not a SHA-256 hash in base64", strings.TrimSuffix(lines[2], "\n"))
	}
	copy(c.Root[:], root)
	return c, nil
}

// CheckOrigin checks that origin can name a log, and its key in signed
// notes: not empty, valid UTF-8, no spaces, control characters or plus
// signs (C2SP signed-note's rule for key names).
func CheckOrigin(origin string) error {
	if origin == "" || len(origin) > 255 || !utf8.ValidString(origin) ||
		strings.ContainsFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' }) {
		return core.Errorf(core.ErrInvalid, "log origin %q must be 1 to 255 bytes of UTF-8 without spaces, control characters or '+' (such as ward.example.org)", clipString(origin))
	}
	return nil
}

// VerifierKey returns the note verifier key of the log named origin whose
// checkpoints key pub signs, as package note writes it:
// ORIGIN+KEYHASH+BASE64(0x01 || pub). Give it to note.NewVerifier.
func VerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	if err := CheckOrigin(origin); err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(origin, pub)
}

// NewSigner returns the note signer of the log named origin, which signs
// with key.
func NewSigner(origin string, key ed25519.PrivateKey) (note.Signer, error) {
	vkey, err := VerifierKey(origin, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	// The signer key in the form note.GenerateKey writes it.
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, v.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{1}, key.Seed()...)))
	return note.NewSigner(skey)
}

// Sign returns c as a signed note signed by signer, whose name must be
// c's origin.
func Sign(c Checkpoint, signer note.Signer) ([]byte, error) {
	if signer.Name() != c.Origin {
		return nil, fmt.Errorf("translog: signing a checkpoint of %q with the key of %q", c.Origin, signer.Name())
	}
	return note.Sign(&note.Note{Text: string(c.Marshal())}, signer)
}

// maxCosignatures bounds the cosignatures stored for one size of a log
// (package note reads at most 100 signatures of a note).
const maxCosignatures = 50

// ParseCosignature checks a line of a signed note's signatures, as a
// witness's cosignature is added to a checkpoint: "— NAME BASE64", where
// BASE64 holds at least a key hash and one byte, without the newline. It
// returns the key's name.
func ParseCosignature(line string) (string, error) {
	bad := core.Errorf(core.ErrInvalid, "%q is not a signature line of a signed note (\"— NAME BASE64\")", clipString(line))
	rest, ok := strings.CutPrefix(line, "— ")
	if !ok || strings.ContainsAny(line, "\n\r") {
		return "", bad
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok || CheckOrigin(name) != nil {
		return "", bad
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(sig) < 5 {
		return "", bad
	}
	return name, nil
}

// withCosignatures appends the signature lines to a signed note.
func withCosignatures(signed []byte, lines []string) []byte {
	if len(lines) == 0 {
		return signed
	}
	var b bytes.Buffer
	b.Write(signed)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
