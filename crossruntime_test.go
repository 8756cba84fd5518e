package coregate

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A handler of one runtime that waits on work of another (a token, an
// actor's reply, room in a mailbox, a Request's answer) hands its own
// executor on, whatever runtime owns what it waits on: otherwise a cycle
// through two runtimes (A's handler waits on B, whose handler waits on work
// queued on A behind the first) deadlocks. Each test would deadlock without
// that; crossWait bounds it, so that it fails rather than hangs.

const crossWait = 10 * time.Second

// twoRuntimes starts runtimes a and b (each on its own engine), checked by
// start's cleanup, and a context bounding the test.
func twoRuntimes(t *testing.T, a, b Config) (*Runtime, *Runtime, context.Context) {
	t.Helper()
	a.Name, b.Name = "a", "b"
	ra, rb := start(t, a), start(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	t.Cleanup(cancel)
	return ra, rb, ctx
}

// closer closes ch once, from whichever caller comes first.
func closer(ch chan struct{}) func() {
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// waitOn waits for ch or the end of ctx, as a handler holding its executor
// on purpose does (a plain channel is no coregate wait).
func waitOn(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestCrossRuntimeWaitCycle: top (on A) waits on mid (on B), which waits on
// leaf, queued on A behind top. A has one executor, so leaf runs only if
// top's wait hands it on, although top waits on a token of B.
func TestCrossRuntimeWaitCycle(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, Affinity: Off})
	leaf := must(Define(a, "leaf", func(_ context.Context, x int) (int, error) { return x + 1, nil }))
	mid := must(Define(b, "mid", func(ctx context.Context, x int) (int, error) {
		tok, err := leaf.Submit(ctx, x)
		if err != nil {
			return 0, err
		}
		return tok.Wait(ctx)
	}))
	top := must(Define(a, "top", func(ctx context.Context, x int) (int, error) {
		tok, err := mid.Submit(ctx, x)
		if err != nil {
			return 0, err
		}
		return tok.Wait(ctx)
	}))
	// Several at once: each blocked top holds a goroutine of A beside its
	// owner, and B's mids hand B on as they wait in turn.
	var toks []*Token[int]
	for i := range 8 {
		tok, err := top.Submit(ctx, i)
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		require.NoError(t, err, "top %d", i)
		require.Equal(t, i+1, v)
	}
}

// TestCrossRuntimeAskCycle: actor x (on A) asks y (on B), which asks z (on
// A), each waiting for the reply inside Receive; z is queued on A's only
// executor behind x's turn.
func TestCrossRuntimeAskCycle(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, Affinity: Off})
	asker := func(next *Ref[int, int]) func() Actor[int, int] {
		return func() Actor[int, int] {
			return funcActor(func(c *ActorContext, k int) (int, error) {
				tok, err := next.Ask(c, k)
				if err != nil {
					return 0, err
				}
				return tok.Wait(ctx) // the test's bound, not the actor's context
			})
		}
	}
	z := must(Spawn(a, "z", func() Actor[int, int] {
		return funcActor(func(_ *ActorContext, k int) (int, error) { return k + 1, nil })
	}))
	y := must(Spawn(b, "y", asker(z)))
	x := must(Spawn(a, "x", asker(y)))
	tok, err := x.Ask(ctx, 1)
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v)
}

// TestCrossRuntimeSubmitWaitsForRoom: top (on A) queues leaf on A behind
// itself, then submits more tokens to B than B's mailbox holds while B's
// only executor runs a handler that waits for leaf. B makes room only once
// leaf ran, so top's Submit waiting for room must hand A on.
func TestCrossRuntimeSubmitWaitsForRoom(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, MailboxSize: 2, Affinity: Off})
	leafRan := make(chan struct{})
	ran := closer(leafRan)
	leaf := must(Define(a, "leaf", func(context.Context, int) (int, error) { ran(); return 0, nil }))
	hold := must(Define(b, "hold", func(_ context.Context, x int) (int, error) { return x, waitOn(ctx, leafRan) }))
	top := must(Define(a, "top", func(hctx context.Context, n int) (int, error) {
		if _, err := leaf.Submit(hctx, 0); err != nil {
			return 0, err
		}
		for i := range n {
			if _, err := hold.Submit(hctx, i); err != nil {
				return i, err
			}
		}
		return n, nil
	}))
	tok, err := top.Submit(ctx, 10) // past B's mailbox and batch: one Submit must wait
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 10, v)
}

// TestCrossRuntimeTellWaitsForRoom: as TestCrossRuntimeSubmitWaitsForRoom,
// with top telling an actor of B whose mailbox is full until leaf ran.
func TestCrossRuntimeTellWaitsForRoom(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, Affinity: Off})
	leafRan := make(chan struct{})
	ran := closer(leafRan)
	leaf := must(Define(a, "leaf", func(context.Context, int) (int, error) { ran(); return 0, nil }))
	y := must(Spawn(b, "y", func() Actor[int, int] {
		return funcActor(func(_ *ActorContext, k int) (int, error) { return k, waitOn(ctx, leafRan) })
	}, WithMailbox(1)))
	top := must(Define(a, "top", func(hctx context.Context, n int) (int, error) {
		if _, err := leaf.Submit(hctx, 0); err != nil {
			return 0, err
		}
		for i := range n {
			if err := y.Tell(hctx, i); err != nil {
				return i, err
			}
		}
		return n, nil
	}))
	tok, err := top.Submit(ctx, 4) // past y's mailbox and batch: one Tell must wait
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, v)
}

// TestCrossRuntimeRequestWithOtherContext: top (on A) makes a Request to
// y (on B) with a context that is not its handler's; y asks z, queued on
// A behind top. The wait is top's all the same.
func TestCrossRuntimeRequestWithOtherContext(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, Affinity: Off})
	z := must(Spawn(a, "z", func() Actor[int, int] {
		return funcActor(func(_ *ActorContext, k int) (int, error) { return k + 1, nil })
	}))
	y := must(Spawn(b, "y", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, k int) (int, error) {
			tok, err := z.Ask(c, k)
			if err != nil {
				return 0, err
			}
			return tok.Wait(ctx)
		})
	}))
	top := must(Define(a, "top", func(_ context.Context, k int) (int, error) {
		return Request[int](ctx, b.Engine(), y.PID(), k)
	}))
	tok, err := top.Submit(ctx, 1)
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v)
}

// TestCrossRuntimeBlockingLaneWait: a blocking-lane handler of A (one
// worker) waits on a token of B whose handler waits for leaf, queued on
// A's lane behind it. A's lane must be told its worker blocks.
func TestCrossRuntimeBlockingLaneWait(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1}, Config{Cores: 1, Affinity: Off})
	leafRan := make(chan struct{})
	ran := closer(leafRan)
	leaf := must(Define(a, "leaf", func(context.Context, int) (int, error) { ran(); return 0, nil }, WithBlocking()))
	mid := must(Define(b, "mid", func(_ context.Context, x int) (int, error) { return x, waitOn(ctx, leafRan) }))
	top := must(Define(a, "top", func(hctx context.Context, x int) (int, error) {
		if _, err := leaf.Submit(hctx, 0); err != nil {
			return 0, err
		}
		tok, err := mid.Submit(hctx, x)
		if err != nil {
			return 0, err
		}
		return tok.Wait(hctx)
	}, WithBlocking()))
	tok, err := top.Submit(ctx, 7)
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
}

// TestCrossRuntimeStopFromHandler: top (on A) stops B while B's only
// executor runs mid, which waits for leaf, queued on A behind top. B's
// drain waits for mid, so top's Stop must hand A on.
func TestCrossRuntimeStopFromHandler(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 1, Affinity: Off})
	leafRan, midRuns := make(chan struct{}), make(chan struct{})
	ran := closer(leafRan)
	leaf := must(Define(a, "leaf", func(context.Context, int) (int, error) { ran(); return 0, nil }))
	mid := must(Define(b, "mid", func(_ context.Context, x int) (int, error) {
		close(midRuns)
		return x, waitOn(ctx, leafRan)
	}))
	top := must(Define(a, "top", func(hctx context.Context, _ int) (int, error) {
		if _, err := leaf.Submit(hctx, 0); err != nil {
			return 0, err
		}
		return 0, b.Stop(ctx)
	}))
	midTok, err := mid.Submit(ctx, 5)
	require.NoError(t, err)
	<-midRuns
	tok, err := top.Submit(ctx, 0)
	require.NoError(t, err)
	_, err = tok.Wait(ctx)
	require.NoError(t, err, "B's Stop, from a handler of A")
	v, err := midTok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, v)
}

// TestCrossRuntimeBlockedCountsAgainstCaller: a handler waiting on another
// runtime's token counts against its own runtime's MaxBlocked, not the
// token's: A allows two blocked handlers and B one, and A's third handler
// waiting on B is refused while two wait.
func TestCrossRuntimeBlockedCountsAgainstCaller(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off, MaxBlocked: 2}, Config{Cores: 1, Affinity: Off, MaxBlocked: 1})
	held := must(Define(b, "held", where[int]))
	held.Pause()
	var heldToks []*Token[int]
	for range 3 {
		tok, err := held.Submit(ctx, 0)
		require.NoError(t, err)
		heldToks = append(heldToks, tok)
	}
	waiter := must(Define(a, "waiter", func(hctx context.Context, i int) (int, error) {
		return heldToks[i].Wait(hctx)
	}))
	// A has one executor: each waiter runs once the one before it blocked
	// and handed A on, so the third finds two blocked.
	var toks []*Token[int]
	for i := range 3 {
		tok, err := waiter.Submit(ctx, i)
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	_, err := toks[2].Wait(ctx)
	require.ErrorIs(t, err, ErrTooManyBlocked)
	held.Resume()
	for _, tok := range toks[:2] {
		_, err := tok.Wait(ctx)
		require.NoError(t, err)
	}
}

// TestCrossRuntimeSubmitIgnoresOtherPlacement: a token of A's op submitted
// with the context of B's actor, or of B's anchored lead, is placed by A's
// own rules: the actor's executor and the lead's seed are B's. Both used
// to place it on B's executor index in A's router, out of range here
// (index out of range: a panic in the handler).
func TestCrossRuntimeSubmitIgnoresOtherPlacement(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off}, Config{Cores: 2, Affinity: Off})
	leaf := must(Define(a, "leaf", func(ctx context.Context, x int) (int, error) {
		e, _ := CurrentExecutor(ctx)
		return x + 10*e, nil
	}))
	submitLeaf := func(c context.Context, x int) (int, error) {
		tok, err := leaf.Submit(c, x)
		if err != nil {
			return 0, err
		}
		return tok.Wait(c)
	}
	y := must(Spawn(b, "y", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, k int) (int, error) { return submitLeaf(c, k) })
	}, OnExecutor(1)))
	tok, err := y.Ask(ctx, 3)
	require.NoError(t, err)
	v, err := tok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v, "leaf ran on A's executor 0")
	// B's lead declares B's own leaf, whose name A's shares; Light puts it
	// on B's executor 1.
	must(Define(b, "leaf", where[int]))
	lead := must(Define(b, "lead", submitLeaf, WithAnchor("leaf"), WithWeight(Light)))
	ltok, err := lead.Submit(ctx, 4)
	require.NoError(t, err)
	v, err = ltok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, v, "leaf ran on A's executor 0")
}

// TestStopOfAStoppedRuntimeFromAFullHandler: a handler of A calling Stop
// of B, which stopped already, gets B's result at once, also while A's
// MaxBlocked handlers block: Stop handed A's executor on (and counted a
// blocked handler) before it looked, so it answered ErrTooManyBlocked for
// a runtime it had nothing to wait for (found by review).
func TestStopOfAStoppedRuntimeFromAFullHandler(t *testing.T) {
	a, b, ctx := twoRuntimes(t, Config{Cores: 1, Affinity: Off, MaxBlocked: 1}, Config{Cores: 1, Affinity: Off})
	require.NoError(t, b.Stop(ctx))
	held := must(Define(a, "held", where[int]))
	held.Pause()
	heldTok := must(held.Submit(ctx, 0))
	waiter := must(Define(a, "waiter", func(hctx context.Context, _ int) (int, error) { return heldTok.Wait(hctx) }))
	stopper := must(Define(a, "stopper", func(context.Context, int) (int, error) { return 0, b.Stop(ctx) }))
	waitTok := must(waiter.Submit(ctx, 0))
	// A has one executor: the stopper runs once the waiter blocked and
	// handed it on, with A's one blocked handler taken.
	_, err := must(stopper.Submit(ctx, 0)).Wait(ctx)
	require.NoError(t, err, "Stop of a stopped runtime, from a handler of a runtime at its MaxBlocked")
	held.Resume()
	_, err = waitTok.Wait(ctx)
	require.NoError(t, err)
}
