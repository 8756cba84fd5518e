package main

import (
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// crossCPURoundTrip measures how long one cache line takes to go from CPU 0
// to CPU 1 and back: two threads pinned there (where the OS allows) hand a
// counter to each other. It is what every message between two executors
// pays several times over, and on a virtual machine it depends on where the
// host runs the two vCPUs at the moment, so the bench prints it with its
// results. It returns 0 on a machine with one CPU.
//
// Each thread gets its CPU mask back before it is unlocked: a thread that
// kept a one-CPU mask would pass it to whatever ran on it next, and to the
// child processes the actor suite forks from it.
func crossCPURoundTrip() time.Duration {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		return 0
	}
	const trips = 20000
	var turn atomic.Int64
	var tries []time.Duration
	for range 3 {
		turn.Store(0)
		took, back := make(chan time.Duration, 1), make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			restore := pinTo(1)
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
			restore := pinTo(0)
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
	return tries[len(tries)/2]
}
