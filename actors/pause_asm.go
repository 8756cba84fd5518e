//go:build amd64 || arm64

package actors

// pause is one spin-wait hint to the CPU (PAUSE, YIELD): it lets a sibling
// hyperthread run and keeps a polling loop from flooding the memory system.
func pause()
