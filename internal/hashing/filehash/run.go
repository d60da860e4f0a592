package filehash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/hashing/media"
)

// Stdin is the path that names standard input.
const Stdin = "-"

// ErrNotImage is returned for a file named explicitly that is not an image
// of a supported format. Files that are not images are skipped silently
// when found by walking a directory.
var ErrNotImage = errors.New("not an image of a supported format (JPEG, PNG, GIF, WebP, BMP, TIFF, PNM)")

// Run hashes every input in paths with the given number of goroutines and
// calls emit with each result in input order: the paths in the order given,
// and files within a directory in lexical order, recursively. A file that
// fails gives a Result with Err and the run goes on; Run itself fails only
// when ctx is done or emit returns an error.
func Run(ctx context.Context, paths []string, stdin io.Reader, workers int, opts Options, emit func(Result) error) error {
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		seq    int
		path   string
		data   []byte // stdin's content, read by the walker
		err    error  // a walking error, reported as the result
		result chan Result
	}
	// Jobs are queued in order; each carries its own result channel, so
	// the emitter simply waits for them one after another. The queue's
	// capacity bounds the work (and memory) in flight.
	queue := make(chan *job, workers*4)
	work := make(chan *job)

	var walkErr error
	go func() {
		defer close(queue)
		defer close(work)
		seq := 0
		send := func(j *job) bool {
			j.seq, j.result = seq, make(chan Result, 1)
			seq++
			select {
			case queue <- j:
			case <-ctx.Done():
				return false
			}
			if j.err != nil {
				return true
			}
			select {
			case work <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		walkErr = walk(ctx, paths, stdin, opts.limits(), func(path string, data []byte, err error) bool {
			return send(&job{path: path, data: data, err: err})
		})
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				j.result <- hashJob(j.path, j.data, opts)
			}
		}()
	}
	defer wg.Wait()

	for j := range queue {
		var r Result
		if j.err != nil {
			r = Result{Path: j.path, Err: j.err}
		} else {
			select {
			case r = <-j.result:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := emit(r); err != nil {
			cancel()
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return walkErr
}

func hashJob(path string, data []byte, opts Options) Result {
	t0 := time.Now()
	if data == nil {
		var err error
		if data, err = readFile(path, opts.limits()); err != nil {
			return Result{Path: path, Err: err}
		}
	}
	read := time.Since(t0)
	r := Bytes(data, opts)
	r.Path, r.Read = path, read
	if errors.Is(r.Err, media.ErrUnsupported) && r.Format == "" {
		r.Err = ErrNotImage
	}
	return r
}

func readFile(path string, lim media.Limits) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return media.ReadAll(f, lim)
}

// walk calls visit for every input in order. For stdin it passes the
// content; for a file its path; for a directory each image file below it.
// visit returns false to stop.
func walk(ctx context.Context, paths []string, stdin io.Reader, lim media.Limits, visit func(path string, data []byte, err error) bool) error {
	for _, p := range paths {
		if p == Stdin {
			data, err := media.ReadAll(stdin, lim)
			if data == nil && err == nil {
				data = []byte{}
			}
			if !visit(p, data, err) {
				return ctx.Err()
			}
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			if !visit(p, nil, err) {
				return ctx.Err()
			}
			continue
		}
		stop := errors.New("stop")
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if !visit(path, nil, err) {
					return stop
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			ok, err := isImage(path)
			if !ok && err == nil {
				return nil
			}
			if !visit(path, nil, err) {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("walking %s: %w", p, err)
		}
	}
	return nil
}

// isImage reports whether the file starts like an image of a supported
// format: by content, not by name.
func isImage(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	_, ok := media.Sniff(head[:n])
	return ok, nil
}
