// Package filehash turns files into the hashes Ward matches on: MD5 and
// SHA-256 of the bytes, and PDQ of the decoded image. It walks inputs,
// recognises images by content, and hashes them on several goroutines
// while keeping results in input order.
package filehash

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/wardhq/ward/internal/media"
	"github.com/wardhq/ward/internal/pdq"
)

// Options says what to compute.
type Options struct {
	Dihedral bool         // also the 7 rotated and reflected PDQ variants
	Limits   media.Limits // zero value means media.DefaultLimits
}

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
	var r Result
	t0 := time.Now()
	m := md5.Sum(data)
	s := sha256.Sum256(data)
	r.MD5, r.SHA256 = hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
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
