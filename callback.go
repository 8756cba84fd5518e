package coregate

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// WithOnDone calls done with the argument and result of each of the op's
// tokens that succeeded, as worker pools call their done callbacks. done
// must be a non-nil func(A, R) for the op's types; Define reports any other.
// See [WithOnFailure] for where and when it runs.
func WithOnDone[A, R any](done func(arg A, r R)) Option {
	return func(c *opConfig) { c.ops, c.onDone = append(c.ops, "WithOnDone"), done }
}

// WithOnFailure calls failed with the argument and error of each of the
// op's tokens that did not succeed, whatever the reason: the handler's error,
// a [*PanicError], [ErrGoexit], [ErrCancelled], [ErrStopped] or its
// submitter's context's error. failed must be a non-nil func(A, error) for
// the op's argument type A; Define reports any other.
//
// A token's callback (this one or [WithOnDone]'s) is called once, after its
// last attempt when it is retried. For a token that ran, it runs on the
// goroutine that ran the handler (its executor, or a worker of the blocking
// lane), before the token's waiters wake: once Wait returns, the callback
// has run. Like the handler it must not block, since it holds the executor
// meanwhile. A token resolved without running (cancelled, stopped, refused,
// or cancelled in a retry backoff) gets its callback on a goroutine of its
// own, which may run after Wait returned; [Runtime.Stop] waits for those
// until its context ends (and, called from a callback, returns
// [ErrStopFromHandler] rather than wait for itself). A panic in a callback
// is recovered and published as [CallbackPanicked] on the runtime's engine;
// the token keeps its outcome.
func WithOnFailure[A any](failed func(arg A, err error)) Option {
	return func(c *opConfig) { c.ops, c.onFailure = append(c.ops, "WithOnFailure"), failed }
}

// CallbackPanicked is published on the runtime's engine when a callback of
// [WithOnDone] or [WithOnFailure], the each of [Op.Every], or an actor's
// Stopped panics.
type CallbackPanicked struct {
	Op    string     // the op's name; "" for an actor's Stopped
	Token uint64     // the token's ID (for each, its run's; 0 when it was not submitted)
	Value any        // what was passed to panic
	Stack []byte     // the panicking goroutine's stack
	Actor *actor.PID // the actor whose Stopped panicked; nil for an op's callback
}

// callbacks holds an op's callbacks, checked at Define.
type callbacks[A, R any] struct {
	done   func(A, R)
	failed func(A, error)
}

func (c callbacks[A, R]) set() bool { return c.done != nil || c.failed != nil }

// configureCallbacks checks the callbacks given for an op of A and R.
func (op *Op[A, R]) configureCallbacks(cfg opConfig) error {
	if cfg.onDone != nil {
		done, ok := cfg.onDone.(func(A, R))
		if !ok {
			return fmt.Errorf("coregate: op %q: WithOnDone got a %T, want a func(%v, %v)", op.info.Name, cfg.onDone, reflect.TypeFor[A](), reflect.TypeFor[R]())
		}
		if done == nil { // a typed nil: cfg.onDone itself is not nil
			return fmt.Errorf("coregate: op %q: WithOnDone with a nil function", op.info.Name)
		}
		op.callbacks.done = done
	}
	if cfg.onFailure != nil {
		failed, ok := cfg.onFailure.(func(A, error))
		if !ok {
			return fmt.Errorf("coregate: op %q: WithOnFailure got a %T, want a func(%v, error)", op.info.Name, cfg.onFailure, reflect.TypeFor[A]())
		}
		if failed == nil {
			return fmt.Errorf("coregate: op %q: WithOnFailure with a nil function", op.info.Name)
		}
		op.callbacks.failed = failed
	}
	return nil
}

// callBack calls the callback for t's outcome, from its hook as t resolves:
// here when the calling goroutine ran its handler, on a goroutine of its own
// otherwise (the caller may hold a lock of the runtime's).
func (j *hookedJob[A, R]) callBack(t *actors.Task, arg A) {
	op := j.op
	res, err := j.tok.res, t.Result()
	if id := actors.GoID(); j.runner.Load() == id {
		if g, ok := j.watch.(*Group); ok {
			// Before the token settles: the group's Wait from the
			// callback would wait for it, as from its handler.
			g.enter(id)
			defer g.leave(id)
		}
		op.callBackNow(t.ID(), arg, res, err)
		return
	}
	op.rt.callbacks.run(func() { op.callBackNow(t.ID(), arg, res, err) })
}

func (op *Op[A, R]) callBackNow(id uint64, arg A, res R, err error) {
	defer func() {
		if p := recover(); p != nil {
			op.rt.engine.BroadcastEvent(CallbackPanicked{Op: op.info.Name, Token: id, Value: p, Stack: debug.Stack()})
		}
	}()
	switch {
	case err == nil && op.callbacks.done != nil:
		op.callbacks.done(arg, res)
	case err != nil && op.callbacks.failed != nil:
		op.callbacks.failed(arg, err)
	}
}

// running counts the callbacks running on goroutines of their own, so Stop
// can wait for them, and knows those goroutines, so Stop called from one
// does not wait for itself. (A WaitGroup would not do: a token resolved
// after Stop looked adds one while Stop may still wait.)
type running struct {
	mu   sync.Mutex
	n    int
	ids  map[uint64]struct{} // the goroutines running them
	none chan struct{}       // closed when n drops to 0; made only while Stop waits
}

func (r *running) run(f func()) {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	r.start(f)
}

// runUnless is run unless refuse, read once f is counted, says no; it
// reports whether f runs. So a wait that began once refuse holds finds f
// either counted or refused: no f starts after the wait looked.
func (r *running) runUnless(refuse func() bool, f func()) bool {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	if refuse() {
		r.done(0) // no goroutine ran it, and none has id 0
		return false
	}
	r.start(f)
	return true
}

// start runs f, counted, on a goroutine of its own.
func (r *running) start(f func()) {
	go func() {
		id := actors.GoID()
		r.mu.Lock()
		if r.ids == nil {
			r.ids = map[uint64]struct{}{}
		}
		r.ids[id] = struct{}{}
		r.mu.Unlock()
		defer r.done(id)
		f()
	}()
}

// in reports whether the caller runs a callback on a goroutine of its own.
func (r *running) in() bool {
	id := actors.GoID()
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[id]
	return ok
}

func (r *running) done(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ids, id)
	if r.n--; r.n == 0 && r.none != nil {
		close(r.none)
		r.none = nil
	}
}

// wait returns once none runs, or with ctx's error when ctx ends first.
func (r *running) wait(ctx context.Context) error {
	r.mu.Lock()
	if r.n == 0 {
		r.mu.Unlock()
		return nil
	}
	if r.none == nil {
		r.none = make(chan struct{})
	}
	none := r.none
	r.mu.Unlock()
	select {
	case <-none:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
