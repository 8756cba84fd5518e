//go:build amd64 || arm64

package actors

import "unsafe"

// pause is one spin-wait hint to the CPU (PAUSE, YIELD): it lets a sibling
// hyperthread run and keeps a polling loop from flooding the memory system.
func pause()

// prefetchw asks the CPU to fetch p's cache line for writing (PREFETCHW,
// PRFM PSTL1KEEP); it never faults, and CPUs without it take it as a NOP.
//
//go:noescape
func prefetchw(p unsafe.Pointer)
