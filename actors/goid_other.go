//go:build !amd64 && !arm64

package actors

import "runtime"

// goid returns the calling goroutine's id, parsed from the header of
// runtime.Stack ("goroutine 42 [running]:"). It costs about 2 µs, so it
// is only used on the slow path of Await, where the caller is about to block.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = len("goroutine ")
	var id uint64
	for _, c := range b[prefix:] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
