package coregate

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// panicky echoes what it is told and panics on a negative number.
type panicky struct{}

func (panicky) Receive(_ *ActorContext, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
	if v.GetValue() < 0 {
		panic("boom")
	}
	return v, nil
}

// TestReviewRemoteAnswers: what a remote caller gets back from a runtime
// in another engine for panics, sentinel errors, a call's own timeout, nil
// and malformed calls and messages, fire and forget of the same, a stopped
// actor, and an engine without a remote; the serving runtime's counts stay
// balanced (found holding by review of the remote transport).
func TestReviewRemoteAnswers(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1})
	must(Define(rt, "block", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	must(Define(rt, "panic", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		panic("op boom")
	}))
	must(Define(rt, "stoppederr", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return nil, ErrActorStopped
	}))
	ref := must(Spawn(rt, "p", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return panicky{} }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	requireWireAnswers(t, ctx, ea, []wireCase{
		{"call timeout", rt.OpsPID(), must(wire.NewCall("block", wrapperspb.Int64(1), 10*time.Millisecond)), wire.Code_DEADLINE_EXCEEDED, "deadline exceeded"},
		{"op panic", rt.OpsPID(), must(wire.NewCall("panic", wrapperspb.Int64(1), 0)), wire.Code_PANICKED, "op boom"},
		{"op's ErrActorStopped", rt.OpsPID(), must(wire.NewCall("stoppederr", wrapperspb.Int64(1), 0)), wire.Code_ACTOR_STOPPED, "actor stopped"},
		{"actor panic", ref.PID(), wrapperspb.Int64(-1), wire.Code_PANICKED, "boom"},
		{"nil message", ref.PID(), nil, wire.Code_NOT_PROTO, "a <nil> cannot cross"},
		{"call without arg", rt.OpsPID(), &wire.Call{Op: "stoppederr"}, wire.Code_ACTOR_STOPPED, "actor stopped"},
		{"empty call", rt.OpsPID(), &wire.Call{}, wire.Code_UNKNOWN_OP, `no op named ""`},
		{"nil call", rt.OpsPID(), (*wire.Call)(nil), wire.Code_UNKNOWN_OP, `no op named ""`},
		{"timeout past 292 years", rt.OpsPID(), &wire.Call{Op: "stoppederr", TimeoutMs: math.MaxInt64}, wire.Code_ACTOR_STOPPED, "actor stopped"},
		{"negative timeout", rt.OpsPID(), &wire.Call{Op: "stoppederr", TimeoutMs: -5}, wire.Code_BAD_ARGUMENT, "timeout_ms is -5"},
	})
	var v *wrapperspb.Int64Value
	local, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	_, err = Request[*wrapperspb.Int64Value](ctx, local, ref.PID(), wrapperspb.Int64(1))
	require.ErrorContains(t, err, "has no remote transport")
	// Fire and forget of the same, then the actor still answers.
	ea.Send(rt.OpsPID(), must(wire.NewCall("panic", wrapperspb.Int64(1), 0)))
	ea.Send(ref.PID(), wrapperspb.Int64(-1))
	ea.Send(ref.PID(), wrapperspb.String("x"))
	ea.Send(rt.OpsPID(), wrapperspb.String("x"))
	ea.Send(ref.PID(), nil)
	v, err = Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(3))
	require.NoError(t, err)
	require.Equal(t, int64(3), v.GetValue())
	// A stopped actor's process is gone: the engine answers for it at once.
	require.NoError(t, ref.Stop(ctx))
	_, err = Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(1))
	var w *wire.Error
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_ACTOR_STOPPED, w.GetCode(), "%v", w)
	require.NoError(t, rt.Stop(ctx))
	requireBalanced(t, rt)
}

// echo answers what it is told.
type echo struct{}

func (echo) Receive(_ *ActorContext, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
	return v, nil
}

// TestReviewRemoteCrossTalk: a Request that timed out leaves no answer
// process behind, and concurrent Requests mixed with Tells to the same
// actor and ops process each get their own answer, never a Tell's or a
// late one's (found holding by review of the remote transport).
func TestReviewRemoteCrossTalk(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1})
	release := make(chan struct{})
	must(Define(rt, "wait", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		<-release
		return v, nil
	}))
	must(Define(rt, "id", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return v, nil
	}))
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := Request[*wrapperspb.Int64Value](sctx, ea, rt.OpsPID(), must(wire.NewCall("wait", wrapperspb.Int64(1), 0)))
	scancel()
	require.Error(t, err)
	id := requestIDs.Load()
	require.Nil(t, ea.Registry.GetPID("coregate", "request/"+strconv.FormatUint(id, 10)))
	close(release)
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 100; i++ {
				v := int64(g*1000 + i)
				ea.Send(ref.PID(), wrapperspb.Int64(-v))
				ea.Send(rt.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(-v), 0)))
				pid := ref.PID()
				var msg any = wrapperspb.Int64(v)
				if i%2 == 0 {
					pid, msg = rt.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(v), 0))
				}
				got, err := Request[*wrapperspb.Int64Value](ctx, ea, pid, msg)
				if err != nil {
					done <- err
					return
				}
				if got.GetValue() != v {
					done <- errors.New("cross talk")
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		require.NoError(t, <-done)
	}
}
