package coregate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// counted yields 0..n-1 and counts how many were taken.
func counted(n int, taken *atomic.Int32) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			taken.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

// TestMapOrderErrorsAndWindow: results come in input order whatever order
// the tokens finish in, a handler's error at its own position; no more than
// the window is taken from the input ahead of what was yielded.
func TestMapOrderErrorsAndWindow(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1})
	ctx := context.Background()
	errOdd := errors.New("odd")
	var inFlight, most atomic.Int32
	op := must(Define(rt, "sq", func(_ context.Context, x int) (int, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if x%7 == 3 {
			return 0, fmt.Errorf("%d: %w", x, errOdd)
		}
		return x * x, nil
	}))
	const n, window = 200, 3
	var taken atomic.Int32
	i := 0
	for r, err := range MapWindow(ctx, op, counted(n, &taken), window) {
		require.LessOrEqual(t, int(taken.Load()), i+window, "taken ahead of the window")
		if i%7 == 3 {
			require.ErrorIs(t, err, errOdd)
			require.ErrorContains(t, err, fmt.Sprint(i))
		} else {
			require.NoError(t, err)
			require.Equal(t, i*i, r)
		}
		i++
	}
	require.Equal(t, n, i)
	require.LessOrEqual(t, most.Load(), int32(window))
	require.Equal(t, uint64(n), rt.Stats().Total.Succeeded+rt.Stats().Total.Failed)
}

// TestMapEarlyExitCancelsTheRest: on a one-core runtime, breaking out after
// the first result cancels the tokens in flight: none of them runs.
func TestMapEarlyExitCancelsTheRest(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	var ran atomic.Int32
	op := must(Define(rt, "op", func(ctx context.Context, x int) (int, error) {
		if x == 1 {
			<-ctx.Done() // the others queue behind it until the break
			return 0, ctx.Err()
		}
		ran.Add(1)
		return x, nil
	}))
	var taken atomic.Int32
	for r, err := range MapWindow(ctx, op, counted(1000, &taken), 8) {
		require.NoError(t, err)
		require.Equal(t, 0, r)
		break
	}
	require.Equal(t, int32(8), taken.Load(), "the window, then nothing more")
	require.NoError(t, rt.Stop(ctx))
	s := rt.Stats().Total
	require.Equal(t, uint64(8), s.Submitted)
	require.Equal(t, int32(1), ran.Load())
	require.Equal(t, uint64(7), s.Cancelled)
}

// TestMapCancelsLatestFirst: the tokens a Map leaves in flight are
// cancelled latest first, whatever order they are held in (MapUnordered's
// are in a map). Cancelled oldest first, on one core, the executor freed by
// the cancel of the oldest queued token ran the next before its cancel came:
// TestMapEarlyExitCancelsTheRest failed 2 times in 300 under -race that way.
func TestMapCancelsLatestFirst(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	gate := make(chan struct{})
	op := must(Define(rt, "op", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
	held := map[int]*Token[int]{}
	for i := range 6 {
		held[i] = must(op.Submit(ctx, i))
	}
	var ids []uint64
	for _, tok := range latestFirst(maps.Values(held)) {
		ids = append(ids, tok.task.ID())
	}
	require.Len(t, ids, 6)
	require.True(t, slices.IsSortedFunc(ids, func(a, b uint64) int { return cmp.Compare(b, a) }), "ids %v, want latest first", ids)
	require.Equal(t, held[5].task.ID(), ids[0])
	close(gate)
}

// TestMapBadInputAndStop: bad input and a stopped runtime are the
// sequence's one error.
func TestMapBadInputAndStop(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	op := must(Define(rt, "op", where[int]))
	one := func(seq iter.Seq2[int, error]) error {
		n := 0
		var last error
		for _, err := range seq {
			n++
			last = err
		}
		require.Equal(t, 1, n)
		return last
	}
	require.ErrorContains(t, one(MapWindow(ctx, op, counted(3, new(atomic.Int32)), 0)), "window of 0")
	// A window past the bound panicked as the range made room for it.
	require.ErrorContains(t, one(MapWindow(ctx, op, counted(3, new(atomic.Int32)), math.MaxInt)), "want 1 to")
	require.ErrorContains(t, one(MapUnorderedWindow(ctx, op, counted(3, new(atomic.Int32)), MaxMapWindow+1)), "want 1 to")
	require.ErrorContains(t, one(Map(ctx, (*Op[int, int])(nil), counted(3, new(atomic.Int32)))), "nil *Op")
	require.ErrorContains(t, one(Map(ctx, op, nil)), "nil sequence")
	require.ErrorIs(t, one(Map(nil, op, counted(3, new(atomic.Int32)))), ErrNilContext) //nolint:staticcheck // a nil context is the point
	require.NoError(t, rt.Stop(ctx))
	require.ErrorIs(t, one(Map(ctx, op, counted(3, new(atomic.Int32)))), ErrStopped)
}

// TestMapUnorderedYieldsAsTokensFinish: a slow first token holds up none of
// the others: they are yielded first, then it; errors come with their
// results; a break cancels the rest.
func TestMapUnorderedYieldsAsTokensFinish(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 8})
	ctx := context.Background()
	gate := make(chan struct{})
	errFive := errors.New("five")
	op := must(Define(rt, "op", func(ctx context.Context, x int) (int, error) {
		switch x {
		case 0:
			select {
			case <-gate:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		case 5:
			return 0, errFive
		}
		return x, nil
	}, WithBlocking()))
	var got []int
	var errs []error
	for r, err := range MapUnorderedWindow(ctx, op, counted(6, new(atomic.Int32)), 6) {
		if err != nil {
			errs = append(errs, err)
		} else {
			got = append(got, r)
		}
		if len(got)+len(errs) == 5 {
			close(gate) // every other token finished first
		}
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], errFive)
	require.ElementsMatch(t, []int{1, 2, 3, 4}, got[:4])
	require.Equal(t, 0, got[4])

	gate = make(chan struct{}) // token 0 holds on until the break cancels it
	var taken atomic.Int32
	for _, err := range MapUnorderedWindow(ctx, op, counted(100, &taken), 3) {
		require.NoError(t, err)
		break
	}
	require.Equal(t, int32(3), taken.Load())
	require.NoError(t, rt.Stop(ctx))
	s := rt.Stats().Total
	require.Equal(t, uint64(9), s.Submitted)
	require.Equal(t, uint64(9), s.Resolved())
	require.GreaterOrEqual(t, s.Cancelled, uint64(1), "the slow token 0 of the second run, cancelled by the break")
}

// windowedMaps are the ordered and the unordered Map, each with a window of
// two, for tests that hold for both.
var windowedMaps = map[string]func(context.Context, *Op[int, int], iter.Seq[int]) iter.Seq2[int, error]{
	"ordered": func(ctx context.Context, op *Op[int, int], args iter.Seq[int]) iter.Seq2[int, error] {
		return MapWindow(ctx, op, args, 2)
	},
	"unordered": func(ctx context.Context, op *Op[int, int], args iter.Seq[int]) iter.Seq2[int, error] {
		return MapUnorderedWindow(ctx, op, args, 2)
	},
}

// TestMapEndsWhenItCannotWait: a Map inside a handler when Config.MaxBlocked
// handlers block already cannot wait for its tokens: that is the sequence's
// last element, as for a context that ended, not a handler's error at one
// position. Map went on, yielding ErrTooManyBlocked for every input while
// it submitted them all and dropped their results (MapUnordered ended).
func TestMapEndsWhenItCannotWait(t *testing.T) {
	for name, mapOf := range windowedMaps {
		t.Run(name, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off, MaxBlocked: 1})
			ctx := context.Background()
			release := blockOne(t, rt)
			inner := must(Define(rt, "inner", where[int]))
			var taken atomic.Int32
			var errs []error
			outer := must(Define(rt, "outer", func(ctx context.Context, _ int) (int, error) {
				for _, err := range mapOf(ctx, inner, counted(10, &taken)) {
					errs = append(errs, err)
				}
				return 0, nil
			}))
			must(must(outer.Submit(ctx, 0)).Wait(ctx))
			require.Len(t, errs, 1, "one error ends the sequence")
			require.ErrorIs(t, errs[0], ErrTooManyBlocked)
			require.Equal(t, int32(2), taken.Load(), "the window, then nothing more")
			release()
		})
	}
}

// TestMapEndingCtxIsNeverSilent: when ctx ends as a Map runs, the sequence
// either yields an element for every argument or ends with ctx's error, so
// a caller can tell a cut-short Map from a finished one. Here the first
// result is a handler's error and the caller's context ends as it reads it;
// the second argument's token is then cancelled. The ordered Map ended
// right after the handler's error, without an element for the second
// argument or ctx's error: it looked like a Map of one argument.
func TestMapEndingCtxIsNeverSilent(t *testing.T) {
	for name, mapOf := range windowedMaps {
		t.Run(name, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			errOdd := errors.New("odd")
			op := must(Define(rt, "op", func(ctx context.Context, x int) (int, error) {
				if x == 0 {
					return 0, errOdd
				}
				<-ctx.Done() // until the caller's context ends
				return 0, ctx.Err()
			}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var errs []error
			for _, err := range mapOf(ctx, op, slices.Values([]int{0, 1})) {
				errs = append(errs, err)
				cancel() // the caller's context ends as it reads the first
			}
			require.NotEmpty(t, errs)
			require.ErrorIs(t, errs[0], errOdd)
			if len(errs) < 2 {
				t.Fatalf("the sequence ended after %v: no element for the second argument, and not ctx's error", errs)
			}
			require.ErrorIs(t, errs[len(errs)-1], context.Canceled)
		})
	}
}
