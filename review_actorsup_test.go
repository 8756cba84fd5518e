package coregate

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// cancelledThen is an actor whose Receive waits for its context to end (a
// runtime's Stop giving up draining), then returns or calls runtime.Goexit.
type cancelledThen struct {
	in   chan struct{}
	exit bool
}

func (a *cancelledThen) Receive(c *ActorContext, _ int) (int, error) {
	close(a.in)
	<-c.Done()
	if a.exit {
		runtime.Goexit()
	}
	return 0, c.Err()
}

// TestStopCountsACancelledGoexit: a handler or a Receive running when Stop
// gives up draining, whose context Stop cancels, is cut short however it
// ends: returning its context's error, or calling runtime.Goexit. Stop's
// error counts it in Cancelled; a nil would say that Stop cancelled nothing.
// Before the fix a Goexit unwound past the count (the executor's after
// invoke, the actor's after receive) and Stop returned nil.
func TestStopCountsACancelledGoexit(t *testing.T) {
	for _, kind := range []string{"op", "actor"} {
		for _, exit := range []bool{false, true} {
			name := kind + " returns"
			if exit {
				name = kind + " exits"
			}
			t.Run(name, func(t *testing.T) {
				rt, err := Start(Config{Cores: 1, Affinity: Off})
				require.NoError(t, err)
				bg := context.Background()
				in := make(chan struct{})
				var tok *Token[int]
				if kind == "op" {
					op := must(Define(rt, "cut", func(ctx context.Context, _ int) (int, error) {
						close(in)
						<-ctx.Done()
						if exit {
							runtime.Goexit()
						}
						return 0, ctx.Err()
					}))
					tok = must(op.Submit(bg, 0))
				} else {
					ref := must(Spawn(rt, "cut", func() Actor[int, int] { return &cancelledThen{in: in, exit: exit} }))
					tok = must(ref.Ask(bg, 0))
				}
				<-in
				ctx, cancel := context.WithCancel(bg)
				cancel() // Stop gives up draining at once, with the handler running
				err = rt.Stop(ctx)
				var se *supervisor.StopError
				require.True(t, errors.As(err, &se), "Stop cut a running handler short: %v", err)
				require.ErrorIs(t, err, context.Canceled)
				require.Equal(t, 1, se.Cancelled, "%v", err)
				_, err = tok.Wait(bg)
				require.Error(t, err)
				requireBalanced(t, rt)
			})
		}
	}
}
