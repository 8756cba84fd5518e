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
	"github.com/stretchr/testify/require"
)

// TestSubmitAllReturnsEveryResultInOrder: each token's result belongs to its
// argument, and the runtime counts every token once.
func TestSubmitAllReturnsEveryResultInOrder(t *testing.T) {
	rt := start(t, Config{})
	ctx := context.Background()
	sq := must(Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil }))
	args := make([]int, 5000)
	for i := range args {
		args[i] = i
	}
	toks, err := sq.SubmitAll(ctx, args)
	require.NoError(t, err)
	require.Len(t, toks, len(args))
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, i*i, v)
	}
	require.Equal(t, uint64(len(args)), rt.Stats().Total.Succeeded)
}

// TestSubmitAllStaggersAsSubmitDoes: a batch takes the class's next
// positions, so its tokens land where as many Submit calls would have put
// them, continuing the staggered order (idle polling off, so no token is
// sent to an awake executor instead).
func TestSubmitAllStaggersAsSubmitDoes(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1})
	ctx := context.Background()
	where := must(Define(rt, "where", func(ctx context.Context, _ int) (int, error) {
		i, _ := CurrentExecutor(ctx)
		return i, nil
	}))
	var got []int
	first := must(where.Submit(ctx, 0))
	got = append(got, must(first.Wait(ctx)))
	toks, err := where.SubmitAll(ctx, make([]int, 10))
	require.NoError(t, err)
	for _, tok := range toks {
		got = append(got, must(tok.Wait(ctx)))
	}
	next := must(where.Submit(ctx, 0))
	got = append(got, must(next.Wait(ctx)))
	want := make([]int, len(got))
	for k := range want {
		want[k] = (got[0] + k) % 3
	}
	require.Equal(t, want, got)
}

// TestSubmitAllWaitsForRoom: a batch far larger than the mailboxes, on
// executors held by a blocked token, waits for room (nothing refused or
// lost) and completes once they go on, with a mailbox smaller and one larger
// than a push's chunk.
func TestSubmitAllWaitsForRoom(t *testing.T) {
	for _, size := range []int{8, 1024} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { submitAllWaitsForRoom(t, size) })
	}
}

func submitAllWaitsForRoom(t *testing.T, size int) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: size})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	hold := must(b.op.Submit(ctx, -1))
	<-b.started
	args := make([]int, 10*size)
	for i := range args {
		args[i] = i
	}
	done := submitAllBehind(rt, args)
	// Part of the batch is queued, never more than the bound, and the rest
	// waits: the executor is held, so the batch cannot be placed whole.
	for range 100 {
		require.LessOrEqual(t, rt.Stats().Total.Queued, uint64(size))
		runtime.Gosched()
	}
	select {
	case r := <-done:
		t.Fatalf("SubmitAll returned (%v) while its executor was held", r.err)
	default:
	}
	close(b.gate)
	r := <-done
	require.NoError(t, r.err)
	for i, tok := range r.toks {
		v, err := tok.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, i, v)
	}
	must(hold.Wait(ctx))
	require.Equal(t, uint64(1+len(args)), rt.Stats().Total.Succeeded)
}

type submitted struct {
	toks []*Token[int]
	err  error
}

// submitAllBehind submits args with SubmitAll, on an op returning its
// argument, from another goroutine, behind a token that holds rt's
// executors, and returns once the batch's first token is queued (and the
// executor's own counted): what SubmitAll returns comes on the channel.
func submitAllBehind(rt *Runtime, args []int) <-chan submitted {
	done := make(chan submitted, 1)
	id := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	go func() {
		toks, err := id.SubmitAll(context.Background(), args)
		done <- submitted{toks, err}
	}()
	for rt.Stats().Total.Submitted < 2 {
		runtime.Gosched()
	}
	return done
}

// TestSubmitAllStoppedMidway: a Stop while a batch waits for room ends it
// with ErrStopped; the tokens it returns are exactly those the runtime
// accepted, each resolved, and nil stands for each argument not submitted.
func TestSubmitAllStoppedMidway(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 8})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	must(b.op.Submit(ctx, -1))
	<-b.started
	done := submitAllBehind(rt, make([]int, 1000))
	stopped := make(chan error, 1)
	go func() { stopped <- rt.Stop(ctx) }()
	r := <-done
	require.ErrorIs(t, r.err, ErrStopped)
	require.Len(t, r.toks, 1000)
	close(b.gate)
	require.NoError(t, <-stopped)
	submitted := 0
	for _, tok := range r.toks {
		if tok == nil {
			continue
		}
		submitted++
		_, err := tok.Wait(ctx)
		require.True(t, err == nil || errors.Is(err, ErrStopped), "%v", err)
	}
	require.Positive(t, submitted)
	require.Less(t, submitted, 1000)
	require.Equal(t, uint64(1+submitted), rt.Stats().Total.Submitted)
}

// TestSubmitAllBadInput: Submit's errors, with nil for each argument, none
// submitted, and an empty batch is no tokens.
func TestSubmitAllBadInput(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	none := []*Token[int]{nil, nil}
	var nilOp *Op[int, int]
	toks, err := nilOp.SubmitAll(context.Background(), []int{1, 2})
	require.ErrorIs(t, err, ErrNilOp)
	require.Equal(t, none, toks)
	toks, err = op.SubmitAll(nil, []int{1, 2}) //nolint:staticcheck // the nil context is the bad input
	require.ErrorIs(t, err, ErrNilContext)
	require.Equal(t, none, toks)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	toks, err = op.SubmitAll(cancelled, []int{1, 2})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, none, toks)
	toks, err = op.SubmitAll(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, toks)
	require.NoError(t, rt.Stop(context.Background()))
	toks, err = op.SubmitAll(context.Background(), []int{1, 2})
	require.ErrorIs(t, err, ErrStopped)
	require.Equal(t, none, toks)
}

// TestSubmitAllKeepsStickyKeys: an op with sticky keys is submitted a
// token at a time, so each key still runs on one executor.
func TestSubmitAllKeepsStickyKeys(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off})
	ctx := context.Background()
	where := must(Define(rt, "where", func(ctx context.Context, _ int) (int, error) {
		i, _ := CurrentExecutor(ctx)
		return i, nil
	}, WithSticky()))
	args := make([]int, 200)
	for i := range args {
		args[i] = i % 5
	}
	toks, err := where.SubmitAll(ctx, args)
	require.NoError(t, err)
	ran := map[int]int{}
	for i, tok := range toks {
		e := must(tok.Wait(ctx))
		if prev, ok := ran[args[i]]; ok {
			require.Equal(t, prev, e, "key %d moved", args[i])
		}
		ran[args[i]] = e
	}
}

// TestSubmitAllHeldWhilePaused: a paused op's batch is held until Resume.
func TestSubmitAllHeldWhilePaused(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	rec := newRunLog(t, rt, "rec")
	rec.op.Pause()
	toks, err := rec.op.SubmitAll(ctx, []int{1, 2, 3})
	require.NoError(t, err)
	// A token submitted and awaited after the batch, on the one executor:
	// had the batch not been held, it would have run first.
	probe := must(Define(rt, "probe", func(_ context.Context, x int) (int, error) { return x, nil }))
	must(must(probe.Submit(ctx, 0)).Wait(ctx))
	require.Empty(t, rec.order())
	rec.op.Resume()
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	require.Equal(t, []int{1, 2, 3}, rec.order())
}

// TestSubmitAllAllocations: a batch allocates its tokens a slab at a time
// (16 KiB, 128 of these tokens), and a few slices, never per token.
func TestSubmitAllAllocations(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 1 << 14})
	ctx := context.Background()
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	args := make([]int, 4096)
	allocs := testing.AllocsPerRun(20, func() {
		toks, err := op.SubmitAll(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			if _, err := tok.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
	// 32 slabs, the tokens' pointers, the slabs' list, and the batch's
	// progress: under one allocation per 64 tokens.
	require.LessOrEqual(t, allocs, float64(len(args))/64)
}

// TestSubmitAllSkipsADownExecutor: a batch submitted while an executor is
// down all runs on the live one, and spreads again once it is revived.
func TestSubmitAllSkipsADownExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arm := startDownable(t)
		ctx := context.Background()
		poke := must(Define(rt, "poke", where[int], OnExecutor(1)))
		at := must(Define(rt, "at", where[int]))
		arm(1)
		must(poke.Submit(ctx, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[1].Down)
		ran := func() map[int]int {
			toks, err := at.SubmitAll(ctx, make([]int, 600))
			require.NoError(t, err)
			n := map[int]int{}
			for _, tok := range toks {
				n[must(tok.Wait(ctx))]++
			}
			return n
		}
		require.Equal(t, map[int]int{0: 600}, ran())
		time.Sleep(2 * time.Second) // the cool-down: the executor is revived
		synctest.Wait()
		require.False(t, rt.Executors()[1].Down)
		require.Equal(t, map[int]int{0: 300, 1: 300}, ran())
	})
}

// TestSubmitAllPausedWhileWaiting: a Pause while a batch waits for room
// holds the tokens it pushes from then on, as it holds those of Submit
// calls made after it, and Resume runs them all.
func TestSubmitAllPausedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 8})
		ctx := context.Background()
		b := newBlocker(t, rt, "block")
		must(b.op.Submit(ctx, -1))
		<-b.started
		rec := newRunLog(t, rt, "rec")
		args := make([]int, 100)
		for i := range args {
			args[i] = i
		}
		done := make(chan submitted, 1)
		go func() {
			toks, err := rec.op.SubmitAll(ctx, args)
			done <- submitted{toks, err}
		}()
		synctest.Wait() // the batch waits for room
		rec.op.Pause()
		close(b.gate)
		r := <-done
		require.NoError(t, r.err)
		probe := must(Define(rt, "probe", func(_ context.Context, x int) (int, error) { return x, nil }))
		must(must(probe.Submit(ctx, 0)).Wait(ctx))
		require.Empty(t, rec.order(), "tokens ran while their op was paused")
		rec.op.Resume()
		for _, tok := range r.toks {
			must(tok.Wait(ctx))
		}
		require.Equal(t, args, rec.order())
	})
}

// TestSubmitAllKeepsItsOrderOnEachExecutor: tokens of a batch that their
// share's executor had no room for run after the batch's earlier ones on
// whichever executor takes them, never ahead of one of them, as Submit calls
// in a row would queue them. The leftovers went to the first executor of
// the range with room, behind the later tokens of its own share: with
// executor x full and y holding 1, 3 and 5, y ran 1 3 5 0 2 4 6 (every run).
func TestSubmitAllKeepsItsOrderOnEachExecutor(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, MailboxSize: 4, IdleSpin: -1})
	ctx := context.Background()
	bx, by := newBlocker(t, rt, "bx"), newBlocker(t, rt, "by")
	x := must(bx.op.Submit(ctx, 0)).Executor() // Heavy position 0
	<-bx.started
	y := must(by.op.Submit(ctx, 1)).Executor() // position 1: the other executor
	<-by.started
	require.NotEqual(t, x, y)
	fill := must(Define(rt, "fill", func(context.Context, int) (int, error) { return 0, nil }, OnExecutor(x)))
	for i := range 3 {
		must(fill.Submit(ctx, i)) // x is full
	}
	var mu sync.Mutex
	ran := map[int][]int{}
	ranOn := func(e int) []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ran[e])
	}
	rec := must(Define(rt, "rec", func(ctx context.Context, a int) (int, error) {
		e, _ := CurrentExecutor(ctx)
		mu.Lock()
		ran[e] = append(ran[e], a)
		mu.Unlock()
		return a, nil
	}))
	done := make(chan error, 1)
	go func() {
		// Position 2 on: jobs 0, 2, 4, 6 are x's share, 1, 3, 5, 7 y's; y
		// takes 1, 3, 5 and the rest wait for room.
		_, err := rec.SubmitAll(ctx, []int{0, 1, 2, 3, 4, 5, 6, 7})
		done <- err
	}()
	for rt.Stats().Executors[y].Submitted < 4 {
		runtime.Gosched()
	}
	close(by.gate) // y drains and has room; x stays full
	for len(ranOn(y)) < 3 {
		runtime.Gosched()
	}
	close(bx.gate)
	require.NoError(t, <-done)
	require.NoError(t, rt.Stop(ctx))
	for _, e := range []int{x, y} {
		require.True(t, slices.IsSorted(ranOn(e)), "executor %d ran %v", e, ranOn(e))
	}
	require.Len(t, append(ranOn(x), ranOn(y)...), 8)
}

// TestSubmitAllLeftoverLeavesADownExecutor: a batch whose share was cut short
// by a full executor that then goes down places its leftovers on the live
// executor with room, as Submit would, even though that one holds later
// jobs of the batch: the down executor's own tokens move there too. The
// leftovers waited for the down executor to take them, so SubmitAll hung
// until its cool-down ended (for good once its restarts were spent).
func TestSubmitAllLeftoverLeavesADownExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var arms, armedOn atomic.Int32
		armedOn.Store(-1)
		t.Cleanup(faults.SetLoop(func(exec int) error {
			if int32(exec) == armedOn.Load() && arms.Load() > 0 && arms.Add(-1) >= 0 {
				return errLoop
			}
			return nil
		}))
		rt, err := Start(Config{Cores: 2, Affinity: Off, MailboxSize: 4, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}})
		require.NoError(t, err)
		ctx := context.Background()
		defer func() { _ = rt.Stop(ctx) }()
		x, y := 0, 1
		gx, gy := make(chan struct{}), make(chan struct{})
		block := func(gate chan struct{}) func(context.Context, int) (int, error) {
			return func(context.Context, int) (int, error) { <-gate; return 0, nil }
		}
		must(must(Define(rt, "bx", block(gx), OnExecutor(x))).Submit(ctx, 0))
		must(must(Define(rt, "by", block(gy), OnExecutor(y))).Submit(ctx, 0))
		synctest.Wait() // both run their blocker
		fill := must(Define(rt, "fill", where[int], OnExecutor(x)))
		for i := range 3 {
			must(fill.Submit(ctx, i)) // x is full
		}
		rec := must(Define(rt, "rec", where[int]))
		done := make(chan error, 1)
		go func() {
			// x's share is cut short at its first job, y takes the first
			// three of its own, later than that one.
			_, err := rec.SubmitAll(ctx, []int{0, 1, 2, 3, 4, 5, 6, 7})
			done <- err
		}()
		synctest.Wait()
		close(gy) // y runs its three and has room
		armedOn.Store(int32(x))
		arms.Store(2)
		close(gx) // x goes down, for an hour
		synctest.Wait()
		require.True(t, rt.Executors()[x].Down)
		select {
		case err := <-done:
			require.NoError(t, err)
		default:
			t.Fatal("SubmitAll waits for a down executor while the live one has room")
		}
	})
}
