package coregate

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// remoteEngine starts an engine with hollywood's remote, wrapped by Remote,
// on a free loopback port; the test stops its listener.
func remoteEngine(t *testing.T) *actor.Engine {
	t.Helper()
	return remoteEngineWith(t, Remote)
}

// remoteEngineWith is remoteEngine with hollywood's remote wrapped by wrap.
func remoteEngineWith(t *testing.T, wrap func(actor.Remoter) actor.Remoter) *actor.Engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	r := remote.New(addr, remote.NewConfig())
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(wrap(r)))
	require.NoError(t, err)
	t.Cleanup(func() { r.Stop().Wait() })
	return e
}

// wireCase is a Request whose answer must be a *wire.Error of code code
// saying text.
type wireCase struct {
	name string
	pid  *actor.PID
	msg  any
	code wire.Code
	text string
}

// requireWireAnswers makes each case's Request from engine e and checks
// its answer.
func requireWireAnswers(t *testing.T, ctx context.Context, e *actor.Engine, cases []wireCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Request[*wrapperspb.Int64Value](ctx, e, tc.pid, tc.msg)
			var w *wire.Error
			require.ErrorAs(t, err, &w, "got %v", err)
			require.Equal(t, tc.code, w.GetCode(), "%v", w)
			require.ErrorContains(t, err, tc.text)
		})
	}
}

// summer adds what it is told and answers the sum; a negative number fails.
type summer struct{ sum int64 }

func (s *summer) Receive(_ *ActorContext, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
	if v.GetValue() < 0 {
		return nil, errors.New("summer: negative")
	}
	s.sum += v.GetValue()
	return wrapperspb.Int64(s.sum), nil
}

// TestRemoteOpsAndActors: an engine reaches another engine's runtime over
// hollywood's remote on loopback, calling its ops and telling and asking its
// actor, with typed answers; every bad input comes back as a *wire.Error with
// its code.
func TestRemoteOpsAndActors(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1})
	must(Define(rt, "double", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return wrapperspb.Int64(2 * v.GetValue()), nil
	}))
	must(Define(rt, "plain", func(_ context.Context, v *wrapperspb.Int64Value) (int, error) { return int(v.GetValue()), nil }))
	must(Define(rt, "verdict", func(context.Context, *wrapperspb.Int64Value) (*verdict, error) { return &verdict{reason: "x"}, nil }))
	ref := must(Spawn(rt, "sum", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return &summer{} }))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ops := actor.NewPID(eb.Address(), "coregate/ops")
	require.True(t, ops.Equals(rt.OpsPID()))

	v, err := Request[*wrapperspb.Int64Value](ctx, ea, ops, must(wire.NewCall("double", wrapperspb.Int64(21), time.Minute)))
	require.NoError(t, err)
	require.Equal(t, int64(42), v.GetValue())

	ea.Send(ref.PID(), wrapperspb.Int64(5)) // a Tell
	v, err = Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(1))
	require.NoError(t, err)
	require.Equal(t, int64(6), v.GetValue(), "the Tell came first")

	requireWireAnswers(t, ctx, ea, []wireCase{
		{"unknown op", ops, must(wire.NewCall("tripple", wrapperspb.Int64(1), 0)), wire.Code_UNKNOWN_OP, `no op named "tripple"`},
		{"wrong argument", ops, must(wire.NewCall("double", wrapperspb.String("1"), 0)), wire.Code_BAD_ARGUMENT, "takes *wrapperspb.Int64Value, not *wrapperspb.StringValue"},
		{"not a call", ops, wrapperspb.String("double 1"), wire.Code_BAD_ARGUMENT, "takes a coregate.Call or a *wire.Call"},
		{"result not protobuf", ops, must(wire.NewCall("plain", wrapperspb.Int64(1), 0)), wire.Code_NOT_PROTO, "a int cannot cross processes"},
		// A result, not a failure, though it implements error: it crossed as
		// a *wire.Error FAILED with its text.
		{"result implementing error", ops, must(wire.NewCall("verdict", wrapperspb.Int64(1), 0)), wire.Code_NOT_PROTO, "a *coregate.verdict cannot cross processes"},
		{"actor error", ref.PID(), wrapperspb.Int64(-1), wire.Code_FAILED, "summer: negative"},
		{"actor wrong type", ref.PID(), wrapperspb.String("x"), wire.Code_BAD_ARGUMENT, `actor "sum" takes *wrapperspb.Int64Value, not *wrapperspb.StringValue`},
	})
	v, err = Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(0))
	require.NoError(t, err)
	require.Equal(t, int64(6), v.GetValue(), "the actor went on")
}

// TestRemoteRejectsWithoutWrapper: a runtime whose engine uses hollywood's
// remote as it is (not wrapped by Remote) still answers a remote Request it
// rejects (an executor's or the router's PID given a non-job, an actor given
// a wrong type) with a *wire.Error: hollywood's remote writer panics on a
// message that is not protobuf, which a plain Go error reply is, and that
// took the whole process down (found by review of the remote work).
func TestRemoteRejectsWithoutWrapper(t *testing.T) {
	bare := func(r actor.Remoter) actor.Remoter { return r }
	ea, eb := remoteEngine(t), remoteEngineWith(t, bare)
	rt := start(t, Config{Engine: eb, Cores: 1})
	ref := must(Spawn(rt, "sum", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return &summer{} }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for pid, code := range map[*actor.PID]wire.Code{
		rt.Executors()[0].PID:                         wire.Code_FAILED,
		actor.NewPID(eb.Address(), "coregate/router"): wire.Code_FAILED,
		ref.PID(): wire.Code_BAD_ARGUMENT,
	} {
		_, err := Request[*wrapperspb.Int64Value](ctx, ea, pid, wrapperspb.String("not a job"))
		var w *wire.Error
		require.ErrorAs(t, err, &w, "reply from %v", pid)
		require.Equal(t, code, w.GetCode(), "%v", w)
	}
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(3))
	require.NoError(t, err)
	require.Equal(t, int64(3), v.GetValue(), "the runtime went on")
}

// badErrs answers -1 with a typed nil error and -2 with an error whose text
// is not valid UTF-8.
type badErrs struct{}

func (badErrs) Receive(_ *ActorContext, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
	switch v.GetValue() {
	case -1:
		var e *nilErr
		return nil, e
	case -2:
		return nil, errors.New("bad byte \xff in key")
	}
	return v, nil
}

// TestRemoteAnswersAwkwardErrors: errors that cannot be formatted as they
// are still reach a remote caller. A typed nil error from an op ended the
// answering process (a nil pointer in its Error, on a goroutine without a
// recover), the same from an actor panicked its turn and the caller waited
// for ever, and an error text that is not valid UTF-8 was dropped by
// hollywood's writer (all found by review). A Call, which cannot cross, is
// answered at once instead of crossing as a *wire.Error.
func TestRemoteAnswersAwkwardErrors(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	must(Define(rt, "typednil", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		var e *nilErr
		return nil, e
	}))
	ref := must(Spawn(rt, "bad", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return badErrs{} }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	requireWireAnswers(t, ctx, ea, []wireCase{
		{"op's typed nil", rt.OpsPID(), must(wire.NewCall("typednil", wrapperspb.Int64(1), 0)), wire.Code_FAILED, "a *coregate.nilErr error whose methods panicked"},
		{"actor's typed nil", ref.PID(), wrapperspb.Int64(-1), wire.Code_FAILED, "a *coregate.nilErr error whose methods panicked"},
		{"invalid UTF-8", ref.PID(), wrapperspb.Int64(-2), wire.Code_FAILED, "bad byte \uFFFD in key"},
		{"a Call", rt.OpsPID(), Call{Op: "typednil"}, wire.Code_NOT_PROTO, "a coregate.Call cannot cross processes"},
	})
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(5))
	require.NoError(t, err)
	require.Equal(t, int64(5), v.GetValue(), "the actor went on")
}

// TestRemoteNilResults: a nil result of a message type crosses as an empty
// message of that type; a nil interface has no type to cross as and is a
// NOT_PROTO error (the README said every nil result crossed as an empty
// message).
func TestRemoteNilResults(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1})
	must(Define(rt, "typed", func(context.Context, *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return nil, nil }))
	must(Define(rt, "iface", func(context.Context, *wrapperspb.Int64Value) (proto.Message, error) { return nil, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, rt.OpsPID(), must(wire.NewCall("typed", wrapperspb.Int64(1), 0)))
	require.NoError(t, err)
	require.NotNil(t, v)
	require.Zero(t, v.GetValue())
	_, err = Request[proto.Message](ctx, ea, rt.OpsPID(), must(wire.NewCall("iface", wrapperspb.Int64(1), 0)))
	var w *wire.Error
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
}

// TestRequestToAPIDWithoutAddress: a PID with no address (a zero
// actor.PID, say) is refused at once, not handed to the remote transport,
// which would dial "" and hold up the engine's outgoing traffic.
func TestRequestToAPIDWithoutAddress(t *testing.T) {
	e := remoteEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Request[any](ctx, e, &actor.PID{ID: "somebody"}, wrapperspb.Int64(1))
	require.ErrorContains(t, err, "has no address")
	require.NoError(t, ctx.Err(), "refused at once, not after the context")
}
