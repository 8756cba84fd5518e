package coregate

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/actors"
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

// TestRetryWithoutBackoffCostsNoMoreLater: with a backoff of 0, asking
// for another attempt costs the same at the millionth try as at the first.
// Retry doubled the zero backoff once per try so far, a loop that never
// left early since zero never reaches MaxRetryBackoff: an op retried
// without end (WithRetry(math.MaxInt, 0), a flaky dependency) spent time
// quadratic in its failures on its executor. The tries are set far past
// what a test could run, so the old loop never returns.
func TestRetryWithoutBackoffCostsNoMoreLater(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
	op := must(Define(rt, "forever", where[int], WithRetry(math.MaxInt, 0)))
	j := &hookedJob[int, int]{job: job[int, int]{op: op}}
	j.tries.Store(int64(math.MaxInt - 1))
	asked := make(chan time.Duration, 1)
	go func() {
		d, ok := j.Retry(actors.Failed, errFlaky)
		require.True(t, ok)
		asked <- d
	}()
	select {
	case d := <-asked:
		require.Zero(t, d)
	case <-time.After(10 * time.Second): // a bound on the failure, not a wait for the answer
		t.Fatal("Retry with a zero backoff loops over the tries so far")
	}
}

// failing returns a handler that fails its first n attempts, then returns
// its argument, and the count of attempts.
func failing(n int32) (func(context.Context, int) (int, error), *atomic.Int32) {
	var attempts atomic.Int32
	return func(_ context.Context, x int) (int, error) {
		if attempts.Add(1) <= n {
			return 0, errFlaky
		}
		return x, nil
	}, &attempts
}

// TestPauseLeavesARetryBackoffAlone: pausing an op whose token waits out a
// retry backoff holds it no more than a running one: its retries go on, each
// after its backoff, and a Stop afterwards finds nothing held. Pause parked
// it, so Resume queued it at once while its timer stayed armed; its next
// failure replaced the timer's entry, the old timer then found itself
// replaced and kept the mailbox slot it held for ever, and a graceful Stop
// never returned (found by review).
func TestPauseLeavesARetryBackoffAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		fn, attempts := failing(2)
		op := must(Define(rt, "pr", fn, WithRetry(3, 100*time.Millisecond)))
		bg := context.Background()
		t0 := time.Now()
		tok := must(op.Submit(bg, 7))
		synctest.Wait()
		require.Equal(t, int32(1), attempts.Load(), "the first attempt failed: in its backoff")
		op.Pause()
		op.Resume()
		op.Pause()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		v, err := tok.Wait(ctx)
		require.NoError(t, err, "the retries do not go on while paused")
		require.Equal(t, 7, v)
		require.Equal(t, 300*time.Millisecond, time.Since(t0), "each backoff waited out, while paused too")
		require.Equal(t, int32(3), attempts.Load())
		op.Resume()
		stopAt := time.Now()
		require.NoError(t, rt.Stop(bg))
		require.Zero(t, time.Since(stopAt), "nothing holds the drain")
		require.Zero(t, rt.Stats().Total.Queued)
		requireBalanced(t, rt)
	})
}

// TestPauseLeavesALaneRetryInFlightAlone: a Pause that comes as a blocking
// lane's token, whose attempt failed, is queued again for its retry, before
// its backoff begins, leaves the retry alone as it leaves one in its
// backoff: it runs after its backoff, while paused, and a Stop whose
// context ends during the backoff resolves it with its last attempt's
// error. Pause found it queued (its worker still held it) and parked it,
// and the lane dropped its backoff: the retry waited for a Resume, then ran
// at once, and Stop resolved it with ErrStopped (found by review, about 1
// run in 3,000).
func TestPauseLeavesALaneRetryInFlightAlone(t *testing.T) {
	defer func() { laneRetryQueued = nil }()
	t.Run("backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			fn, attempts := failing(1)
			op := must(Define(rt, "lp", fn, WithBlocking(), WithRetry(1, 100*time.Millisecond)))
			laneRetryQueued = func() { laneRetryQueued = nil; op.Pause() }
			bg := context.Background()
			t0 := time.Now()
			tok := must(op.Submit(bg, 7))
			ctx, cancel := context.WithTimeout(bg, 10*time.Second)
			defer cancel()
			v, err := tok.Wait(ctx)
			require.NoError(t, err, "the retry waited for a Resume")
			require.Equal(t, 7, v)
			require.Equal(t, 100*time.Millisecond, time.Since(t0), "the retry waited out its backoff")
			require.Equal(t, int32(2), attempts.Load())
			require.True(t, op.Paused())
		})
	})
	t.Run("stop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rt, err := Start(Config{Cores: 1, Affinity: Off})
			require.NoError(t, err)
			fn, _ := failing(2)
			op := must(Define(rt, "lp", fn, WithBlocking(), WithRetry(1, time.Hour)))
			laneRetryQueued = func() { laneRetryQueued = nil; op.Pause() }
			bg := context.Background()
			tok := must(op.Submit(bg, 7))
			synctest.Wait()
			done, cancel := context.WithCancel(bg)
			cancel()
			require.ErrorContains(t, rt.Stop(done), "1 tokens waiting to retry resolved with their last error")
			_, err = tok.Wait(bg)
			require.ErrorIs(t, err, errFlaky)
			require.Equal(t, uint64(1), rt.Stats().Total.Failed)
			requireBalanced(t, rt)
		})
	})
}

// TestLaneRetryScheduledOnce: a lane token's retry is scheduled once per
// failed attempt, even when a Pause's scan found the token queued just
// before its backoff began and parks it just after. It parked a token
// waiting out its backoff; a Resume then ran it again at once, and its next
// failure replaced the first retry's entry without stopping its timer,
// which queued a stale entry and took the second retry's: the token never
// ran again, and the lane never looked idle to a graceful Stop.
func TestLaneRetryScheduledOnce(t *testing.T) {
	defer func() { laneRetryQueued, pauseScanned = nil, nil }()
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		t.Cleanup(func() { // bounded: a lost retry kept the lane busy
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = rt.Stop(ctx)
		})
		fn, attempts := failing(2)
		op := must(Define(rt, "ls", fn, WithBlocking(), WithRetry(2, 100*time.Millisecond)))
		inBetween, scanned := make(chan struct{}), make(chan struct{})
		laneRetryQueued = func() { // the first failure, before its backoff begins
			laneRetryQueued = nil
			close(inBetween)
			<-scanned
		}
		pauseScanned = func() {
			pauseScanned = nil
			close(scanned)
			synctest.Wait() // the retry waits out its backoff
		}
		bg := context.Background()
		t0 := time.Now()
		tok := must(op.Submit(bg, 7))
		<-inBetween
		op.Pause()
		op.Resume()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		v, err := tok.Wait(ctx)
		require.NoError(t, err, "the token was lost between its retries")
		require.Equal(t, 7, v)
		require.Equal(t, 300*time.Millisecond, time.Since(t0), "each retry waited out its backoff")
		require.Equal(t, int32(3), attempts.Load())
		stopAt := time.Now()
		require.NoError(t, rt.Stop(ctx))
		require.Zero(t, time.Since(stopAt), "nothing holds the lane")
		requireBalanced(t, rt)
	})
}

// TestStopDoesNotWaitForACancelledRetry: a token cancelled while it waits
// out a retry backoff lets go of its slot (an executor's) or of the lane at
// once: a graceful Stop waited for its timer, up to MaxRetryBackoff (found
// by review).
func TestStopDoesNotWaitForACancelledRetry(t *testing.T) {
	for _, opts := range [][]Option{{}, {WithBlocking()}} {
		synctest.Test(t, func(t *testing.T) {
			rt, err := Start(Config{Cores: 1, Affinity: Off})
			require.NoError(t, err)
			fn, attempts := failing(1)
			op := must(Define(rt, "cr", fn, append(opts, WithRetry(1, time.Hour))...))
			bg := context.Background()
			tok := must(op.Submit(bg, 1))
			synctest.Wait()
			require.Equal(t, int32(1), attempts.Load())
			require.True(t, tok.Cancel())
			stopAt := time.Now()
			require.NoError(t, rt.Stop(bg))
			require.Zero(t, time.Since(stopAt), "Stop waited for the timer of a cancelled retry")
			_, err = tok.Wait(bg)
			require.ErrorIs(t, err, ErrCancelled)
			requireBalanced(t, rt)
		})
	}
}

// TestCancelQueuedTakesRetries: CancelQueued cancels a token waiting out a
// retry backoff, on an executor and on the blocking lane (where it did
// not: found by review), and the token never runs again.
func TestCancelQueuedTakesRetries(t *testing.T) {
	for _, opts := range [][]Option{{}, {WithBlocking()}} {
		synctest.Test(t, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			fn, attempts := failing(1)
			op := must(Define(rt, "cq", fn, append(opts, WithRetry(1, time.Second))...))
			bg := context.Background()
			tok := must(op.Submit(bg, 1))
			synctest.Wait()
			require.Equal(t, 1, op.CancelQueued())
			_, err := tok.Wait(bg)
			require.ErrorIs(t, err, ErrCancelled)
			time.Sleep(2 * time.Second)
			synctest.Wait()
			require.Equal(t, int32(1), attempts.Load(), "a cancelled token ran again")
		})
	}
}

// TestLaneRetryEndingDuringStop: a graceful Stop waits for a blocking-lane
// token whose retry backoff ends while Stop waits. The retry's timer let
// the lane look idle for a moment before queueing the token, Stop returned
// nil then, and the token ran after it (found by review).
func TestLaneRetryEndingDuringStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		var attempts atomic.Int32
		op := must(Define(rt, "lr", func(_ context.Context, x int) (int, error) {
			if attempts.Add(1) == 1 {
				return 0, errFlaky
			}
			time.Sleep(300 * time.Millisecond)
			return x, nil
		}, WithBlocking(), WithRetry(1, 50*time.Millisecond)))
		bg := context.Background()
		tok := must(op.Submit(bg, 7))
		synctest.Wait()
		require.NoError(t, rt.Stop(bg))
		select {
		case <-tok.Done():
		default:
			t.Fatal("Stop returned nil with the token unresolved")
		}
		require.Equal(t, 7, must(tok.Wait(bg)))
		requireBalanced(t, rt)
	})
}

// TestLaneRetryHoldsItsSlot: a token of the blocking lane waiting out a
// retry backoff holds a slot of the lane's bound, as an executor's holds one
// of its mailbox, and a Cancel that ends its backoff frees the slot for a
// Submit waiting for room. The lane counted only its queue: with a bound of
// 2 it accepted every TrySubmit (50 of 50) while each accepted token waited
// out its backoff, memory without bound.
func TestLaneRetryHoldsItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, MailboxSize: 2, BlockingWorkers: 1})
		require.NoError(t, err)
		bg := context.Background()
		defer func() { _ = rt.Stop(bg) }() // a failed check leaves nothing running in the bubble
		op := must(Define(rt, "lr", func(context.Context, int) (int, error) { return 0, errFlaky },
			WithBlocking(), WithRetry(1, time.Hour)))
		var backoff []*Token[int]
		for i := range 2 {
			backoff = append(backoff, must(op.TrySubmit(i)))
			synctest.Wait() // it ran, failed and waits out its backoff
		}
		_, err = op.TrySubmit(2)
		require.ErrorIs(t, err, ErrFull, "both slots are held by retries in their backoff")
		done := make(chan error, 1)
		go func() {
			_, err := op.Submit(bg, 3)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Submit returned (%v) with the lane full", err)
		default:
		}
		require.True(t, backoff[0].Cancel())
		synctest.Wait()
		select {
		case err := <-done:
			require.NoError(t, err)
		default:
			t.Fatal("the Submit waiting for room was not woken by the slot a cancelled retry freed")
		}
		require.NoError(t, rt.Stop(bg)) // it drains the retries, each after its backoff
		_, err = backoff[1].Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		requireBalanced(t, rt)
	})
}

// TestStopAsALaneAttemptIsQueuedAgain: a Stop whose context has ended that
// comes as a blocking lane's token, whose attempt failed, is queued again
// for its retry, before its backoff begins, resolves it with that
// attempt's error and reports it among the retries, as one waiting out its
// backoff: it ran. Its worker still held it, so Stop took it for one taken
// but not begun and resolved it with ErrStopped, counted as stopped (found
// by review).
func TestStopAsALaneAttemptIsQueuedAgain(t *testing.T) {
	defer func() { laneRetryQueued = nil }()
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		fn, attempts := failing(2)
		op := must(Define(rt, "lr", fn, WithBlocking(), WithRetry(1, time.Hour)))
		bg := context.Background()
		done, cancel := context.WithCancel(bg)
		cancel()
		stopped := make(chan error, 1)
		laneRetryQueued = func() { // on the worker: Stop gives up on the lane meanwhile
			laneRetryQueued = nil
			go func() { stopped <- rt.Stop(done) }()
			synctest.Wait()
		}
		tok := must(op.Submit(bg, 7))
		_, err = tok.Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		err = <-stopped
		require.NotContains(t, err.Error(), "ErrStopped")
		requireLaneRetryStopped(t, rt, err, attempts)
	})
}

// TestStopAsALaneAttemptIsQueuedAgainAfterTheAbort: as
// TestStopAsALaneAttemptIsQueuedAgain, but the worker hands the attempt to
// its backoff after Stop gave up on the lane and before Stop resolves what
// it took. Stop still reports it among the retries. Found by review: the
// worker resolved it itself, and Stop, finding it done, counted it as a
// running handler it cancelled.
func TestStopAsALaneAttemptIsQueuedAgainAfterTheAbort(t *testing.T) {
	defer func() { laneRetryQueued, laneAborted = nil, nil }()
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		fn, attempts := failing(2)
		op := must(Define(rt, "lr", fn, WithBlocking(), WithRetry(1, time.Hour)))
		bg := context.Background()
		queued := make(chan struct{})
		// On the worker, its attempt failed: it waits for Stop to give up.
		laneRetryQueued = func() { <-queued }
		laneAborted = func() { // Stop gave up: the worker goes on first
			close(queued)
			synctest.Wait()
		}
		tok := must(op.Submit(bg, 7))
		synctest.Wait()
		done, cancel := context.WithCancel(bg)
		cancel()
		serr := rt.Stop(done)
		require.NotContains(t, serr.Error(), "cancelled")
		_, err = tok.Wait(bg)
		require.ErrorIs(t, err, errFlaky)
		requireLaneRetryStopped(t, rt, serr, attempts)
	})
}

// requireLaneRetryStopped checks what a Stop that gave up as a lane
// token's one failed attempt went to its backoff left: Stop's error stopErr
// counts it among the retries resolved with their last error, and the
// token ran once and failed, not stopped.
func requireLaneRetryStopped(t *testing.T, rt *Runtime, stopErr error, attempts *atomic.Int32) {
	t.Helper()
	require.ErrorContains(t, stopErr, "1 tokens waiting to retry resolved with their last error")
	require.Equal(t, int32(1), attempts.Load())
	s := rt.Stats().Total
	require.Equal(t, uint64(1), s.Failed)
	require.Zero(t, s.Stopped)
	requireBalanced(t, rt)
}

// TestCancelledRetryEndsTheDrain: a graceful Stop drains an executor that
// waits for a retry holding a slot; the retry cancelled in its backoff
// gives the slot back and wakes the parked executor, which finds its
// mailbox drained, and Stop returns without waiting out the backoff.
func TestCancelledRetryEndsTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1})
		require.NoError(t, err)
		fn, attempts := failing(1)
		op := must(Define(rt, "r", fn, WithRetry(1, time.Hour)))
		bg := context.Background()
		tok := must(op.Submit(bg, 1))
		synctest.Wait() // the first attempt failed: the retry waits out its hour
		stopErr := make(chan error, 1)
		go func() { stopErr <- rt.Stop(bg) }()
		synctest.Wait() // the executor drained its queue and waits for the retry
		stopAt := time.Now()
		require.True(t, tok.Cancel())
		require.NoError(t, <-stopErr)
		require.Zero(t, time.Since(stopAt), "Stop waited out the cancelled retry's backoff")
		require.Equal(t, int32(1), attempts.Load())
		requireBalanced(t, rt)
	})
}

// TestLaneRetryCancelledInFlight: a lane token cancelled as its failed
// attempt is queued again for its retry, before its backoff begins, is
// resolved Cancelled and leaves nothing behind: no backoff holds a slot of
// the lane's bound or keeps a graceful Stop waiting.
func TestLaneRetryCancelledInFlight(t *testing.T) {
	defer func() { laneRetryQueued = nil }()
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 1})
		fn, attempts := failing(1)
		op := must(Define(rt, "lc", fn, WithBlocking(), WithRetry(1, time.Hour)))
		toks := make(chan *Token[int], 1)
		laneRetryQueued = func() { // on the worker: the token is cancelled meanwhile
			laneRetryQueued = nil
			require.True(t, (<-toks).Cancel())
		}
		bg := context.Background()
		tok := must(op.Submit(bg, 7))
		toks <- tok
		_, err := tok.Wait(bg)
		require.ErrorIs(t, err, ErrCancelled)
		synctest.Wait() // the worker is done with it
		_, err = op.TrySubmit(8)
		require.NoError(t, err, "the cancelled token's backoff holds the lane's one slot")
		stopAt := time.Now()
		require.NoError(t, rt.Stop(bg))
		require.Zero(t, time.Since(stopAt), "Stop waited out the cancelled token's backoff")
		require.Equal(t, int32(2), attempts.Load(), "7's one attempt, and 8")
	})
}

// TestRetryBackoffEndsWithItsContext: a token waiting out a retry backoff
// whose submitter's context ends resolves at once with that context's
// error, as Token.Cancel resolves it, on an executor and on the blocking
// lane: it waited out the backoff (up to MaxRetryBackoff) first, holding
// its slot and keeping a graceful Stop waiting (found by review).
func TestRetryBackoffEndsWithItsContext(t *testing.T) {
	for _, opts := range [][]Option{{}, {WithBlocking()}} {
		synctest.Test(t, func(t *testing.T) {
			rt, err := Start(Config{Cores: 1, Affinity: Off})
			require.NoError(t, err)
			fn, attempts := failing(1)
			var failed atomic.Int32
			op := must(Define(rt, "rc", fn, append(opts, WithRetry(1, time.Hour),
				WithOnFailure(func(_ int, err error) {
					require.ErrorIs(t, err, context.Canceled)
					failed.Add(1)
				}))...))
			ctx, cancel := context.WithCancel(context.Background())
			tok := must(op.Submit(ctx, 1))
			synctest.Wait()
			require.Equal(t, int32(1), attempts.Load())
			endAt := time.Now()
			cancel()
			bg := context.Background()
			_, err = tok.Wait(bg)
			require.ErrorIs(t, err, context.Canceled)
			require.Zero(t, time.Since(endAt), "the token waited out its backoff")
			require.NoError(t, rt.Stop(bg))
			require.Zero(t, time.Since(endAt), "Stop waited for the backoff of a token resolved")
			synctest.Wait()
			require.Equal(t, int32(1), attempts.Load(), "it ran again")
			require.Equal(t, int32(1), failed.Load(), "its callback ran once")
			require.Equal(t, uint64(1), rt.Stats().Total.Cancelled)
			requireBalanced(t, rt)
		})
	}
}

// TestRetryBackoffEndsWithItsParent: a child token waiting out a retry
// backoff resolves as its parent handler returns, whose end cancels the
// child's context, and its watch on that context ends with it.
func TestRetryBackoffEndsWithItsParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		fn, attempts := failing(1)
		child := must(Define(rt, "child", fn, WithBlocking(), WithRetry(1, time.Hour)))
		release := make(chan struct{})
		toks := make(chan *Token[int], 1)
		parent := must(Define(rt, "parent", func(ctx context.Context, x int) (int, error) {
			toks <- must(child.Submit(ctx, x))
			<-release
			return 0, nil
		}))
		bg := context.Background()
		ptok := must(parent.Submit(bg, 1))
		tok := <-toks
		synctest.Wait() // the child failed once and waits out its backoff
		require.Equal(t, int32(1), attempts.Load())
		endAt := time.Now()
		close(release)
		must(ptok.Wait(bg))
		_, err = tok.Wait(bg)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, time.Since(endAt), "the child waited out its backoff")
		require.NoError(t, rt.Stop(bg))
		require.Equal(t, int32(1), attempts.Load())
		requireBalanced(t, rt)
	})
}
