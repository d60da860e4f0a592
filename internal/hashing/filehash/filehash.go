// Package filehash turns files into the hashes Ward matches on: MD5 and
// SHA-256 of the bytes, and PDQ of the decoded image. It walks inputs,
// recognises images by content, and hashes them on several goroutines
// while keeping results in input order.
package filehash

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/hashing/pdq"
)

// Options says what to compute.
type Options struct {
	Dihedral bool         // also the 7 rotated and reflected PDQ variants
	Limits   media.Limits // zero value means media.DefaultLimits
	// Budget, if set, admits the decode (and hashing) by its estimated
	// cost; nil decodes at once, as the command line does for local files.
	Budget *media.Budget
}

// hashCost bounds what PDQ hashing allocates besides the image: its
// 512x512 buffers and, when checking whether every pixel is grey, a row of
// indexes and RGB triples as wide as the image.
func hashCost(width int) int64 { return 4<<20 + 11*int64(width) }

func (o Options) limits() media.Limits {
	if o.Limits == (media.Limits{}) {
		return media.DefaultLimits
	}
	return o.Limits
}

// Result is one file's hashes, or the reason it could not be hashed.
type Result struct {
	Path     string
	PDQ      pdq.Hash
	Quality  int
	MD5      string
	SHA256   string
	Width    int
	Height   int
	Format   media.Format  // also set when a recognised image fails to decode
	Dihedral *pdq.Dihedral // only with Options.Dihedral
	Err      error

	// Time spent, for benchmarks: reading the file, decoding the image,
	// and computing PDQ and the digests.
	Read, Decode, Hash time.Duration
}

// Bytes hashes one image held in memory. Digests are computed even when
// the image cannot be decoded, but the result then carries the error.
func Bytes(data []byte, opts Options) Result {
	return Hash(context.Background(), data, opts)
}

// Hash is Bytes, waiting for opts.Budget, if any, no longer than ctx
// allows. When the budget refuses the decode, the error wraps
// media.ErrBusy or media.ErrTooLarge.
func Hash(ctx context.Context, data []byte, opts Options) Result {
	var r Result
	t0 := time.Now()
	m := md5.Sum(data)
	s := sha256.Sum256(data)
	r.MD5, r.SHA256 = hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
	if opts.Budget != nil {
		// The header is checked first, so that a bad file is refused
		// without waiting for the budget.
		cost, err := media.Estimate(data, opts.limits())
		if err == nil {
			var release func()
			release, err = opts.Budget.Acquire(ctx, cost.Bytes+hashCost(cost.Width))
			if err == nil {
				defer release()
			}
		}
		if err != nil {
			r.Format, r.Err, r.Hash = cost.Format, err, time.Since(t0)
			return r
		}
	}
	t1 := time.Now()
	img, format, err := media.Decode(data, opts.limits())
	t2 := time.Now()
	r.Decode, r.Format = t2.Sub(t1), format
	if err != nil {
		r.Hash = t1.Sub(t0)
		r.Err = err
		return r
	}
	b := img.Bounds()
	r.Width, r.Height = b.Dx(), b.Dy()
	if opts.Dihedral {
		d, q := pdq.DihedralFromImage(img)
		r.PDQ, r.Quality, r.Dihedral = d.Orig, q, &d
	} else {
		r.PDQ, r.Quality = pdq.FromImage(img)
	}
	r.Hash = t1.Sub(t0) + time.Since(t2)
	return r
}
