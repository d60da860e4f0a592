package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeHelpRemove: "ward serve" serves the page /help/remove with its
// own policy (scripts from the site and WebAssembly, nothing else), and
// its WebAssembly as application/wasm, gzipped, as a browser needs it.
func TestServeHelpRemove(t *testing.T) {
	url := startServe(t, []string{"--data", t.TempDir()})
	resp, err := http.Get(url + "/help/remove")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK ||
		!strings.HasSuffix(csp, "; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'") || !strings.HasPrefix(csp, "default-src 'none';") ||
		!strings.Contains(string(body), `<input id="files"`) {
		t.Fatalf("page: %d %q", resp.StatusCode, csp)
	}
	req, _ := http.NewRequest("GET", url+"/static/hash.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil || resp.Header.Get("Content-Type") != "application/wasm" || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("hash.wasm: %v %v", resp.Header, err)
	}
	t.Logf("hash.wasm: %d bytes, %d gzipped", len(wasm), len(gz))
}
