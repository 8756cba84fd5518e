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

// TestStopWaitsForACallTimeoutResolvingItsToken: a call's Timeout that
// passes while its token is queued resolves the token on the goroutine
// that answers the call, as the watches above do: once that goroutine took
// the token, a Stop that drained past it must wait for its outcome, and
// for the WithOnFailure callback it starts, before it returns nil.
func TestStopWaitsForACallTimeoutResolvingItsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		answered := make(chan error, 1)
		stopPastATakenToken(t, "the call's token", context.DeadlineExceeded, func(square *Op[int, int]) {
			go func() {
				_, err := Request[int](context.Background(), square.rt.Engine(), square.rt.OpsPID(), Call{Op: "square", Arg: 3, Timeout: time.Second})
				answered <- err
			}()
		}, func() { require.ErrorIs(t, <-answered, context.DeadlineExceeded) })
	})
}

// stopPastATakenToken is the case of a resolver other than Stop that takes
// a queued token and records its outcome later (a Cancel, a call's
// Timeout), in a synctest bubble: on a one-core runtime whose executor
// runs a token that ignores its context, take makes the resolver take a
// token of square (an op with a WithOnFailure callback) queued behind it,
// held there by hookResolving. Stop then drains past the token, and must
// not return before its outcome is recorded and the callback got want.
// what names the token in failures; after, when not nil, runs once the
// resolver went on.
func stopPastATakenToken(t *testing.T, what string, want error, take func(square *Op[int, int]), after func()) {
	rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
	bg := context.Background()
	free, running := make(chan struct{}), make(chan struct{})
	hold := must(Define(rt, "hold", func(context.Context, int) (int, error) {
		close(running)
		<-free // ignores its context: the token behind it stays queued
		return 0, nil
	}))
	failed := make(chan error, 1)
	square := must(Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil },
		WithOnFailure(func(_ int, err error) { failed <- err })))
	held := must(hold.Submit(bg, 0))
	<-running
	taken, release := make(chan *actors.Task, 1), make(chan struct{})
	hookResolving = func(t *actors.Task) {
		taken <- t
		<-release
	}
	defer func() { hookResolving = nil }()
	take(square)
	tok := <-taken // its outcome is decided, not yet recorded

	stopped := make(chan error, 1)
	go func() { stopped <- rt.Stop(bg) }()
	close(free) // the drain runs past the taken token
	synctest.Wait()
	select {
	case err := <-stopped:
		select {
		case <-tok.Finished():
		default:
			t.Errorf("Stop returned %v with %s not resolved", err, what)
		}
	default:
	}
	close(release)
	if t.Failed() {
		return
	}
	if after != nil {
		after()
	}
	require.NoError(t, <-stopped)
	select {
	case err := <-failed:
		require.ErrorIs(t, err, want)
	default:
		t.Fatalf("Stop returned nil before the WithOnFailure callback of %s ran", what)
	}
	must(held.Wait(bg))
	requireBalanced(t, rt)
}
