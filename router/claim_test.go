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
// executor is parked goes to one at work on a cheap token instead of waking
// the parked one's thread.
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
	var gateOp, cheapOp actors.Op // never timed: cheap
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
