package coregate

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// shard is a per-core value that knows the executor it was made for.
type shard struct {
	exec  int
	count int // touched only by its executor's handlers: -race says if not
}

// TestPerCoreValuesAreNeverShared: each executor gets its own value, made
// once on first use, and every handler on it gets that one; the race
// detector checks that no two executors touch one value. Actors get theirs
// too; outside a handler Get is an error.
func TestPerCoreValuesAreNeverShared(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1})
	ctx := context.Background()
	var mu sync.Mutex
	made := map[int]int{}
	pc := must(NewPerCore(rt, func(i int) shard {
		mu.Lock()
		made[i]++
		mu.Unlock()
		return shard{exec: i}
	}))
	op := must(Define(rt, "count", func(ctx context.Context, _ int) (*shard, error) {
		s, err := pc.Get(ctx)
		if err != nil {
			return nil, err
		}
		if i, _ := CurrentExecutor(ctx); s.exec != i {
			t.Errorf("executor %d got executor %d's value", i, s.exec)
		}
		s.count++
		return s, nil
	}))
	var toks []*Token[*shard]
	for i := range 100 {
		toks = append(toks, must(op.Submit(ctx, i)))
	}
	perExec := map[int]*shard{}
	for _, tok := range toks {
		s := must(tok.Wait(ctx))
		if prev, ok := perExec[tok.Executor()]; ok {
			require.Same(t, prev, s)
		}
		perExec[tok.Executor()] = s
	}
	require.Len(t, perExec, 2)
	require.NotSame(t, perExec[0], perExec[1])
	require.Equal(t, map[int]int{0: 1, 1: 1}, made, "made once per executor")
	require.Equal(t, 100, perExec[0].count+perExec[1].count)

	ref := must(Spawn(rt, "a", func() Actor[int, int] { return perCoreActor{pc} }, OnExecutor(1)))
	require.Equal(t, 1, must(must(ref.Ask(ctx, 0)).Wait(ctx)))

	_, err := pc.Get(ctx)
	require.ErrorContains(t, err, "outside a handler")
	other := start(t, Config{Cores: 1, Affinity: Off})
	foreign := must(Define(other, "foreign", func(ctx context.Context, _ int) (*shard, error) { return pc.Get(ctx) }))
	_, err = must(foreign.Submit(ctx, 0)).Wait(ctx)
	require.ErrorContains(t, err, "of its runtime")
	_, err = NewPerCore[int](rt, nil)
	require.ErrorContains(t, err, "nil init")
	_, err = NewPerCore(nil, func(int) int { return 0 })
	require.ErrorContains(t, err, "nil *Runtime")
	require.NoError(t, rt.Stop(ctx))
	_, err = NewPerCore(rt, func(int) int { return 0 })
	require.ErrorIs(t, err, ErrStopped)
}

type perCoreActor struct{ pc *PerCore[shard] }

func (a perCoreActor) Receive(c *ActorContext, _ int) (int, error) {
	s, err := a.pc.Get(c)
	if err != nil {
		return -1, err
	}
	return s.exec, nil
}

// TestPerCoreGetNeedsTheHandler: a handler's context kept after the handler
// returned still names its executor, but Get with it is an error: it handed
// the executor's value to a goroutine racing the executor's next handlers
// (found by review).
func TestPerCoreGetNeedsTheHandler(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	pc := must(NewPerCore(rt, func(i int) shard { return shard{exec: i} }))
	keep := must(Define(rt, "keep", func(ctx context.Context, _ int) (context.Context, error) {
		_, err := pc.Get(ctx) // inside: fine
		return ctx, err
	}))
	ctx := must(must(keep.Submit(bg, 0)).Wait(bg))
	e, ok := CurrentExecutor(ctx) // reads ctx, as its doc says
	require.True(t, ok)
	require.Equal(t, 0, e)
	_, err := pc.Get(ctx)
	require.ErrorContains(t, err, "outside a handler or actor")
}

// TestPerCoreGetOnTheBlockingLane: Get in a WithBlocking handler is an
// error that says why: the handler runs on no executor. It said the
// handler was outside any handler of the runtime.
func TestPerCoreGetOnTheBlockingLane(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	pc := must(NewPerCore(rt, func(i int) shard { return shard{exec: i} }))
	lane := must(Define(rt, "lane", func(ctx context.Context, _ int) (int, error) {
		_, err := pc.Get(ctx)
		return 0, err
	}, WithBlocking()))
	_, err := must(lane.Submit(bg, 0)).Wait(bg)
	require.ErrorContains(t, err, "WithBlocking")
	require.NotContains(t, err.Error(), "outside a handler")
}

// TestPerCoreInitMayWait: an init that waits on a token does not deadlock
// its executor when another handler there asks for the value meanwhile:
// that handler waited for init with the executor in hand, so the token init
// waited on, queued behind it, never ran (found by review).
func TestPerCoreInitMayWait(t *testing.T) {
	rt, err := Start(Config{Cores: 1, Affinity: Off})
	require.NoError(t, err)
	t.Cleanup(func() {
		// Bounded: before the fix the executor deadlocked, and an
		// unbounded Stop would hang the test binary.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rt.Stop(ctx)
		requireBalanced(t, rt)
	})
	bg := context.Background()
	setup := must(Define(rt, "setup", func(context.Context, int) (int, error) { return 5, nil }))
	second := make(chan struct{})
	pc := must(NewPerCore(rt, func(int) int {
		<-second // the second Get's token is queued: the setup token goes behind it
		return must(must(setup.Submit(bg, 0)).Wait(bg))
	}))
	get := must(Define(rt, "get", func(ctx context.Context, _ int) (int, error) {
		v, err := pc.Get(ctx)
		if err != nil {
			return 0, err
		}
		return *v, nil
	}))
	first := must(get.Submit(bg, 0))
	other := must(get.Submit(bg, 0))
	close(second)
	ctx, cancel := context.WithTimeout(bg, 5*time.Second) // detects the deadlock; not a synchronisation
	defer cancel()
	for _, tok := range []*Token[int]{first, other} {
		v, err := tok.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, v)
	}
}

// TestPerCoreGetFromItsOwnInit: init asking for the value it is making is
// an error, not a goroutine waiting on itself for good. Found by review.
func TestPerCoreGetFromItsOwnInit(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	var handlerCtx context.Context
	var pc *PerCore[int]
	var inner error
	pc = must(NewPerCore(rt, func(int) int {
		_, inner = pc.Get(handlerCtx)
		return 7
	}))
	get := must(Define(rt, "get", func(ctx context.Context, _ int) (int, error) {
		handlerCtx = ctx
		v, err := pc.Get(ctx)
		if err != nil {
			return 0, err
		}
		return *v, nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // detects the hang; not a synchronisation
	defer cancel()
	v, err := must(get.Submit(ctx, 0)).Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
	require.ErrorContains(t, inner, "PerCore.Get from its own init")
}

// TestPerCoreValueOutlivesARestart: an executor restarted after its loop
// failed keeps its value: the slot is the executor index's, and init does
// not run again.
func TestPerCoreValueOutlivesARestart(t *testing.T) {
	engine := must(actor.NewEngine(actor.NewEngineConfig()))
	restarted, unsubscribe := testkit.Subscribe(engine, testkit.Is[supervisor.ExecutorRestarted])
	defer unsubscribe()
	rt := start(t, Config{Engine: engine, Cores: 1, Affinity: Off})
	var inits atomic.Int32
	pc := must(NewPerCore(rt, func(e int) shard { inits.Add(1); return shard{exec: e} }))
	count := must(Define(rt, "count", func(ctx context.Context, _ int) (int, error) {
		s, err := pc.Get(ctx)
		if err != nil {
			return 0, err
		}
		s.count++
		return s.count, nil
	}))
	bg := context.Background()
	require.Equal(t, 1, must(must(count.Submit(bg, 0)).Wait(bg)))

	var armed atomic.Bool
	armed.Store(true)
	t.Cleanup(faults.SetLoop(func(exec int) error {
		if exec == 0 && armed.CompareAndSwap(true, false) {
			return errLoop
		}
		return nil
	}))
	after := must(count.Submit(bg, 0)) // the loop fails before it: it runs on the restarted executor
	require.ErrorIs(t, (<-restarted).(supervisor.ExecutorRestarted).Reason, errLoop)
	require.Equal(t, 2, must(after.Wait(bg)))
	require.Equal(t, 3, must(must(count.Submit(bg, 0)).Wait(bg)), "the restarted executor's handler got the value made before")
	require.Equal(t, int32(1), inits.Load(), "init ran once")
}

// TestPerCoreGetWaitingForInitEndsWithItsContext: a Get that waits for
// init running in another handler of its executor (blocked in a Wait)
// returns its context's error once that context ends, as Token.Wait does,
// so a handler cancelled meanwhile (by Token.Cancel, its deadline, or
// Stop) is not held until init returns. Found by review: the wait was a
// mutex, deaf to the context.
func TestPerCoreGetWaitingForInitEndsWithItsContext(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	release := make(chan struct{})
	slow := must(Define(rt, "slow", func(context.Context, int) (int, error) {
		<-release // slow I/O that init waits for
		return 5, nil
	}, WithBlocking()))
	initWaits := make(chan struct{})
	pc := must(NewPerCore(rt, func(int) int {
		tok := must(slow.Submit(bg, 0))
		close(initWaits)
		return must(tok.Wait(bg)) // hands the executor on
	}))
	entered := make(chan struct{}, 2)
	get := must(Define(rt, "get", func(ctx context.Context, _ int) (int, error) {
		entered <- struct{}{}
		v, err := pc.Get(ctx)
		if err != nil {
			return 0, err
		}
		return *v, nil
	}))
	first := must(get.Submit(bg, 0))
	<-initWaits
	<-entered
	other := must(get.Submit(bg, 0))
	<-entered // its handler runs, beside init's, and asks for the value
	other.Cancel()
	select {
	case <-other.Done():
	case <-time.After(pidsTimeout): // detects the hang; not a synchronisation
		close(release)
		t.Fatal("a cancelled handler waited in Get for init to return")
	}
	_, err := other.Wait(bg)
	require.ErrorIs(t, err, context.Canceled)
	close(release)
	require.Equal(t, 5, must(first.Wait(bg)))
}
