package coregate

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// Group is a set of tokens that succeed or fail together, with
// [golang.org/x/sync/errgroup]'s semantics on tokens: [Group.Wait] waits for
// every token of the group, and the first one to fail cancels the group's
// context, so the others that have not started resolve with that context's
// error (context.Canceled; [context.Cause] of [Group.Context] is the
// failure) without running and the running ones see their context
// cancelled. A
// request's fan-out is three lines:
//
//	g := coregate.NewGroup(ctx, rt)
//	for _, id := range ids { coregate.Add(g, fetch, id) }
//	err := g.Wait()
//
// Create it with [NewGroup]; the zero value is not usable: Add, Go and Wait
// on it, as on a nil *Group, return an error, and Context returns a
// context cancelled with that error. Its methods are safe for concurrent
// use, and tokens may be added from inside its tokens' handlers.
type Group struct {
	rt     *Runtime
	ctx    context.Context
	cancel context.CancelCauseFunc
	nilCtx bool // made with a nil context: every token is refused
	// waited is set once Wait returned: the group takes no more tokens.
	// Not read from the context's cause, which is the first failure when
	// a token failed.
	waited atomic.Bool

	mu   sync.Mutex
	n    int           // tokens added and not yet resolved
	err  error         // the first error
	idle chan struct{} // closed while n is 0
	// runners counts, by goroutine, the handlers of its tokens running now
	// (see enter): Wait called from one of them would wait for itself. A
	// map: a group's tokens on the blocking lane may run a thousand at once.
	runners map[uint64]int
}

// errGroupDone is the cause of a group's context once Wait returned.
var errGroupDone = errors.New("coregate: group done")

// noGroupCtx is what Context returns for a nil or zero group: cancelled,
// with the cause saying why.
var noGroupCtx = func() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("coregate: Context of a nil *Group or one not made by NewGroup"))
	return ctx
}()

// unusable says g is nil or was not made by NewGroup.
func (g *Group) unusable() bool { return g == nil || g.cancel == nil }

// NewGroup returns a group of tokens on rt whose context derives from ctx
// (its values, the seed of the handler whose context it is, and its end).
// Its tokens are of rt's ops: with a nil rt, Add and Go are errors. With a
// nil ctx they return [ErrNilContext], and so does Wait.
func NewGroup(ctx context.Context, rt *Runtime) *Group {
	g := &Group{rt: rt, idle: make(chan struct{}), nilCtx: ctx == nil}
	close(g.idle)
	if g.nilCtx {
		ctx = context.Background() // for Context's callers
	}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	if g.nilCtx {
		_ = g.failed(ErrNilContext)
	}
	return g
}

// Context returns the group's context: cancelled at the first failure, and
// once Wait returned. Its tokens are submitted with it.
func (g *Group) Context() context.Context {
	if g.unusable() {
		return noGroupCtx
	}
	return g.ctx
}

// Add submits a token of op for arg to the group, with the group's context.
// An error submitting it (the runtime stopped, the group's context ended, a
// nil or zero op ([ErrNilOp]), an op of another runtime than the group's)
// is returned and is also the group's error, as if the token had failed;
// so a caller may ignore Add's error and read Wait's. A panic in op's [WithStickyKey]
// function goes on to Add's caller, as it does from Submit, and is the
// group's error too (a [*PanicError]). A nil group, or one not made by
// [NewGroup], is an error too, and there is no group to record it. Once
// Wait returned the group takes no more tokens: Add returns an error
// wrapping [context.Canceled] that says so.
func Add[A, R any](g *Group, op *Op[A, R], arg A) (*Token[R], error) {
	if g.unusable() {
		return nil, errors.New("coregate: Add to a nil *Group or one not made by NewGroup")
	}
	switch {
	case op.unusable():
		// Before the runtime check: a zero op has no runtime either.
		return nil, g.failed(fmt.Errorf("%w given to Add (nil, or not made by Define)", ErrNilOp))
	case op.rt != g.rt:
		// Wait, inside a handler, hands on the executor of the group's
		// runtime only: a token of another runtime could be queued behind
		// the waiting handler for good.
		return nil, g.failed(fmt.Errorf("coregate: Add of op %q to a group of another runtime (or of a nil *Runtime)", op.info.Name))
	}
	return join(g, func() (*Token[R], error) { return op.submitWith(g.ctx, arg, router.How{}, g) })
}

// Go runs fn as a token of the group, placed as [SubmitFunc]'s are; errors as
// for [Add].
func Go[R any](g *Group, fn func(context.Context) (R, error)) (*Token[R], error) {
	if g.unusable() {
		return nil, errors.New("coregate: Go on a nil *Group or one not made by NewGroup")
	}
	return join(g, func() (*Token[R], error) { return submitFunc(g.ctx, g.rt, fn, g) })
}

// join counts a token in before submit places it (it may resolve at once),
// and out again when it was not accepted, also when submit panicked (the
// op's WithStickyKey function) or called runtime.Goexit: a caller that
// recovers would otherwise wait in Wait for a token that never was. The
// panic goes on to the caller, and is the group's error.
func join[R any](g *Group, submit func() (*Token[R], error)) (*Token[R], error) {
	if g.nilCtx {
		return nil, ErrNilContext
	}
	if g.waited.Load() {
		return nil, g.failed(fmt.Errorf("coregate: the group's Wait returned, so it takes no more tokens (make a new one with NewGroup): %w", context.Canceled))
	}
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
	returned := false
	defer func() {
		if returned {
			return
		}
		err, p := error(ErrGoexit), recover()
		if p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
		g.done(err)
		if p != nil {
			panic(p)
		}
	}()
	tok, err := submit()
	returned = true
	if err != nil {
		g.done(err)
		return nil, err
	}
	return tok, nil
}

// watcher is told of a token's outcome as it resolves, before its waiters
// wake, and again once they were woken, on the goroutine that resolved it:
// it must not block.
type watcher interface {
	resolved(t *actors.Task)
	settled(t *actors.Task)
}

// resolved records a failure first, so the group is cancelled before the
// failed token's own waiters wake.
func (g *Group) resolved(t *actors.Task) {
	if err := t.Result(); err != nil {
		_ = g.failed(err)
	}
}

// settled counts the token out once its waiters were woken, so Wait never
// returns before a token's own Done is closed.
func (g *Group) settled(*actors.Task) { g.done(nil) }

// done is called once per token of the group as it settles (or is refused)
// with err.
func (g *Group) done(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil && g.err == nil {
		g.err = err
		g.cancel(err)
	}
	if g.n--; g.n == 0 {
		close(g.idle)
	}
}

// enter notes goroutine id running the handler of a token of the group
// until leave; only for the group's Wait to tell a call from its own token.
func (g *Group) enter(id uint64) {
	g.mu.Lock()
	if g.runners == nil {
		g.runners = make(map[uint64]int)
	}
	g.runners[id]++
	g.mu.Unlock()
}

// leave ends what enter noted.
func (g *Group) leave(id uint64) {
	g.mu.Lock()
	if g.runners[id]--; g.runners[id] == 0 {
		delete(g.runners, id)
	}
	g.mu.Unlock()
}

// runs says goroutine id runs the handler of a token of the group.
func (g *Group) runs(id uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runners[id] > 0
}

// failed records err as the group's error when it is the first.
func (g *Group) failed(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
		g.cancel(err)
	}
	return err
}

// Wait blocks until every token added so far has resolved, then cancels the
// group's context and returns the first error of the group (nil when none
// failed). An Add or Go running at the same time as Wait, from outside
// the group's tokens, may come after Wait found the group done, as with a
// sync.WaitGroup: add before you wait (a token adding from its handler is
// always waited for, since it has not resolved yet). Called from inside a
// handler it hands the executor on while it waits, as [Token.Wait] does, and returns [ErrTooManyBlocked] when
// Config.MaxBlocked handlers block already. Called from the handler of a
// token of the group, which it would wait for, or from its [WithOnDone] or
// [WithOnFailure] callback on the handler's goroutine (before the token
// settles), it returns an error at once (the group goes on). A nil group, or one not made by [NewGroup], returns
// an error at once.
func (g *Group) Wait() error {
	if g.unusable() {
		return errors.New("coregate: Wait on a nil *Group or one not made by NewGroup")
	}
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
	default:
		if g.runs(actors.GoID()) {
			// Its token ends only once the caller's handler returned.
			return errors.New("coregate: Wait called from a token of the group, which it would wait for (wait where the group was made, or make the token's work a group of its own)")
		}
		if g.rt != nil && g.rt.sup != nil {
			resume, err := actors.Block()
			if err != nil {
				return err
			}
			defer resume()
		}
		<-idle
	}
	g.waited.Store(true)
	g.cancel(errGroupDone)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
