package web

import (
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCataloguesComplete: every message a public page or the code uses
// is in every catalogue, every catalogue has the messages of the default
// one and no other, and the default one has none that nothing uses.
func TestCataloguesComplete(t *testing.T) {
	cats, err := loadCatalogues(localeFS)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(templateFS, "templates/public*.html")
	if err != nil || len(names) < 4 {
		t.Fatalf("public templates %v, %v", names, err)
	}
	used := map[string]bool{}
	for _, id := range codeMessages {
		used[id] = true
	}
	for _, n := range names {
		src, err := fs.ReadFile(templateFS, n)
		if err != nil {
			t.Fatal(err)
		}
		ids := messageIDs(string(src))
		if len(ids) == 0 {
			t.Errorf("%s uses no message: its text is not ready for translation", n)
		}
		for _, id := range ids {
			used[id] = true
		}
	}
	if err := checkCatalogues(cats, slices.Collect(maps.Keys(used))); err != nil {
		t.Error(err)
	}
	en := cats[defaultLang]
	for id := range en.messages {
		if !used[id] {
			t.Errorf("message %q of the default catalogue is used nowhere", id)
		}
	}
	for lang, c := range cats {
		for id := range c.messages {
			if _, ok := en.messages[id]; !ok {
				t.Errorf("catalogue %s has message %q, which the default one lacks", lang, id)
			}
		}
		for id, msg := range c.messages {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("catalogue %s: message %q is empty", lang, id)
			}
		}
	}
	// The console's pages stay in English: a t in them would not parse.
	all, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range all {
		if strings.HasPrefix(n, "templates/public") {
			continue
		}
		src, _ := fs.ReadFile(templateFS, n)
		if ids := messageIDs(string(src)); len(ids) > 0 {
			t.Errorf("console template %s uses messages %v", n, ids)
		}
	}
}

// TestCatalogueChecks: a catalogue lacking a message a page uses stops the
// server, as does a missing default catalogue.
func TestCatalogueChecks(t *testing.T) {
	fsys := fstest.MapFS{
		"locale/en.json": {Data: []byte(`{"a": "A", "b": "B %d"}`)},
		"locale/de.json": {Data: []byte(`{"a": "Ä"}`)},
	}
	cats, err := loadCatalogues(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCatalogues(cats, []string{"a"}); err != nil {
		t.Errorf("complete catalogues: %v", err)
	}
	if err := checkCatalogues(cats, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), `de lacks message "b"`) {
		t.Errorf("incomplete catalogue: %v", err)
	}
	if got := cats["en"].t("b", 3); got != "B 3" {
		t.Errorf("formatted message %q", got)
	}
	if _, err := loadCatalogues(fstest.MapFS{"locale/de.json": {Data: []byte(`{}`)}}); err == nil {
		t.Error("no error without the default catalogue")
	}
	if _, err := loadCatalogues(fstest.MapFS{"locale/en.json": {Data: []byte(`{"a": 1}`)}}); err == nil {
		t.Error("no error for a catalogue that is not a map of texts")
	}
	if got := messageIDs(`{{t "x.y"}} {{if .A}}{{t "z" .N}}{{end}} {{printf "%s" (t "w")}} {{.t "no"}} {{template "title" .}}`); !slices.Equal(got, []string{"x.y", "z", "w"}) {
		t.Errorf("message IDs %v", got)
	}
}

// TestLanguage: the catalogue of the language the browser prefers most,
// by primary subtag, else the default.
func TestLanguage(t *testing.T) {
	s := &Server{catalogues: map[string]*catalogue{"en": {lang: "en"}, "de": {lang: "de"}, "fr": {lang: "fr"}}}
	for _, tc := range []struct{ header, want string }{
		{"", "en"},
		{"de", "de"},
		{"de-AT,de;q=0.9,en;q=0.8", "de"},
		{"nl, fr;q=0.5, de;q=0.7", "de"},
		{"FR-ch", "fr"},
		{"it, es;q=0.9", "en"},
		{"de;q=0, fr;q=0.1", "fr"},
		{"fr;q=0.8, de;q=0.8", "fr"},
		{"de;q=x, fr;q=0.2", "fr"},
		{"*", "en"},
	} {
		r, _ := http.NewRequest("GET", "/report", nil)
		r.Header.Set("Accept-Language", tc.header)
		if got := s.language(r).lang; got != tc.want {
			t.Errorf("Accept-Language %q: %s, want %s", tc.header, got, tc.want)
		}
	}
}
