package router

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/coregate/coregate/actors"
)

// TestSubmitAllLeftoverWhenItsShareLeavesTheRange: a Light batch over
// executors 2 and 3 of four; executor 2 takes part of its share (0, 2),
// executor 3 all of its own (1, 3, 5), so job 4 waits for room, kept off
// executor 3, which holds a later job of the batch, to keep the batch's
// order. Executor 0 goes down: the Light range, recomputed over the three
// live ones, is executor 3 alone, and executor 2, healthy but out of the
// range, will never take job 4. The leftover must then go where there is
// room, as a Submit's would; it waited, skipped for order on executor 3,
// until executor 0 came back (never, here), and did not even see the
// mailboxes close.
func TestSubmitAllLeftoverWhenItsShareLeavesTheRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 6
		r, execs := testRouter(t, 4, 3)
		if execs[2].Push(newJob()) != actors.Pushed { // executor 2 has room for two
			t.Fatal("push refused")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel() // a failed test lets the batch go
		done := make(chan error, 1)
		go func() {
			done <- r.SubmitAll(ctx, &Rule{Weight: Light}, n,
				func(int) actors.Job { return newJob() }, func(int) {})
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("SubmitAll returned %v with no room for job 4", err)
		default:
		}
		if got := execs[3].Mailbox().Len(); got != 3 {
			t.Fatalf("executor 3 holds %d jobs, want its share's 3", got)
		}
		execs[0].SetHealth(actors.Down, true)
		r.Down(execs[0])
		for { // executor 3, the whole Light range now, drains
			if _, ok := execs[3].Mailbox().Pop(); !ok {
				break
			}
		}
		synctest.Wait()
		requireReturned(t, done, "SubmitAll still waits, with the Light range (executor 3) empty")
		if got := execs[3].Mailbox().Len(); got != 1 {
			t.Fatalf("executor 3 holds %d jobs, want job 4", got)
		}
	})
}
