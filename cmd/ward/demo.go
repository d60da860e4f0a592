package main

import (
	"context"
	"fmt"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/demo"
	"github.com/wardhq/ward/internal/indicator"
)

// seedDemo seeds the demo (demo.Seed) and says so.
func seedDemo(ctx context.Context, e *env, orgs *org.Service, inds *indicator.Service, dir string) (key, image string, err error) {
	key, image, n, err := demo.Seed(ctx, orgs, inds, dir)
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(e.stderr, "ward: demo ready: %d active indicators in list %q, images in %s\n", n, indicator.Known, dir)
	return key, image, nil
}

// demoKeyPath is the file that keeps the demo provider's key.
func demoKeyPath(dir string) string { return demo.KeyPath(dir) }
