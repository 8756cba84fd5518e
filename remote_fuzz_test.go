package coregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/wire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// FuzzWireCall: whatever bytes a peer sends as a *wire.Call (those that
// unmarshal: hollywood's reader drops a connection carrying any other), the
// ops process answers a Request exactly as its README says, never panicking
// on the connection's reader goroutine (which would end the process): a
// negative timeout or an argument that does not unpack is BAD_ARGUMENT, an
// unknown op UNKNOWN_OP, an argument of another type BAD_ARGUMENT, and what
// the answer crosses as marshals, an error's message valid UTF-8 (or it
// could not cross; see marshalError).
func FuzzWireCall(f *testing.F) {
	e, rt := fuzzRuntime(f, 1)
	must(Define(rt, "echo", func(_ context.Context, m proto.Message) (proto.Message, error) { return m, nil }))
	must(Define(rt, "any", func(_ context.Context, v any) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(fmt.Sprintf("%T", v)), nil
	}))
	must(Define(rt, "int", func(_ context.Context, v int) (int, error) { return v, nil }))
	must(Define(rt, "sticky", func(_ context.Context, s *wrapperspb.StringValue) (*wrapperspb.StringValue, error) { return s, nil },
		WithStickyKey(func(s *wrapperspb.StringValue) uint64 { return uint64(len(s.Value)) }))) // panics on a nil argument
	must(Define(rt, "fail", func(_ context.Context, s *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		b := []byte(s.GetValue())
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i] // reversed: not valid UTF-8, often
		}
		return nil, errors.New(string(b))
	}))
	must(Define(rt, "panic", func(_ context.Context, s *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		panic(s.GetValue())
	}))
	must(Define(rt, "struct", func(_ context.Context, s *structpb.Struct) (*structpb.Struct, error) { return s, nil }))
	answers := make(chan any, 1)
	// A Request's answer process, which takes requestTaken for no answer.
	sender := e.SpawnProc(&proc{pid: actor.NewPID(e.Address(), requestPrefix+"fuzz"), send: func(m any, _ *actor.PID) {
		if _, taken := m.(requestTaken); !taken {
			answers <- m
		}
	}})

	for _, c := range []*wire.Call{
		{},
		{Op: "i64"},
		must(wire.NewCall("i64", wrapperspb.Int64(21), 0)),
		must(wire.NewCall("i64", wrapperspb.String("21"), 0)),
		must(wire.NewCall("echo", wrapperspb.String("x"), 0)),
		{Op: "echo"},
		must(wire.NewCall("any", wrapperspb.Bool(true), 0)),
		{Op: "any"},
		{Op: "int"},
		must(wire.NewCall("int", wrapperspb.Int64(1), 0)),
		{Op: "sticky"},
		must(wire.NewCall("sticky", wrapperspb.String("k"), 0)),
		must(wire.NewCall("fail", wrapperspb.String("h\u00e9llo"), 0)),
		must(wire.NewCall("panic", wrapperspb.String("boom"), 0)),
		must(wire.NewCall("struct", must(structpb.NewStruct(map[string]any{"a": []any{1.0, "b", nil}})), 0)),
		must(wire.NewCall("echo", must(anypb.New(wrapperspb.Int64(1))), 0)),
		{Op: "i64", TimeoutMs: -1},
		{Op: "i64", TimeoutMs: math.MaxInt64},
		{Op: "i64", TimeoutMs: 1},
		{Op: "i64", Arg: &anypb.Any{TypeUrl: "type.googleapis.com/no.such.Message", Value: []byte{1}}},
		{Op: "i64", Arg: &anypb.Any{TypeUrl: "type.googleapis.com/google.protobuf.Int64Value", Value: []byte{0xff}}},
		{Op: "i64", Arg: &anypb.Any{}},
		{Op: "echo", Arg: &anypb.Any{TypeUrl: "/"}},
		{Op: "no such op", Arg: &anypb.Any{TypeUrl: "x"}},
	} {
		f.Add(must(proto.Marshal(c)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c wire.Call
		if proto.Unmarshal(b, &c) != nil {
			return // hollywood's reader drops the connection: nothing reaches the runtime
		}
		want := wire.Code(-1) // any outcome of the op's own
		var arg proto.Message
		if c.GetArg() != nil {
			var err error
			if arg, err = c.GetArg().UnmarshalNew(); err != nil {
				want = wire.Code_BAD_ARGUMENT
			}
		}
		switch {
		case c.GetTimeoutMs() < 0:
			want = wire.Code_BAD_ARGUMENT
		case want >= 0:
		case rt.registry.get(c.GetOp()) == nil:
			want = wire.Code_UNKNOWN_OP
		case !takes(c.GetOp(), arg):
			want = wire.Code_BAD_ARGUMENT
		}
		e.SendLocal(rt.OpsPID(), &c, sender)
		a, ok := (<-answers).(reply)
		if !ok {
			t.Fatalf("the answer is not a reply")
		}
		var crosses proto.Message
		if a.err != nil {
			w := wireError(a.err)
			if want >= 0 && w.GetCode() != want {
				t.Fatalf("call %v: answered %v (%v), want code %v", &c, w.GetCode(), a.err, want)
			}
			crosses = w
		} else {
			if want >= 0 {
				t.Fatalf("call %v: answered %v, want code %v", &c, a.r, want)
			}
			crosses = toWire(a.r)
		}
		if w, ok := crosses.(*wire.Error); ok && !utf8.ValidString(w.GetMessage()) {
			t.Fatalf("call %v: an error message that is not valid UTF-8: %q", &c, w.GetMessage())
		}
		if _, err := proto.Marshal(crosses); err != nil {
			t.Fatalf("call %v: the answer %v cannot cross: %v", &c, crosses, err)
		}
	})
}

// takes says whether the fuzzed runtime's op named op takes arg (nil when
// the call had none).
func takes(op string, arg proto.Message) bool {
	switch op {
	case "echo", "any":
		return true
	case "int":
		return false
	case "i64":
		_, ok := arg.(*wrapperspb.Int64Value)
		return ok || arg == nil
	case "sticky", "fail", "panic":
		_, ok := arg.(*wrapperspb.StringValue)
		return ok || arg == nil
	case "struct":
		_, ok := arg.(*structpb.Struct)
		return ok || arg == nil
	}
	return false
}

// FuzzRemoteMessage: whatever protobuf message a peer sends (of a type
// linked into this process, from bytes that unmarshal) to a runtime's ops
// process, an actor, an executor or the router, a Request is answered at
// once (a token or an actor's turn runs first only for a well-typed call or
// message), never with a panic on the connection's reader, and the answer
// crosses: a result of the right type or a *wire.Error that marshals.
func FuzzRemoteMessage(f *testing.F) {
	e, rt := fuzzRuntime(f, 2)
	// An actor that does not panic: one that does stops past its restart
	// intensity, and its PID is gone (a Request to it waits for its context).
	ref := must(Spawn(rt, "e", func() Actor[*wrapperspb.Int64Value, *wrapperspb.Int64Value] { return echo{} }))
	pids := []*actor.PID{rt.OpsPID(), ref.PID(), actor.NewPID(e.Address(), "coregate/router")}
	for _, x := range rt.Executors() {
		pids = append(pids, x.PID)
	}
	types := []proto.Message{
		&wire.Call{}, &wire.Error{}, &wrapperspb.Int64Value{}, &wrapperspb.StringValue{},
		&anypb.Any{}, &structpb.Struct{}, &actor.PID{},
	}
	answers := make(chan any, 1)
	// A Request's answer process, which takes requestTaken for no answer.
	sender := e.SpawnProc(&proc{pid: actor.NewPID(e.Address(), requestPrefix+"fuzzmsg"), send: func(m any, _ *actor.PID) {
		if _, taken := m.(requestTaken); !taken {
			answers <- m
		}
	}})
	for i, m := range []proto.Message{
		must(wire.NewCall("i64", wrapperspb.Int64(1), 0)),
		&wire.Error{Code: wire.Code_STOPPED, Message: "x"},
		wrapperspb.Int64(-1),
		wrapperspb.Int64(3),
		wrapperspb.String("x"),
		must(anypb.New(wrapperspb.Int64(1))),
		must(structpb.NewStruct(map[string]any{"a": 1.0})),
		actor.NewPID("x", "y"),
	} {
		for p := range pids {
			f.Add(uint8(i), uint8(p), must(proto.Marshal(m)))
		}
	}
	f.Fuzz(func(t *testing.T, typ, to uint8, b []byte) {
		m := types[int(typ)%len(types)].ProtoReflect().Type().New().Interface()
		if proto.Unmarshal(b, m) != nil {
			return // hollywood's reader drops the connection: nothing reaches the runtime
		}
		i := int(to) % len(pids)
		pid := pids[i]
		e.SendLocal(pid, m, sender)
		a, ok := (<-answers).(reply)
		if !ok {
			t.Fatalf("%T to %v: the answer is not a reply", m, pid)
		}
		var crosses proto.Message
		switch {
		case a.err != nil:
			crosses = wireError(a.err)
		case i < 2: // the ops process or the actor
			crosses = toWire(a.r)
			if _, ok := crosses.(*wrapperspb.Int64Value); !ok {
				t.Fatalf("%T to %v: answered %T", m, pid, a.r)
			}
		default:
			t.Fatalf("%T to %v: a result (%v) from a process that takes tokens only", m, pid, a.r)
		}
		if _, err := proto.Marshal(crosses); err != nil {
			t.Fatalf("%T to %v: the answer %v cannot cross: %v", m, pid, crosses, err)
		}
	})
}

// fuzzRuntime starts a runtime of cores executors on an engine of its own,
// stopped when the fuzz test ends, with an op "i64" that doubles an Int64Value.
func fuzzRuntime(f *testing.F, cores int) (*actor.Engine, *Runtime) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		f.Fatal(err)
	}
	rt, err := Start(Config{Engine: e, Cores: cores, Affinity: Off})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := rt.Stop(context.Background()); err != nil {
			f.Error(err)
		}
	})
	must(Define(rt, "i64", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return wrapperspb.Int64(2 * v.GetValue()), nil
	}))
	return e, rt
}
