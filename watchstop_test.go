package coregate

import (
	"context"
	"errors"
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
// done, and callbacks called, after Stop returned nil. A token waiting out
// a retry's backoff has such a watch too, on an executor and on the lane.
func TestStopWaitsForAWatchResolvingAToken(t *testing.T) {
	retrying := func(ctx context.Context, op *Op[int, int]) (*Token[int], error) {
		tok, err := op.Submit(ctx, -1) // fails once, then waits out its backoff
		synctest.Wait()
		return tok, err
	}
	cases := map[string]struct {
		opts    []Option
		expired bool // Stop's own context: a graceful Stop waits for a retry's backoff anyway
		submit  func(context.Context, *Op[int, int]) (*Token[int], error)
	}{
		"delayed": {submit: func(ctx context.Context, op *Op[int, int]) (*Token[int], error) {
			return op.SubmitAfter(ctx, time.Hour, 1)
		}},
		"held": {submit: func(ctx context.Context, op *Op[int, int]) (*Token[int], error) {
			op.Pause()
			return op.Submit(ctx, 1)
		}},
		"retrying":         {expired: true, submit: retrying},
		"retrying on lane": {opts: []Option{WithBlocking()}, expired: true, submit: retrying},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
				bg := context.Background()
				failed := make(chan error, 1)
				op := must(Define(rt, "op", func(_ context.Context, x int) (int, error) {
					if x < 0 {
						return 0, errors.New("failed")
					}
					return x, nil
				}, append(c.opts, WithRetry(1, time.Hour), WithOnFailure(func(_ int, err error) { failed <- err }))...))
				taken, release := make(chan struct{}), make(chan struct{})
				hookResolving = func(*actors.Task) {
					close(taken)
					<-release
				}
				defer func() { hookResolving = nil }()
				ctx, cancel := context.WithCancel(bg)
				tok := must(c.submit(ctx, op))
				cancel()
				<-taken // the watch decided the token's outcome, and has yet to record it

				stopped := make(chan error, 1)
				stopCtx := bg
				if c.expired {
					var cancel context.CancelFunc
					stopCtx, cancel = context.WithCancel(bg)
					cancel()
				}
				go func() { stopped <- rt.Stop(stopCtx) }()
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
				_, err := tok.Wait(bg)
				require.ErrorIs(t, err, context.Canceled)
				if err := <-stopped; c.expired {
					// Its context ended, Stop waits for no callback: it may
					// name the token's as running, and cut nothing else short.
					if err != nil {
						require.ErrorContains(t, err, "callbacks still running")
					}
					require.ErrorIs(t, <-failed, context.Canceled)
				} else {
					require.NoError(t, err)
					select {
					case err := <-failed:
						require.ErrorIs(t, err, context.Canceled)
					default:
						t.Fatal("Stop returned nil before the token's WithOnFailure callback ran")
					}
				}
				requireBalanced(t, rt)
			})
		})
	}
}
