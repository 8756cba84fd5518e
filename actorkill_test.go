package coregate

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// lifecycle counts an actor's Started and Stopped calls; its Receive
// blocks on gate, then panics or calls runtime.Goexit.
type lifecycle struct {
	started, stopped *atomic.Int32
	entered          chan struct{}
	gate             chan struct{}
	goexit           bool
}

func (l *lifecycle) Started(*ActorContext) error { l.started.Add(1); return nil }
func (l *lifecycle) Stopped(*ActorContext)       { l.stopped.Add(1) }
func (l *lifecycle) Receive(_ *ActorContext, k int) (int, error) {
	l.entered <- struct{}{}
	<-l.gate
	if l.goexit {
		runtime.Goexit()
	}
	panic("after the runtime stopped")
}

// TestKilledActorIsNotRestarted: a runtime Stop that gives up on a blocked
// Receive kills the actor; when that Receive then panics, the actor stops
// (Stopped once) rather than restarting from its factory and running
// Started again after Stop returned. Found by review.
func TestKilledActorIsNotRestarted(t *testing.T) {
	t.Run("panic", func(t *testing.T) { testKilledActorIsNotRestarted(t, false) })
	t.Run("goexit", func(t *testing.T) { testKilledActorIsNotRestarted(t, true) })
}

func testKilledActorIsNotRestarted(t *testing.T, goexit bool) {
	rt, err := Start(Config{Cores: 1, Affinity: Off})
	require.NoError(t, err)
	life, ref := spawnLifecycle(rt, "killed", goexit)
	bg := context.Background()
	first := must(ref.Ask(bg, 0))
	<-life.entered
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	require.ErrorContains(t, rt.Stop(ctx), `"actor:killed" x1`)
	close(life.gate)
	_, err = first.Wait(bg)
	if goexit {
		require.ErrorIs(t, err, ErrGoexit)
	} else {
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
	}
	life.requireRanOnce(t, rt, ref)
}

// lifeCounts counts a lifecycle actor's factory, Started and Stopped runs.
type lifeCounts struct {
	made, started, stopped atomic.Int32
	entered, gate          chan struct{}
}

// spawnLifecycle spawns on rt a lifecycle actor named name: its Receive
// enters, waits for gate, then panics (or calls runtime.Goexit).
func spawnLifecycle(rt *Runtime, name string, goexit bool) (*lifeCounts, *Ref[int, int]) {
	c := &lifeCounts{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	ref := must(Spawn(rt, name, func() Actor[int, int] {
		c.made.Add(1)
		return &lifecycle{started: &c.started, stopped: &c.stopped, entered: c.entered, gate: c.gate, goexit: goexit}
	}))
	return c, ref
}

// requireRanOnce: once ref stopped, its factory, Started and Stopped ran
// once each (its Receive failing after the kill restarted nothing), and
// rt's counts balance.
func (c *lifeCounts) requireRanOnce(t *testing.T, rt *Runtime, ref *Ref[int, int]) {
	<-ref.doneCh()
	require.Equal(t, int32(1), c.made.Load(), "the factory ran again: the killed actor was restarted")
	require.Equal(t, int32(1), c.started.Load(), "Started ran again on the killed actor")
	require.Equal(t, int32(1), c.stopped.Load())
	requireBalanced(t, rt)
}

// staleIdle is an actor whose message 1 ends the turn whose Idle the test
// holds, after waiting on an Ask to peer when it has one (the turn hands
// its executor on and ends beside the helper), and whose message 0 waits
// for gate; Stopped records whether a Receive was running.
type staleIdle struct {
	peer      *Ref[int, int]
	arm       *atomic.Bool
	receiving atomic.Int32
	overlap   atomic.Bool
	entered   chan struct{}
	gate      chan struct{}
	stopped   chan struct{}
}

func (s *staleIdle) Receive(c *ActorContext, k int) (int, error) {
	s.receiving.Add(1)
	defer s.receiving.Add(-1)
	switch k {
	case 1:
		if s.peer != nil {
			tok, err := s.peer.Ask(c, 0)
			if err != nil {
				return 0, err
			}
			if _, err := tok.Wait(c); err != nil {
				return 0, err
			}
		}
		s.arm.Store(true) // the Idle of this turn's end is the one held
	case 0:
		s.entered <- struct{}{}
		<-s.gate
	}
	return k, nil
}

func (s *staleIdle) Stopped(*ActorContext) {
	if s.receiving.Load() > 0 {
		s.overlap.Store(true)
	}
	close(s.stopped)
}

// TestKillAfterAStaleIdle: a turn that ended idle calls its cell's Idle
// after letting go of the cell's lock, and by then the actor's next turn
// may run on another goroutine: the helper its executor was handed to
// (the turn's Receive waited, and it ended beside the helper), or another
// executor's owner, whose actor's turn, ending, brought the floating actor
// along (Follow). A kill during that next turn leaves Stopped to its end;
// the late Idle of the turn before must not take the kill for its own and
// run Stopped beside the running Receive. Found by review.
func TestKillAfterAStaleIdle(t *testing.T) {
	t.Run("hand-off", func(t *testing.T) { testKillAfterAStaleIdle(t, false) })
	t.Run("follow", func(t *testing.T) { testKillAfterAStaleIdle(t, true) })
}

func testKillAfterAStaleIdle(t *testing.T, follow bool) {
	cores := 1
	if follow {
		cores = 2
	}
	rt := start(t, Config{Cores: cores, Affinity: Off})
	bg := context.Background()
	var arm atomic.Bool
	s := &staleIdle{arm: &arm, entered: make(chan struct{}), gate: make(chan struct{}), stopped: make(chan struct{})}
	var ref *Ref[int, int]
	var from *Ref[*Ref[int, int], int]
	if follow {
		// Placed by weight: the actor on executor 0, the one that sends it
		// its next message on 1.
		ref = must(Spawn(rt, "stale", func() Actor[int, int] { return s }))
		from = must(Spawn(rt, "from", func() Actor[*Ref[int, int], int] { return relay{} }))
		require.Equal(t, 0, ref.Executor())
		require.Equal(t, 1, from.Executor())
		waitIdle(from)
	} else {
		s.peer = must(Spawn(rt, "peer", func() Actor[int, int] { return &counter{} }, OnExecutor(0)))
		ref = must(Spawn(rt, "stale", func() Actor[int, int] { return s }, OnExecutor(0)))
	}

	held, resume, passed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	hook := func(r *Runtime, name string, idle func()) {
		if r != rt || name != "stale" || !arm.CompareAndSwap(true, false) {
			idle()
			return
		}
		close(held)
		<-resume
		idle()
		close(passed)
	}
	testIdle.Store(&hook)
	t.Cleanup(func() { testIdle.Store(nil) })

	require.NoError(t, ref.Tell(bg, 1))
	<-held // the turn of message 1 ended idle, its Idle not called yet
	if follow {
		require.NoError(t, from.Tell(bg, ref))
	} else {
		require.NoError(t, ref.Tell(bg, 0))
	}
	<-s.entered // the next turn runs, on another goroutine
	if follow {
		require.Equal(t, 1, ref.Executor(), "the actor followed the hand-off")
	}
	require.False(t, ref.kill(ErrStopped), "a turn runs: the kill is left to its end")
	close(resume)
	<-passed
	select {
	case <-s.stopped:
		t.Error("the late Idle of the turn before ran Stopped")
	default:
	}
	close(s.gate)
	<-ref.doneCh()
	<-s.stopped
	require.False(t, s.overlap.Load(), "Stopped ran while a Receive of the actor ran")
}

// TestStrandedKillDuringAReceiveIsNotRestarted: a runtime's Stop finds an
// actor stranded on its only executor, down, and kills it; the executor
// comes back from its cool-down in between and the actor's Receive begins
// before the kill, which leaves the actor's stop to that turn's end. When
// that Receive then panics the actor stops (Stopped once) rather than
// restarting from its factory and running Started again: the kill, not an
// abort of the runtime's Stop (which drains here), is what says so.
func TestStrandedKillDuringAReceiveIsNotRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		life, ref := spawnLifecycle(rt, "stranded", false)
		bg := context.Background()
		synctest.Wait() // started and idle
		block := make(chan struct{})
		must(must(Define(rt, "block", func(context.Context, int) (int, error) { <-block; return 0, nil })).Submit(bg, 0))
		synctest.Wait()
		tok := must(ref.Ask(bg, 1)) // the actor is queued behind the blocker
		arms.Store(2)               // the loop fails twice: restart, then down
		close(block)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		hook := func(hrt *Runtime, name string, kill func()) {
			if hrt == rt && name == "stranded" {
				<-life.entered // the cool-down ended: the executor is back, the Receive runs
				defer close(life.gate)
			}
			kill()
		}
		testStrandedKill.Store(&hook)
		defer testStrandedKill.Store(nil)
		require.NoError(t, rt.Stop(bg), "the drain, not an abort")
		var pe *PanicError
		_, err := tok.Wait(bg)
		require.ErrorAs(t, err, &pe)
		life.requireRanOnce(t, rt, ref)
	})
}
