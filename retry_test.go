package coregate

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

var errFlaky = errors.New("flaky")

// TestRetryUntilSuccess: a failure, a panic and a Goexit are each retried at
// the tail of the executor, and only the final success reaches the token and
// the counts.
func TestRetryUntilSuccess(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	var runs atomic.Int32
	op := must(Define(rt, "flaky", func(_ context.Context, x int) (int, error) {
		switch runs.Add(1) {
		case 1:
			return 0, errFlaky
		case 2:
			panic("flaky")
		case 3:
			runtime.Goexit()
		}
		return x * 2, nil
	}, WithRetry(3, 0)))
	bg := context.Background()
	require.Equal(t, 42, must(must(op.Submit(bg, 21)).Wait(bg)))
	require.Equal(t, int32(4), runs.Load())
	s := rt.Stats().Total
	s.Queued = 0 // a gauge that may still hold the batch just run
	require.Equal(t, Counts{Submitted: 1, Succeeded: 1}, s)
}

// TestRetryGivesUp: after its retries the token resolves with the last
// attempt's error, counted once.
func TestRetryGivesUp(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	var runs atomic.Int32
	fails := must(Define(rt, "fails", func(context.Context, int) (int, error) {
		runs.Add(1)
		return 0, errFlaky
	}, WithRetry(2, 0)))
	panics := must(Define(rt, "panics", func(context.Context, int) (int, error) { panic("always") }, WithRetry(1, 0)))
	bg := context.Background()
	_, err := must(fails.Submit(bg, 0)).Wait(bg)
	require.ErrorIs(t, err, errFlaky)
	require.Equal(t, int32(3), runs.Load())
	_, err = must(panics.Submit(bg, 0)).Wait(bg)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	s := rt.Stats().Total
	require.Equal(t, uint64(1), s.Failed)
	require.Equal(t, uint64(1), s.Panicked)
}

// TestRetryNotForCancelled: a token cancelled while it runs is not retried,
// whatever its handler returns.
func TestRetryNotForCancelled(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	var runs atomic.Int32
	started := make(chan struct{})
	op := must(Define(rt, "op", func(ctx context.Context, _ int) (int, error) {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-ctx.Done()
		return 0, errFlaky
	}, WithRetry(5, 0)))
	bg := context.Background()
	tok := must(op.Submit(bg, 0))
	<-started
	tok.Cancel()
	_, err := tok.Wait(bg)
	require.ErrorIs(t, err, errFlaky)
	require.Equal(t, int32(1), runs.Load())
}

// TestRetryBackoffFakeClock: retries wait the backoff, doubled each time. A
// graceful Stop drains a token waiting out its backoff (it holds a slot of its
// executor's mailbox): the retry runs; a Stop whose context ends first
// resolves it with its last error and says so.
func TestRetryBackoffFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		var at []time.Duration
		t0 := time.Now()
		op := must(Define(rt, "op", func(context.Context, int) (int, error) {
			at = append(at, time.Since(t0))
			return 0, errFlaky
		}, WithRetry(3, 100*time.Millisecond)))
		bg := context.Background()
		_, err = must(op.Submit(bg, 0)).Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		require.Equal(t, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}, at)

		var tries atomic.Int32
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
			if tries.Add(1) == 1 {
				return 0, errFlaky
			}
			return 7, nil
		}, WithRetry(1, time.Hour)))
		tok := must(slow.Submit(bg, 0))
		synctest.Wait()
		select {
		case <-tok.Done():
			t.Fatal("resolved during its backoff")
		default:
		}
		stopAt := time.Now()
		require.NoError(t, rt.Stop(bg))
		require.Equal(t, MaxRetryBackoff, time.Since(stopAt), "a graceful Stop drains the retry")
		require.Equal(t, 7, must(tok.Wait(bg)))
		requireBalanced(t, rt)

		rt, err = Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		again := must(Define(rt, "again", func(context.Context, int) (int, error) { return 0, errFlaky }, WithRetry(1, time.Hour)))
		tok = must(again.Submit(bg, 0))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		err = rt.Stop(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.EqualError(t, err, "coregate: stop: context deadline exceeded before the runtime drained; 1 tokens waiting to retry resolved with their last error")
		_, err = tok.Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		requireBalanced(t, rt)
	})
}

func TestRetryBadInput(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	_, err := Define(rt, "neg", where[int], WithRetry(-1, 0))
	require.ErrorContains(t, err, "must not be negative")
	_, err = Define(rt, "negb", where[int], WithRetry(1, -time.Second))
	require.ErrorContains(t, err, "must not be negative")
}
