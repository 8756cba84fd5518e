package main

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCurrentCPUFollowsPin: a thread pinned to each allowed CPU in turn
// reads that CPU.
func TestCurrentCPUFollowsPin(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	seen := 0
	for cpu := range 1024 {
		if !allowed.IsSet(cpu) {
			continue
		}
		restore := pinTo(cpu)
		got := currentCPU()
		restore()
		if got != cpu {
			t.Fatalf("pinned to CPU %d, currentCPU says %d", cpu, got)
		}
		seen++
	}
	if seen == 0 {
		t.Fatal("no allowed CPU")
	}
}
