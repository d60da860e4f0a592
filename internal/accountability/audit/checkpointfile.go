package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// # Checkpoint files
//
// A checkpoint file keeps the checkpoints a node signs outside the
// database, so that someone who can write to the database (but not to the
// server's file system) cannot hide a wiped, cut or recomputed trail by
// deleting the checkpoints stored in it as well. It is append-only, one
// checkpoint a line:
//
//	ward-audit-checkpoint-v1 SEQ HASH TIME SIGNATURE
//
// with SEQ in decimal, HASH in 64 hexadecimal digits, TIME as in Message
// (RFC 3339, UTC, microseconds) and SIGNATURE the Ed25519 signature of
// Message in standard base64. The public key alone checks a line: rebuild
// Message from SEQ, HASH and TIME and verify SIGNATURE over it.
//
// Each append is one write of a whole line followed by fsync, so a crash
// can leave only the last line torn. A torn line (a last line without
// its newline, or one that does not parse, a signature of full length
// included) is skipped and reported (CheckpointFile.Damaged), never fatal:
// it holds no acknowledged checkpoint, and failing on it would fail every
// later verification. The next append first ends the torn line, so that
// the lines before it and after it stay whole.
//
// Several nodes sharing a database each write their own file; each file
// is checked on its own (a node's file holds only the checkpoints it
// signed), and "ward admin audit verify" accepts several.

// checkpointLineHeader is the first word of a checkpoint file's line.
const checkpointLineHeader = "ward-audit-checkpoint-v1"

// MarshalLine returns the checkpoint as a line of a checkpoint file,
// newline included.
func (c Checkpoint) MarshalLine() []byte {
	return fmt.Appendf(nil, "%s %d %s %s %s\n", checkpointLineHeader, c.Seq, c.Hash,
		c.At.UTC().Format("2006-01-02T15:04:05.000000Z"), base64.StdEncoding.EncodeToString(c.Signature))
}

// parseLine reads a line of a checkpoint file, newline excluded.
func parseLine(line string) (Checkpoint, error) {
	f := strings.Split(line, " ")
	if len(f) != 5 || f[0] != checkpointLineHeader {
		return Checkpoint{}, fmt.Errorf("not %q and 4 values", checkpointLineHeader)
	}
	return parseCheckpoint([]string{checkpointHeader, "seq " + f[1], "hash " + f[2], "time " + f[3], "signature " + f[4]})
}

// AppendCheckpointFile appends c to the checkpoint file at path, creating
// it (readable only by its owner) if missing, and syncs it to disk before
// returning. Appends from several processes are whole lines (one write
// with O_APPEND each).
func AppendCheckpointFile(path string, c Checkpoint) error {
	fileMu.Lock()
	defer fileMu.Unlock()
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the audit checkpoint file: %w", err)
	}
	err = appendLine(f, c.MarshalLine())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(filepath.Dir(path)) // the new file's name must last too
	}
	if err != nil {
		return fmt.Errorf("appending to the audit checkpoint file %s: %w", path, err)
	}
	return nil
}

// CheckCheckpointFile checks that this process can append to the
// checkpoint file at path, creating it empty (readable only by its owner)
// if missing, so that a server can refuse to start rather than fail at its
// first checkpoint. It writes nothing to an existing file.
func CheckCheckpointFile(path string) error {
	fileMu.Lock()
	defer fileMu.Unlock()
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		err = f.Close()
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

// fileMu orders this process's appends, so that two do not both end the
// same torn line.
var fileMu sync.Mutex

func appendLine(f *os.File, line []byte) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if n := fi.Size(); n > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, n-1); err != nil {
			return err
		}
		if last[0] != '\n' { // a torn line, from a crash during an append
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// CheckpointFile is what ReadCheckpointFile found in a checkpoint file.
type CheckpointFile struct {
	Path string
	// Lines is how many lines the file has.
	Lines int
	// Checkpoints are those with a valid signature, one for each seq and
	// hash (the latest signed), and then those whose signature fails, for
	// Verify to report. Each has From set to the file and line.
	Checkpoints []Checkpoint
	// Damaged are the numbers of the lines that are not checkpoints:
	// writes torn by a crash (or a line edited by hand), skipped.
	Damaged []int
}

// maxCheckpointLine bounds a line of a checkpoint file; a whole line is
// about 190 bytes.
const maxCheckpointLine = 1024

// ReadCheckpointFile reads the checkpoint file at path, checking the
// signatures with pub. Repeated checkpoints of an unchanged head (one at
// each start of a server, for instance) are kept once, so that memory grows with the
// number of distinct heads, not the file's age.
func ReadCheckpointFile(path string, pub ed25519.PublicKey) (*CheckpointFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cf := &CheckpointFile{Path: path}
	type key struct {
		seq  int64
		hash Hash
	}
	valid := map[key]int{} // index in cf.Checkpoints
	var bad []Checkpoint
	r := bufio.NewReader(f)
	for {
		line, err := readLine(r)
		if len(line) > 0 || err == nil {
			cf.Lines++
		}
		if len(line) > 0 {
			c, perr := parseLine(string(line))
			// A last line without its newline was not written whole,
			// even if what was written parses.
			if perr != nil || err != nil {
				cf.Damaged = append(cf.Damaged, cf.Lines)
			} else {
				c.From = fmt.Sprintf("%s line %d", path, cf.Lines)
				k := key{c.Seq, c.Hash}
				switch i, ok := valid[k]; {
				case !c.Valid(pub):
					bad = append(bad, c)
				case !ok:
					valid[k] = len(cf.Checkpoints)
					cf.Checkpoints = append(cf.Checkpoints, c)
				case c.At.After(cf.Checkpoints[i].At):
					cf.Checkpoints[i] = c
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	cf.Checkpoints = append(cf.Checkpoints, bad...)
	return cf, nil
}

// readLine returns the next line without its newline, or a part of at most
// maxCheckpointLine bytes of a longer one (the rest is skipped), and
// io.EOF after the last line.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := r.ReadSlice('\n')
		if len(line) <= maxCheckpointLine {
			line = append(line, part...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			line = line[:len(line)-1]
		}
		if len(line) > maxCheckpointLine {
			line = line[:maxCheckpointLine]
		}
		return bytes.TrimRight(line, "\r"), err
	}
}
