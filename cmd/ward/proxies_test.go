package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestServeTrustedProxies: X-Forwarded-For names the client only for
// requests from --trusted-proxies. From any other peer a spoofed header is
// ignored: all its "clients" share the peer's rate limit. Via the proxy,
// each real client has its own rate limit and login lockout.
func TestServeTrustedProxies(t *testing.T) {
	send := func(t *testing.T, base, method, path, xff string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// --rate-ip 1: bursts of 2.
	t.Run("untrusted peer", func(t *testing.T) {
		base := startServe(t, []string{"--data", t.TempDir()}, "--rate-ip", "1")
		for i, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
			code, _ := send(t, base, "GET", "/v1/lists", xff, nil)
			if want := map[bool]int{true: 401, false: 429}[i < 2]; code != want {
				t.Errorf("request %d, spoofed X-Forwarded-For %s: %d, want %d", i, xff, code, want)
			}
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		base := startServe(t, []string{"--data", t.TempDir()}, "--rate-ip", "1", "--trusted-proxies", "127.0.0.0/8, ::1/128")
		for i, want := range []int{401, 401, 429} {
			if code, _ := send(t, base, "GET", "/v1/lists", "198.51.100.7, 203.0.113.1", nil); code != want {
				t.Errorf("request %d of client 203.0.113.1: %d, want %d", i, code, want)
			}
		}
		if code, _ := send(t, base, "GET", "/v1/lists", "203.0.113.1, 203.0.113.2", nil); code != 401 {
			t.Errorf("another client: %d, want 401", code)
		}
	})
	t.Run("lockout via trusted proxy", func(t *testing.T) {
		base := startServe(t, []string{"--data", t.TempDir()}, "--rate-ip", "1000", "--trusted-proxies", "127.0.0.1")
		bad := url.Values{"email": {"someone@example.org"}, "password": {"not the password"}, "code": {"123456"}}
		for i := range 4 {
			if code, body := send(t, base, "POST", "/login", "203.0.113.1", bad); code != 401 || strings.Contains(body, "Too many") {
				t.Fatalf("failure %d: %d", i, code)
			}
		}
		if _, body := send(t, base, "POST", "/login", "203.0.113.1", bad); !strings.Contains(body, "Too many failed attempts") {
			t.Error("the client's fifth failure did not lock it")
		}
		if _, body := send(t, base, "POST", "/login", "203.0.113.2", bad); strings.Contains(body, "Too many failed attempts") {
			t.Error("another client behind the same proxy was locked too")
		}
	})
}
