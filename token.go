package coregate

import (
	"context"

	"github.com/coregate/coregate/actors"
)

// Token is the future of one submitted operation. Its zero value is not usable;
// tokens come from [Op.Submit]. A nil *Token, or a zero one, answers every
// method with ErrNilToken or a zero value (Done a nil channel, Executor -1).
type Token[R any] struct {
	task actors.Task
	res  R
}

// Wait blocks until the token is resolved or ctx ends, and returns the handler's
// result and error. The error is a *PanicError if the handler panicked,
// ErrGoexit if it called runtime.Goexit, ErrCancelled if it was cancelled
// before it ran, its submitter's context's error if that ended before it
// ran, ErrStopped if the runtime stopped before it ran, or ctx's error if
// ctx ended first (the token keeps going). Called from inside a
// handler, Wait first hands the handler's executor to a helper pinned to the
// same CPU, which goes on running its queue, so waiting on a token queued
// behind the caller does not deadlock; it returns ErrTooManyBlocked when
// Config.MaxBlocked handlers block already. That holds whatever runtime the
// token is of: a handler of runtime A waiting on a token of runtime B hands
// on A's executor and counts against A's MaxBlocked, so B's handler may in
// turn wait on a token queued on A behind the caller. An actor waiting in
// its own turn (Receive or Started, with any context) for its own
// [Ref.Ask], which only a later turn of its own can answer, or for the one
// its Receive handles, answered as it returns, gets [ErrAskSelf] at once;
// a handler waiting for its own token gets [ErrWaitSelf].
// Only the handler's own goroutine hands its executor on: a Wait on a
// goroutine the handler waits for (one it started, or the coroutine of
// an [iter.Pull] over [Map]) is a plain wait, and the handler holds the
// executor meanwhile, so a token queued behind it never starts.
//
// A handler waiting for a sticky key's token no longer holds the executor, so
// the key's next token may run meanwhile: a sticky key keeps tokens on one
// executor, not one at a time. For state touched by one message at a time,
// use an actor.
func (t *Token[R]) Wait(ctx context.Context) (R, error) {
	var zero R
	if t.unusable() {
		return zero, ErrNilToken
	}
	if ctx == nil {
		return zero, ErrNilContext
	}
	if err := waitsOnItself(&t.task); err != nil {
		return zero, err
	}
	if err := t.task.Await(ctx); err != nil {
		return zero, err
	}
	return t.res, t.task.Result()
}

// Done returns a channel that is closed once the token is resolved. A
// receive from it inside a handler or a Receive does not hand the executor
// on, as [Token.Wait] does: on a token queued behind that handler on its
// executor it waits for good. There, call Wait.
func (t *Token[R]) Done() <-chan struct{} {
	if t.unusable() {
		return nil
	}
	return t.task.Finished()
}

// ID returns the token's id, unique within its runtime; 0 for a nil or zero
// token.
func (t *Token[R]) ID() uint64 {
	if t == nil {
		return 0
	}
	return t.task.ID()
}

// Executor returns the index of the executor the token was placed on; -1 for a
// nil or zero token.
func (t *Token[R]) Executor() int {
	if t.unusable() {
		return -1
	}
	return t.task.Executor().Index()
}

// Cancel cancels the token. A token that has not started is resolved at once
// with ErrCancelled and never runs (Cancel returns true); a running token has its
// handler's context cancelled and resolves as its handler returns (Cancel
// returns false: this call did not resolve it). A [Ref.Ask]'s token that
// Receive is handling is not cut short: Receive has the actor's context.
func (t *Token[R]) Cancel() bool {
	if t.unusable() {
		return false
	}
	return t.task.Cancel()
}

// unusable says t is nil or zero: every token submitted has an id from 1 up,
// set before it is returned.
func (t *Token[R]) unusable() bool { return t == nil || t.task.ID() == 0 }
