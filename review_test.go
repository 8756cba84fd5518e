package coregate

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// Regression tests for what a review of the hand-off, the graceful stop and
// the actors found.

// TestStallDuringGracefulStopWaits: a stall seen while Stop drains does not
// move the tokens queued behind it (the other executor may have drained and
// exited): they wait for the stall and run.
func TestStallDuringGracefulStopWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 50 * time.Millisecond})
		require.NoError(t, err)
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
			time.Sleep(400 * time.Millisecond)
			return 0, nil
		}))
		fast := must(Define(rt, "fast", where[int]))
		bg := context.Background()
		must(slow.Submit(bg, 0)) // executor 0
		var toks []*Token[int]
		for range 20 {
			toks = append(toks, must(fast.Submit(bg, 0)))
		}
		require.NoError(t, rt.Stop(bg))
		for _, tok := range toks {
			_, err := tok.Wait(bg)
			require.NoError(t, err)
		}
		requireBalanced(t, rt)
	})
}

// TestRetryAfterDrainResolves: a handler that handed its executor on, then
// fails while Stop drains its executor, is not queued on a mailbox nobody
// reads: the drain waits for it, its retries run, and it resolves with its
// last error.
func TestRetryAfterDrainResolves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, StallAfter: -1})
		require.NoError(t, err)
		child := must(Define(rt, "child", where[int]))
		parent := must(Define(rt, "parent", func(ctx context.Context, _ int) (int, error) {
			if tok, err := child.Submit(ctx, 0); err == nil { // refused once Stop began
				_, _ = tok.Wait(ctx) // hands the executor on
			}
			time.Sleep(100 * time.Millisecond) // meanwhile Stop drains it
			return 0, errFlaky
		}, WithRetry(3, 0)))
		bg := context.Background()
		tok := must(parent.Submit(bg, 0))
		time.Sleep(10 * time.Millisecond)
		require.NoError(t, rt.Stop(bg))
		_, err = tok.Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		requireBalanced(t, rt)
	})
}

// TestSpawnRacingStop: a Spawn whose factory runs while Stop completes
// returns ErrStopped, never a Ref whose Asks would hang.
func TestSpawnRacingStop(t *testing.T) {
	rt, err := Start(Config{Cores: 1, Affinity: Off})
	require.NoError(t, err)
	inFactory, release := make(chan struct{}), make(chan struct{})
	spawned := make(chan error, 1)
	go func() {
		_, err := Spawn(rt, "late", func() Actor[int, int] {
			close(inFactory)
			<-release
			return &counter{}
		})
		spawned <- err
	}()
	<-inFactory
	require.NoError(t, rt.Stop(context.Background()))
	close(release)
	require.ErrorIs(t, <-spawned, ErrStopped)
}

// panicsOnStop panics in Stopped.
type panicsOnStop struct{ counter }

func (*panicsOnStop) Stopped(*ActorContext) { panic("in Stopped") }

// TestPanicInStoppedStillStops: a panicking Stopped does not leave the actor
// half-stopped: Stop returns and the name can be spawned again.
func TestPanicInStoppedStillStops(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	ref := must(Spawn(rt, "p", func() Actor[int, int] { return &panicsOnStop{} }))
	require.NoError(t, ref.Stop(bg))
	must(Spawn(rt, "p", func() Actor[int, int] { return &counter{} }))
}

// startOneDownable starts, in a synctest bubble, a one-executor runtime
// whose executor goes down after two failures of its loop (a restart, then
// down) and is revived after a one-second cool-down; storing 2 in arms makes
// the loop fail twice.
func startOneDownable(t *testing.T) (*Runtime, *atomic.Int32) {
	arms := failLoops(t)
	rt, err := Start(Config{Cores: 1, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Second}})
	require.NoError(t, err)
	return rt, arms
}

// failLoops makes the executors' loops fail while the count it returns is
// above zero, one failure per count.
func failLoops(t *testing.T) *atomic.Int32 { return failLoopsOf(t, -1) }

// failLoopsOf is failLoops for executor exec alone (-1: any).
func failLoopsOf(t *testing.T, exec int) *atomic.Int32 {
	arms := new(atomic.Int32)
	t.Cleanup(faults.SetLoop(func(e int) error {
		if (exec < 0 || e == exec) && arms.Load() > 0 && arms.Add(-1) >= 0 {
			return errLoop
		}
		return nil
	}))
	return arms
}

// actorBehindBlocker spawns an actor "acct" (a counter) on rt's one
// executor, lets it start and go idle, then holds the executor with a
// token blocked until gate is closed: what is sent to the actor now waits
// behind that token. Inside a synctest bubble.
func actorBehindBlocker(t *testing.T, rt *Runtime) (*Ref[int, int], chan struct{}) {
	t.Helper()
	gate := make(chan struct{})
	block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
	ref := must(Spawn(rt, "acct", func() Actor[int, int] { return &counter{} }))
	bg := context.Background()
	must(must(ref.Ask(bg, 0)).Wait(bg)) // started and idle
	must(block.Submit(bg, 0))
	synctest.Wait()
	return ref, gate
}

// TestActorSurvivesNoExecutor: the only executor goes down while an actor is
// queued on it. The actor's turn cannot be placed anywhere; a Tell meanwhile
// fails and is not delivered later; after the cool-down the actor runs again
// with its queued message.
func TestActorSurvivesNoExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		ref, gate := actorBehindBlocker(t, rt)
		bg := context.Background()
		require.NoError(t, ref.Tell(bg, 1)) // the actor is queued behind the blocker
		arms.Store(2)                       // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		require.ErrorIs(t, ref.Tell(bg, 100), ErrNoExecutor, "no executor is up")
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, 3, must(must(ref.Ask(bg, 2)).Wait(bg)), "the queued 1, not the refused 100, then 2")
		require.NoError(t, rt.Stop(bg))
	})
}

// TestStrandedAskResolvesOnRevival: an Ask queued to an actor whose only
// executor goes down (no executor live to move it to) is kept, as the
// actor's mailbox is; once the executor is back after its cool-down, the
// actor is placed again and the Ask answered, without another message
// coming to place it. The actor was left idle with its envelopes, and only
// a sender placed such a cell again: the Ask waited for good.
func TestStrandedAskResolvesOnRevival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		ref, gate := actorBehindBlocker(t, rt)
		tok := must(ref.Ask(bg, 1)) // the actor is queued behind the blocker
		arms.Store(2)               // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		require.False(t, isDone(tok), "no executor is up to answer it")
		time.Sleep(time.Second) // the cool-down
		synctest.Wait()
		require.False(t, rt.Executors()[0].Down)
		require.True(t, isDone(tok), "the executor is back, and the Ask still waits")
		require.Equal(t, 1, must(tok.Wait(bg)))
	})
}

func isDone[R any](tok *Token[R]) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

// stopsRuntime stops its runtime in Stopped, as a program's main actor
// might, and hands Stop's result on.
type stopsRuntime struct {
	counter
	rt  *Runtime
	ctx context.Context
	err chan error
}

func (s *stopsRuntime) Stopped(*ActorContext) { s.err <- s.rt.Stop(s.ctx) }

// TestStoppedCallingStopDoesNotWaitForItself: an actor whose Stopped
// calls the runtime's Stop, stopped by a Stop cut short (so its Stopped
// runs off the executors, on a goroutine of Stop's), gets
// ErrStopFromHandler, as it does when Stopped runs in a turn. It waited
// for the first Stop to return, and that Stop waited for Stopped: the
// runtime's Stop hung as long as the inner Stop's context lived (for good
// with context.Background()).
func TestStoppedCallingStopDoesNotWaitForItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, StallAfter: -1})
		require.NoError(t, err)
		bg := context.Background()
		inner, release := context.WithCancel(bg) // lets a hung Stop go, for the test to end
		defer release()
		inStopped := make(chan error, 1)
		ref := must(Spawn(rt, "main", func() Actor[int, int] { return &stopsRuntime{rt: rt, ctx: inner, err: inStopped} }))
		must(must(ref.Ask(bg, 0)).Wait(bg)) // started: Stopped runs when it stops
		started := make(chan struct{})
		must(SubmitFunc(bg, rt, func(ctx context.Context) (int, error) { close(started); <-ctx.Done(); return 0, nil }))
		<-started // the actor's stop is queued behind it, and cut short
		cut, cancel := context.WithCancel(bg)
		cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- rt.Stop(cut) }()
		synctest.Wait()
		select {
		case err := <-stopped:
			var se *supervisor.StopError // the running handler was cancelled: cut short
			require.ErrorAs(t, err, &se)
			require.Equal(t, 1, se.Cancelled, "%v", err)
		default:
			release()
			<-stopped
			t.Fatal("Stop waits for the actor's Stopped, which waits for Stop")
		}
		require.ErrorIs(t, <-inStopped, ErrStopFromHandler)
	})
}

// TestStopCountsStrandedActorMessages: Asks and Tells queued to an actor
// whose only executor went down (kept, stranded, until a revival) are
// refused with ErrActorStopped by the runtime's Stop, and Stop must say
// so, as it does for messages an aborted drain never reached. Found by
// review: Stop's first pass found the stranded actor's stop envelope
// refused (no executor) and killed it on the spot, and the messages that
// kill refused were counted nowhere: Stop returned nil.
func TestStopCountsStrandedActorMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		ref, gate := actorBehindBlocker(t, rt)
		bg := context.Background()
		tok := must(ref.Ask(bg, 1)) // the actor is queued behind the blocker
		require.NoError(t, ref.Tell(bg, 2))
		arms.Store(2) // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		err := rt.Stop(bg)
		_, aerr := tok.Wait(bg)
		require.ErrorIs(t, aerr, ErrActorStopped)
		var se *supervisor.StopError
		require.ErrorAs(t, err, &se, "Stop returned %v with the actor's messages refused", err)
		require.Equal(t, 2, se.Refused)
		requireBalanced(t, rt)
	})
}

// TestExecutorWithNoRestartsGoesDownAtItsFirstFailure: Config.Restart
// MaxRestarts NoRestarts takes an executor down at its first failure, with
// no restart first, and it is tried again after its cool-down.
func TestExecutorWithNoRestartsGoesDownAtItsFirstFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoops(t)
		rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: NoRestarts, Cooldown: time.Second}}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		events, unsubscribe := testkit.Subscribe(rt.Engine(), func(e any) bool {
			switch e.(type) {
			case supervisor.ExecutorRestarted, supervisor.ExecutorDown:
				return true
			}
			return false
		})
		defer unsubscribe()
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
		must(block.Submit(bg, 0))
		synctest.Wait()
		arms.Store(1) // the loop fails once
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down, "down at the first failure")
		require.IsType(t, supervisor.ExecutorDown{}, <-events, "with no restart first")
		time.Sleep(time.Second) // the cool-down
		synctest.Wait()
		require.False(t, rt.Executors()[0].Down)
		must(must(block.Submit(bg, 1)).Wait(bg))
	})
}
