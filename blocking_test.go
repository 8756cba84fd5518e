package coregate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/stretchr/testify/require"
)

// gated is a blocking op whose handlers count themselves running and wait
// for gate (or their context).
type gated struct {
	op            *Op[int, int]
	gate          chan struct{}
	running, most atomic.Int32
	started       chan struct{}
	mu            sync.Mutex
	ran           []int // in start order
}

func (g *gated) order() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.ran...)
}

func newGated(t *testing.T, rt *Runtime, opts ...Option) *gated {
	t.Helper()
	g := &gated{gate: make(chan struct{}), started: make(chan struct{}, 1000)}
	g.op = must(Define(rt, "gated", func(ctx context.Context, x int) (int, error) {
		if _, on := CurrentExecutor(ctx); on {
			return 0, errors.New("a blocking handler runs on an executor")
		}
		n := g.running.Add(1)
		defer g.running.Add(-1)
		for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
		}
		g.mu.Lock()
		g.ran = append(g.ran, x)
		g.mu.Unlock()
		g.started <- struct{}{}
		select {
		case <-g.gate:
			return x, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, append([]Option{WithBlocking()}, opts...)...))
	return g
}

// TestBlockingLaneKeepsOneCoreResponsive: a one-core runtime with 100
// handlers blocked on the lane still runs its core's tokens at once.
func TestBlockingLaneKeepsOneCoreResponsive(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	g := newGated(t, rt)
	var toks []*Token[int]
	for i := range 100 {
		toks = append(toks, must(g.op.Submit(ctx, i)))
	}
	for range 100 {
		<-g.started
	}
	require.Equal(t, int32(100), g.running.Load(), "all 100 wait at once, none on the core")
	quick := must(Define(rt, "quick", where[int]))
	require.Equal(t, 0, must(must(quick.Submit(ctx, 0)).Wait(ctx)), "the core is free")
	close(g.gate)
	for i, tok := range toks {
		require.Equal(t, i, must(tok.Wait(ctx)))
		require.Equal(t, 0, tok.Executor(), "counted on an executor")
	}
	require.Equal(t, uint64(101), rt.Stats().Total.Succeeded)
}

// TestBlockingWorkersBound: no more than Config.BlockingWorkers handlers run
// at once, the rest wait in the lane; SubmitFirst goes to its head, and
// TrySubmit fails with ErrFull once it holds MailboxSize tokens.
func TestBlockingWorkersBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 2})
		ctx := context.Background()
		g := newGated(t, rt)
		var toks []*Token[int]
		for i := range 5 {
			toks = append(toks, must(g.op.Submit(ctx, i)))
		}
		synctest.Wait()
		require.Equal(t, int32(2), g.running.Load())
		close(g.gate)
		for _, tok := range toks {
			must(tok.Wait(ctx))
		}
		require.Equal(t, int32(2), g.most.Load())
	})

	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1, MailboxSize: 2})
	ctx := context.Background()
	g := newGated(t, rt)
	toks := []*Token[int]{must(g.op.Submit(ctx, 0))}
	<-g.started
	toks = append(toks, must(g.op.TrySubmit(1)), must(g.op.SubmitFirst(ctx, 2)))
	_, err := g.op.TrySubmit(3)
	require.ErrorIs(t, err, ErrFull)
	require.ErrorContains(t, err, "the blocking lane is full", "not an executor's range: lane tokens take none")
	require.ErrorContains(t, err, `op "gated"`)
	close(g.gate)
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	require.Equal(t, []int{0, 2, 1}, g.order())
}

// TestBlockingFailuresRetryAndCancel: on the lane a panic and a Goexit fail
// their token and the lane goes on, a retry runs on the lane again, and a
// queued token can be cancelled, by itself or with CancelQueued, and held
// by Pause.
func TestBlockingFailuresRetryAndCancel(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
	ctx := context.Background()
	var tries atomic.Int32
	op := must(Define(rt, "op", func(ctx context.Context, x int) (int, error) {
		if _, on := CurrentExecutor(ctx); on {
			return 0, errors.New("on an executor")
		}
		switch x {
		case 1:
			panic("boom")
		case 2:
			runtime.Goexit()
		case 3:
			if tries.Add(1) < 3 {
				return 0, errFlaky
			}
		}
		return x, nil
	}, WithBlocking(), WithRetry(2, 0)))
	_, err := must(op.Submit(ctx, 1)).Wait(ctx)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	_, err = must(op.Submit(ctx, 2)).Wait(ctx)
	require.ErrorIs(t, err, ErrGoexit)
	require.Equal(t, 3, must(must(op.Submit(ctx, 3)).Wait(ctx)))
	require.Equal(t, int32(3), tries.Load())

	g := newGated(t, rt)
	must(g.op.Submit(ctx, 0))
	<-g.started // the lane's one worker is busy
	queued := []*Token[int]{must(g.op.Submit(ctx, 1)), must(g.op.Submit(ctx, 2)), must(g.op.Submit(ctx, 3))}
	require.True(t, queued[0].Cancel())
	g.op.Pause()
	held := must(g.op.Submit(ctx, 4))
	require.Equal(t, 3, g.op.CancelQueued(), "two queued, one held")
	for _, tok := range append(queued, held) {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, ErrCancelled)
	}
	g.op.Resume()
	close(g.gate)
}

// TestBlockingStop: Stop drains the lane; one whose context ends first
// resolves what waits with ErrStopped and cancels the running handlers'
// contexts, and its error counts the first and names those still running.
func TestBlockingStop(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 2})
	ctx := context.Background()
	g := newGated(t, rt)
	unstick := make(chan struct{})
	ignoring := must(Define(rt, "ignore", func(context.Context, int) (int, error) {
		g.started <- struct{}{}
		<-unstick // ignores its context
		return 0, nil
	}, WithBlocking()))
	running := must(g.op.Submit(ctx, 0))
	stuck := must(ignoring.Submit(ctx, 0))
	<-g.started
	<-g.started
	queued := must(g.op.Submit(ctx, 1))
	done, cancel := context.WithCancel(ctx)
	cancel()
	err := rt.Stop(done)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "1 queued tokens resolved with ErrStopped")
	require.ErrorContains(t, err, `1 handlers still running, their contexts cancelled ("ignore" x1)`)
	close(unstick)
	must(stuck.Wait(ctx))
	_, err = queued.Wait(ctx)
	require.ErrorIs(t, err, ErrStopped)
	_, err = running.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = g.op.Submit(ctx, 2)
	require.ErrorIs(t, err, ErrStopped)

	rt2 := start(t, Config{Cores: 1, Affinity: Off})
	g2 := newGated(t, rt2)
	close(g2.gate)
	tok := must(g2.op.Submit(ctx, 7))
	require.NoError(t, rt2.Stop(ctx), "a graceful Stop drains the lane")
	require.Equal(t, 7, must(tok.Wait(ctx)))
}

func TestBlockingBadInput(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	_, err := Define(rt, "s", where[int], WithBlocking(), WithSticky())
	require.ErrorContains(t, err, "does not combine")
	_, err = Start(Config{BlockingWorkers: -1})
	require.ErrorContains(t, err, "BlockingWorkers is -1")
	_, err = Spawn(rt, "a", func() Actor[int, int] { return perCoreActor{} }, WithBlocking())
	require.ErrorContains(t, err, "applies to ops")
}

// TestStopFromBlockingHandler: Stop called from a handler on the lane is
// refused, as from any handler, instead of waiting for its own return.
func TestStopFromBlockingHandler(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	op := must(Define(rt, "stopper", func(ctx context.Context, _ int) (int, error) {
		return 0, rt.Stop(ctx)
	}, WithBlocking()))
	_, err := must(op.Submit(ctx, 0)).Wait(ctx)
	require.ErrorIs(t, err, ErrStopFromHandler)
}

// TestMaxBlockedCountsASecondWait: a handler that waits twice blocks the
// second time beside its executor's new owner, holding its goroutine (a
// pinned thread) all the same, and counts against MaxBlocked: it did not,
// so any number of handlers (an actor's turn goes on after a wait the same
// way) blocked at once past the bound (found by review).
func TestMaxBlockedCountsASecondWait(t *testing.T) {
	const maxBlocked, n = 2, 8
	rt := start(t, Config{Cores: 2, Affinity: Off, MaxBlocked: maxBlocked, StallAfter: -1})
	bg := context.Background()
	release := make(chan struct{})
	gate := must(Define(rt, "gate", func(ctx context.Context, _ int) (int, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 0, nil
	}, WithBlocking()))
	fast := must(Define(rt, "fast", func(context.Context, int) (int, error) { return 1, nil }, OnExecutor(1)))
	entered := make(chan struct{}, n)
	twice := must(Define(rt, "twice", func(ctx context.Context, _ int) (int, error) {
		_, err := must(fast.Submit(ctx, 0)).Wait(ctx) // hands the executor on, when it blocks
		entered <- struct{}{}
		if err != nil {
			return 0, err
		}
		_, err = must(gate.Submit(ctx, 0)).Wait(ctx)
		return 0, err
	}, OnExecutor(0)))
	toks := make([]*Token[int], n)
	for i := range toks {
		toks[i] = must(twice.Submit(bg, 0))
		<-entered // one at a time, each past its first wait before the next starts
	}
	// Until release, a handler past MaxBlocked is refused and its token
	// ends, and one blocked on the gate cannot end: so exactly
	// n-maxBlocked end first, all refused. (Closing release at once let a
	// last handler find its gate token done and count as waited.)
	ended := make(chan int, n)
	for i, tok := range toks {
		go func() { <-tok.Done(); ended <- i }()
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	for range n - maxBlocked {
		select {
		case i := <-ended:
			_, err := toks[i].Wait(bg)
			require.ErrorIs(t, err, ErrTooManyBlocked, "token %d", i)
		case <-ctx.Done():
			close(release) // so that the runtime's Stop drains
			t.Fatalf("fewer than %d handlers refused: more than MaxBlocked (%d) blocked at once", n-maxBlocked, maxBlocked)
		}
	}
	close(release)
	for range maxBlocked {
		i := <-ended
		_, err := toks[i].Wait(bg)
		require.NoError(t, err, "token %d blocked on the gate until release", i)
	}
}

// TestBlockingStopResolvesRetryWithItsError: a Stop whose context ends while
// a lane token waits out a retry backoff resolves it with its last
// attempt's error and counts it among the retries, as for a token of an
// executor. Found by review: the lane resolved it with ErrStopped.
func TestBlockingStopResolvesRetryWithItsError(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
	ctx := context.Background()
	errAttempt := errors.New("attempt failed")
	op := must(Define(rt, "flaky", func(context.Context, int) (int, error) {
		return 0, errAttempt
	}, WithBlocking(), WithRetry(1, time.Hour)))
	tok := must(op.Submit(ctx, 0))
	for { // until it waits out its backoff
		rt.lane.mu.Lock()
		n := len(rt.lane.retries)
		rt.lane.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	err := rt.Stop(done)
	require.ErrorContains(t, err, "1 tokens waiting to retry resolved with their last error")
	_, err = tok.Wait(ctx)
	require.ErrorIs(t, err, errAttempt)
	s := rt.Stats().Total
	require.Equal(t, uint64(1), s.Failed)
	require.Equal(t, uint64(0), s.Stopped)
}

// TestBlockingStopNamesResumedTokenRunning: a token held and resumed while
// it waited in the lane is queued there twice; one worker runs it and
// another skips the second entry. A Stop that gives up must still name its
// handler running. Found by review: the worker that skipped it forgot the
// one running it, and Stop returned nil with the token unresolved.
func TestBlockingStopNamesResumedTokenRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 2})
		ctx := context.Background()
		gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
		hold := must(Define(rt, "hold", func(_ context.Context, x int) (int, error) {
			<-gates[x]
			return 0, nil
		}, WithBlocking()))
		unstick := make(chan struct{})
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
			<-unstick // ignores its context
			return 0, nil
		}, WithBlocking()))
		must(hold.Submit(ctx, 0))
		must(hold.Submit(ctx, 1))
		synctest.Wait() // both workers busy
		tok := must(slow.Submit(ctx, 0))
		slow.Pause()
		slow.Resume() // queued again, its first entry still in the lane
		close(gates[0])
		synctest.Wait() // one worker runs it
		close(gates[1])
		synctest.Wait() // the other skipped its second entry and left
		done, cancel := context.WithCancel(ctx)
		cancel()
		err := rt.Stop(done)
		close(unstick)
		must(tok.Wait(ctx))
		require.ErrorContains(t, err, `("slow" x1)`)
	})
}

// TestBlockingHandlerWaitsOnTheLane: a lane handler waiting on tokens of
// the lane queued behind it (its own child, a group's, a Map's) hands its
// worker's place on, as an executor's handler hands its executor on, even
// with one worker. Found by review: the lane's only worker waited for a
// child that no worker would ever run.
func TestBlockingHandlerWaitsOnTheLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
		ctx := context.Background()
		var nest *Op[int, int]
		nest = must(Define(rt, "nest", func(ctx context.Context, depth int) (int, error) {
			if depth == 0 {
				return 1, nil
			}
			g := NewGroup(ctx, rt)
			var sum atomic.Int64
			for range 2 {
				Go(g, func(ctx context.Context) (int, error) {
					r, err := must(nest.Submit(ctx, depth-1)).Wait(ctx)
					sum.Add(int64(r))
					return r, err
				})
			}
			if err := g.Wait(); err != nil {
				return 0, err
			}
			for r, err := range MapUnordered(ctx, nest, slices.Values([]int{depth - 1})) {
				if err != nil {
					return 0, err
				}
				sum.Add(int64(r))
			}
			return int(sum.Load()), nil
		}, WithBlocking()))
		require.Equal(t, 27, must(must(nest.Submit(ctx, 3)).Wait(ctx)))
		synctest.Wait()
		rt.lane.mu.Lock()
		defer rt.lane.mu.Unlock()
		require.Zero(t, rt.lane.workers, "workers left once the lane is idle")
	})
}

// TestLaneGivesABurstsMemoryBack: once a burst drained, the lane's queue
// and its list of workers keep at most laneKeep slots of what they grew
// to (two thousand tokens waiting behind two workers, then a thousand
// workers at once).
func TestLaneGivesABurstsMemoryBack(t *testing.T) {
	for _, c := range []struct {
		name           string
		workers, burst int
	}{{"queue", 2, 2000}, {"workers", 1000, 1000}} {
		t.Run(c.name, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: c.workers, MailboxSize: 4096})
			gate := make(chan struct{})
			op := must(Define(rt, "gated", func(_ context.Context, x int) (int, error) {
				<-gate
				return x, nil
			}, WithBlocking()))
			bg := context.Background()
			toks := make([]*Token[int], c.burst)
			for i := range toks {
				toks[i] = must(op.Submit(bg, i))
			}
			rt.lane.mu.Lock()
			grew := max(cap(rt.lane.q), cap(rt.lane.working))
			rt.lane.mu.Unlock()
			require.Greater(t, grew, laneKeep, "the burst grew the lane")
			close(gate)
			for i, tok := range toks {
				v, err := tok.Wait(bg)
				require.NoError(t, err)
				require.Equal(t, i, v)
			}
			rt.lane.mu.Lock()
			idle := rt.lane.idle
			rt.lane.mu.Unlock()
			<-idle // every worker gone
			rt.lane.mu.Lock()
			defer rt.lane.mu.Unlock()
			require.LessOrEqual(t, cap(rt.lane.q), laneKeep)
			require.LessOrEqual(t, cap(rt.lane.working), laneKeep)
		})
	}
}

// TestBlockingGoexitHandsTheLaneOn: a lane handler that calls
// runtime.Goexit ends its worker, and the tokens queued behind it still
// run, with one worker.
func TestBlockingGoexitHandsTheLaneOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
		ctx := context.Background()
		gate := make(chan struct{})
		op := must(Define(rt, "exit", func(_ context.Context, x int) (int, error) {
			if x == 0 {
				<-gate
				runtime.Goexit()
			}
			return x, nil
		}, WithBlocking()))
		exits := must(op.Submit(ctx, 0))
		synctest.Wait() // the one worker runs it
		next := must(op.Submit(ctx, 1))
		close(gate)
		_, err := exits.Wait(ctx)
		require.ErrorIs(t, err, ErrGoexit)
		waited, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		v, err := next.Wait(waited)
		require.NoError(t, err, "the token queued behind it never ran")
		require.Equal(t, 1, v)
	})
}

// TestBlockingResumedWorkerPastMaxRetires: a worker started in the place
// of one whose handler blocked makes one more than BlockingWorkers once
// that handler runs again; the first of the two to look at the queue
// afterwards leaves, so the tokens queued meanwhile still run one at a
// time.
func TestBlockingResumedWorkerPastMaxRetires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
		ctx := context.Background()
		g := newGated(t, rt)
		inner := make(chan struct{})
		t.Cleanup(func() { // before start's Stop, on a failure
			for _, c := range []chan struct{}{inner, g.gate} {
				select {
				case <-c:
				default:
					close(c)
				}
			}
		})
		var outer *Op[int, int]
		outer = must(Define(rt, "outer", func(ctx context.Context, x int) (int, error) {
			if x == 1 {
				<-inner
				return 1, nil
			}
			return must(outer.Submit(ctx, 1)).Wait(ctx) // hands the worker's place on
		}, WithBlocking()))
		tok := must(outer.Submit(ctx, 0))
		synctest.Wait() // 0 waits on 1, which a second worker runs
		gated := []*Token[int]{must(g.op.Submit(ctx, 0)), must(g.op.Submit(ctx, 1))}
		close(inner)
		require.Equal(t, 1, must(tok.Wait(ctx)))
		synctest.Wait()
		require.Equal(t, int32(1), g.running.Load(), "two workers past BlockingWorkers (1) went on")
		close(g.gate)
		for _, tok := range gated {
			must(tok.Wait(ctx))
		}
		require.Equal(t, int32(1), g.most.Load())
	})
}

// TestNestedBlockOnTheLaneCountsOnce: a lane handler blocking inside its
// own block (a Request, blocked, whose Tell then waits for room) is one
// handler held, as on an executor (actors' TestNestedBlockCountsOnce):
// with MaxBlocked 1 the inner block is not refused.
func TestNestedBlockOnTheLaneCountsOnce(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MaxBlocked: 1})
	op := must(Define(rt, "nests", func(context.Context, int) (int, error) {
		outer, err := actors.Block()
		if err != nil {
			return 0, err
		}
		defer outer()
		inner, err := actors.Block()
		if err != nil {
			return 0, fmt.Errorf("inner: %w", err)
		}
		inner()
		return 1, nil
	}, WithBlocking()))
	bg := context.Background()
	for range 2 { // and the count came back to 0 after the first
		require.Equal(t, 1, must(must(op.Submit(bg, 0)).Wait(bg)))
	}
}

// TestLaneQueueThatNeverDrainsStaysBounded: a lane under steady load,
// whose worker takes a token as a submitter queues the next, never finds
// its queue empty; its memory stays within a few times the tokens that
// wait. Found by review: the queue kept every slot its workers had taken
// until it drained, and grew by one a token for as long as it did not.
func TestLaneQueueThatNeverDrainsStaysBounded(t *testing.T) {
	const bound = 4
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1, MailboxSize: bound})
	ctx := context.Background()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	op := must(Define(rt, "steady", func(_ context.Context, x int) (int, error) {
		select {
		case started <- struct{}{}:
			<-release
		case <-done:
		}
		return x, nil
	}, WithBlocking()))
	var toks []*Token[int]
	for i := range bound + 1 { // one running, the lane full behind it
		toks = append(toks, must(op.Submit(ctx, i)))
	}
	<-started
	for i := range 4 * laneKeep {
		release <- struct{}{} // its worker takes the next token ...
		<-started
		toks = append(toks, must(op.Submit(ctx, i))) // ... and one more fills the lane
		if i%2 == 0 {
			release <- struct{}{}
			<-started
			toks = append(toks, must(op.SubmitFirst(ctx, i)))
		}
	}
	rt.lane.mu.Lock()
	n, held := cap(rt.lane.q), rt.lane.heldLocked()
	rt.lane.mu.Unlock()
	close(done)
	close(release)
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	require.Equal(t, bound, held, "the lane stayed full")
	require.LessOrEqual(t, n, 4*bound, "the queue's memory grew with the tokens that went through it")
}
