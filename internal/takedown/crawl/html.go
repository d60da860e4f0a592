package crawl

import (
	"bytes"
	"context"
	"iter"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
)

// MaxScan is how much of a page is scanned for the media it embeds: its
// first 2 MiB. Media a page references later are not fetched; pages name
// theirs far earlier, and a page that is mostly markup (a few KiB of gzip
// inflate to MiBs) cannot make the scan take long or hold much.
const MaxScan = 2 << 20

// MaxURL is the longest embedded URL taken (takedown's MaxURL): a longer
// one is skipped, as it would go into notices and e-mails.
const MaxURL = 2048

// Bounds of the work on a page, beyond MaxScan, whatever it holds.
const (
	maxTokens     = 1 << 18 // tags, texts and comments examined
	maxToken      = 1 << 18 // bytes of a tag, text or comment examined: a longer one is skipped
	maxAttrs      = 64      // attributes read from a tag
	maxCandidates = 64      // candidates read from a srcset
	maxExamined   = 4096    // references resolved and checked: duplicates count
	checkEvery    = 1024    // tokens between looks at the context
)

// mediaExt are the extensions of the paths of links (a href) to media.
var mediaExt = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true,
	".mp4": true, ".webm": true, ".mov": true, ".avi": true, ".mkv": true, ".m4v": true,
}

// metaMedia are the meta properties (or names) whose content is an image
// or a video the page is about.
var metaMedia = map[string]bool{
	"og:image": true, "og:image:url": true, "og:image:secure_url": true,
	"og:video": true, "og:video:url": true, "og:video:secure_url": true,
	"twitter:image": true, "twitter:image:src": true,
}

// embeds returns the http and https URLs of the media an HTML page
// embeds, and its data: URIs of images and videos, in document order,
// each once, at most limit: those of img src and srcset, source src and
// srcset, video src and poster, a href to a media file, and meta
// og:image, og:video and twitter:image. They are resolved against page,
// or the page's first base href from where it stands (in the head, where
// it belongs, that is for all of them). Only the first MaxScan bytes are
// scanned, within the bounds above; it stops early if ctx ends.
func embeds(ctx context.Context, body []byte, page *url.URL, limit int) []string {
	return scan(ctx, body, page, limit, false)
}

// Links returns the http and https URLs that HTML page r links to (a
// href and area href, whatever they point at), resolved against its
// FinalURL or its base href, without fragment, in document order, each
// once (the page itself left out), at most limit: the pages the centre's
// search goes on to. Nil if r is not an HTML page. The scan is bounded as
// Fetch's is (the first MaxScan bytes, at most 4096 references
// examined); it stops early if ctx ends.
func Links(ctx context.Context, r Resource, limit int) []string {
	if r.Err != nil || (r.ContentType != "text/html" && r.ContentType != "application/xhtml+xml") {
		return nil
	}
	page, err := url.Parse(r.FinalURL)
	if err != nil || normalize(page) != nil {
		return nil
	}
	return scan(ctx, r.Body, page, limit, true)
}

// scan returns the references of embeds, or with links those of Links.
func scan(ctx context.Context, body []byte, page *url.URL, limit int, links bool) []string {
	var out []string
	if limit <= 0 {
		return out
	}
	base, hasBase := page, false
	seen := map[string]bool{page.String(): true}
	examined := 0
	// add takes ref, reporting whether there is room for more.
	add := func(ref string, mediaOnly bool) bool {
		examined++
		ref = strings.TrimSpace(ref)
		if _, ok := dataMedia(ref); ok {
			if !seen[ref] && !links {
				seen[ref] = true
				out = append(out, ref)
			}
		} else if ref != "" && len(ref) <= MaxURL {
			u, err := base.Parse(ref)
			if err == nil && normalize(u) == nil && (!mediaOnly || mediaExt[strings.ToLower(path.Ext(u.Path))]) {
				if s := u.String(); !seen[s] && len(s) <= MaxURL {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
		return len(out) < limit && examined < maxExamined
	}
	scan := body[:min(len(body), MaxScan)]
	z, pos := tokenizer(scan), 0 // pos: how far in scan z has read
	var attrs [][2][]byte        // valid until the next token
	for tokens := range maxTokens {
		if tokens%checkEvery == 0 && ctx.Err() != nil {
			return out
		}
		tt := z.Next()
		pos += len(z.Raw())
		if tt == html.ErrorToken {
			// The tokenizer holds a tag whole, and the names of all its
			// attributes: a token over maxToken is skipped, to the end of
			// the tag it may be, and the scan goes on from there.
			end := -1
			if z.Err() == html.ErrBufferExceeded {
				end = bytes.IndexByte(scan[pos:], '>')
			}
			if end < 0 {
				return out
			}
			pos += end + 1
			z = tokenizer(scan[pos:])
			continue
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		attrs = attrs[:0]
		for more && len(attrs) < maxAttrs {
			var k, v []byte
			k, v, more = z.TagAttr()
			attrs = append(attrs, [2][]byte{k, v})
		}
		room := true
		switch string(name) {
		case "base":
			if href, ok := attr(attrs, "href"); ok && !hasBase {
				if b, err := page.Parse(strings.TrimSpace(string(href))); err == nil {
					base, hasBase = b, true
				}
			}
		case "a", "area":
			if href, ok := attr(attrs, "href"); ok && (links || string(name) == "a") {
				room = add(string(href), !links)
			}
		case "img", "source", "video":
			if links {
				break
			}
			for _, a := range attrs {
				switch k := string(a[0]); {
				case k == "src" || (k == "poster" && string(name) == "video"):
					room = add(string(a[1]), false)
				case k == "srcset" && string(name) != "video":
					n := 0
					for c := range srcset(string(a[1])) {
						if room = add(c, false); !room {
							break
						}
						if n++; n == maxCandidates {
							break
						}
					}
				}
				if !room {
					break
				}
			}
		case "meta":
			if links {
				break
			}
			p, ok := attr(attrs, "property")
			if !ok {
				p, _ = attr(attrs, "name")
			}
			if content, ok := attr(attrs, "content"); ok && metaMedia[strings.ToLower(strings.TrimSpace(string(p)))] {
				room = add(string(content), false)
			}
		}
		if !room {
			return out
		}
	}
	return out
}

func tokenizer(b []byte) *html.Tokenizer {
	z := html.NewTokenizer(bytes.NewReader(b))
	z.SetMaxBuf(maxToken)
	return z
}

func attr(attrs [][2][]byte, key string) ([]byte, bool) {
	for _, a := range attrs {
		if string(a[0]) == key {
			return a[1], true
		}
	}
	return nil, false
}

// srcset yields the URLs of a srcset attribute's candidates, parsed as
// the HTML standard says: a URL, then descriptors up to a comma that is
// not within parentheses; a URL ending in commas ends its candidate. It
// yields them one by one, so that a caller that has enough stops the
// parsing.
func srcset(s string) iter.Seq[string] {
	const space = " \t\n\f\r"
	return func(yield func(string) bool) {
		s := s
		for {
			s = strings.TrimLeft(s, space+",")
			if s == "" {
				return
			}
			end := strings.IndexAny(s, space)
			if end < 0 {
				end = len(s)
			}
			u := s[:end]
			s = s[end:]
			if strings.HasSuffix(u, ",") {
				u = strings.TrimRight(u, ",")
			} else {
				depth, i := 0, 0
			descriptors:
				for ; i < len(s); i++ {
					switch s[i] {
					case '(':
						depth++
					case ')':
						depth = max(depth-1, 0)
					case ',':
						if depth == 0 {
							break descriptors
						}
					}
				}
				s = s[i:]
			}
			if u != "" && !yield(u) {
				return
			}
		}
	}
}
