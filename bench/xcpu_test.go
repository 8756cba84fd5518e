package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCrossCPURoundTrip: with two Ps the probe measures a round trip (and
// ends: each side waits for the other); with one it reports none rather
// than spinning against itself.
func TestCrossCPURoundTrip(t *testing.T) {
	if runtime.NumCPU() >= 2 && runtime.GOMAXPROCS(0) >= 2 {
		if rt := crossCPURoundTrip(); rt <= 0 {
			t.Fatalf("round trip %v on %d CPUs", rt, runtime.NumCPU())
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if rt := crossCPURoundTrip(); rt != 0 {
		t.Fatalf("round trip %v with one P, want none", rt)
	}
}

// TestCrossCPURoundTripLeavesNoPinnedThread: once the probe returns, no
// more threads are held to CPU 0 or CPU 1 alone than before it (an earlier
// test may have left the main thread pinned: a locked goroutine that ends on
// it wedges it rather than ending it), so nothing later scheduled on them,
// nor a child process forked from them, is held to one CPU (the actor
// suite's children once were).
func TestCrossCPURoundTripLeavesNoPinnedThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread masks are read from /proc")
	}
	before := pinnedThreads(t)
	crossCPURoundTrip()
	if after := pinnedThreads(t); after > before {
		t.Fatalf("%d threads held to CPU 0 or 1 alone after the probe, %d before", after, before)
	}
}

// pinnedThreads counts the process's threads whose Cpus_allowed_list is
// CPU 0 or CPU 1 alone.
func pinnedThreads(t *testing.T) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				if v = strings.TrimSpace(v); v == "0" || v == "1" {
					n++
				}
			}
		}
	}
	return n
}
