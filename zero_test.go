package coregate

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/stretchr/testify/require"
)

// Regression tests for the zero values of the exported types that are not
// usable: each method answers an error or a zero value, never a panic or a
// hang. In a synctest bubble, so a method blocked for good (Wait on a zero
// Group did, on a nil channel) fails the test as a deadlock.

// TestZeroGroupIsAnError: Add, Go and Wait on a zero Group, as on a nil
// one, return an error; its Context is cancelled with the reason.
func TestZeroGroupIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		op := must(Define(rt, "op", where[int]))
		for _, g := range []*Group{{}, nil} {
			var err error
			require.NotPanics(t, func() { _, err = Add(g, op, 1) })
			require.ErrorContains(t, err, "not made by NewGroup")
			require.NotPanics(t, func() { _, err = Go(g, func(context.Context) (int, error) { return 0, nil }) })
			require.ErrorContains(t, err, "not made by NewGroup")
			require.ErrorContains(t, g.Wait(), "not made by NewGroup")
			ctx := g.Context()
			require.ErrorIs(t, ctx.Err(), context.Canceled)
			require.ErrorContains(t, context.Cause(ctx), "not made by NewGroup")
		}
		require.Zero(t, rt.Stats().Total.Submitted)
	})
}

// TestZeroPerCoreIsAnError: Get on a zero PerCore, inside a handler as
// outside, returns an error rather than panicking on its nil runtime.
func TestZeroPerCoreIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		var zero PerCore[int]
		get := must(Define(rt, "get", func(ctx context.Context, _ int) (int, error) {
			_, err := zero.Get(ctx)
			return 0, err
		}))
		_, err := must(get.Submit(context.Background(), 0)).Wait(context.Background())
		var pe *PanicError
		require.False(t, errors.As(err, &pe), "Get panicked: %v", err)
		require.ErrorContains(t, err, "not made by NewPerCore")
		_, err = zero.Get(context.Background())
		require.ErrorContains(t, err, "not made by NewPerCore")
	})
}

// TestZeroOpIsErrNilOp: every method of a zero Op answers as a nil *Op's
// do: ErrNilOp, or nothing done.
func TestZeroOpIsErrNilOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		op := &Op[int, int]{}
		require.NotPanics(t, func() { requireNilOpAnswers(t, op) })
	})
}

// TestZeroTokenIsErrNilToken: a zero Token answers as a nil one does.
func TestZeroTokenIsErrNilToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tok := &Token[int]{}
		require.NotPanics(t, func() {
			_, err := tok.Wait(context.Background())
			require.ErrorIs(t, err, ErrNilToken)
			require.Nil(t, tok.Done())
			require.Zero(t, tok.ID())
			require.Equal(t, -1, tok.Executor())
			require.False(t, tok.Cancel())
		})
	})
}

// TestZeroRuntimeAccessors: a nil or zero Runtime's accessors answer zero
// values, as its Stop answers an error.
func TestZeroRuntimeAccessors(t *testing.T) {
	for _, rt := range []*Runtime{nil, {}} {
		require.NotPanics(t, func() {
			require.Nil(t, rt.Engine())
			require.Nil(t, rt.RouterPID())
			require.Nil(t, rt.OpsPID())
			require.Nil(t, rt.Executors())
			require.Zero(t, rt.Stats().Total)
			require.Error(t, rt.Stop(context.Background()))
		})
	}
}

// TestZeroActorContext: a zero ActorContext has no Self, and ChildOf of it
// is an error, as ChildOf(nil) is, not a spawn without a parent.
func TestZeroActorContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		var c ActorContext
		require.NotPanics(t, func() { require.Nil(t, c.Self()) })
		_, err := Spawn(rt, "orphan", func() Actor[int, int] { return &counter{} }, ChildOf(&c))
		require.ErrorContains(t, err, "ChildOf needs")
	})
}

// TestZeroActorContextIsBackground: a zero or nil ActorContext (what a unit
// test of a Receive builds) works as a context, as context.Background does:
// it panicked on every method, and on a Submit made with it.
func TestZeroActorContextIsBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		double, err := Define(rt, "double", func(_ context.Context, x int) (int, error) { return 2 * x, nil })
		require.NoError(t, err)
		for _, c := range []*ActorContext{{}, nil} {
			require.NotPanics(t, func() {
				_, has := c.Deadline()
				require.False(t, has)
				require.Nil(t, c.Done())
				require.NoError(t, c.Err())
				require.Nil(t, c.Value(actors.ExecKey))
				_, ok := CurrentExecutor(c)
				require.False(t, ok)
			})
			tok, err := double.Submit(c, 21)
			require.NoError(t, err)
			v, err := tok.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 42, v)
			derived, cancel := context.WithCancel(c)
			cancel()
			require.ErrorIs(t, derived.Err(), context.Canceled)
		}
	})
}

// TestNilActorContextSends: a nil *ActorContext (what a unit test of a
// Receive that sends on may pass) works as context.Background for Tell,
// Ask, Ref.Stop and Request too: each looked for the sending actor's turn
// through it and panicked on the nil pointer.
func TestNilActorContextSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		_, err := Define(rt, "double", func(_ context.Context, x int) (int, error) { return 2 * x, nil })
		require.NoError(t, err)
		ref, err := Spawn(rt, "counter", func() Actor[int, int] { return &counter{} })
		require.NoError(t, err)
		var c *ActorContext
		require.NotPanics(t, func() { require.NoError(t, ref.Tell(c, 1)) })
		require.NotPanics(t, func() {
			tok, err := ref.Ask(c, 2)
			require.NoError(t, err)
			n, err := tok.Wait(c)
			require.NoError(t, err)
			require.Equal(t, 3, n)
		})
		require.NotPanics(t, func() {
			v, err := Request[int](c, rt.Engine(), rt.OpsPID(), Call{Op: "double", Arg: 21})
			require.NoError(t, err)
			require.Equal(t, 42, v)
		})
		require.NotPanics(t, func() { require.NoError(t, ref.Stop(c)) })
	})
}

// TestZeroEngineIsAnError: a zero actor.Engine (one not made by
// actor.NewEngine) given to Start, as Config.Engine, or to Request is an
// error naming it: both panicked on its nil registry.
func TestZeroEngineIsAnError(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
	must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	for _, tt := range []struct {
		name string
		call func() error
		want string
	}{
		{"Start", func() error {
			_, err := Start(Config{Engine: &actor.Engine{}, Cores: 1, Affinity: Off})
			return err
		}, "coregate: Config.Engine is not made by actor.NewEngine"},
		{"Request", func() error {
			_, err := Request[int](context.Background(), &actor.Engine{}, rt.OpsPID(), Call{Op: "id", Arg: 1})
			return err
		}, "coregate: Request on an *actor.Engine not made by actor.NewEngine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tt.call() })
			require.EqualError(t, err, tt.want)
		})
	}
}

// TestAddOfZeroOpIsErrNilOp: Add of a zero Op, as of a nil one, answers
// ErrNilOp, as the Op's own methods do. It said the op was of another
// runtime than the group's.
func TestAddOfZeroOpIsErrNilOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, StallAfter: -1})
		for _, op := range []*Op[int, int]{{}, nil} {
			g := NewGroup(context.Background(), rt)
			_, err := Add(g, op, 1)
			require.ErrorIs(t, err, ErrNilOp)
			require.NotContains(t, err.Error(), "another runtime")
			require.ErrorIs(t, g.Wait(), ErrNilOp)
		}
	})
}
