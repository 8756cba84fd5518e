package coregate

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate/actors"
)

// Every submits a token of op for arg every interval, starting one interval
// from now, and passes each result to each, in order. Runs never overlap: a
// run still going when the next one is due makes that tick skip, as
// [time.Ticker] drops ticks for a slow receiver, and the next run starts at
// the first tick after it returned. A run that cannot be submitted (every
// executor down, or the op's [WithStickyKey] function panicked: a
// [*PanicError]) gives each the error and the ticks go on. each runs on
// Every's own goroutine, never on an executor: a panic in it is recovered
// and published as [CallbackPanicked] on the runtime's engine, as a panic
// in an op's callback is, and the ticks go on. So they do after a
// runtime.Goexit in each (a t.FailNow, say), which ends only that
// goroutine: the calls of each that follow run on another.
//
// It stops when stop is called, when ctx ends, or when the runtime stops;
// each is then called at most once more, for a run under way: with its
// result when the runtime stopped (ErrStopped when its tick came as the
// runtime stopped, too late to submit it), with its context's error when
// stop or ctx ended it (its handler's context is cancelled). stop returns once the loop
// has ended, so each is not called after it (called from each, it returns
// at once; from a handler, it hands the handler's executor on while it
// waits, as [Token.Wait] does, past [Config.MaxBlocked] too, since it has
// no error to return); it may be called more than once. [Runtime.Stop] waits for the
// loop as well, until its context ends, and called from each it returns
// [ErrStopFromHandler]. Each Every holds one goroutine while it runs, however many
// ticks it waits for. An interval of 0 or less, a nil each or ctx, or a
// stopped runtime is an error.
func (op *Op[A, R]) Every(ctx context.Context, interval time.Duration, arg A, each func(R, error)) (stop func(), err error) {
	switch {
	case op.unusable():
		return nil, ErrNilOp
	case ctx == nil:
		return nil, ErrNilContext
	case interval <= 0:
		return nil, fmt.Errorf("coregate: op %q: Every with interval %v, want more than 0", op.info.Name, interval)
	case each == nil:
		return nil, fmt.Errorf("coregate: op %q: Every with a nil each", op.info.Name)
	case op.rt.stopping.Load():
		return nil, ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	quit := op.rt.delays.done()
	ticker := time.NewTicker(interval)
	ended := make(chan struct{})
	var loop atomic.Uint64 // the loop goroutine's id, so stop can tell a call from each; 0 between two
	// Counted by the runtime before it starts, so that Stop, which closes
	// quit first, finds every loop that may still call each; refused once
	// Stop began, so that no loop starts after Stop looked for them.
	var run func()
	run = func() {
		loop.Store(everyGoID())
		goexit := true
		defer func() {
			if goexit {
				// each called runtime.Goexit, which ends this goroutine
				// alone: the ticks go on, on another one counted before
				// this one is counted out, so that Stop finds the loop.
				// Its id is forgotten first: a goroutine started once
				// this one ended may get its address (see actors.GoID)
				// before the next one says who it is, and its stop would
				// pass for a call from each and not wait.
				loop.Store(0)
				op.rt.everys.run(run)
				return
			}
			cancel()
			ticker.Stop()
			close(ended)
		}()
		op.ticks(runCtx, quit, ticker.C, arg, each)
		goexit = false
	}
	started := op.rt.everys.runUnless(op.rt.stopping.Load, run)
	if !started {
		ticker.Stop()
		cancel()
		return nil, ErrStopped
	}
	return func() {
		cancel()
		if everyGoID() == loop.Load() {
			return
		}
		select {
		case <-ended:
			return
		default:
		}
		// From a handler, hand its executor on first: the last each may
		// wait on a token queued behind it. Past Config.MaxBlocked too:
		// stop has no error to return, and holding the executor could
		// deadlock.
		defer actors.BlockAnyway()()
		<-ended
	}, nil
}

// everyGoID is [actors.GoID]; a test makes a goroutine pass for one that
// ended.
var everyGoID = actors.GoID

// ticks runs Every's loop until runCtx ends, quit is closed or the runtime
// stops: a run of op for arg at each tick, its outcome passed to each.
func (op *Op[A, R]) ticks(runCtx context.Context, quit <-chan struct{}, tick <-chan time.Time, arg A, each func(R, error)) {
	for {
		select {
		case <-runCtx.Done():
			return
		case <-quit:
			return
		case <-tick:
		}
		select { // a tick met with the stop starts no run: after a run under way, each would be called twice
		case <-runCtx.Done():
			return
		case <-quit:
			return
		default:
		}
		id, r, err := op.runOnce(runCtx, arg)
		op.callEach(each, id, r, err)
		// The runtime's own Stop, not any ErrStopped: a handler may
		// return one from another runtime. Checked after each, so a
		// run that ended as Stop began is the last.
		if runCtx.Err() != nil || op.rt.stopping.Load() {
			return
		}
		select { // the tick due while it ran is skipped
		case <-tick:
		default:
		}
	}
}

// runOnce submits one token and waits for it; id is the token's, 0 when
// it could not be submitted.
func (op *Op[A, R]) runOnce(ctx context.Context, arg A) (id uint64, r R, err error) {
	tok, err := op.submitCaught(ctx, arg)
	if err != nil {
		return 0, r, err
	}
	r, err = tok.Wait(ctx)
	return tok.ID(), r, err
}

// callEach calls each with a run's outcome, recovering a panic in it as
// callBackNow does.
func (op *Op[A, R]) callEach(each func(R, error), id uint64, r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			op.rt.engine.BroadcastEvent(CallbackPanicked{Op: op.info.Name, Token: id, Value: p, Stack: debug.Stack()})
		}
	}()
	each(r, err)
}
