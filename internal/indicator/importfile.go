package indicator

import (
	"fmt"
	"io"
	"os"
)

// ImportFile is an import read from a file or from standard input, which
// can be read a second time after Rewind if it was opened to be checked
// first (CheckImport) and then imported. Input that cannot seek (standard
// input, a pipe) is then copied to a temporary file as it is read the
// first time.
type ImportFile struct {
	io.Reader
	name  string
	file  *os.File // the named file; nil for standard input
	again *os.File // what Rewind reads: file itself, or a temporary copy
}

// OpenImportFile opens file name, or stdin for "-"; twice makes it
// readable again after Rewind.
func OpenImportFile(name string, stdin io.Reader, twice bool) (*ImportFile, error) {
	in := &ImportFile{Reader: stdin, name: name}
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		in.Reader, in.file = f, f
	}
	if !twice {
		return in, nil
	}
	if fi, err := in.file.Stat(); err == nil && fi.Mode().IsRegular() {
		in.again = in.file
		return in, nil
	}
	tmp, err := os.CreateTemp("", "ward-import-*")
	if err != nil {
		in.Close()
		return nil, err
	}
	os.Remove(tmp.Name()) // it lives until closed, and nothing is left behind
	in.again = tmp
	in.Reader = io.TeeReader(in.Reader, tmp)
	return in, nil
}

// Source names the input for people: its file name, or "standard input".
func (in *ImportFile) Source() string {
	if in.name == "-" {
		return "standard input"
	}
	return in.name
}

// Rewind makes the input read from its start again.
func (in *ImportFile) Rewind() error {
	if _, err := in.again.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading the import again: %w", err)
	}
	in.Reader = in.again
	return nil
}

// Close closes the file and removes the temporary copy.
func (in *ImportFile) Close() error {
	if in.again != nil && in.again != in.file {
		in.again.Close()
	}
	if in.file != nil {
		return in.file.Close()
	}
	return nil
}
