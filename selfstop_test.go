package coregate

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// stopsItself calls its own Ref's Stop with a context that is not its own
// (one a newcomer has at hand: a server's, a test's) from Started, from
// Receive of 1, or from Stopped, and reports what Stop returned.
type stopsItself struct {
	self    *atomic.Pointer[Ref[int, int]]
	ctx     context.Context
	where   string
	stopped chan error
	ready   <-chan struct{} // closed once self is stored
	gate    <-chan struct{} // Receive of 2 waits for it, ignoring its context
}

func (s *stopsItself) Started(*ActorContext) error {
	<-s.ready
	if s.where == "Started" {
		s.stopped <- s.self.Load().Stop(s.ctx)
	}
	return nil
}

func (s *stopsItself) Receive(_ *ActorContext, n int) (int, error) {
	if s.where == "Receive" && n == 1 {
		s.stopped <- s.self.Load().Stop(s.ctx)
	}
	if n == 2 {
		<-s.gate
	}
	return n, nil
}

func (s *stopsItself) Stopped(*ActorContext) {
	if s.where == "Stopped" {
		s.stopped <- s.self.Load().Stop(s.ctx)
	}
}

// TestStopItselfWithAnotherContext: an actor that stops itself from its own
// turn (Started, Receive, Stopped) with a context other than its own gets
// what it gets with its own: Stop returns at once, and the actor stops
// after the turn. Found by the new-user review: Stop waited for the turn it
// was called from, so it returned only when that context ended, and never
// with context.Background(), holding the executor's goroutine (and, pinned,
// its thread) past the runtime's Stop, and a runtime's Stop that stopped the
// actor waited for it in turn. The bounded context here stands for
// Background: before the fix each Stop returned its deadline's error.
func TestStopItselfWithAnotherContext(t *testing.T) {
	for _, where := range []string{"Started", "Receive", "Stopped", "Stopped by the runtime's Stop"} {
		t.Run(where, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			bg := context.Background()
			ctx, cancel := context.WithTimeout(bg, pidsTimeout)
			defer cancel()
			var self atomic.Pointer[Ref[int, int]]
			stopped := make(chan error, 1)
			ready := make(chan struct{})
			self.Store(must(Spawn(rt, "quitter", func() Actor[int, int] {
				return &stopsItself{self: &self, ctx: ctx, where: strings.TrimSuffix(where, " by the runtime's Stop"), stopped: stopped, ready: ready}
			})))
			close(ready)
			ref := self.Load()
			switch where {
			case "Receive":
				require.NoError(t, ref.Tell(bg, 1))
			case "Stopped":
				require.NoError(t, ref.Stop(ctx))
			default:
				require.NoError(t, rt.Stop(ctx), "the runtime's Stop, which runs Stopped")
				require.NoError(t, <-stopped, "Stop of itself from Stopped, in the runtime's Stop")
				return
			}
			require.NoError(t, <-stopped, "Stop of itself from %s", where)
			require.NoError(t, ref.Stop(ctx), "the actor stops after the turn")
			_, err := ref.Ask(bg, 2)
			require.ErrorIs(t, err, ErrActorStopped)
		})
	}
}

// TestStopItselfFromAStoppedOffTheExecutors: an actor stranded on a down
// executor is stopped where its Stop is called (kill), its Stopped on a
// goroutine of its own, and a Stop of itself from that Stopped, with a
// context not its own, returns at once, as from a turn. It waited for the
// very Stopped it was called from: for ever, and with it the Stop that
// stopped the actor, whatever that Stop's context.
func TestStopItselfFromAStoppedOffTheExecutors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoops(t)
		rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}}))
		bg := context.Background()
		// Its Stop's context stands for Background: cancelled only at the
		// end, for a Stop that still waits to return.
		never, release := context.WithCancel(bg)
		var self atomic.Pointer[Ref[int, int]]
		stopped := make(chan error, 1)
		ready := make(chan struct{})
		self.Store(must(Spawn(rt, "quitter", func() Actor[int, int] {
			return &stopsItself{self: &self, ctx: never, where: "Stopped", stopped: stopped, ready: ready}
		})))
		close(ready)
		ref := self.Load()
		must(must(ref.Ask(bg, 1)).Wait(bg)) // started: its Stopped will run
		noop := must(Define(rt, "noop", func(context.Context, int) (int, error) { return 0, nil }))
		arms.Store(2) // the loop fails twice: restart, then down
		_, _ = noop.Submit(bg, 0)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)

		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		ended := make(chan error, 1)
		go func() { ended <- ref.Stop(ctx) }()
		synctest.Wait()
		requireStoppedItself(t, stopped, release, "run off the executors")
		require.NoError(t, <-ended)
		release()
		require.NoError(t, rt.Stop(bg))
	})
}

// TestStopItselfFromAStoppedAfterAStuckReceive: an actor whose Receive
// ran on past a runtime's Stop is stopped as that Receive returns, its
// Stopped on the executor's goroutine once the turn ended, and a Stop of
// itself from that Stopped, with a context not its own, returns at once.
func TestStopItselfFromAStoppedAfterAStuckReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1}))
		bg := context.Background()
		never, release := context.WithCancel(bg)
		defer release()
		var self atomic.Pointer[Ref[int, int]]
		stopped := make(chan error, 1)
		ready := make(chan struct{})
		gate := make(chan struct{})
		self.Store(must(Spawn(rt, "quitter", func() Actor[int, int] {
			return &stopsItself{self: &self, ctx: never, where: "Stopped", stopped: stopped, ready: ready, gate: gate}
		})))
		close(ready)
		ref := self.Load()
		require.NoError(t, ref.Tell(bg, 2)) // held at the gate, past the Stop
		synctest.Wait()
		ended, cancel := context.WithCancel(bg)
		cancel()
		require.Error(t, rt.Stop(ended), "a Receive runs on")
		close(gate)
		synctest.Wait()
		requireStoppedItself(t, stopped, release, "after a stuck Receive")
	})
}

// requireStoppedItself checks that the Stop of itself an actor's Stopped
// made (reported on stopped) returned at once, with nil; release ends the
// context it waits with, so that a failing Stop returns too.
func requireStoppedItself(t *testing.T, stopped chan error, release func(), where string) {
	t.Helper()
	select {
	case err := <-stopped:
		require.NoError(t, err, "Stop of itself from its Stopped")
	default:
		release()
		t.Errorf("Stop of itself from a Stopped %s waits: then %v", where, <-stopped)
	}
}
