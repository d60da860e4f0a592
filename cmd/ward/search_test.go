package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/cli"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/takedown/search"
)

// TestServeSearchFlags: --search-delay, --search-interval and
// --search-reopen-after parse, with their defaults, refuse a negative
// delay, no interval or no cool-down, and the help names them.
func TestServeSearchFlags(t *testing.T) {
	parse := func(args ...string) (Config, string, error) {
		var out, errs syncBuffer
		cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs}, args)
		return cfg, out.String() + errs.String(), err
	}
	cfg, _, err := parse()
	if err != nil || cfg.SearchDelay != search.DefaultDelay || cfg.SearchInterval != search.DefaultInterval ||
		cfg.SearchReopenAfter != takedown.DefaultFoundCooldown {
		t.Fatalf("defaults: delay %v, interval %v, reopen after %v, %v", cfg.SearchDelay, cfg.SearchInterval, cfg.SearchReopenAfter, err)
	}
	cfg, _, err = parse("--search-delay", "10ms", "--search-interval", "1s", "--search-reopen-after", "2d")
	if err != nil || cfg.SearchDelay != 10*time.Millisecond || cfg.SearchInterval != time.Second || cfg.SearchReopenAfter != 48*time.Hour {
		t.Errorf("given: delay %v, interval %v, reopen after %v, %v", cfg.SearchDelay, cfg.SearchInterval, cfg.SearchReopenAfter, err)
	}
	for _, bad := range [][]string{{"--search-delay", "-1s"}, {"--search-interval", "0"}, {"--search-reopen-after", "0"}, {"--search-reopen-after", "soon"}} {
		if _, _, err := parse(bad...); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	_, help, _ := parse("--help")
	for _, f := range []string{"--search-delay", "--search-interval", "--search-reopen-after", "ward admin search", "victim-reported"} {
		if !strings.Contains(help, f) {
			t.Errorf("the help does not mention %s", f)
		}
	}
}

// TestSearchEndToEnd: the centre's search over real HTTP, on both
// engines: a place on a host on loopback ("ward demo-host") is searched
// at once (ward admin search run), the known image it embeds opens a
// takedown case in assessment, the centre assesses it, the host receives
// the notice and removes the image, and the rechecks verify it; ward
// admin search list shows the run's figures.
func TestSearchEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) { searchEndToEnd(t, engine.flags(t)) })
	}
}

func searchEndToEnd(t *testing.T, db []string) {
	dir := t.TempDir()
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "hotline-de", "--kind", "hotline", "--country", "DE")
	admin("org", "add", "--name", "hotline-nl", "--kind", "hotline", "--country", "NL")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	centreKey := strings.TrimSpace(admin("key", "create", "--org", "centre"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))

	samples := filepath.Join("..", "..", "docs", "examples", "images")
	known := filehash.Bytes(must(os.ReadFile(filepath.Join(samples, "sample-1.png"))), filehash.Options{})
	tsv := filepath.Join(dir, "known.tsv")
	os.WriteFile(tsv, []byte("pdq\t"+known.PDQ.String()+"\tA1\tsample-1\n"), 0o600)
	admin("indicator", "import", "--list", "known", "--org", "hotline-de", tsv)
	admin("indicator", "import", "--list", "known", "--org", "hotline-nl", tsv)
	hosted := t.TempDir()
	os.WriteFile(filepath.Join(hosted, "sample-1.png"), must(os.ReadFile(filepath.Join(samples, "sample-1.png"))), 0o600)

	base := startServe(t, db, "--fetch-allow-private", "--allow-private-webhooks", "--recheck-interval", "1s",
		"--search-delay", "10ms")
	pem := filepath.Join(dir, "centre.pem")
	os.WriteFile(pem, []byte(wardOK(t, "lea", "key", "--server", base, "--key", bkaKey)), 0o600)
	host, printed := startDemoHost(t, pem, hosted)
	admin("org", "add", "--name", "demo-host", "--kind", "host", "--country", "DE", "--ip-ranges", "127.0.0.0/8",
		"--webhook", host+"/notices", "--allow-private-webhooks")
	hostKey := strings.TrimSpace(admin("key", "create", "--org", "demo-host"))

	api := apiCaller(t, base)

	caseID, id := searchFinds(t, admin, api, host, centreKey)
	var c struct {
		takedownCase
		History []struct{ Kind, Detail string } `json:"history"`
	}
	api("GET", "/v1/hotline/cases/"+caseID, centreKey, nil, 200, &c)
	if len(c.History) == 0 || c.History[0].Kind != "found" || c.History[0].Detail != "by the centre's search, place "+id {
		t.Errorf("the case's history %+v; want it found by place %s", c.History, id)
	}
	var classes []map[string]any
	for _, it := range c.Items {
		cl := "not_illegal"
		if len(it.Matches) > 0 {
			cl = "baseline"
		}
		classes = append(classes, map[string]any{"index": it.Index, "classification": cl})
	}
	api("POST", "/v1/hotline/cases/"+caseID+"/assessment", centreKey, map[string]any{"items": classes}, 200, nil)

	wantLine := regexp.MustCompile(`notice (\S+) for case ` + caseID + `: baseline, 1 URL\(s\) \(signature verified\)`)
	for deadline := time.Now().Add(30 * time.Second); !wantLine.MatchString(printed.String()); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("demo-host printed no verified notice for the case:\n%s", printed)
		}
	}
	os.Remove(filepath.Join(hosted, "sample-1.png"))
	api("POST", "/v1/notices/"+wantLine.FindStringSubmatch(printed.String())[1]+"/removed", hostKey, nil, http.StatusAccepted, nil)
	for deadline := time.Now().Add(60 * time.Second); c.State != "removed"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the case is %s, not removed", c.State)
		}
		api("GET", "/v1/hotline/cases/"+caseID, centreKey, nil, 200, &c)
	}

	list := admin("search", "list")
	row := regexp.MustCompile(`(?m)^` + id + `\s+` + regexp.QuoteMeta(host+"/") + `\s+1\s+20\s+1d\s.*$`).FindString(list)
	if f := strings.Fields(row); len(f) < 12 || f[8] == "0" || f[10] != "1" || f[11] != "1" {
		t.Errorf("search list: the place's row %q (fields %q); want pages, 1 match, 1 case:\n%s", row, f, list)
	}
}

// searchFinds adds host's page to the centre's search, runs it now and
// returns the one takedown case it opens, once it waits for assessment,
// and the place's ID.
func searchFinds(t *testing.T, admin func(...string) string, api func(method, path, key string, body any, want int, out any), host, key string) (caseID, place string) {
	t.Helper()
	out := admin("search", "add", host+"/", "--depth", "1", "--max-pages", "20")
	id := regexp.MustCompile(`search place (\d+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("search add printed no place: %q", out)
	}
	admin("search", "run", id[1])
	var cases struct {
		Cases []struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"cases"`
	}
	for deadline := time.Now().Add(60 * time.Second); len(cases.Cases) == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the search opened no case in assessment")
		}
		api("GET", "/v1/hotline/cases?state=assessment", key, nil, 200, &cases)
	}
	if len(cases.Cases) != 1 || cases.Cases[0].URL != host+"/" {
		t.Fatalf("cases in assessment: %+v", cases.Cases)
	}
	return cases.Cases[0].ID, id[1]
}
