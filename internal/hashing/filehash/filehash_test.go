package filehash

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/hashing/synth"
)

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tiff":
		err = tiff.Encode(&b, img, nil)
	default:
		t.Fatalf("no encoder for %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tree writes files under a temporary directory and returns it.
func tree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func collect(t *testing.T, paths []string, stdin []byte, workers int, opts Options) []Result {
	t.Helper()
	var out []Result
	err := Run(context.Background(), paths, bytes.NewReader(stdin), workers, opts, func(r Result) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBytesMatchesDirectHash(t *testing.T) {
	img := synth.Image(300, 200, 7)
	data := encode(t, "png", img)
	r := Bytes(data, Options{Dihedral: true})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want, q := pdq.FromImage(img)
	if r.PDQ != want || r.Quality != q {
		t.Errorf("PDQ %v q=%d, direct %v q=%d", r.PDQ, r.Quality, want, q)
	}
	if r.Width != 300 || r.Height != 200 || r.Format != "png" {
		t.Errorf("size %dx%d format %s", r.Width, r.Height, r.Format)
	}
	if r.Dihedral == nil || r.Dihedral.Orig != want {
		t.Errorf("dihedral %+v", r.Dihedral)
	}
	if len(r.MD5) != 32 || len(r.SHA256) != 64 {
		t.Errorf("digests %q %q", r.MD5, r.SHA256)
	}
}

func TestRunOrderAndSniffing(t *testing.T) {
	files := map[string][]byte{
		"b/2.png":      encode(t, "png", synth.Image(64, 64, 2)),
		"b/1.jpg.txt":  encode(t, "jpeg", synth.Image(80, 60, 1)), // extension lies: sniffed as an image
		"a.gif":        encode(t, "gif", synth.Image(50, 50, 3)),
		"c/notes.txt":  []byte("not an image at all"),
		"c/d/deep.bmp": encode(t, "bmp", synth.Image(40, 30, 4)),
		"c/e.tiff":     encode(t, "tiff", synth.Image(33, 44, 5)),
		"image.png":    []byte("\x89PNG\r\n\x1a\nbut truncated"), // looks like PNG, is not
	}
	dir := tree(t, files)
	stdin := encode(t, "png", synth.Image(70, 70, 6))
	paths := []string{filepath.Join(dir, "c"), "-", filepath.Join(dir, "b"), filepath.Join(dir, "a.gif"), filepath.Join(dir, "image.png"), filepath.Join(dir, "missing.png")}
	want := []string{"c/d/deep.bmp", "c/e.tiff", "-", "b/1.jpg.txt", "b/2.png", "a.gif", "image.png", "missing.png"}

	var first []Result
	for _, workers := range []int{1, 2, 8} {
		got := collect(t, paths, stdin, workers, Options{})
		if len(got) != len(want) {
			t.Fatalf("workers=%d: %d results, want %d: %v", workers, len(got), len(want), got)
		}
		for i, r := range got {
			name := strings.TrimPrefix(filepath.ToSlash(strings.TrimPrefix(r.Path, dir)), "/")
			if name != want[i] {
				t.Errorf("workers=%d: result %d is %s, want %s", workers, i, name, want[i])
			}
			failed := name == "image.png" || name == "missing.png"
			if (r.Err != nil) != failed {
				t.Errorf("%s: error %v", name, r.Err)
			}
			if first != nil && r.PDQ != first[i].PDQ {
				t.Errorf("workers=%d: %s hash differs from workers=1", workers, name)
			}
		}
		if first == nil {
			first = got
		}
	}
	if err := first[6].Err; !errors.Is(err, media.ErrCorrupt) {
		t.Errorf("truncated PNG: %v, want a corrupt-image error", err)
	}
	if err := first[7].Err; !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestNamedNonImage(t *testing.T) {
	dir := tree(t, map[string][]byte{"x.jpg": []byte("plain text, named like a JPEG")})
	got := collect(t, []string{filepath.Join(dir, "x.jpg")}, nil, 2, Options{})
	if len(got) != 1 || !errors.Is(got[0].Err, ErrNotImage) {
		t.Fatalf("got %+v, want ErrNotImage", got)
	}
	if got[0].MD5 == "" {
		t.Error("digests of a non-image should still be computed")
	}
}

func TestTooLarge(t *testing.T) {
	dir := tree(t, map[string][]byte{"big.png": encode(t, "png", synth.Image(200, 200, 1))})
	got := collect(t, []string{dir}, nil, 1, Options{Limits: media.Limits{MaxBytes: 1 << 20, MaxPixels: 10_000}})
	if len(got) != 1 || !errors.Is(got[0].Err, media.ErrTooLarge) {
		t.Fatalf("got %+v, want ErrTooLarge", got)
	}
}

func TestEmitErrorStops(t *testing.T) {
	files := map[string][]byte{}
	for i := range 20 {
		files[filepath.Join("d", string(rune('a'+i))+".png")] = encode(t, "png", synth.Image(16, 16, uint64(i)))
	}
	dir := tree(t, files)
	stop := errors.New("stop")
	n := 0
	err := Run(context.Background(), []string{dir}, nil, 4, Options{}, func(Result) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("err %v after %d results, want stop after 3", err, n)
	}
}

func TestCancel(t *testing.T) {
	dir := tree(t, map[string][]byte{"a.png": encode(t, "png", synth.Image(16, 16, 1))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, []string{dir, dir, dir}, nil, 2, Options{}, func(Result) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
