//go:build !linux

package hashindex

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
