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
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// needTwo skips tests that move work from one executor to another.
func needTwo(t *testing.T) {
	t.Helper()
	cpus, err := actors.AllowedCPUs()
	require.NoError(t, err)
	if min(len(cpus), runtime.GOMAXPROCS(0)) < 2 {
		t.Skip("needs 2 CPUs: the test moves work off one executor onto another")
	}
}

// onExecutor submits with submit until a token lands on executor want; tokens
// landing elsewhere are left to run (the test's handlers act only on want).
func onExecutor[R any](t *testing.T, want int, submit func() (*Token[R], error)) *Token[R] {
	t.Helper()
	for range 64 {
		tok, err := submit()
		require.NoError(t, err)
		if tok.Executor() == want {
			return tok
		}
	}
	t.Fatalf("no token placed on executor %d in 64 tries", want)
	return nil
}

// on0 reports whether the handler whose context ctx is runs on executor 0.
func on0(ctx context.Context) bool { e, _ := CurrentExecutor(ctx); return e == 0 }

// executor0Ops defines "block", which on executor 0 blocks until unblock is
// called, and "crash", which on executor 0 makes the executor's own loop fail
// right after the token (through the faults seam: no handler can do that);
// elsewhere both return at once, so tests may place them by trial (see
// onExecutor).
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

// TestDownExecutorMovesItsQueue: executor 0 crashes past its policy with a
// sticky key's tokens, a seed's children and plain tokens queued on it. They
// all run on executor 1, each key's and the seed's in their order, the event
// says how many moved, and new work of every class goes to executor 1.
func TestDownExecutorMovesItsQueue(t *testing.T) {
	needTwo(t)
	rt := start(t, Config{Cores: 2, Restart: RestartPolicy{MaxRestarts: 1}})
	downs, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool { _, ok := ev.(supervisor.ExecutorDown); return ok })
	defer stop()
	bg := context.Background()
	var rec recorder
	block, crash, unblock := executor0Ops(t, rt)
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
		if on0(ctx) {
			// The children outlive the lead's handler: detach them from its
			// cancellation, keeping its values (the seed).
			detached := context.WithoutCancel(ctx)
			for i := range 10 {
				children = append(children, must(child.Submit(detached, i)))
			}
		}
		return 0, nil
	}, WithAnchor("child")))
	plain := must(Define(rt, "plain", func(ctx context.Context, _ int) (int, error) {
		e, _ := CurrentExecutor(ctx)
		return e, nil
	}))

	blocker := onExecutor(t, 0, func() (*Token[int], error) { return block.Submit(bg, 0) })
	leadTok := onExecutor(t, 0, func() (*Token[int], error) { return lead.Submit(bg, 0) })
	crashes := []*Token[int]{
		onExecutor(t, 0, func() (*Token[int], error) { return crash.Submit(bg, 0) }),
		onExecutor(t, 0, func() (*Token[int], error) { return crash.Submit(bg, 0) }),
	}
	// The first key whose first token is pinned to executor 0.
	key := 0
	for ; must(keyed.Submit(bg, kv{key, 0})).Executor() != 0; key++ {
	}
	keyedToks := []*Token[int]{}
	for i := 1; i < 20; i++ {
		keyedToks = append(keyedToks, must(keyed.Submit(bg, kv{key, i})))
	}
	var plainOn0 []*Token[int]
	for range 10 {
		plainOn0 = append(plainOn0, onExecutor(t, 0, func() (*Token[int], error) { return plain.Submit(bg, 0) }))
	}
	unblock()

	ev, ok := (<-downs).(supervisor.ExecutorDown)
	require.True(t, ok)
	require.Equal(t, 0, ev.Index)
	require.Equal(t, 20+10+10, ev.Rerouted, "keyed, plain and child tokens move")
	for _, tok := range append(append([]*Token[int]{blocker, leadTok}, keyedToks...), plainOn0...) {
		_, err := tok.Wait(bg)
		require.NoError(t, err)
	}
	for _, tok := range crashes {
		_, err := tok.Wait(bg)
		require.NoError(t, err)
	}
	require.Len(t, children, 10)
	for _, tok := range children {
		_, err := tok.Wait(bg)
		require.NoError(t, err)
		require.Equal(t, 1, tok.Executor(), "a moved token reports its new executor")
	}
	for _, key := range []string{fmt.Sprint("key", key), "child"} {
		runs := rec.runs(key)
		for i, r := range runs {
			require.Equal(t, ran{i, 1}, r, "%s tokens run in order on executor 1: %v", key, runs)
		}
	}
	for _, tok := range plainOn0 {
		require.Equal(t, 1, must(tok.Wait(bg)))
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
// and comes back to it once it recovers.
func TestRoutingAvoidsRestartingAndStalledFakeClock(t *testing.T) {
	needTwo(t)
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{
			Cores: 2, Affinity: Off, StallAfter: 100 * time.Millisecond,
			Restart: RestartPolicy{Backoff: time.Second, MaxBackoff: time.Second},
		})
		require.NoError(t, err)
		bg := context.Background()
		_, crash, _ := executor0Ops(t, rt)
		slow := must(Define(rt, "slow", func(ctx context.Context, _ int) (int, error) {
			if on0(ctx) {
				time.Sleep(time.Second)
			}
			return 0, nil
		}))
		plain := must(Define(rt, "plain", where[int]))
		spread := func() []int {
			var got []int
			for range 6 {
				got = append(got, must(plain.Submit(bg, 0)).Executor())
			}
			synctest.Wait()
			return got
		}
		require.ElementsMatch(t, []int{0, 0, 0, 1, 1, 1}, spread())

		for range 2 { // the second crash in the window waits out a backoff
			_, err := onExecutor(t, 0, func() (*Token[int], error) { return crash.Submit(bg, 0) }).Wait(bg)
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
			require.ElementsMatch(t, []int{0, 0, 0, 1, 1, 1}, spread())
		}
		avoided("restarting", func(i ExecutorInfo) bool { return i.Restarting })

		onExecutor(t, 0, func() (*Token[int], error) { return slow.Submit(bg, 0) })
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
	needTwo(t)
	synctest.Test(t, func(t *testing.T) {
		rt, err := Start(Config{
			Cores: 2, Affinity: Off, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second, MaxBackoff: time.Second},
		})
		require.NoError(t, err)
		bg := context.Background()
		block, crash, unblock := executor0Ops(t, rt)
		var rec recorder
		type kv struct{ key, seq int }
		seq := must(Define(rt, "seq", func(ctx context.Context, a kv) (int, error) {
			rec.add(ctx, fmt.Sprint(a.key), a.seq)
			return a.seq, nil
		}, WithStickyKey(func(a kv) uint64 { return uint64(a.key) })))
		fail := func() time.Time {
			tok := onExecutor(t, 0, func() (*Token[int], error) { return crash.Submit(bg, 0) })
			_, err := tok.Wait(bg)
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
		onExecutor(t, 0, func() (*Token[int], error) { return block.Submit(bg, 0) })
		crashTok := onExecutor(t, 0, func() (*Token[int], error) { return crash.Submit(bg, 0) })
		// The first key pinned to executor 0, and 7 more of its tokens.
		key := 0
		toks := []*Token[int]{onExecutor(t, 0, func() (*Token[int], error) { key++; return seq.Submit(bg, kv{key, 0}) })}
		for i := 1; i < 8; i++ {
			toks = append(toks, must(seq.Submit(bg, kv{key, i})))
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
