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
		events, unsubscribe := testkit.Subscribe(engine, testkit.Is[supervisor.ExecutorStalled])
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

// TestStalledQueueMovesOnceAnExecutorIsHealthy: an executor that stalls
// while no other is healthy keeps its queued plain tokens (nowhere to move
// them); once another executor recovers, the watchdog's next look moves
// them there, while the stalled handler still runs. Found by review: the
// watchdog moved a stalled executor's queue once, at the stall, so those
// tokens waited for the stuck handler, for good if it never returned.
func TestStalledQueueMovesOnceAnExecutorIsHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond})
		require.NoError(t, err)
		bg := context.Background()
		gate0, gate1 := make(chan struct{}), make(chan struct{})
		open0, open1 := sync.OnceFunc(func() { close(gate0) }), sync.OnceFunc(func() { close(gate1) })
		defer open0() // a failure leaves no handler stuck in the bubble
		defer open1()
		slow0 := must(Define(rt, "slow0", func(context.Context, int) (int, error) { <-gate0; return 0, nil }, OnExecutor(0)))
		slow1 := must(Define(rt, "slow1", func(context.Context, int) (int, error) { <-gate1; return 0, nil }, OnExecutor(1)))
		plain := must(Define(rt, "plain", where[int]))

		s1 := must(slow1.Submit(bg, 0))
		time.Sleep(time.Second) // executor 1 stalls
		synctest.Wait()
		require.True(t, rt.Executors()[1].Stalled)
		s0 := must(slow0.Submit(bg, 0))
		synctest.Wait()
		var toks []*Token[int]
		for i := range 3 {
			toks = append(toks, must(plain.Submit(bg, i)))
			require.Equal(t, 0, toks[i].Executor(), "the only healthy executor")
		}
		time.Sleep(time.Second) // executor 0 stalls too: nowhere to move its queue
		synctest.Wait()
		require.True(t, rt.Executors()[0].Stalled)
		for _, tok := range toks {
			select {
			case <-tok.Done():
				t.Fatal("a token queued behind a stuck handler ran")
			default:
			}
		}

		open1() // executor 1 recovers; executor 0 stays stuck
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		for _, tok := range toks {
			e, err := tok.Wait(ctx)
			require.NoError(t, err, "a queued token waits for a stuck handler")
			require.Equal(t, 1, e)
		}
		require.True(t, rt.Executors()[0].Stalled)
		open0()
		must(s0.Wait(bg))
		must(s1.Wait(bg))
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}
