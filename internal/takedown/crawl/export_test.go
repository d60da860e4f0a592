package crawl

import (
	"net/netip"
	"slices"

	"github.com/wardhq/ward/internal/platform/netguard"
)

// TreatAsPublic lets f connect to a as if it were public, so that a test
// server on loopback stands for a public host while every other address
// is checked as in production.
func TreatAsPublic(f *Fetcher, a netip.Addr) {
	f.check = func(b netip.Addr) error {
		if b == a {
			return nil
		}
		return netguard.Check(b)
	}
}

var (
	Embeds      = embeds
	ContentType = contentType
)

func Srcset(s string) []string { return slices.Collect(srcset(s)) }

// DecodeData decodes uri if it is a data: URI of an image or a video, and
// returns its media type ("image/png;base64" if base64).
func DecodeData(uri string) (mediaType string, body []byte, ok bool, err error) {
	d, ok := dataMedia(uri)
	if !ok {
		return "", nil, false, nil
	}
	body, err = d.decode(make([]byte, 0, len(d.data)))
	mediaType = d.mediaType
	if d.base64 {
		mediaType += ";base64"
	}
	return mediaType, body, true, err
}
