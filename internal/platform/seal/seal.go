// Package seal encrypts records at rest with envelope encryption, as
// described in NIST SP 800-57 Part 1 (key-wrapping keys and data keys) and
// done by Google Tink's envelope AEAD and cloud KMS services: every sealed
// record has its own random AES-256 data key; the payload is encrypted with
// it using AES-256-GCM (NIST SP 800-38D); the data key is stored in the
// database only wrapped, that is AES-256-GCM-encrypted with a master key
// that is never stored there. A copy of the database alone therefore
// reveals no sealed payload.
//
// Rotating the master key re-wraps the data keys (RotateDataKeys) and never
// touches the payloads, so its cost depends on the number of sealed
// records, not on their size.
//
// # Sealed format
//
// A sealed blob is
//
//	byte 0      format version, 1
//	bytes 1-8   ID of the data key (DataKeyStore), big-endian
//	bytes 9-20  GCM nonce, random
//	bytes 21-   AES-256-GCM ciphertext of the payload, with its 16-byte tag
//
// The GCM associated data is bytes 0-8 followed by the associated data
// given to Seal, which should name where the blob is stored (for example
// "users.email:42"): a blob copied to another record does not open there.
// A wrapped data key is a random 12-byte nonce followed by the AES-256-GCM
// ciphertext of the key under the master key, with associated data
// "ward data key", a zero byte and the master key's version ("v1").
//
// # Segmented format
//
// A large payload, such as a report's file, is sealed in segments
// (SealSegments), so that it can be opened and sent on a segment at a
// time in bounded memory: segments of SegmentSize bytes of plaintext, the
// last one shorter (empty for an empty payload), all under one new data
// key. Each segment is a blob
//
//	byte 0      format version, 2
//	bytes 1-8   ID of the data key, big-endian
//	bytes 9-20  GCM nonce, random
//	bytes 21-   AES-256-GCM ciphertext of the segment, with its 16-byte tag
//
// whose GCM associated data is bytes 0-8, the segment's index (4 bytes,
// big-endian, from 0), one byte that is 1 for the last segment and 0 for
// the others, and the associated data given to SealSegments. Segments
// therefore cannot be reordered, moved to another record, or dropped from
// the end (a truncated payload's new last segment was not sealed as last)
// without OpenSegment failing: the STREAM construction of online
// authenticated encryption (Hoang, Reyhanitabar, Rogaway and Vizar, 2015),
// as age seals its payload. Nor can segments of two sealings of the same
// record be spliced: each sealing has its own data key, whose ID is
// authenticated, and OpenSegment requires that of segment 0 (SegmentKey).
//
// # Blind indexes
//
// BlindIndex computes HMAC-SHA256 (RFC 2104) of a value under a 32-byte key
// derived with HKDF-SHA256 (RFC 5869) from the keyring's index key, with no
// salt and the info "ward blind index", a zero byte and a domain such as
// "users.email", so that a record can be found by equality ("the user with
// this e-mail address") without the value being stored in clear.
package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// DataKeyStore keeps wrapped data keys. Package store implements it.
type DataKeyStore interface {
	// AddDataKey stores a data key wrapped by the master key of version
	// masterVersion and returns its ID, which is positive.
	AddDataKey(ctx context.Context, masterVersion string, wrapped []byte) (int64, error)
	// DataKey returns the data key id as stored: the version of the master
	// key that wrapped it, and the wrapped key. It returns an error
	// wrapping core.ErrNotFound if there is none.
	DataKey(ctx context.Context, id int64) (masterVersion string, wrapped []byte, err error)
	// RewrapDataKeys replaces each data key not wrapped by master key
	// version current with rewrap's result, which is wrapped by current,
	// and returns how many it replaced. It may work in batches, each in
	// its own transaction, and may call rewrap more than once for a key.
	RewrapDataKeys(ctx context.Context, current string,
		rewrap func(id int64, masterVersion string, wrapped []byte) ([]byte, error)) (int, error)
	// DataKeyVersions returns, for each master key version that wraps
	// data keys, how many it wraps and the highest ID of them.
	DataKeyVersions(ctx context.Context) (map[string]VersionUse, error)
}

// VersionUse is how a master key version is used by the data keys.
type VersionUse struct {
	Keys   int64 // how many data keys it wraps
	LastID int64 // the highest ID of them
}

// ErrOpen is the error of Open for a blob that does not open: it was
// altered, it belongs to another record (the associated data differ), or
// its data key was altered.
var ErrOpen = errors.New("sealed data does not open: altered, moved from another record, or its data key altered")

// formatV1 is the first byte of every sealed blob, formatSegment that of
// every segment.
const (
	formatV1      = 1
	formatSegment = 2
)

// SegmentSize is the plaintext size of each segment of SealSegments but
// the last.
const SegmentSize = 64 << 10

const (
	headerSize = 1 + 8 // format version, data key ID
	nonceSize  = 12    // GCM's standard nonce
	tagSize    = 16
)

// cacheSize bounds the unwrapped data keys kept in memory, 32 bytes each
// plus bookkeeping: enough for the records a busy console shows in a
// minute, small enough that a memory dump holds few keys.
const cacheSize = 4096

// A Sealer seals and opens records. It is safe for concurrent use.
type Sealer struct {
	keys   *Keyring
	store  DataKeyStore
	cache  *keyCache
	shared sharedKey
}

// NewSealer returns a Sealer that wraps data keys with k's master keys and
// keeps them in s.
func NewSealer(k *Keyring, s DataKeyStore) *Sealer {
	return &Sealer{keys: k, store: s, cache: newKeyCache(cacheSize)}
}

// Seal encrypts plaintext under a new data key and returns the sealed blob.
// The same aad must be given to Open. Seal stores the data key in its own
// transaction: call it before, not inside, the transaction that stores the
// blob (on SQLite, a call inside a write transaction would wait for that
// transaction forever). If the blob is then not stored, the orphaned data
// key reveals nothing.
func (s *Sealer) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	id, dk, _, err := s.newDataKey(ctx)
	if err != nil {
		return nil, err
	}
	return seal(id, dk, plaintext, aad)
}

// A DataKey is a data key stored ahead of the one blob it seals, for a
// blob sealed inside a transaction, whose associated data (such as the ID
// of the row being inserted) is known only there: DataKey.Seal stores
// nothing, so it does not wait for the transaction it runs in.
type DataKey struct {
	id  int64
	key []byte
}

// NewDataKey makes and stores, in its own transaction, a data key for one
// blob. If the blob is then not stored, the orphaned key reveals nothing.
func (s *Sealer) NewDataKey(ctx context.Context) (*DataKey, error) {
	id, dk, _, err := s.newDataKey(ctx)
	if err != nil {
		return nil, err
	}
	return &DataKey{id: id, key: dk}, nil
}

// Seal encrypts plaintext as Sealer.Seal does, under k; Sealer.Open opens
// the blob.
func (k *DataKey) Seal(plaintext, aad []byte) ([]byte, error) {
	return seal(k.id, k.key, plaintext, aad)
}

// Shared data keys: at most sharedUses blobs and sharedTTL per key. GCM
// with random nonces stays far from its 2^32 messages per key.
const (
	sharedUses = 4096
	sharedTTL  = time.Minute
)

// sharedKey is the data key SealShared currently uses.
type sharedKey struct {
	mu      sync.Mutex
	id      int64
	key     []byte
	version string // the master key version that wraps it
	uses    int
	made    time.Time
}

// SealShared is Seal for records that arrive by the thousand per second
// (provider reports at intake): it reuses one data key for up to 4096
// blobs or a minute, so that sealing seldom costs a transaction of its
// own. Such a blob cannot be destroyed by deleting its data key alone
// (others share it): delete the blob itself, as retention does. A master
// key rotation starts a new shared key.
func (s *Sealer) SealShared(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	sk := &s.shared
	sk.mu.Lock()
	version, _ := s.keys.current()
	if sk.key == nil || sk.uses >= sharedUses || time.Since(sk.made) > sharedTTL || sk.version != version {
		id, dk, v, err := s.newDataKey(ctx)
		if err != nil {
			sk.mu.Unlock()
			return nil, err
		}
		sk.id, sk.key, sk.version, sk.uses, sk.made = id, dk, v, 0, time.Now()
	}
	sk.uses++
	id, dk := sk.id, sk.key
	sk.mu.Unlock()
	return seal(id, dk, plaintext, aad)
}

// newDataKey makes a data key, stores it wrapped by the current master key
// and returns its ID, the key and the master key's version.
func (s *Sealer) newDataKey(ctx context.Context) (int64, []byte, string, error) {
	dk := randomKey()
	version, master := s.keys.current()
	wrapped, err := wrapKey(master, version, dk)
	if err != nil {
		return 0, nil, "", err
	}
	id, err := s.store.AddDataKey(ctx, version, wrapped)
	if err != nil {
		return 0, nil, "", fmt.Errorf("storing data key: %w", err)
	}
	s.cache.put(id, dk)
	return id, dk, version, nil
}

// seal encrypts plaintext under data key dk, whose ID is id.
func seal(id int64, dk, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+tagSize)
	out[0] = formatV1
	binary.BigEndian.PutUint64(out[1:headerSize], uint64(id))
	rand.Read(out[headerSize:])
	g, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	return g.Seal(out, out[headerSize:], plaintext, payloadAAD(out[:headerSize], aad)), nil
}

// Open decrypts a blob made by Seal with the same aad. It returns an error
// wrapping ErrOpen if the blob does not open.
func (s *Sealer) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < headerSize+nonceSize+tagSize || sealed[0] != formatV1 {
		return nil, fmt.Errorf("%w (not a sealed blob)", ErrOpen)
	}
	id := int64(binary.BigEndian.Uint64(sealed[1:headerSize]))
	dk, err := s.dataKey(ctx, id)
	if err != nil {
		return nil, err
	}
	g, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	nonce, ct := sealed[headerSize:headerSize+nonceSize], sealed[headerSize+nonceSize:]
	pt, err := g.Open(nil, nonce, ct, payloadAAD(sealed[:headerSize], aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealSegments encrypts plaintext in segments (see the package
// documentation) under a new data key and returns them in order. The same
// aad must be given to OpenSegment. As for Seal, call it before the
// transaction that stores the segments.
func (s *Sealer) SealSegments(ctx context.Context, plaintext, aad []byte) ([][]byte, error) {
	id, dk, _, err := s.newDataKey(ctx)
	if err != nil {
		return nil, err
	}
	g, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	n := max(1, (len(plaintext)+SegmentSize-1)/SegmentSize)
	segs := make([][]byte, n)
	for i := range n {
		chunk := plaintext[i*SegmentSize : min(len(plaintext), (i+1)*SegmentSize)]
		out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(chunk)+tagSize)
		out[0] = formatSegment
		binary.BigEndian.PutUint64(out[1:headerSize], uint64(id))
		rand.Read(out[headerSize:])
		segs[i] = g.Seal(out, out[headerSize:], chunk, segmentAAD(out[:headerSize], i, i == n-1, aad))
	}
	return segs, nil
}

// SegmentKey returns the ID of the data key of a segment made by
// SealSegments, which names its sealing: each has a new data key. It
// returns an error wrapping ErrOpen if sealed is not a segment.
func SegmentKey(sealed []byte) (int64, error) {
	if len(sealed) < headerSize+nonceSize+tagSize || sealed[0] != formatSegment {
		return 0, fmt.Errorf("%w (not a sealed segment)", ErrOpen)
	}
	return int64(binary.BigEndian.Uint64(sealed[1:headerSize])), nil
}

// OpenSegment decrypts segment index of a payload sealed by SealSegments
// with the same aad; last says whether the caller expects it to be the
// payload's last segment, key is SegmentKey of the payload's segment 0.
// It returns an error wrapping ErrOpen if the segment does not open, is
// not segment index, is or is not the last against last, or is of
// another sealing (another key) than segment 0.
func (s *Sealer) OpenSegment(ctx context.Context, sealed, aad []byte, index int, last bool, key int64) ([]byte, error) {
	id, err := SegmentKey(sealed)
	if err != nil {
		return nil, err
	}
	if id != key {
		return nil, fmt.Errorf("%w (segment %d is of another sealing than segment 0)", ErrOpen, index)
	}
	dk, err := s.dataKey(ctx, id)
	if err != nil {
		return nil, err
	}
	g, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	nonce, ct := sealed[headerSize:headerSize+nonceSize], sealed[headerSize+nonceSize:]
	pt, err := g.Open(nil, nonce, ct, segmentAAD(sealed[:headerSize], index, last, aad))
	if err != nil {
		return nil, fmt.Errorf("%w (segment %d)", ErrOpen, index)
	}
	return pt, nil
}

// segmentAAD is the associated data of a segment: its header, index and
// last flag, then the caller's.
func segmentAAD(header []byte, index int, last bool, aad []byte) []byte {
	b := make([]byte, 0, headerSize+5+len(aad))
	b = append(b, header[:headerSize]...)
	b = binary.BigEndian.AppendUint32(b, uint32(index))
	if last {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, aad...)
}

// dataKey returns the unwrapped data key id, from the cache if it is there.
func (s *Sealer) dataKey(ctx context.Context, id int64) ([]byte, error) {
	if dk, ok := s.cache.get(id); ok {
		return dk, nil
	}
	version, wrapped, err := s.store.DataKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading data key %d: %w", id, err)
	}
	dk, err := s.unwrap(id, version, wrapped)
	if err != nil {
		return nil, err
	}
	s.cache.put(id, dk)
	return dk, nil
}

func (s *Sealer) unwrap(id int64, version string, wrapped []byte) ([]byte, error) {
	master := s.keys.master(version)
	if master == nil {
		return nil, fmt.Errorf("data key %d is wrapped by master key %s, which the keyring lacks", id, version)
	}
	dk, err := unwrapKey(master, version, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: data key %d does not unwrap with master key %s (the stored key was altered, or the keyring's %s is another key)",
			ErrOpen, id, version, version)
	}
	return dk, nil
}

// RotateDataKeys re-wraps every data key that is not wrapped by the current
// master key with the current one, and returns how many it re-wrapped.
// Sealed payloads are not read or changed. Once it has returned, and
// DataKeyVersions shows no data key under an older version, that version
// can be removed from the keyring file.
//
// Servers that still run with the keyring as it was before Keyring.Rotate
// cannot open data keys re-wrapped by the new master key, and wrap new ones
// with the old key: restart them with the new keyring, then run
// RotateDataKeys again, which re-wraps only what is left.
func (s *Sealer) RotateDataKeys(ctx context.Context) (int, error) {
	version, master := s.keys.current()
	n, err := s.store.RewrapDataKeys(ctx, version, func(id int64, from string, wrapped []byte) ([]byte, error) {
		dk, err := s.unwrap(id, from, wrapped)
		if err != nil {
			return nil, err
		}
		return wrapKey(master, version, dk)
	})
	if err != nil {
		return n, fmt.Errorf("re-wrapping data keys with master key %s: %w", version, err)
	}
	return n, nil
}

// DataKeyVersions returns how many data keys each master key version wraps.
func (s *Sealer) DataKeyVersions(ctx context.Context) (map[string]int64, error) {
	uses, err := s.store.DataKeyVersions(ctx)
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(uses))
	for v, u := range uses {
		counts[v] = u.Keys
	}
	return counts, nil
}

// Check reports an error unless the keyring holds every master key that
// wraps data keys in the database, which it tells by unwrapping the latest
// data key of each version. Run it at start: a keyring file replaced by a
// new one (a mistyped path, a lost file, both of which make a new keyring
// with a key v1) would otherwise go unnoticed until something sealed
// before fails to open, while new records are sealed with the wrong key.
func (s *Sealer) Check(ctx context.Context) error {
	uses, err := s.store.DataKeyVersions(ctx)
	if err != nil {
		return err
	}
	var wrong []string
	for v, u := range uses {
		if s.keys.master(v) == nil {
			wrong = append(wrong, fmt.Sprintf("%s (missing; it wraps %d data key(s))", v, u.Keys))
			continue
		}
		_, wrapped, err := s.store.DataKey(ctx, u.LastID)
		if err != nil {
			return err
		}
		if _, err := s.unwrap(u.LastID, v, wrapped); errors.Is(err, ErrOpen) {
			wrong = append(wrong, fmt.Sprintf("%s (a different key from the one that wraps %d data key(s))", v, u.Keys))
		} else if err != nil {
			return err
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		return fmt.Errorf("the keyring lacks master keys that wrap data keys in the database: %s; it is not the keyring the data was sealed with",
			strings.Join(wrong, ", "))
	}
	return nil
}

// BlindIndex returns a keyed hash of value for equality lookups in domain,
// which names what is indexed (such as "users.email"): equal values in the
// same domain have equal indexes, and without the index key an index
// reveals nothing of its value, nor whether two domains hold the same
// value. The caller normalises value first (for example, lower-cases an
// e-mail address). Values with few possibilities, such as birth dates,
// remain guessable by whoever holds the index key.
func (s *Sealer) BlindIndex(domain string, value []byte) []byte {
	key, err := hkdf.Key(sha256.New, s.keys.indexKey(), nil, "ward blind index\x00"+domain, KeySize)
	if err != nil {
		panic(err) // only for a length HKDF-SHA256 cannot produce, and KeySize is not one
	}
	m := hmac.New(sha256.New, key)
	m.Write(value)
	return m.Sum(nil)
}

// payloadAAD is the associated data of a payload: the blob's header, which
// is of fixed size, followed by the caller's.
func payloadAAD(header, aad []byte) []byte {
	return append(header[:headerSize:headerSize], aad...)
}

func wrapAAD(version string) []byte { return []byte("ward data key\x00" + version) }

func wrapKey(master []byte, version string, dk []byte) ([]byte, error) {
	g, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	out := make([]byte, nonceSize, nonceSize+len(dk)+tagSize)
	rand.Read(out)
	return g.Seal(out, out, dk, wrapAAD(version)), nil
}

func unwrapKey(master []byte, version string, wrapped []byte) ([]byte, error) {
	if len(wrapped) != nonceSize+KeySize+tagSize {
		return nil, errors.New("wrapped data key has the wrong size")
	}
	g, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	return g.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAAD(version))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
