package hashindex

// makeLarge allocates a slice that searches will read at random.
func makeLarge[T any](n int) []T {
	s := make([]T, n)
	adviseHuge(s)
	return s
}
