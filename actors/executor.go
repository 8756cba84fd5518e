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
	group    *Group
	index    int
	cpu      int
	pid      *actor.PID
	mb       *Mailbox
	stats    counters
	refused  atomic.Uint64 // jobs accepted without being pushed here (refused, or redirected)
	rerouted atomic.Uint64 // jobs moved to other executors when this one went down
	goid     atomic.Uint64 // the running goroutine's id, 0 when none runs
	health   atomic.Uint32 // Health bits
	seq      atomic.Uint64 // progress: bumped as tokens start; odd while one runs
	depth    int           // nested runs (help-while-waiting); executor goroutine only

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

// PushOver is Push past the mailbox bound, for a submitter that must not wait
// for room (see [Mailbox.PushOver]).
func (e *Executor) PushOver(j Job) PushResult {
	j.Task().exec = e
	return e.mb.PushOver(j)
}

// Adopt queues j, accepted on an executor that went down, at the tail of this
// one, past the mailbox bound: an accepted token is never refused for room. It
// returns Gone when this executor is down too.
func (e *Executor) Adopt(j Job) PushResult {
	res := e.mb.Requeue(j)
	if res == Pushed {
		j.Task().moved.Store(int32(e.index) + 1)
	}
	return res
}

// Refuse accepts j without queueing it and resolves it at once with o and err,
// so it is counted on this executor like any other token.
func (e *Executor) Refuse(j Job, o Outcome, err error) {
	j.Task().exec = e
	e.refused.Add(1)
	j.Task().Resolve(o, err)
}

// Retire takes the executor out of service once its goroutine ended for good:
// every later push returns Gone, and the jobs still queued are returned, in
// order, for the caller to place elsewhere (with [Executor.Adopt]) or resolve.
func (e *Executor) Retire() []Job {
	jobs := e.mb.Retire()
	live := jobs[:0]
	for _, j := range jobs {
		if j.Task().Queued() {
			live = append(live, j)
		}
	}
	e.rerouted.Add(uint64(len(live)))
	return live
}

// Health is a set of reasons an executor should not get unpinned work.
type Health uint32

const (
	Restarting Health = 1 << iota // its goroutine ended and a replacement is due
	Stalled                       // a token has run past the stall threshold
	Down                          // past its restart limit: out of service for good
)

// Health returns the executor's current health bits; 0 is healthy.
func (e *Executor) Health() Health { return Health(e.health.Load()) }

// Healthy reports whether the executor should get unpinned work.
func (e *Executor) Healthy() bool { return e.health.Load() == 0 }

// SetHealth sets or clears h.
func (e *Executor) SetHealth(h Health, on bool) {
	for {
		old := e.health.Load()
		v := old &^ uint32(h)
		if on {
			v = old | uint32(h)
		}
		if e.health.CompareAndSwap(old, v) {
			return
		}
	}
}

// Progress returns a number that changes whenever a token starts or the last
// running one ends; it is odd while a token runs. A watchdog that sees the same
// odd value for a while has found a token running that long.
func (e *Executor) Progress() uint64 { return e.seq.Load() }

func (e *Executor) begin() {
	e.depth++
	e.seq.Store((e.seq.Load() + 2) | 1)
}

func (e *Executor) end() {
	if e.depth--; e.depth == 0 {
		e.seq.Store(e.seq.Load() + 1)
	}
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
	// A token that ended the previous goroutine left depth and seq mid-run.
	e.depth = 0
	e.seq.Store((e.seq.Load() | 1) + 1)
	e.group.onStart(e)
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
	e.begin()
	o, err := e.invoke(j, t)
	e.end()
	if (o == Failed || o == Panicked) && e.retry(j, o, err) {
		return
	}
	t.finish(o, err)
}

// invoke runs the handler under recover, telling a panic from runtime.Goexit as
// singleflight does: a deferred recover returns the value of a panic, and nil
// when the handler neither returned nor panicked, which is a Goexit. A Goexit
// resolves (or retries) the token here, then goes on ending the executor
// goroutine.
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
		if !e.retry(j, Failed, ErrGoexit) {
			t.finish(Failed, ErrGoexit)
		}
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

// retry queues j again if its hook asks for another attempt, and reports
// whether it did. A cancelled token or an aborting runtime is not retried.
func (e *Executor) retry(j Job, o Outcome, err error) bool {
	t := j.Task()
	if t.hook == nil || e.group.aborted.Load() || t.cancel.isFired() || t.parent.Err() != nil {
		return false
	}
	delay, again := t.hook.Retry(o, err)
	if !again {
		return false
	}
	t.state.Store(queued)
	e.group.retries.schedule(e, j, delay, o, err)
	return true
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
// so the counts still add up; one sent to a down executor is placed elsewhere.
// Any other message becomes a dead letter.
func (e *Executor) Send(_ *actor.PID, msg any, sender *actor.PID) {
	j, ok := msg.(Job)
	if !ok {
		e.group.engine.BroadcastEvent(actor.DeadLetterEvent{Target: e.pid, Message: msg, Sender: sender})
		return
	}
	switch e.Push(j) {
	case Full:
		e.Refuse(j, Failed, ErrMailboxFull)
	case Closed:
		e.Refuse(j, Stopped, ErrStopped)
	case Gone:
		e.refused.Add(1)
		e.group.redirect(j)
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
		if j.Task().Resolve(Stopped, ErrStopped) {
			n++
		}
	}
	return n
}
