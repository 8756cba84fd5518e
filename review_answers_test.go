package coregate

import (
	"context"
	"runtime"
	"testing"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRequestToRemotesOwnProcesses: a Request to the processes Remote adds
// to an engine (coregate/discard, coregate/gone), which take no message,
// is answered at once with an error wrapping ErrBadArgument (BAD_ARGUMENT
// from another engine). Both dropped it, so the Request, local or remote,
// waited out its context (found by the answers review).
func TestRequestToRemotesOwnProcesses(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	start(t, Config{Engine: ea, Cores: 1, Affinity: Off})                 // gone answers for it
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout) // bounds a hang: no timing
	defer cancel()
	for _, id := range []string{discardID, goneID} {
		pid := actor.NewPID(ea.Address(), id)
		_, err := Request[*wrapperspb.Int64Value](ctx, ea, pid, wrapperspb.Int64(1))
		require.ErrorIs(t, err, ErrBadArgument, "local Request to %v", pid)
		require.ErrorContains(t, err, "takes no messages")
		_, err = Request[*wrapperspb.Int64Value](ctx, eb, pid, wrapperspb.Int64(1))
		var w *wire.Error
		require.ErrorAs(t, err, &w, "remote Request to %v: %v", pid, err)
		require.Equal(t, wire.Code_BAD_ARGUMENT, w.GetCode(), "%v", w)
	}
}

// goexitKey is a WithStickyKey function that calls runtime.Goexit for a
// negative argument.
func goexitKey(v *wrapperspb.Int64Value) uint64 {
	if v.GetValue() < 0 {
		runtime.Goexit()
	}
	return uint64(v.GetValue())
}

// TestCallWithGoexitInStickyKey: a Call to an op whose WithStickyKey
// function calls runtime.Goexit is answered with an error wrapping
// ErrGoexit (FAILED across processes), as a panic there is answered with a
// *PanicError, and the goroutine that delivered it goes on. The key ran on
// that goroutine, and no recover stops a Goexit: a local sender's goroutine
// ended inside its Request; a remote call ended hollywood's reader of the
// connection, so it got no answer, what the connection carried was lost,
// and the remote's Stop then waited for good (found by the answers review).
func TestCallWithGoexitInStickyKey(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	must(Define(rt, "k", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return v, nil
	}, WithStickyKey(goexitKey)))
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout) // bounds a hang: no timing
	defer cancel()

	var err error
	returned := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err = Request[*wrapperspb.Int64Value](ctx, eb, rt.OpsPID(), Call{Op: "k", Arg: wrapperspb.Int64(-1)})
		returned = true
	}()
	<-done
	require.True(t, returned, "the Goexit ended the local sender's goroutine")
	require.ErrorIs(t, err, ErrGoexit)

	_, err = Request[*wrapperspb.Int64Value](ctx, ea, rt.OpsPID(), must(wire.NewCall("k", wrapperspb.Int64(-1), 0)))
	var w *wire.Error
	require.ErrorAs(t, err, &w, "remote: %v", err)
	require.Equal(t, wire.Code_FAILED, w.GetCode(), "%v", w)
	require.ErrorContains(t, err, "Goexit")
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, rt.OpsPID(), must(wire.NewCall("k", wrapperspb.Int64(2), 0)))
	require.NoError(t, err)
	require.Equal(t, int64(2), v.GetValue())
}

// TestLocalRequestToAStoppedRuntime: a Request of the engine to a stopped
// runtime's ops process, or to a stopped actor, fails at once with an
// error wrapping ErrStopped or ErrActorStopped, on an engine with Remote
// or without, and also when the process goes as the Request is sent. It
// was a plain "no process" error, though a Request that raced the stop
// got those errors from the runtime itself, and a peer's gets their codes
// (found by the answers review). A PID no runtime's has the form of stays
// a plain error.
func TestLocalRequestToAStoppedRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout) // bounds a hang: no timing
	defer cancel()
	for _, withRemote := range []bool{false, true} {
		e, err := actor.NewEngine(actor.NewEngineConfig())
		require.NoError(t, err)
		if withRemote {
			e = remoteEngine(t)
		}
		rt := must(Start(Config{Engine: e, Cores: 1, Affinity: Off, Name: "rt"}))
		ref := must(Spawn(rt, "a", func() Actor[int, int] { return &counter{} }))
		require.NoError(t, ref.Stop(ctx))
		_, err = Request[int](ctx, e, ref.PID(), 1)
		require.ErrorIs(t, err, ErrActorStopped, "remote %v", withRemote)
		require.ErrorContains(t, err, "no process")
		_, err = Request[int](ctx, e, actor.NewPID(e.Address(), "rt/actor/never"), 1)
		require.ErrorIs(t, err, ErrActorStopped, "remote %v", withRemote)

		ops := rt.OpsPID()
		sendingHook(t, false, func() { require.NoError(t, rt.Stop(ctx)) })
		_, err = Request[int](ctx, e, ops, Call{Op: "none"})
		require.ErrorIs(t, err, ErrStopped, "stopped as it was sent; remote %v", withRemote)
		testRequestSending = nil
		_, err = Request[int](ctx, e, ops, Call{Op: "none"})
		require.ErrorIs(t, err, ErrStopped, "remote %v", withRemote)
		require.ErrorContains(t, err, "no process")

		_, err = Request[int](ctx, e, actor.NewPID(e.Address(), "other/ops"), Call{})
		require.ErrorContains(t, err, "no process")
		require.NotErrorIs(t, err, ErrStopped)
	}
}
