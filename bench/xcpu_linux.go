package main

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

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

// currentCPU returns the CPU the calling thread runs on (getcpu(2)), or -1
// when the kernel does not say. The thread may move right after.
func currentCPU() int {
	var cpu, node uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0); e != 0 {
		return -1
	}
	return int(cpu)
}
