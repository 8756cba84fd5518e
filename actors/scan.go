package actors

// Op returns what t runs, as given to [Task.Init].
func (t *Task) Op() *Op { return t.op }

// QueuedOf returns the jobs of tokens of op that wait to run in g: queued on
// an executor (in its mailbox, or in the rest of the batch it works through)
// and, when retrying is true, waiting out a retry backoff. They may start or
// resolve as soon as it returns; resolving or parking one that did not is
// the caller's business (a token in a backoff is not parked: its timer
// queues it). Each is found at its current entry, in queue order, never at
// a stale one that a token queued again (a Resume) left behind. except,
// when not nil, leaves out the queued jobs for which it is true; it is
// called under a mailbox's lock, and must not call into the group.
func (g *Group) QueuedOf(op *Op, retrying bool, except func(Job) bool) []Job {
	var js []Job
	// A batch keeps the entries its executor already took, and one of
	// those waiting out a backoff reads as queued: the retries are left
	// out of the scan unless asked for.
	g.retries.mu.Lock()
	var skip map[*Task]bool
	if !retrying && len(g.retries.pending) > 0 {
		skip = make(map[*Task]bool, len(g.retries.pending))
		for t := range g.retries.pending {
			skip[t] = true
		}
	}
	for t, p := range g.retries.pending {
		if retrying && t.op == op && t.Queued() {
			js = append(js, p.job)
		}
	}
	g.retries.mu.Unlock()
	keep := func(j Job) {
		// Not a stale entry (its token queued again elsewhere since):
		// parked there, it would be held ahead of its place.
		if t := j.Task(); t != nil && t.op == op && t.Queued() && t.Current(j) && !skip[t] && (except == nil || !except(j)) {
			js = append(js, j)
		}
	}
	for _, e := range g.execs {
		e.mb.each(keep)
	}
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
