package coregate

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCancelQueued: every queued token of the op (in the mailbox, delayed)
// resolves with ErrCancelled and never runs, the count says how many; the
// running token and other ops' tokens are untouched.
func TestCancelQueued(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	rec := newRunLog(t, rt, "rec")
	others := newRunLog(t, rt, "other")
	running := must(b.op.Submit(ctx, 0))
	<-b.started
	var queued []*Token[int]
	for i := range 5 {
		queued = append(queued, must(rec.op.Submit(ctx, i)))
	}
	queued = append(queued, must(rec.op.SubmitAfter(ctx, time.Hour, 9)))
	kept := []*Token[int]{must(others.op.Submit(ctx, 1)), must(others.op.Submit(ctx, 2))}
	queuedBlock := must(b.op.Submit(ctx, 1))

	require.Equal(t, 6, rec.op.CancelQueued())
	require.Zero(t, rec.op.CancelQueued(), "nothing left to cancel")
	for _, tok := range queued {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, ErrCancelled)
	}
	require.Equal(t, 1, b.op.CancelQueued(), "the queued one, not the running one")
	_, err := queuedBlock.Wait(ctx)
	require.ErrorIs(t, err, ErrCancelled)
	close(b.gate)
	require.Equal(t, 0, must(running.Wait(ctx)))
	for _, tok := range kept {
		must(tok.Wait(ctx))
	}
	require.Empty(t, rec.order())
	require.Equal(t, []int{1, 2}, others.order())
	require.Equal(t, uint64(7), rt.Stats().Total.Cancelled)
}

// TestHandlerSeesItsSubmittersDeadline: a handler whose submitter's context
// passes its deadline sees DeadlineExceeded from ctx.Err(), as a context
// derived from that one would (it saw Canceled), and so does Wait when the
// handler returns it; a token cancelled by Cancel still sees Canceled.
func TestHandlerSeesItsSubmittersDeadline(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	started := make(chan int, 2)
	op := must(Define(rt, "wait-out", func(ctx context.Context, i int) (int, error) {
		started <- i
		<-ctx.Done()
		return 0, ctx.Err()
	}))
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := must(op.Submit(short, 1)).Wait(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)

	tok := must(op.Submit(context.Background(), 2))
	for <-started != 2 { // token 1 may have started, or not before its deadline
	}
	tok.Cancel()
	_, err = tok.Wait(context.Background())
	require.ErrorIs(t, err, context.Canceled)
}

// TestCancelQueuedRacingResume: a Resume that comes as CancelQueued scans
// queues the tokens the Pause held again, which the scan of the queues may
// have passed: every one of them waits to run all along (their executor is
// busy), so CancelQueued cancels them all, whichever of the two goes first.
// It cancelled none when the Resume came between its scan of the queues and
// its look at the held tokens.
func TestCancelQueuedRacingResume(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	rec := newRunLog(t, rt, "rec")
	must(b.op.Submit(ctx, 0))
	<-b.started
	defer close(b.gate)
	rec.op.Pause()
	var held []*Token[int]
	for i := range 4 {
		held = append(held, must(rec.op.Submit(ctx, i)))
	}
	cancelQueuedTook = func() {
		cancelQueuedTook = nil
		rec.op.Resume()
	}
	defer func() { cancelQueuedTook = nil }()
	require.Equal(t, 4, rec.op.CancelQueued())
	require.False(t, rec.op.Paused())
	for _, tok := range held {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, ErrCancelled)
	}
	require.Empty(t, rec.order())
}

// TestCancelledAskNeverReachesReceive: an Ask cancelled while queued behind
// a Receive that runs is resolved with ErrCancelled at once, and its
// message never reaches Receive.
func TestCancelledAskNeverReachesReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		gate := make(chan struct{})
		var seen []int
		a := must(Spawn(rt, "a", func() Actor[int, int] {
			return funcActor(func(_ *ActorContext, n int) (int, error) {
				seen = append(seen, n)
				if n == 0 {
					<-gate
				}
				return n, nil
			})
		}))
		first := must(a.Ask(bg, 0))
		synctest.Wait() // Receive(0) runs, waiting for the gate
		cancelled := must(a.Ask(bg, 1))
		require.True(t, cancelled.Cancel(), "a queued Ask is resolved by its Cancel")
		_, err := cancelled.Wait(bg)
		require.ErrorIs(t, err, ErrCancelled)
		close(gate)
		must(first.Wait(bg))
		must(must(a.Ask(bg, 2)).Wait(bg))
		require.Equal(t, []int{0, 2}, seen, "messages Receive got")
	})
}
