package witness

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the body of a checkpoint note (c2sp.org/tlog-checkpoint):
// the log's origin, its size and root hash, and any extension lines.
type Checkpoint struct {
	Origin string
	tlog.Tree
	// Extension is "" or lines, each non-empty and ending in "\n".
	Extension string
}

// maxCheckpoint bounds the text of a checkpoint read from the network.
const maxCheckpoint = 1 << 20

var errMalformedCheckpoint = errors.New("malformed checkpoint")

// ParseCheckpoint parses the body of a checkpoint note (without its
// signatures).
func ParseCheckpoint(text string) (Checkpoint, error) {
	if len(text) > maxCheckpoint || strings.Count(text, "\n") < 3 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errMalformedCheckpoint
	}
	lines := strings.SplitN(text, "\n", 4)
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if lines[0] == "" || err != nil || n < 0 || lines[1] != strconv.FormatInt(n, 10) {
		return Checkpoint{}, errMalformedCheckpoint
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, errMalformedCheckpoint
	}
	for rest := lines[3]; rest != ""; {
		line, after, _ := strings.Cut(rest, "\n")
		if line == "" {
			return Checkpoint{}, errMalformedCheckpoint
		}
		rest = after
	}
	c := Checkpoint{Origin: lines[0], Extension: lines[3]}
	c.N = n
	copy(c.Hash[:], h)
	return c, nil
}

// String returns the checkpoint body.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s\n%d\n%s\n%s", c.Origin, c.N, base64.StdEncoding.EncodeToString(c.Hash[:]), c.Extension)
}

// OpenCheckpoint verifies the signed checkpoint note msg with the log's key and
// parses its body. The note's other signatures, cosignatures among them,
// are in the note's UnverifiedSigs.
func OpenCheckpoint(msg []byte, logKey note.Verifier) (Checkpoint, *note.Note, error) {
	if len(msg) > maxCheckpoint {
		return Checkpoint{}, nil, errMalformedCheckpoint
	}
	n, err := note.Open(msg, note.VerifierList(logKey))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, nil, fmt.Errorf("the checkpoint is not signed by the log's key %s", logKey.Name())
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return Checkpoint{}, nil, fmt.Errorf("the checkpoint's signature by the log's key %s does not verify", logKey.Name())
		}
		return Checkpoint{}, nil, fmt.Errorf("%w: not a signed note (%v)", errMalformedCheckpoint, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	return c, n, nil
}

// Cosigned returns the names of the witnesses, among witnesses, whose
// cosignature of n verifies; a signature line that claims a witness's key
// but does not verify is not counted.
func Cosigned(n *note.Note, witnesses []note.Verifier) []string {
	var names []string
	for _, w := range witnesses {
		for _, s := range n.UnverifiedSigs {
			if verifySig(n.Text, s, w) {
				names = append(names, w.Name())
				break
			}
		}
	}
	return names
}

// verifySig reports whether s is v's valid signature of the note text.
func verifySig(text string, s note.Signature, v note.Verifier) bool {
	if s.Name != v.Name() {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s.Base64)
	return err == nil && len(b) > 4 && binary.BigEndian.Uint32(b) == v.KeyHash() && v.Verify([]byte(text), b[4:])
}

// SignatureLines returns the signature lines of the signed note msg (each
// "— NAME BASE64\n"), which is how a witness answers and how a log adds
// cosignatures to its checkpoint.
func SignatureLines(msg []byte) ([]byte, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, errMalformedCheckpoint
	}
	return msg[i+2:], nil
}
