package store

import "context"

// OpenAt is Open migrating only up to schema version upTo, for tests of a
// migration on data written with the schema before it.
func OpenAt(ctx context.Context, url string, upTo int) (*DB, error) {
	return openAt(ctx, url, upTo)
}
