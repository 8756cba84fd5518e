package coregate

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
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
	var started, stopped, made atomic.Int32
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	ref := must(Spawn(rt, "killed", func() Actor[int, int] {
		made.Add(1)
		return &lifecycle{started: &started, stopped: &stopped, entered: entered, gate: gate, goexit: goexit}
	}))
	bg := context.Background()
	first := must(ref.Ask(bg, 0))
	<-entered
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	require.ErrorContains(t, rt.Stop(ctx), `"actor:killed" x1`)
	close(gate)
	_, err = first.Wait(bg)
	if goexit {
		require.ErrorIs(t, err, ErrGoexit)
	} else {
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
	}
	<-ref.doneCh()
	require.Equal(t, int32(1), made.Load(), "the factory ran after the runtime stopped")
	require.Equal(t, int32(1), started.Load(), "Started ran after the runtime stopped")
	require.Equal(t, int32(1), stopped.Load())
	requireBalanced(t, rt)
}
