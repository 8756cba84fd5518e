package actors

// Op returns what t runs, as given to [Task.Init].
func (t *Task) Op() *Op { return t.op }

// QueuedOf returns the jobs of tokens of op that wait to run in g: queued on
// an executor (in its mailbox, or in the rest of the batch it works through)
// or waiting out a retry backoff. They may start or resolve as soon as it
// returns; resolving or parking one that did not is the caller's business.
func (g *Group) QueuedOf(op *Op) []Job {
	var js []Job
	keep := func(j Job) {
		if t := j.Task(); t != nil && t.op == op && t.Queued() {
			js = append(js, j)
		}
	}
	for _, e := range g.execs {
		e.mb.each(keep)
	}
	g.retries.mu.Lock()
	for _, p := range g.retries.pending {
		keep(p.job)
	}
	g.retries.mu.Unlock()
	return js
}

// each calls f for every job in the batch and the queue, under the lock; f
// must not call into the mailbox.
func (m *Mailbox) each(f func(Job)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.batch {
		f(j)
	}
	for _, j := range m.q {
		f(j)
	}
}
