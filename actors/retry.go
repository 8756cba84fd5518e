package actors

import (
	"sync"
	"time"
)

// retries holds the tokens waiting out a retry backoff. Each holds a slot of
// the mailbox it will be queued on (Mailbox.hold), so retries count against
// the bound and a draining executor waits for them. A token in here is
// neither queued nor resolved, so Stop must find it: StopRetries resolves each
// with the outcome of its last attempt.
type retries struct {
	mu      sync.Mutex
	pending map[*Task]*pendingRetry
	stopped bool
	firing  sync.WaitGroup // timers that left pending and are queueing their job
}

type pendingRetry struct {
	timer *time.Timer
	exec  *Executor
	job   Job
	o     Outcome
	err   error
}

// schedule queues j again on e after delay. Its state is already queued, so
// Cancel can resolve it meanwhile; the executor skips it then.
func (r *retries) schedule(e *Executor, j Job, delay time.Duration, o Outcome, err error) {
	e.mb.hold()
	if delay <= 0 {
		e.requeue(j, o, err)
		return
	}
	t := j.Task()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		e.mb.unhold()
		t.Resolve(o, err)
		return
	}
	p := &pendingRetry{exec: e, job: j, o: o, err: err}
	p.timer = time.AfterFunc(delay, func() {
		r.mu.Lock()
		if r.pending[t] != p {
			r.mu.Unlock()
			return // StopRetries resolved it
		}
		delete(r.pending, t)
		r.firing.Add(1)
		r.mu.Unlock()
		defer r.firing.Done()
		e.requeue(j, o, err)
	})
	r.pending[t] = p
}

// requeue puts a retried job into the slot it holds at the tail of e's
// mailbox, elsewhere when e is down, or resolves it with its last attempt's
// outcome once the runtime aborted.
func (e *Executor) requeue(j Job, o Outcome, err error) {
	switch e.mb.requeueHeld(j) {
	case Gone:
		e.group.redirect(j)
	case Closed:
		j.Task().Resolve(o, err)
	}
}

// StopRetries resolves every token waiting out a retry backoff with the
// outcome of its last attempt, returns how many, and returns once no retry
// timer is still queueing a job.
func (g *Group) StopRetries() int {
	r := &g.retries
	r.mu.Lock()
	r.stopped = true
	n := 0
	for t, p := range r.pending {
		p.timer.Stop()
		delete(r.pending, t)
		p.exec.mb.unhold()
		if t.Resolve(p.o, p.err) {
			n++
		}
	}
	r.mu.Unlock()
	r.firing.Wait()
	return n
}
