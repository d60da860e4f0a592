package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/victim"
)

// The page /help/remove: a person shown in abuse material, or someone
// helping them, hashes their images and videos in the browser with Ward's
// own hashing compiled to WebAssembly (hashwasm), sees the hashes, and
// sends only those to the API (POST /v1/public/victim-cases). The files
// never leave the device. It is the one page with a script, and its
// Content-Security-Policy allows only what WebAssembly needs. The hashing
// runs in a worker (static/hash-worker.js), served with the same policy,
// which browsers apply to a worker from its own response.

//go:generate env GOOS=js GOARCH=wasm go build -trimpath -buildvcs=false "-ldflags=-s -w -buildid=" -o static/hash.wasm ./hashwasm
//go:generate sh -c "cp \"$(go env GOROOT)/lib/wasm/wasm_exec.js\" static/wasm_exec.js"

// hashWasm is static/hash.wasm, read once from the embedded files.
var hashWasm = sync.OnceValue(func() []byte {
	b, err := fs.ReadFile(staticFS, "static/hash.wasm")
	if err != nil {
		panic(err) // not reached: go generate makes it, and it is committed
	}
	return b
})

// HelpDirectory is the directory of help services for victims that the
// page lists for the person's country and language.
type HelpDirectory interface {
	HelpServices(ctx context.Context, country, language string) ([]victim.HelpService, error)
}

// helpCSP is the strict policy with scripts from the site (help.js, the
// worker, wasm_exec.js), the compilation of WebAssembly, and requests to
// the site (the .wasm file and the API) allowed: nothing else.
const helpCSP = strictCSP + "; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"

// helpCountries are the countries the page offers (the EU's, the EEA's,
// Switzerland and the United Kingdom), by ISO 3166-1 code; each has a
// message "country.CC".
var helpCountries = []string{"AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR", "HU",
	"IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"}

const (
	msgHelpNone     = "help.services.none"
	msgHelpBusy     = "help.services.busy"
	msgHelpFailed   = "help.services.failed"
	msgHelpNoListed = "help.services.nolisted"
)

func helpMessages() []string {
	ids := []string{msgHelpNone, msgHelpBusy, msgHelpFailed, msgHelpNoListed}
	for _, c := range helpCountries {
		ids = append(ids, "country."+c)
	}
	return ids
}

// helpBatch is how many hashes the page sends in one request: the API's
// limit.
const helpBatch = victim.MaxHashesPerRequest

type helpPage struct {
	publicBase
	Batch int
	// Country is the one chosen ("" for none), Countries the choices.
	Country   string
	Countries []countryChoice
	Services  []helpService
	// ServicesMessage, if set, is shown instead of the services.
	ServicesMessage string
}

// helpService is a service as the page links it: Tel is its phone
// number as a tel: link, "" if it has none.
type helpService struct {
	victim.HelpService
	Tel template.URL
}

// telURL is the tel: link of a phone number, of its digits and a leading
// "+" only; "" if it has no digit.
func telURL(phone string) template.URL {
	var b strings.Builder
	for i, r := range strings.TrimSpace(phone) {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	if strings.TrimPrefix(b.String(), "+") == "" {
		return ""
	}
	// Only digits and a "+": safe as a URL.
	return template.URL("tel:" + b.String())
}

type countryChoice struct {
	Code, Name string
	Selected   bool
}

func (s *Server) helpRemove(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	cat := s.language(r)
	w.Header().Set("Content-Security-Policy", helpCSP)
	w.Header().Set("Vary", "Accept-Language")
	p := helpPage{publicBase: publicBase{cat.lang}, Batch: helpBatch}
	p.Country = strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("country")))
	if p.Country == "" {
		p.Country = acceptRegion(r)
	}
	if !slices.Contains(helpCountries, p.Country) {
		p.Country = ""
	}
	for _, c := range helpCountries {
		p.Countries = append(p.Countries, countryChoice{c, cat.t("country." + c), c == p.Country})
	}
	slices.SortStableFunc(p.Countries, func(a, b countryChoice) int { return strings.Compare(a.Name, b.Name) })
	switch {
	case p.Country == "":
	case s.Help == nil:
		p.ServicesMessage = cat.t(msgHelpNoListed)
	default:
		// The page itself works when the limit refuses: only the
		// directory's look-up is limited.
		if ok, wait := s.helpLimit.Allow(r.RemoteAddr); !ok {
			p.ServicesMessage = cat.t(msgHelpBusy, int(wait.Seconds())+1)
			break
		}
		svcs, err := s.Help.HelpServices(r.Context(), p.Country, acceptLanguage(r, cat.lang))
		switch {
		case err != nil:
			s.Logger.Error("help services failed", "country", p.Country, "err", err)
			p.ServicesMessage = cat.t(msgHelpFailed)
		case len(svcs) == 0:
			p.ServicesMessage = cat.t(msgHelpNone)
		}
		for _, sv := range svcs {
			p.Services = append(p.Services, helpService{sv, telURL(sv.Phone)})
		}
	}
	return s.renderPublic(w, http.StatusOK, cat, "public_help_remove", p)
}

// acceptRegion is the region of the first language tag of r's
// Accept-Language that has one ("de-DE" is DE), or "".
func acceptRegion(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		subtags := strings.Split(strings.TrimSpace(tag), "-")
		for _, st := range subtags[1:] {
			if len(st) == 2 {
				return strings.ToUpper(st)
			}
		}
	}
	return ""
}

// acceptLanguage is the primary subtag of the first tag of r's
// Accept-Language, lower case, or def: the person's language, whether or
// not the pages are translated into it.
func acceptLanguage(r *http.Request, def string) string {
	tag, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
	tag, _, _ = strings.Cut(tag, ";")
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	if len(primary) != 2 {
		return def
	}
	return primary
}

// hashWorker serves the worker that runs the hashing with the page's
// policy, for it governs the worker's compiling and fetching of the
// WebAssembly.
func (s *Server) hashWorker(w http.ResponseWriter, r *http.Request, u *auth.User) error {
	w.Header().Set("Content-Security-Policy", helpCSP)
	return s.static(w, r, u)
}

// gzippedWasm is hashWasm compressed, once.
var gzippedWasm = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(hashWasm())
	zw.Close()
	return b.Bytes()
})

var wasmETag = sync.OnceValue(func() string {
	sum := sha256.Sum256(hashWasm())
	// Weak: the gzipped and the plain bodies share it.
	return `W/"` + hex.EncodeToString(sum[:16]) + `"`
})

// hashWasmFile serves the WebAssembly hashing as application/wasm (which
// WebAssembly.instantiateStreaming requires), gzipped to a browser that
// accepts it.
func (s *Server) hashWasmFile(w http.ResponseWriter, r *http.Request, _ *auth.User) error {
	h := w.Header()
	h.Set("Content-Type", "application/wasm")
	// Checked at every load (a 304 while it is the same), so that after an
	// upgrade no browser runs an old hashing with a new page.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", wasmETag())
	if r.Header.Get("If-None-Match") == wasmETag() {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := hashWasm()
	if acceptsGzip(r) {
		body = gzippedWasm()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, err := w.Write(body)
	return err
}

// acceptsGzip reports whether r's Accept-Encoding lists gzip, not with q=0.
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if v, err := strconv.ParseFloat(q, 64); ok && err == nil && v == 0 {
			return false
		}
		return true
	}
	return false
}
