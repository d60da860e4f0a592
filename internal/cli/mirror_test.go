package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/mirror"
)

// writeMirror makes a mirror of list, as ward sync leaves it, holding
// entries.
func writeMirror(t *testing.T, path, list string, kind indicator.ListKind, threshold int, entries ...mirror.Entry) {
	t.Helper()
	ctx := context.Background()
	m, err := mirror.Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Bind(ctx, "http://ward.example", list); err != nil {
		t.Fatal(err)
	}
	if err := m.SetList(ctx, kind, 31, threshold); err != nil {
		t.Fatal(err)
	}
	var changes []mirror.Change
	for i, e := range entries {
		changes = append(changes, mirror.Change{Seq: int64(i + 1), Kind: client.ChangeActivate, Entry: e})
	}
	if err := m.Apply(ctx, changes, int64(len(changes))); err != nil {
		t.Fatal(err)
	}
}

// TestScanSuppress: ward scan with a mirror of known material and one of
// a suppress list leaves out the matches of a file the suppress list
// holds, and says so.
func TestScanSuppress(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(200, 200, 4)); err != nil {
		t.Fatal(err)
	}
	stockFile, otherFile := filepath.Join(dir, "stock.png"), filepath.Join(dir, "other.png")
	os.WriteFile(stockFile, b.Bytes(), 0o600)
	stock := filehash.Bytes(b.Bytes(), filehash.Options{})
	b.Reset()
	png.Encode(&b, synth.Image(200, 200, 5))
	os.WriteFile(otherFile, b.Bytes(), 0o600)
	other := filehash.Bytes(b.Bytes(), filehash.Options{})

	known, benign := filepath.Join(dir, "known.mirror"), filepath.Join(dir, "stock.mirror")
	writeMirror(t, known, "known", indicator.MatchList, 31,
		mirror.Entry{ID: 1, Signal: "pdq", Value: stock.PDQ.String(), Category: "A1"},
		mirror.Entry{ID: 2, Signal: "md5", Value: other.MD5, Category: "A1"})
	writeMirror(t, benign, "stock", indicator.SuppressList, 10,
		mirror.Entry{ID: 3, Signal: "sha256", Value: stock.SHA256, Category: "baseline"})

	scan := func(args ...string) map[string]string {
		t.Helper()
		out := wardOK(t, append([]string{"scan"}, args...)...)
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r matchRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("bad scan line %q: %v", line, err)
			}
			s := ""
			for _, m := range r.Matches {
				s += " " + m.List + ":" + m.Signal
			}
			s += " |"
			for _, x := range r.SuppressedBy {
				s += " " + x.List + ":" + x.Signal
			}
			got[filepath.Base(r.Path)] = s
		}
		return got
	}
	got := scan("--mirror", known, stockFile, otherFile)
	if got["stock.png"] != " known:pdq |" || got["other.png"] != " known:md5 |" {
		t.Errorf("scan of the known mirror alone: %q", got)
	}
	got = scan("--mirror", known, "--mirror", benign, "--threshold", "31", stockFile, otherFile)
	if got["stock.png"] != " | stock:sha256" || got["other.png"] != " known:md5 |" {
		t.Errorf("scan with the suppress list: %q", got)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--mirror", known, "--mirror", known, stockFile}, `two mirrors of list "known"`},
		{[]string{"--mirror", known, "--threshold", "129", stockFile}, "--threshold must be 0 to 128"},
		{[]string{stockFile}, "--mirror FILE is required"},
	} {
		if code, _, errs := ward(t, "", append([]string{"scan"}, tt.args...)...); code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("scan %q: exit %d, %q; want an error saying %q", tt.args, code, errs, tt.want)
		}
	}
}
