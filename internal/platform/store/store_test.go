package store_test

import (
	"testing"

	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func TestStore(t *testing.T) { storetest.OnEachEngine(t, storetest.Run) }
