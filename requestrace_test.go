package coregate

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// waitingCtx is a context whose Done closes waiting when first called:
// Request calls it only once it waits for its answer.
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// sendingHook sets testRequestSending to call f before Request sends (or
// after, when after is set) for the test.
func sendingHook(t *testing.T, after bool, f func()) {
	testRequestSending = func(sent bool) {
		if sent == after {
			f()
		}
	}
	t.Cleanup(func() { testRequestSending = nil })
}

// TestRequestToAProcessGoneAsItIsSent: Request looks that its PID names a
// process before it sends; a process that leaves the registry in between
// (an actor stopping, a runtime's ops process as the runtime stops) made
// the message a dead letter, which no one answers, and Request waited out
// its whole context (for good with context.Background()) where a PID that
// names no process is an error at once. Request now looks again once it
// sent. A process that took the message answers it, also once it is gone,
// and says so as it takes it: a new actor of the name that took it is
// waited for, not taken for a dead letter, and so is an op's answer that
// comes after its runtime stopped.
func TestRequestToAProcessGoneAsItIsSent(t *testing.T) {
	t.Run("actor", func(t *testing.T) {
		rt := start(t, Config{Cores: 1})
		ref := must(Spawn(rt, "gone", func() Actor[int, int] { return &counter{} }))
		sendingHook(t, false, func() { require.NoError(t, ref.Stop(context.Background())) })
		ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
		defer cancel()
		_, err := Request[int](ctx, rt.Engine(), ref.PID(), 1)
		require.False(t, errors.Is(err, context.DeadlineExceeded), "waited out its context: %v", err)
		require.ErrorContains(t, err, "no process")
	})
	t.Run("runtime", func(t *testing.T) {
		rt := start(t, Config{Cores: 1})
		sendingHook(t, false, func() { require.NoError(t, rt.Stop(context.Background())) })
		ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
		defer cancel()
		_, err := Request[int](ctx, rt.Engine(), rt.OpsPID(), Call{Op: "none"})
		require.False(t, errors.Is(err, context.DeadlineExceeded), "waited out its context: %v", err)
		require.ErrorContains(t, err, "no process")
	})
	t.Run("respawned", func(t *testing.T) {
		rt := start(t, Config{Cores: 1})
		ref := must(Spawn(rt, "again", func() Actor[int, int] { return &counter{} }))
		ctx := &waitingCtx{Context: context.Background(), waiting: make(chan struct{})}
		t.Cleanup(func() { ctx.Done() }) // lets the new actor's Receive go, should Request fail
		sendingHook(t, false, func() {
			require.NoError(t, ref.Stop(context.Background()))
			// The new actor answers only once Request waits: it must not
			// take the process it sent to, gone, for a dead letter.
			must(Spawn(rt, "again", func() Actor[int, int] {
				return funcActor(func(_ *ActorContext, v int) (int, error) {
					<-ctx.waiting
					return 100 + v, nil
				})
			}))
		})
		v, err := Request[int](ctx, rt.Engine(), ref.PID(), 1)
		require.NoError(t, err)
		require.Equal(t, 101, v)
	})
	t.Run("op answered after its runtime stopped", func(t *testing.T) {
		rt := start(t, Config{Cores: 1})
		ctx := &waitingCtx{Context: context.Background(), waiting: make(chan struct{})}
		t.Cleanup(func() { ctx.Done() })
		running := make(chan struct{})
		must(Define(rt, "late", func(context.Context, int) (int, error) {
			close(running)
			<-ctx.waiting // past the runtime's Stop, which gives up on it
			return 7, nil
		}))
		sendingHook(t, true, func() {
			awaitClosed(t, running, "the call's handler did not start")
			ended, cancel := context.WithCancel(context.Background())
			cancel()
			require.Error(t, rt.Stop(ended)) // the handler still runs: its ops process is gone
		})
		_, err := Request[int](ctx, rt.Engine(), rt.OpsPID(), Call{Op: "late", Arg: 1})
		if err != nil {
			require.NotContains(t, err.Error(), "no process", "a call its runtime took was taken for a dead letter")
		}
	})
}
