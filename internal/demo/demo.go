// Package demo seeds a database for "ward serve --demo": organisations,
// a provider's API key and active indicators of generated, benign images.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/indicator"
)

// images is how many benign images the demo list holds.
const images = 8

// Seed makes the demo organisations (and the centre's, if there is none), a provider key, and indicators of
// generated images attested by two hotlines in different countries, so
// they are active at once, in list indicator.Known; the images are
// written to dir. It returns the key, an image to try and how many
// indicators there are. It can run on every start: what exists is reused,
// the key too.
func Seed(ctx context.Context, orgs *org.Service, inds *indicator.Service, dir string) (key, image string, indicators int, err error) {
	ensure := func(name string, kind org.Kind, country string) (org.Organisation, error) {
		o, err := orgs.ByName(ctx, name)
		if errors.Is(err, core.ErrNotFound) {
			return orgs.Create(ctx, name, kind, country)
		}
		return o, err
	}
	de, err := ensure("demo-hotline-de", org.Hotline, "DE")
	if err != nil {
		return "", "", 0, err
	}
	nl, err := ensure("demo-hotline-nl", org.Hotline, "NL")
	if err != nil {
		return "", "", 0, err
	}
	if _, err := ensure("demo-provider", org.Provider, "IE"); err != nil {
		return "", "", 0, err
	}
	// Victims' hashes are reported in the centre's name (package victim):
	// the centre's organisation as "ward admin init" makes it, unless
	// there is one.
	all, err := orgs.List(ctx)
	if err != nil {
		return "", "", 0, err
	}
	if !slices.ContainsFunc(all, func(o org.Organisation) bool { return o.Kind == org.Centre }) {
		if _, err := ensure("centre", org.Centre, "BE"); err != nil {
			return "", "", 0, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", 0, err
	}
	if key, err = providerKey(ctx, orgs, dir); err != nil {
		return "", "", 0, err
	}
	var subs []indicator.Submission
	var buf bytes.Buffer
	for i := range images {
		buf.Reset()
		if err := png.Encode(&buf, synth.Image(480, 360, uint64(1000+i))); err != nil {
			return "", "", 0, err
		}
		path := filepath.Join(dir, fmt.Sprintf("demo-%02d.png", i+1))
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			return "", "", 0, err
		}
		r := filehash.Bytes(buf.Bytes(), filehash.Options{})
		if r.Err != nil {
			return "", "", 0, r.Err
		}
		ref := fmt.Sprintf("demo image %d", i+1)
		subs = append(subs,
			indicator.Submission{Signal: indicator.PDQ, Value: r.PDQ.String(), Category: indicator.Baseline, Reference: ref},
			indicator.Submission{Signal: indicator.MD5, Value: r.MD5, Category: indicator.Baseline, Reference: ref})
	}
	for _, o := range []org.Organisation{de, nl} {
		if _, err := inds.Submit(ctx, indicator.Known, o.Principal(), subs); err != nil {
			return "", "", 0, err
		}
	}
	return key, filepath.Join(dir, "demo-01.png"), len(subs), nil
}

// KeyPath is the file in dir that keeps the demo provider's key.
func KeyPath(dir string) string { return filepath.Join(dir, "provider.key") }

// providerKey returns the demo provider's key kept in dir, or a new
// one if there is none that still works (the file is missing, or the key
// was revoked or belongs to another database). Ward stores only keys'
// hashes, so the demo keeps its secret in a file of its own, readable
// only by its owner like the data directory's other keys: a new key on
// every start would leave a trail of keys that never expire.
func providerKey(ctx context.Context, orgs *org.Service, dir string) (string, error) {
	path := KeyPath(dir)
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		p, err := orgs.Authenticate(ctx, key)
		if err == nil && p.OrgName == "demo-provider" {
			return key, nil
		}
		if err != nil && !errors.Is(err, org.ErrBadKey) {
			return "", err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key, _, err := orgs.CreateKey(ctx, "demo-provider", org.KeyOptions{})
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return key, nil
}
