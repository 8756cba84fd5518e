package coregate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// stuckFirst's Receive blocks on gate for message 0, ignoring its context.
type stuckFirst struct{ entered, gate chan struct{} }

func (s *stuckFirst) Receive(_ *ActorContext, k int) (int, error) {
	if k == 0 {
		s.entered <- struct{}{}
		<-s.gate
	}
	return k, nil
}

// TestStuckTurnKeepsItsWholeBatch: a turn takes everything queued when it
// begins as its batch, so behind a Receive that outlives Stop's context
// the batch may hold far more than Throughput messages. None of them is
// refused before Stop returns (only the stuck turn's goroutine touches
// them); each Ask resolves with ErrActorStopped once that Receive returns.
// The README once said the batch held at most 64.
func TestStuckTurnKeepsItsWholeBatch(t *testing.T) {
	rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1})
	require.NoError(t, err)
	bg := context.Background()
	// Hold the one executor so that every Ask is queued before the turn.
	hold, held := make(chan struct{}), make(chan struct{})
	op := must(Define(rt, "hold", func(context.Context, int) (int, error) { close(held); <-hold; return 0, nil }))
	tok := must(op.Submit(bg, 0))
	<-held
	s := &stuckFirst{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	ref := must(Spawn(rt, "stuck", func() Actor[int, int] { return s }))
	const n = 3 * actors.Throughput
	asks := make([]*Token[int], n)
	for i := range asks {
		asks[i] = must(ref.Ask(bg, i))
	}
	close(hold)
	must(tok.Wait(bg))
	<-s.entered
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	require.ErrorContains(t, rt.Stop(ctx), `"actor:stuck" x1`)
	for i, a := range asks[1:] {
		select {
		case <-a.Done():
			t.Fatalf("Ask %d of the stuck turn's batch resolved before its Receive returned", i+1)
		default:
		}
	}
	close(s.gate)
	for _, a := range asks[1:] {
		_, err := a.Wait(bg)
		require.ErrorIs(t, err, ErrActorStopped)
	}
}

// alwaysPanics panics on every message.
type alwaysPanics struct{}

func (alwaysPanics) Receive(*ActorContext, int) (int, error) { panic("again") }

// TestActorDefaultRestartPolicyIsThePackages: an actor without
// WithRestartPolicy restarts supervisor.DefaultMaxRestarts times within the
// window and stops at the next failure, whatever Config.Restart says (that
// policy is the executors').
func TestActorDefaultRestartPolicyIsThePackages(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, Restart: RestartPolicy{MaxRestarts: 1}})
	var made atomic.Int32
	ref := must(Spawn(rt, "crashy", func() Actor[int, int] { made.Add(1); return alwaysPanics{} }))
	bg := context.Background()
	panicked := 0
	for i := range supervisor.DefaultMaxRestarts + 3 {
		tok, err := ref.Ask(bg, i)
		if err == nil {
			_, err = tok.Wait(bg)
		}
		var pe *PanicError
		switch {
		case errors.As(err, &pe):
			panicked++
		case errors.Is(err, ErrActorStopped):
		default:
			t.Fatalf("Ask %d: %v", i, err)
		}
	}
	require.Equal(t, supervisor.DefaultMaxRestarts+1, panicked, "ten restarts, the eleventh failure stops it")
	require.Equal(t, int32(supervisor.DefaultMaxRestarts+1), made.Load())
	require.ErrorIs(t, ref.Tell(bg, 0), ErrActorStopped)
}
