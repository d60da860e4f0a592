package hashindex

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks Linux to back s, newly made and so all zeros, with 2 MiB
// pages where it can. Searches read the big arrays at random, and with
// 4 KiB pages nearly every read also misses the TLB: searches take about
// twice as long. Memory the Go heap reuses is already mapped with small
// pages, which the hint would not change, so it is first handed back
// (MADV_DONTNEED), to be mapped afresh, as zeros, on first use. The hint is
// ignored where transparent huge pages are off.
func adviseHuge[T any](s []T) {
	const page = 4096
	size := uintptr(len(s)) * unsafe.Sizeof(*new(T))
	if size < 4<<20 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), size)
	lo := (page - uintptr(unsafe.Pointer(&b[0]))%page) % page
	hi := size - (size-lo)%page
	b = b[lo:hi]
	const madvHugePage = 14
	if syscall.Madvise(b, madvHugePage) == nil {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
