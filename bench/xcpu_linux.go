package main

import "golang.org/x/sys/unix"

// pinTo pins the calling thread to cpu and returns what gives the thread its
// mask back; a refusal (a cgroup without that CPU) leaves it where it was.
func pinTo(cpu int) (restore func()) {
	var was, set unix.CPUSet
	if unix.SchedGetaffinity(0, &was) != nil {
		return func() {}
	}
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) != nil {
		return func() {}
	}
	return func() { _ = unix.SchedSetaffinity(0, &was) }
}
