package witness

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// seedKey is the private key text of the Ed25519 seed 00 01 ... 1f named
// witness.example/w1, the key of testdata/torchwood.txt.
func seedKey(t *testing.T) string {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	name := "witness.example/w1"
	h := keyHash(name, append([]byte{algCosignatureV1}, pub...))
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, seed...)))
}

// TestTorchwoodInterop: a cosignature made by filippo.io/torchwood
// verifies with NewVerifier, and ours of the same checkpoint at a pinned
// time is the signature torchwood's verifier accepted when this vector
// was made (Ed25519 is deterministic).
func TestTorchwoodInterop(t *testing.T) {
	b, err := os.ReadFile("testdata/torchwood.txt")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	vkey, msg := strings.TrimSpace(lines[0]), []byte(strings.Join(lines[1:], ""))
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("torchwood's cosignature does not verify: %v", err)
	}
	if ts, err := Timestamp(n.Sigs[0]); err != nil || ts.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp %v, %v", ts, err)
	}

	s, err := NewSigner(seedKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey {
		t.Errorf("our verifier key of the seed %s, torchwood's %s", s.VerifierKey(), vkey)
	}
	s.Clock = func() time.Time { return time.Unix(1700000000, 0) }
	ours, err := note.Sign(&note.Note{Text: n.Text}, s)
	if err != nil {
		t.Fatal(err)
	}
	const want = "— witness.example/w1 519lMgAAAABlU/EAtmmUwMZhBJnpUVbf42HhceR2Hdd5vT3dKSjh4XMTxAQyQUkYH2+0zWkZ//cFN15FVj+wCWxS8JtHMiNyTuvBAA==\n"
	if got := string(ours[len(n.Text)+1:]); got != want {
		t.Errorf("our cosignature\n%s want\n%s", got, want)
	}

	// A cosignature is of one checkpoint at one time.
	for _, tamper := range []string{
		strings.Replace(string(msg), "\n3\n", "\n4\n", 1),
		strings.Replace(string(ours), "519lMgAAAABlU/EA", "519lMgAAAABlU/EB", 1),
	} {
		if _, err := note.Open([]byte(tamper), note.VerifierList(v)); err == nil {
			t.Errorf("a tampered cosigned note verifies:\n%s", tamper)
		}
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := GenerateKey("witness.example/w2")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey || s.Name() != "witness.example/w2" {
		t.Errorf("signer of the generated key: %s %s, want %s", s.Name(), s.VerifierKey(), vkey)
	}
	if _, _, err := GenerateKey("two words"); err == nil {
		t.Error("a key named with a space")
	}
	// A log's key (type 0x01) is not a cosignature key.
	_, logVKey, _ := note.GenerateKey(nil, "ward.example/lists/known")
	for _, bad := range []string{"", "name+0000+AAAA", logVKey, strings.Replace(vkey, "+", "+0", 1), vkey[:len(vkey)-4] + "AAAA"} {
		if _, err := NewVerifier(bad); err == nil {
			t.Errorf("NewVerifier(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"", "PRIVATE+KEY+x", strings.Replace(skey, "PRIVATE", "PUBLIC", 1), skey[:len(skey)-4] + "AAAA"} {
		if _, err := NewSigner(bad); err == nil {
			t.Errorf("NewSigner(%q) succeeded", bad)
		}
	}
}
