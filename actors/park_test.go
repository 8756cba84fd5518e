package actors

import (
	"context"
	"errors"
	"testing"
)

// pushPaused pauses op, pushes a token of it onto e and waits for the token
// to resolve; it returns the token's job and whether its handler ran.
func pushPaused(t *testing.T, e *Executor, op *Op) (*testJob, bool) {
	t.Helper()
	ran := false
	j := &testJob{fn: func(context.Context) error { ran = true; return nil }}
	j.task.Init(context.Background(), 1, op, nil)
	op.SetPaused(true)
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.task.Finished()
	return j, ran
}

// TestHoldSeesThePausedTokenUnclaimed: an executor offers a token of a
// paused op to Hold before it claims it, still queued, so that a Resume
// coming before Hold decides finds it in its queue (claimed first, it ran
// from its place, ahead of held tokens queued again behind it). A Cancel
// meanwhile resolves it at once, as any queued token; Hold cannot park it
// then, and it does not run.
func TestHoldSeesThePausedTokenUnclaimed(t *testing.T) {
	_, e := startOneExecutor(t)
	op := &Op{Name: "p"}
	var queued, cancelled, parked bool
	held := make(chan struct{}) // Cancel fires Finished before Hold is through
	op.Hold = func(h Job) bool {
		defer close(held)
		queued = h.Task().Queued()
		cancelled = h.Task().Cancel()
		parked = h.Task().Park()
		return true
	}
	j, ran := pushPaused(t, e, op)
	<-held
	if !queued || !cancelled || parked {
		t.Fatalf("in Hold: queued %v, cancelled %v, parked %v: want queued, cancelled, not parked", queued, cancelled, parked)
	}
	if ran || !errors.Is(j.task.Result(), ErrCancelled) {
		t.Fatalf("ran %v, result %v: want not run, ErrCancelled", ran, j.task.Result())
	}
}

// TestPausedTokenDeclinedByHoldRuns: a token that Hold does not take (a
// retry, or its op resumed meanwhile) runs as claimed.
func TestPausedTokenDeclinedByHoldRuns(t *testing.T) {
	_, e := startOneExecutor(t)
	op := &Op{Name: "p", Hold: func(Job) bool { return false }}
	j, ran := pushPaused(t, e, op)
	if !ran || j.task.Result() != nil {
		t.Fatalf("ran %v, result %v: want run, nil", ran, j.task.Result())
	}
}

// TestTokenClaimedAsTheAbortComesIsStopped: a token its executor claims
// just as Abort comes (after the loop last looked, before the claim's own
// look) does not run: it is resolved and counted Stopped, as Abort counts
// those still queued, not Cancelled (a handler cut short). Paused, the op's
// Hold is the moment between the two looks.
func TestTokenClaimedAsTheAbortComesIsStopped(t *testing.T) {
	g, e := startOneExecutor(t)
	op := &Op{Name: "p", Hold: func(Job) bool {
		g.aborted.Store(true) // Abort's first step, as Stop comes from another goroutine
		return false
	}}
	j, ran := pushPaused(t, e, op)
	if ran || !errors.Is(j.task.Result(), ErrStopped) {
		t.Fatalf("ran %v, result %v: want not run, ErrStopped", ran, j.task.Result())
	}
	if c := e.Counts(); c.Stopped != 1 || c.Cancelled != 0 {
		t.Fatalf("counts %+v: want it Stopped, not Cancelled", c)
	}
}
