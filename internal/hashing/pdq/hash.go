package pdq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a 256-bit PDQ hash. As text it is 64 hex digits, most significant
// first, which is the reference's order: its sixteen 16-bit words w[15]..w[0].
// Hash[0] holds the first 16 hex digits (w[15]..w[12]) and Hash[3] the last.
// Bit k of the hash (k = 16*row + column of the 16x16 DCT) is therefore bit
// k%64 of Hash[3-k/64].
type Hash [4]uint64

// HexLen is the length of a hash in hex.
const HexLen = 64

// Errors returned by ParseHex.
var (
	ErrHashLength = errors.New("a PDQ hash is 64 hex digits")
	ErrHashHex    = errors.New("a PDQ hash has only hex digits 0-9, a-f")
	ErrHashZero   = errors.New("the all-zero PDQ hash is not a valid hash")
)

// ParseHex parses 64 hex digits (either case). It rejects the all-zero hash,
// which the reference gives for images too small to hash and which would
// otherwise match every other low-information image.
func ParseHex(s string) (Hash, error) {
	var h Hash
	if len(s) != HexLen {
		return h, fmt.Errorf("%w, got %d characters", ErrHashLength, len(s))
	}
	var b [32]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return h, ErrHashHex
	}
	for i := range h {
		for _, c := range b[i*8 : i*8+8] {
			h[i] = h[i]<<8 | uint64(c)
		}
	}
	if h.IsZero() {
		return h, ErrHashZero
	}
	return h, nil
}

// String formats the hash as 64 lower-case hex digits.
func (h Hash) String() string {
	var b [32]byte
	for i, w := range h {
		for j := range 8 {
			b[i*8+j] = byte(w >> (56 - 8*j))
		}
	}
	return hex.EncodeToString(b[:])
}

// MarshalText and UnmarshalText make Hash a JSON string.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses like ParseHex.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHex(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// IsZero reports whether no bit is set.
func (h Hash) IsZero() bool { return h == Hash{} }

// Bit reports bit k (0..255).
func (h Hash) Bit(k int) bool { return h[3-k/64]>>(k%64)&1 == 1 }

func (h *Hash) setBit(k int) { h[3-k/64] |= 1 << (k % 64) }

// Distance is the Hamming distance: the number of differing bits, 0..256.
// Two hashes are a match under the usual convention when it is at most 31.
func Distance(a, b Hash) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}
