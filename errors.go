package coregate

import (
	"errors"

	"github.com/coregate/coregate/actors"
)

var (
	// ErrStopped is returned, once [Runtime.Stop] was called, by whatever
	// would add work: Define, Spawn, NewPerCore, SubmitFunc, [Op.Every] and
	// every Submit of an op. It resolves the tokens Stop did not let run:
	// those still queued when it gave up draining, and at once those
	// waiting out [Op.SubmitAfter]'s delay or held by [Op.Pause].
	ErrStopped = actors.ErrStopped
	// ErrGoexit resolves a token whose handler called runtime.Goexit.
	ErrGoexit = actors.ErrGoexit
	// ErrCancelled resolves a token cancelled before it ran: by
	// [Token.Cancel], [Op.CancelQueued], or a loop broken out of [Map].
	ErrCancelled = actors.ErrCancelled
	// ErrMailboxFull resolves a token delivered with engine.Send to a full
	// mailbox, and is wrapped by the error of a [Ref.Tell] or [Ref.Ask] an
	// actor sends itself in its own turn while its mailbox is full.
	ErrMailboxFull = actors.ErrMailboxFull
	// ErrNoExecutor is returned by Submit, and resolves queued tokens, when
	// every executor is down (past its restart policy).
	ErrNoExecutor = actors.ErrNoExecutor
	// ErrTooManyBlocked is returned by a call that would block inside a
	// handler ([Token.Wait], [Group.Wait], a Submit, Tell or Ask waiting for
	// room, [Request], [Ref.Stop], [PerCore.Get] waiting for its init, the
	// Stop of another runtime) when Config.MaxBlocked handlers of its
	// runtime block already (whatever runtime they wait on): each blocked
	// handler holds a goroutine and, pinned, an OS thread.
	ErrTooManyBlocked = actors.ErrTooManyBlocked
	// ErrWaitSelf is returned by [Token.Wait] called from the token's own
	// handler, on an executor or on the blocking lane (directly, or after
	// the handler waited on something else), which it would wait for: the
	// token resolves only once the handler returned.
	ErrWaitSelf = actors.ErrWaitSelf
	// ErrFull is wrapped by the error of [Op.TrySubmit] when every executor
	// the token may go to is full, or the blocking lane of a [WithBlocking]
	// op is (an error that says so, and is ErrFull for errors.Is).
	ErrFull = actors.ErrFull
	// ErrNilToken is returned by the methods of a nil *Token, or of one not
	// made by submitting it (a zero Token).
	ErrNilToken = errors.New("coregate: nil token")
	// ErrNilOp is returned by the methods of a nil *Op, or of one not made
	// by [Define], that submit tokens.
	ErrNilOp = errors.New("coregate: nil *Op")
	// ErrNilRef is returned by the methods of a nil *Ref, or of one not
	// made by [Spawn], that send to the actor.
	ErrNilRef = errors.New("coregate: nil *Ref")
	// ErrNilContext is returned when a nil context.Context is passed.
	ErrNilContext = errors.New("coregate: nil context")
	// ErrNameTaken is wrapped by the error of [Spawn] when a live actor of
	// the runtime has the name already, and of [Define] when an op has: so
	// "spawn it unless it runs" is errors.Is(err, ErrNameTaken). A stopped
	// actor's name may be spawned again.
	ErrNameTaken = errors.New("coregate: name taken")
	// ErrUnknownOp answers a [Call] naming no op of the runtime.
	ErrUnknownOp = errors.New("coregate: no op named")
	// ErrBadArgument answers a [Call] whose argument is not of its op's
	// argument type, or that is malformed; a message to the ops process that
	// is not a call; and a message to an actor's PID that is not its M.
	ErrBadArgument = errors.New("coregate: bad argument")
	// ErrStopFromHandler is returned by [Runtime.Stop] called from inside one
	// of that runtime's handlers, which would wait for its own executor to
	// exit, or from one of its ops' callbacks, an actor's Stopped or the each
	// of an [Op.Every], which would wait for itself. (From a handler of
	// another runtime, Stop hands that handler's executor on and waits.)
	ErrStopFromHandler = errors.New("coregate: Stop called from inside a handler or callback of the runtime, which it would wait for (call it from other code, a goroutine of its own, say)")
	// ErrAskSelf is returned by [Token.Wait] called inside an actor's turn
	// (its Receive or Started, with any context) for an [Ref.Ask] to that
	// same actor that it has not reached: only a later turn of the actor
	// can answer it, so the wait would last as long as its context. The Ask
	// stays queued, and is answered in that later turn. So is a Wait in
	// Receive for the Ask it handles, which is answered as it returns.
	// [Request] to the actor's own PID in its turn, with any context, is
	// refused with it too, and the actor does not get the message.
	ErrAskSelf = errors.New("coregate: an actor waits in its own turn for its own Ask")
)

// PanicError is the error of a token whose handler panicked; get it with
// errors.As. Value is what was passed to panic, Stack the handler's stack.
type PanicError = actors.PanicError
