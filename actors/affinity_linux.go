//go:build linux

package actors

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// AllowedCPUs returns the CPUs this process may run on, ascending. Containers
// give sets like {2,4}; executor i runs on AllowedCPUs()[i], never on CPU i.
//
// The set is read once, at the first call, from the main thread: an executor may
// be started on the main thread and pin it, after which the main thread's mask
// no longer says what the process may use.
func AllowedCPUs() ([]int, error) {
	cpus, err := allowedOnce()
	return slices.Clone(cpus), err
}

var allowedOnce = sync.OnceValues(func() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(os.Getpid(), &set); err != nil {
		return nil, fmt.Errorf("coregate: reading allowed CPUs: %w", err)
	}
	return cpusOf(&set), nil
})

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
