package coregate

import (
	"context"
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
	ran, gate := make(chan struct{}), make(chan struct{})
	laneRan = func() { // on the worker, its token done: it waits until Stop gave up
		close(ran)
		<-gate
	}
	laneAborted = func() { close(gate) }
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
	ran, gate := make(chan struct{}), make(chan struct{})
	laneRan = func() { // on the worker, the retry in its backoff: it waits until Stop gave up
		close(ran)
		<-gate
	}
	laneAborted = func() { close(gate) }
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
