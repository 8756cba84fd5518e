package coregate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// stopHookCtx is a context that never ends but implements AfterFunc, so the
// stop function of a context.AfterFunc registered on it (SubmitAfter's
// watch) calls onStop: a seam to pause delays.fire between popping a due
// token (under ds.mu) and delivering it.
type stopHookCtx struct {
	context.Context
	done   chan struct{}
	onStop func()
}

func newStopHookCtx(onStop func()) *stopHookCtx {
	return &stopHookCtx{Context: context.Background(), done: make(chan struct{}), onStop: onStop}
}
func (c *stopHookCtx) Done() <-chan struct{} { return c.done }
func (c *stopHookCtx) Err() error            { return nil }
func (c *stopHookCtx) AfterFunc(func()) func() bool {
	var once sync.Once
	return func() bool { once.Do(c.onStop); return true }
}

func balanced(c Counts) bool {
	return c.Submitted == c.Succeeded+c.Failed+c.Panicked+c.Cancelled+c.Stopped
}

// TestDelayFireRacingStop: delays.fire pops a due token, unlocks and only
// then delivers it. A Stop that ran in between neither saw it (delays.stop)
// nor waited for it (the drain), and returned nil with the token
// unresolved; on the blocking lane its handler then ran after Stop returned
// (found by review). Stop now waits for a fire in progress.
func TestDelayFireRacingStop(t *testing.T) {
	for name, opts := range map[string][]Option{"executors": nil, "blocking lane": {WithBlocking()}} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1})
				require.NoError(t, err)
				var stopped atomic.Bool
				var ranAfterStop atomic.Bool
				op := must(Define(rt, "op", func(context.Context, int) (int, error) {
					if stopped.Load() {
						ranAfterStop.Store(true)
					}
					return 1, nil
				}, opts...))
				inFire, release := make(chan struct{}), make(chan struct{})
				ctx := newStopHookCtx(func() { close(inFire); <-release })
				tok := must(op.SubmitAfter(ctx, time.Millisecond, 0))
				<-inFire // fire popped the token and waits before delivering it
				stopErr := make(chan error, 1)
				go func() { stopErr <- rt.Stop(context.Background()) }()
				synctest.Wait() // a Stop that waits for the fire in progress is blocked
				select {
				case err := <-stopErr:
					close(release) // let the fire end, or the bubble deadlocks
					t.Fatalf("Stop returned %v with a fire in progress, its token unresolved", err)
				default:
				}
				close(release)
				err = <-stopErr
				stopped.Store(true)
				atStop := rt.Stats().Total
				select {
				case <-tok.Done():
				default:
					t.Fatalf("Stop returned %v with the token unresolved", err)
				}
				require.NoError(t, err)
				synctest.Wait() // anything left would run now
				require.False(t, ranAfterStop.Load(), "handler ran after Stop returned")
				require.True(t, balanced(atStop))
			})
		})
	}
}

// TestResumeRacingStop: Resume took the held tokens under p.mu and
// delivered them after unlocking; a Stop in between found nothing held
// (pauses.stop), drained and returned nil while some resumed tokens were
// still parked, unresolved, or ran after it on the lane (found by review; a
// stress test). Resume now delivers under p.mu, which Stop's drop takes.
func TestResumeRacingStop(t *testing.T) {
	for name, opts := range map[string][]Option{"executors": nil, "blocking lane": {WithBlocking()}} {
		t.Run(name, func(t *testing.T) {
			bg := context.Background()
			fails := 0
			var ranAfter int64
			const runs = 200
			for range runs {
				rt, err := Start(Config{Cores: 1, Affinity: Off})
				require.NoError(t, err)
				var stopped atomic.Bool
				var after atomic.Int64
				op := must(Define(rt, "op", func(context.Context, int) (int, error) {
					if stopped.Load() {
						after.Add(1)
					}
					return 1, nil
				}, opts...))
				op.Pause()
				toks := make([]*Token[int], 1000)
				for i := range toks {
					toks[i] = must(op.Submit(bg, i))
				}
				go op.Resume()
				err = rt.Stop(bg)
				stopped.Store(true)
				atStop := rt.Stats().Total
				pending := 0
				for _, tok := range toks {
					select {
					case <-tok.Done():
					default:
						pending++
					}
				}
				if err == nil && (pending > 0 || !balanced(atStop)) {
					fails++
				}
				for _, tok := range toks {
					_, _ = tok.Wait(bg)
				}
				ranAfter += after.Load()
			}
			if fails > 0 || ranAfter > 0 {
				t.Errorf("%d of %d Stops returned nil with resumed tokens unresolved; %d handlers ran after Stop returned", fails, runs, ranAfter)
			}
		})
	}
}

// TestLaneAbortGap: a lane worker took a token in next() and only then
// added it to l.running in run(). A lane.stop abort in that gap neither
// resolved it (off l.q) nor cancelled it (not in l.running): its handler
// started after the abort, and when it failed and was retried, retryAfter
// queued it again on the aborted lane, where no worker took it any more: it
// never resolved (found by review; a stress test, failing within a few
// runs before). The lane counts a token running as it takes it, resolves
// one not yet begun as it aborts, and resolves a retry after an abort.
func TestLaneAbortGap(t *testing.T) {
	bg := context.Background()
	var uncancelled, stuck, runs int
	for runs < 100 && stuck == 0 {
		runs++
		rt, err := Start(Config{Cores: 1, Affinity: Off, BlockingWorkers: 4})
		require.NoError(t, err)
		var late atomic.Int64
		var lateIDs sync.Map
		op := must(Define(rt, "op", func(ctx context.Context, _ int) (int, error) {
			rt.lane.mu.Lock()
			aborted := rt.lane.aborted
			rt.lane.mu.Unlock()
			if aborted && ctx.Err() == nil {
				// Started after the abort: a token the abort knew of as
				// running has its context cancelled within microseconds.
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond): // < supervisor.DefaultGrace
					late.Add(1)
					lateIDs.Store(ctx.(*actors.Task).ID(), true)
				}
			}
			return 0, errors.New("fail")
		}, WithBlocking(), WithRetry(1, time.Millisecond)))
		toks := make([]*Token[int], 2000)
		for i := range toks {
			toks[i] = must(op.Submit(bg, i))
		}
		sctx, cancel := context.WithTimeout(bg, 200*time.Microsecond)
		_ = rt.Stop(sctx)
		cancel()
		uncancelled += int(late.Load())
		wctx, wcancel := context.WithTimeout(bg, time.Second)
		for _, tok := range toks {
			if _, err := tok.Wait(wctx); errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil {
				stuck++
				_, wasLate := lateIDs.Load(tok.ID())
				rt.lane.mu.Lock()
				t.Logf("token %d unresolved 1s after Stop (its handler ran after the abort, never cancelled: %v); lane aborted=%v, queued=%d, workers=%d",
					tok.ID(), wasLate, rt.lane.aborted, len(rt.lane.q)-rt.lane.head, rt.lane.workers)
				rt.lane.mu.Unlock()
				break
			}
		}
		wcancel()
	}
	// uncancelled is a hint only (a slow lane.stop may take 50ms to reach
	// Cancel); a stuck token is the failure.
	t.Logf("%d runs: %d handlers started after the lane aborted and were not cancelled by it within 50ms, %d stuck tokens", runs, uncancelled, stuck)
	if stuck > 0 {
		t.Fail()
	}
}

// TestStopAsALaneTokenIsTakenNotBegun: a Stop whose context has ended
// that comes as a lane worker has taken a token and has yet to begin it
// resolves it with ErrStopped and reports it among the stopped tokens, not
// as a handler it cancelled: its handler never runs, and Stop's report and
// Stats add up.
func TestStopAsALaneTokenIsTakenNotBegun(t *testing.T) {
	defer func() { laneTook = nil }()
	rt, err := Start(Config{Cores: 1, Affinity: Off, StallAfter: -1})
	require.NoError(t, err)
	var ran atomic.Bool
	op := must(Define(rt, "op", func(context.Context, int) (int, error) {
		ran.Store(true)
		return 0, nil
	}, WithBlocking()))
	bg := context.Background()
	took, begin := make(chan struct{}), make(chan struct{})
	laneTook = func() { // on the worker: it waits to begin until Stop resolved the token
		close(took)
		<-begin
	}
	tok := must(op.Submit(bg, 0))
	<-took
	go func() {
		_, _ = tok.Wait(bg)
		close(begin)
	}()
	done, cancel := context.WithCancel(bg)
	cancel()
	err = rt.Stop(done)
	var se *supervisor.StopError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 1, se.Stopped, "%v", err)
	require.Zero(t, se.Cancelled, "%v", err)
	require.Empty(t, se.Running)
	_, err = tok.Wait(bg)
	require.ErrorIs(t, err, ErrStopped)
	require.False(t, ran.Load(), "its handler ran after Stop resolved it")
	require.Equal(t, uint64(1), rt.Stats().Total.Stopped)
	requireBalanced(t, rt)
}

// TestStopReportsCancelledHandlers: Stop's context ends while the only
// work is one running handler (of an op, of the blocking lane, or an
// actor's Receive) that returns as soon as its context is cancelled,
// within the grace; nothing is queued. Stop cancelled it, so it cut it
// short: Stop reports it (StopError.Cancelled) rather than nil. Found by
// review: Stop returned nil, as if nothing had been cut short.
func TestStopReportsCancelledHandlers(t *testing.T) {
	untilCancelled := func(ctx context.Context, running chan<- struct{}) error {
		close(running)
		<-ctx.Done()
		return ctx.Err()
	}
	for _, tc := range []struct {
		name  string
		start func(rt *Runtime, running chan<- struct{}) func() error // returns the work's result
	}{
		{"op", func(rt *Runtime, running chan<- struct{}) func() error {
			op := must(Define(rt, "op", func(ctx context.Context, _ int) (int, error) { return 0, untilCancelled(ctx, running) }))
			tok := must(op.Submit(context.Background(), 0))
			return func() error { _, err := tok.Wait(context.Background()); return err }
		}},
		{"blocking", func(rt *Runtime, running chan<- struct{}) func() error {
			op := must(Define(rt, "op", func(ctx context.Context, _ int) (int, error) { return 0, untilCancelled(ctx, running) }, WithBlocking()))
			tok := must(op.Submit(context.Background(), 0))
			return func() error { _, err := tok.Wait(context.Background()); return err }
		}},
		{"actor", func(rt *Runtime, running chan<- struct{}) func() error {
			ref := must(Spawn(rt, "a", func() Actor[int, int] { return &untilStop{running} }))
			tok := must(ref.Ask(context.Background(), 0))
			return func() error { _, err := tok.Wait(context.Background()); return err }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, err := Start(Config{Cores: 1, Affinity: Off, StallAfter: -1})
				require.NoError(t, err)
				running := make(chan struct{})
				result := tc.start(rt, running)
				<-running
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				err = rt.Stop(ctx)
				var se *supervisor.StopError
				require.ErrorAs(t, err, &se, "Stop cancelled a running handler: not nil")
				require.ErrorIs(t, err, context.Canceled)
				require.Equal(t, 1, se.Cancelled, "%v", err)
				require.Empty(t, se.Running)
				require.Zero(t, se.Stopped)
				require.ErrorContains(t, err, "1 running handlers cancelled (returned within the grace)")
				require.ErrorIs(t, result(), context.Canceled)
				requireBalanced(t, rt)
			})
		})
	}
}

// untilStop is an actor whose Receive says it runs, then returns once its
// context is cancelled.
type untilStop struct{ running chan<- struct{} }

func (u *untilStop) Receive(c *ActorContext, _ int) (int, error) {
	close(u.running)
	<-c.Done()
	return 0, c.Err()
}

// TestStopWaitsForAHandOffHelperStarting: a handler that blocks hands its
// executor to a helper goroutine, which enters the executor's group once it
// runs (pinned first). When the handler returned and its goroutine left
// before the helper entered, a stopping group found none of its goroutines
// running and took its drain for done: Stop returned nil with the token
// queued behind the handler unresolved, and the helper ran it after Stop
// returned (found by review: Stats().Total.Queued was not zero after Stop).
// Here the helper's pin waits until the Stop has had every chance to
// return.
func TestStopWaitsForAHandOffHelperStarting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pins atomic.Int32
		helperPinning, release := make(chan struct{}), make(chan struct{})
		defer faults.SetPin(func(int) error {
			if pins.Add(1) == 2 { // the first is the executor's launch
				close(helperPinning)
				<-release
			}
			return nil
		})()
		rt, err := Start(Config{Cores: 1, Affinity: BestEffort, IdleSpin: -1})
		require.NoError(t, err)
		ctx := context.Background()
		held := must(Define(rt, "held", func(context.Context, int) (int, error) { return 0, nil }))
		held.Pause()
		heldTok := must(held.Submit(ctx, 0))
		waiter := must(Define(rt, "waiter", func(ctx context.Context, _ int) (int, error) {
			return heldTok.Wait(ctx) // hands the executor on
		}))
		rec := newRunLog(t, rt, "rec")
		waiterTok := must(waiter.Submit(ctx, 0))
		<-helperPinning
		behind := must(rec.op.Submit(ctx, 1)) // queued for the helper
		var stopErr error
		stopped := make(chan struct{})
		go func() {
			stopErr = rt.Stop(ctx) // resolves heldTok: the waiter returns
			close(stopped)
		}()
		synctest.Wait()
		select {
		case <-stopped:
			close(release)
			t.Fatalf("Stop returned %v before the executor's helper started; the token behind the waiter resolved: %v", stopErr, isDone(behind))
		default:
		}
		close(release)
		<-stopped
		require.NoError(t, stopErr)
		_, err = waiterTok.Wait(ctx)
		require.ErrorIs(t, err, ErrStopped)
		require.Equal(t, 1, must(behind.Wait(ctx)))
		require.Equal(t, []int{1}, rec.order())
		requireBalanced(t, rt)
	})
}

// TestSubmitOnceStopBeganIsRefused: a Submit once Stop began returns
// ErrStopped, also before Stop closed the mailboxes (here while it waits
// for a delayed token's fire in progress), and Define does too.
func TestSubmitOnceStopBeganIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		op := must(Define(rt, "op", where[int]))
		inFire, release := make(chan struct{}), make(chan struct{})
		must(op.SubmitAfter(newStopHookCtx(func() { close(inFire); <-release }), time.Millisecond, 0))
		<-inFire // fire popped the token and waits before delivering it
		stopErr := make(chan error, 1)
		go func() { stopErr <- rt.Stop(bg) }()
		synctest.Wait() // Stop waits for the fire, the mailboxes still open
		_, err = op.Submit(bg, 1)
		_, derr := Define(rt, "late", where[int])
		close(release)
		require.ErrorIs(t, err, ErrStopped, "Submit once Stop began")
		require.ErrorIs(t, derr, ErrStopped, "Define once Stop began")
		require.NoError(t, <-stopErr)
		requireBalanced(t, rt)
	})
}
