package client

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"
)

// Notice is a notice of illegal content as a host's webhook receives it,
// signed by the centre (header Ward-Signature). The host removes the
// content at URLs and may then say so at RemovalURL; the centre fetches
// the URLs again until they are gone, and sends the notice again until
// then.
type Notice struct {
	// Notice is the same in every send of one notice: receivers
	// de-duplicate by it.
	Notice         string   `json:"notice"`
	Case           string   `json:"case"`
	URLs           []string `json:"urls"`
	Classification string   `json:"classification"` // baseline or national
	Host           string   `json:"host,omitempty"` // the registered host the content is on
	// Channel is how the notice travels: webhook or email to the host,
	// or hotline or europol, which pass it on to the host.
	Channel    string    `json:"channel"`
	ReportedAt time.Time `json:"reported_at"`
	SentAt     time.Time `json:"sent_at"`
	Send       int       `json:"send"` // 1 for the first send, then 2, 3...
	// RemovalURL is where the host, with its key, says it removed the
	// content (POST): the centre then checks at once.
	RemovalURL string `json:"removal_url"`
}

// noticeContext is the context string a notice's signature covers before
// the body (the server's takedown.NoticeContext).
const noticeContext = "ward takedown notice v1\n"

// VerifyNotice checks that body, a notice pushed to a host's webhook, is
// signed by pub with signature (the value of its Ward-Signature header),
// and decodes it.
func VerifyNotice(pub ed25519.PublicKey, body []byte, signature string) (*Notice, error) {
	var n Notice
	return &n, verify(pub, noticeContext, body, signature, &n)
}

// DecodeNotice decodes a notice without checking its signature.
func DecodeNotice(body []byte) (*Notice, error) {
	var n Notice
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("decoding the notice: %w", err)
	}
	return &n, nil
}
