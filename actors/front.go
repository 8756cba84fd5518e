package actors

import "slices"

// PushFront queues j at the head of the executor's mailbox, ahead of every
// job queued there, the rest of the batch the executor is working through
// included; jobs pushed to the head later go ahead of it (last in, first
// out, as fastthreadpool's submit_first). The bound, the close and the
// counts are those of [Executor.Push].
func (e *Executor) PushFront(j Job) PushResult {
	j.Task().exec = e
	return e.mb.pushFront(j)
}

func (m *Mailbox) pushFront(j Job) PushResult { return m.add(j, modeFront) }

// insertFront puts j at the head of q; the caller holds mu.
func (m *Mailbox) insertFront(j Job) {
	m.q = slices.Insert(m.q, 0, j)
	m.nfront++
	m.hasFront.Store(true)
}

// mergeFront is called by the consumer when jobs were pushed to the head: the
// next batch is those jobs, then what is left of the current batch, then the
// rest of the queue. It allocates; pushes to the head are rare.
func (m *Mailbox) mergeFront() {
	m.mu.Lock()
	// A steal may have taken some of them: the count is an upper bound.
	nf := min(m.nfront, len(m.q))
	if m.aborted || nf == 0 {
		m.clearFront()
		m.mu.Unlock()
		return
	}
	rest := m.batch[min(m.pos, len(m.batch)):]
	merged := make([]Job, 0, len(m.q)+len(rest))
	merged = append(append(append(merged, m.q[:nf]...), rest...), m.q[nf:]...)
	consumed := len(m.batch) - len(rest) - m.taken
	m.n -= consumed
	m.taken = 0
	clear(m.q)
	m.q = m.q[:0]
	m.setReady()
	clear(m.batch)
	m.batch, m.pos = merged, 0
	m.clearFront()
	free := min(consumed, m.size-m.n)
	m.mu.Unlock()
	if free > 0 && m.room != nil {
		m.room.freed(m, free)
	}
}

// clearFront forgets the jobs pushed to the head; the caller holds mu.
func (m *Mailbox) clearFront() {
	if m.nfront > 0 || m.hasFront.Load() {
		m.nfront = 0
		m.hasFront.Store(false)
	}
}
