package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/coregate/coregate/actors"
)

// allowedCPUs returns the CPUs this process may use.
func allowedCPUs(t *testing.T) []int {
	t.Helper()
	allowed, err := actors.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	return allowed
}

// TestCrossCPURoundTrip: with two Ps and two allowed CPUs the probe
// measures a round trip (and ends: each side waits for the other); with one
// P it reports none rather than spinning against itself.
func TestCrossCPURoundTrip(t *testing.T) {
	allowed := allowedCPUs(t)
	if len(allowed) >= 2 && runtime.GOMAXPROCS(0) >= 2 {
		if x := crossCPURoundTrip(allowed); x.RoundTrip <= 0 {
			t.Fatalf("round trip %v on CPUs %v", x.RoundTrip, allowed)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if x := crossCPURoundTrip(allowed); x != (crossCPU{}) {
		t.Fatalf("%+v with one P, want none", x)
	}
}

// TestCrossCPURoundTripNeedsTwoAllowedCPUs: a process allowed one CPU (or
// none known) gets no probe, however many CPUs the machine has; the probe
// once pinned CPUs 0 and 1 whatever the process was allowed.
func TestCrossCPURoundTripNeedsTwoAllowedCPUs(t *testing.T) {
	for _, allowed := range [][]int{nil, {0}, {1}, {5}} {
		if x := crossCPURoundTrip(allowed); x != (crossCPU{}) {
			t.Fatalf("allowed %v: %+v, want no probe", allowed, x)
		}
	}
}

// TestCrossCPURoundTripPinsAllowedCPUs: the probe's threads run on the
// first two CPUs it is given, in that order, not on CPUs 0 and 1.
func TestCrossCPURoundTripPinsAllowedCPUs(t *testing.T) {
	allowed := allowedCPUs(t)
	if runtime.GOOS != "linux" || len(allowed) < 2 || runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two allowed CPUs, two Ps and Linux's thread affinity")
	}
	// The last two allowed CPUs, highest first: never CPU 0 then CPU 1.
	from, to := allowed[len(allowed)-1], allowed[len(allowed)-2]
	if x := crossCPURoundTrip([]int{from, to}); x.From != from || x.To != to {
		t.Fatalf("probe of CPUs %d and %d ran on %d and %d", from, to, x.From, x.To)
	}
}

// TestCrossCPURoundTripLeavesNoPinnedThread: once the probe returns, no
// more threads are held to one of its CPUs alone than before it (an earlier
// test may have left the main thread pinned: a locked goroutine that ends on
// it wedges it rather than ending it), so nothing later scheduled on them,
// nor a child process forked from them, is held to one CPU (the actor
// suite's children once were).
func TestCrossCPURoundTripLeavesNoPinnedThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread masks are read from /proc")
	}
	allowed := allowedCPUs(t)
	before := pinnedThreads(t)
	crossCPURoundTrip(allowed)
	if after := pinnedThreads(t); after > before {
		t.Fatalf("%d threads held to one CPU alone after the probe, %d before", after, before)
	}
}

// pinnedThreads counts the process's threads whose Cpus_allowed_list is a
// single CPU.
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
				if v = strings.TrimSpace(v); v != "" && !strings.ContainsAny(v, "-,") {
					n++
				}
			}
		}
	}
	return n
}
