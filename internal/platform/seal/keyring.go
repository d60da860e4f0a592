package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// KeySize is the size in bytes of every key in a keyring: AES-256 master
// keys and the HMAC-SHA256 blind-index key.
const KeySize = 32

// A Keyring holds the master keys that wrap data keys and the key of blind
// indexes. Master keys are numbered v1, v2, ...; the highest is current and
// wraps every new data key, the others only open data keys wrapped before a
// rotation. The index key is never rotated: the blind indexes stored in the
// database were computed with it, and a new key would make every lookup
// miss.
//
// Its text form, in a keyring file or the environment variable
// WARD_MASTER_KEY, is a sequence of tokens separated by white space (so it
// fits on one line), with comments from # to the end of a line:
//
//	# Ward keyring
//	index:BASE64
//	master:v1:BASE64
//	master:v2:BASE64
//
// where BASE64 is 32 bytes in standard base64 with padding (44
// characters). There is exactly one index key and at least one master key.
//
// A Keyring is safe for concurrent use.
type Keyring struct {
	mu sync.RWMutex
	// index is the blind-index key.
	index []byte
	// masters are sorted by version, ascending, with distinct versions;
	// the last is current.
	masters []masterKey
}

type masterKey struct {
	version int // N of "vN", >= 1
	key     []byte
}

func versionName(v int) string { return "v" + strconv.Itoa(v) }

// parseVersion reads "vN" with N a positive decimal number.
func parseVersion(s string) (int, bool) {
	digits, ok := strings.CutPrefix(s, "v")
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// NewKeyring returns a keyring with a new random index key and master
// key v1.
func NewKeyring() *Keyring {
	return &Keyring{
		index:   randomKey(),
		masters: []masterKey{{version: 1, key: randomKey()}},
	}
}

func randomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails: see crypto/rand.Read
	return k
}

// KeyringFromString parses a keyring in its text form (see Keyring). The
// error never quotes the text, which holds secrets.
func KeyringFromString(s string) (*Keyring, error) {
	k := &Keyring{}
	for i, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, tok := range strings.Fields(line) {
			if err := k.add(tok); err != nil {
				return nil, fmt.Errorf("keyring line %d: %w", i+1, err)
			}
		}
	}
	if k.index == nil {
		return nil, errors.New("keyring has no index key (index:BASE64)")
	}
	if len(k.masters) == 0 {
		return nil, errors.New("keyring has no master key (master:v1:BASE64)")
	}
	slices.SortFunc(k.masters, func(a, b masterKey) int { return a.version - b.version })
	return k, nil
}

// add parses one token of the text form into k.
func (k *Keyring) add(tok string) error {
	kind, rest, _ := strings.Cut(tok, ":")
	switch kind {
	case "index":
		if k.index != nil {
			return errors.New("second index key")
		}
		key, err := decodeKey(rest)
		if err != nil {
			return fmt.Errorf("index key: %w", err)
		}
		k.index = key
	case "master":
		name, b64, _ := strings.Cut(rest, ":")
		v, ok := parseVersion(name)
		if !ok {
			return errors.New(`master key version is not "v" and a number, as in master:v1:BASE64`)
		}
		if slices.ContainsFunc(k.masters, func(m masterKey) bool { return m.version == v }) {
			return fmt.Errorf("second master key %s", name)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return fmt.Errorf("master key %s: %w", name, err)
		}
		k.masters = append(k.masters, masterKey{version: v, key: key})
	default:
		return errors.New("token is neither index:BASE64 nor master:vN:BASE64")
	}
	return nil
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("not %d bytes in standard base64", KeySize)
	}
	return key, nil
}

// LoadKeyring reads a keyring file.
func LoadKeyring(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := KeyringFromString(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// CreateKeyringFile creates a keyring file at path holding a new keyring
// (see NewKeyring), readable only by its owner, and returns the keyring. It
// fails if the file exists: overwriting a keyring makes everything sealed
// with it unreadable.
func CreateKeyringFile(path string) (*Keyring, error) {
	k := NewKeyring()
	tmp, err := writeTemp(path, k.encode())
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// A hard link, unlike a rename, fails if path exists, and like a
	// rename never leaves a half-written file at path.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("creating keyring %s: a file exists there already", path)
		}
		return nil, fmt.Errorf("creating keyring: %w", err)
	}
	return k, syncDir(path)
}

// Save writes the keyring to the file at path, replacing it atomically:
// after a crash the file holds either the old keyring or the new one. The
// file is readable only by its owner.
func (k *Keyring) Save(path string) error {
	tmp, err := writeTemp(path, k.encode())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving keyring: %w", err)
	}
	return syncDir(path)
}

// writeTemp writes b to a new file, mode 0600 and synced, in the directory
// of path, and returns its name.
func writeTemp(path string, b []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing keyring: %w", err)
	}
	err = f.Chmod(0o600) // CreateTemp's mode already, unless the platform differs
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing keyring: %w", err)
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// encode returns the text form of k.
func (k *Keyring) encode() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var b strings.Builder
	b.WriteString(`# Ward keyring: the master keys that wrap data keys, and the blind-index key.
# Keep it secret and backed up apart from the database: without it nothing
# sealed in the database can be read. The highest master version is current;
# an older one may be removed once "ward admin keys rotate" has re-wrapped
# every data key (and no backup that still needs it is kept).
`)
	fmt.Fprintf(&b, "index:%s\n", base64.StdEncoding.EncodeToString(k.index))
	for _, m := range k.masters {
		fmt.Fprintf(&b, "master:%s:%s\n", versionName(m.version), base64.StdEncoding.EncodeToString(m.key))
	}
	return []byte(b.String())
}

// Rotate adds a new master key, which becomes current, and returns its
// version. Save the keyring before sealing anything with it, and run
// Sealer.RotateDataKeys to re-wrap the existing data keys.
func (k *Keyring) Rotate() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	v := k.masters[len(k.masters)-1].version + 1
	k.masters = append(k.masters, masterKey{version: v, key: randomKey()})
	return versionName(v)
}

// Current returns the version of the current master key.
func (k *Keyring) Current() string {
	v, _ := k.current()
	return v
}

// Versions returns the versions of the master keys, oldest first.
func (k *Keyring) Versions() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	vs := make([]string, len(k.masters))
	for i, m := range k.masters {
		vs[i] = versionName(m.version)
	}
	return vs
}

// String describes the keyring without its keys, so that printing one by
// mistake reveals nothing.
func (k *Keyring) String() string {
	return fmt.Sprintf("seal.Keyring{masters: %s; current: %s}", strings.Join(k.Versions(), ", "), k.Current())
}

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }

func (k *Keyring) current() (string, []byte) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	m := k.masters[len(k.masters)-1]
	return versionName(m.version), m.key
}

// master returns the master key of a version, or nil.
func (k *Keyring) master(version string) []byte {
	v, ok := parseVersion(version)
	if !ok {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	i := slices.IndexFunc(k.masters, func(m masterKey) bool { return m.version == v })
	if i < 0 {
		return nil
	}
	return k.masters[i].key
}

func (k *Keyring) indexKey() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.index
}
