package main

import "golang.org/x/sys/unix"

// pinTo pins the calling thread to cpu; a refusal (a cgroup without that
// CPU) leaves it where the OS puts it.
func pinTo(cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set)
}
