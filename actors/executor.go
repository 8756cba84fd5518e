package actors

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
)

// Executor runs tokens from its mailbox on one goroutine, locked to its OS thread
// and pinned to one CPU unless the group's affinity is [Off]. It implements
// [actor.Processer]: engine.Send to its PID pushes a [Job]; anything else is
// answered with an [actor.DeadLetterEvent] on the engine's event stream.
type Executor struct {
	group   *Group
	index   int
	cpu     int
	pid     *actor.PID
	mb      *Mailbox
	stats   counters
	refused atomic.Uint64 // jobs delivered by Send and refused at once
	goid    atomic.Uint64 // the running goroutine's id, 0 when none runs

	mu     sync.Mutex
	pinned bool
	pinErr error
}

// Index returns the executor's position in its group.
func (e *Executor) Index() int { return e.index }

// CPU returns the CPU the executor is pinned to (or would be, when unpinned).
func (e *Executor) CPU() int { return e.cpu }

// Mailbox returns the executor's mailbox.
func (e *Executor) Mailbox() *Mailbox { return e.mb }

// Pinned reports whether the running goroutine's thread is pinned to CPU(), and
// why not when it is not.
func (e *Executor) Pinned() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pinned, e.pinErr
}

// Push places j on this executor's mailbox.
func (e *Executor) Push(j Job) PushResult {
	j.Task().exec = e
	return e.mb.Push(j)
}

// Launch starts the executor goroutine and returns once it has locked and pinned
// its thread. Under [Strict] affinity a failed pin is returned and the goroutine
// has already ended. Launch is also how a replacement takes over the mailbox of
// an executor whose goroutine ended.
func (e *Executor) Launch() error {
	ready := make(chan error, 1)
	go e.main(ready)
	return <-ready
}

func (e *Executor) main(ready chan<- error) {
	if e.group.affinity != Off {
		// Never unlocked: the goroutine returns still locked and the thread ends
		// with it, so no other goroutine ever inherits the pinned mask.
		runtime.LockOSThread()
		err := pinThread(e.cpu)
		e.mu.Lock()
		e.pinned, e.pinErr = err == nil, err
		e.mu.Unlock()
		if err != nil && e.group.affinity == Strict {
			ready <- err
			return
		}
	}
	e.goid.Store(goid())
	ready <- nil

	crashed := true
	defer func() {
		e.goid.Store(0)
		var err error
		if crashed {
			err = ErrGoexit
			if r := recover(); r != nil {
				err = fmt.Errorf("coregate: executor %d loop panicked: %v", e.index, r)
			}
		}
		e.group.onExit(e, err)
	}()
	e.loop()
	crashed = false
}

func (e *Executor) loop() {
	for !e.group.aborted.Load() {
		if j, ok := e.mb.Pop(); ok {
			e.run(j)
			continue
		}
		if e.mb.spin() {
			continue
		}
		switch e.mb.Park() {
		case Parked:
			<-e.mb.Wake()
		case Drained, Aborted:
			return
		}
	}
}

// run resolves j: it runs the handler unless the token was cancelled already.
func (e *Executor) run(j Job) {
	t := j.Task()
	if !t.state.CompareAndSwap(queued, running) {
		return // resolved by Cancel while queued
	}
	if err := t.parent.Err(); err != nil {
		t.finish(Cancelled, err)
		return
	}
	o, err := e.invoke(j, t)
	t.finish(o, err)
}

// invoke runs the handler under recover, telling a panic from runtime.Goexit as
// singleflight does: a deferred recover returns the value of a panic, and nil
// when the handler neither returned nor panicked, which is a Goexit. A Goexit
// resolves the token here, then goes on ending the executor goroutine.
func (e *Executor) invoke(j Job, t *Task) (o Outcome, err error) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if r := recover(); r != nil {
			o, err = Panicked, &PanicError{Value: r, Stack: debug.Stack()}
			return
		}
		t.finish(Failed, ErrGoexit)
	}()
	err = j.Run(t)
	normal = true
	switch {
	case err == nil:
		return Succeeded, nil
	case t.cancelledBy(err):
		return Cancelled, err
	}
	return Failed, err
}

// helpUntil runs e's queued tokens until t is resolved or ctx ends. It runs on e's
// goroutine, from inside a handler, so a token queued behind its waiter runs.
func (e *Executor) helpUntil(ctx context.Context, t *Task) error {
	for !t.done.isFired() {
		if !e.group.aborted.Load() {
			if j, ok := e.mb.Pop(); ok {
				e.run(j)
				continue
			}
		}
		var wake <-chan struct{}
		switch e.mb.Park() {
		case Ready:
			continue
		case Parked:
			wake = e.mb.Wake()
		}
		select {
		case <-t.done.ch():
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// actor.Processer

// Start is called by the engine when the executor is registered; the goroutine is
// started by [Executor.Launch] instead, so a failed pin can be returned.
func (e *Executor) Start() {}

// PID returns the executor's PID, <name>/exec/<index>.
func (e *Executor) PID() *actor.PID { return e.pid }

// Send delivers a [Job] without waiting: a job that finds the mailbox full or
// closed is accepted and resolved at once with [ErrMailboxFull] or [ErrStopped],
// so the counts still add up. Any other message becomes a dead letter.
func (e *Executor) Send(_ *actor.PID, msg any, sender *actor.PID) {
	j, ok := msg.(Job)
	if !ok {
		e.group.engine.BroadcastEvent(actor.DeadLetterEvent{Target: e.pid, Message: msg, Sender: sender})
		return
	}
	switch e.Push(j) {
	case Full:
		e.refuse(j.Task(), Failed, ErrMailboxFull)
	case Closed:
		e.refuse(j.Task(), Stopped, ErrStopped)
	}
}

func (e *Executor) refuse(t *Task, o Outcome, err error) {
	e.refused.Add(1)
	if t.claim() {
		t.finish(o, err)
	}
}

// Invoke is part of [actor.Processer]; executors take no batches from hollywood
// and treat each envelope as a Send.
func (e *Executor) Invoke(msgs []actor.Envelope) {
	for _, m := range msgs {
		e.Send(e.pid, m.Msg, m.Sender)
	}
}

// Shutdown closes the mailbox; the executor drains it and exits. Runtimes stop
// executors through their supervisor, which also resolves what is left.
func (e *Executor) Shutdown() { e.mb.Close() }

// StopQueued resolves every job still queued with [ErrStopped] and returns how
// many it resolved. Call it only once the executor goroutine has ended for good.
func (e *Executor) StopQueued() int {
	n := 0
	for _, j := range e.mb.TakeAll() {
		if t := j.Task(); t.claim() {
			t.finish(Stopped, ErrStopped)
			n++
		}
	}
	return n
}
