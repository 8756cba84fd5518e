package actors

import "time"

// detachedBit marks in moved a token run by [Executor.RunDetached]: its
// handler's context answers no executor.
const detachedBit = 1 << 29

// RunDetached runs token j, accepted on e ([Executor.Accept]) and queued
// off its mailbox, on the calling goroutine instead of e's owner: for
// handlers that block (sleep, I/O) on goroutines that are neither locked nor
// pinned. It is counted on e, resolved as e's tokens are (a panic fails it
// with a [*PanicError], runtime.Goexit with [ErrGoexit] and goes on ending
// the calling goroutine), and its handler's context is cancelled by the
// group's abort; it answers no executor ([ExecutorOf] gives nil), and the
// stall watchdog does not see it. When its hook asks for a retry, j is
// queued again (its state, marked retrying until again's caller queues j
// and calls [Task.RetryDue]) and again is called with the delay, and the
// attempt's outcome and error (for a Stop to resolve it with), instead of
// resolving it. A token that is not queued (resolved, parked or running
// elsewhere, or a stale entry: see [Renewed]) is skipped, and one whose op
// is paused is offered to [Op.Hold] first.
func (e *Executor) RunDetached(j Job, again func(j Job, delay time.Duration, o Outcome, err error)) {
	t := j.Task()
	if t.op != nil && t.op.paused.Load() && t.held(j) {
		return // its op is paused: held, not run
	}
	if !t.start(j) {
		return
	}
	if e.group.aborted.Load() {
		t.finish(Stopped, ErrStopped)
		return
	}
	t.moved.Or(detachedBit)
	retry := func(j Job, o Outcome, err error, _ bool) bool {
		h := t.hook()
		if h == nil || e.group.aborted.Load() || t.cancel.isFired() || t.ctxErr() != nil {
			return false
		}
		delay, ok, resolved := t.askRetry(h, o, err)
		if resolved {
			return true
		}
		if !ok {
			return false
		}
		t.requeue(o, err)
		if t.cancel.isFired() { // as in Executor.retry
			return t.keep(h, o, err)
		}
		again(j, delay, o, err)
		return true
	}
	o, err, _ := invoke(j, t, retry, nil) // the lane counts what its abort cut short
	if (o == Failed || o == Panicked) && retry(j, o, err, false) {
		return
	}
	t.finish(o, err)
}

// GoID returns the calling goroutine's id, for pools of goroutines that run
// handlers off the executors and must recognise their own (a Stop called
// from one of them).
func GoID() uint64 { return goid() }
