package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The public pages (the reporting form) are for anyone, in their
// language: every text of them is a message of a catalogue, one JSON file
// per language in locale/ named by its language tag (en.json, de.json,
// ...), mapping a message's ID to its text. A translator adds a file with
// every ID of en.json; the server refuses to start if one lacks an ID
// that a page uses. Texts with a %d or %s take arguments, as fmt does (%[1]s
// lets a translation reorder them).

//go:embed locale/*.json
var localeFS embed.FS

// defaultLang is the language of the pages when the browser asks for
// none that there is a catalogue of.
const defaultLang = "en"

// catalogue is the messages of one language.
type catalogue struct {
	lang     string
	messages map[string]string
}

// t returns the text of message id, formatted with args if any.
func (c *catalogue) t(id string, args ...any) string {
	msg, ok := c.messages[id]
	if !ok {
		return id // not reached: parse checks the catalogues
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// loadCatalogues reads every catalogue of fsys's locale directory.
func loadCatalogues(fsys fs.FS) (map[string]*catalogue, error) {
	names, err := fs.Glob(fsys, "locale/*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]*catalogue{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		c := &catalogue{lang: strings.ToLower(strings.TrimSuffix(path.Base(n), ".json"))}
		if err := json.Unmarshal(b, &c.messages); err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", n, err)
		}
		out[c.lang] = c
	}
	if out[defaultLang] == nil {
		return nil, fmt.Errorf("no catalogue of the default language %q", defaultLang)
	}
	return out, nil
}

// messageRef finds the IDs a template passes to t.
var messageRef = regexp.MustCompile(`[{(\s]t\s+"([^"]+)"`)

// messageIDs returns the IDs of the messages that template text src uses.
func messageIDs(src string) []string {
	var ids []string
	for _, m := range messageRef.FindAllStringSubmatch(src, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// checkCatalogues fails if a catalogue lacks a message of ids.
func checkCatalogues(cats map[string]*catalogue, ids []string) error {
	for _, c := range cats {
		for _, id := range ids {
			if _, ok := c.messages[id]; !ok {
				return fmt.Errorf("catalogue %s lacks message %q", c.lang, id)
			}
		}
	}
	return nil
}

// language picks the catalogue of the language r's Accept-Language asks
// for most, by its primary subtag ("de-AT" is served "de"); the default
// language if there is none of them.
func (s *Server) language(r *http.Request) *catalogue {
	type choice struct {
		lang string
		q    float64
	}
	var choices []choice
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			var err error
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if s.catalogues[primary] != nil && q > 0 {
			choices = append(choices, choice{primary, q})
		}
	}
	// Stable: of equal weights, the first listed.
	slices.SortStableFunc(choices, func(a, b choice) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	if len(choices) > 0 {
		return s.catalogues[choices[0].lang]
	}
	return s.catalogues[defaultLang]
}
