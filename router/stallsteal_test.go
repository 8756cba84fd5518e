package router

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

// pausedPlaced is a job whose Placement, once armed, blocks at its second
// call: Stalled's steal asks it (under the mailbox's lock), then reroute
// asks again before it places the job, and waits there for resume.
type pausedPlaced struct {
	*testkit.Job
	armed   atomic.Bool
	calls   atomic.Int32
	resume  chan struct{}
	waiting chan struct{}
}

func (p *pausedPlaced) Placement() (*Rule, *Ticket) {
	if p.armed.Load() && p.calls.Add(1) == 2 {
		close(p.waiting)
		<-p.resume
	}
	return &Rule{Weight: Heavy}, nil
}

// TestStallStealHoldsTheDrain: a steal off a stalled executor during a
// graceful Stop takes its tokens out of the mailbox, then places them; one
// the other executor (drained already) refuses goes back to the stalled
// one. Between the steal and that move back the stalled handler returned
// and its owner found the mailbox closed and empty: drained, it exited, and
// the token was resolved with ErrStopped by a Stop whose context never
// ended (TestStallStealRacingStop, on one CPU, about once in 60 runs). The
// steal now holds the mailbox's drain until its tokens are placed.
func TestStallStealHoldsTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := runningRouter(t)
		execs := g.Executors()
		gate := make(chan struct{})
		stuck := testkit.NewJob(1, func(context.Context) error { <-gate; return nil })
		p := &pausedPlaced{Job: testkit.NewJob(2, nil), resume: make(chan struct{}), waiting: make(chan struct{})}
		for _, j := range []actors.Job{stuck, p} {
			execs[0].Accept(j.Task())
			if res := execs[0].Push(j); res != actors.Pushed {
				t.Fatalf("push: %v", res)
			}
			// Executor 0 runs stuck; p waits in the queue behind it, not
			// in the batch its owner took.
			synctest.Wait()
		}
		execs[0].SetHealth(actors.Stalled, true)
		for _, e := range execs {
			e.Mailbox().Close() // a graceful Stop: executor 1 drains and exits
		}
		synctest.Wait()
		p.armed.Store(true)
		moved := make(chan int)
		go func() { moved <- r.Stalled(execs[0]) }()
		<-p.waiting // p is stolen, not yet placed
		close(gate) // the stalled handler returns: executor 0's owner looks at its mailbox
		synctest.Wait()
		close(p.resume)
		<-moved
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := r.Dropped(); n != 0 {
			t.Fatalf("%d stolen tokens resolved with ErrStopped: the stalled executor drained before the steal gave them back", n)
		}
		select {
		case <-p.Task().Finished():
		default:
			t.Fatal("the stolen token is unresolved")
		}
		if err := p.Task().Result(); err != nil {
			t.Fatalf("the stolen token resolved with %v, want it run", err)
		}
	})
}

// runningRouter builds a router over two started executors on CPU 0 with
// mailboxes of 8, unpinned and parking at once, released when the test
// ends.
func runningRouter(t *testing.T) (*Router, *actors.Group) {
	t.Helper()
	r, g := newRouter(t, actors.GroupConfig{CPUs: []int{0, 0}, MailboxSize: 8, Affinity: actors.Off, IdleSpin: -1})
	if err := g.Start(actors.Hooks{}); err != nil {
		t.Fatal(err)
	}
	return r, g
}

// TestStallLeavesRetryTokens: a stall moves a plain token off the stalled
// executor but leaves one of an op with retries, which stays on its
// executor, off a stall too.
func TestStallLeavesRetryTokens(t *testing.T) {
	r, execs := testRouter(t, 2, 8)
	retry := &placedJob{Job: testkit.NewJob(1, nil), rule: &Rule{Weight: Heavy, Retry: true}, tk: &Ticket{}}
	plain := &placedJob{Job: testkit.NewJob(2, nil), rule: &Rule{Weight: Heavy}, tk: &Ticket{}}
	for _, j := range []actors.Job{retry, plain} {
		execs[0].Accept(j.Task())
		if res := execs[0].Push(j); res != actors.Pushed {
			t.Fatalf("push: %v", res)
		}
	}
	execs[0].SetHealth(actors.Stalled, true)
	if moved := r.Stalled(execs[0]); moved != 1 {
		t.Fatalf("stall moved %d tokens, want the plain one", moved)
	}
	if got := retry.Task().Executor().Index(); got != 0 {
		t.Fatalf("the retry op's token moved to %d", got)
	}
	if got := plain.Task().Executor().Index(); got != 1 {
		t.Fatalf("the plain token is on %d, want 1", got)
	}
}
