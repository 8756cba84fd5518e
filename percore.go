package coregate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/coregate/coregate/actors"
)

// PerCore is one S per executor of a runtime, as Seastar's sharded<T> is one
// per core: each executor's value is made by init(executor) on that
// executor's own thread the first time a handler or actor on it asks, so its
// memory is first touched (and, on NUMA machines, placed) on its core, and
// is then reached without a lock. Values are never shared between
// executors; a handler that blocked (in Wait, or waiting for room) finishes
// on a goroutine of the same CPU beside the executor's next handler, so
// guard S against that when handlers on one executor block. A value is its
// executor index's: an executor restarted after a failure keeps it (init
// does not run again), so S must not rely on what a failure may have left
// half done.
//
// Create it with [NewPerCore]; the zero value is not usable: Get on it, as
// on a nil *PerCore, returns an error.
type PerCore[S any] struct {
	rt    *Runtime
	init  func(executor int) S
	slots []perCoreSlot[S]
}

type perCoreSlot[S any] struct {
	ready atomic.Bool
	mu    sync.Mutex
	// making is closed when the init under way returns (or panics); nil
	// while none runs. A channel, not a lock held across init: a Get
	// waiting for another handler's init must still see its context end.
	making chan struct{}
	maker  uint64 // the goroutine running init, or 0
	v      S
	_      [64]byte // neighbours' values stay off this slot's cache line
}

// NewPerCore returns a PerCore on rt whose values init makes. A nil runtime
// or init is an error, and a stopped runtime is [ErrStopped].
func NewPerCore[S any](rt *Runtime, init func(executor int) S) (*PerCore[S], error) {
	switch {
	case rt == nil || rt.router == nil:
		return nil, errors.New("coregate: NewPerCore on a nil *Runtime or one not made by Start")
	case init == nil:
		return nil, errors.New("coregate: NewPerCore with a nil init")
	case rt.stopping.Load():
		return nil, ErrStopped
	}
	return &PerCore[S]{rt: rt, init: init, slots: make([]perCoreSlot[S], len(rt.execs))}, nil
}

// Get returns the value of the executor running the handler or actor whose
// context ctx is (or derives from), making it first if it is the first
// time. Outside a handler or actor of p's runtime it is an error, also with
// a handler's context kept after the handler returned or passed to a
// goroutine it started: that goroutine would touch the executor's value
// beside its next handlers. A panic in init goes to the caller (failing its
// token) and the next Get tries again. init may wait (on a token, say): a Get
// on the same executor meanwhile waits for it as [Token.Wait] does, handing
// the executor on until init returns or ctx ends (ctx's error), and fails
// like Wait with [ErrTooManyBlocked]. A Get from init itself, which would
// wait for itself, is an error.
func (p *PerCore[S]) Get(ctx context.Context) (*S, error) {
	switch {
	case p == nil || p.rt == nil:
		return nil, errors.New("coregate: Get on a nil *PerCore or one not made by NewPerCore")
	case ctx == nil:
		return nil, ErrNilContext
	}
	e := actors.ExecutorOf(ctx)
	// The owner first (cheap); then a handler that blocked and finishes
	// beside the executor's new owner (see PerCore).
	if e == nil || e.Group() != p.rt.sup.Group() || !e.Serves() {
		if e == nil && p.rt.lane.InWorker() {
			return nil, errors.New("coregate: PerCore.Get in a WithBlocking handler, which runs on no executor")
		}
		return nil, errors.New("coregate: PerCore.Get outside a handler or actor of its runtime")
	}
	s := &p.slots[e.Index()]
	if !s.ready.Load() {
		if err := s.make(ctx, e, p.init); err != nil {
			return nil, err
		}
	}
	return &s.v, nil
}

func (s *perCoreSlot[S]) make(ctx context.Context, e *actors.Executor, init func(int) S) error {
	for {
		s.mu.Lock()
		switch {
		case s.ready.Load():
			s.mu.Unlock()
			return nil
		case s.making == nil:
			s.makeLocked(e.Index(), init)
			return nil
		case s.maker == actors.GoID():
			s.mu.Unlock()
			return errors.New("coregate: PerCore.Get from its own init, which makes the value it asks for")
		}
		making := s.making
		s.mu.Unlock()
		// init runs in a handler of e that blocked (in Wait, say) and
		// handed e on: wait for it the same way, so that e goes on draining
		// its queue, where what init waits for may be queued behind us,
		// and until ctx ends, as Token.Wait does.
		resume, err := actors.Block()
		if err != nil {
			return err
		}
		select {
		case <-making:
			resume()
		case <-ctx.Done():
			resume()
			return ctx.Err()
		}
	}
}

// makeLocked runs init for executor i on the calling goroutine; the caller
// holds mu, which it releases while init runs.
func (s *perCoreSlot[S]) makeLocked(i int, init func(int) S) {
	done := make(chan struct{})
	s.making, s.maker = done, actors.GoID()
	s.mu.Unlock()
	defer func() { // also when init panics, or calls runtime.Goexit
		s.mu.Lock()
		s.making, s.maker = nil, 0
		s.mu.Unlock()
		close(done)
	}()
	s.v = init(i)
	s.ready.Store(true)
}
