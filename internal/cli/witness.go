package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/accountability/witness"
)

const witnessArgs = "--key-file FILE --state FILE (--log ORIGIN=VKEY... | --logs FILE) [--name NAME] [--addr HOST:PORT]"

var witnessCommand = &Command{
	Name:    "witness",
	Args:    witnessArgs,
	Summary: "run a transparency log witness that cosigns the checkpoints of lists' logs",
	Run:     runWitness,
}

const witnessHelp = `Runs a witness (c2sp.org/tlog-witness) of the logs given: an HTTP server whose
POST /add-checkpoint cosigns a log's new checkpoint only if it is signed by the
log's key and a consistency proof shows it extends the last checkpoint the
witness cosigned of that log. So clients that require its cosignature (ward
sync --require-witnesses) are never shown a fork of the log, nor a history
rewritten since: a witness run by someone other than the centre makes the
centre's lists accountable.

Each log is --log ORIGIN=VKEY (repeatable), or a line of the --logs file (# for
comments): ORIGIN is the first line of its checkpoints and VKEY the log's note
verifier key, as GET /v1/lists/{list}/log/key gives it (check it with the
centre). Answers follow the protocol: 404 for a log it does not witness, 403
for a checkpoint not signed by the log's key, 409 with the size it holds for a
stale old size or another root at the same size (a fork), 422 for a proof that
does not verify (a rewritten log), 400 for a malformed request. A validly
signed checkpoint refused as a fork or a rewrite is kept in the state file as
evidence.

The witness's key is in --key-file, created on first start (for --name); its
verifier key, which logs (ward serve --witness) and clients (ward sync
--witness-key) are given, is printed at every start. The latest checkpoint it
cosigned of each log is kept in the SQLite file --state, written before the
cosignature is returned: keep it, since a witness that forgot its state would
cosign a fork.`

func runWitness(ctx context.Context, e *Env, args []string) error {
	fs := NewFlagSet(e, &Command{Name: "witness", Args: witnessArgs}, witnessHelp)
	addr := fs.String("addr", "127.0.0.1:7380", "address to listen on")
	keyFile := fs.String("key-file", "", "`file` of the witness's private key, created if missing (readable by its owner only)")
	name := fs.String("name", "", "the witness's `name` in its cosignatures when the key is created, such as witness.example.org/w1 (default: HOST/witness)")
	state := fs.String("state", "", "SQLite `file` of the witness's state, created if missing")
	var logFlags listFlag
	fs.Var(&logFlags, "log", "a log to witness, as `ORIGIN=VKEY` (repeatable)")
	logsFile := fs.String("logs", "", "`file` of logs to witness, one ORIGIN=VKEY a line")
	if rest, err := ParseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, rest[0])
	}
	switch {
	case *keyFile == "":
		return fmt.Errorf("%w: --key-file FILE is required", ErrUsage)
	case *state == "":
		return fmt.Errorf("%w: --state FILE is required", ErrUsage)
	case len(logFlags) == 0 && *logsFile == "":
		return fmt.Errorf("%w: give the logs to witness with --log ORIGIN=VKEY or --logs FILE", ErrUsage)
	}
	var logs []witness.Log
	for _, l := range logFlags {
		pl, err := witness.ParseLog(l)
		if err != nil {
			return fmt.Errorf("%w: --log: %v", ErrUsage, err)
		}
		logs = append(logs, pl)
	}
	if *logsFile != "" {
		b, err := os.ReadFile(*logsFile)
		if err != nil {
			return err
		}
		more, err := witness.ReadLogs(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", *logsFile, err)
		}
		logs = append(logs, more...)
	}
	signer, created, err := witnessKey(*keyFile, *name)
	if err != nil {
		return err
	}
	w, err := witness.Open(ctx, *state, signer, logs)
	if err != nil {
		return err
	}
	defer w.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%w (choose another address with --addr)", err)
	}
	if created {
		fmt.Fprintf(e.Stderr, "ward witness: created the key %s\n", *keyFile)
	}
	fmt.Fprintf(e.Stdout, "witness key: %s\n", w.VerifierKey())
	for _, l := range logs {
		fmt.Fprintf(e.Stderr, "ward witness: witnessing %s (%s)\n", l.Origin, l.VKey)
	}
	fmt.Fprintf(e.Stderr, "ward witness: listening on http://%s/add-checkpoint\n", ln.Addr())
	srv := &http.Server{Handler: logRequests(e.Stderr, w.Handler()), ReadHeaderTimeout: 10 * time.Second}
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

// witnessKey reads the witness's key from path, or creates it there named
// name, and reports whether it did.
func witnessKey(path, name string) (*witness.Signer, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := witness.NewSigner(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if name != "" && name != s.Name() {
			return nil, false, fmt.Errorf("%s is the key of witness %q, not %q", path, s.Name(), name)
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return nil, false, fmt.Errorf("%w: give the witness a --name", ErrUsage)
		}
		name = host + "/witness"
	}
	skey, _, err := witness.GenerateKey(name)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two witnesses started at once do not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	s, err := witness.NewSigner(skey)
	return s, true, err
}

// logRequests writes a line to w for each request answered: a witness's
// operator wants to see refusals, which may be evidence of a fork.
func logRequests(w io.Writer, h http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		mu.Lock()
		defer mu.Unlock()
		msg := strings.TrimSpace(rec.body.String())
		if rec.status == http.StatusOK {
			msg = "cosigned"
		}
		fmt.Fprintf(w, "ward witness: %s %s %s: %d %s\n", time.Now().UTC().Format(time.RFC3339), r.Method, r.URL.Path, rec.status, msg)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer // of an error, for the log
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status != http.StatusOK && r.body.Len() < 500 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}
