package coregate

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// lifeLog records an actor's calls in order, across its restarts.
type lifeLog struct {
	mu  sync.Mutex
	log []string
}

func (l *lifeLog) add(s string) {
	l.mu.Lock()
	l.log = append(l.log, s)
	l.mu.Unlock()
}

func (l *lifeLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

// cancelledFailer's Receive of 0 waits for its context (a runtime Stop
// giving up), then panics or calls runtime.Goexit.
type cancelledFailer struct {
	l       *lifeLog
	entered chan struct{}
	goexit  bool
}

func (a *cancelledFailer) Started(*ActorContext) error { a.l.add("started"); return nil }
func (a *cancelledFailer) Stopped(*ActorContext)       { a.l.add("stopped") }
func (a *cancelledFailer) Receive(c *ActorContext, k int) (int, error) {
	a.l.add("receive")
	if k != 0 {
		return k, nil
	}
	a.entered <- struct{}{}
	<-c.Done()
	if a.goexit {
		runtime.Goexit()
	}
	panic("cancelled")
}

// TestCancelledReceiveFailingIsNotRestarted: a Receive that a runtime
// Stop's abort cancelled, and that then panics or calls runtime.Goexit
// within the grace, fails its message and stops the actor (Stopped once,
// on the value that failed), as the abort refuses every message behind it:
// no restart, whose factory and Started would begin after the abort, with
// the runtime stopping, and here run on past Stop's return (the factory
// waits on gate, which the test opens once Stop returned). Found by the
// lifecycle-across-Stop review: the actor restarted, its factory holding
// Stop for the grace, named as a Receive still running, then making a
// value and running Started after Stop returned.
func TestCancelledReceiveFailingIsNotRestarted(t *testing.T) {
	t.Run("panic", func(t *testing.T) { testCancelledReceiveFailing(t, false) })
	t.Run("goexit", func(t *testing.T) { testCancelledReceiveFailing(t, true) })
}

func testCancelledReceiveFailing(t *testing.T, goexit bool) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1})
		require.NoError(t, err)
		l := &lifeLog{}
		entered, gate := make(chan struct{}, 1), make(chan struct{})
		made := 0
		ref := must(Spawn(rt, "failer", func() Actor[int, int] {
			if made++; made > 1 {
				<-gate
			}
			l.add("made")
			return &cancelledFailer{l: l, entered: entered, goexit: goexit}
		}))
		bg := context.Background()
		first := must(ref.Ask(bg, 0))
		<-entered
		var rest []*Token[int]
		for k := 1; k <= 3; k++ {
			rest = append(rest, must(ref.Ask(bg, k)))
		}
		ctx, cancel := context.WithCancel(bg)
		cancel() // the drain gives up at once
		serr := rt.Stop(ctx)
		close(gate)
		_, err = first.Wait(bg)
		if goexit {
			require.ErrorIs(t, err, ErrGoexit)
		} else {
			var pe *PanicError
			require.ErrorAs(t, err, &pe)
		}
		for _, tok := range rest {
			_, err := tok.Wait(bg)
			require.ErrorIs(t, err, ErrActorStopped)
		}
		<-ref.doneCh()
		synctest.Wait()
		require.Equal(t, []string{"made", "started", "receive", "stopped"}, l.get())
		require.ErrorContains(t, serr, "1 running handlers cancelled")
		require.ErrorContains(t, serr, "3 messages queued to actors refused with ErrActorStopped")
		require.NotContains(t, serr.Error(), "still running")
		requireBalanced(t, rt)
	})
}

// goexitStopped's Stopped calls runtime.Goexit.
type goexitStopped struct{ stopped *atomic.Int32 }

func (a *goexitStopped) Receive(_ *ActorContext, k int) (int, error) { return k, nil }
func (a *goexitStopped) Stopped(*ActorContext) {
	a.stopped.Add(1)
	runtime.Goexit()
}

// TestStoppedGoexitAsTheExecutorEnds: a handler that asks two actors on
// its own executor queues them on that executor's local run queue; a
// runtime Stop that gives up while the handler ignores its context kills
// both (each with a message in its near queue) and returns. When the
// handler returns, its executor's goroutine ends, and as it ends it hands
// the local run queue on: the first actor, killed and now idle, stops
// there, and its Stopped calls runtime.Goexit on that goroutine. The
// executor's end must go on all the same: the second actor's Ask resolves
// and its Stopped runs. Found by the lifecycle-across-Stop review: the
// Goexit cut the executor's end short, leaving the second actor's Ask
// unresolved and its Stopped never run.
func TestStoppedGoexitAsTheExecutorEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1})
		require.NoError(t, err)
		var firstStopped, secondStopped atomic.Int32
		first := must(Spawn(rt, "first", func() Actor[int, int] { return &goexitStopped{stopped: &firstStopped} }))
		second := must(Spawn(rt, "second", func() Actor[int, int] {
			return &stoppedCounter{stopped: &secondStopped}
		}))
		bg := context.Background()
		synctest.Wait() // both started
		asked := make(chan [2]*Token[int], 1)
		gate := make(chan struct{})
		hold := must(Define(rt, "hold", func(ctx context.Context, _ int) (int, error) {
			asked <- [2]*Token[int]{must(first.Ask(ctx, 1)), must(second.Ask(ctx, 2))}
			<-gate // ignores its context past the grace
			return 0, nil
		}))
		held := must(hold.Submit(bg, 0))
		toks := <-asked
		ctx, cancel := context.WithCancel(bg)
		cancel()
		serr := rt.Stop(ctx)
		require.ErrorContains(t, serr, `"hold" x1`)
		close(gate)
		_, err = held.Wait(bg)
		require.NoError(t, err)
		for i, tok := range toks {
			wctx, wcancel := context.WithTimeout(bg, time.Minute)
			_, err := tok.Wait(wctx)
			wcancel()
			require.ErrorIs(t, err, ErrActorStopped, "Ask %d", i)
		}
		synctest.Wait()
		require.Equal(t, int32(1), firstStopped.Load())
		require.Equal(t, int32(1), secondStopped.Load())
		requireBalanced(t, rt)
	})
}

// stoppedCounter counts its Stopped calls.
type stoppedCounter struct{ stopped *atomic.Int32 }

func (a *stoppedCounter) Receive(_ *ActorContext, k int) (int, error) { return k, nil }
func (a *stoppedCounter) Stopped(*ActorContext)                       { a.stopped.Add(1) }

// panicText is an error whose Error method panics.
type panicText struct{}

func (panicText) Error() string { panic("Error panicked") }

// panicTexter returns panicText on 1 and panics with it on 2; it counts
// its Started calls.
type panicTexter struct{ started *atomic.Int32 }

func (a panicTexter) Started(*ActorContext) error { a.started.Add(1); return nil }
func (a panicTexter) Receive(_ *ActorContext, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
	switch v.GetValue() {
	case 1:
		return nil, panicText{}
	case 2:
		panic(panicText{})
	}
	return v, nil
}

// TestErrorThatCannotBeFormattedAnsweredAsToAnAsk: an actor's failure
// whose error's Error method panics is answered to a remote caller, encoded
// within the actor's turn, and the actor fares as for the same failure
// answered to a local Ask: a panic in Receive restarts it (Started again),
// an error returned restarts nothing, and the caller gets an answer
// (PANICKED, FAILED) either way. The panic in Error is the answer's to
// report, not the actor's: the turn goes on to the restart.
func TestErrorThatCannotBeFormattedAnsweredAsToAnAsk(t *testing.T) {
	c := &chanRemote{sent: make(chan any, 1)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	var started atomic.Int32
	ref := must(Spawn(rt, "text", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] {
		return panicTexter{started: &started}
	}))
	peer := actor.NewPID("127.0.0.1:2", "response/7") // a hollywood Request of another engine
	bg := context.Background()
	_, err = must(ref.Ask(bg, wrapperspb.Int64(0))).Wait(bg) // Started ran
	require.NoError(t, err)
	for _, tc := range []struct {
		v        int64
		code     wire.Code
		restarts bool
	}{{1, wire.Code_FAILED, false}, {2, wire.Code_PANICKED, true}} {
		// The next message's answer comes after the restart, if any.
		next := func(what string, before int32) int32 {
			v, err := must(ref.Ask(bg, wrapperspb.Int64(7))).Wait(bg)
			require.NoError(t, err, "the actor went on")
			require.Equal(t, int64(7), v.GetValue())
			n := started.Load()
			require.Equal(t, tc.restarts, n == before+1, "%d: %s's restart", tc.v, what)
			return n
		}
		before := started.Load()
		_, err := must(ref.Ask(bg, wrapperspb.Int64(tc.v))).Wait(bg)
		require.Error(t, err)
		before = next("a local Ask", before)
		e.SendLocal(ref.PID(), wrapperspb.Int64(tc.v), peer) // as hollywood's reader delivers it
		var m any
		select {
		case m = <-c.sent:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d: the remote caller got no answer", tc.v)
		}
		w, ok := m.(*wire.Error)
		require.True(t, ok, "%T", m)
		require.Equal(t, tc.code, w.GetCode(), "%v", w)
		next("a remote Request, as the Ask", before)
	}
}

// TestStoppedGoexitEndsNotTheStopper: an actor's Receive that a runtime
// Stop's abort cancelled stops another actor (a ChildOf child, which the
// runtime's Stop had not stopped yet: children stop after their parents);
// no executor takes its stop any more, so it stops at once, and its
// Stopped calls runtime.Goexit. That Goexit ends Stopped's own goroutine,
// not the Receive that asked for the stop: its Ask resolves with what it
// returned. Found by the lifecycle-across-Stop review: Stopped ran on the
// stopper's goroutine, and its Goexit ended that Receive (its Ask failed
// with ErrGoexit, the rest of it never ran).
func TestStoppedGoexitEndsNotTheStopper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1})
		require.NoError(t, err)
		var childStopped atomic.Int32
		pctx := make(chan *ActorContext, 1)
		must(Spawn(rt, "parent", func() Actor[int, int] { return &parentOf{ctx: pctx} }))
		child := must(Spawn(rt, "child", func() Actor[int, int] { return &goexitStopped{stopped: &childStopped} }, ChildOf(<-pctx)))
		entered := make(chan struct{}, 1)
		stopper := must(Spawn(rt, "stopper", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, k int) (int, error) {
				entered <- struct{}{}
				<-c.Done() // the runtime's Stop gave up
				_ = child.Stop(c)
				return 1, nil
			})
		}))
		bg := context.Background()
		tok := must(stopper.Ask(bg, 0))
		<-entered
		ctx, cancel := context.WithCancel(bg)
		cancel()
		_ = rt.Stop(ctx)
		v, err := tok.Wait(bg)
		require.NoError(t, err)
		require.Equal(t, 1, v)
		synctest.Wait()
		require.Equal(t, int32(1), childStopped.Load())
		requireBalanced(t, rt)
	})
}

// TestActorStoppedReasonAfterAnAbort: an actor whose messages a runtime
// Stop refused when it gave up draining (they were queued behind a Receive
// the abort cancelled, which returned within the grace) was stopped
// without being drained: its ActorStopped says ErrStopped, as for an
// actor the Stop killed, whether its stop is reached in that turn or
// the kill comes first. Found by the lifecycle-across-Stop review: the
// turn went on to the stop queued behind the refused messages, which
// announced it with a nil Reason, as for a Stop that drained it.
func TestActorStoppedReasonAfterAnAbort(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	events, stop := testkit.Subscribe(engine, func(ev any) bool {
		s, ok := ev.(ActorStopped)
		return ok && s.PID.ID == "coregate/actor/watcher"
	})
	defer stop()
	rt, err := Start(Config{Engine: engine, Cores: 1, Affinity: Off})
	require.NoError(t, err)
	ref, first := watcherInReceive(rt, new(atomic.Int32))
	bg := context.Background()
	rest := must(ref.Ask(bg, 1))
	ctx, cancel := context.WithCancel(bg)
	cancel() // the drain gives up at once
	require.ErrorContains(t, rt.Stop(ctx), "1 messages queued to actors refused")
	_, err = first.Wait(bg)
	require.ErrorIs(t, err, context.Canceled)
	_, err = rest.Wait(bg)
	require.ErrorIs(t, err, ErrActorStopped)
	select {
	case ev := <-events:
		require.ErrorIs(t, ev.(ActorStopped).Reason, ErrStopped)
	case <-time.After(10 * time.Second):
		t.Fatal("no ActorStopped")
	}
	requireBalanced(t, rt)
}
