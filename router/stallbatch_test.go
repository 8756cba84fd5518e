package router

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

// TestStallStealKeepsBatchOrder: plain tokens of one submitter, a then b,
// wait in the batch the stalled executor's owner took with its stuck token.
// A steal moves a to the other (busy) executor, then, before it moves b,
// the stuck handler returns: its owner skipped a (moved) and ran b at once,
// b before a, though the steal meant to move both, in order. A steal now
// marks the batch's movable tokens as moving, last first, before it places
// any: the owner runs a prefix of them (claimed before the steal marked
// it), never a token behind one that moves.
func TestStallStealKeepsBatchOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := runningRouter(t)
		execs := g.Executors()
		var mu sync.Mutex
		var ran []string
		record := func(name string) func(context.Context) error {
			return func(context.Context) error {
				mu.Lock()
				ran = append(ran, name)
				mu.Unlock()
				return nil
			}
		}
		a := testkit.NewJob(3, record("a"))
		b := &pausedPlaced{Job: testkit.NewJob(4, record("b")), resume: make(chan struct{}), waiting: make(chan struct{})}
		st := newStuckBatch(t, execs, a, b)
		execs[0].SetHealth(actors.Stalled, true)
		b.armed.Store(true)
		moved := make(chan int)
		go func() { moved <- r.Stalled(execs[0]) }()
		<-b.waiting     // a moved to executor 1, behind busy; b not yet
		close(st.gate0) // the stuck handler returns: its owner goes on with its batch
		synctest.Wait()
		close(b.resume)
		<-moved
		close(st.gate1)
		st.finish(t, g, a, b)
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(ran, []string{"a", "b"}) {
			t.Fatalf("ran %v, want a then b: one submitter's tokens, moved together off a stall, in submit order", ran)
		}
	})
}

// TestStallMovedTokensRunWhereMoved: tokens a steal moved off a stalled
// executor, out of the batch its owner took, run where they moved, even
// when the stuck handler returns before that executor gets to them: the
// owner skips them.
func TestStallMovedTokensRunWhereMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := runningRouter(t)
		execs := g.Executors()
		var mu sync.Mutex
		ranOn := map[string]int{}
		record := func(name string) func(context.Context) error {
			return func(ctx context.Context) error {
				mu.Lock()
				ranOn[name] = actors.ExecutorOf(ctx).Index()
				mu.Unlock()
				return nil
			}
		}
		a, b := testkit.NewJob(3, record("a")), testkit.NewJob(4, record("b"))
		st := newStuckBatch(t, execs, a, b)
		execs[0].SetHealth(actors.Stalled, true)
		if moved := r.Stalled(execs[0]); moved != 2 {
			t.Fatalf("the stall moved %d tokens, want a and b", moved)
		}
		close(st.gate0) // the stuck handler returns: its owner goes on with its batch
		synctest.Wait()
		close(st.gate1)
		st.finish(t, g, a, b)
		mu.Lock()
		defer mu.Unlock()
		if ranOn["a"] != 1 || ranOn["b"] != 1 {
			t.Fatalf("moved tokens ran on %v, want executor 1, where they moved", ranOn)
		}
	})
}

// stuckBatch is a stall's scene: executor 1 runs busy until gate1 closes,
// and executor 0's owner took stuck, a and b as its batch and runs stuck
// until gate0 closes.
type stuckBatch struct {
	gate0, gate1 chan struct{}
	stuck, busy  actors.Job
}

func newStuckBatch(t *testing.T, execs []*actors.Executor, a, b actors.Job) *stuckBatch {
	t.Helper()
	st := &stuckBatch{gate0: make(chan struct{}), gate1: make(chan struct{})}
	st.stuck = testkit.NewJob(1, func(context.Context) error { <-st.gate0; return nil })
	st.busy = testkit.NewJob(2, func(context.Context) error { <-st.gate1; return nil })
	execs[1].Accept(st.busy.Task())
	if res := execs[1].Push(st.busy); res != actors.Pushed {
		t.Fatalf("push: %v", res)
	}
	batch := []actors.Job{st.stuck, a, b}
	for _, j := range batch {
		execs[0].Accept(j.Task())
	}
	if n, res := execs[0].PushAll(batch); n != len(batch) {
		t.Fatalf("push all: %d, %v", n, res)
	}
	synctest.Wait() // executor 0's owner took all three as its batch and runs stuck
	return st
}

// finish waits for every token of the scene to finish and for g to stop.
func (st *stuckBatch) finish(t *testing.T, g *actors.Group, a, b actors.Job) {
	t.Helper()
	for _, j := range []actors.Job{st.stuck, st.busy, a, b} {
		<-j.Task().Finished()
	}
	for _, e := range g.Executors() {
		e.Mailbox().Close()
	}
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
