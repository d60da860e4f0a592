package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardhq/ward/internal/core"
)

// algCosignatureV1 is the signature type byte of Ed25519 cosignatures
// (c2sp.org/tlog-cosignature), in key IDs and verifier keys.
const algCosignatureV1 = 0x04

// A Signer makes timestamped Ed25519 cosignatures (cosignature/v1) of
// checkpoints. It is a note.Signer, so note.Sign adds its signature line
// to a checkpoint.
type Signer struct {
	name  string
	hash  uint32
	key   ed25519.PrivateKey
	Clock core.Clock // the time each cosignature states; nil is the system's
}

var _ note.Signer = (*Signer)(nil)

// GenerateKey returns a new cosigner key named name, as the private key
// text that NewSigner reads and the verifier key (vkey) that NewVerifier
// reads and that logs and their clients are configured with.
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("witness name %q: want a non-empty name without spaces or '+'", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	k := append([]byte{algCosignatureV1}, pub...)
	h := keyHash(name, k)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
	return skey, verifierKey(name, pub), nil
}

// NewSigner returns the signer of the private key text skey, as
// GenerateKey makes it: PRIVATE+KEY+NAME+HASH+BASE64(0x04 || seed).
func NewSigner(skey string) (*Signer, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("not a witness private key (PRIVATE+KEY+NAME+HASH+KEY)")
	}
	name, hash16, b64 := parts[2], parts[3], parts[4]
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(b64)
	if err1 != nil || err2 != nil || len(hash16) != 8 || !validName(name) || len(key) != 1+ed25519.SeedSize || key[0] != algCosignatureV1 {
		return nil, errors.New("malformed witness private key")
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	pub := priv.Public().(ed25519.PublicKey)
	if uint32(hash) != keyHash(name, append([]byte{algCosignatureV1}, pub...)) {
		return nil, errors.New("witness private key: the key hash does not match the key")
	}
	return &Signer{name: name, hash: uint32(hash), key: priv}, nil
}

// Name returns the witness's name.
func (s *Signer) Name() string { return s.name }

// KeyHash returns the key ID of the signatures.
func (s *Signer) KeyHash() uint32 { return s.hash }

// VerifierKey returns the verifier key (vkey) of the signer.
func (s *Signer) VerifierKey() string {
	return verifierKey(s.name, s.key.Public().(ed25519.PublicKey))
}

// Sign cosigns checkpoint, the text of a note (a checkpoint body), as of
// the signer's clock: the result is the 8-byte big-endian timestamp
// followed by the Ed25519 signature of "cosignature/v1\ntime T\n" and
// checkpoint.
func (s *Signer) Sign(checkpoint []byte) ([]byte, error) {
	if _, err := ParseCheckpoint(string(checkpoint)); err != nil {
		return nil, fmt.Errorf("cosigning: %w", err)
	}
	t := uint64(s.Clock.Now().Unix())
	sig := binary.BigEndian.AppendUint64(nil, t)
	return append(sig, ed25519.Sign(s.key, signedMessage(t, checkpoint))...), nil
}

func signedMessage(t uint64, checkpoint []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), checkpoint...)
}

// NewVerifier returns the note.Verifier of the cosignatures of the
// verifier key vkey (NAME+HASH+BASE64(0x04 || public key)).
func NewVerifier(vkey string) (note.Verifier, error) {
	name, hash16, b64, ok := splitVerifierKey(strings.TrimSpace(vkey))
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(b64)
	switch {
	case !ok || err1 != nil || err2 != nil || len(hash16) != 8 || !validName(name) || len(key) == 0:
		return nil, fmt.Errorf("malformed witness key %q (want NAME+HASH+KEY)", vkey)
	case key[0] != algCosignatureV1:
		return nil, fmt.Errorf("witness key %q is not an Ed25519 cosignature key (type 0x04)", vkey)
	case len(key) != 1+ed25519.PublicKeySize:
		return nil, fmt.Errorf("malformed witness key %q", vkey)
	case uint32(hash) != keyHash(name, key):
		return nil, fmt.Errorf("witness key %q: the key hash does not match the key", vkey)
	}
	return &verifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

type verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *verifier) Name() string    { return v.name }
func (v *verifier) KeyHash() uint32 { return v.hash }

func (v *verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.key, signedMessage(t, msg), sig[8:])
}

// Timestamp returns the time a cosignature states it was made at.
func Timestamp(sig note.Signature) (time.Time, error) {
	b, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(b) != 4+8+ed25519.SignatureSize {
		return time.Time{}, errors.New("malformed cosignature")
	}
	t := binary.BigEndian.Uint64(b[4:])
	if t > 1<<63-1 {
		return time.Time{}, errors.New("malformed cosignature")
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

func verifierKey(name string, pub ed25519.PublicKey) string {
	k := append([]byte{algCosignatureV1}, pub...)
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, k), base64.StdEncoding.EncodeToString(k))
}

// splitVerifierKey splits NAME+HASH+KEY; the base64 key may itself hold
// '+', the name may not.
func splitVerifierKey(vkey string) (name, hash, key string, ok bool) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, key, ok2 := strings.Cut(rest, "+")
	return name, hash, key, ok1 && ok2
}

// keyHash is a key's ID in signature lines (c2sp.org/signed-note).
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName is the rule of c2sp.org/signed-note for key names.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}
