package coregate

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSubmitFunc: a closure runs as a Heavy token, counted, with its
// handler's context, and bad input is an error.
func TestSubmitFunc(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1}) // parked executors: the staggered order
	ctx := context.Background()
	seen := map[int]bool{}
	for range 4 {
		tok := must(SubmitFunc(ctx, rt, func(ctx context.Context) (int, error) {
			i, ok := CurrentExecutor(ctx)
			if !ok {
				return -1, errors.New("not on an executor")
			}
			return i, nil
		}))
		i := must(tok.Wait(ctx))
		require.Equal(t, tok.Executor(), i)
		seen[i] = true
	}
	require.Len(t, seen, 2, "staggered over both executors")
	require.Equal(t, uint64(4), rt.Stats().Total.Succeeded)

	_, err := SubmitFunc[int](ctx, rt, nil)
	require.ErrorContains(t, err, "nil function")
	_, err = SubmitFunc(nil, rt, func(context.Context) (int, error) { return 0, nil }) //nolint:staticcheck // a nil context is the point
	require.ErrorIs(t, err, ErrNilContext)
	_, err = SubmitFunc(ctx, nil, func(context.Context) (int, error) { return 0, nil })
	require.ErrorContains(t, err, "nil *Runtime")
	require.NoError(t, rt.Stop(ctx))
	_, err = SubmitFunc(ctx, rt, func(context.Context) (int, error) { return 0, nil })
	require.ErrorIs(t, err, ErrStopped)
}

// TestGroupWaitsForAll: Wait returns once every token of the group resolved,
// nil when none failed.
func TestGroupWaitsForAll(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1})
	ctx := context.Background()
	var sum atomic.Int64
	add := must(Define(rt, "add", func(_ context.Context, x int) (int, error) {
		sum.Add(int64(x))
		return x, nil
	}))
	g := NewGroup(ctx, rt)
	var toks []*Token[int]
	for i := 1; i <= 10; i++ {
		toks = append(toks, must(Add(g, add, i)))
	}
	must(Go(g, func(context.Context) (int, error) { sum.Add(100); return 0, nil }))
	require.NoError(t, g.Wait())
	require.Equal(t, int64(155), sum.Load())
	for _, tok := range toks {
		select {
		case <-tok.Done():
		default:
			t.Fatal("Wait returned before a token resolved")
		}
	}
	require.ErrorIs(t, context.Cause(g.Context()), errGroupDone)
	// A group is done once Wait returned: Add and Go say so, and what to
	// do, not only "context canceled".
	_, err := Add(g, add, 1)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "Wait returned")
	_, err = Go(g, func(context.Context) (int, error) { return 0, nil })
	require.ErrorContains(t, err, "NewGroup")
}

// TestGroupFirstErrorCancelsTheRest: the first failure cancels the group:
// the tokens queued behind it resolve with the group's cancellation without
// running, a running one sees its context cancelled, Wait returns the first
// error, and a token added afterwards is refused with the group's context
// error.
func TestGroupFirstErrorCancelsTheRest(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, IdleSpin: -1}) // parked executors: the staggered order
	ctx := context.Background()
	errBoom := errors.New("boom")
	g := NewGroup(ctx, rt)
	started, fail := make(chan struct{}), make(chan struct{})
	// Heavy positions 0 and 1: one token on each executor.
	waiter := must(Go(g, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // ended by the failure below
		return 0, ctx.Err()
	}))
	<-started
	failing := must(Go(g, func(context.Context) (int, error) {
		<-fail
		return 0, errBoom
	}))
	require.NotEqual(t, waiter.Executor(), failing.Executor())
	var ran atomic.Int32
	op := must(Define(rt, "count", func(context.Context, int) (int, error) { ran.Add(1); return 0, nil }, WithWeight(Medium)))
	var queued []*Token[int]
	for range 3 {
		queued = append(queued, must(Add(g, op, 0))) // executor 1, behind failing
	}
	close(fail)
	require.ErrorIs(t, g.Wait(), errBoom)
	_, err := waiter.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	for _, tok := range queued {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Zero(t, ran.Load())
	_, err = Add(g, op, 1)
	require.ErrorIs(t, err, context.Canceled)
	_, err = Add(g, (*Op[int, int])(nil), 1)
	require.ErrorContains(t, err, "nil *Op")
	require.ErrorContains(t, (*Group)(nil).Wait(), "nil *Group")
	s := rt.Stats().Total
	require.Equal(t, uint64(4), s.Cancelled)
	require.Equal(t, uint64(1), s.Failed)
}

// TestGroupWaitInsideHandler: a handler fanning out with a group on a
// one-core runtime hands its executor on while it waits, so the tokens
// queued behind it run.
func TestGroupWaitInsideHandler(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	sq := must(Define(rt, "sq", func(_ context.Context, x int) (int, error) { return x * x, nil }))
	fan := must(Define(rt, "fan", func(ctx context.Context, n int) (int, error) {
		g := NewGroup(ctx, rt)
		var toks []*Token[int]
		for i := range n {
			tok, _ := Add(g, sq, i)
			toks = append(toks, tok)
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		sum := 0
		for _, tok := range toks {
			v, _ := tok.Wait(ctx)
			sum += v
		}
		return sum, nil
	}))
	require.Equal(t, 0+1+4+9+16, must(must(fan.Submit(ctx, 5)).Wait(ctx)))
}

// TestGroupOfAnotherRuntimeIsAnError: Group.Wait inside a handler hands
// on the executor of the group's runtime. A group made with a nil runtime,
// or one given an op of another runtime, took the token all the same, and
// its Wait in a handler held the one executor the token was queued on: a
// hang that not even a Stop without deadline ended. Such an Add is now an
// error, which Wait returns.
func TestGroupOfAnotherRuntimeIsAnError(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	other := start(t, Config{Name: "other", Cores: 1, Affinity: Off})
	ctx := context.Background()
	sq := must(Define(rt, "sq", func(_ context.Context, x int) (int, error) { return x * x, nil }))
	var addErr error
	fan := must(Define(rt, "fan", func(ctx context.Context, groupRt *Runtime) (int, error) {
		g := NewGroup(ctx, groupRt)
		_, addErr = Add(g, sq, 2)
		return 0, g.Wait()
	}))
	for name, groupRt := range map[string]*Runtime{"nil runtime": nil, "another runtime": other} {
		t.Run(name, func(t *testing.T) {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			tok, err := fan.Submit(ctx, groupRt)
			require.NoError(t, err)
			_, err = tok.Wait(wctx)
			if errors.Is(err, context.DeadlineExceeded) {
				sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				_ = rt.Stop(sctx) // resolves the token the handler waits for
				t.Fatal("the handler's Group.Wait hangs")
			}
			require.Error(t, addErr)
			require.ErrorContains(t, addErr, "runtime")
			require.Equal(t, addErr, err, "Wait returns Add's error")
		})
	}
}

// TestGroupNilContextIsAnError: a group made with a nil context refuses its
// tokens with ErrNilContext, as Submit does, and Wait returns it; it took
// context.Background() in its place and ran them, though its comment said
// Add reported it.
func TestGroupNilContextIsAnError(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	var ran atomic.Int32
	op := must(Define(rt, "count", func(context.Context, int) (int, error) { ran.Add(1); return 0, nil }))
	g := NewGroup(nil, rt) //nolint:staticcheck // a nil context is the point
	_, err := Add(g, op, 1)
	require.ErrorIs(t, err, ErrNilContext)
	_, err = Go(g, func(context.Context) (int, error) { ran.Add(1); return 0, nil })
	require.ErrorIs(t, err, ErrNilContext)
	require.ErrorIs(t, g.Wait(), ErrNilContext)
	require.Zero(t, ran.Load())
	require.Zero(t, rt.Stats().Total.Submitted)
}

// TestGroupAddWhoseKeyPanics: an Add whose op's WithStickyKey function
// panics (or calls runtime.Goexit) submitted nothing, so it leaves the
// group's count as it found it: the panic goes on to Add's caller and is
// the group's error, and Wait returns. Found by review: the token was
// counted in before the key was computed and never counted out, so a
// caller that recovered the panic (an HTTP server does) hung in Wait.
func TestGroupAddWhoseKeyPanics(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	keyed := func(name string, key func(int) uint64) *Op[int, int] {
		return must(Define(rt, name, func(context.Context, int) (int, error) { return 1, nil }, WithStickyKey(key)))
	}
	panics := keyed("panics", func(int) uint64 { panic("no key") })
	g := NewGroup(context.Background(), rt)
	require.PanicsWithValue(t, "no key", func() { _, _ = Add(g, panics, 1) }, "the panic goes to Add's caller")
	select {
	case <-g.idle:
	default:
		t.Fatal("the panicking Add left the group waiting for a token never submitted")
	}
	var pe *PanicError
	require.ErrorAs(t, g.Wait(), &pe)
	require.Equal(t, "no key", pe.Value)

	exits := keyed("exits", func(int) uint64 { runtime.Goexit(); return 0 })
	g = NewGroup(context.Background(), rt)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = Add(g, exits, 1)
	}()
	<-ended
	select {
	case <-g.idle:
	default:
		t.Fatal("the Add that called Goexit left the group waiting")
	}
	require.ErrorIs(t, g.Wait(), ErrGoexit)
	require.Zero(t, rt.Stats().Total.Submitted)
}

// TestGroupRefusesAddAfterAFailedWait: once Wait returned, Add and Go say
// the group is done, whether or not a token failed. After a failure the
// group's context carried the failure as its cause, not that Wait had
// returned, so the check missed it: the token went on to Submit, which
// refused it with a bare context.Canceled that did not say why.
func TestGroupRefusesAddAfterAFailedWait(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	boom := errors.New("boom")
	op := must(Define(rt, "fails", func(context.Context, int) (int, error) { return 0, boom }))
	g := NewGroup(context.Background(), rt)
	_, _ = Add(g, op, 1)
	require.ErrorIs(t, g.Wait(), boom)
	_, err := Add(g, op, 2)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "Wait returned")
	_, err = Go(g, func(context.Context) (int, error) { return 0, nil })
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "Wait returned")
	require.ErrorIs(t, g.Wait(), boom, "the group's first error stays")
	require.Equal(t, uint64(1), rt.Stats().Total.Submitted)
}

// TestGroupRefusedAddCancelsTheGroup: an Add that submits nothing (the
// runtime stopped, or the op's key function panicked) is the group's error
// as a failed token is, so it cancels the group's context at once, with
// that error as its cause: the group's other tokens see it before Wait.
func TestGroupRefusedAddCancelsTheGroup(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	cancelled := func(g *Group) error {
		t.Helper()
		select {
		case <-g.Context().Done():
			return context.Cause(g.Context())
		default:
			t.Fatal("the refused Add left the group's context going")
			return nil
		}
	}

	panics := must(Define(rt, "panics", func(context.Context, int) (int, error) { return 1, nil },
		WithStickyKey(func(int) uint64 { panic("no key") })))
	g := NewGroup(ctx, rt)
	require.Panics(t, func() { _, _ = Add(g, panics, 1) })
	var pe *PanicError
	require.ErrorAs(t, cancelled(g), &pe)
	require.Equal(t, "no key", pe.Value)
	require.ErrorAs(t, g.Wait(), &pe)

	op := must(Define(rt, "op", func(context.Context, int) (int, error) { return 1, nil }))
	require.NoError(t, rt.Stop(ctx))
	g = NewGroup(ctx, rt)
	_, err := Add(g, op, 1)
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorIs(t, cancelled(g), ErrStopped)
	require.ErrorIs(t, g.Wait(), ErrStopped)
}
