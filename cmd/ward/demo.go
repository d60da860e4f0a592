package main

import (
	"context"
	"fmt"
	"io"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/demo"
	"github.com/wardhq/ward/internal/indicator"
)

// seedDemo seeds the demo (demo.Seed) and says so.
func seedDemo(ctx context.Context, stderr io.Writer, orgs *org.Service, inds *indicator.Service, dir string) (key, image string, err error) {
	key, image, n, err := demo.Seed(ctx, orgs, inds, dir)
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(stderr, "ward: demo ready: %d active indicators in list %q, images in %s\n", n, indicator.Known, dir)
	return key, image, nil
}
