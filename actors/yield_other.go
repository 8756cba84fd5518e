//go:build !linux

package actors

// osYield is a no-op where sched_yield is not at hand: the poll is bounded
// in time anyway.
func osYield() {}
