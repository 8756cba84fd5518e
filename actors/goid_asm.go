//go:build amd64 || arm64

package actors

// goid returns an identity of the calling goroutine, unique among live
// goroutines and never 0: the address of its runtime g, read from the g
// register in a few instructions. Await calls it before it blocks, while the
// executor it just woke cannot start until it does, so parsing runtime.Stack
// (about 2 µs, goid_other.go) would add to every wake-up. The address
// may be reused by a later goroutine, so an executor clears its record of it
// before its goroutine ends.
func goid() uint64 { return uint64(getg()) }

// getg returns the calling goroutine's g pointer (goid_amd64.s, goid_arm64.s).
func getg() uintptr
