package store

import (
	"path"
	"testing"

	"github.com/wardhq/ward/internal/platform/sqldb"
)

// TestMigrationsInStep: the two dialects' folders hold the same migrations,
// numbered without a gap and named alike, so that both engines reach the
// same schema version by the same steps.
func TestMigrationsInStep(t *testing.T) {
	var names [2][]string
	for i, dialect := range []string{"sqlite", "postgres"} {
		ms, err := sqldb.LoadMigrations(migrations, path.Join("migrations", dialect))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			names[i] = append(names[i], m.Name)
		}
	}
	for i := range max(len(names[0]), len(names[1])) {
		var lite, pg string
		if i < len(names[0]) {
			lite = names[0][i]
		}
		if i < len(names[1]) {
			pg = names[1][i]
		}
		if lite != pg {
			t.Errorf("migration %d: %q in sqlite, %q in postgres", i+1, lite, pg)
		}
	}
}
