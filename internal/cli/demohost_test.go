package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/takedown"
)

// syncWriter is a buffer written by the host's goroutines and read by the
// test.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func newSyncWriter() *syncWriter { return &syncWriter{} }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestDemoHost runs "ward demo-host" on a directory: the page shows its
// images, a file is served until it is deleted, nothing outside the
// directory is, and a notice is printed only if the centre signed it.
func TestDemoHost(t *testing.T) {
	dir := t.TempDir()
	var img bytes.Buffer
	png.Encode(&img, synth.Image(64, 64, 7))
	os.WriteFile(filepath.Join(dir, "a.png"), img.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o600)
	pub, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	keyFile := filepath.Join(t.TempDir(), "centre.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	out, errs := newSyncWriter(), newSyncWriter()
	done := make(chan error, 1)
	go func() {
		done <- runDemoHost(ctx, &Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errs},
			[]string{"--addr", "127.0.0.1:0", "--signing-key", keyFile, dir})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo-host: %v", err)
		}
	})
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		base = regexp.MustCompile(`http://[0-9.:]+`).FindString(errs.String())
	}
	if base == "" {
		t.Fatalf("the host did not start: %s", errs)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, page := get("/"); code != 200 || !strings.Contains(page, `src="/files/a.png"`) || strings.Contains(page, "notes.txt") {
		t.Errorf("the page: %d %s", code, page)
	}
	if code, body := get("/files/a.png"); code != 200 || body != img.String() {
		t.Errorf("the image: %d, %d bytes", code, len(body))
	}
	for _, p := range []string{"/files/..%2f..%2fetc%2fpasswd", "/files/missing.png"} {
		if code, _ := get(p); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	os.Remove(filepath.Join(dir, "a.png"))
	if code, _ := get("/files/a.png"); code != 404 {
		t.Errorf("a deleted image: %d, want 404", code)
	}

	notice := []byte(`{"notice":"N1","case":"C1","urls":["http://127.0.0.1/files/a.png"],"classification":"baseline","sent_at":"2026-12-07T10:00:00Z","removal_url":"http://127.0.0.1:8080/v1/notices/N1/removed"}`)
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/notices", bytes.NewReader(notice))
		req.Header.Set("Ward-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, append([]byte(takedown.NoticeContext), notice...)))
	_, other, _ := ed25519.GenerateKey(nil)
	bad := "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(other, append([]byte(takedown.NoticeContext), notice...)))
	if code := post(bad); code != http.StatusForbidden {
		t.Errorf("a notice signed by another key: %d, want 403", code)
	}
	if code := post(good); code != http.StatusNoContent {
		t.Errorf("a signed notice: %d, want 204", code)
	}
	printed := out.String()
	if !strings.Contains(printed, "notice N1 for case C1: baseline, 1 URL(s) (signature verified)") ||
		!strings.Contains(printed, "  http://127.0.0.1/files/a.png") || !strings.Contains(printed, "refused a notice") {
		t.Errorf("printed:\n%s", printed)
	}
}
