package seal

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// KeyUse is how the data keys use the keyring's master keys, as a
// rotation leaves them.
type KeyUse struct {
	// ByVersion lists "VERSION: N" for each master key wrapping data
	// keys, in version order.
	ByVersion []string
	// Older counts the data keys wrapped by a master key other than the
	// current one: sealed by a server with the old keyring meanwhile.
	Older int64
	// Unused are the keyring's master keys, but the current one, that no
	// data key needs.
	Unused []string
}

// KeyUse returns how the data keys use the keyring's master keys.
func (s *Sealer) KeyUse(ctx context.Context) (KeyUse, error) {
	counts, err := s.DataKeyVersions(ctx)
	if err != nil {
		return KeyUse{}, err
	}
	var u KeyUse
	current := s.keys.Current()
	for _, v := range slices.Sorted(maps.Keys(counts)) {
		u.ByVersion = append(u.ByVersion, fmt.Sprintf("%s: %d", v, counts[v]))
		if v != current {
			u.Older += counts[v]
		}
	}
	for _, v := range s.keys.Versions() {
		if v != current && counts[v] == 0 {
			u.Unused = append(u.Unused, v)
		}
	}
	return u, nil
}
