package crawl

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// dataURI is a data: URI (RFC 2397) of an image or a video.
type dataURI struct {
	mediaType string // "image/png", lower case, without parameters
	base64    bool
	data      string // after the comma, still encoded
}

// maxDataHeader bounds the part of a data: URI before its comma: the
// media type and its parameters.
const maxDataHeader = 256

// dataMedia parses uri if it is a data: URI of an image or a video
// (data:image/... or data:video/...), else reports false.
func dataMedia(uri string) (dataURI, bool) {
	if len(uri) < 5 || !strings.EqualFold(uri[:5], "data:") {
		return dataURI{}, false
	}
	header, _, ok := strings.Cut(uri[5:min(len(uri), 5+maxDataHeader+1)], ",")
	if !ok {
		return dataURI{}, false
	}
	params := strings.Split(header, ";")
	d := dataURI{mediaType: strings.ToLower(strings.TrimSpace(params[0])), data: uri[5+len(header)+1:]}
	if len(params) > 1 && strings.EqualFold(strings.TrimSpace(params[len(params)-1]), "base64") {
		d.base64 = true
	}
	kind, sub, _ := strings.Cut(d.mediaType, "/")
	if (kind != "image" && kind != "video") || sub == "" || strings.IndexFunc(sub, notTokenRune) >= 0 {
		return dataURI{}, false
	}
	return d, true
}

// notTokenRune reports whether r may not be in a media type's subtype
// (RFC 6838's restricted-name).
func notTokenRune(r rune) bool {
	return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$&-^_.+", r))
}

// describe names the n-th inline resource of a page, of size bytes (-1
// if not decoded), as its URL: short, never the data itself.
func (d dataURI) describe(size, n int) string {
	enc := ""
	if d.base64 {
		enc = ";base64"
	}
	if size < 0 {
		return fmt.Sprintf("data:%s%s (inline, #%d)", d.mediaType, enc, n)
	}
	return fmt.Sprintf("data:%s%s (inline, %d bytes, #%d)", d.mediaType, enc, size, n)
}

// inline decodes d, the n-th data: URI of the page fetched from addr, as
// a resource, within the byte limit of the case and the fetch memory,
// like a fetched one.
func (s *session) inline(ctx context.Context, d dataURI, n int, addr netip.Addr) Resource {
	res := Resource{Status: 200, Addr: addr}
	res.URL = d.describe(-1, n)
	res.FinalURL = res.URL
	// Decoding never yields more bytes than it reads, so that the
	// content is within a resource's byte limit, as its page is.
	bound := int64(len(d.data))
	if d.base64 {
		bound = int64(base64.RawStdEncoding.DecodedLen(len(d.data)))
	}
	release, err := s.hold(ctx, bound)
	if err != nil {
		res.Err = err
		return res
	}
	body, err := d.decode(make([]byte, 0, bound))
	switch {
	case err != nil:
		res.Err = err
	case !s.reserveCase(int64(len(body))):
		res.Err = fail(ErrTooLarge, nil, "over the %s limit of a case", size(s.f.cfg.MaxCaseBytes))
	}
	if err := ctx.Err(); err != nil && res.Err == nil {
		res.Err = context.Cause(ctx)
	}
	if res.Err != nil {
		release()
		return res
	}
	res.URL = d.describe(len(body), n)
	res.FinalURL = res.URL
	res.Body, res.release = body, s.track(body, release)
	res.ContentType = contentType(d.mediaType, body)
	return res
}

// decode appends d's content to dst: percent-decoded, then, if base64,
// decoded as the Fetch standard's forgiving-base64 (white space ignored,
// padding optional).
func (d dataURI) decode(dst []byte) ([]byte, error) {
	if !d.base64 {
		return percentDecode(dst, d.data, false), nil
	}
	b := percentDecode(make([]byte, 0, len(d.data)), d.data, true)
	if len(b)%4 == 0 {
		for range 2 {
			if len(b) > 0 && b[len(b)-1] == '=' {
				b = b[:len(b)-1]
			}
		}
	}
	if len(b)%4 == 1 {
		return nil, errors.New("the inline data is not valid base64")
	}
	n, err := base64.RawStdEncoding.Decode(dst[len(dst):cap(dst)], b)
	if err != nil {
		return nil, errors.New("the inline data is not valid base64")
	}
	return dst[:len(dst)+n], nil
}

// percentDecode appends s to dst with its %XX escapes decoded (a % not
// followed by two hex digits stays as it is), without ASCII white space
// if dropSpace.
func percentDecode(dst []byte, s string, dropSpace bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if dropSpace && (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
