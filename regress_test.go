package coregate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// Regression tests for three problems a review of this session's fixes
// found in them (the first two) and beside them (the third).

// TestRetriedTokenMovedOffDownIsRerouted: a token that failed on
// executor 0 and waits out its backoff when executor 0 goes down is moved to
// executor 1 by its retry timer (requeue -> Gone -> Redirect -> Adopt). It was
// accepted on 0 and moved, so executor 0's Rerouted must count it. runHere
// left moved = 0+1 after the first attempt, so Adopt's prev&^sentBit == 0 test
// no longer sees a first move. In a synctest bubble: the backoff cannot run
// out before executor 0 is down, however slow the machine.
func TestRetriedTokenMovedOffDownIsRerouted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1}, IdleSpin: -1})
		downs, stop := testkit.Subscribe(rt.Engine(), testkit.Is[supervisor.ExecutorDown])
		defer stop()
		bg := context.Background()
		_, crash, _ := executor0Ops(t, rt)
		at0 := alternate(t, rt)
		var attempts atomic.Int32
		var ranOn atomic.Int32
		failed := make(chan struct{})
		flaky := must(Define(rt, "flaky", func(ctx context.Context, x int) (int, error) {
			if attempts.Add(1) == 1 {
				close(failed)
				return 0, errors.New("flaky")
			}
			e, _ := CurrentExecutor(ctx)
			ranOn.Store(int32(e))
			return x, nil
		}, WithRetry(1, 300*time.Millisecond)))
		tok := at0(must(flaky.Submit(bg, 5)))
		<-failed // the first attempt failed on executor 0: the retry waits out its backoff there
		at0(must(crash.Submit(bg, 0)))
		at0(must(crash.Submit(bg, 0)))
		<-downs
		require.Equal(t, 5, must(tok.Wait(bg)))
		require.Equal(t, int32(1), ranOn.Load(), "the retry ran on executor 1")
		require.Equal(t, uint64(1), rt.Stats().Executors[0].Rerouted, "the retried token moved off executor 0")
	})
}

// TestPerCoreKeptContextOnAnotherExecutor: a handler's context kept
// after its handler returned, used by a handler of ANOTHER executor, gets
// the first executor's value: InHandler is true for any handler goroutine.
func TestPerCoreKeptContextOnAnotherExecutor(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1})
	bg := context.Background()
	pc := must(NewPerCore(rt, func(i int) shard { return shard{exec: i} }))
	keep := must(Define(rt, "keep", func(ctx context.Context, _ int) (context.Context, error) { return ctx, nil }))
	var kept context.Context
	for kept == nil {
		tok := must(keep.Submit(bg, 0))
		c := must(tok.Wait(bg))
		if tok.Executor() == 0 {
			kept = c
		}
	}
	use := must(Define(rt, "use", func(ctx context.Context, _ int) (int, error) {
		e, _ := CurrentExecutor(ctx)
		if e != 1 {
			return -1, nil
		}
		s, err := pc.Get(kept) // executor 0's value, from executor 1's goroutine
		if err != nil {
			return -2, nil
		}
		return s.exec, nil
	}))
	for {
		v := must(must(use.Submit(bg, 0)).Wait(bg))
		if v == -1 {
			continue
		}
		require.Equal(t, -2, v, "Get with a kept context of executor 0 from executor 1's handler returned executor %d's value", v)
		return
	}
}

// funcActor is an actor whose Receive is a function.
type funcActor func(c *ActorContext, k int) (int, error)

func (f funcActor) Receive(c *ActorContext, k int) (int, error) { return f(c, k) }

// TestStopOfFullActorLostWhileRuntimeDrains: actor a's turn stops
// actor b (both on executor 0) with Ref.Stop, which now hands the executor
// on and waits. b's mailbox is full, so stopWith queues its stop envelope
// from a goroutine (Put waiting for room). The runtime's Stop then drains
// executor 0 (its helper finds the mailbox closed and empty and exits) while
// a and b wait as handed-off handlers. Once b makes room, the background Put
// fails (ErrStopped: no executor takes the cell), the error is dropped, and
// nothing stops b: a's Stop waits for ever, and so does the graceful drain,
// which waits for a's goroutine, until ctx ends. Since a drain waits for
// handlers that handed their executor on (48c3175), executor 0 stays up
// and b's stop is queued there: the test now guards that Stop still
// returns, no longer the kill that stopWith falls back on. It runs in a
// synctest bubble: each synctest.Wait lets the step it names finish.
func TestStopOfFullActorLostWhileRuntimeDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, IdleSpin: -1, StallAfter: -1})
		require.NoError(t, err)
		bg := context.Background()
		gate := make(chan struct{})
		gateStarted := make(chan struct{}, 1)
		gateOp := must(Define(rt, "gate", func(context.Context, int) (int, error) {
			gateStarted <- struct{}{}
			<-gate
			return 0, nil
		}, OnExecutor(1)))
		b := must(Spawn(rt, "b", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, k int) (int, error) {
				if k == 1 { // wait, handing executor 0 on, for the gate
					_, err := must(gateOp.Submit(c, 0)).Wait(c)
					return 0, err
				}
				return k, nil
			})
		}, OnExecutor(0), WithMailbox(1)))
		inStop := make(chan struct{}, 1)
		var stopErr atomic.Pointer[error]
		a := must(Spawn(rt, "a", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, k int) (int, error) {
				inStop <- struct{}{}
				err := b.Stop(c)
				stopErr.Store(&err)
				return 0, err
			})
		}, OnExecutor(0)))
		require.NoError(t, b.Tell(bg, 1))
		<-gateStarted                     // b's turn waits in its Receive, executor 0 handed on
		require.NoError(t, b.Tell(bg, 2)) // b's mailbox (1) is full now
		require.NoError(t, a.Tell(bg, 0))
		<-inStop
		synctest.Wait() // a is in b.Stop: its stop envelope waits for room
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- rt.Stop(ctx) }()
		synctest.Wait() // executor 0's owner drains and exits
		close(gate)
		select {
		case err = <-stopped:
		case <-time.After(2 * time.Second):
			t.Fatal("runtime Stop hangs: b's stop envelope was lost, a's Ref.Stop waits for ever, and the drain waits for a")
		}
		require.NoError(t, err)
		require.NotNil(t, stopErr.Load())
		require.NoError(t, *stopErr.Load())
	})
}

// TestDownWhileDrainingIsCutShort: an executor that goes down while a
// graceful Stop drains (its loop fails and its thread can no longer be
// pinned) has its queue moved to executors that drained already (all the
// others here); those
// refuse it, and its tokens resolve with ErrStopped. Stop must say so
// rather than return nil. Found by review.
func TestDownWhileDrainingIsCutShort(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	stopped, stopEvents := testkit.Subscribe(engine, testkit.Is[supervisor.ExecutorStopped])
	defer stopEvents()
	rt, err := Start(Config{Engine: engine, Affinity: Strict, StallAfter: -1,
		Restart: RestartPolicy{MaxRestarts: 1, Backoff: time.Hour, MaxBackoff: time.Hour}})
	require.NoError(t, err)
	bg := context.Background()
	if len(rt.Executors()) < 2 {
		require.NoError(t, rt.Stop(bg))
		t.Skip("needs two executors (two allowed CPUs, GOMAXPROCS 2): executor 0 drains while executor 1 goes down")
	}
	gate, entered := make(chan struct{}), make(chan struct{})
	on1 := must(Define(rt, "on1", func(_ context.Context, x int) (int, error) {
		if x == 0 {
			close(entered)
			<-gate
		}
		return x, nil
	}, OnExecutor(1)))
	first := must(on1.Submit(bg, 0))
	<-entered
	var queued []*Token[int]
	for x := 1; x <= 3; x++ {
		queued = append(queued, must(on1.Submit(bg, x)))
	}
	var fail atomic.Bool
	defer faults.SetLoop(func(exec int) error {
		if exec == 1 && fail.Load() {
			return errLoop
		}
		return nil
	})()
	defer faults.SetPin(func(exec int) error {
		if exec == 1 && fail.Load() {
			return errors.New("injected pin failure")
		}
		return nil
	})()
	done := make(chan error)
	go func() { done <- rt.Stop(bg) }()
	for range len(rt.Executors()) - 1 { // every other executor drained
		require.NotEqual(t, 1, (<-stopped).(supervisor.ExecutorStopped).Index, "executor 1 drained before its handler returned")
	}
	fail.Store(true)
	close(gate)
	_, err = first.Wait(bg)
	require.NoError(t, err)
	for _, tok := range queued {
		_, err := tok.Wait(bg)
		require.ErrorIs(t, err, ErrStopped)
	}
	err = <-done
	var se *supervisor.StopError
	require.ErrorAs(t, err, &se, "Stop returned %v with tokens cut short", err)
	require.Equal(t, 3, se.Stopped)
	requireBalanced(t, rt)
}

// TestAbortedStopCountsActorMessages: a Stop whose context ended before the
// executors reached an actor's queued messages refuses them
// (ErrActorStopped) and must say so, as it does for queued tokens. Found by
// review: the actor, dropped from its executor's mailbox by the abort, was
// stopped after it with its Asks and Tells refused, and Stop returned nil.
func TestAbortedStopCountsActorMessages(t *testing.T) {
	rt, err := Start(Config{Cores: 1, Affinity: Off})
	require.NoError(t, err)
	bg := context.Background()
	started := make(chan struct{})
	hold := must(SubmitFunc(bg, rt, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // the abort cancels it: it returns within the grace
		return 0, nil
	}))
	<-started
	ref := must(Spawn(rt, "queued", func() Actor[int, int] { return &counter{} })) // behind hold
	var asks []*Token[int]
	for k := 1; k <= 3; k++ {
		asks = append(asks, must(ref.Ask(bg, k)))
	}
	require.NoError(t, ref.Tell(bg, 4))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	serr := rt.Stop(ctx)
	must(hold.Wait(bg))
	for _, tok := range asks {
		_, err := tok.Wait(bg)
		require.ErrorIs(t, err, ErrActorStopped)
	}
	var se *supervisor.StopError
	require.ErrorAs(t, serr, &se, "Stop returned %v with the actor's messages cut short", serr)
	require.ErrorIs(t, serr, context.Canceled)
	require.Equal(t, 4, se.Refused)
	require.ErrorContains(t, serr, "4 messages queued to actors refused with ErrActorStopped")
	requireBalanced(t, rt)
}
