package storetest

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store"
)

// Run runs every suite of the store's contract: the SQL behind each
// domain's Store, by row and by transaction. open must return a new,
// empty (freshly migrated) database each time it is called; subtests run
// in parallel. The rules of a domain (which state follows which, who sees
// what) are tested in its own package, through the store, on each engine.
func Run(t *testing.T, open func(testing.TB) *store.DB) {
	for _, s := range []struct {
		name string
		run  func(t *testing.T, open func(testing.TB) *store.DB)
	}{
		{"Jobs", runJobs},
		{"Seal", runSeal},
	} {
		t.Run(s.name, func(t *testing.T) { s.run(t, open) })
	}
}
