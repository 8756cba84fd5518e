package coregate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// streamMark is an event a test broadcasts: once a subscriber got it, the
// event stream has forwarded every event broadcast before it.
type streamMark struct{}

// crossed returns what engine e, whose Remote passes to c, put on the wire
// for the events broadcast so far: every one is forwarded by then.
func crossed(t *testing.T, e *actor.Engine, c *chanRemote) []any {
	t.Helper()
	marks, stop := testkit.Subscribe(e, testkit.Is[streamMark])
	defer stop()
	e.BroadcastEvent(streamMark{})
	select {
	case <-marks:
	case <-time.After(time.Minute): // bounds a hang: no timing
		t.Fatal("the event stream did not forward its mark")
	}
	var sent []any
	for {
		select {
		case m := <-c.sent:
			sent = append(sent, m)
		default:
			return sent
		}
	}
}

// requireCrossed checks that what crossed is one *wire.Error of code code.
func requireCrossed(t *testing.T, sent []any, code wire.Code, text string) {
	t.Helper()
	require.Len(t, sent, 1, "answers: %v", sent)
	w, ok := sent[0].(*wire.Error)
	require.True(t, ok, "answered a %T: %v", sent[0], sent[0])
	require.Equal(t, code, w.GetCode(), "%v", w)
	require.Contains(t, w.GetMessage(), text)
}

// TestRemoteAskOfAStoppedRuntime: a peer's call to the ops process of a
// runtime that stopped, or its message with a sender to an actor that
// stopped, is answered at once, STOPPED or ACTOR_STOPPED: the processes
// had left the engine, so what the peer sent was a dead letter that no one
// answered, and its Request waited out its whole timeout. A message the
// runtime refused and answered itself (a live runtime's unknown op, an
// actor's wrong type) is answered once, not again as a dead letter; a
// peer's Tell and a sender of this engine are not answered (found by the
// remote-stop review).
func TestRemoteAskOfAStoppedRuntime(t *testing.T) {
	c, e, rt, ref, peer := remoteEcho(t)
	peerTell := actor.NewPID("127.0.0.1:2", discardID)
	local := actor.NewPID(e.Address(), "response/8")

	// Refused by the live runtime: its answer only.
	e.SendLocal(rt.OpsPID(), &wire.Call{Op: "nope"}, peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_UNKNOWN_OP, "nope")
	e.SendLocal(ref.PID(), wrapperspb.String("x"), peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_BAD_ARGUMENT, "takes")

	require.NoError(t, ref.Stop(context.Background()))
	e.SendLocal(ref.PID(), wrapperspb.Int64(1), peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_ACTOR_STOPPED, ref.PID().GetID())

	require.NoError(t, rt.Stop(context.Background()))
	e.SendLocal(rt.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(1), 0)), peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_STOPPED, rt.OpsPID().GetID())

	for _, sender := range []*actor.PID{peerTell, local, nil} {
		e.SendLocal(rt.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(1), 0)), sender)
		e.SendLocal(ref.PID(), wrapperspb.Int64(1), sender)
	}
	// Nor a process of this engine that is not a runtime's.
	e.SendLocal(actor.NewPID(e.Address(), "other/ops"), wrapperspb.Int64(1), peer)
	require.Empty(t, crossed(t, e, c))

	// The names are free: a runtime of the same name answers again.
	rt2 := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	must(Define(rt2, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	must(Spawn(rt2, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	e.SendLocal(rt2.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(5), 0)), peer)
	e.SendLocal(ref.PID(), wrapperspb.Int64(6), peer)
	got := make(map[int64]bool)
	for range 2 {
		select {
		case m := <-c.sent:
			v, ok := m.(*wrapperspb.Int64Value)
			require.True(t, ok, "answered a %T: %v", m, m)
			got[v.GetValue()] = true
		case <-time.After(time.Minute): // bounds a hang: no timing
			t.Fatal("the new runtime did not answer")
		}
	}
	require.Equal(t, map[int64]bool{5: true, 6: true}, got)
	require.Empty(t, crossed(t, e, c))
}

// TestRemoteRequestToAStoppedRuntime: over hollywood's remote on loopback,
// a peer's Request to the ops process or an actor of a runtime that
// stopped ends at once with a *wire.Error of code STOPPED or
// ACTOR_STOPPED, not with its context's deadline.
func TestRemoteRequestToAStoppedRuntime(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	must(Define(rt, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds a hang: no timing
	defer cancel()
	require.NoError(t, rt.Stop(ctx))
	requireWireAnswers(t, ctx, ea, []wireCase{
		{"ops", rt.OpsPID(), must(wire.NewCall("id", wrapperspb.Int64(1), 0)), wire.Code_STOPPED, "stopped"},
		{"actor", ref.PID(), wrapperspb.Int64(1), wire.Code_ACTOR_STOPPED, "stopped"},
	})
	require.NoError(t, ctx.Err())
}

// TestRemoteAnswerEchoesABoundedName: an answer that names what the peer
// sent (an op that is not there, an argument's type that is not linked
// here or names no message, an actor that is not there) names at most a
// bounded prefix of it: the whole name, escaped by
// %q (a byte below 0x20 takes four), pushed the answer past the peer's
// reader's 4 MB, which dropped the connection with every answer it
// carried (found by the remote-stop review).
func TestRemoteAnswerEchoesABoundedName(t *testing.T) {
	c := &chanRemote{sent: make(chan any, 16)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	must(Define(rt, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	peer := actor.NewPID("127.0.0.1:2", "response/7")
	huge := strings.Repeat("\x01", 2<<20) // 2 MB, valid UTF-8: it crosses
	for _, tc := range []struct {
		call *wire.Call
		code wire.Code
	}{
		{&wire.Call{Op: huge}, wire.Code_UNKNOWN_OP},
		{&wire.Call{Op: huge, TimeoutMs: -1}, wire.Code_BAD_ARGUMENT},
		{&wire.Call{Op: "id", Arg: &anypb.Any{TypeUrl: "type.googleapis.com/" + huge}}, wire.Code_BAD_ARGUMENT},
		// A name that is not a message's: anypb's error quotes the URL.
		{&wire.Call{Op: "id", Arg: &anypb.Any{TypeUrl: huge + "/coregate.wire.Code"}}, wire.Code_BAD_ARGUMENT},
		{&wire.Call{Op: "id"}, wire.Code_ACTOR_STOPPED}, // to an actor of that name, not there
	} {
		require.Less(t, proto.Size(tc.call), 4<<20, "the call crosses")
		to := rt.OpsPID()
		if tc.code == wire.Code_ACTOR_STOPPED {
			to = actor.NewPID(e.Address(), "coregate/actor/"+huge)
		}
		e.SendLocal(to, tc.call, peer)
		sent := crossed(t, e, c)
		require.Len(t, sent, 1)
		w, ok := sent[0].(*wire.Error)
		require.True(t, ok, "answered a %T", sent[0])
		require.Equal(t, tc.code, w.GetCode(), "%.200v", w)
		require.Less(t, proto.Size(w), 1<<10, "%.200v", w)
		require.Contains(t, w.GetMessage(), `\x01\x01`, "it names what came")
	}
}

// TestRemoteCallTimedOutWaitingForRoom: a call whose Timeout ends while it
// waits for room in a full range is answered DEADLINE_EXCEEDED, as one
// whose Timeout ends in the queue is, and is not a dead letter: the ops
// process took it, and its own bound ended it. It was published as one,
// a dead letter for every call an overloaded runtime timed out, for a
// user watching dead letters (found by the remote-stop review).
func TestRemoteCallTimedOutWaitingForRoom(t *testing.T) {
	c := &chanRemote{sent: make(chan any, 16)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off, MailboxSize: 1})
	release := make(chan struct{})
	running := make(chan struct{}, 1)
	hold := must(Define(rt, "hold", func(context.Context, *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		running <- struct{}{}
		<-release
		return wrapperspb.Int64(0), nil
	}))
	ctx := context.Background()
	toks := []*Token[*wrapperspb.Int64Value]{must(hold.Submit(ctx, nil))}
	<-running
	for { // until the mailbox is full
		tok, err := hold.TrySubmit(nil)
		if errors.Is(err, ErrFull) {
			break
		}
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	events, stop := testkit.Subscribe(e, func(ev any) bool {
		return testkit.Is[actor.DeadLetterEvent](ev) || testkit.Is[streamMark](ev)
	})
	defer stop()
	peer := actor.NewPID("127.0.0.1:2", "response/7")
	e.SendLocal(rt.OpsPID(), must(wire.NewCall("hold", wrapperspb.Int64(1), time.Millisecond)), peer)
	// Refused or accepted, its answer comes as its token resolves: once
	// it crossed, so did any dead letter.
	var m any
	select {
	case m = <-c.sent:
	case <-time.After(time.Minute): // bounds a hang: no timing
		t.Fatal("the call was not answered")
	}
	close(release)
	w, ok := m.(*wire.Error)
	require.True(t, ok, "answered a %T: %v", m, m)
	require.Equal(t, wire.Code_DEADLINE_EXCEEDED, w.GetCode(), "%v", w)
	e.BroadcastEvent(streamMark{})
	for ev := range events {
		if _, ok := ev.(streamMark); ok {
			break
		}
		t.Fatalf("the timed-out call was published as a dead letter: %+v", ev)
	}
	for _, tok := range toks {
		_, err := tok.Wait(ctx)
		require.NoError(t, err)
	}
}

// remoteEcho starts a one-core runtime on an engine whose Remote sends to
// a chanRemote, with an op "id" and an actor "e" that answer what they
// get, and returns them with the PID of a hollywood Request of another
// engine.
func remoteEcho(t *testing.T) (*chanRemote, *actor.Engine, *Runtime, *Ref[*wrapperspb.Int64Value, *wrapperspb.Int64Value], *actor.PID) {
	c := &chanRemote{sent: make(chan any, 16)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	must(Define(rt, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	return c, e, rt, ref, actor.NewPID("127.0.0.1:2", "response/7")
}

// TestRemoteAskOfAStoppedRuntimeByAnotherAddress: a peer's message to the
// ops process or an actor of a runtime that stopped is answered at once
// also when the peer names the engine by another address than the one it
// listens on (a wildcard ":4000", a host name): hollywood's reader
// delivers by ID, so the live runtime answered it, but its dead letter,
// whose target's address was not the engine's, was answered by no one,
// and the peer's Request waited out its whole timeout. A message this
// engine's Remote keeps off the wire, to a peer's process of that form,
// is still not answered so: it never reached the peer (found by the
// remote review).
func TestRemoteAskOfAStoppedRuntimeByAnotherAddress(t *testing.T) {
	c, e, rt, ref, peer := remoteEcho(t)
	const as = "localhost:1" // e listens on 127.0.0.1:1
	ops := actor.NewPID(as, rt.OpsPID().GetID())
	act := actor.NewPID(as, ref.PID().GetID())

	e.SendLocal(ops, must(wire.NewCall("id", wrapperspb.Int64(3), 0)), peer)
	select {
	case m := <-c.sent:
		v, ok := m.(*wrapperspb.Int64Value)
		require.True(t, ok && v.GetValue() == 3, "answered %v", m)
	case <-time.After(time.Minute): // bounds a hang: no timing
		t.Fatal("the live runtime did not answer a PID of another address")
	}

	require.NoError(t, ref.Stop(context.Background()))
	e.SendLocal(act, wrapperspb.Int64(1), peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_ACTOR_STOPPED, ref.PID().GetID())

	require.NoError(t, rt.Stop(context.Background()))
	e.SendLocal(ops, must(wire.NewCall("id", wrapperspb.Int64(1), 0)), peer)
	requireCrossed(t, crossed(t, e, c), wire.Code_STOPPED, rt.OpsPID().GetID())

	// A message Remote refuses to send (not protobuf) to a peer's runtime
	// of the same name, with a sender of a third engine: a dead letter
	// here, no answer of a stopped runtime.
	other := actor.NewPID("127.0.0.1:3", rt.OpsPID().GetID())
	e.SendWithSender(other, "not protobuf", peer)
	e.SendWithSender(actor.NewPID("127.0.0.1:3", ref.PID().GetID()), wrapperspb.String("bad \xff"), peer)
	require.Empty(t, crossed(t, e, c))
}
