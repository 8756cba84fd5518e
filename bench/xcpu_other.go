//go:build !linux

package main

// pinTo is a no-op where threads cannot be pinned: the two threads run
// wherever the OS puts them.
func pinTo(int) (restore func()) { return func() {} }

// currentCPU is -1 where the thread's CPU cannot be read.
func currentCPU() int { return -1 }
