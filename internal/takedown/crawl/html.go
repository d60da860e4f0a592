package crawl

import (
	"bytes"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
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
// embeds, in document order, each once, at most limit: those of img src
// and srcset, source src and srcset, video src and poster, a href to a
// media file, and meta og:image, og:video and twitter:image. They are
// resolved against page, or the page's first base href from where it
// stands (in the head, where it belongs, that is for all of them).
func embeds(body []byte, page *url.URL, limit int) []string {
	var out []string
	if limit <= 0 {
		return out
	}
	base, hasBase := page, false
	seen := map[string]bool{page.String(): true}
	// add takes ref, reporting whether there is room for more.
	add := func(ref string, mediaOnly bool) bool {
		u, err := base.Parse(strings.TrimSpace(ref))
		if err != nil || ref == "" || normalize(u) != nil {
			return true
		}
		if mediaOnly && !mediaExt[strings.ToLower(path.Ext(u.Path))] {
			return true
		}
		if s := u.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
		return len(out) < limit
	}
	z := html.NewTokenizer(bytes.NewReader(body))
	var attrs [][2]string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		attrs = attrs[:0]
		for more {
			var k, v []byte
			k, v, more = z.TagAttr()
			attrs = append(attrs, [2]string{string(k), string(v)})
		}
		room := true
		switch string(name) {
		case "base":
			if href, ok := attr(attrs, "href"); ok && !hasBase {
				if b, err := page.Parse(strings.TrimSpace(href)); err == nil {
					base, hasBase = b, true
				}
			}
		case "img", "source", "video":
			for _, a := range attrs {
				switch {
				case a[0] == "src" || (a[0] == "poster" && string(name) == "video"):
					room = add(a[1], false)
				case a[0] == "srcset" && string(name) != "video":
					for _, c := range srcset(a[1]) {
						if room = add(c, false); !room {
							break
						}
					}
				}
				if !room {
					break
				}
			}
		case "a":
			if href, ok := attr(attrs, "href"); ok {
				room = add(href, true)
			}
		case "meta":
			p, ok := attr(attrs, "property")
			if !ok {
				p, _ = attr(attrs, "name")
			}
			if content, ok := attr(attrs, "content"); ok && metaMedia[strings.ToLower(strings.TrimSpace(p))] {
				room = add(content, false)
			}
		}
		if !room {
			return out
		}
	}
}

func attr(attrs [][2]string, key string) (string, bool) {
	for _, a := range attrs {
		if a[0] == key {
			return a[1], true
		}
	}
	return "", false
}

// srcset returns the URLs of a srcset attribute's candidates, parsed as
// the HTML standard says: a URL, then descriptors up to a comma that is
// not within parentheses; a URL ending in commas ends its candidate.
func srcset(s string) []string {
	const space = " \t\n\f\r"
	var urls []string
	for {
		s = strings.TrimLeft(s, space+",")
		if s == "" {
			return urls
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
		if u != "" {
			urls = append(urls, u)
		}
	}
}
