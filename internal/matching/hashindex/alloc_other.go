//go:build !linux

package hashindex

func adviseHuge[T any](s []T) {}
