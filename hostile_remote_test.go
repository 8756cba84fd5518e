package coregate

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestHostileRemoteStopReleasesReader: a peer's call to a full op holds its
// connection's reader waiting for room (the backpressure the README
// describes); a Stop that gives up at once releases it, and both the call
// that ran and the one the reader held are answered, neither waiting for
// the caller's deadline (found holding by a hostile-peer review).
func TestHostileRemoteStopReleasesReader(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, MailboxSize: 1, Affinity: Off})
	started := make(chan struct{})
	must(Define(rt, "hold", func(ctx context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	errs := make(chan error, 2)
	request := func() {
		_, err := Request[*wrapperspb.Int64Value](ctx, ea, rt.OpsPID(), must(wire.NewCall("hold", wrapperspb.Int64(1), 0)))
		errs <- err
	}
	go request()
	<-started
	go request()
	waitInLine(t, rt, 1) // the reader of ea's connection waits for room
	aborted, abort := context.WithCancel(context.Background())
	abort()
	require.Error(t, rt.Stop(aborted))
	for range 2 {
		err := <-errs
		var w *wire.Error
		require.ErrorAs(t, err, &w, "%v", err)
		require.Contains(t, []wire.Code{wire.Code_STOPPED, wire.Code_CANCELLED}, w.GetCode(), "%v", w)
	}
}

// textCounter counts the messages it is told and answers the count and the
// last text.
type textCounter struct{ n int64 }

func (c *textCounter) Receive(_ *ActorContext, v *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	c.n++
	return wrapperspb.String(strconv.FormatInt(c.n, 10) + ":" + v.GetValue()), nil
}

// TestRemoteUnmarshalableMessages: a protobuf message that does not
// marshal (a string that is not valid UTF-8) never crosses. Hollywood's
// writer sent an empty message of the batch's first type to its first
// target in its place, so an op's result arrived as an empty result, a
// success, and a message sent to an actor arrived as an empty one, which
// the actor took and answered; and a typed nil *dynamicpb.Message, whose
// type cannot be named, ended the process on the writer's goroutine (found
// by a hostile-peer review). An answer
// now comes back as a NOT_PROTO error at once, and a message sent from this
// engine is a dead letter and its Request's error, as any other message
// that cannot cross.
func TestRemoteUnmarshalableMessages(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	must(Define(rt, "text", func(_ context.Context, b *wrapperspb.BytesValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(string(b.GetValue())), nil
	}))
	must(Define(rt, "dyn", func(context.Context, *wrapperspb.BytesValue) (proto.Message, error) {
		return (*dynamicpb.Message)(nil), nil // naming its type panics
	}))
	ref := must(Spawn(rt, "count", func() Actor[*wrapperspb.StringValue, *wrapperspb.StringValue] { return &textCounter{} }))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()

	v, err := Request[*wrapperspb.StringValue](ctx, ea, rt.OpsPID(), must(wire.NewCall("text", wrapperspb.Bytes([]byte{0xff}), 0)))
	var w *wire.Error
	require.ErrorAs(t, err, &w, "answered %v", v)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	require.ErrorContains(t, err, "invalid UTF-8")

	_, err = Request[proto.Message](ctx, ea, rt.OpsPID(), must(wire.NewCall("dyn", wrapperspb.Bytes(nil), 0)))
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	require.ErrorContains(t, err, "panicked")

	_, err = Request[*wrapperspb.StringValue](ctx, ea, ref.PID(), wrapperspb.String("bad \xff"))
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	v, err = Request[*wrapperspb.StringValue](ctx, ea, ref.PID(), wrapperspb.String("good"))
	require.NoError(t, err)
	require.Equal(t, "1:good", v.GetValue(), "the actor was told nothing before")
}

// TestHostileRemoteRequesterGone: a peer floods an op with Requests and goes
// away before they are answered: the answers become dead letters (after
// hollywood's writer gives up dialing), the serving runtime answers
// another peer all the same, and stops balanced (found holding by a
// hostile-peer review).
func TestHostileRemoteRequesterGone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	r := remote.New(addr, remote.NewConfig())
	gone, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(r)))
	require.NoError(t, err)
	other, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	gate := make(chan struct{})
	must(Define(rt, "gated", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		<-gate
		return v, nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	gctx, gcancel := context.WithCancel(ctx)
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := Request[*wrapperspb.Int64Value](gctx, gone, rt.OpsPID(), must(wire.NewCall("gated", wrapperspb.Int64(int64(i)), 0)))
			errs <- err
		}()
	}
	for rt.Stats().Total.Submitted < n {
		runtime.Gosched()
	}
	r.Stop().Wait() // the requester goes away
	gcancel()
	for range n {
		require.ErrorIs(t, <-errs, context.Canceled)
	}
	close(gate)
	v, err := Request[*wrapperspb.Int64Value](ctx, other, rt.OpsPID(), must(wire.NewCall("gated", wrapperspb.Int64(7), 0)))
	require.NoError(t, err)
	require.Equal(t, int64(7), v.GetValue())
	require.NoError(t, rt.Stop(ctx))
	require.Equal(t, uint64(n+1), rt.Stats().Total.Succeeded)
}

// TestHostileRemoteDuringStop: a peer keeps sending calls, messages of the
// wrong type and messages to the executors', router's, ops' and an actor's
// PIDs while the runtime stops and after: nothing panics, every answer that
// comes is a result or a *wire.Error (a Request sent once a process was
// gone gets none: its context ends it), and the counts balance (found
// holding by a hostile-peer review).
func TestHostileRemoteDuringStop(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 2, Affinity: Off})
	must(Define(rt, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	pids := []*actor.PID{rt.OpsPID(), ref.PID(), actor.NewPID(eb.Address(), "coregate/router")}
	for _, x := range rt.Executors() {
		pids = append(pids, x.PID)
	}
	msgs := []any{
		must(wire.NewCall("id", wrapperspb.Int64(1), 0)),
		must(wire.NewCall("id", wrapperspb.String("x"), 0)),
		&wire.Call{Op: "nope"},
		wrapperspb.Int64(1),
		wrapperspb.String("x"),
		&wire.Error{Code: wire.Code_STOPPED},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	rctx, rcancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	const senders = 4
	bad := make(chan error, senders)
	for g := range senders {
		go func() {
			after := 0 // sends since the runtime stopped: Tells, whose answers go to ea's discard
			for i := 0; after <= 100; i++ {
				select {
				case <-stopped:
					after++
				default:
				}
				pid, msg := pids[(g+i)%len(pids)], msgs[i%len(msgs)]
				if after > 0 || i%3 == 0 {
					ea.Send(pid, msg)
					continue
				}
				_, err := Request[*wrapperspb.Int64Value](rctx, ea, pid, msg)
				var w *wire.Error
				if err != nil && !errors.As(err, &w) && !errors.Is(err, context.Canceled) {
					bad <- err
					return
				}
			}
			bad <- nil
		}()
	}
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(3))
	require.NoError(t, err, "the actor answers while the peer sends")
	require.Equal(t, int64(3), v.GetValue())
	require.NoError(t, rt.Stop(ctx))
	close(stopped)
	rcancel() // a Request sent once its process was gone waits for its context
	for range senders {
		require.NoError(t, <-bad)
	}
	requireBalanced(t, rt)
}

// TestRemoteTellIsNotAnswered: a message a peer sends without a sender (a
// Tell, which Remote sends from its discard process) is not answered
// across: the answer crossed back to the peer's discard, to be dropped
// there, at the cost of marshalling and sending it, and of room in the
// batch the peer's reader takes at once (4 MB), whose overflow loses what
// else it carried (found by a hostile-peer review).
func TestRemoteTellIsNotAnswered(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	var dropped atomic.Int64
	discard := actor.NewPID(ea.Address(), "coregate/discard")
	ea.Registry.Remove(discard)
	ea.SpawnProc(&proc{pid: discard, send: func(any, *actor.PID) { dropped.Add(1) }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	ea.Send(ref.PID(), wrapperspb.Int64(1))
	ea.Send(ref.PID(), wrapperspb.String("not an Int64Value"))
	ea.Send(rt.Executors()[0].PID, wrapperspb.Int64(1))
	// The actor answers in turn, in order, on one connection: an answer to
	// the Tells would have reached ea's discard before this one.
	v, err := Request[*wrapperspb.Int64Value](ctx, ea, ref.PID(), wrapperspb.Int64(2))
	require.NoError(t, err)
	require.Equal(t, int64(2), v.GetValue())
	require.Zero(t, dropped.Load(), "answers crossed to the peer's discard")
}
