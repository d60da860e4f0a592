package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wardhq/ward/internal/hashing/media/mediatest"
)

// TestDecodeBudgetRSS sends four 7000x7000 progressive CMYK JPEGs of 96
// scans (390 KB each, over 1 GB each to decode with the standard library)
// to POST /v1/hash-match at once, and checks that the server, a process of
// its own, stays under 1.2 GB of peak RSS with the default decode budget,
// and that every request gets its hash or a 503 with Retry-After.
func TestDecodeBudgetRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes four 49 megapixel images in a server process")
	}
	flags := engines[0].flags(t)
	admin := func(args ...string) string { return wardOK(t, append(append([]string{"admin"}, args...), flags...)...) }
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	key := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	srv := startProc(t, flags)

	img := mediatest.ProgressiveJPEG(7000, 7000, 4, 23)
	t.Logf("image: %d bytes", len(img))
	type answer struct {
		status     int
		retryAfter string
		body       []byte
	}
	answers := make([]answer, 4)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, srv.url+"/v1/hash-match", bytes.NewReader(img))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "image/jpeg")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), b}
		})
	}
	wg.Wait()

	hashed := 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			var r struct{ PDQ string }
			if err := json.Unmarshal(a.body, &r); err != nil || len(r.PDQ) != 64 {
				t.Errorf("request %d: 200 without a hash: %s", i, a.body)
			}
			hashed++
		case http.StatusServiceUnavailable:
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 || !bytes.Contains(a.body, []byte(`"status":503`)) {
				t.Errorf("request %d: 503 without Retry-After or problem details: %q %s", i, a.retryAfter, a.body)
			}
		default:
			t.Errorf("request %d: %d %s", i, a.status, a.body)
		}
	}
	if hashed == 0 {
		t.Error("no request got its hash")
	}
	hwm := vmHWM(t, srv.cmd.Process.Pid)
	t.Logf("%d hashed, %d refused; peak RSS %.0f MB", hashed, len(answers)-hashed, float64(hwm)/1e6)
	if hwm >= 1.2e9 {
		t.Errorf("peak RSS %.0f MB, want under 1200 MB", float64(hwm)/1e6)
	}
}

// vmHWM returns the peak resident set size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read the peak RSS from: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
