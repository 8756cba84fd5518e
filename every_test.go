package coregate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/stretchr/testify/require"
)

// TestEveryEachPanicIsContained: a panic in Every's each is recovered and
// published as CallbackPanicked, as a panic in an op's callback is, and the
// periodic job goes on. Found by review: each ran unguarded on Every's own
// goroutine, so its panic ended the program.
func TestEveryEachPanicIsContained(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	events, unsubscribe := testkit.Subscribe(engine, testkit.Is[CallbackPanicked])
	defer unsubscribe()
	rt := start(t, Config{Engine: engine, Cores: 1, Affinity: Off})
	op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil }))
	calls := make(chan int, 16)
	n := 0
	var stopping atomic.Bool
	stop := must(op.Every(context.Background(), time.Millisecond, 0, func(r int, err error) {
		// A run under way when stop is called ends with its context's
		// error, as Every says.
		if err != nil && !(stopping.Load() && errors.Is(err, context.Canceled)) {
			t.Errorf("run %d: %v", n+1, err)
		}
		if n++; n <= 16 {
			calls <- n
		}
		if n == 1 {
			panic("in each")
		}
	}))
	defer func() { stopping.Store(true); stop() }()
	for want := 1; want <= 3; want++ {
		require.Equal(t, want, <-calls, "the job goes on after each panicked")
	}
	select {
	case ev := <-events:
		p := ev.(CallbackPanicked)
		require.Equal(t, "tick", p.Op)
		require.Equal(t, "in each", p.Value)
		require.NotZero(t, p.Token, "the run's token")
		require.NotEmpty(t, p.Stack)
	case <-time.After(time.Minute):
		t.Fatal("no CallbackPanicked")
	}
}

// TestEveryEachGoexitIsContained: a runtime.Goexit in Every's each (a
// t.FailNow in a test's each, say) ends that call only, as a panic does:
// the ticks go on, stop and Stop return, and stop from a later each is
// still known as a call from each. Found by review: the Goexit ended the
// loop's goroutine, and with it the periodic job, silently.
func TestEveryEachGoexitIsContained(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil }))
	calls := make(chan int, 16)
	n := 0
	stopFn, stopped := make(chan func(), 1), make(chan struct{})
	stop := must(op.Every(context.Background(), time.Millisecond, 0, func(int, error) {
		n++ // each calls never overlap, on whatever goroutine
		calls <- n
		switch n {
		case 1, 2:
			runtime.Goexit()
		case 3:
			(<-stopFn)() // from each: returns at once
			close(stopped)
		}
	}))
	stopFn <- stop
	for want := 1; want <= 3; want++ {
		select {
		case got := <-calls:
			require.Equal(t, want, got)
		case <-time.After(pidsTimeout):
			t.Fatalf("each was not called a %d time: a Goexit in it ended the job", want)
		}
	}
	<-stopped
	stop()
	require.NoError(t, rt.Stop(context.Background()))
	require.Empty(t, calls, "each is not called after stop")
}

// TestEveryStopWaitsAcrossAGoexit: after a runtime.Goexit in each, the
// loop goes on on a new goroutine, and a stop from any other goroutine
// waits for it, even one that got the ended goroutine's identity (the
// address of its g, which Go reuses) before the new one said who it is.
// The seam plays that reuse: the new loop goroutine is held before it
// tells its identity, and the stopper reads as the ended one. Found by
// review: the ended goroutine's identity stayed until the next took its
// place, and a stop with it returned at once, as if called from each,
// while the loop still ran.
func TestEveryStopWaitsAcrossAGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil }))
		var first, stopper atomic.Uint64
		hold := make(chan struct{})
		everyGoID = func() uint64 {
			id := actors.GoID()
			switch {
			case id == stopper.Load():
				return first.Load() // a goroutine on the ended one's g
			case first.CompareAndSwap(0, id):
				return id // the first loop goroutine
			}
			<-hold // the next loop goroutine, held before it says who it is
			return id
		}
		released := false
		defer func() {
			if !released { // a failure: let the held loop go on, and end
				close(hold)
			}
			everyGoID = actors.GoID
		}()
		var calls atomic.Int32
		stop := must(op.Every(context.Background(), time.Millisecond, 0, func(int, error) {
			if calls.Add(1) == 1 {
				runtime.Goexit()
			}
		}))
		time.Sleep(time.Millisecond)
		synctest.Wait() // each ended its goroutine; the next one is held
		require.EqualValues(t, 1, calls.Load())
		returned := make(chan struct{})
		go func() {
			stopper.Store(actors.GoID())
			stop()
			close(returned)
		}()
		synctest.Wait()
		select {
		case <-returned:
			t.Fatal("stop returned while the loop still ran: it passed for a call from each")
		default:
		}
		close(hold)
		released = true
		<-returned
		require.NoError(t, rt.Stop(context.Background()))
		require.EqualValues(t, 1, calls.Load(), "each is not called after stop")
	})
}

// TestEveryKeyPanicIsContained: a panic in the op's own code that runs on
// Every's goroutine as it submits a run (a WithStickyKey function) fails
// that run, given to each as a *PanicError, and the ticks go on. Found by
// review: it escaped Every's goroutine, where no caller could recover it,
// and ended the program.
func TestEveryKeyPanicIsContained(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil },
		WithStickyKey(func(int) uint64 { panic("no key") })))
	errs := make(chan error, 16)
	stop := must(op.Every(context.Background(), time.Millisecond, 0, func(_ int, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	defer stop()
	for range 2 {
		var pe *PanicError
		require.ErrorAs(t, <-errs, &pe, "the ticks go on")
		require.Equal(t, "no key", pe.Value)
	}
}

// TestEveryCallsEachOnceAfterStop: a run under way as the runtime stops
// gives each its result, and each is not called again. Found by review: the
// loop then met a due tick and Stop's close at once, and the select picked
// the tick in half the rounds, submitted (refused) and called each a second
// time with ErrStopped. Each round gets a new runtime; the interval is so
// short that a tick is always due.
func TestEveryCallsEachOnceAfterStop(t *testing.T) {
	for round := range 20 {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		op, started, gate := gatedTick(rt)
		var got []error
		stop := must(op.Every(context.Background(), time.Nanosecond, 0, func(_ int, err error) { got = append(got, err) }))
		<-started
		stopped := make(chan error)
		go func() { stopped <- rt.Stop(context.Background()) }()
		<-rt.delays.done() // Stop began: it drains the run under way
		close(gate)
		require.NoError(t, <-stopped)
		stop() // the loop has ended
		require.Equal(t, []error{nil}, got, "round %d: each after Stop, besides the run under way", round)
		requireBalanced(t, rt)
	}
}

// TestRuntimeStopWaitsForEveryLastEach: Stop returns only once the each of a
// run under way as it stopped has returned, and only when its context ends
// first does it return before, saying so in its error. Found by review:
// Stop ended the loops without waiting for them, so that last each ran on
// beside the caller's code after Stop returned. Each gives Stop a context
// that the test ends while each runs: before the fix Stop returned nil
// whatever that context did.
func TestRuntimeStopWaitsForEveryLastEach(t *testing.T) {
	for round := range 10 {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		op, started, gate := gatedTick(rt)
		entered, release := make(chan struct{}), make(chan struct{})
		var got []error // read after Stop returned: under -race, a write after it is a race
		stop := must(op.Every(context.Background(), time.Nanosecond, 0, func(_ int, err error) {
			got = append(got, err)
			close(entered)
			<-release
		}))
		<-started
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error)
		go func() { stopped <- rt.Stop(ctx) }()
		<-rt.delays.done() // Stop began: it drains the run under way
		close(gate)
		<-entered
		cancel()
		err = <-stopped
		require.ErrorIs(t, err, context.Canceled, "round %d: Stop returned while each ran", round)
		require.ErrorContains(t, err, "Every")
		require.ErrorIs(t, rt.Stop(context.Background()), context.Canceled, "a later Stop returns the first one's result")
		close(release)
		stop()
		require.Equal(t, []error{nil}, got)

		// Given the time, Stop waits for the last each, which has returned
		// when Stop returns (and -race sees got written before).
		rt, err = Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		op, started, gate = gatedTick(rt)
		got = nil
		must(op.Every(context.Background(), time.Nanosecond, 0, func(_ int, err error) { got = append(got, err) }))
		<-started
		go func() { stopped <- rt.Stop(context.Background()) }()
		<-rt.delays.done()
		close(gate)
		require.NoError(t, <-stopped)
		require.Equal(t, []error{nil}, got, "round %d: the last each had run when Stop returned", round)
		requireBalanced(t, rt)
	}
}

// TestRuntimeStopFromEveryEach: Stop called from Every's each returns
// ErrStopFromHandler, as from an op's callback, since it would wait for its
// own loop; the loop goes on until stopped.
func TestRuntimeStopFromEveryEach(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil }))
	inEach := make(chan error, 1)
	calls := 0
	stop := must(op.Every(context.Background(), time.Nanosecond, 0, func(int, error) {
		if calls++; calls == 1 {
			inEach <- rt.Stop(context.Background())
		}
	}))
	require.ErrorIs(t, <-inEach, ErrStopFromHandler)
	stop()
	require.NoError(t, rt.Stop(context.Background()))
}

// gatedTick defines op "tick" on rt, answering 7; its first run closes
// started and waits for gate.
func gatedTick(rt *Runtime) (op *Op[int, int], started, gate chan struct{}) {
	started, gate = make(chan struct{}), make(chan struct{})
	first := true
	op = must(Define(rt, "tick", func(context.Context, int) (int, error) {
		if first { // runs never overlap: no race on first
			first = false
			close(started)
			<-gate
		}
		return 7, nil
	}))
	return op, started, gate
}

// TestEveryStopFromAHandler: an Every's stop called from a handler while a
// run is under way hands the handler's executor on while it waits for the
// loop. Found by review: it waited holding the executor, so on one core a
// last each that submitted to the runtime and waited (logging the run, say)
// waited for a token queued behind that handler, which waited for each.
func TestEveryStopFromAHandler(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	everyStopFromAHandler(t, rt, time.Nanosecond, pidsTimeout)
}

// everyStopFromAHandler calls an Every's stop from an op's handler on rt (one
// executor) while a run of the Every is under way, its each submitting to rt
// and waiting; it fails the test when the handler's token has not ended
// after wait (on synctest's clock, an hour), and checks what each logged:
// the run's cancellation, then its own token's result.
func everyStopFromAHandler(t *testing.T, rt *Runtime, period, wait time.Duration) {
	t.Helper()
	bg := context.Background()
	started, gate := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	tick := must(Define(rt, "tick", func(context.Context, int) (int, error) {
		if once.CompareAndSwap(false, true) {
			close(started)
			<-gate // past stop: the run is under way as it is called
		}
		return 1, nil
	}, WithBlocking()))
	logOp := must(Define(rt, "log", func(_ context.Context, x int) (int, error) { return x, nil }))
	eachCtx, unstick := context.WithCancel(bg) // lets a deadlocked each go
	defer unstick()
	var logged []error
	stop := must(tick.Every(bg, period, 0, func(_ int, err error) {
		_, werr := must(logOp.Submit(eachCtx, 1)).Wait(eachCtx)
		logged = append(logged, err, werr)
	}))
	<-started
	ctl := must(Define(rt, "ctl", func(context.Context, int) (int, error) {
		stop()
		return 0, nil
	}))
	tok := must(ctl.Submit(bg, 0))
	select {
	case <-tok.Done():
	case <-time.After(wait):
		unstick()
		close(gate)
		<-tok.Done()
		t.Fatal("stop from a handler deadlocks")
	}
	close(gate)
	require.Len(t, logged, 2)
	require.ErrorIs(t, logged[0], context.Canceled)
	require.NoError(t, logged[1], "each's token ran")
}

// TestEveryGoesOnAfterAHandlerReturnsErrStopped: a run whose handler
// returns ErrStopped (from another runtime it calls, say) while this
// runtime runs on is an error like any other: each gets it and the ticks
// go on. Found by review: the loop took any ErrStopped for its own
// runtime's Stop and ended for good, with stop never called.
func TestEveryGoesOnAfterAHandlerReturnsErrStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		other, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		require.NoError(t, other.Stop(context.Background()))
		runs := 0
		op := must(Define(rt, "tick", func(ctx context.Context, _ int) (int, error) {
			if runs++; runs == 1 {
				_, err := SubmitFunc(ctx, other, func(context.Context) (int, error) { return 0, nil })
				return 0, fmt.Errorf("backend: %w", err)
			}
			return 7, nil
		}))
		var got []error
		stop := must(op.Every(context.Background(), 10*time.Millisecond, 0, func(_ int, err error) { got = append(got, err) }))
		time.Sleep(35 * time.Millisecond)
		synctest.Wait()
		stop()
		require.Len(t, got, 3, "the ticks go on after a handler's ErrStopped")
		require.ErrorIs(t, got[0], ErrStopped)
		require.NoError(t, got[1])
		require.NoError(t, got[2])
	})
}
