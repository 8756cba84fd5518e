//go:build linux

package coregate

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pinnedTo returns the CPUs the calling thread may run on.
func pinnedTo(t *testing.T) []int {
	var set unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &set))
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

type ctxKey struct{}

// TestAskSelfThroughLayersOfContext: an actor waiting in its turn for its
// own Ask, or Requesting itself, with a context derived from its own
// through WithValue, WithTimeout and WithoutCancel gets ErrAskSelf at once;
// a goroutine its Receive started, with the same context, is not its turn
// and waits for the answer.
func TestAskSelfThroughLayersOfContext(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	type result struct {
		wait, request, goroutine error
	}
	got := make(chan result, 1)
	var self atomic.Pointer[Ref[int, int]]
	self.Store(must(Spawn(rt, "layers", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, n int) (int, error) {
			if n != 0 {
				return n, nil
			}
			c1 := context.WithValue(c, ctxKey{}, 1)
			c2, cancel := context.WithTimeout(c1, time.Minute)
			defer cancel()
			c3 := context.WithoutCancel(c2)
			bounded, cancel2 := context.WithTimeout(c3, crossWait) // so a failure does not hang
			defer cancel2()
			var r result
			tok, err := self.Load().Ask(bounded, 1)
			if err != nil {
				return 0, err
			}
			_, r.wait = tok.Wait(bounded)
			_, r.request = Request[int](bounded, rt.Engine(), c.Self(), 2)
			ch := make(chan error, 1)
			go func() {
				// Not bounded: its cancel runs as this turn returns,
				// before the later turn that answers.
				later, cancel := context.WithTimeout(c3, crossWait)
				defer cancel()
				_, err := tok.Wait(later)
				ch <- err
			}()
			// The goroutine's wait ends once a later turn answers: after
			// this one. Sent from another goroutine so this turn ends.
			go func() {
				r.goroutine = <-ch
				got <- r
			}()
			return 0, nil
		})
	})))
	must(must(self.Load().Ask(bg, 0)).Wait(bg))
	r := <-got
	require.ErrorIs(t, r.wait, ErrAskSelf)
	require.ErrorIs(t, r.request, ErrAskSelf)
	require.NoError(t, r.goroutine)
}

// TestNestedWaitsUnwindOutOfOrder: handlers on one executor each wait on
// a lane token of their own, each wait handing the executor to a helper
// that runs the next handler, up to MaxBlocked; one more is refused. They
// are released out of order; each finishes on its executor's CPU, none is
// lost or run twice, the blocked count goes back to zero, and an actor
// waiting among them never runs two messages at once.
func TestNestedWaitsUnwindOutOfOrder(t *testing.T) {
	const maxBlocked = 4
	rt := start(t, Config{Cores: 1, MaxBlocked: maxBlocked, StallAfter: -1, BlockingWorkers: 16})
	bg := context.Background()
	ctx, cancel := context.WithTimeout(bg, crossWait)
	defer cancel()
	cpu := rt.Executors()[0].CPU
	pinned := rt.Executors()[0].Pinned
	gates := make([]chan struct{}, 16)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	gate := must(Define(rt, "gate", func(ctx context.Context, i int) (int, error) {
		return i, waitOn(ctx, gates[i])
	}, WithBlocking()))
	type ran struct {
		i    int
		err  error
		cpus []int
	}
	done := make(chan ran, 16)
	var runs atomic.Int32
	entered := make(chan int, 16)
	wait := func(ctx context.Context, i int) (int, error) {
		runs.Add(1)
		entered <- i
		r, err := must(gate.Submit(ctx, i)).Wait(ctx)
		cpus := pinnedTo(t)
		done <- ran{i, err, cpus}
		return r, err
	}
	waiter := must(Define(rt, "waiter", wait))
	var inReceive atomic.Int32
	var overlapped atomic.Bool
	actor := must(Spawn(rt, "waits", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, i int) (int, error) {
			if inReceive.Add(1) != 1 {
				overlapped.Store(true)
			}
			defer inReceive.Add(-1)
			return wait(c, i)
		})
	}))

	var toks []*Token[int]
	for i := range maxBlocked - 1 {
		toks = append(toks, must(waiter.Submit(bg, i)))
		require.Equal(t, i, <-entered)
	}
	// The actor's first message is the last to block; its second waits
	// for the first's turn to end.
	asks := []*Token[int]{must(actor.Ask(bg, maxBlocked-1)), must(actor.Ask(bg, maxBlocked+1))}
	require.Equal(t, maxBlocked-1, <-entered)
	over := must(waiter.Submit(bg, maxBlocked))
	require.Equal(t, maxBlocked, <-entered)
	_, err := over.Wait(ctx)
	require.ErrorIs(t, err, ErrTooManyBlocked)
	<-done

	check := func(r ran, want int) {
		t.Helper()
		require.Equal(t, want, r.i)
		require.NoError(t, r.err)
		if pinned {
			require.Equal(t, []int{cpu}, r.cpus, "handler %d after its wait", r.i)
		}
	}
	for _, i := range []int{1, maxBlocked - 1, 0, 2} {
		close(gates[i])
		select {
		case r := <-done:
			check(r, i)
		case <-ctx.Done():
			t.Fatalf("handler %d did not finish", i)
		}
	}
	require.Equal(t, maxBlocked+1, <-entered, "the actor's second message")
	close(gates[maxBlocked+1])
	check(<-done, maxBlocked+1)
	for i, tok := range toks {
		require.Equal(t, i, must(tok.Wait(ctx)))
	}
	require.Equal(t, maxBlocked-1, must(asks[0].Wait(ctx)))
	require.Equal(t, maxBlocked+1, must(asks[1].Wait(ctx)))
	require.False(t, overlapped.Load(), "Receive ran two messages at once")
	require.Equal(t, int32(maxBlocked+2), runs.Load())

	// Nothing is left counted: MaxBlocked handlers block again.
	for i := 8; i < 8+maxBlocked; i++ {
		toks = append(toks, must(waiter.Submit(bg, i)))
		require.Equal(t, i, <-entered)
	}
	for i := 8; i < 8+maxBlocked; i++ {
		close(gates[i])
		check(<-done, i)
	}
	runtime.Gosched()
}

// TestAskQueuedBehindOwnTurn: actor a's turn asks actor b, on the same
// executor and queued behind a's turn, and waits; then b's Receive asks
// c, also queued behind, and waits. Each wait hands the executor on, so
// every reply comes.
func TestAskQueuedBehindOwnTurn(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
	bg := context.Background()
	ctx, cancel := context.WithTimeout(bg, crossWait)
	defer cancel()
	c := must(Spawn(rt, "c", func() Actor[int, int] {
		return funcActor(func(_ *ActorContext, n int) (int, error) { return n + 1, nil })
	}))
	b := must(Spawn(rt, "b", func() Actor[int, int] {
		return funcActor(func(ac *ActorContext, n int) (int, error) {
			return must(c.Ask(ac, n+10)).Wait(ac)
		})
	}))
	a := must(Spawn(rt, "a", func() Actor[int, int] {
		return funcActor(func(ac *ActorContext, n int) (int, error) {
			// b's and c's turns queue behind this one on the one executor.
			_ = b.Tell(ac, 0)
			_ = c.Tell(ac, 0)
			return must(b.Ask(ac, n+100)).Wait(ac)
		})
	}))
	got, err := must(a.Ask(ctx, 0)).Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 111, got)
}

// TestLaneAndExecutorWaitOnEachOther: a lane handler waits on an executor
// token, whose handler waits on a lane token, and so on, with one lane
// worker and one executor: each wait lets the other side go on.
func TestLaneAndExecutorWaitOnEachOther(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1, StallAfter: -1})
	bg := context.Background()
	ctx, cancel := context.WithTimeout(bg, crossWait)
	defer cancel()
	var lane, core *Op[int, int]
	step := func(other **Op[int, int], wantCore bool) func(context.Context, int) (int, error) {
		return func(ctx context.Context, n int) (int, error) {
			if _, on := CurrentExecutor(ctx); on != wantCore {
				return 0, errors.New("wrong side")
			}
			if n == 0 {
				return 0, nil
			}
			r, err := must((*other).Submit(ctx, n-1)).Wait(ctx)
			return r + 1, err
		}
	}
	lane = must(Define(rt, "lane", step(&core, false), WithBlocking()))
	core = must(Define(rt, "core", step(&lane, true)))
	for _, first := range []*Op[int, int]{lane, core} {
		got, err := must(first.Submit(ctx, 12)).Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, 12, got)
	}
}
