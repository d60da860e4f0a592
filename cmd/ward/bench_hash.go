package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
)

const benchHashHelp = `Hashes every image under DIR as "ward hash" does and prints one JSON line:
images/s over the whole run, and milliseconds per image spent reading,
decoding, and hashing (PDQ plus MD5 and SHA-256), summed over workers.
Without DIR, it generates --count 1024x768 JPEGs and --count 512x512 PNGs
(benign synthetic pictures) in a temporary directory and measures each set.`

// benchHashResult is one line of "ward bench hash".
type benchHashResult struct {
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

func benchHash(ctx context.Context, e *env, args []string) error {
	c := &command{name: "bench hash", args: "[--workers N] [--count N] [DIR]"}
	fs := newFlagSet(e, c, benchHashHelp)
	workers := fs.Int("workers", runtime.NumCPU(), "number of images hashed at once")
	count := fs.Int("count", 300, "images of each kind to generate when no DIR is given")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *workers < 1 || *count < 1 {
		return fmt.Errorf("%w: --workers and --count must be at least 1", errUsage)
	}
	enc := json.NewEncoder(e.stdout)
	switch len(rest) {
	case 1:
		r, err := measureHash(ctx, rest[0], *workers)
		if err != nil {
			return err
		}
		r.Set = rest[0]
		return enc.Encode(r)
	case 0:
	default:
		return fmt.Errorf("%w: one DIR at most", errUsage)
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
		fmt.Fprintf(e.stderr, "generating %d images for %s\n", *count, set.name)
		var buf bytes.Buffer
		for i := range *count {
			buf.Reset()
			if err := set.enc(&buf, i); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d", i)), buf.Bytes(), 0o600); err != nil {
				return err
			}
		}
		r, err := measureHash(ctx, dir, *workers)
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

func measureHash(ctx context.Context, dir string, workers int) (benchHashResult, error) {
	r := benchHashResult{Workers: workers}
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
