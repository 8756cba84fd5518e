package coregate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/wire"
	"google.golang.org/protobuf/proto"
)

// Remote wraps hollywood's remote transport (what remote.New returns) for an
// engine that hosts a runtime, so that what the runtime answers crosses
// processes:
//
//	r := remote.New("127.0.0.1:4000", remote.NewConfig())
//	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(coregate.Remote(r)))
//	rt, err := coregate.Start(coregate.Config{Engine: e})
//
// Hollywood's remote carries protobuf messages only, and its writer panics
// (ending the process) on anything else. The runtime answers Go errors (a
// failed Receive, a wrong message type, a stopped actor) and actors answer
// their R, so Remote sends an error as a [*wire.Error] with its [wire.Code].
// Protobuf messages pass as they are (a *wire.Error with its message made
// valid UTF-8). Any other value does not cross, nor does a protobuf message
// that does not marshal (a string that is not valid UTF-8: hollywood's
// writer would send an empty message of another's type, to another's
// target, in its place): Remote
// publishes it as a DeadLetterEvent and answers a sender of this engine (a
// [Request] waiting for its answer) at once with a *wire.Error of code
// NOT_PROTO that says why. (An answer of the runtime's that is not a
// protobuf message, an actor's R, or that does not marshal, crosses as
// that *wire.Error, so a remote caller learns why, a hollywood Request's
// too; so does any answer to a remote [Request] that does not marshal.)
// Remote(nil) is nil: an engine without a remote.
//
// A message with a sender that a peer sends to a runtime's ops process
// or one of its actors once it stopped (its process left the engine, and
// the name is free to spawn again) is a dead letter, which hollywood
// answers nothing: Remote answers it at once, as the stopped runtime or
// actor would, with a *wire.Error of code STOPPED (the ops process) or
// ACTOR_STOPPED (an actor, or a name no actor had), for the runtimes
// started on this engine, whatever address the peer names the engine by
// (hollywood's reader delivers by ID, so one listening on ":4000" is
// reached as "10.0.0.5:4000"). It does so from the engine's event stream,
// with a process of the engine (ID coregate/gone, no goroutine) that
// keeps the name of each runtime started on the engine, nothing per
// actor. A message of a sender of this engine is not answered so (see
// [Request]), nor a Tell.
//
// Remote also works around a fault of hollywood v1.0.5's remote: a message
// sent without a sender, batched on the wire with one that has a sender,
// arrives carrying that other sender, so a Tell to an actor would be
// answered to someone else's Request. Remote sends such messages from
// <address>/coregate/discard instead, a process of the engine that drops
// what it gets; a runtime answers it nothing, so a Tell's answer does not
// cross back. (A Request to discard, or to gone, is answered at once with
// an error wrapping [ErrBadArgument]: neither takes a message.)
//
// So across processes an actor's M and R, and an op's A and R, must be
// protobuf messages (pointers to generated types), linked into both
// processes: a message of a type the receiver does not know makes
// hollywood's reader drop the connection (the next message dials again), and
// so does one larger than its buffer (4 MB unless
// remote.Config.WithBufferSize says otherwise, counting the messages
// hollywood's writer sends with it in one batch): what the connection
// carried is lost, and nothing answers.
//
// Let only trusted peers connect (TLS with client certificates, or
// loopback): hollywood v1.0.5's reader trusts the envelopes it reads, and
// one whose indices point past its own tables, which its writer never
// sends, panics the receiving process on the connection's goroutine,
// where nothing of coregate runs yet to recover it. So does a well-formed
// message to the process that writes to a peer (ID stream/<peer address>),
// which takes only its own deliveries, on that process's goroutine; or
// one naming it as its sender, once answered.
func Remote(r actor.Remoter) actor.Remoter {
	if r == nil {
		return nil
	}
	return &protoRemote{Remoter: r}
}

// discardID is the ID of the process Remote sends a message without a
// sender from: it drops what it gets, and a runtime answers it nothing.
const discardID = "coregate/discard"

type protoRemote struct {
	actor.Remoter
	engine  atomic.Pointer[actor.Engine] // for dead letters; set by Start
	discard *actor.PID
	gone    *gone // set by Start, before engine
}

func (p *protoRemote) Start(e *actor.Engine) error {
	if err := p.Remoter.Start(e); err != nil {
		return err
	}
	discard := actor.NewPID(e.Address(), discardID)
	p.discard = e.SpawnProc(&proc{pid: discard, engine: e, send: func(_ any, sender *actor.PID) { takesNone(e, discard, sender) }})
	p.gone = newGone(e, true)
	e.SpawnProc(&proc{pid: p.gone.pid, engine: e, send: p.gone.receive})
	p.engine.Store(e)
	return nil
}

func (p *protoRemote) Send(pid *actor.PID, msg any, sender *actor.PID) {
	var m proto.Message
	switch v := msg.(type) {
	case *wire.Error:
		m = wireError(v) // its message made valid UTF-8, as for any error
	case proto.Message:
		m = v
		if err := marshalError(v); err != nil {
			// Hollywood's writer would drop it and send an empty message of
			// its batch's first type to its batch's first target in its
			// place: an empty result, a success, for a Request's answer; an
			// empty message for an actor, which would take it. An answer
			// goes as the error it is (a Request of another engine takes
			// one), anything else is refused.
			w := unmarshalable(v, err)
			if !isRequest(pid) {
				p.refuse(pid, msg, sender, w)
				return
			}
			m = w
		}
	case error:
		m = wireError(v)
	default:
		p.refuse(pid, msg, sender, notProto(msg))
		return
	}
	if sender == nil {
		sender = p.discard
	}
	p.Remoter.Send(pid, m, sender)
}

// refuse keeps msg, which cannot cross, off the wire: a dead letter, and
// for a sender of this engine the answer why (w). (It is not delivered as a
// *wire.Error: an actor taking any, or an error, would take that for a
// message its sender never sent.)
func (p *protoRemote) refuse(pid *actor.PID, msg any, sender *actor.PID, why *wire.Error) {
	e := p.engine.Load()
	if e == nil {
		return // not started: nothing can cross yet
	}
	// Not a peer's message to a runtime of this engine that stopped, which
	// gone answers whatever address it names (pid is of another engine,
	// maybe a runtime of the same name): counted, so gone lets it be.
	p.gone.refused(pid, msg, sender)
	e.BroadcastEvent(actor.DeadLetterEvent{Target: pid, Message: msg, Sender: sender})
	if sender != nil && sender.GetAddress() == e.Address() {
		e.SendLocal(sender, why, nil)
	}
}

// marshalError says why hollywood's writer could not put m on the wire: it
// does not marshal (a string that is not valid UTF-8, a proto2 required
// field unset), or naming its type or marshalling it panics (a typed nil
// *dynamicpb.Message), which would end the process on the writer's
// goroutine. It marshals m once more than the writer does: no cheaper check
// finds a string that is not valid UTF-8.
func marshalError(m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("marshalling it panicked: %v", r)
		}
	}()
	_ = proto.MessageName(m) // as the writer names its type
	_, err = proto.Marshal(m)
	return err
}

// toWire returns a result as a protobuf message: itself (a *wire.Error
// with its message made valid UTF-8), or a *wire.Error saying it cannot
// cross, also when it does not marshal. A result that implements error is
// still a result: it crosses as any other, not as a failure.
//
// The marshal check is made here, where the value is known to be an
// answer: Remote tells an answer from a message sent only for a Request
// of coregate, and would keep the answer to any other process (a
// hollywood Request's, a hollywood actor's) off the wire as a dead letter,
// leaving its asker without one.
func toWire(r any) proto.Message {
	switch r := r.(type) {
	case *wire.Error:
		return wireError(r)
	case proto.Message:
		if err := marshalError(r); err != nil {
			return unmarshalable(r, err)
		}
		return r
	}
	return notProto(r)
}

// unmarshalable says that m, which failed to marshal with err, cannot cross.
func unmarshalable(m proto.Message, err error) *wire.Error {
	return &wire.Error{Code: wire.Code_NOT_PROTO, Message: fmt.Sprintf("coregate: a %T cannot cross processes: it does not marshal: %v", m, err)}
}

func notProto(v any) *wire.Error {
	return &wire.Error{
		Code:    wire.Code_NOT_PROTO,
		Message: fmt.Sprintf("coregate: a %T cannot cross processes: hollywood's remote carries protobuf messages only", v),
	}
}

// wireCodes maps the runtime's errors to their codes, first match first.
var wireCodes = []struct {
	err  error
	code wire.Code
}{
	{ErrUnknownOp, wire.Code_UNKNOWN_OP},
	{ErrBadArgument, wire.Code_BAD_ARGUMENT},
	{ErrStopped, wire.Code_STOPPED},
	{ErrActorStopped, wire.Code_ACTOR_STOPPED},
	{ErrCancelled, wire.Code_CANCELLED},
	{context.Canceled, wire.Code_CANCELLED},
	{context.DeadlineExceeded, wire.Code_DEADLINE_EXCEEDED},
	{ErrMailboxFull, wire.Code_FULL},
	{ErrNoExecutor, wire.Code_NO_EXECUTOR},
}

// wireError returns err as a *wire.Error with its code. It never panics: it
// runs on the goroutine that answers, and an error's own methods may (a
// typed nil pointer's Error, most often); and its message is valid UTF-8,
// as a protobuf string must be (see [marshalError]).
func wireError(err error) (w *wire.Error) {
	defer func() {
		if p := recover(); p != nil {
			w = &wire.Error{Code: wire.Code_FAILED, Message: fmt.Sprintf("coregate: a %T error whose methods panicked: %v", err, p)}
		}
	}()
	if errors.As(err, &w) && w != nil {
		switch {
		case err != error(w): // wrapped: its code, with the whole text
			w = &wire.Error{Code: w.GetCode(), Message: strings.ToValidUTF8(err.Error(), "\uFFFD")}
		case !utf8.ValidString(w.GetMessage()):
			w = &wire.Error{Code: w.GetCode(), Message: strings.ToValidUTF8(w.GetMessage(), "\uFFFD")}
		}
		return w
	}
	code := wire.Code_FAILED
	var pe *PanicError
	if errors.As(err, &pe) {
		code = wire.Code_PANICKED
	} else {
		for _, c := range wireCodes {
			if errors.Is(err, c.err) {
				code = c.code
				break
			}
		}
	}
	return &wire.Error{Code: code, Message: strings.ToValidUTF8(err.Error(), "\uFFFD")}
}

// takesNone answers sender, when it is a [Request] (of e or another
// engine), that pid, a process of e that takes no message (Remote's
// discard and gone), took none: the Request would otherwise wait out its
// context. Only a Request: another process (a hollywood actor answering
// a Tell that came from discard) may answer an answer, and the two would
// pass errors back and forth for good.
func takesNone(e *actor.Engine, pid, sender *actor.PID) {
	if sender == nil || !isRequest(sender) {
		return
	}
	err := fmt.Errorf("%w: %v takes no messages", ErrBadArgument, pid)
	var v any = reply{err: err}
	if sender.GetAddress() != e.Address() {
		v = wireError(err)
	}
	e.Send(sender, v)
}

// requestIDs numbers the answer processes of Request, from a random start:
// a process restarted on the address of one that died with Requests in
// flight would otherwise give its first Requests their IDs, and a peer's
// late answer to an old one would be taken for the new one's. Two
// processes' counts meet only by a chance of about one in 2^64 per
// Request.
var requestIDs atomic.Uint64

func init() { requestIDs.Store(rand.Uint64()) }

// requestPrefix begins the ID of every answer process of Request.
const requestPrefix = "coregate/request/"

// isRequest reports whether pid names an answer process of Request (of the
// engine whose address it has).
func isRequest(pid *actor.PID) bool { return strings.HasPrefix(pid.GetID(), requestPrefix) }

// reply is what a runtime answers a Request of its own engine: the result,
// or the error when it is not nil. Sent as a value of its own, a result
// that implements error is not taken for a failure.
type reply struct {
	r   any
	err error
}

// Request sends msg to pid from engine e as a hollywood Request and waits
// for the answer until ctx ends. pid may be of e or of another engine (over
// [Remote]): an actor's PID with its M, a runtime's ops process
// ([Runtime.OpsPID]) with a [Call] or a [*wire.Call], any hollywood process.
//
// A runtime's answer is its op's or actor's result, or the error, as
// [Token.Wait] gives them: a result that implements error is a result.
// From another process a [*wire.Error] is the error, and anything else the
// result (so a result that is a *wire.Error cannot be told from a failure
// there); from another process of this engine (a plain hollywood one) an
// answer that implements error is the error. An answer of another type
// than R is an error naming both. From another process, tell errors apart
// by the *wire.Error's Code (errors.As): errors.Is with this package's
// errors ([ErrStopped], ...) holds only for answers of this process. A pid
// of e naming no process (a stopped runtime's, a stopped actor's) is an
// error at once, wrapping ErrStopped for the ops process of a runtime
// started on e and [ErrActorStopped] for one of its actors (as a Request
// that raced the stop gets from the runtime), also when the process goes
// away as msg is sent (a plain hollywood process that took msg just
// before is not waited for then). A
// runtime's ops process or actor of another engine that stopped answers
// at once, where that engine has [Remote]: a *wire.Error of code STOPPED
// or ACTOR_STOPPED. Any other process of another engine that is gone, or
// a peer that went away, answers nothing: Request returns ctx's error,
// wrapped to name pid, when ctx ends (give it a deadline), and an answer
// coming later is a dead letter, in this process or in one restarted on
// its address (no two number their Requests alike). So does a message too large for the
// receiving engine's reader (see [Remote]). A pid of another engine when
// e has no remote transport, a PID with no address, a nil ctx, engine
// or PID, and an engine not made by actor.NewEngine, are errors.
//
// ctx bounds the wait, not the work: msg travels as a message, ctx does
// not, so a Request that gives up (a client gone, a deadline past) leaves
// the op's token or the actor's Receive to run to its end, in this process
// as in another. Bound a [Call] with its Timeout ([wire.NewCall]'s
// timeout across processes); in this process, [Op.Submit] makes ctx the
// token's parent, so its end cancels the token.
//
// Called from a handler or an actor's Receive (of any runtime, with any
// context), Request hands the caller's executor on while it waits, as
// [Token.Wait] does, since the answer may come from work queued on that
// very executor (a handler of the blocking lane lets another worker start
// in its place); past [Config.MaxBlocked] it fails with [ErrTooManyBlocked]
// and sends nothing. An actor's Request to its own PID in its turn, with
// any context, would wait for a turn of its own: it fails with [ErrAskSelf]
// and the actor does not get the message (with a context not its own,
// Request hands the executor on first, as for any wait). Hollywood's own Request(...).Result() hands nothing
// on: called there, it holds the executor, and an answer queued behind it
// comes only after its timeout.
func Request[R any](ctx context.Context, e *actor.Engine, pid *actor.PID, msg any) (R, error) {
	var zero R
	switch {
	case ctx == nil:
		return zero, ErrNilContext
	case e == nil:
		return zero, errors.New("coregate: Request on a nil *actor.Engine")
	case e.Registry == nil:
		return zero, errors.New("coregate: Request on an *actor.Engine not made by actor.NewEngine")
	case pid == nil:
		return zero, errors.New("coregate: Request to a nil *actor.PID")
	case pid.GetAddress() == "":
		// A remote transport would dial "", holding up the engine's
		// outgoing traffic for seconds, for a PID no process has.
		return zero, fmt.Errorf("coregate: Request to %v: the PID has no address (make one with actor.NewPID and an engine's Address)", pid)
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	seen, known := registered(e, pid)
	if known && seen == nil {
		return zero, noProcess(e, pid, "a name never spawned, or an actor or runtime that stopped")
	}
	if pid.GetAddress() != e.Address() && e.Address() == actor.LocalLookupAddr {
		return zero, fmt.Errorf("coregate: %v is of another engine, and this one has no remote transport (see Remote)", pid)
	}
	if err := requestsItself(ctx, e, pid); err != nil {
		return zero, err
	}
	// A handler's wait, as Wait's, whatever ctx is: the answer may come
	// from work queued on the caller's own executor. Before sending: a
	// Request refused here must not have been delivered.
	resume, err := actors.Block()
	if err != nil {
		return zero, err
	}
	defer resume()
	answers := make(chan any, 1)
	var taken atomic.Bool // the process took msg: an answer comes
	a := e.SpawnProc(&proc{
		pid:    actor.NewPID(e.Address(), requestPrefix+strconv.FormatUint(requestIDs.Add(1), 10)),
		engine: e,
		send: func(msg any, _ *actor.PID) {
			if _, ok := msg.(requestTaken); ok {
				taken.Store(true)
				return
			}
			select {
			case answers <- msg:
			default: // the first answer counts
			}
		},
	})
	defer e.Registry.Remove(a)
	if testRequestSending != nil {
		testRequestSending(false)
	}
	e.SendWithSender(pid, msg, a)
	if testRequestSending != nil {
		testRequestSending(true)
	}
	if known && !taken.Load() {
		if now, _ := registered(e, pid); now != seen {
			// The process went away as msg was sent (an actor or a
			// runtime stopping), or another took its name: msg may have
			// found none, a dead letter that no one answers. A runtime's
			// process that took msg says so (requestTaken), and answers
			// it once gone too; so unless an answer came already (a
			// refusal), there is none to wait for.
			select {
			case v := <-answers:
				return requestAnswer[R](e, pid, v)
			default:
				return zero, noProcess(e, pid, "it stopped as the Request was sent")
			}
		}
	}
	select {
	case v := <-answers:
		return requestAnswer[R](e, pid, v)
	case <-ctx.Done():
		return zero, fmt.Errorf("coregate: no answer from %v: %w", pid, ctx.Err())
	}
}

// noProcess is the error of a Request to pid, a process of e that is not
// there (why says why, maybe): for a runtime's ops process or actor, it
// wraps ErrStopped or ErrActorStopped, as the runtime's own refusals do
// (a Request that raced the stop got those) and as a peer's gets their
// codes.
func noProcess(e *actor.Engine, pid *actor.PID, why string) error {
	err := fmt.Errorf("coregate: no process %v on this engine (%s)", pid, why)
	if g := goneFor(e); g != nil {
		if stopped := g.stopped(pid); stopped != nil {
			err = fmt.Errorf("%w: %w", err, stopped)
		}
	}
	return err
}

// requestAnswer is the result of a Request to pid from engine e that was
// answered v.
func requestAnswer[R any](e *actor.Engine, pid *actor.PID, v any) (R, error) {
	var zero R
	switch a := v.(type) {
	case reply: // a runtime's, of this engine
		if a.err != nil {
			return zero, a.err
		}
		v = a.r
	case *wire.Error: // of another process (see Remote), or refused by Remote
		return zero, a
	case error: // of another process of this engine
		if pid.GetAddress() == e.Address() {
			return zero, a
		}
	}
	r, err := argAs[R](v)
	if err != nil {
		return zero, fmt.Errorf("coregate: %v answered a %T, want %v", pid, v, reflect.TypeFor[R]())
	}
	return r, nil
}

// testRequestSending, when set by a test, is called by Request once it
// looked that the process is there, just before it sends its message (sent
// false) and just after (sent true), before it looks again.
var testRequestSending func(sent bool)

// requestTaken tells a Request of this engine that the process it sent to
// took its message and will answer it, also if it goes away first: an
// actor whose turn refuses the message after the actor stopped, an op's
// token answered once it is done.
type requestTaken struct{}

// took tells sender, when it is a Request of this engine, that its message
// was taken (see requestTaken). Called as the message is sent, so the
// Request knows it once its send returns.
func (rt *Runtime) took(sender *actor.PID) {
	if sender != nil && isRequest(sender) && sender.GetAddress() == rt.engine.Address() {
		rt.engine.SendLocal(sender, requestTaken{}, nil)
	}
}

// registered returns the PID of the process that pid names on e (each
// process has its own PID value, so two looks tell whether it is the same
// process), nil when e's registry holds none (a message to it is a dead
// letter, which no one answers). known is false when the registry cannot
// tell: a pid of another engine, or one whose ID has no "/" (hollywood's
// registry is looked up by kind and id).
func registered(e *actor.Engine, pid *actor.PID) (p *actor.PID, known bool) {
	if pid.GetAddress() != e.Address() {
		return nil, false
	}
	kind, id, ok := strings.Cut(pid.GetID(), "/")
	if !ok {
		return nil, false
	}
	return e.Registry.GetPID(kind, id), true
}
