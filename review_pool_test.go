package coregate

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// stopSeen is what a Stop saw as it returned: its error, whether tok was
// resolved, and the counts.
type stopSeen struct {
	err      error
	resolved bool
	counts   Counts
}

// stopBeside starts rt.Stop on a goroutine of its own and lets it run as far
// as it goes (synctest.Wait) while the caller holds up whatever it is in
// the middle of; the channel gets what Stop saw as it returned.
func stopBeside(rt *Runtime, tok *Token[int]) <-chan stopSeen {
	seen := make(chan stopSeen, 1)
	go func() {
		err := rt.Stop(context.Background())
		s := stopSeen{err: err, counts: rt.Stats().Total}
		select {
		case <-tok.Done():
			s.resolved = true
		default:
		}
		seen <- s
	}()
	synctest.Wait()
	return seen
}

// requireStopResolved requires that the Stop s saw returned nil with its
// token (what) resolved and the counts balanced.
func requireStopResolved(t *testing.T, s stopSeen, what string) {
	t.Helper()
	require.NoError(t, s.err)
	require.True(t, s.resolved, "Stop returned with %s unresolved", what)
	require.True(t, balanced(s.counts), "counts after Stop: %+v", s.counts)
}

// TestCancelQueuedOfHeldRacingStop: CancelQueued takes a paused op's held
// tokens under the pause's lock and resolves them after. A Stop in between
// found nothing held (pauses.stop) and nothing queued (the drain), and
// returned with them unresolved: Stats after Stop counted them accepted and
// in no outcome.
func TestCancelQueuedOfHeldRacingStop(t *testing.T) {
	for name, opts := range map[string][]Option{"executors": nil, "blocking lane": {WithBlocking()}} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1}))
				bg := context.Background()
				op := must(Define(rt, "op", func(context.Context, int) (int, error) { return 1, nil }, opts...))
				op.Pause()
				tok := must(op.Submit(bg, 0))
				var seen <-chan stopSeen
				cancelQueuedTook = func() {
					cancelQueuedTook = nil
					seen = stopBeside(rt, tok)
				}
				defer func() { cancelQueuedTook = nil }()
				require.Equal(t, 1, op.CancelQueued())
				requireStopResolved(t, <-seen, "a held token")
			})
		})
	}
}

// TestCancelQueuedOfDelayedRacingStop: CancelQueued takes a token waiting
// out SubmitAfter's delay off the heap and resolves it after. A Stop in
// between found the heap without it and returned with it unresolved.
func TestCancelQueuedOfDelayedRacingStop(t *testing.T) {
	for name, opts := range map[string][]Option{"executors": nil, "blocking lane": {WithBlocking()}} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1}))
				op := must(Define(rt, "op", func(context.Context, int) (int, error) { return 1, nil }, opts...))
				var tok *Token[int]
				var seen <-chan stopSeen
				// The watch's stop runs in drop, once the token left the
				// heap, before it is resolved.
				ctx := newStopHookCtx(func() { seen = stopBeside(rt, tok) })
				tok = must(op.SubmitAfter(ctx, time.Hour, 0))
				require.Equal(t, 1, op.CancelQueued())
				requireStopResolved(t, <-seen, "a delayed token")
			})
		})
	}
}

// TestStopWaitsForACancelResolvingAToken: a Cancel (Token.Cancel,
// CancelQueued, or a Map's end cancelling what it has in flight) takes a
// queued token and only then records its outcome. A Stop whose drain ran
// past the taken token in between returned nil with the token unresolved
// and its WithOnFailure callback still to come, as it did for a watch on
// the submitter's context (TestStopWaitsForAWatchResolvingAToken).
func TestStopWaitsForACancelResolvingAToken(t *testing.T) {
	cases := map[string]func(op *Op[int, int]){
		"Token.Cancel": func(op *Op[int, int]) {
			tok := must(op.Submit(context.Background(), 3))
			go tok.Cancel()
		},
		"CancelQueued": func(op *Op[int, int]) {
			must(op.Submit(context.Background(), 3))
			go op.CancelQueued()
		},
		"Map": func(op *Op[int, int]) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for range MapWindow(ctx, op, slices.Values([]int{3}), 1) {
				}
			}()
			synctest.Wait() // its token is queued, and it waits for it
			cancel()        // it ends, cancelling the token
		},
	}
	for name, cancel := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stopPastATakenToken(t, "the cancelled token", ErrCancelled, cancel, nil)
			})
		})
	}
}
