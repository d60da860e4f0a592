package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
)

// HashOptions says what Hash measures.
type HashOptions struct {
	Dir     string // images to hash; "" generates Count of each kind
	Workers int    // images hashed at once, at least 1
	Count   int    // images of each kind to generate without Dir, at least 1
}

// HashResult is one line of Hash's output.
type HashResult struct {
	Set          string  `json:"set"`
	Images       int     `json:"images"`
	Failed       int     `json:"failed"`
	Workers      int     `json:"workers"`
	WallS        float64 `json:"wall_s"`
	ImagesPerS   float64 `json:"images_per_s"`
	ReadMs       float64 `json:"read_ms_per_image"`
	DecodeMs     float64 `json:"decode_ms_per_image"`
	HashMs       float64 `json:"hash_ms_per_image"`
	CPUMsPerImg  float64 `json:"cpu_ms_per_image"`
	OneCoreRateS float64 `json:"one_core_images_per_s"`
}

// Hash hashes the images of o.Dir, or of each generated set, and writes a
// HashResult line for each to out.
func Hash(ctx context.Context, o HashOptions, out, progress io.Writer) error {
	progress = progressOf(progress)
	enc := json.NewEncoder(out)
	if o.Dir != "" {
		r, err := measureHash(ctx, o.Dir, o.Workers)
		if err != nil {
			return err
		}
		r.Set = o.Dir
		return enc.Encode(r)
	}
	tmp, err := os.MkdirTemp("", "ward-bench-hash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, set := range []struct {
		name string
		enc  func(*bytes.Buffer, int) error
	}{
		{"jpeg-1024x768-q85", func(b *bytes.Buffer, seed int) error {
			return jpeg.Encode(b, synth.Image(1024, 768, uint64(seed)), &jpeg.Options{Quality: 85})
		}},
		{"png-512x512", func(b *bytes.Buffer, seed int) error {
			return png.Encode(b, synth.Image(512, 512, uint64(seed)))
		}},
	} {
		dir := filepath.Join(tmp, set.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		fmt.Fprintf(progress, "generating %d images for %s\n", o.Count, set.name)
		var buf bytes.Buffer
		for i := range o.Count {
			buf.Reset()
			if err := set.enc(&buf, i); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d", i)), buf.Bytes(), 0o600); err != nil {
				return err
			}
		}
		r, err := measureHash(ctx, dir, o.Workers)
		if err != nil {
			return err
		}
		r.Set = set.name
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func measureHash(ctx context.Context, dir string, workers int) (HashResult, error) {
	r := HashResult{Workers: workers}
	var read, decode, hash time.Duration
	start := time.Now()
	err := filehash.Run(ctx, []string{dir}, nil, workers, filehash.Options{}, func(res filehash.Result) error {
		r.Images++
		if res.Err != nil {
			r.Failed++
		}
		read += res.Read
		decode += res.Decode
		hash += res.Hash
		return nil
	})
	if err != nil {
		return r, err
	}
	if r.Images == 0 {
		return r, fmt.Errorf("no images under %s", dir)
	}
	wall := time.Since(start)
	n := float64(r.Images)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	r.WallS = wall.Seconds()
	r.ImagesPerS = n / wall.Seconds()
	r.ReadMs, r.DecodeMs, r.HashMs = ms(read), ms(decode), ms(hash)
	r.CPUMsPerImg = r.ReadMs + r.DecodeMs + r.HashMs
	r.OneCoreRateS = 1000 / r.CPUMsPerImg
	return r, nil
}

// progressOf is w, or a writer discarding progress if w is nil.
func progressOf(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
