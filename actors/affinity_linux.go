//go:build linux

package actors

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// AllowedCPUs returns the CPUs this process may run on, ascending. Containers
// give sets like {2,4}; executor i runs on AllowedCPUs()[i], never on CPU i.
//
// The set is read at each call, so that a process moved to other CPUs as it
// runs (taskset -a -p, a container's cpuset changed) starts its next
// runtime on those, and from a goroutine of its own: left unlocked, it runs
// on a thread no executor pinned, while the caller may be a handler on a
// pinned executor, and the main thread, whose mask the process ID reads,
// may have been taken and pinned by an executor (and stays pinned once that
// executor ended: Go parks a locked main thread instead of ending it).
func AllowedCPUs() ([]int, error) {
	type result struct {
		cpus []int
		err  error
	}
	read := make(chan result, 1)
	go func() {
		cpus, err := ThreadCPUs()
		read <- result{cpus, err}
	}()
	r := <-read
	if r.err != nil {
		return nil, fmt.Errorf("coregate: reading allowed CPUs: %w", r.err)
	}
	return r.cpus, nil
}

// ThreadCPUs returns the affinity mask of the calling thread. Called from inside a
// running token on a pinned executor, it is exactly that executor's CPU.
func ThreadCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	return cpusOf(&set), nil
}

// pinThread sets the calling thread's affinity to exactly cpu and verifies it.
// The caller must hold runtime.LockOSThread.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("coregate: pinning thread to CPU %d: %w", cpu, err)
	}
	got, err := ThreadCPUs()
	if err != nil {
		return fmt.Errorf("coregate: verifying pin to CPU %d: %w", cpu, err)
	}
	if !slices.Equal(got, []int{cpu}) {
		return fmt.Errorf("coregate: pinned to CPU %d but the thread's mask is %v", cpu, got)
	}
	return nil
}

func cpusOf(set *unix.CPUSet) []int {
	cpus := make([]int, 0, set.Count())
	for cpu := 0; len(cpus) < cap(cpus); cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus
}
