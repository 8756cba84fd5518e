package coregate

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// TestStallWithNoHealthyExecutorKeepsOrder: when an executor stalls while
// every other one is stalled too, its queued plain tokens have nowhere to
// go. Found by review: they were stolen and queued again at the tail of the
// same executor, behind a sticky token one goroutine submitted after them
// (run out of submit order on one executor), and ExecutorStalled counted
// them as moved to healthy executors.
func TestStallWithNoHealthyExecutorKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		engine, err := actor.NewEngine(actor.NewEngineConfig())
		require.NoError(t, err)
		events, unsubscribe := testkit.Subscribe(engine, func(ev any) bool {
			_, ok := ev.(supervisor.ExecutorStalled)
			return ok
		})
		defer unsubscribe()
		rt, err := Start(Config{Engine: engine, Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond})
		require.NoError(t, err)
		bg := context.Background()
		gate := make(chan struct{})
		hold := func(context.Context, int) (int, error) { <-gate; return 0, nil }
		slow0 := must(Define(rt, "slow0", hold, OnExecutor(0)))
		slow1 := must(Define(rt, "slow1", hold, OnExecutor(1)))
		var mu sync.Mutex
		var ran []int
		record := func(ctx context.Context, x int) (int, error) {
			mu.Lock()
			ran = append(ran, x)
			mu.Unlock()
			e, _ := CurrentExecutor(ctx)
			return e, nil
		}
		plain := must(Define(rt, "plain", record, WithWeight(Light)))
		sticky := must(Define(rt, "sticky", record, WithWeight(Light), WithSticky()))

		s0 := must(slow0.Submit(bg, 0))
		time.Sleep(50 * time.Millisecond) // executor 0 stalls first
		s1 := must(slow1.Submit(bg, 0))
		synctest.Wait()
		toks := []*Token[int]{must(plain.Submit(bg, 1)), must(sticky.Submit(bg, 2)), must(plain.Submit(bg, 3))}
		for _, tok := range toks {
			require.Equal(t, 1, tok.Executor(), "Light's range")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Stalled && rt.Executors()[1].Stalled)
		close(gate)
		for _, tok := range append(toks, s0, s1) {
			_, err := tok.Wait(bg)
			require.NoError(t, err)
		}
		require.Equal(t, []int{1, 2, 3}, ran, "one goroutine's tokens on one executor, in submit order")
		require.NoError(t, rt.Stop(bg))
		for range 2 {
			ev := (<-events).(supervisor.ExecutorStalled)
			require.Zero(t, ev.Moved, "executor %d: no healthy executor to move to", ev.Index)
		}
		require.Zero(t, rt.Stats().Executors[1].Rerouted)
		requireBalanced(t, rt)
	})
}
