//go:build linux

package coregate

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/coregate/coregate/actors"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestStartFollowsANarrowedCPUSet: a process moved to fewer CPUs while it
// runs (taskset -a -p, a cpuset shrunk by its container) gets executors on
// the CPUs it has now at its next Start, never one pinned back onto a CPU it
// was moved off, and Cores above them is the error naming them. Before, the
// allowed set was read once for the life of the process: the new runtime
// pinned an executor to the CPU the process had left (the pin succeeds, a
// thread may set its own mask), and Cores 2 was accepted.
func TestStartFollowsANarrowedCPUSet(t *testing.T) {
	allowed := must(actors.AllowedCPUs())
	if len(allowed) < 2 {
		t.Skipf("needs 2 allowed CPUs to take one away, has %v", allowed)
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0)) // not updated by the runtime as the set changes
	t.Cleanup(runtime.SetDefaultGOMAXPROCS)
	last := allowed[len(allowed)-1]
	setProcessCPUs(t, []int{last})
	t.Cleanup(func() { setProcessCPUs(t, allowed) })

	rt := start(t, Config{Affinity: Strict})
	infos := rt.Executors()
	require.Len(t, infos, 1)
	require.Equal(t, last, infos[0].CPU)
	require.True(t, infos[0].Pinned, "%v", infos[0].PinError)
	_, err := Start(Config{Cores: 2, Affinity: Strict})
	require.ErrorContains(t, err, "only 1 CPUs are allowed: ["+strconv.Itoa(last)+"]")
}

// setProcessCPUs sets the affinity of every thread of the process to cpus,
// as taskset -a -p does, until a pass over the threads finds all of them
// set: a thread the runtime starts meanwhile may copy an old mask.
func setProcessCPUs(t *testing.T, cpus []int) {
	t.Helper()
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	for changed := true; changed; {
		changed = false
		tasks, err := os.ReadDir("/proc/self/task")
		require.NoError(t, err)
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			require.NoError(t, err)
			var got unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &got); errors.Is(err, unix.ESRCH) {
				continue // exited
			} else if err != nil {
				t.Fatal(err)
			}
			if got == set {
				continue
			}
			changed = true
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				t.Fatal(err)
			}
		}
	}
}
