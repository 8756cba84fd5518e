package coregate

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStopCountsNoLaneTokenDoneBeforeItGaveUp: a Stop whose context has
// ended comes as a lane worker's handler has returned and its token
// succeeded, before the worker looks at the queue again. Stop gave up on
// nothing: the token reached its own outcome before, so Stop cancelled no
// handler and returns nil.
func TestStopCountsNoLaneTokenDoneBeforeItGaveUp(t *testing.T) {
	defer func() { laneRan, laneAborted = nil, nil }()
	rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1}))
	op := must(Define(rt, "op", func(context.Context, int) (int, error) { return 1, nil }, WithBlocking()))
	ran := holdLaneWorkerUntilStop()
	bg := context.Background()
	tok := must(op.Submit(bg, 0))
	<-ran
	require.Equal(t, 1, must(tok.Wait(bg)))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	require.NoError(t, rt.Stop(ctx), "the token succeeded before Stop gave up")
	requireBalanced(t, rt)
}

// TestStopCountsALaneRetryOnce: a Stop whose context has ended comes as a
// lane worker has handed its token's failed attempt to its backoff and has
// yet to look at the queue again. Stop resolves the retry with its last
// error and counts it among the retries, once: not also as a handler it
// cancelled.
func TestStopCountsALaneRetryOnce(t *testing.T) {
	defer func() { laneRan, laneAborted = nil, nil }()
	rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1}))
	fn, attempts := failing(2)
	op := must(Define(rt, "lr", fn, WithBlocking(), WithRetry(1, time.Hour)))
	ran := holdLaneWorkerUntilStop()
	bg := context.Background()
	tok := must(op.Submit(bg, 7))
	<-ran
	ctx, cancel := context.WithCancel(bg)
	cancel()
	serr := rt.Stop(ctx)
	require.NotContains(t, serr.Error(), "cancelled")
	_, err := tok.Wait(bg)
	require.ErrorIs(t, err, errFlaky)
	requireLaneRetryStopped(t, rt, serr, attempts)
}

// TestStopCountsALaneRetryDueOnce: a Stop whose context has ended comes
// as a lane worker's token, its failed attempt's backoff over, waits in
// the lane's queue again while the worker, holding it still, has yet to
// look at the queue. Stop resolves it as queued, with ErrStopped, and
// counts it once: not also as a handler it cancelled, since none ran.
func TestStopCountsALaneRetryDueOnce(t *testing.T) {
	defer func() { laneRan, laneAborted = nil, nil }()
	rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1, BlockingWorkers: 1}))
	fn, attempts := failing(2)
	op := must(Define(rt, "lrd", fn, WithBlocking(), WithRetry(1, time.Nanosecond)))
	ran := holdLaneWorkerUntilStop()
	bg := context.Background()
	tok := must(op.Submit(bg, 7))
	<-ran
	l := rt.lane
	for { // the backoff ends and queues the token again; no worker is free to take it
		l.mu.Lock()
		due := len(l.q)-l.head == 1
		l.mu.Unlock()
		if due {
			break
		}
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	serr := rt.Stop(ctx)
	require.ErrorContains(t, serr, "; 1 queued tokens resolved with ErrStopped")
	require.NotContains(t, serr.Error(), "cancelled")
	_, err := tok.Wait(bg)
	require.ErrorIs(t, err, ErrStopped)
	require.Equal(t, int32(1), attempts.Load())
	requireBalanced(t, rt)
}

// holdLaneWorkerUntilStop makes a lane worker, done with its token and yet
// to look at the queue again, wait there until Stop gives up on the lane;
// the channel it returns is closed as the worker gets there. The caller
// resets laneRan and laneAborted.
func holdLaneWorkerUntilStop() (ran chan struct{}) {
	ran, gate := make(chan struct{}), make(chan struct{})
	laneRan = func() {
		close(ran)
		<-gate
	}
	laneAborted = func() { close(gate) }
	return ran
}
