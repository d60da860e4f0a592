package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardhq/ward/internal/core"
)

// maxRequest bounds an add-checkpoint request: the old size, a proof of
// at most MaxProof hashes, and a checkpoint.
const maxRequest = 64 + MaxProof*45 + maxCheckpoint

// sizeType is the content type of a 409 answer, which holds the size the
// witness has.
const sizeType = "text/x.tlog.size"

// FormatAddCheckpoint returns the body of an add-checkpoint request: the
// old size line, the proof's lines, an empty line and the checkpoint.
func FormatAddCheckpoint(old int64, proof tlog.TreeProof, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	return b.Bytes()
}

// ParseAddCheckpoint parses the body of an add-checkpoint request.
func ParseAddCheckpoint(body []byte) (old int64, proof tlog.TreeProof, checkpoint []byte, err error) {
	head, checkpoint, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, core.Errorf(core.ErrInvalid, "want the old size line, the proof lines, an empty line and the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	n, ok := strings.CutPrefix(lines[0], "old ")
	old, perr := strconv.ParseInt(n, 10, 64)
	if !ok || perr != nil || old < 0 || n != strconv.FormatInt(old, 10) {
		return 0, nil, nil, core.Errorf(core.ErrInvalid, "the first line must be \"old SIZE\", not %q", lines[0])
	}
	if len(lines)-1 > MaxProof {
		return 0, nil, nil, core.Errorf(core.ErrInvalid, "a consistency proof has at most %d hashes", MaxProof)
	}
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return 0, nil, nil, core.Errorf(core.ErrInvalid, "proof line %q is not a base64 hash", l)
		}
		proof = append(proof, h)
	}
	return old, proof, checkpoint, nil
}

// Handler serves the witness's HTTP interface (c2sp.org/tlog-witness):
// POST /add-checkpoint. Errors are plain text, with the status of their
// kind; a conflict's body is the size the witness holds.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequest))
		if err != nil {
			http.Error(rw, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		old, proof, msg, err := ParseAddCheckpoint(body)
		var sigs []byte
		if err == nil {
			sigs, err = w.AddCheckpoint(r.Context(), old, proof, msg)
		}
		var conflict *ConflictError
		switch {
		case errors.As(err, &conflict):
			rw.Header().Set("Content-Type", sizeType)
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", conflict.Size)
		case err != nil && core.Kind(err) == nil:
			http.Error(rw, "internal error", http.StatusInternalServerError)
		case err != nil:
			http.Error(rw, err.Error(), core.HTTPStatus(err))
		default:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(sigs)
		}
	})
	return mux
}

// ErrUnknownLog is wrapped by the error of a witness that does not
// witness the log of the checkpoint sent (404).
var ErrUnknownLog = errors.New("does not witness this log")

// Client submits checkpoints to one witness.
type Client struct {
	url  string
	key  note.Verifier
	http *http.Client
}

// NewClient returns a client of the witness at url (its submission
// prefix) whose cosignatures key verifies; hc nil is a client with a
// timeout of 30 seconds.
func NewClient(url string, key note.Verifier, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{url: strings.TrimRight(url, "/"), key: key, http: hc}
}

// Name returns the witness's key name.
func (c *Client) Name() string { return c.key.Name() }

// AddCheckpoint sends the signed checkpoint msg with the consistency proof
// from old, and returns the witness's cosignature line of it, checked. A
// witness that holds another old size answers a *ConflictError with it.
func (c *Client) AddCheckpoint(ctx context.Context, old int64, proof tlog.TreeProof, msg []byte) ([]byte, error) {
	text, _, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return nil, errMalformedCheckpoint
	}
	text = append(slices.Clone(text), '\n')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/add-checkpoint", bytes.NewReader(FormatAddCheckpoint(old, proof, msg)))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", c.key.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", c.key.Name(), err)
	}
	switch {
	case resp.StatusCode == http.StatusConflict && resp.Header.Get("Content-Type") == sizeType:
		n, err := strconv.ParseInt(strings.TrimSuffix(string(body), "\n"), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("witness %s: a conflict with a malformed size %q", c.key.Name(), body)
		}
		return nil, &ConflictError{Size: n, msg: fmt.Sprintf("witness %s holds size %d, not %d", c.key.Name(), n, old)}
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("witness %s: %w", c.key.Name(), ErrUnknownLog)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("witness %s refused the checkpoint: %s: %s", c.key.Name(), resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	// Keep the witness's line that verifies; ignore any others.
	for line := range strings.Lines(string(body)) {
		name, b64, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "— "), "\n"), " ")
		if ok && verifySig(string(text), note.Signature{Name: name, Base64: b64}, c.key) {
			return []byte("— " + name + " " + b64 + "\n"), nil
		}
	}
	return nil, fmt.Errorf("witness %s answered no valid cosignature by its key", c.key.Name())
}
