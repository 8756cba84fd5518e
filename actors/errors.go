package actors

import (
	"errors"
	"fmt"
)

var (
	// ErrStopped resolves tokens still queued when their runtime stopped, and
	// refuses pushes onto a closed mailbox.
	ErrStopped = errors.New("coregate: runtime stopped")
	// ErrGoexit resolves a token whose handler called runtime.Goexit; the
	// goroutine running it ended too, and a replacement took its place.
	ErrGoexit = errors.New("coregate: handler called runtime.Goexit")
	// ErrCancelled resolves a token cancelled with [Task.Cancel] before it started.
	ErrCancelled = errors.New("coregate: token cancelled")
	// ErrMailboxFull refuses a token delivered by engine.Send to a full mailbox.
	ErrMailboxFull = errors.New("coregate: mailbox full")
	// ErrNoExecutor resolves a token that has no live executor to run on: every
	// executor of its runtime is down.
	ErrNoExecutor = errors.New("coregate: no live executor")
	// ErrFull refuses a token that is not to wait for room when every
	// executor it may go to is full.
	ErrFull = errors.New("coregate: every executor of the op's range is full")
	// ErrCellClosed refuses an envelope for an actor that stopped.
	ErrCellClosed = errors.New("coregate: actor stopped")
	// ErrRunning refuses [Executor.Launch] of an executor that has an owner.
	ErrRunning = errors.New("coregate: executor already running")
	// ErrTooManyBlocked is returned by a blocking call inside a handler
	// (waiting on a token, or for room) when as many handlers as its own
	// runtime allows block already: each holds a goroutine and, when pinned, an OS
	// thread, and Go ends the process past its thread limit.
	ErrTooManyBlocked = errors.New("coregate: too many handlers blocked at once; nesting this deep cannot be served")
	// ErrWaitSelf is returned by a wait, from a token's handler running on
	// an executor or a worker of the group's DetachedPool, for that very
	// token: it resolves only once the handler returned.
	ErrWaitSelf = errors.New("coregate: a handler waits for its own token, which resolves only once it returns")
)

// PanicError is the error of a token whose handler panicked.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the handler goroutine's stack at the panic
}

// Error says the handler panicked, with the value.
func (p *PanicError) Error() string {
	return fmt.Sprintf("coregate: handler panicked: %v", p.Value)
}

// Unwrap returns the panic value when it is an error, so errors.Is and errors.As
// see through a panic(err).
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
