package coregate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// flood submits n tokens of op on the default Config, every every-th of which
// does what bad does, and checks afterwards that no executor is down and a
// new token runs.
func flood(t *testing.T, n, every int, bad func(), wantErr func(error) bool) {
	rt := start(t, Config{})
	bg := context.Background()
	op := must(Define(rt, "flood", func(_ context.Context, i int) (int, error) {
		if i%every == 0 {
			bad()
		}
		return i, nil
	}))
	toks := make([]*Token[int], 0, n)
	for i := 1; i <= n; i++ {
		toks = append(toks, must(op.Submit(bg, i)))
	}
	failed := 0
	for i, tok := range toks {
		v, err := tok.Wait(bg)
		if (i+1)%every == 0 {
			require.True(t, wantErr(err), "token %d: %v", i+1, err)
			failed++
			continue
		}
		require.NoError(t, err)
		require.Equal(t, i+1, v)
	}
	require.Equal(t, n/every, failed)
	// A token pinned to each executor after the flood: it runs once the
	// executor's replacement (if its last token exited) has taken over,
	// and a replacement clears Restarting before it runs anything.
	// Unpinned tokens could all go to the executors not restarting, and
	// the look below then raced a replacement still starting.
	for i := range rt.Executors() {
		on := must(Define(rt, fmt.Sprintf("after-the-flood-%d", i), func(_ context.Context, v int) (int, error) { return v, nil }, OnExecutor(i)))
		require.Equal(t, 7, must(must(on.Submit(bg, 7)).Wait(bg)), "a token on executor %d after the flood", i)
	}
	for _, info := range rt.Executors() {
		require.False(t, info.Down || info.Restarting, "executor %d after the flood: %+v", info.Index, info)
	}
}

// TestGoexitFloodNeverDown: 50,000 tokens on the default Config, every 50th
// calling runtime.Goexit (as t.FailNow or a log.Fatal-style exit deep in a
// library does). Each fails its own token only; no executor goes down.
func TestGoexitFloodNeverDown(t *testing.T) {
	flood(t, 50_000, 50, runtime.Goexit, func(err error) bool { return errors.Is(err, ErrGoexit) })
}

// TestGoexitRestartIsNotCounted: the replacement after a handler's Goexit
// is an ExecutorRestarted with Reason ErrGoexit whose Restarts stays 0, Goexit
// after Goexit: it is not counted against the policy. (Its doc said "this
// one included", which held only for the executor's own failures.)
func TestGoexitRestartIsNotCounted(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
	events, stop := testkit.Subscribe(rt.Engine(), func(m any) bool {
		_, ok := m.(supervisor.ExecutorRestarted)
		return ok
	})
	defer stop()
	exit := must(Define(rt, "exit", func(context.Context, int) (int, error) { runtime.Goexit(); return 0, nil }))
	bg := context.Background()
	for range 3 {
		_, err := must(exit.Submit(bg, 0)).Wait(bg)
		require.ErrorIs(t, err, ErrGoexit)
		ev := (<-events).(supervisor.ExecutorRestarted)
		require.ErrorIs(t, ev.Reason, ErrGoexit)
		require.Zero(t, ev.Restarts)
	}
}

// TestPanicFloodNeverDown: the same with panics.
func TestPanicFloodNeverDown(t *testing.T) {
	flood(t, 50_000, 50, func() { panic("boom") }, func(err error) bool {
		var pe *PanicError
		return errors.As(err, &pe) && pe.Value == "boom"
	})
}

// TestNestedChildGoexitFailsOnlyTheChild: a child's runtime.Goexit while its
// parent waits for it (on the same executor) fails the child; the parent
// sees ErrGoexit from Wait and returns its own result.
func TestNestedChildGoexitFailsOnlyTheChild(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	exit := must(Define(rt, "exit", func(context.Context, int) (int, error) { runtime.Goexit(); return 0, nil }))
	parent := must(Define(rt, "parent", func(ctx context.Context, _ int) (string, error) {
		_, err := must(exit.Submit(ctx, 0)).Wait(ctx)
		if !errors.Is(err, ErrGoexit) {
			return "", err
		}
		return "saw the child exit", nil
	}))
	bg := context.Background()
	got, err := must(parent.Submit(bg, 0)).Wait(bg)
	require.NoError(t, err)
	require.Equal(t, "saw the child exit", got)
}

type depthKey struct{}

// TestNestingCostsLinearTime: a chain of handlers each submitting a child
// with its own context and waiting for it. Every level sees the root's
// values and deadline at constant cost; a depth within Config.MaxBlocked
// completes, and a depth past it (a million levels asked for) ends with
// ErrTooManyBlocked at the bound, promptly, instead of the process dying.
func TestNestingCostsLinearTime(t *testing.T) {
	rt := start(t, Config{Cores: 1, MaxBlocked: 300})
	var deepest atomic.Int64
	var nest *Op[int, int]
	nest = must(Define(rt, "nest", func(ctx context.Context, left int) (int, error) {
		if ctx.Value(depthKey{}) != "root" {
			return 0, errors.New("lost the root's value")
		}
		if _, ok := ctx.Deadline(); !ok {
			return 0, errors.New("lost the root's deadline")
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if left == 0 {
			return 0, nil
		}
		deepest.Add(1)
		d, err := must(nest.Submit(ctx, left-1)).Wait(ctx)
		return d + 1, err
	}))
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), depthKey{}, "root"), time.Hour)
	defer cancel()
	d, err := must(nest.Submit(ctx, 250)).Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 250, d)

	deepest.Store(0)
	_, err = must(nest.Submit(ctx, 1_000_000)).Wait(ctx)
	require.ErrorIs(t, err, ErrTooManyBlocked)
	require.Equal(t, int64(301), deepest.Load(), "levels that submitted a child: 300 blocked, the 301st refused")
}

// TestHandlerTightLoopMeetsBackpressure: a handler submitting 20,000 tokens
// in a tight loop onto its own executor never queues more than the mailbox
// bound: it waits for room like any submitter (its executor handed to a
// helper that drains it), and every token runs.
func TestHandlerTightLoopMeetsBackpressure(t *testing.T) {
	const size, n = 64, 20_000
	rt := start(t, Config{Cores: 1, MailboxSize: size})
	var ran atomic.Int64
	leaf := must(Define(rt, "leaf", func(context.Context, int) (int, error) { ran.Add(1); return 0, nil }))
	var most uint64
	loop := must(Define(rt, "loop", func(ctx context.Context, _ int) (int, error) {
		toks := make([]*Token[int], 0, n)
		for i := range n {
			tok, err := leaf.Submit(ctx, i)
			if err != nil {
				return 0, err
			}
			toks = append(toks, tok)
			most = max(most, rt.Stats().Total.Queued)
		}
		for _, tok := range toks {
			if _, err := tok.Wait(ctx); err != nil {
				return 0, err
			}
		}
		return len(toks), nil
	}))
	bg := context.Background()
	got, err := must(loop.Submit(bg, 0)).Wait(bg)
	require.NoError(t, err)
	require.Equal(t, n, got)
	require.Equal(t, int64(n), ran.Load())
	require.LessOrEqual(t, most, uint64(size), "queued past the mailbox bound")
	require.Positive(t, most)
}

// TestStopBoundedByContext: a handler that ignores its context cannot hold
// Stop past its deadline (plus the grace for cancelled handlers; exactly,
// on the fake clock): Stop returns an error naming the running token's op,
// the queued tokens behind it resolve with ErrStopped at once, and the
// stuck goroutine exits when its handler finally returns (goleak checks
// that).
func TestStopBoundedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1})
		require.NoError(t, err)
		release, started := make(chan struct{}), make(chan struct{})
		stuck := must(Define(rt, "stuck", func(context.Context, int) (int, error) {
			close(started)
			<-release // ignores its context
			return 1, nil
		}))
		bg := context.Background()
		tok := must(stuck.Submit(bg, 0))
		<-started
		plain := must(Define(rt, "plain", where[int]))
		var queued []*Token[int]
		for range 5 {
			queued = append(queued, must(plain.Submit(bg, 0)))
		}
		const deadline = 200 * time.Millisecond
		ctx, cancel := context.WithTimeout(bg, deadline)
		defer cancel()
		begin := time.Now()
		err = rt.Stop(ctx)
		require.Equal(t, deadline+supervisor.DefaultGrace, time.Since(begin), "Stop waits out its deadline, then the grace")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.EqualError(t, err, `coregate: stop: context deadline exceeded before the runtime drained; 5 queued tokens resolved with ErrStopped; 1 handlers still running, their contexts cancelled ("stuck" x1)`)
		for _, q := range queued {
			_, err := q.Wait(bg)
			require.ErrorIs(t, err, ErrStopped)
		}
		close(release)
		require.Equal(t, 1, must(tok.Wait(bg)))
		requireBalanced(t, rt)
	})
}

// TestStopReportsNothingCutShort: a Stop whose deadline passes after every
// token already succeeded returns nil, not a deadline error with nothing
// behind it.
func TestStopReportsNothingCutShort(t *testing.T) {
	rt, err := Start(Config{})
	require.NoError(t, err)
	op := must(Define(rt, "op", where[int]))
	bg := context.Background()
	for range 100 {
		_, err := must(op.Submit(bg, 0)).Wait(bg)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(bg, time.Millisecond)
	defer cancel()
	<-ctx.Done()
	require.NoError(t, rt.Stop(ctx))
	requireBalanced(t, rt)
}

// stopWhileWaiting runs a handler (waiter) that waits with
// context.Background() on a token that is still queued, or retrying, when
// Stop's deadline passes; Stop must resolve it so the waiter wakes, and
// return.
func stopWhileWaiting(t *testing.T, cfg Config, want error, blocked bool, child func(rt *Runtime) *Op[int, int]) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(cfg)
		require.NoError(t, err)
		blocker := must(Define(rt, "blocker", func(ctx context.Context, _ int) (int, error) {
			<-ctx.Done() // keeps its executor until Stop aborts
			return 0, ctx.Err()
		}, WithWeight(Light)))
		c := child(rt)
		waited := make(chan error, 1)
		waiter := must(Define(rt, "waiter", func(ctx context.Context, _ int) (int, error) {
			if blocked {
				must(blocker.Submit(context.WithoutCancel(ctx), 0))
			}
			_, err := must(c.Submit(context.WithoutCancel(ctx), 0)).Wait(context.Background())
			waited <- err
			return 0, nil
		}))
		bg := context.Background()
		tok := must(waiter.Submit(bg, 0))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		require.ErrorIs(t, rt.Stop(ctx), context.DeadlineExceeded)
		require.ErrorIs(t, <-waited, want, "the waiter woke with its child's outcome")
		_, err = tok.Wait(bg)
		require.NoError(t, err)
		requireBalanced(t, rt)
	})
}

// TestStopWakesWaiterOnQueuedChild: the child is queued behind a blocker on
// the waiter's own executor.
func TestStopWakesWaiterOnQueuedChild(t *testing.T) {
	stopWhileWaiting(t, Config{Cores: 1, Affinity: Off}, ErrStopped, true, func(rt *Runtime) *Op[int, int] {
		return must(Define(rt, "child", where[int], WithWeight(Light)))
	})
}

// TestStopWakesWaiterOnChildElsewhere: the child is queued behind a blocker
// on the other executor (Light runs on executor 1 of 2).
func TestStopWakesWaiterOnChildElsewhere(t *testing.T) {
	stopWhileWaiting(t, Config{Cores: 2, Affinity: Off}, ErrStopped, true, func(rt *Runtime) *Op[int, int] {
		return must(Define(rt, "child", where[int], WithWeight(Light)))
	})
}

// TestStopWakesWaiterOnRetryingChild: the child failed and waits out a long
// retry backoff; the waiter wakes with its last error.
func TestStopWakesWaiterOnRetryingChild(t *testing.T) {
	stopWhileWaiting(t, Config{Cores: 1, Affinity: Off}, errFlaky, false, func(rt *Runtime) *Op[int, int] {
		return must(Define(rt, "child", func(context.Context, int) (int, error) { return 0, errFlaky }, WithRetry(1, time.Minute)))
	})
}

// TestStallMovesUnpinnedWork: tokens queued behind a stalled handler move to
// a healthy executor as soon as the watchdog reports the stall, while a
// sticky key's token pinned there waits for it. A Light op, whose whole range
// (executor 1 of 2) is stalled, gets executor 0 instead of no relief.
func TestStallMovesUnpinnedWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond})
		require.NoError(t, err)
		bg := context.Background()
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
			time.Sleep(5 * time.Second)
			return 0, nil
		}, WithWeight(Light)))
		light := must(Define(rt, "light", func(ctx context.Context, _ int) (int, error) {
			e, _ := CurrentExecutor(ctx)
			return e, nil
		}, WithWeight(Light)))
		pinned := must(Define(rt, "pinned", func(ctx context.Context, _ int) (int, error) {
			e, _ := CurrentExecutor(ctx)
			return e, nil
		}, WithSticky(), WithWeight(Light)))
		stall := must(slow.Submit(bg, 0))
		synctest.Wait()
		pin := must(pinned.Submit(bg, 1))
		var queued []*Token[int]
		for range 10 {
			queued = append(queued, must(light.Submit(bg, 0)))
		}
		require.Equal(t, 1, pin.Executor())
		start := time.Now()
		for _, tok := range queued {
			require.Equal(t, 0, must(tok.Wait(bg)), "moved off the stalled executor")
		}
		require.Less(t, time.Since(start), time.Second, "moved when the stall was seen, not when it ended")
		require.Equal(t, 0, must(must(light.Submit(bg, 0)).Wait(bg)), "new Light work avoids the stall")
		select {
		case <-pin.Done():
			t.Fatal("a pinned token left its executor")
		default:
		}
		require.Equal(t, 1, must(pin.Wait(bg)), "the pinned token waited for its executor")
		_, err = stall.Wait(bg)
		require.NoError(t, err)
		require.Equal(t, uint64(10), rt.Stats().Executors[1].Rerouted)
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}

// TestStuckActorStallsItsExecutor: an actor whose Receive does not return
// holds its executor as a long token does, and the watchdog sees it: the
// executor is reported stalled and the unpinned tokens queued behind the
// actor move to a healthy executor. Found by review: the watchdog looked
// only at the running token, so tokens behind a stuck actor waited for it.
func TestStuckActorStallsItsExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond})
		require.NoError(t, err)
		bg := context.Background()
		stuck := must(Spawn(rt, "stuck", func() Actor[int, int] {
			return funcActor(func(*ActorContext, int) (int, error) {
				time.Sleep(5 * time.Second)
				return 0, nil
			})
		}, OnExecutor(1)))
		light := must(Define(rt, "light", func(ctx context.Context, _ int) (int, error) {
			e, _ := CurrentExecutor(ctx)
			return e, nil
		}, WithWeight(Light)))
		require.NoError(t, stuck.Tell(bg, 1))
		synctest.Wait()
		var queued []*Token[int]
		for range 10 {
			queued = append(queued, must(light.Submit(bg, 0)))
		}
		start := time.Now()
		for _, tok := range queued {
			require.Equal(t, 0, must(tok.Wait(bg)), "moved off the stalled executor")
		}
		require.Less(t, time.Since(start), time.Second, "moved when the stall was seen, not when the turn ended")
		require.True(t, rt.Executors()[1].Stalled)
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}
