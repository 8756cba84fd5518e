package coregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/wire"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Call runs an op by name when sent to a runtime's ops process
// ([Runtime.OpsPID]): the op named Op runs with Arg as one token, exactly as
// [Op.Submit] would run it, and a hollywood Request's sender gets the
// handler's result, or its error, as the answer. Arg must be of the op's
// argument type A (nil only where A's zero value is nil); a wrong name or
// type is answered with an error wrapping [ErrUnknownOp] or
// [ErrBadArgument] and published as a hollywood DeadLetterEvent, never a
// panic; so is a panic in the op's [WithStickyKey] function, as a
// [*PanicError], and a runtime.Goexit there, as an error wrapping
// [ErrGoexit], rather than in the sender's goroutine (for a remote
// sender, its transport's). Timeout, when above 0, bounds the token as a
// context deadline would (waiting for room, then running): a call it ends
// is answered with context.DeadlineExceeded, also while it waits for room,
// and at once while it waits in its queue (the token then never runs), and
// is not a dead letter. A negative one is a bad argument.
//
// Only local senders can send a Call: across processes send a [*wire.Call],
// whose argument is a protobuf message packed in an Any (see [Remote]).
type Call struct {
	Op      string        // the op's name, as given to Define
	Arg     any           // the argument, of the op's type A
	Timeout time.Duration // bounds the token when above 0; 0 means none
}

// OpsPID returns the PID of the runtime's ops process, <Config.Name>/ops,
// which runs a [Call] or a [*wire.Call] it is sent, from local code, a
// hollywood actor or a remote engine, until the runtime stops. Every op
// defined on the runtime is reachable there: on an engine with a remote
// listener, so is every process that reaches its address (bind it to
// loopback or use TLS). It is nil for a nil *Runtime or one not made by
// Start.
//
// engine.Send runs the op and drops its result; engine.Request answers the
// result or the error, and so does any message with a sender (a hollywood
// actor's Context.Send sends with its own PID: it gets the result or the
// error as a message). Receiving a call submits its token at once, in the
// order calls arrive, and waits for room as Submit does when the op's range
// is full: that backpressure reaches the sender's goroutine (for a remote
// engine, its connection: what else the peer sent, its answers too, waits
// behind the call, and hollywood's remote Stop waits for it, so stop the
// runtime first, which releases it). Answering waits for the token on a
// goroutine of its own, so the ops process is never held by a running
// handler.
func (rt *Runtime) OpsPID() *actor.PID {
	if rt.unusable() {
		return nil
	}
	return actor.NewPID(rt.engine.Address(), rt.name+"/ops")
}

// opCaller is an op with its types erased, as the ops process calls it.
type opCaller interface {
	// submitAny submits a token with arg, which must be the op's argument
	// type, and returns its task and a function giving its outcome once it
	// is resolved: the result, or the error.
	submitAny(ctx context.Context, arg any) (t *actors.Task, outcome func() (any, error), err error)
}

func (op *Op[A, R]) submitAny(ctx context.Context, arg any) (*actors.Task, func() (any, error), error) {
	a, err := argAs[A](arg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: op %q %w", ErrBadArgument, op.info.Name, err)
	}
	tok, err := op.submitCaught(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	return &tok.task, func() (any, error) {
		return tok.Wait(context.Background()) // resolved already: returns at once
	}, nil
}

// argAs returns v as a T; a nil v is T's zero value where that is nil.
func argAs[T any](v any) (T, error) {
	t, ok := v.(T)
	if ok || (v == nil && nilable(reflect.TypeFor[T]())) {
		return t, nil
	}
	got := "nil"
	if v != nil {
		got = fmt.Sprintf("%T", v)
	}
	return t, fmt.Errorf("takes %v, not %s", reflect.TypeFor[T](), got)
}

func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return true
	}
	return false
}

// get returns the op named name, or nil.
func (r *opRegistry) get(name string) opCaller {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.names[name]
}

// proc is a hollywood process made of its send function: Invoke treats
// each envelope as a Send, and it has no goroutine or state of its own.
type proc struct {
	pid    *actor.PID
	engine *actor.Engine // where a refused Poison is published
	send   func(msg any, sender *actor.PID)
}

func (p *proc) Start()          {}
func (p *proc) PID() *actor.PID { return p.pid }
func (p *proc) Shutdown()       {}
func (p *proc) Send(_ *actor.PID, msg any, sender *actor.PID) {
	p.deliver(msg, sender)
}
func (p *proc) Invoke(msgs []actor.Envelope) {
	for _, m := range msgs {
		p.deliver(m.Msg, m.Sender)
	}
}

// deliver hands msg to send, but for hollywood's Poison and Stop: the
// process lives as long as what it serves (a runtime, an engine, a
// Request), so it refuses them as the executors do and completes their
// context, where send would drop the pill (a wait on the context would
// never end) or take it for an answer.
func (p *proc) deliver(msg any, sender *actor.PID) {
	if cancel, graceful, ok := actors.PoisonPill(msg); ok {
		p.engine.BroadcastEvent(actors.PoisonRefused{PID: p.pid, Graceful: graceful})
		cancel()
		return
	}
	p.send(msg, sender)
}

// opsProc is a runtime's ops process: it runs the calls it is sent.
type opsProc struct {
	rt  *Runtime
	pid *actor.PID
}

// newOpsProc returns rt's ops process, to register with its engine.
func newOpsProc(rt *Runtime) *proc {
	p := &opsProc{rt: rt, pid: actor.NewPID(rt.engine.Address(), rt.name+"/ops")} // before rt.sup is set: OpsPID says nil
	return &proc{pid: p.pid, engine: rt.engine, send: p.receive}
}

// receive runs a call: a [Call] or a [*wire.Call]; anything else is a
// dead letter. (Poison and Stop never reach it: proc refuses them, and
// the runtime's Stop stops it.)
func (p *opsProc) receive(msg any, sender *actor.PID) {
	var c Call
	switch m := msg.(type) {
	case Call:
		c = m
	case *Call:
		if m == nil {
			p.reject(msg, sender, fmt.Errorf("%w: %v got a nil *coregate.Call", ErrBadArgument, p.pid))
			return
		}
		c = *m
	case *wire.Call:
		var err error
		if c, err = fromWire(m); err != nil {
			p.reject(msg, sender, err)
			return
		}
	default:
		p.reject(msg, sender, fmt.Errorf("%w: %v takes a coregate.Call or a *wire.Call, not %T", ErrBadArgument, p.pid, msg))
		return
	}
	p.call(c, msg, sender)
}

// fromWire unpacks a call that crossed processes.
func fromWire(m *wire.Call) (Call, error) {
	if m == nil {
		return Call{}, fmt.Errorf("%w: a nil *wire.Call", ErrBadArgument)
	}
	ms := m.GetTimeoutMs()
	if ms < 0 { // before the multiplication, which a large one overflows
		return Call{}, fmt.Errorf("%w: op %s: the call's timeout_ms is %d, must be 0 (none) or more", ErrBadArgument, quoteSent(m.GetOp()), ms)
	}
	c := Call{Op: m.GetOp(), Timeout: time.Duration(ms) * time.Millisecond}
	if ms > int64(math.MaxInt64/time.Millisecond) {
		c.Timeout = math.MaxInt64 // past 292 years: none, in effect
	}
	if m.GetArg() != nil {
		// Resolved here first: for a name that is not a message's (an
		// enum's), anypb's error quotes the whole URL, where the answer
		// names a bounded prefix of it (quoteSent); the resolver's does not.
		_, err := protoregistry.GlobalTypes.FindMessageByURL(m.GetArg().GetTypeUrl())
		if err == nil || errors.Is(err, protoregistry.NotFound) {
			c.Arg, err = m.GetArg().UnmarshalNew()
		}
		if errors.Is(err, protoregistry.NotFound) {
			return Call{}, fmt.Errorf("%w: op %s: argument of type %s: %w (is its generated package linked into this process?)", ErrBadArgument, quoteSent(m.GetOp()), quoteSent(m.GetArg().GetTypeUrl()), err)
		}
		if err != nil {
			return Call{}, fmt.Errorf("%w: op %s: argument of type %s: %w", ErrBadArgument, quoteSent(m.GetOp()), quoteSent(m.GetArg().GetTypeUrl()), err)
		}
	}
	return c, nil
}

// maxQuoted bounds how many bytes of a name a caller sent (an op's, an
// argument type's) an answer repeats: the whole name, quoted, could take
// four times its size (a byte below 0x20 is \x01), and a peer's reader
// drops a connection whose batch passes 4 MB, the answers it carried with
// it.
const maxQuoted = 128

// quoteSent returns name quoted, as %q would, its first maxQuoted bytes only
// when it is longer, saying how long it is.
func quoteSent(name string) string {
	if len(name) <= maxQuoted {
		return strconv.Quote(name)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut-- // not inside a rune
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(name[:cut]), len(name))
}

// call submits c's token and answers its outcome to sender, if any; msg is
// what came, for a dead letter.
func (p *opsProc) call(c Call, msg any, sender *actor.PID) {
	rt := p.rt
	op := rt.registry.get(c.Op)
	switch {
	case op == nil:
		p.reject(msg, sender, fmt.Errorf("%w %s on runtime %q", ErrUnknownOp, quoteSent(c.Op), rt.name))
		return
	case c.Timeout < 0:
		p.reject(msg, sender, fmt.Errorf("%w: op %q: the call's timeout is %v, must be 0 (none) or more", ErrBadArgument, c.Op, c.Timeout))
		return
	}
	ctx, cancel := rt.sup.Group().Context(), context.CancelFunc(nil)
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	t, outcome, err := op.submitAny(ctx, c.Arg)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		if cancel != nil && errors.Is(err, context.DeadlineExceeded) {
			// Its Timeout ended it as it waited for room: taken, and
			// ended by its own bound, as a token whose Timeout ends in
			// the queue is; not a message that found no taker.
			if sender != nil {
				rt.answer(sender, nil, err)
			}
			return
		}
		p.reject(msg, sender, err)
		return
	}
	if sender == nil && cancel == nil {
		return // nothing to answer, nothing to release
	}
	// Answered once done, maybe after the runtime stopped and the ops
	// process left the registry: a Request must wait for it.
	rt.took(sender)
	go func() {
		if cancel != nil {
			expireAt(ctx, t)
			cancel()
		} else {
			<-t.Finished()
		}
		if sender != nil {
			r, err := outcome()
			rt.answer(sender, r, err)
		}
	}()
}

// expireAt returns once t, the token of a call bounded by ctx's deadline,
// is resolved, resolving it itself as the deadline passes if it has not
// started, as an executor reaching it would: queued behind a busy handler,
// it would otherwise keep the call's answer, and what waits for it (a
// remote caller's Request), until the executor is free, long past the
// call's Timeout. A running token's handler has its context ended, and is
// waited for.
func expireAt(ctx context.Context, t *actors.Task) {
	select {
	case <-t.Finished():
		return
	case <-ctx.Done():
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) { // not the runtime's abort, which Stop resolves
		t.CancelWatched(err)
	}
	<-t.Finished()
}

// reject publishes msg as a dead letter to the ops process and answers err
// to sender, if any.
func (p *opsProc) reject(msg any, sender *actor.PID, err error) {
	p.rt.deadLetter(p.pid, msg, sender)
	if sender != nil {
		p.rt.answer(sender, nil, err)
	}
}

// answer sends pid the outcome r, or err when it is not nil. A [Request]
// of this engine gets both as a reply, so that a result that implements
// error is not taken for a failure; a process of another engine gets a
// protobuf message (see [Remote]), so an error or a plain Go value crosses
// too; any other process (a plain hollywood Request) gets err, or r, as it
// is.
func (rt *Runtime) answer(pid *actor.PID, r any, err error) {
	var v any
	switch {
	case pid.GetID() == discardID:
		// Remote's stand-in for no sender (a Tell), of this engine or
		// another: it drops what it gets, and an answer sent across would
		// only take room in the peer's reader's batch.
		return
	case pid.GetAddress() != rt.engine.Address():
		if err != nil {
			v = wireError(err)
		} else {
			v = toWire(r)
		}
	case isRequest(pid):
		v = reply{r: r, err: err}
	case err != nil:
		v = err
	default:
		v = r
	}
	rt.engine.Send(pid, v)
}
