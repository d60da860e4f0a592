package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/forward"
	"github.com/wardhq/ward/internal/reporting/report"
)

// TestLEACommands runs "ward lea" against an API server with one report
// routed to a German authority.
func TestLEACommands(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	orgs := org.NewService(db)
	reports := report.NewService(db.Reports(), seal.NewSealer(seal.NewKeyring(), db))
	fwd := forward.NewService(db.Forward(), reports, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	keys := map[string]string{}
	ids := map[string]int64{}
	for _, o := range []struct {
		name    string
		kind    org.Kind
		country string
	}{{"provider", org.Provider, "IE"}, {"bka", org.LEA, "DE"}} {
		created, err := orgs.Create(ctx, o.name, o.kind, o.country)
		if err != nil {
			t.Fatal(err)
		}
		ids[o.name] = created.ID
		if keys[o.name], _, err = orgs.CreateKey(ctx, o.name, org.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 3, 2, 21, 40, 0, 0, time.UTC)
	r, _, err := reports.CreateDraft(ctx, ids["provider"], "", report.Draft{
		IncidentTime: at, Type: report.TypeNew,
		Items:     []report.Item{{Kind: report.ItemFile}},
		User:      report.User{Country: "DE"},
		Service:   report.OnlineService{Type: report.Hosting},
		Awareness: report.Awareness{Method: report.Moderator},
		Urgency:   report.Urgency{Urgent: true, Reason: "imminent"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reports.AddFile(ctx, ids["provider"], r.ID, 0, []byte("content")); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.Finish(ctx, ids["provider"], r.ID); err != nil {
		t.Fatal(err)
	}
	storetest.SetReportState(t, db, r.ID, report.StateForwarded)
	if err := fwd.Route(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	api := &httpapi.Server{Orgs: orgs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: audit.NewLog(db, nil), Forward: fwd}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	t.Setenv("WARD_SERVER", srv.URL)
	t.Setenv("WARD_KEY", keys["bka"])

	out := wardOK(t, "lea", "inbox")
	if !regexp.MustCompile(`(?m)^REPORT +DELIVERED +TYPE +URGENT +ACKNOWLEDGED\n` + r.ID + ` +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +new +URGENT *\n$`).MatchString(out) {
		t.Errorf("inbox:\n%s", out)
	}
	dir := filepath.Join(t.TempDir(), "out")
	out = wardOK(t, "lea", "get", r.ID, "--out", dir)
	wantOutput(t, "get", out, "signature verified")
	body, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || !bytes.Contains(body, []byte(r.ID)) {
		t.Errorf("report.json: %v %s", err, body)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "file-0-*"))
	if len(matches) != 1 {
		t.Fatalf("files written: %v", matches)
	}
	if b, _ := os.ReadFile(matches[0]); string(b) != "content" {
		t.Errorf("file content %q", b)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("output directory mode %v, %v; want 0700", fi.Mode(), err)
	}

	wantOutput(t, "ack", wardOK(t, "lea", "ack", r.ID), "acknowledged at")
	if out := wardOK(t, "lea", "inbox"); strings.Contains(out, r.ID) {
		t.Errorf("new inbox after the ack:\n%s", out)
	}
	wantOutput(t, "inbox --status all", wardOK(t, "lea", "inbox", "--status", "all"), r.ID)
	out = wardOK(t, "lea", "feedback", r.ID, "--outcome", "investigating", "--note", "case 42", "--non-disclosure-until", "180d")
	wantOutput(t, "feedback", out, "recorded: investigating; the reported user is not to be told before")

	code, _, errs := ward(t, "", "lea", "feedback", r.ID)
	if code != 2 || !strings.Contains(errs, "--outcome is required") {
		t.Errorf("feedback without outcome: exit %d, %q", code, errs)
	}
	code, _, errs = ward(t, "", "lea", "feedback", r.ID, "--outcome", "investigating", "--non-disclosure-until", "2099-01-01")
	if code != 1 || !strings.Contains(errs, "18 months") {
		t.Errorf("non-disclosure too long: exit %d, %q", code, errs)
	}
	t.Setenv("WARD_KEY", keys["provider"])
	code, _, errs = ward(t, "", "lea", "get", r.ID, "--out", t.TempDir())
	if code != 1 || !strings.Contains(errs, "403") {
		t.Errorf("get by a provider: exit %d, %q", code, errs)
	}
	if code, _, _ := ward(t, "", "lea", "nope"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

func TestAdminOrgWebhook(t *testing.T) {
	dir := keyEnv(t)
	adminOK(t, dir, "org", "add", "--name", "BKA", "--kind", "lea", "--country", "DE", "--webhook", "https://bka.example/ward")
	r := runAdminCmd(t, "", false, "org", "add", "--data", dir, "--name", "Police", "--kind", "lea", "--country", "FR", "--webhook", "http://police.example/")
	if !errors.Is(r.err, core.ErrInvalid) || !strings.Contains(r.err.Error(), "https") {
		t.Errorf("add with an http webhook: %v", r.err)
	}
	db := openData(t, dir)
	bka, err := org.NewService(db).ByName(t.Context(), "BKA")
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.LoadKeyring(filepath.Join(dir, "master.keys"))
	if err != nil {
		t.Fatal(err)
	}
	sealer := seal.NewSealer(k, db)
	webhook := func() string {
		h, err := forward.OpenWebhook(t.Context(), db, sealer, bka.ID)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := webhook(); h != "https://bka.example/ward" {
		t.Errorf("webhook after add: %q", h)
	}
	// Only the host is shown: the rest may hold the receiver's secret.
	out := adminOK(t, dir, "org", "set-webhook", "BKA", "https://bka.example/v2?token=s3cret").stdout
	if wantOutput(t, "set-webhook", out, "bka.example"); strings.Contains(out, "s3cret") {
		t.Errorf("set-webhook shows the URL's secret: %q", out)
	}
	if h := webhook(); h != "https://bka.example/v2?token=s3cret" {
		t.Errorf("webhook after set: %q", h)
	}
	if dump := storetest.DumpAll(t, db); bytes.Contains(dump, []byte("s3cret")) || bytes.Contains(dump, []byte("bka.example")) {
		t.Error("a dump of the database holds the webhook URL")
	}
	// Internal addresses are refused at registration, unless allowed.
	for _, hook := range []string{"https://169.254.169.254/latest/meta-data/", "https://[fd00::1]/", "http://127.0.0.1:6379", "http://localhost:8080/"} {
		r := runAdminCmd(t, "", false, "org", "set-webhook", "--data", dir, "BKA", hook)
		if !errors.Is(r.err, core.ErrInvalid) || !strings.Contains(r.err.Error(), "--allow-private-webhooks") {
			t.Errorf("set-webhook %s: %v; want it refused, naming the flag", hook, r.err)
		}
		adminOK(t, dir, "org", "set-webhook", "--allow-private-webhooks", "BKA", hook)
		if h := webhook(); h != hook {
			t.Errorf("webhook after set with --allow-private-webhooks: %q, want %q", h, hook)
		}
	}
	adminOK(t, dir, "org", "set-webhook", "BKA", "")
	if h := webhook(); h != "" {
		t.Errorf("webhook after removal: %q", h)
	}
	if r := runAdminCmd(t, "", false, "org", "set-webhook", "--data", dir, "Nobody", ""); r.err == nil || !strings.Contains(r.err.Error(), "no organisation") {
		t.Errorf("set-webhook of an unknown organisation: %v", r.err)
	}
	if r := runAdminCmd(t, "", false, "org", "set-webhook", "--data", dir, "BKA"); !errors.Is(r.err, errUsageShown) {
		t.Errorf("set-webhook without URL: %v", r.err)
	}
	entries, err := audit.NewLog(db, nil).Latest(t.Context(), 1)
	if err != nil || len(entries) != 1 || entries[0].Action != "org.set_webhook" || entries[0].Object != "org:"+strconv.FormatInt(bka.ID, 10) {
		t.Errorf("audit trail %+v, %v", entries, err)
	}
}

// TestLEAGetOtherReport checks that "ward lea get" refuses a package that
// is signed but is another report's than the one asked for.
func TestLEAGetOtherReport(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	body := []byte(`{"report_id":"OTHER","type":"new","files":[],"matches":[]}`)
	sig := "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, append([]byte(forward.PackageContext), body...)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/lea/signing-key", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(client.SigningKey{Algorithm: "ed25519", PublicKey: key.Public().(ed25519.PublicKey)})
	})
	mux.HandleFunc("GET /v1/lea/reports/ASKED", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(forward.SignatureHeader, sig)
		w.Write(body)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Setenv("WARD_SERVER", srv.URL)
	t.Setenv("WARD_KEY", "key")
	dir := filepath.Join(t.TempDir(), "out")
	code, _, errs := ward(t, "", "lea", "get", "ASKED", "--out", dir)
	if code != 1 || !strings.Contains(errs, "OTHER") {
		t.Errorf("get of a package of another report: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output directory: %v; want none", err)
	}
}

// TestLEAGetFileMismatch checks that "ward lea get" refuses a file whose
// size or SHA-256 is not the signed package's, leaving nothing, not even a
// partial file, under its name, and keeps the files that match.
func TestLEAGetFileMismatch(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	good, bad := []byte("the first file"), []byte("the second file")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	for name, served := range map[string][]byte{
		"content": []byte("the second fil!"),
		"longer":  append(bytes.Clone(bad), '!'),
		"shorter": bad[:5],
	} {
		t.Run(name, func(t *testing.T) {
			body := fmt.Appendf(nil, `{"report_id":"R1","type":"new","files":[{"index":0,"size":%d,"sha256":%q},{"index":1,"size":%d,"sha256":%q}],"matches":[]}`,
				len(good), sum(good), len(bad), sum(bad))
			sig := "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, append([]byte(forward.PackageContext), body...)))
			mux := http.NewServeMux()
			mux.HandleFunc("GET /v1/lea/signing-key", func(w http.ResponseWriter, _ *http.Request) {
				json.NewEncoder(w).Encode(client.SigningKey{Algorithm: "ed25519", PublicKey: key.Public().(ed25519.PublicKey)})
			})
			mux.HandleFunc("GET /v1/lea/reports/R1", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set(forward.SignatureHeader, sig)
				w.Write(body)
			})
			mux.HandleFunc("GET /v1/lea/reports/R1/files/0", func(w http.ResponseWriter, _ *http.Request) { w.Write(good) })
			mux.HandleFunc("GET /v1/lea/reports/R1/files/1", func(w http.ResponseWriter, _ *http.Request) { w.Write(served) })
			srv := httptest.NewServer(mux)
			defer srv.Close()
			t.Setenv("WARD_SERVER", srv.URL)
			t.Setenv("WARD_KEY", "key")
			dir := filepath.Join(t.TempDir(), "out")
			code, _, errs := ward(t, "", "lea", "get", "R1", "--out", dir)
			if code != 1 || !strings.Contains(errs, "not the one the signed package describes") {
				t.Errorf("exit %d, %q; want the mismatch refused", code, errs)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"file-0-" + sum(good), "report.json", "report.sig"}; !slices.Equal(names, want) {
				t.Errorf("written %v, want %v", names, want)
			}
		})
	}
}
