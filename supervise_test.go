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

	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// requireOn requires tok to have been placed on executor want and returns it.
func requireOn[R any](t *testing.T, want int, tok *Token[R]) *Token[R] {
	t.Helper()
	require.Equal(t, want, tok.Executor(), "token placed on executor %d, want %d", tok.Executor(), want)
	return tok
}

// alternate is for a fresh runtime of two healthy executors, where the k-th
// Heavy token goes to executor k mod 2. It returns at0, which requires the
// Heavy token just submitted to be on executor 0, then submits a filler
// Heavy token that must land on executor 1, so that the next Heavy token
// lands on executor 0 again. Every Heavy token a test submits must go through
// at0 or come in pairs, to keep the count even.
func alternate(t *testing.T, rt *Runtime) (at0 func(*Token[int]) *Token[int]) {
	filler := must(Define(rt, "filler", where[int]))
	return func(tok *Token[int]) *Token[int] {
		t.Helper()
		requireOn(t, 0, tok)
		requireOn(t, 1, must(filler.Submit(context.Background(), 0)))
		return tok
	}
}

// on0 reports whether the handler whose context ctx is runs on executor 0.
func on0(ctx context.Context) bool { e, _ := CurrentExecutor(ctx); return e == 0 }

// executor0Ops defines "block", which on executor 0 blocks until unblock is
// called, and "crash", which on executor 0 makes the executor's own loop fail
// right after the token (through the faults seam: no handler can do that);
// elsewhere both return at once. Both are Heavy: tests place them on
// executor 0 with alternate.
func executor0Ops(t *testing.T, rt *Runtime) (block, crash *Op[int, int], unblock func()) {
	release := make(chan struct{})
	unblock = sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // a failed test must not leave Stop waiting on the blocker
	var armed atomic.Bool
	t.Cleanup(faults.SetLoop(func(exec int) error {
		if exec == 0 && armed.CompareAndSwap(true, false) {
			return errLoop
		}
		return nil
	}))
	block = must(Define(rt, "block", func(ctx context.Context, _ int) (int, error) {
		if on0(ctx) {
			<-release
		}
		return 0, nil
	}))
	crash = must(Define(rt, "crash", func(ctx context.Context, _ int) (int, error) {
		if on0(ctx) {
			armed.Store(true)
		}
		return 0, nil
	}))
	return block, crash, unblock
}

var errLoop = errors.New("injected loop failure")

type ran struct {
	seq, exec int
}

// recorder collects, per key, the order tokens ran in and where.
type recorder struct {
	mu  sync.Mutex
	got map[string][]ran
}

func (r *recorder) add(ctx context.Context, key string, seq int) {
	e, _ := CurrentExecutor(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = make(map[string][]ran)
	}
	r.got[key] = append(r.got[key], ran{seq, e})
}

func (r *recorder) runs(key string) []ran {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[key])
}

// TestDownExecutorMovesItsQueue: executor 0 crashes past its policy with
// plain tokens, a sticky key's tokens and a seed's children queued on it,
// each placed there by the known order of Heavy placement. They all run on
// executor 1, the key's and the seed's in their order, the event says how
// many moved, and new work of every class goes to executor 1. Two unpinned
// executors run on any machine; the watchdog is off, so executor 0 stays
// healthy however long the blocker holds it while the test queues work.
func TestDownExecutorMovesItsQueue(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1}, IdleSpin: -1})
	downs, stop := testkit.Subscribe(rt.Engine(), testkit.Is[supervisor.ExecutorDown])
	defer stop()
	bg := context.Background()
	var rec recorder
	block, crash, unblock := executor0Ops(t, rt)
	at0 := alternate(t, rt)
	type kv struct{ key, seq int }
	keyed := must(Define(rt, "keyed", func(ctx context.Context, a kv) (int, error) {
		rec.add(ctx, fmt.Sprint("key", a.key), a.seq)
		return a.seq, nil
	}, WithStickyKey(func(a kv) uint64 { return uint64(a.key) })))
	child := must(Define(rt, "child", func(ctx context.Context, seq int) (int, error) {
		rec.add(ctx, "child", seq)
		return seq, nil
	}, WithWeight(Light)))
	var children []*Token[int]
	lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (int, error) {
		// The children outlive the lead's handler: detach them from its
		// cancellation, keeping its values (the seed).
		detached := context.WithoutCancel(ctx)
		for i := range 10 {
			children = append(children, must(child.Submit(detached, i)))
		}
		return 0, nil
	}, WithAnchor("child")))
	plain := must(Define(rt, "plain", where[int]))

	// Executor 0's queue, in order: the blocker (running), the lead, two
	// crashes, 10 plain tokens, the key's 20 tokens; the lead adds its 10
	// children when it runs. The first crash restarts executor 0, the second
	// takes it down with 40 tokens queued behind it.
	blocker := at0(must(block.Submit(bg, 0)))
	leadTok := at0(must(lead.Submit(bg, 0)))
	crashes := []*Token[int]{at0(must(crash.Submit(bg, 0))), at0(must(crash.Submit(bg, 0)))}
	var plainOn0 []*Token[int]
	for range 10 {
		plainOn0 = append(plainOn0, at0(must(plain.Submit(bg, 0))))
	}
	// The key's first token takes the next Heavy position, executor 0, as its
	// pin; the others follow the pin.
	const key = 7
	var keyedToks []*Token[int]
	for i := range 20 {
		keyedToks = append(keyedToks, requireOn(t, 0, must(keyed.Submit(bg, kv{key, i}))))
	}
	unblock()

	ev, ok := (<-downs).(supervisor.ExecutorDown)
	require.True(t, ok)
	require.Equal(t, 0, ev.Index)
	require.Equal(t, 10+20+10, ev.Rerouted, "plain, keyed and child tokens move")
	for _, tok := range append(append([]*Token[int]{blocker, leadTok}, crashes...), keyedToks...) {
		_, err := tok.Wait(bg)
		require.NoError(t, err)
	}
	for _, tok := range plainOn0 {
		require.Equal(t, 1, must(tok.Wait(bg)), "a moved plain token runs on executor 1")
	}
	require.Len(t, children, 10)
	for _, tok := range children {
		_, err := tok.Wait(bg)
		require.NoError(t, err)
		require.Equal(t, 1, tok.Executor(), "a moved token reports its new executor")
	}
	for _, k := range []struct {
		name string
		n    int
	}{{fmt.Sprint("key", key), 20}, {"child", 10}} {
		runs := rec.runs(k.name)
		require.Len(t, runs, k.n, "%s tokens run", k.name)
		for i, r := range runs {
			require.Equal(t, ran{i, 1}, r, "%s tokens run in order on executor 1: %v", k.name, runs)
		}
	}
	require.True(t, rt.Executors()[0].Down)
	for _, w := range []Weight{Heavy, Medium, Light} {
		op := must(Define(rt, fmt.Sprint("after-", w), where[int], WithWeight(w)))
		for range 4 {
			require.Equal(t, 1, run(t, op, bg, 0), "%v token after executor 0 went down", w)
		}
	}
	// The key's pin moved with it.
	require.Equal(t, 1, must(keyed.Submit(bg, kv{key, 20})).Executor())
	s := rt.Stats()
	require.Equal(t, uint64(40), s.Executors[0].Rerouted)
}

// TestRoutingAvoidsRestartingAndStalledFakeClock: unpinned work avoids an
// executor waiting out a restart backoff, and one running a stalled token,
// and comes back to it once it recovers: Heavy tokens alternate 0, 1, 0, 1...
// while both are healthy and all go to executor 1 meanwhile.
func TestRoutingAvoidsRestartingAndStalledFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{
			Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond, IdleSpin: -1,
			Restart: RestartPolicy{Backoff: time.Second, MaxBackoff: time.Second},
		})
		require.NoError(t, err)
		bg := context.Background()
		_, crash, _ := executor0Ops(t, rt)
		at0 := alternate(t, rt)
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
			time.Sleep(time.Second)
			return 0, nil
		}))
		plain := must(Define(rt, "plain", where[int]))
		// spread submits six Heavy tokens (an even count, as at0 needs) and
		// returns where they were placed.
		spread := func() []int {
			var got []int
			for range 6 {
				got = append(got, must(plain.Submit(bg, 0)).Executor())
			}
			synctest.Wait()
			return got
		}
		require.Equal(t, []int{0, 1, 0, 1, 0, 1}, spread())

		for range 2 { // the second crash in the window waits out a backoff
			_, err := at0(must(crash.Submit(bg, 0))).Wait(bg)
			require.NoError(t, err)
			synctest.Wait()
		}
		// avoided checks that work avoids executor 0 while unhealthy says so,
		// and spreads again once it is healthy, a second later.
		avoided := func(what string, unhealthy func(ExecutorInfo) bool) {
			require.True(t, unhealthy(rt.Executors()[0]), what)
			require.Equal(t, []int{1, 1, 1, 1, 1, 1}, spread(), "work avoids a %s executor", what)
			time.Sleep(time.Second)
			synctest.Wait()
			require.False(t, unhealthy(rt.Executors()[0]), what)
			require.Equal(t, []int{0, 1, 0, 1, 0, 1}, spread(), "work spreads again once executor 0 is no longer %s", what)
		}
		avoided("restarting", func(i ExecutorInfo) bool { return i.Restarting })

		at0(must(slow.Submit(bg, 0)))
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		avoided("stalled", func(i ExecutorInfo) bool { return i.Stalled })

		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}

// TestDownAndRerouteFakeClock: on the fake clock, executor 0 restarts at once,
// then after its backoff, and the crash past its policy takes it down at once
// (no backoff): the tokens queued behind that crash run on executor 1, in
// order, and the ranges have shrunk to executor 1.
func TestDownAndRerouteFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{
			Cores: 2, Affinity: Off, StallAfter: -1, IdleSpin: -1,
			Restart: RestartPolicy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second, MaxBackoff: time.Second},
		})
		require.NoError(t, err)
		bg := context.Background()
		block, crash, unblock := executor0Ops(t, rt)
		at0 := alternate(t, rt)
		var rec recorder
		type kv struct{ key, seq int }
		seq := must(Define(rt, "seq", func(ctx context.Context, a kv) (int, error) {
			rec.add(ctx, fmt.Sprint(a.key), a.seq)
			return a.seq, nil
		}, WithStickyKey(func(a kv) uint64 { return uint64(a.key) })))
		fail := func() time.Time {
			_, err := at0(must(crash.Submit(bg, 0))).Wait(bg)
			require.NoError(t, err)
			return time.Now()
		}
		t0 := fail()
		synctest.Wait()
		require.False(t, rt.Executors()[0].Restarting, "the first restart is immediate")
		t1 := fail()
		synctest.Wait()
		require.True(t, rt.Executors()[0].Restarting)
		time.Sleep(time.Second)
		synctest.Wait()
		require.False(t, rt.Executors()[0].Restarting, "restarted within its 0.5-1 s backoff")
		require.Less(t, t1.Sub(t0), time.Second)

		// Queue a sticky key's tokens behind a third crash.
		at0(must(block.Submit(bg, 0)))
		crashTok := at0(must(crash.Submit(bg, 0)))
		// The key's first token takes the next Heavy position, executor 0, as
		// its pin; its 7 other tokens follow the pin.
		const key = 1
		var toks []*Token[int]
		for i := range 8 {
			toks = append(toks, requireOn(t, 0, must(seq.Submit(bg, kv{key, i}))))
		}
		unblock()
		_, err = crashTok.Wait(bg)
		require.NoError(t, err)
		downAt := time.Now()
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		require.Equal(t, downAt, time.Now(), "down without waiting")
		for _, tok := range toks {
			_, err := tok.Wait(bg)
			require.NoError(t, err)
			require.Equal(t, 1, tok.Executor())
		}
		runs := rec.runs(fmt.Sprint(key))
		require.Len(t, runs, 8)
		for i, r := range runs {
			require.Equal(t, ran{i, 1}, r, "sticky tokens moved in order: %v", runs)
		}
		require.Equal(t, uint64(8), rt.Stats().Executors[0].Rerouted)
		for _, w := range []Weight{Heavy, Medium, Light} {
			require.Equal(t, []int{1}, rt.router.Eligible(w))
		}
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}

// TestStallMovesGroupTokens: the plain tokens queued behind a stall move to
// a healthy executor also when submitted through a Group (or Map), whose
// tokens carry a ticket only to be watched: they waited out the stall as if
// pinned (found by review).
func TestStallMovesGroupTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) { time.Sleep(time.Second); return 0, nil }))
		plain := must(Define(rt, "plain", where[int]))
		require.Equal(t, 0, must(slow.Submit(bg, 0)).Executor())
		g := NewGroup(bg, rt)
		var onStalled []*Token[int]
		for range 4 { // Heavy alternates over both: half land behind the slow token
			if tok := must(Add(g, plain, 0)); tok.Executor() == 0 {
				onStalled = append(onStalled, tok)
			}
		}
		require.NotEmpty(t, onStalled)
		time.Sleep(200 * time.Millisecond) // the watchdog sees the stall
		synctest.Wait()
		for i, tok := range onStalled {
			require.Equal(t, 1, must(tok.Wait(bg)), "group token %d waited out the stall", i)
		}
		require.NoError(t, g.Wait())
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}

// TestStolenTokenRunsWhereItSays: a steal off a stalled executor marks the
// tokens of its batch moved one by one while the stalled executor, its
// handler returned, goes on through that batch and claims some first. Such
// a token runs where it was claimed, and its handler's context says so:
// CurrentExecutor (and PerCore.Get) named the executor it was marked moved
// to, so two threads shared one PerCore value (found by review; a stress
// test, failing within a few trials before).
func TestStolenTokenRunsWhereItSays(t *testing.T) {
	const fastN = 300
	for trial := 0; trial < 10 && !t.Failed(); trial++ {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 20 * time.Millisecond, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		counts := must(NewPerCore(rt, func(int) int { return 0 }))
		gate, in := make(chan struct{}), make(chan struct{})
		gateOp := must(Define(rt, "gate", func(context.Context, int) (int, error) { close(in); <-gate; return 0, nil }, WithWeight(Light)))
		slow := must(Define(rt, "slow", func(ctx context.Context, _ int) (int, error) {
			e, _ := CurrentExecutor(ctx)
			for !rt.Executors()[e].Stalled { // the watchdog steals what queued behind it
				runtime.Gosched()
			}
			return 0, nil
		}, WithWeight(Light)))
		var changed atomic.Int32
		fast := must(Define(rt, "fast", func(ctx context.Context, _ int) (int, error) {
			e1, _ := CurrentExecutor(ctx)
			for range 20 {
				p := must(counts.Get(ctx))
				*p++ // the executor's own value: -race reports a second thread
			}
			if e2, _ := CurrentExecutor(ctx); e2 != e1 {
				changed.Add(1)
			}
			return e1, nil
		}, WithWeight(Light)))
		g := must(gateOp.Submit(bg, 0))
		<-in // what follows queues behind the gate, in one batch
		s := must(slow.Submit(bg, 0))
		toks := make([]*Token[int], fastN)
		for i := range toks {
			toks[i] = must(fast.Submit(bg, 0))
		}
		close(gate)
		for _, tok := range append(toks, g, s) {
			must(tok.Wait(bg))
		}
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
		require.Zero(t, changed.Load(), "trial %d: handlers saw their executor change while they ran", trial)
	}
}

// TestDownDuringStopCutsNothingShort: an executor past its restart
// intensity while a graceful Stop drains, after the others drained and
// exited, restarts instead of going down: down, its queue moved to
// mailboxes that had drained, its tokens were resolved with ErrStopped,
// and Stop, whose context never ended, returned nil (found by review).
func TestDownDuringStopCutsNothingShort(t *testing.T) {
	rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1}, IdleSpin: -1})
	require.NoError(t, err)
	stopped, unsub := testkit.Subscribe(rt.Engine(), func(ev any) bool {
		e, ok := ev.(supervisor.ExecutorStopped)
		return ok && e.Index == 1
	})
	defer unsub()
	bg := context.Background()
	block, crash, unblock := executor0Ops(t, rt)
	at0 := alternate(t, rt)
	plain := must(Define(rt, "plain", where[int]))
	toks := []*Token[int]{at0(must(block.Submit(bg, 0))), at0(must(crash.Submit(bg, 0))), at0(must(crash.Submit(bg, 0)))}
	for range 10 {
		toks = append(toks, at0(must(plain.Submit(bg, 0))))
	}
	stopErr := make(chan error, 1)
	go func() { stopErr <- rt.Stop(bg) }()
	<-stopped // executor 1 drained and exited
	unblock() // executor 0 crashes twice: past its intensity
	require.NoError(t, <-stopErr)
	for i, tok := range toks {
		_, err := tok.Wait(bg)
		require.NoError(t, err, "token %d", i)
	}
	requireBalanced(t, rt)
}

// TestStallStealRacingStop: a steal off a stalled executor that races a
// graceful Stop, whose other executor drains while tokens are moved to it
// one by one, cuts none short: a token the drained executor refuses goes
// back to the stalled one. They were resolved with ErrStopped while Stop,
// whose context never ended, returned nil (found by review). The faults
// seam holds the watchdog's steal once it has moved a token, Stop starts
// there, and the steal goes on once executor 1 has drained. Executor 1's
// ExecutorStopped waits for the watchdog, which the steal holds: the test
// learns of the drain through the seam too.
func TestStallStealRacingStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: 10 * time.Millisecond, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		held, goOn, drained, release := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
		let, unblock := sync.OnceFunc(func() { close(goOn) }), sync.OnceFunc(func() { close(release) })
		t.Cleanup(unblock) // a failed test must not leave Stop waiting on the stall
		t.Cleanup(let)
		holding := false // on the watchdog's goroutine only
		t.Cleanup(faults.SetSteal(func(moved int) {
			if moved == 1 && !holding {
				holding = true
				close(held)
				<-goOn
			}
		}))
		t.Cleanup(faults.SetDrained(func(exec int) {
			if exec == 1 {
				close(drained)
			}
		}))
		at0 := alternate(t, rt)
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) { <-release; return 0, nil }))
		fast := must(Define(rt, "fast", where[int]))
		s := at0(must(slow.Submit(bg, 0)))
		synctest.Wait() // executor 0 runs slow: the tokens below queue behind it
		toks := make([]*Token[int], 3)
		for i := range toks {
			toks[i] = at0(must(fast.Submit(bg, 0)))
		}
		select {
		case <-held: // the stall's steal moved toks[0] to executor 1 and waits
		case <-time.After(time.Minute):
			t.Fatal("no steal moved a token off the stalled executor")
		}
		stopErr := make(chan error, 1)
		go func() { stopErr <- rt.Stop(bg) }()
		<-drained // executor 1 ran toks[0] and refuses what comes next
		let()     // the steal goes on: toks[1:] go back to executor 0
		unblock()
		must(s.Wait(bg))
		require.NoError(t, <-stopErr)
		for i, tok := range toks {
			e, err := tok.Wait(bg)
			require.NoError(t, err, "token %d cut short by a Stop that returned nil", i)
			want := 0 // given back to the stalled executor
			if i == 0 {
				want = 1 // moved by the steal before Stop
			}
			require.Equal(t, want, e, "token %d ran on executor %d", i, e)
		}
		require.EqualValues(t, 1, rt.Stats().Executors[0].Rerouted, "the steal moved one token")
		requireBalanced(t, rt)
	})
}

// TestStallStealAnnouncesRoom: a steal that moves a stalled executor's
// queue frees room in its mailbox, and a Submit waiting for room places
// there at once. The room was never announced: the Submit waited for some
// other refill, here until the stalled handler ended (found by review).
func TestStallStealAnnouncesRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, MailboxSize: 2, IdleSpin: -1, StallAfter: 40 * time.Millisecond})
		require.NoError(t, err)
		bg := context.Background()
		gate := make(chan struct{})
		hold := func(context.Context, int) (int, error) { <-gate; return 0, nil }
		long0 := must(Define(rt, "long0", hold, OnExecutor(0)))
		long1 := must(Define(rt, "long1", hold, OnExecutor(1)))
		plain := must(Define(rt, "plain", func(_ context.Context, x int) (int, error) { return x, nil }))
		held := []*Token[int]{must(long0.Submit(bg, 0))}
		time.Sleep(20 * time.Millisecond) // executor 1 stalls later: healthy when 0's queue moves
		held = append(held, must(long1.Submit(bg, 0)))
		for {
			tok, err := plain.TrySubmit(1)
			if err != nil {
				require.ErrorIs(t, err, ErrFull)
				break
			}
			held = append(held, tok)
		}
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		tok, err := plain.Submit(ctx, 2)
		require.NoError(t, err, "Submit waited for room the steal freed")
		close(gate)
		for _, h := range append(held, tok) {
			must(h.Wait(bg))
		}
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}

// TestStopReportsRetryOnDownExecutorFakeClock: a token waiting out a retry
// backoff on an executor that then went down holds no draining executor
// back, so a graceful Stop finds the group idle while the retry never ran:
// Stop must say so (a *supervisor.StopError counting it), not return nil.
// Found by review: Stop resolved it with its last attempt's error and
// returned nil, whose context never ended.
func TestStopReportsRetryOnDownExecutorFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, IdleSpin: -1, Restart: RestartPolicy{MaxRestarts: 1}})
		require.NoError(t, err)
		bg := context.Background()
		_, crash, _ := executor0Ops(t, rt)
		at0 := alternate(t, rt)
		errFirst := errors.New("first attempt fails")
		var attempts atomic.Int32
		flaky := must(Define(rt, "flaky", func(ctx context.Context, _ int) (int, error) {
			if attempts.Add(1) == 1 {
				return 0, errFirst
			}
			return 1, nil
		}, WithRetry(1, time.Minute)))
		tok := at0(must(flaky.Submit(bg, 0)))
		synctest.Wait() // failed once: its retry waits out a minute
		for range 2 {   // executor 0 restarts, then goes down
			_, err := at0(must(crash.Submit(bg, 0))).Wait(bg)
			require.NoError(t, err)
			synctest.Wait()
		}
		require.True(t, rt.Executors()[0].Down)
		require.False(t, testkit.Finished(&tok.task), "the retry is still waiting")
		err = rt.Stop(bg)
		var se *supervisor.StopError
		if attempts.Load() == 1 {
			require.ErrorAs(t, err, &se, "the retry never ran, yet Stop reported nothing cut short")
			require.Equal(t, 1, se.Retries)
		}
		requireBalanced(t, rt)
	})
}

// TestRetryAfterHandOffRunsWhileStopping: a handler that handed its
// executor on while it waited (here on a token of the other executor) and
// then fails asks for a retry on its executor while a graceful Stop drains.
// The retry must run (Stop's context never ends), or Stop must say it was
// cut short. Found by review: the executor's owner had drained and exited
// meanwhile, not waiting for the handler beside it, so the retry found its
// mailbox drained and resolved with the failed attempt's error, while Stop
// returned nil.
func TestRetryAfterHandOffRunsWhileStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{Cores: 2, Affinity: Off, StallAfter: -1, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		release := make(chan struct{})
		filler := must(Define(rt, "filler", where[int]))
		block := must(Define(rt, "block", func(ctx context.Context, _ int) (int, error) { <-release; return 0, nil }))
		requireOn(t, 0, must(filler.Submit(bg, 0)))
		blocker := requireOn(t, 1, must(block.Submit(bg, 0)))
		errFirst := errors.New("first attempt fails")
		var attempts atomic.Int32
		parent := must(Define(rt, "parent", func(ctx context.Context, _ int) (int, error) {
			if attempts.Add(1) > 1 {
				return 1, nil
			}
			if _, err := blocker.Wait(ctx); err != nil {
				return 0, err
			}
			return 0, errFirst
		}, WithRetry(1, 0)))
		tok := requireOn(t, 0, must(parent.Submit(bg, 0)))
		synctest.Wait() // the parent waits, its executor handed on
		stopErr := make(chan error, 1)
		go func() { stopErr <- rt.Stop(bg) }()
		synctest.Wait() // executor 0 has nothing queued; executor 1 runs the blocker
		close(release)
		err = <-stopErr
		if _, werr := tok.Wait(bg); werr != nil {
			var se *supervisor.StopError
			require.ErrorAs(t, err, &se, "the retry never ran (%v), yet Stop reported nothing cut short", werr)
			require.Equal(t, 1, se.Retries)
		}
		requireBalanced(t, rt)
	})
}

// TestRevivedExecutorRestartsWithinPolicyFakeClock: a revived executor
// starts with an empty restart window: its next loop failure restarts it
// (Restarts 1), it is not a half-open breaker that one failure trips; only
// a failure past the policy takes it down again, with the cool-down
// doubled. The README said "failing again takes it down"; the supervisor
// resets the window when it takes an executor down, on purpose.
func TestRevivedExecutorRestartsWithinPolicyFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{
			Cores: 2, Affinity: Off, StallAfter: -1, IdleSpin: -1,
			Restart: RestartPolicy{MaxRestarts: 1, Window: time.Hour, Backoff: time.Second, Cooldown: time.Second},
		})
		require.NoError(t, err)
		events, stop := testkit.Subscribe(rt.Engine(), func(m any) bool {
			switch m.(type) {
			case supervisor.ExecutorRestarted, supervisor.ExecutorDown, supervisor.ExecutorRevived:
				return true
			}
			return false
		})
		defer stop()
		_, crash, _ := executor0Ops(t, rt)
		at0 := alternate(t, rt)
		bg := context.Background()
		fail := func() any {
			must(at0(must(crash.Submit(bg, 0))).Wait(bg))
			synctest.Wait()
			return <-events
		}
		require.IsType(t, supervisor.ExecutorRestarted{}, fail())
		down := fail()
		require.IsType(t, supervisor.ExecutorDown{}, down)
		require.Equal(t, time.Second, down.(supervisor.ExecutorDown).Cooldown)
		time.Sleep(time.Second)
		synctest.Wait()
		require.IsType(t, supervisor.ExecutorRevived{}, <-events)
		again := fail()
		require.IsType(t, supervisor.ExecutorRestarted{}, again, "one failure after the revival restarts it")
		require.Equal(t, 1, again.(supervisor.ExecutorRestarted).Restarts)
		down = fail()
		require.IsType(t, supervisor.ExecutorDown{}, down)
		require.Equal(t, 2*time.Second, down.(supervisor.ExecutorDown).Cooldown, "down again within a window of its revival")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.IsType(t, supervisor.ExecutorRevived{}, <-events)
		require.NoError(t, rt.Stop(bg))
		requireBalanced(t, rt)
	})
}
