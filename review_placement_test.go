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

// startDownable starts, in a synctest bubble, a two-executor runtime whose
// executor goes down after two failures of its loop (a restart, then down)
// and is revived after a one-second cool-down; arm(i) makes executor i's
// loop fail twice.
func startDownable(t *testing.T) (rt *Runtime, arm func(exec int)) {
	var arms, armedOn atomic.Int32
	t.Cleanup(faults.SetLoop(func(exec int) error {
		if int32(exec) == armedOn.Load() && arms.Load() > 0 && arms.Add(-1) >= 0 {
			return errLoop
		}
		return nil
	}))
	rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Stop(context.Background()) }) //nolint:errcheck // when a check failed; the tests check it
	return rt, func(exec int) { armedOn.Store(int32(exec)); arms.Store(2) }
}

// moveSeedWhileDown takes executor exec down (armed through arm, woken by
// a token pinned there), runs place, which places a child of a seed on exec
// and so moves the seed, checks that the child ran elsewhere, then waits out
// the cool-down until exec is revived. It returns where the child ran.
func moveSeedWhileDown(t *testing.T, rt *Runtime, arm func(int), exec int, place func() int) int {
	bg := context.Background()
	poke := must(Define(rt, "poke", where[int], OnExecutor(exec)))
	arm(exec)
	must(poke.Submit(bg, 0))
	synctest.Wait()
	require.True(t, rt.Executors()[exec].Down)
	other := place()
	require.NotEqual(t, exec, other)
	time.Sleep(2 * time.Second) // the cool-down: the executor is revived
	synctest.Wait()
	require.False(t, rt.Executors()[exec].Down)
	return other
}

// TestDelayedChildFollowsItsMovedSeed: a child of a lead, submitted with
// SubmitAfter, is accepted on the seed's executor and waits off the queues.
// That executor goes down, the seed moves with the next child placed, and
// the executor is revived before the delayed child is due. The delayed child
// ran on its old executor, while the seed, its lead's other children with
// it, was on the other one.
func TestDelayedChildFollowsItsMovedSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arm := startDownable(t)
		bg := context.Background()
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

		other := moveSeedWhileDown(t, rt, arm, h.exec, func() int { return must(must(child.Submit(h.ctx, 0)).Wait(bg)) })

		time.Sleep(time.Minute) // the delayed child is due
		got := must(h.delayed.Wait(bg))
		require.Equal(t, other, got, "the delayed child runs where its seed moved, with its lead's other children")
		require.NoError(t, rt.Stop(bg))
	})
}

// retriedChild is a lead's child that failed and waits out its retry
// backoff: the lead's executor and context, and the child's token.
type retriedChild struct {
	ctx   context.Context
	exec  int
	retry *Token[int]
}

// retryBehindMovedSeed runs a lead whose child fails its first attempt and
// waits out a minute's backoff, then takes the lead's executor down and
// moves the seed with another child (moveSeedWhileDown), and revives it.
// It returns the lead's child and where the seed moved.
func retryBehindMovedSeed(t *testing.T, rt *Runtime, arm func(int)) (retriedChild, int) {
	bg := context.Background()
	var failed atomic.Bool
	flaky := must(Define(rt, "flaky", func(ctx context.Context, _ int) (int, error) {
		if failed.CompareAndSwap(false, true) {
			return 0, errors.New("first attempt fails")
		}
		return where(ctx, 0)
	}, WithRetry(1, time.Minute)))
	child := must(Define(rt, "child", where[int]))
	lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (retriedChild, error) {
		me, _ := CurrentExecutor(ctx)
		ctx = context.WithoutCancel(ctx) // the retried child outlives the lead's handler
		tok, err := flaky.Submit(ctx, 0)
		return retriedChild{ctx, me, tok}, err
	}, WithAnchor("flaky", "child")))
	h := must(must(lead.Submit(bg, 0)).Wait(bg))
	synctest.Wait()
	require.True(t, failed.Load(), "the first attempt ran and waits out its backoff")
	other := moveSeedWhileDown(t, rt, arm, h.exec, func() int { return must(must(child.Submit(h.ctx, 0)).Wait(bg)) })
	return h, other
}

// TestRetriedChildFollowsItsMovedSeed: a child of a lead fails and waits out
// its retry backoff. Its executor goes down, the seed moves with the next
// child placed, and the executor is revived before the retry is due. The
// retry ran on its old executor, apart from its seed.
func TestRetriedChildFollowsItsMovedSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arm := startDownable(t)
		bg := context.Background()
		h, other := retryBehindMovedSeed(t, rt, arm)

		time.Sleep(time.Minute) // the retry is due
		got := must(h.retry.Wait(bg))
		require.Equal(t, other, got, "the retried child runs where its seed moved")
		require.NoError(t, rt.Stop(bg))
	})
}

// TestRetryFollowingItsSeedDuringStopRuns: as above, but a graceful Stop
// begins before the retry is due. The executor the seed moved to drains at
// once (nothing is queued there) while the one that ran the first attempt
// waits for the slot the retry holds. Found by review: the due retry
// followed its seed to the drained executor, was refused there, and was
// resolved with its first attempt's error, never run again, while Stop
// returned nil as if nothing had been cut short. It runs where its slot is.
func TestRetryFollowingItsSeedDuringStopRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arm := startDownable(t)
		bg := context.Background()
		h, _ := retryBehindMovedSeed(t, rt, arm)

		stopped := make(chan error, 1)
		go func() { stopped <- rt.Stop(bg) }()
		synctest.Wait()         // the seed's executor drained; the other waits for the retry
		time.Sleep(time.Minute) // the retry is due
		got, err := h.retry.Wait(bg)
		require.NoError(t, err, "the retry ran")
		require.Equal(t, h.exec, got, "the retry runs where it holds its slot: the seed's executor drained")
		require.NoError(t, <-stopped)
		requireBalanced(t, rt)
	})
}

// keeper is an actor that hands out its context on its first message and
// answers the executor it runs on.
type keeper struct{ kept chan<- *ActorContext }

func (k *keeper) Receive(c *ActorContext, _ int) (int, error) {
	select {
	case k.kept <- c:
	default:
	}
	e, _ := CurrentExecutor(c)
	return e, nil
}

// TestChildOfAMovedParentGoesWhereItIs: a parent's executor goes down and
// the parent moves to the other one (a message queued to it), where it has
// not run yet; its executor is revived. A child spawned with ChildOf then
// goes where the parent is now, not to the executor of its last turn. Found
// by review: ChildOf used the parent's last-known executor, so the child
// landed on the revived executor, apart from its parent.
func TestChildOfAMovedParentGoesWhereItIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arm := startDownable(t)
		bg := context.Background()
		kept := make(chan *ActorContext, 1)
		parent := must(Spawn(rt, "parent", func() Actor[int, int] { return &keeper{kept} }, OnExecutor(1)))
		require.Equal(t, 1, must(must(parent.Ask(bg, 0)).Wait(bg)))
		pctx := <-kept

		// Executor 1 goes down.
		poke := must(Define(rt, "poke", where[int], OnExecutor(1)))
		arm(1)
		must(poke.Submit(bg, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[1].Down)

		// Executor 0 is held, so the parent, moved there by a message, does
		// not run a turn.
		gate := make(chan struct{})
		hold := must(Define(rt, "hold", func(context.Context, int) (int, error) { <-gate; return 0, nil }, OnExecutor(0)))
		held := must(hold.Submit(bg, 0))
		synctest.Wait()
		require.NoError(t, parent.Tell(bg, 0))
		require.Equal(t, 0, parent.Executor(), "the parent moved off the down executor")

		time.Sleep(2 * time.Second) // the cool-down: executor 1 is revived
		synctest.Wait()
		require.False(t, rt.Executors()[1].Down)

		child := must(Spawn(rt, "child", func() Actor[int, int] { return &keeper{make(chan *ActorContext)} }, ChildOf(pctx)))
		require.Equal(t, 0, child.Executor(), "the child goes where its parent is")
		close(gate)
		must(held.Wait(bg))
		require.Equal(t, 0, must(must(child.Ask(bg, 0)).Wait(bg)))
		require.Equal(t, 0, must(must(parent.Ask(bg, 0)).Wait(bg)))
		require.NoError(t, rt.Stop(bg))
	})
}
