package coregate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/internal/faults"
	"github.com/stretchr/testify/require"
)

// TestDelayedChildFollowsItsMovedSeed: a child of a lead, submitted with
// SubmitAfter, is accepted on the seed's executor and waits off the queues.
// That executor goes down, the seed moves with the next child placed, and
// the executor is revived before the delayed child is due. The delayed child
// ran on its old executor, while the seed, its lead's other children with
// it, was on the other one.
func TestDelayedChildFollowsItsMovedSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var arms atomic.Int32
		var armedOn atomic.Int32
		defer faults.SetLoop(func(exec int) error {
			if int32(exec) == armedOn.Load() && arms.Load() > 0 && arms.Add(-1) >= 0 {
				return errLoop
			}
			return nil
		})()
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Second}})
		require.NoError(t, err)
		bg := context.Background()
		defer rt.Stop(bg) //nolint:errcheck // when a check failed; checked below
		child := must(Define(rt, "child", where[int]))
		type held struct {
			ctx     context.Context
			exec    int
			delayed *Token[int]
		}
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (held, error) {
			me, _ := CurrentExecutor(ctx)
			ctx = context.WithoutCancel(ctx) // the delayed child outlives the lead's handler
			tok, err := child.SubmitAfter(ctx, time.Minute, 0)
			return held{ctx, me, tok}, err
		}, WithAnchor("child")))
		h := must(must(lead.Submit(bg, 0)).Wait(bg))
		require.Equal(t, h.exec, h.delayed.Executor(), "the delayed child is accepted on the seed's executor")

		// The seed's executor fails twice (a restart, then down) when woken.
		poke := must(Define(rt, "poke", where[int], OnExecutor(h.exec)))
		armedOn.Store(int32(h.exec))
		arms.Store(2)
		must(poke.Submit(bg, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[h.exec].Down)
		// A child placed meanwhile moves the seed off the down executor.
		other := must(must(child.Submit(h.ctx, 0)).Wait(bg))
		require.NotEqual(t, h.exec, other)
		time.Sleep(2 * time.Second) // the cool-down: the executor is revived
		synctest.Wait()
		require.False(t, rt.Executors()[h.exec].Down)

		time.Sleep(time.Minute) // the delayed child is due
		got := must(h.delayed.Wait(bg))
		require.Equal(t, other, got, "the delayed child runs where its seed moved, with its lead's other children")
		require.NoError(t, rt.Stop(bg))
	})
}

// TestRetriedChildFollowsItsMovedSeed: a child of a lead fails and waits out
// its retry backoff. Its executor goes down, the seed moves with the next
// child placed, and the executor is revived before the retry is due. The
// retry ran on its old executor, apart from its seed.
func TestRetriedChildFollowsItsMovedSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var arms atomic.Int32
		var armedOn atomic.Int32
		defer faults.SetLoop(func(exec int) error {
			if int32(exec) == armedOn.Load() && arms.Load() > 0 && arms.Add(-1) >= 0 {
				return errLoop
			}
			return nil
		})()
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Second}})
		require.NoError(t, err)
		bg := context.Background()
		defer rt.Stop(bg) //nolint:errcheck // when a check failed; checked below
		var failed atomic.Bool
		flaky := must(Define(rt, "flaky", func(ctx context.Context, _ int) (int, error) {
			if failed.CompareAndSwap(false, true) {
				return 0, errors.New("first attempt fails")
			}
			return where(ctx, 0)
		}, WithRetry(1, time.Minute)))
		child := must(Define(rt, "child", where[int]))
		type held struct {
			ctx   context.Context
			exec  int
			retry *Token[int]
		}
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (held, error) {
			me, _ := CurrentExecutor(ctx)
			ctx = context.WithoutCancel(ctx) // the retried child outlives the lead's handler
			tok, err := flaky.Submit(ctx, 0)
			return held{ctx, me, tok}, err
		}, WithAnchor("flaky", "child")))
		h := must(must(lead.Submit(bg, 0)).Wait(bg))
		synctest.Wait()
		require.True(t, failed.Load(), "the first attempt ran and waits out its backoff")

		poke := must(Define(rt, "poke", where[int], OnExecutor(h.exec)))
		armedOn.Store(int32(h.exec))
		arms.Store(2)
		must(poke.Submit(bg, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[h.exec].Down)
		other := must(must(child.Submit(h.ctx, 0)).Wait(bg))
		require.NotEqual(t, h.exec, other)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.False(t, rt.Executors()[h.exec].Down)

		time.Sleep(time.Minute) // the retry is due
		got := must(h.retry.Wait(bg))
		require.Equal(t, other, got, "the retried child runs where its seed moved")
		require.NoError(t, rt.Stop(bg))
	})
}
