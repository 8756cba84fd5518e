package main

import (
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// crossCPU is what the cross-CPU probe measured: the round trip, and the
// CPUs its two threads ran on (-1 where the OS does not say).
type crossCPU struct {
	RoundTrip time.Duration
	From, To  int
}

// crossCPURoundTrip measures how long one cache line takes to go from the
// first CPU of allowed (the CPUs this process may use) to the second and
// back: two threads pinned there (where the OS allows) hand a counter to
// each other. It is what every message between two executors pays several
// times over, and on a virtual machine it depends on where the host runs
// the two vCPUs at the moment, so the bench prints it with its results. It
// returns a zero crossCPU, and pins nothing, where fewer than two CPUs are
// allowed or GOMAXPROCS is below 2. It never pins CPUs 0 and 1 by number:
// a container may allow {2, 4}, and a thread cannot be pinned outside its
// set.
//
// Each thread gets its CPU mask back before it is unlocked: a thread that
// kept a one-CPU mask would pass it to whatever ran on it next, and to the
// child processes the actor suite forks from it.
func crossCPURoundTrip(allowed []int) crossCPU {
	if len(allowed) < 2 || runtime.GOMAXPROCS(0) < 2 {
		return crossCPU{}
	}
	const trips = 20000
	var turn atomic.Int64
	var tries []time.Duration
	out := crossCPU{From: -1, To: -1}
	for range 3 {
		turn.Store(0)
		took, back := make(chan time.Duration, 1), make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			restore := pinTo(allowed[1])
			out.To = currentCPU()
			for i := int64(1); i <= trips; i++ {
				for turn.Load() != 2*i-1 {
				}
				turn.Store(2 * i)
			}
			restore()
			close(back)
		}()
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			restore := pinTo(allowed[0])
			out.From = currentCPU()
			start := time.Now()
			for i := int64(1); i <= trips; i++ {
				turn.Store(2*i - 1)
				for turn.Load() != 2*i {
				}
			}
			d := time.Since(start)
			restore()
			took <- d
		}()
		<-back
		tries = append(tries, <-took/trips)
	}
	slices.Sort(tries)
	out.RoundTrip = tries[len(tries)/2]
	return out
}
