package takedown

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// The context strings that the centre's signatures of this package cover
// before the message (as package forward's do), so that a receipt, a
// notice and a report package cannot pass for one another.
const (
	ReceiptContext = "ward takedown receipt v1\n"
	NoticeContext  = "ward takedown notice v1\n"
)

// receiptMessage is what a receipt signs: ReceiptContext, the case's ID,
// a newline, the time of the report in RFC 3339 with microseconds in UTC,
// a newline, and the SHA-256 of the URL as the case records it, in
// lower-case hex.
func receiptMessage(id string, received time.Time, url string) []byte {
	sum := sha256.Sum256([]byte(url))
	msg := ReceiptContext + id + "\n" + received.UTC().Format(ReceiptTime) + "\n" + hex.EncodeToString(sum[:])
	return []byte(msg)
}

// ReceiptTime is the layout of the time a receipt signs, and of
// received_at in the API's answer: RFC 3339 in UTC with microseconds,
// 2026-03-02T10:00:00.000000Z.
const ReceiptTime = "2006-01-02T15:04:05.000000Z07:00"

func (s *Service) receipt(id string, received time.Time, url string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.o.Key, receiptMessage(id, received, url)))
}

// VerifyReceipt reports whether receipt is the centre's receipt, under
// its public key pub, of the report of url (as Case.URL records it) that
// opened case id at time received.
func VerifyReceipt(pub ed25519.PublicKey, id string, received time.Time, url, receipt string) bool {
	sig, err := base64.StdEncoding.DecodeString(receipt)
	return err == nil && ed25519.Verify(pub, receiptMessage(id, received, url), sig)
}
