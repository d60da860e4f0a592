package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/client"
)

const demoHostArgs = "[--addr HOST:PORT] [--signing-key FILE] DIR"

var demoHostCommand = &Command{
	Name:    "demo-host",
	Args:    demoHostArgs,
	Summary: "a web host on this machine for trying the takedown flow: serves DIR's images, prints notices",
	Run:     runDemoHost,
}

const demoHostHelp = `Runs a small web host for trying the takedown flow on one machine. It serves
a page at / that shows every image in DIR (each at /files/NAME), and receives
the centre's notices at POST /notices, printing each one; with --signing-key
(the centre's key, kept from 'ward lea key') it checks each notice's signature
and refuses one that does not verify. Removing a file from DIR removes it from
the host: the centre's next recheck finds it gone.

Register it as a host whose notices go to its webhook:

  ward admin org add --name demo-host --kind host --country DE \
    --ip-ranges 127.0.0.0/8 --webhook http://127.0.0.1:8090/notices --allow-private-webhooks

and run the server with --fetch-allow-private and --allow-private-webhooks, since
both reach this machine's loopback address.`

// maxNotice bounds a notice's body.
const maxNotice = 1 << 20

func runDemoHost(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "demo-host", Args: demoHostArgs}, demoHostHelp)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	keyFile := fs.String("signing-key", os.Getenv("WARD_SIGNING_KEY"), "`file` with the centre's signing key (PEM), from 'ward lea key' ($WARD_SIGNING_KEY)")
	rest, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: give the directory whose images the host serves", ErrUsage)
	}
	root, err := os.OpenRoot(rest[0])
	if err != nil {
		return err
	}
	defer root.Close()
	var pub ed25519.PublicKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if pub, err = client.ParseSigningKey(b); err != nil {
			return fmt.Errorf("%s: %w", *keyFile, err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%w (choose another address with --addr)", err)
	}
	h := &demoHost{root: root, pub: pub, out: e.Stdout}
	srv := &http.Server{Handler: h.handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.Stderr, "ward demo-host: serving %s on http://%s/ (notices to http://%s/notices)\n", rest[0], ln.Addr(), ln.Addr())
	go func() {
		<-ctx.Done()
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(stop)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type demoHost struct {
	root *os.Root
	pub  ed25519.PublicKey
	mu   sync.Mutex // one notice printed at a time
	out  io.Writer
}

var demoPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Demo host</title>
<h1>Demo host</h1>
{{range .}}<p><img src="/files/{{.}}" alt="{{.}}" width="160"></p>
{{else}}<p>No images here.</p>{{end}}
</html>
`))

// images lists the image files directly in the host's directory.
func (h *demoHost) images() ([]string, error) {
	entries, err := fs.ReadDir(h.root.FS(), ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, en := range entries {
		switch strings.ToLower(path.Ext(en.Name())) {
		case ".png", ".jpg", ".jpeg", ".gif", ".webp":
			if en.Type().IsRegular() {
				names = append(names, en.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (h *demoHost) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		names, err := h.images()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		demoPage.Execute(w, names)
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		// The root keeps the name inside the directory.
		f, err := h.root.Open(r.PathValue("name"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, st.Name(), st.ModTime(), f)
	})
	mux.HandleFunc("POST /notices", h.notice)
	return mux
}

func (h *demoHost) notice(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotice))
	if err != nil {
		http.Error(w, "the notice is too large", http.StatusRequestEntityTooLarge)
		return
	}
	checked := "signature not checked: pass --signing-key"
	var n *client.Notice
	if h.pub != nil {
		if n, err = client.VerifyNotice(h.pub, body, r.Header.Get("Ward-Signature")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			h.print("refused a notice: %v\n", err)
			return
		}
		checked = "signature verified"
	} else if n, err = client.DecodeNotice(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.print("notice %s for case %s: %s, %d URL(s) (%s); say it is removed at %s\n", n.Notice, n.Case, n.Classification, len(n.URLs), checked, n.RemovalURL)
	for _, u := range n.URLs {
		h.print("  %s\n", u)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *demoHost) print(format string, a ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.out, format, a...)
}
