package actors

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// goexitJob is a token whose handler runs fn and then ends its goroutine
// with runtime.Goexit.
func goexitJob(fn func()) *testJob {
	return newJob(1, func(context.Context) error {
		fn()
		runtime.Goexit()
		return nil
	})
}

// TestEndedOwnerHandsNearEnvelopesOn: an owner that ends (a handler's
// Goexit) with a cell queued near on its local run queue moves the cell to
// the mailbox as scheduled the usual way, its near envelopes on the locked
// queue: near is only the ended owner's to touch. So an Abort that then
// drops the cell from another goroutine makes it idle (its Idle runs),
// instead of leaving it near, never idle, its envelope stranded.
func TestEndedOwnerHandsNearEnvelopesOn(t *testing.T) {
	exited := make(chan struct{})
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(*Executor, error) { close(exited) }}) // no replacement
	e := g.Executors()[0]
	h := &idleHost{idle: make(chan struct{})}
	c := NewCell[int](e, 16, h)
	if e.Push(goexitJob(func() {
		if !c.putNear(1) {
			t.Error("not queued near")
		}
	})) != Pushed {
		t.Fatal("push refused")
	}
	<-exited
	g.Abort() // unschedules the cell, queued on the mailbox, on this goroutine
	select {
	case <-h.idle:
	default:
		t.Fatal("the cell Abort dropped never went idle: left near by the ended owner")
	}
}

// TestGoexitBesideReleasesTheDrain: a handler that handed its executor on
// (Block) and then ends in runtime.Goexit beside the new owner ends its hold
// on the mailbox's drain as it exits, as one that returns does when it
// parks: the closed mailbox drains and the group's goroutines end.
func TestGoexitBesideReleasesTheDrain(t *testing.T) {
	g, e := startOneExecutor(t)
	if e.Push(goexitJob(func() {
		resume, err := Block()
		if err != nil {
			t.Error(err)
			return
		}
		resume()
	})) != Pushed {
		t.Fatal("push refused")
	}
	e.Mailbox().Close()
	// Bounded: the failure this test looks for leaves the new owner waiting
	// for the hold forever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatal("the closed mailbox never drained: the Goexit beside its owner kept its hold:", err)
	}
}

// TestEndedOwnerDetachesTheMailbox: an owner that ends, with no
// replacement launched, no longer consumes its mailbox: Pop takes what is
// queued there.
func TestEndedOwnerDetachesTheMailbox(t *testing.T) {
	exited := make(chan struct{})
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(*Executor, error) { close(exited) }}) // no replacement
	e := g.Executors()[0]
	if e.Push(goexitJob(func() {})) != Pushed {
		t.Fatal("push refused")
	}
	<-exited
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := newJob(2, nil)
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	if got, ok := e.Mailbox().Pop(); !ok || got != Job(j) {
		t.Fatalf("Pop after the owner ended = %v, %v; want the queued job", got, ok)
	}
}
