package coregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// opsRuntime starts a one-executor runtime with the ops the call tests use.
func opsRuntime(t *testing.T) *Runtime {
	t.Helper()
	rt := start(t, Config{Cores: 1})
	must(Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil }))
	must(Define(rt, "fail", func(_ context.Context, s string) (int, error) { return 0, errors.New("fail: " + s) }))
	must(Define(rt, "boom", func(_ context.Context, s string) (int, error) { panic("boom: " + s) }))
	must(Define(rt, "len", func(_ context.Context, p *[]int) (int, error) {
		if p == nil {
			return -1, nil
		}
		return len(*p), nil
	}))
	must(Define(rt, "double", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return wrapperspb.Int64(2 * v.GetValue()), nil
	}))
	return rt
}

func call[R any](t *testing.T, rt *Runtime, msg any) (R, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Request[R](ctx, rt.Engine(), rt.OpsPID(), msg)
}

func TestCallRunsOpByName(t *testing.T) {
	rt := opsRuntime(t)
	require.Equal(t, "coregate/ops", rt.OpsPID().ID)
	before := rt.Stats().Total.Submitted

	v, err := call[int](t, rt, Call{Op: "square", Arg: 7})
	require.NoError(t, err)
	require.Equal(t, 49, v)
	v, err = call[int](t, rt, &Call{Op: "square", Arg: 8, Timeout: time.Minute})
	require.NoError(t, err)
	require.Equal(t, 64, v)
	require.Equal(t, before+2, rt.Stats().Total.Submitted, "each call is one token")

	// A nil argument is the zero value where that is nil.
	v, err = call[int](t, rt, Call{Op: "len"})
	require.NoError(t, err)
	require.Equal(t, -1, v)

	// Plain hollywood: engine.Request answers the result itself.
	res, err := rt.Engine().Request(rt.OpsPID(), Call{Op: "square", Arg: 9}, 10*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, 81, res)

	// A wire.Call from this process is answered the local way too.
	c := must(wire.NewCall("double", wrapperspb.Int64(21), 0))
	d, err := call[*wrapperspb.Int64Value](t, rt, c)
	require.NoError(t, err)
	require.Equal(t, int64(42), d.GetValue())
	c.TimeoutMs = math.MaxInt64 // past what a Duration holds: no timeout, not a negative one
	d, err = call[*wrapperspb.Int64Value](t, rt, c)
	require.NoError(t, err)
	require.Equal(t, int64(42), d.GetValue())
}

// TestCallKeyPanicIsAnAnswer: a panic in the op's WithStickyKey function
// as a call is submitted is answered as a *PanicError, and the runtime
// goes on. Found by review: it panicked in the sender's goroutine, which
// for a call from another process is the remote transport's, where it ended
// the program.
func TestCallKeyPanicIsAnAnswer(t *testing.T) {
	rt := opsRuntime(t)
	must(Define(rt, "keyed", func(_ context.Context, x int) (int, error) { return x, nil },
		WithStickyKey(func(x int) uint64 {
			if x == 0 {
				panic("no key for 0")
			}
			return uint64(x)
		})))
	_, err := call[int](t, rt, Call{Op: "keyed", Arg: 0})
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "no key for 0", pe.Value)
	v, err := call[int](t, rt, Call{Op: "keyed", Arg: 3})
	require.NoError(t, err)
	require.Equal(t, 3, v)
}

func TestCallErrorsAreAnswers(t *testing.T) {
	rt := opsRuntime(t)
	events, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool {
		dl, ok := ev.(actor.DeadLetterEvent)
		return ok && dl.Target.Equals(rt.OpsPID())
	})
	defer stop()
	unknownType := &anypb.Any{TypeUrl: "type.googleapis.com/no.such.Message", Value: []byte{1}}
	int64Arg := must(anypb.New(wrapperspb.Int64(1)))
	corrupt := &anypb.Any{TypeUrl: int64Arg.GetTypeUrl(), Value: []byte{0xff}}
	for _, tc := range []struct {
		name       string
		msg        any
		is         error
		text       string
		deadLetter bool
	}{
		{"unknown op", Call{Op: "sqare", Arg: 7}, ErrUnknownOp, `no op named "sqare" on runtime "coregate"`, true},
		{"empty op", Call{Arg: 7}, ErrUnknownOp, `no op named ""`, true},
		{"wrong type", Call{Op: "square", Arg: "7"}, ErrBadArgument, `op "square" takes int, not string`, true},
		{"nil for int", Call{Op: "square"}, ErrBadArgument, "takes int, not nil", true},
		{"negative timeout", Call{Op: "square", Arg: 1, Timeout: -time.Second}, ErrBadArgument, "timeout is -1s", true},
		// Malformed, as a nil *wire.Call is: it was a plain error, coded
		// FAILED across processes (found by review).
		{"nil *Call", (*Call)(nil), ErrBadArgument, "nil *coregate.Call", true},
		// A message of another type was a plain error, coded FAILED ("Receive
		// returned an error") across processes (found by review).
		{"not a call", "square 7", ErrBadArgument, "takes a coregate.Call or a *wire.Call, not string", true},
		{"nil wire call", (*wire.Call)(nil), ErrBadArgument, "nil *wire.Call", true},
		{"wire arg unknown here", &wire.Call{Op: "double", Arg: unknownType}, ErrBadArgument, "not found (is its generated package linked into this process?)", true},
		{"wire arg corrupt", &wire.Call{Op: "double", Arg: corrupt}, ErrBadArgument, "cannot parse invalid wire-format data", true},
		// A large negative timeout_ms overflowed into a large positive timeout
		// (found by review).
		{"wire negative timeout", &wire.Call{Op: "double", Arg: int64Arg, TimeoutMs: -1}, ErrBadArgument, "timeout_ms is -1", true},
		{"wire huge negative timeout", &wire.Call{Op: "double", Arg: int64Arg, TimeoutMs: math.MinInt64}, ErrBadArgument, "must be 0 (none) or more", true},
		{"wire overflowing timeout", &wire.Call{Op: "double", Arg: int64Arg, TimeoutMs: math.MinInt64/int64(time.Millisecond) - 1}, ErrBadArgument, "must be 0 (none) or more", true},
		{"wire arg of another type", must(wire.NewCall("square", wrapperspb.Int64(3), 0)), ErrBadArgument, "takes int, not *wrapperspb.Int64Value", true},
		{"handler error", Call{Op: "fail", Arg: "x"}, nil, "fail: x", false},
		{"handler panic", Call{Op: "boom", Arg: "y"}, nil, "boom: y", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call[int](t, rt, tc.msg)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.text)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			if tc.name == "wire arg corrupt" { // its type is known here: the hint would mislead
				require.NotContains(t, err.Error(), "linked into")
			}
			if tc.name == "handler panic" {
				var pe *PanicError
				require.ErrorAs(t, err, &pe)
			}
			if tc.deadLetter {
				select {
				case ev := <-events:
					require.Equal(t, tc.msg, ev.(actor.DeadLetterEvent).Message)
				case <-time.After(10 * time.Second):
					t.Fatal("no dead letter")
				}
			}
		})
	}
	// A failing handler is an answer, not a dead letter: the next dead letter
	// is this one's (the event stream keeps order).
	marker := Call{Op: "marker"}
	_, err := call[int](t, rt, marker)
	require.ErrorIs(t, err, ErrUnknownOp)
	require.Equal(t, marker, (<-events).(actor.DeadLetterEvent).Message)
	// The runtime goes on.
	v, err := call[int](t, rt, Call{Op: "square", Arg: 3})
	require.NoError(t, err)
	require.Equal(t, 9, v)
}

func TestCallTimeoutEndsTheHandler(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	must(Define(rt, "block", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}))
	_, err := call[int](t, rt, Call{Op: "block", Arg: 1, Timeout: time.Millisecond})
	// As a context deadline would: the handler's ctx.Err() is
	// DeadlineExceeded (it was Canceled), so a remote caller gets the
	// code DEADLINE_EXCEEDED, not CANCELLED.
	require.ErrorIs(t, err, context.DeadlineExceeded, "the handler's context ended at the call's timeout")
	require.Equal(t, wire.Code_DEADLINE_EXCEEDED, wireError(err).GetCode())
	_, err = call[int](t, rt, must(wire.NewCall("block", wrapperspb.Int64(1), time.Microsecond)))
	require.ErrorIs(t, err, ErrBadArgument, "the op takes an int: the argument is checked first")
	require.Equal(t, int64(1), must(wire.NewCall("block", wrapperspb.Int64(1), time.Microsecond)).GetTimeoutMs(), "a timeout under 1 ms is not none")
}

// TestCallTimeoutAnswersAQueuedCall: a call whose Timeout passes while its
// token is queued behind a busy handler is answered DeadlineExceeded then,
// and its token never runs. Found by review: the answer waited until the
// executor reached the token, however long after the Timeout that was.
// In a synctest bubble the Timeout runs out only once the call's token is
// queued and everything waits: under load, 1 ms of real time could pass
// before the ops process submitted it (answered DeadlineExceeded all the
// same, but with no token: a full .ci/run saw Cancelled 0).
func TestCallTimeoutAnswersAQueuedCall(t *testing.T) {
	synctest.Test(t, testCallTimeoutAnswersAQueuedCall)
}

func testCallTimeoutAnswersAQueuedCall(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	gate, running := make(chan struct{}), make(chan struct{})
	hold := must(Define(rt, "hold", func(context.Context, int) (int, error) {
		close(running)
		<-gate // ignores its context: the executor is busy until the gate opens
		return 0, nil
	}))
	ran := make(chan int, 1)
	must(Define(rt, "square", func(_ context.Context, x int) (int, error) {
		ran <- x
		return x * x, nil
	}))
	held := must(hold.Submit(context.Background(), 0))
	<-running
	answered := make(chan error, 1)
	go func() {
		_, err := Request[int](context.Background(), rt.Engine(), rt.OpsPID(), Call{Op: "square", Arg: 3, Timeout: time.Millisecond})
		answered <- err
	}()
	var err error
	select {
	case err = <-answered:
	case <-time.After(10 * time.Second): // a bound on a failure, never reached otherwise
		close(gate)
		t.Fatalf("no answer while the executor was busy, past the call's timeout: %v", <-answered)
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(gate)
	must(held.Wait(context.Background()))
	require.NoError(t, rt.Stop(context.Background()))
	require.Empty(t, ran, "the call's token ran after its timeout")
	require.Equal(t, uint64(1), rt.Stats().Total.Cancelled)
}

func TestCallWithoutSenderRuns(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	got := make(chan string, 2)
	must(Define(rt, "note", func(_ context.Context, s string) (struct{}, error) {
		got <- s
		return struct{}{}, nil
	}))
	rt.Engine().Send(rt.OpsPID(), Call{Op: "note", Arg: "plain"})
	rt.Engine().Send(rt.OpsPID(), Call{Op: "note", Arg: "timed", Timeout: time.Minute})
	require.Equal(t, "plain", <-got)
	require.Equal(t, "timed", <-got)
}

func TestCallPoisonRefusedAndGoneAfterStop(t *testing.T) {
	rt, err := Start(Config{Cores: 1})
	require.NoError(t, err)
	must(Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil }))
	events, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool {
		switch ev := ev.(type) {
		case actors.PoisonRefused:
			return true
		case actor.DeadLetterEvent:
			return ev.Target.Equals(rt.OpsPID())
		}
		return false
	})
	defer stop()
	<-rt.Engine().Poison(rt.OpsPID()).Done()
	require.IsType(t, actors.PoisonRefused{}, <-events)
	v, err := call[int](t, rt, Call{Op: "square", Arg: 5})
	require.NoError(t, err)
	require.Equal(t, 25, v)

	require.NoError(t, rt.Stop(context.Background()))
	requireBalanced(t, rt)
	rt.Engine().Send(rt.OpsPID(), Call{Op: "square", Arg: 5})
	require.IsType(t, actor.DeadLetterEvent{}, <-events, "a stopped runtime's ops process is gone")
}

func TestRequestBadInput(t *testing.T) {
	rt := opsRuntime(t)
	e, pid := rt.Engine(), rt.OpsPID()
	//lint:ignore SA1012 a nil context is the bad input under test
	_, err := Request[int](nil, e, pid, Call{}) //nolint:staticcheck
	require.ErrorIs(t, err, ErrNilContext)
	_, err = Request[int](context.Background(), nil, pid, Call{})
	require.ErrorContains(t, err, "nil *actor.Engine")
	_, err = Request[int](context.Background(), e, nil, Call{})
	require.ErrorContains(t, err, "nil *actor.PID")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Request[int](done, e, pid, Call{Op: "square", Arg: 1})
	require.ErrorIs(t, err, context.Canceled)

	_, err = call[string](t, rt, Call{Op: "square", Arg: 2})
	require.ErrorContains(t, err, "answered a int, want string")

	// Nobody answers: ctx's error, naming the PID.
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = Request[int](short, e, actor.NewPID(e.Address(), "nobody"), Call{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "no answer from local/nobody")

	// A process of e that does not exist is an error at once, not a wait
	// as long as ctx (for good with context.Background()): a mistyped
	// actor name, or a stopped runtime's ops process.
	bounded, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Request[int](bounded, e, actor.NewPID(e.Address(), "coregate/actor/nobody"), 1)
	require.ErrorContains(t, err, "no process local/coregate/actor/nobody on this engine")
	// So is a PID of another engine from one without a remote transport:
	// hollywood drops the message (an EngineRemoteMissingEvent).
	_, err = Request[int](bounded, e, actor.NewPID("127.0.0.1:4000", "coregate/ops"), Call{Op: "square", Arg: 1})
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "127.0.0.1:4000/coregate/ops is of another engine, and this one has no remote transport")
	require.NoError(t, rt.Stop(bounded))
	_, err = Request[int](bounded, e, pid, Call{Op: "square", Arg: 1})
	require.ErrorContains(t, err, "no process local/coregate/ops on this engine")
}

func TestWireErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code wire.Code
	}{
		{errors.New("x"), wire.Code_FAILED},
		{fmt.Errorf("%w %q", ErrUnknownOp, "x"), wire.Code_UNKNOWN_OP},
		{fmt.Errorf("%w: y", ErrBadArgument), wire.Code_BAD_ARGUMENT},
		{&PanicError{Value: 1}, wire.Code_PANICKED},
		{ErrStopped, wire.Code_STOPPED},
		{ErrActorStopped, wire.Code_ACTOR_STOPPED},
		{ErrCancelled, wire.Code_CANCELLED},
		{context.Canceled, wire.Code_CANCELLED},
		{fmt.Errorf("late: %w", context.DeadlineExceeded), wire.Code_DEADLINE_EXCEEDED},
		{ErrMailboxFull, wire.Code_FULL},
		{ErrNoExecutor, wire.Code_NO_EXECUTOR},
		{&wire.Error{Code: wire.Code_PANICKED, Message: "far"}, wire.Code_PANICKED},
	} {
		w := wireError(tc.err)
		require.Equal(t, tc.code, w.GetCode(), "%v", tc.err)
		require.Equal(t, tc.err.Error(), w.Error())
	}
	require.Equal(t, "coregate: remote error STOPPED", (&wire.Error{Code: wire.Code_STOPPED}).Error())
}

// fakeRemote records what a Remote passes to hollywood's transport.
type fakeRemote struct {
	sent    []any
	started *actor.Engine
}

func (f *fakeRemote) Address() string                        { return "127.0.0.1:1" }
func (f *fakeRemote) Send(_ *actor.PID, m any, _ *actor.PID) { f.sent = append(f.sent, m) }
func (f *fakeRemote) Start(e *actor.Engine) error            { f.started = e; return nil }
func (f *fakeRemote) Stop() *sync.WaitGroup                  { return &sync.WaitGroup{} }

func TestRemoteSendsOnlyProtobuf(t *testing.T) {
	require.Nil(t, Remote(nil))
	f := &fakeRemote{}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(f)))
	require.NoError(t, err)
	require.Same(t, e, f.started)
	events, stop := testkit.Subscribe(e, testkit.Is[actor.DeadLetterEvent])
	defer stop()
	answers := make(chan any, 1)
	asker := e.SpawnProc(&proc{pid: actor.NewPID(e.Address(), "asker"), send: func(m any, _ *actor.PID) { answers <- m }})
	far := actor.NewPID("127.0.0.1:2", "x")
	e.Send(far, wrapperspb.String("as is"))
	e.Send(far, ErrActorStopped)
	e.Send(far, 42)
	e.SendWithSender(far, Call{Op: "square"}, asker)
	// The int and the Call stay off the wire: delivered as a *wire.Error
	// they reached an actor taking any (or an error) as a message nobody
	// sent (found by review).
	require.Len(t, f.sent, 2)
	require.Equal(t, "as is", f.sent[0].(*wrapperspb.StringValue).GetValue())
	require.Equal(t, wire.Code_ACTOR_STOPPED, f.sent[1].(*wire.Error).GetCode())
	// The sender of this engine is answered at once, and why.
	notProto := (<-answers).(*wire.Error)
	require.Equal(t, wire.Code_NOT_PROTO, notProto.GetCode())
	require.Contains(t, notProto.Error(), "a coregate.Call cannot cross processes")
	// The dead letters are the int's and the Call's: the protobuf message
	// and the error sent before them made none (the event stream keeps
	// order).
	require.Equal(t, 42, (<-events).(actor.DeadLetterEvent).Message)
	require.Equal(t, Call{Op: "square"}, (<-events).(actor.DeadLetterEvent).Message)
}

// nilErr is an error whose Error method panics on a nil pointer.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// TestWireErrorIsSafe: an error crossing processes never panics the
// goroutine that answers (a typed nil error's Error did, ending the
// process), and its message is valid UTF-8, as a protobuf string must be
// (hollywood's writer dropped the answer, and could send an empty message
// in its place; both found by review).
func TestWireErrorIsSafe(t *testing.T) {
	var typedNil *nilErr
	w := wireError(typedNil)
	require.Equal(t, wire.Code_FAILED, w.GetCode())
	require.Contains(t, w.GetMessage(), "a *coregate.nilErr error whose methods panicked")

	w = wireError(fmt.Errorf("bad byte \xff in key: %w", ErrBadArgument))
	require.Equal(t, wire.Code_BAD_ARGUMENT, w.GetCode())
	require.Equal(t, "bad byte \uFFFD in key: coregate: bad argument", w.GetMessage())
	_, err := proto.Marshal(w)
	require.NoError(t, err)

	w = wireError(&wire.Error{Code: wire.Code_PANICKED, Message: "far \xff"})
	require.Equal(t, wire.Code_PANICKED, w.GetCode())
	require.Equal(t, "far \uFFFD", w.GetMessage())
}

// TestRemoteSendsWireErrorsValidUTF8: a *wire.Error sent or answered as it
// is (a handler returning one it made, whose message is not valid UTF-8)
// is made valid UTF-8 like any other error before it reaches hollywood's
// writer: it passed as a protobuf message, unchecked, and the writer,
// failing to marshal it, dropped it (found by review).
func TestRemoteSendsWireErrorsValidUTF8(t *testing.T) {
	f := &fakeRemote{}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(f)))
	require.NoError(t, err)
	bad := &wire.Error{Code: wire.Code_PANICKED, Message: "far \xff"}
	_, err = proto.Marshal(bad)
	require.Error(t, err, "the test's message must be one protobuf cannot marshal")
	e.Send(actor.NewPID("127.0.0.1:2", "x"), bad)
	require.Len(t, f.sent, 1)
	for _, m := range []proto.Message{f.sent[0].(proto.Message), toWire(bad)} {
		w := m.(*wire.Error)
		require.Equal(t, wire.Code_PANICKED, w.GetCode())
		require.Equal(t, "far \uFFFD", w.GetMessage())
		_, err = proto.Marshal(w)
		require.NoError(t, err)
	}
}

// requester is an actor that makes a Request, with its ActorContext, to the
// PID it is sent and answers what it got.
type requester struct{ e *actor.Engine }

func (q requester) Receive(c *ActorContext, pid *actor.PID) (int, error) {
	ctx, cancel := context.WithTimeout(c, 5*time.Second)
	defer cancel()
	return Request[int](ctx, q.e, pid, Call{Op: "square", Arg: 6})
}

// TestRequestFromHandlerToOwnExecutor: a Request made from a handler or an
// actor's Receive, with its context, to a process whose work lands on the
// caller's own executor (an actor there, or an op of its runtime on one
// executor) hands the executor on while it waits, as Wait does, and gets
// its answer. It held the executor, so the work never ran and the Request
// ended only with its context (found by review).
func TestRequestFromHandlerToOwnExecutor(t *testing.T) {
	rt := opsRuntime(t)
	e := rt.Engine()
	ref := must(Spawn(rt, "count", func() Actor[int, int] { return &counter{} }))
	asker := must(Spawn(rt, "asker", func() Actor[*actor.PID, int] { return requester{e} }))
	viaOp := must(Define(rt, "viaOp", func(ctx context.Context, pid *actor.PID) (int, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return Request[int](ctx, e, pid, 4)
	}))
	bg := context.Background()
	v, err := must(viaOp.Submit(bg, ref.PID())).Wait(bg)
	require.NoError(t, err, "an op's Request to an actor on its executor")
	require.Equal(t, 4, v)
	v, err = must(asker.Ask(bg, rt.OpsPID())).Wait(bg)
	require.NoError(t, err, "an actor's Request to an op on its executor")
	require.Equal(t, 36, v)
}

// TestNewCallNegativeTimeoutUnderAMillisecond: a negative timeout is
// refused by the receiving runtime whatever its size, as a Call's is; one
// under a millisecond (a deadline just past, as time.Until gives) rounded
// to 0, which is no timeout at all, and the call ran unbounded (found by
// review).
func TestNewCallNegativeTimeoutUnderAMillisecond(t *testing.T) {
	rt := opsRuntime(t)
	for _, d := range []time.Duration{-time.Microsecond, -time.Second} {
		c := must(wire.NewCall("double", wrapperspb.Int64(1), d))
		require.Negative(t, c.GetTimeoutMs(), "timeout %v", d)
		_, err := call[*wrapperspb.Int64Value](t, rt, c)
		require.ErrorIs(t, err, ErrBadArgument, "timeout %v", d)
	}
}

// TestNewCallArgumentThatCannotBeMarshalled: NewCall fails, never panics,
// on an argument it cannot pack: a nil one, a typed nil *dynamicpb.Message
// (whose type cannot be named: it panicked, found by a hostile-peer review)
// and one whose string is not valid UTF-8.
func TestNewCallArgumentThatCannotBeMarshalled(t *testing.T) {
	for name, arg := range map[string]proto.Message{
		"nil":             nil,
		"typed nil dynpb": (*dynamicpb.Message)(nil),
		"invalid UTF-8":   wrapperspb.String("\xff"),
	} {
		c, err := wire.NewCall("double", arg, 0)
		require.Error(t, err, name)
		require.ErrorContains(t, err, `packing the argument of op "double"`, name)
		require.Nil(t, c, name)
	}
}

// TestWireErrorKeepsWrappingText: an error wrapping a *wire.Error (a
// handler passing on, with its own words, what another process answered)
// crosses with that code and its whole text; it crossed as the inner
// *wire.Error alone, and the caller lost what the handler said (found by
// review).
func TestWireErrorKeepsWrappingText(t *testing.T) {
	far := &wire.Error{Code: wire.Code_STOPPED, Message: "far: stopped"}
	w := wireError(fmt.Errorf("fetching x: %w", far))
	require.Equal(t, wire.Code_STOPPED, w.GetCode())
	require.Equal(t, "fetching x: far: stopped", w.GetMessage())
	require.Same(t, far, wireError(far), "a *wire.Error itself crosses as it is")
	empty := &wire.Error{Code: wire.Code_FULL}
	require.Same(t, empty, wireError(empty), "its message is left empty")
}

// TestRequestRefusedToBlockSendsNothing: a handler's Request refused with
// ErrTooManyBlocked (Config.MaxBlocked handlers block already) sends
// nothing: the caller is told it failed, so the message must not be
// delivered behind its back. It was sent first and refused after, so the
// actor handled it and its answer went to a dead letter (found by review).
func TestRequestRefusedToBlockSendsNothing(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MaxBlocked: 1})
	ctx := context.Background()
	e := rt.Engine()
	ref := must(Spawn(rt, "count", func() Actor[int, int] { return &counter{} }))
	release := blockOne(t, rt)
	asker := must(Define(rt, "asker", func(ctx context.Context, _ int) (int, error) {
		return Request[int](ctx, e, ref.PID(), 1)
	}))
	_, err := must(asker.Submit(ctx, 0)).Wait(ctx)
	require.ErrorIs(t, err, ErrTooManyBlocked)
	n, err := must(ref.Ask(ctx, 0)).Wait(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the refused Request's message was delivered")
	release()
}

// verdict is a result that implements error: a check's finding, returned
// with a nil error by an op or actor that succeeded.
type verdict struct{ reason string }

func (v *verdict) Error() string { return "verdict: " + v.reason }

// judge answers a verdict on what it is sent, and fails on an empty one.
type judge struct{}

func (judge) Receive(_ *ActorContext, s string) (*verdict, error) {
	if s == "" {
		return nil, errors.New("judge: nothing to judge")
	}
	return &verdict{reason: s}, nil
}

// TestRequestResultImplementingError: a result that implements error is a
// result by message as by Submit, from an op and from an actor, and a
// failure is still the error. Found by review: the answer was the result
// itself, and Request took any error for a failure, so it gave a zero
// value and the result as its error.
func TestRequestResultImplementingError(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	must(Define(rt, "check", func(_ context.Context, s string) (*verdict, error) {
		if s == "" {
			return nil, errors.New("check: nothing to check")
		}
		return &verdict{reason: s}, nil
	}))
	finding := errors.New("field x missing")
	must(Define(rt, "validate", func(context.Context, int) (error, error) { return finding, nil }))
	must(Define(rt, "valid", func(context.Context, int) (error, error) { return nil, nil }))
	ref := must(Spawn(rt, "judge", func() Actor[string, *verdict] { return judge{} }))

	v, err := call[*verdict](t, rt, Call{Op: "check", Arg: "too short"})
	require.NoError(t, err)
	require.Equal(t, &verdict{reason: "too short"}, v)
	_, err = call[*verdict](t, rt, Call{Op: "check", Arg: ""})
	require.EqualError(t, err, "check: nothing to check")

	f, err := call[error](t, rt, Call{Op: "validate", Arg: 1})
	require.NoError(t, err)
	require.Same(t, finding, f)
	f, err = call[error](t, rt, Call{Op: "valid", Arg: 1})
	require.NoError(t, err)
	require.Nil(t, f)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err = Request[*verdict](ctx, rt.Engine(), ref.PID(), "late")
	require.NoError(t, err)
	require.Equal(t, &verdict{reason: "late"}, v)
	_, err = Request[*verdict](ctx, rt.Engine(), ref.PID(), "")
	require.EqualError(t, err, "judge: nothing to judge")
	_, err = Request[*verdict](ctx, rt.Engine(), ref.PID(), 1)
	require.ErrorIs(t, err, ErrBadArgument, "a refused message is still an error")

	// Plain hollywood gets the value itself, as before: a result or an error.
	res, err := rt.Engine().Request(rt.OpsPID(), Call{Op: "check", Arg: "x"}, 10*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, &verdict{reason: "x"}, res)
}

// TestRequestFromABlockingHandlerToTheLane: a handler of the blocking lane
// that Requests an op of the lane, its only worker busy with that handler,
// lets another worker start while it waits, as its Wait would, and gets
// its answer. Found by review: Request handed on only an executor, so the
// lane's worker waited for a token queued behind it, until its context
// ended.
func TestRequestFromABlockingHandlerToTheLane(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1})
	e := rt.Engine()
	must(Define(rt, "inner", func(_ context.Context, x int) (int, error) { return x * x, nil }, WithBlocking()))
	outer := must(Define(rt, "outer", func(ctx context.Context, x int) (int, error) {
		return Request[int](ctx, e, rt.OpsPID(), Call{Op: "inner", Arg: x})
	}, WithBlocking()))
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	v, err := must(outer.Submit(ctx, 6)).Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 36, v)
}

// TestNamesAreUTF8: why Start, Spawn and Define refuse a name that is not
// valid UTF-8 (their bad-input tests): a PID or a call naming it does not
// marshal, so hollywood's remote writer would drop what it carries.
func TestNamesAreUTF8(t *testing.T) {
	_, err := proto.Marshal(actor.NewPID("127.0.0.1:1", "coregate/actor/a\xffb"))
	require.Error(t, err, "a PID whose ID is not UTF-8 marshals")
	call, err := wire.NewCall("a\xffb", &wire.Error{}, 0)
	require.NoError(t, err)
	_, err = proto.Marshal(call)
	require.Error(t, err, "a call naming an op not UTF-8 marshals")
}
