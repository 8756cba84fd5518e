package router

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

// TestSubmitAllLeftoverKeepsOrderBehindAnotherLeftover: a Heavy batch of
// six over executors 0-2 (shares 0,3 / 1,4 / 2,5). Executor 0 is stalled,
// so its share is left over whole; executor 1 has room for job 1 only, so
// job 4 is left over too; executor 2 takes 2 and 5 and has room for three
// more. Jobs 0 and 3 may go anywhere with room (their share's executor is
// unhealthy), but job 4's share executor is healthy: it must not go behind
// job 5 on executor 2. The leftovers were pushed as one chunk, [0 3 4],
// judged by job 0 alone, so job 4 ran after job 5; and once 0 and 3 were
// pushed there, executor 2's last job of the batch read 3, not 5.
func TestSubmitAllLeftoverKeepsOrderBehindAnotherLeftover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 6
		r, execs := testRouter(t, 3, 5)
		for range 4 { // executor 1 has room for one
			if execs[1].Push(newJob()) != actors.Pushed {
				t.Fatal("push refused")
			}
		}
		execs[0].SetHealth(actors.Stalled, true)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel() // a failed test lets the batch go
		done := make(chan error, 1)
		go func() {
			done <- r.SubmitAll(ctx, &Rule{Weight: Heavy}, n,
				func(k int) actors.Job { return testkit.NewJob(uint64(100+k), nil) }, func(int) {})
		}()
		synctest.Wait()
		var on2 []uint64
		for {
			j, ok := execs[2].Mailbox().Pop()
			if !ok {
				break
			}
			on2 = append(on2, j.Task().ID()-100)
		}
		if i5, i4 := slices.Index(on2, 5), slices.Index(on2, 4); i5 >= 0 && i4 > i5 {
			t.Fatalf("executor 2 holds batch jobs %v: job 4 behind job 5, though its share's executor 1 is healthy", on2)
		}
		for { // executor 1 drains: job 4 goes there
			if _, ok := execs[1].Mailbox().Pop(); !ok {
				break
			}
		}
		synctest.Wait()
		requireReturned(t, done, "SubmitAll still waits, with room on executor 1")
	})
}
