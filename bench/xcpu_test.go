package main

import (
	"runtime"
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
