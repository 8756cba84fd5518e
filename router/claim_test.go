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
	r, g := newRouter(t, actors.GroupConfig{CPUs: []int{0, 0}, MailboxSize: 8, Affinity: actors.Off, IdleSpin: 20 * time.Microsecond})
	if err := g.Start(actors.Hooks{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Abort()
		_ = g.Wait(context.Background())
	})
	execs := g.Executors()
	var gateOp, cheapOp actors.Op // cheapOp never timed: cheap
	timeCheap(t, execs[0], &gateOp)
	gate, started := make(chan struct{}), make(chan struct{})
	held := testkit.NewJobOf(&gateOp, 1, func(context.Context) error {
		close(started)
		<-gate
		return nil
	})
	defer close(gate)
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
	if i, res := r.tryPlaceAt(Heavy, pos, j, How{}); i != 0 || res != actors.Pushed {
		t.Fatalf("a cheap token went to %d (%v), want the busy executor 0", i, res)
	}
	if got := j.Task().Executor().Index(); got != 0 {
		t.Fatalf("the token is queued on %d", got)
	}
}

// TestCheapTokenNotBehindAnUntimedToken: a token of an op no token of which
// has finished yet may run for any time (its first, or a loop that runs
// until its context ends), so the executor running it takes no cheap token
// in place of a parked one: the token wakes the parked executor and runs
// while the other still runs, instead of waiting for it to end.
func TestCheapTokenNotBehindAnUntimedToken(t *testing.T) {
	r, g := newRouter(t, actors.GroupConfig{CPUs: []int{0, 0}, MailboxSize: 8, Affinity: actors.Off, IdleSpin: 20 * time.Microsecond})
	if err := g.Start(actors.Hooks{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Abort()
		_ = g.Wait(context.Background())
	})
	execs := g.Executors()
	var loopOp, cheapOp actors.Op // loopOp's only token never ends while the test looks
	gate, started := make(chan struct{}), make(chan struct{})
	loop := testkit.NewJobOf(&loopOp, 1, func(context.Context) error {
		close(started)
		<-gate
		return nil
	})
	defer close(gate)
	if execs[0].Push(loop) != actors.Pushed {
		t.Fatal("push refused")
	}
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for !execs[1].Asleep() || execs[0].Running() != loop.Task() {
		if time.Now().After(deadline) {
			t.Fatalf("executor 1 never parked (asleep %v), or 0 is not running the loop", execs[1].Asleep())
		}
		runtime.Gosched()
	}
	set := r.Eligible(Heavy)
	pos := uint64(1) // staggered choice: executor 1, parked
	if Candidate(set, pos, 0) != 1 {
		t.Fatalf("position %d picks %d", pos, Candidate(set, pos, 0))
	}
	j := testkit.NewJobOf(&cheapOp, 2, nil)
	if i, res := r.tryPlaceAt(Heavy, pos, j, How{}); i != 1 || res != actors.Pushed {
		t.Fatalf("a cheap token went to %d (%v) behind a token of an op never timed, want the parked executor 1", i, res)
	}
	select {
	case <-j.Task().Finished():
	case <-time.After(10 * time.Second):
		t.Fatal("the cheap token did not run while the loop ran")
	}
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
