package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/victim"
)

// TestVictimCaseServe: ward serve wires the victims' cases: a case opened
// through the API, a provider's match of the list counted, the page
// /help/case in Chromium showing the counts and withdrawing every hash
// after a confirmation, the withdrawn hashes leaving the matcher, and the
// help services added with ward admin served.
func TestVictimCaseServe(t *testing.T) {
	ctx := browser(t)
	db := engines[0].flags(t)
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	acmeKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	admin("help-service", "add", "--country", "BE", "--language", "fr", "--name", "Child Focus", "--url", "https://childfocus.example/fr")
	base := startServe(t, db)

	call := func(method, path, key, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}
	md5 := func(i int) string { return fmt.Sprintf("%032x", 0x5eed00+i) }
	var rc struct {
		Case, Secret string
	}
	if err := json.Unmarshal(call("POST", "/v1/public/victim-cases", "", fmt.Sprintf(`{"hashes":[{"signal":"md5","value":%q},{"signal":"md5","value":%q}]}`,
		md5(0), md5(1)), 201), &rc); err != nil || rc.Case == "" || rc.Secret == "" {
		t.Fatalf("receipt %+v, %v", rc, err)
	}
	matches := func() bool {
		t.Helper()
		return bytes.Contains(call("POST", "/v1/match", acmeKey, `{"items":[{"md5":"`+md5(0)+`"}],"lists":["victim-reported"]}`, 200),
			[]byte(`"category":"unverified"`))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s", what)
			}
		}
	}
	waitFor("the hash matches", matches)
	if st := call("GET", "/v1/public/victim-cases/"+rc.Case, rc.Secret, "", 200); !bytes.Contains(st, []byte(`"provider_matches":1`)) {
		t.Errorf("status %s", st)
	}

	p := page{t, ctx}
	p.do(chromedp.Navigate(base + "/help/case"))
	if status := p.submit(map[string]string{"case": rc.Case, "secret": rc.Secret}, "main button[type=submit]"); status != 200 {
		t.Fatalf("the status page: %d %s", status, p.body())
	}
	if p.text("count-hashes") != "2" || p.text("count-provider-matches") != "1" || !strings.Contains(p.body(), "Found at online services") {
		t.Errorf("the status page: %s", p.body())
	}
	p.navigate(chromedp.Click(chromedp.ID("withdraw-all")))
	if status := p.navigate(chromedp.Click(chromedp.ID("confirm"))); status != 200 || p.text("count-withdrawn") != "2" || p.text("count-hashes") != "0" {
		t.Errorf("after withdrawing all: %d %s", status, p.body())
	}
	waitFor("the withdrawn hash stops matching", func() bool { return !matches() })

	if b := call("GET", "/v1/public/help-services?country=be&language=fr", "", "", 200); !bytes.Contains(b, []byte(`"name":"Child Focus"`)) {
		t.Errorf("help services %s", b)
	}
}

func TestServeVictimDailyHashes(t *testing.T) {
	parse := func(args ...string) (Config, string, error) {
		var out, errs syncBuffer
		cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, args)
		return cfg, out.String() + errs.String(), err
	}
	if cfg, _, err := parse(); err != nil || cfg.VictimDailyHashes != victim.DefaultDailyHashes {
		t.Errorf("default %d, %v", cfg.VictimDailyHashes, err)
	}
	if cfg, _, err := parse("--victim-daily-hashes", "50"); err != nil || cfg.VictimDailyHashes != 50 {
		t.Errorf("given %d, %v", cfg.VictimDailyHashes, err)
	}
	if _, _, err := parse("--victim-daily-hashes", "0"); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("0: %v, want a usage error", err)
	}
	if _, help, _ := parse("--help"); !strings.Contains(help, "at most --victim-daily-hashes new hashes") {
		t.Error("the help does not explain --victim-daily-hashes")
	}
}
