package actors

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
)

// retries holds the tokens waiting out a retry backoff. Each holds a slot of
// the mailbox it will be queued on (Mailbox.hold), so retries count against
// the bound and a draining executor waits for them. A token in here is
// neither queued nor resolved, so Stop must find it: StopRetries resolves each
// with the outcome of its last attempt.
//
// Whoever takes an entry out of pending (its timer, DropRetry, StopRetries)
// gives its slot back or hands it on to the requeued job.
type retries struct {
	mu      sync.Mutex
	pending map[*Task]*pendingRetry
	stopped bool
	firing  sync.WaitGroup // timers that left pending and are queueing their job
	// cut counts the retries resolved with their last attempt's outcome
	// outside pending once the runtime gave up draining: on their way to
	// their backoff as retries stopped, or due as the mailbox aborted.
	// Neither Abort nor StopRetries found them: the next StopRetries
	// reports them, or a Stop would say it cut nothing short.
	cut int
}

type pendingRetry struct {
	timer   *time.Timer
	unwatch func() bool // ends its watch on the submitter's context, or nil (see Task.WatchBackoff)
	exec    *Executor
	job     Job
	o       Outcome
	err     error
}

// stop stops p's timer and its watch.
func (p *pendingRetry) stop() {
	p.timer.Stop()
	if p.unwatch != nil {
		p.unwatch()
	}
}

// schedule queues j again on e after delay. Its state is already queued, so
// Cancel can resolve it meanwhile; the token's hook then drops the retry
// (DropRetry), and the executor would skip it anyway.
func (r *retries) schedule(e *Executor, j Job, delay time.Duration, o Outcome, err error) {
	e.mb.hold()
	if delay <= 0 {
		e.requeue(j, o, err)
		return
	}
	t := j.Task()
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		e.mb.unhold()
		r.cutShort(t, o, err)
		return
	}
	if old := r.pending[t]; old != nil {
		// Run again before its backoff ended, which a Resume of a token
		// parked as it waited did before Park refused a retrying token:
		// the entry replaced gives its slot back, or the old timer,
		// finding itself replaced, would keep it for ever.
		old.stop()
		old.exec.mb.unhold()
	}
	p := &pendingRetry{exec: e, job: j, o: o, err: err, unwatch: t.WatchBackoff()}
	p.timer = time.AfterFunc(delay, func() {
		r.mu.Lock()
		if r.pending[t] != p {
			r.mu.Unlock()
			return // taken out, its slot given back (StopRetries, DropRetry)
		}
		delete(r.pending, t)
		r.firing.Add(1)
		r.mu.Unlock()
		defer r.firing.Done()
		if p.unwatch != nil {
			p.unwatch() // queued again, it is checked against its context as it runs
		}
		e.requeue(j, o, err)
	})
	r.pending[t] = p
	r.mu.Unlock()
	if !t.Queued() {
		r.drop(t) // resolved (cancelled) before its entry was there to drop
	}
}

// WatchBackoff resolves t, which waits out a retry backoff, as soon as its
// submitter's context ends, with that context's error, as Cancel resolves
// it at once: it would otherwise be checked against its context only as
// it is about to run, and hold its slot (and a graceful Stop) until its
// backoff ends, up to a minute later. The backoff's owner calls it as the
// backoff begins, and the stop it returns (nil for a context that never
// ends) as the backoff ends, however it ends; the token's hook drops the
// backoff as the watch resolves it.
func (t *Task) WatchBackoff() (stop func() bool) {
	if t.parent.Done() == nil {
		return nil
	}
	return context.AfterFunc(t.parent, func() { t.CancelWatched(t.parent.Err()) })
}

// askRetry asks h, t's hook, whether to run t again after an attempt that
// ended with o and err. A hook that panics resolves t with that panic (a
// [*PanicError]) instead, and askRetry reports it resolved: the hook runs
// outside the handler's recover, on the goroutine that holds t running, and
// nothing else would resolve t once that goroutine ended.
func (t *Task) askRetry(h Hook, o Outcome, err error) (delay time.Duration, again, resolved bool) {
	defer func() {
		if r := recover(); r != nil {
			t.finish(Panicked, &PanicError{Value: r, Stack: debug.Stack()})
			delay, again, resolved = 0, false, true
		}
	}()
	delay, again = h.Retry(o, err)
	return delay, again, false
}

// keep resolves t, queued again for the retry its hook h allowed, with o
// and err, its failed attempt's, on that attempt's runner, and reports that
// it is resolved: a Cancel came as it was queued again, so this attempt is
// its last. A [Keeper] hook is told first, as the token ran.
func (t *Task) keep(h Hook, o Outcome, err error) bool {
	if k, ok := h.(Keeper); ok {
		k.Kept(t)
	}
	t.Resolve(o, err)
	return true
}

// requeue puts a retried job into the slot it holds at the tail of e's
// mailbox, elsewhere when e is down or its placement moved off e (the
// group's follow hook), or resolves it with its last attempt's outcome once
// the runtime aborted.
func (e *Executor) requeue(j Job, o Outcome, err error) {
	j.Task().RetryDue()
	if x := e.group.follow(j); x != nil && x != e {
		switch x.Adopt(j) {
		case Pushed:
			e.mb.unhold()
			return
		case Gone:
			e.mb.unhold()
			e.group.redirect(j)
			return
		}
		// Closed: x drained (a graceful Stop) or the runtime aborted. e,
		// which waits for the slot the retry holds, has not drained: the
		// retry runs there rather than be cut short.
	}
	switch e.mb.requeueHeld(j) {
	case Gone:
		e.group.redirect(j)
	case Closed:
		e.group.retries.cutShort(j.Task(), o, err)
	}
}

// cutShort resolves t, a retry that will not run because the runtime gave
// up draining, with o and err, its last attempt's, and counts it for
// StopRetries. Resolved without the lock: a token's hook drops its retry.
func (r *retries) cutShort(t *Task, o Outcome, err error) {
	if t.Resolve(o, err) {
		r.mu.Lock()
		r.cut++
		r.mu.Unlock()
	}
}

// DropRetry forgets the retry t waits for, if it waits out a backoff, and
// gives its slot back: for a token resolved meanwhile (cancelled), whose
// timer would otherwise hold a slot of the mailbox, and keep a draining
// executor waiting, until it fires.
func (g *Group) DropRetry(t *Task) { g.retries.drop(t) }

func (r *retries) drop(t *Task) {
	r.mu.Lock()
	p := r.pending[t]
	delete(r.pending, t)
	r.mu.Unlock()
	if p != nil {
		p.stop()
		p.exec.mb.unhold()
	}
}

// StopRetries resolves every token waiting out a retry backoff with the
// outcome of its last attempt, returns how many, and returns once no retry
// timer is still queueing a job. The count includes the retries the
// runtime's abort cut short since the last call, on their way to their
// backoff or due, which their runners or timers resolved: call it again
// once the executors' goroutines are done to count those of their runners.
func (g *Group) StopRetries() int {
	r := &g.retries
	r.mu.Lock()
	r.stopped = true
	pending := r.pending
	r.pending = make(map[*Task]*pendingRetry)
	r.mu.Unlock()
	n := 0
	for t, p := range pending { // resolved without the lock: a token's hook drops its retry
		p.stop()
		p.exec.mb.unhold()
		if t.Resolve(p.o, p.err) {
			n++
		}
	}
	r.firing.Wait()
	r.mu.Lock()
	n += r.cut
	r.cut = 0
	r.mu.Unlock()
	return n
}
