package coregate

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/stretchr/testify/require"
)

// TestStopWaitsForAWatchResolvingAToken: a delayed or held token whose
// submitter's context ends is resolved by a watch on that context, on a
// goroutine of its own. When that goroutine had taken the token (its
// outcome decided) but not yet recorded it, Stop, whose own resolve of the
// token was refused, returned nil with the token still unresolved and its
// WithOnFailure callback still to come, although the context had ended
// before Stop was called. Found by review: a stress run saw tokens not
// done, and callbacks called, after Stop returned nil.
func TestStopWaitsForAWatchResolvingAToken(t *testing.T) {
	submits := map[string]func(context.Context, *Op[int, int]) (*Token[int], error){
		"delayed": func(ctx context.Context, op *Op[int, int]) (*Token[int], error) {
			return op.SubmitAfter(ctx, time.Hour, 1)
		},
		"held": func(ctx context.Context, op *Op[int, int]) (*Token[int], error) {
			op.Pause()
			return op.Submit(ctx, 1)
		},
	}
	for name, submit := range submits {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
				bg := context.Background()
				failed := make(chan error, 1)
				op := must(Define(rt, "op", func(_ context.Context, x int) (int, error) { return x, nil },
					WithOnFailure(func(_ int, err error) { failed <- err })))
				taken, release := make(chan struct{}), make(chan struct{})
				hookResolving = func(*actors.Task) {
					close(taken)
					<-release
				}
				defer func() { hookResolving = nil }()
				ctx, cancel := context.WithCancel(bg)
				tok := must(submit(ctx, op))
				cancel()
				<-taken // the watch decided the token's outcome, and has yet to record it

				stopped := make(chan error, 1)
				go func() { stopped <- rt.Stop(bg) }()
				synctest.Wait()
				select {
				case err := <-stopped:
					select {
					case <-tok.Done():
					default:
						t.Errorf("Stop returned %v with the token not resolved", err)
					}
				default:
				}
				close(release)
				if t.Failed() {
					return
				}
				require.NoError(t, <-stopped)
				_, err := tok.Wait(bg)
				require.ErrorIs(t, err, context.Canceled)
				select {
				case err := <-failed:
					require.ErrorIs(t, err, context.Canceled)
				default:
					t.Fatal("Stop returned nil before the token's WithOnFailure callback ran")
				}
				requireBalanced(t, rt)
			})
		})
	}
}
