package router

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

// TestCheapTokenJoinsABusyExecutor: a token of a cheap op whose staggered
// executor is parked goes to one at work on a token of a cheap op (timed)
// instead of waking the parked one's thread.
func TestCheapTokenJoinsABusyExecutor(t *testing.T) {
	j := placeBesideHeld(t, true)
	if got := j.Task().Executor().Index(); got != 0 {
		t.Fatalf("a cheap token went to %d, want the busy executor 0", got)
	}
}

// TestCheapTokenNotBehindAnUntimedToken: a token of an op no token of which
// has finished yet may run for any time (its first, or a loop that runs
// until its context ends), so the executor running it takes no cheap token
// in place of a parked one: the token wakes the parked executor and runs
// while the other still runs, instead of waiting for it to end.
func TestCheapTokenNotBehindAnUntimedToken(t *testing.T) {
	j := placeBesideHeld(t, false)
	if got := j.Task().Executor().Index(); got != 1 {
		t.Fatalf("a cheap token went to %d behind a token of an op never timed, want the parked executor 1", got)
	}
	select {
	case <-j.Task().Finished():
	case <-time.After(10 * time.Second):
		t.Fatal("the cheap token did not run while the held one ran")
	}
}

// placeBesideHeld starts two executors, holds executor 0 in a token (of an
// op timed as cheap first when timed is true, else of one never timed),
// waits for executor 1 to park, and places a token of a fresh op (cheap,
// never timed) where staggering picks executor 1. It returns the token,
// queued; the held one ends with the test.
func placeBesideHeld(t *testing.T, timed bool) *testkit.Job {
	t.Helper()
	r, g := newRouter(t, actors.GroupConfig{CPUs: []int{0, 0}, MailboxSize: 8, Affinity: actors.Off, IdleSpin: 20 * time.Microsecond})
	if err := g.Start(actors.Hooks{}); err != nil {
		t.Fatal(err)
	}
	gate, started := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(gate)
		g.Abort()
		_ = g.Wait(context.Background())
	})
	execs := g.Executors()
	var heldOp, cheapOp actors.Op
	if timed {
		timeCheap(t, execs[0], &heldOp)
	}
	held := testkit.NewJobOf(&heldOp, 1, func(context.Context) error {
		close(started)
		<-gate
		return nil
	})
	if execs[0].Push(held) != actors.Pushed {
		t.Fatal("push refused")
	}
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for !execs[1].Asleep() || execs[0].Running() != held.Task() {
		if time.Now().After(deadline) {
			t.Fatalf("executor 1 never parked (asleep %v), or 0 is not running the held token", execs[1].Asleep())
		}
		runtime.Gosched()
	}
	set := r.Eligible(Heavy)
	pos := uint64(1) // staggered choice: executor 1, parked
	if Candidate(set, pos, 0) != 1 {
		t.Fatalf("position %d picks %d", pos, Candidate(set, pos, 0))
	}
	j := testkit.NewJobOf(&cheapOp, 2, nil)
	if _, res := r.tryPlaceAt(Heavy, pos, j, How{}); res != actors.Pushed {
		t.Fatalf("the cheap token was not queued: %v", res)
	}
	return j
}

// timeCheap runs empty tokens of op on e until the executors timed op as
// cheap: at once, but under the race detector, where an empty token takes
// a few microseconds, only as the average of its samples (one token in
// sixteen after the first four) comes down.
func timeCheap(t *testing.T, e *actors.Executor, op *actors.Op) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n := uint64(0); n == 0 || !op.Cheap(); n++ {
		if time.Now().After(deadline) {
			t.Skipf("an empty token of an op takes 2 µs or more here (%d timed): the op is never cheap", n)
		}
		j := testkit.NewJobOf(op, n, nil)
		if e.Push(j) != actors.Pushed {
			t.Fatal("push refused")
		}
		<-j.Task().Finished()
	}
}
