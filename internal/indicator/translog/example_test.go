package translog_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/indicator/translog"
)

// An entry is the line a list's log holds for a change of its feed.
func ExampleEntry_Marshal() {
	e := translog.Entry{Seq: 7, Kind: indicator.Withdraw, Signal: indicator.MD5, Value: "00112233445566778899aabbccddeeff",
		Category: indicator.B1, At: time.Date(2026, 12, 7, 23, 25, 1, 123456000, time.UTC)}
	fmt.Printf("%s", e.Marshal())
	fmt.Println(tlog.RecordHash(e.Marshal()) == tlog.RecordHash([]byte("ward-list-change/v1 7 withdraw md5 00112233445566778899aabbccddeeff B1 2026-12-07T23:25:01.123456Z\n")))
	// Output:
	// ward-list-change/v1 7 withdraw md5 00112233445566778899aabbccddeeff B1 2026-12-07T23:25:01.123456Z
	// true
}

// A checkpoint signed with a log's key opens with package note and the
// verifier key the log publishes.
func ExampleSign() {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	origin := "ward.example.org/lists/known"
	signer, _ := translog.NewSigner(origin, key)
	root, _ := tlog.TreeHash(0, nil)
	signed, _ := translog.Sign(translog.Checkpoint{Origin: origin, Size: 0, Root: root}, signer)

	vkey, _ := translog.VerifierKey(origin, key.Public().(ed25519.PublicKey))
	v, _ := note.NewVerifier(vkey)
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := translog.ParseCheckpoint(n.Text)
	fmt.Println(c.Origin, c.Size)
	// Output:
	// ward.example.org/lists/known 0
}
