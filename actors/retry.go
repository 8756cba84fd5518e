package actors

import (
	"sync"
	"time"
)

// retries holds the tokens waiting out a retry backoff. A token in here is
// neither queued in a mailbox nor resolved, so Stop must find it: StopRetries
// resolves each with the outcome of its last attempt.
type retries struct {
	mu      sync.Mutex
	pending map[*Task]*pendingRetry
	stopped bool
	firing  sync.WaitGroup // timers that left pending and are queueing their job
}

type pendingRetry struct {
	timer *time.Timer
	job   Job
	o     Outcome
	err   error
}

// schedule queues j again on e after delay. Its state is already queued, so
// Cancel can resolve it meanwhile; the executor skips it then.
func (r *retries) schedule(e *Executor, j Job, delay time.Duration, o Outcome, err error) {
	if delay <= 0 {
		e.requeue(j)
		return
	}
	t := j.Task()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		t.Resolve(o, err)
		return
	}
	p := &pendingRetry{job: j, o: o, err: err}
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
		e.requeue(j)
	})
	r.pending[t] = p
}

// requeue puts a retried job at the tail of e's mailbox, or elsewhere when e is
// down.
func (e *Executor) requeue(j Job) {
	if e.mb.Requeue(j) == Gone {
		e.group.redirect(j)
	}
}

// StopRetries resolves every token waiting out a retry backoff with the outcome
// of its last attempt and returns once no retry timer is still queueing a job.
// Call it when the executors have ended, before draining their mailboxes.
func (g *Group) StopRetries() {
	r := &g.retries
	r.mu.Lock()
	r.stopped = true
	for t, p := range r.pending {
		p.timer.Stop()
		delete(r.pending, t)
		t.Resolve(p.o, p.err)
	}
	r.mu.Unlock()
	r.firing.Wait()
}
