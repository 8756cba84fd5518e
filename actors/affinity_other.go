//go:build !linux

package actors

import (
	"errors"
	"runtime"
)

var errNoAffinity = errors.New("coregate: thread affinity is not supported on " + runtime.GOOS)

// AllowedCPUs returns 0..NumCPU-1: without affinity calls every CPU counts.
func AllowedCPUs() ([]int, error) {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus, nil
}

// ThreadCPUs is not supported off Linux.
func ThreadCPUs() ([]int, error) { return nil, errNoAffinity }

func pinThread(int) error { return errNoAffinity }
