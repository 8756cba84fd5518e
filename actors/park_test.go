package actors

import (
	"context"
	"errors"
	"testing"
)

// TestCancelAsAPausedTokenIsClaimed: a Cancel that comes between an
// executor's claim of a paused op's token and its Repark finds the token
// running and only cancels its context; the token is not run, and not
// left parked with its context cancelled either: it resolves with
// ErrCancelled. Hold cancels it itself, to land in that window.
func TestCancelAsAPausedTokenIsClaimed(t *testing.T) {
	_, e := startOneExecutor(t)
	op := &Op{Name: "p"}
	ran := false
	j := &testJob{fn: func(context.Context) error { ran = true; return nil }}
	j.task.Init(context.Background(), 1, op, nil)
	cancelled := true
	op.Hold = func(h Job) bool {
		cancelled = h.Task().Cancel()
		return h.Task().Repark()
	}
	op.SetPaused(true)
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.task.Finished()
	if cancelled {
		t.Fatal("Cancel resolved a claimed token")
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
	ran := false
	j := &testJob{fn: func(context.Context) error { ran = true; return nil }}
	j.task.Init(context.Background(), 1, op, nil)
	op.SetPaused(true)
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.task.Finished()
	if !ran || j.task.Result() != nil {
		t.Fatalf("ran %v, result %v: want run, nil", ran, j.task.Result())
	}
}
