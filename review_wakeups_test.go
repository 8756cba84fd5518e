package coregate

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/internal/faults"
	"github.com/stretchr/testify/require"
)

// TestRestartBackoffWakesSubmittersWaitingForRoom: found by review. A Light
// submitter waits for room on the only executor of its range (executor 1
// of two, its mailbox full). That executor's loop fails twice: the second
// restart waits out a backoff, the executor marked Restarting, and a
// submission would go to executor 0 meanwhile (the range over the healthy
// executors), idle with room. The waiting submitter was never told: nothing
// frees room on executor 0, which is empty, so it waited out the whole
// backoff (or its context) while room it could use stood free.
func TestRestartBackoffWakesSubmittersWaitingForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var arms atomic.Int32
		t.Cleanup(faults.SetLoop(func(exec int) error {
			if exec == 1 && arms.Load() > 0 && arms.Add(-1) >= 0 {
				return errLoop
			}
			return nil
		}))
		rt, err := Start(Config{Cores: 2, MailboxSize: 2, Affinity: Off, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: 5, Backoff: time.Hour, MaxBackoff: time.Hour}})
		require.NoError(t, err)
		bg := context.Background()
		t.Cleanup(func() { rt.Stop(bg) }) //nolint:errcheck // when a check failed; the test checks it
		gate := make(chan struct{})
		held := must(Define(rt, "held", func(context.Context, int) (int, error) { <-gate; return 0, nil }, WithWeight(Light)))
		light := must(Define(rt, "light", where[int], WithWeight(Light)))

		running := must(held.Submit(bg, 0)) // runs on executor 1, holding a slot
		synctest.Wait()
		queued := must(light.Submit(bg, 0)) // the second slot: full
		require.Equal(t, 1, queued.Executor())
		var waiter *Token[int]
		var werr error
		submitted := make(chan struct{})
		go func() {
			defer close(submitted)
			waiter, werr = light.Submit(bg, 0)
		}()
		synctest.Wait() // it waits for room

		arms.Store(2) // a restart at once, then one after an hour's backoff
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[1].Restarting, "executor 1 waits out its backoff")
		select {
		case <-submitted:
		default:
			t.Fatal("a submitter waiting for room on a restarting executor's range was not woken to use executor 0")
		}
		require.NoError(t, werr)
		require.Equal(t, 0, must(waiter.Wait(bg)), "it ran on executor 0")
		must(running.Wait(bg))
		require.NoError(t, rt.Stop(bg))
		require.Equal(t, 1, must(queued.Wait(bg)))
	})
}
