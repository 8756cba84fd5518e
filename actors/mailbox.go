package actors

import (
	"sync"
	"sync/atomic"
)

// PushResult says what became of a push.
type PushResult int

const (
	Pushed     PushResult = iota // queued
	Full                         // the mailbox holds its bound; try another or wait for room
	Closed                       // the mailbox refuses jobs: its runtime is stopping
	Gone                         // the mailbox's executor is down: place the job elsewhere
	NoExecutor                   // (from a router) no executor is live
)

// MaxMailboxSize bounds a mailbox's size: 16 Mi jobs, 256 MiB of queue at
// most per executor.
const MaxMailboxSize = 1 << 24

// maxKeep bounds the slice a drained mailbox keeps for its next batch: twice
// its size, at most this; a burst that grew one past it gives its memory back
// once drained, as nats-server's queue does.
const maxKeep = 1 << 16

// Mailbox is a bounded multi-producer single-consumer queue of jobs. Make one
// with [NewMailbox]; the zero value is not usable.
//
// Producers append under a mutex; the consumer swaps the producers' slice for
// its own empty one and works through that batch without the lock, the shape
// of nats-server's internal queue. A producer signals the consumer's
// capacity-1 wake channel only when the consumer is parked, so a busy executor
// is never signalled and an idle one is woken once per empty-to-non-empty edge.
// The batch is written only under the mutex, so Mailbox.abort and
// Mailbox.steal can read what a consumer stuck in a handler has not run yet;
// the token's own state decides who gets each one (see [Task]).
//
// The bound counts the jobs queued, the rest of the consumer's batch until its
// next refill, and the retries holding a slot (Mailbox.hold); nothing but
// Mailbox.requeue of a job accepted before, a Scheduled runnable, and the
// hold of a handler that handed the consumer's role on (its batch slot was
// given back at the new consumer's refill) goes past it. Slices grow with
// use up to the bound and shrink back once drained; nothing allocates per push
// or pop in steady state.
//
// The consumer is the executor's owner goroutine, attached to the mailbox
// while the executor runs; it may hand the role to another (a replacement, or
// a helper taking over from a handler that blocks) through a happens-before
// edge such as a go statement. [Mailbox.Pop] serves any other caller while no
// executor is attached.
type Mailbox struct {
	// What a push writes, and the count a polling consumer reads, on one
	// cache line: the struct is 192 bytes, a size class the allocator
	// places on line boundaries, so a push from another CPU takes one line
	// from the consumer instead of two (TestMailboxLayout).
	mu      sync.Mutex
	q       []Job
	n       int // held against the bound: len(q), the batch until refill, held
	pushed  uint64
	ready   atomic.Int32 // len(q), or -1 once closed: what a polling consumer reads without the lock
	parked  bool
	closed  bool // refuses pushes
	aborted bool // the consumer stops taking batches
	drained bool // closed and drained: its consumer exited, everything is refused
	gone    bool // retired: refuses every push, even requeues

	// Read by a push, written seldom.
	size   int
	held   int // slots of retries waiting out a backoff
	beside int // handlers that handed the consumer's role on and still run: a drain waits for them
	keep   int // the largest slice capacity kept once drained
	wake   chan struct{}
	room   *Room
	index  int // its executor's: what a Room's waiters fit
	nfront int // jobs pushed to the head (PushFront) at the start of q

	// The consumer's side, but hasFront (set by a PushFront, read at every
	// pop): batch is written under mu, by the consumer only; pos is the
	// consumer's alone.
	hasFront atomic.Bool // nfront > 0: the consumer merges them ahead of its batch
	attached bool        // an executor's owner consumes; written under cmu
	cmu      sync.Mutex  // held by Pop, and to attach or detach the executor
	taken    int         // batch entries no longer counted in n (Abort, Retire) since the last refill
	batch    []Job
	pos      int
	_        [8]byte // to 192 bytes
}

// NewMailbox returns an empty mailbox holding at most size jobs, size
// clamped to 1 to [MaxMailboxSize] (a [GroupConfig] outside that range is an
// error instead). room, which may be nil, is told how many slots a
// refill frees while producers wait in it (see [Room]). Its memory grows
// with use.
func NewMailbox(size int, room *Room) *Mailbox {
	size = min(max(size, 1), MaxMailboxSize)
	return &Mailbox{
		size: size,
		keep: min(2*size, maxKeep),
		wake: make(chan struct{}, 1),
		room: room,
	}
}

// Push appends j unless the mailbox is full, closed or retired.
func (m *Mailbox) Push(j Job) PushResult { return m.add(j, modePush) }

// Requeue appends a job that was accepted before, a token moved from an
// executor that went down or stalled, past the bound and even when the
// mailbox is closed (a draining consumer still runs it); it is not counted in
// Pushed, since it was counted where it was accepted. It refuses an aborted
// mailbox (Closed) and a retired one (Gone). Every requeued job was held
// against some mailbox's bound when accepted, so the jobs queued over a whole
// group never exceed the sum of the bounds.
func (m *Mailbox) requeue(j Job) PushResult { return m.add(j, modeRequeue) }

// Hold keeps a slot for a retry waiting out its backoff, so tokens in backoff
// count against the bound and a draining consumer waits for them. The retry
// ends its hold with requeueHeld or unhold.
func (m *Mailbox) hold() {
	m.mu.Lock()
	m.n++
	m.held++
	m.mu.Unlock()
}

// Unhold gives back a slot kept by Hold for a retry that will not run. A
// consumer parked while draining waited for it: it is woken to find the
// mailbox drained.
func (m *Mailbox) unhold() {
	m.mu.Lock()
	m.n--
	m.held--
	wake := m.wakeDrainedLocked()
	free := m.n < m.size
	m.mu.Unlock()
	if wake {
		m.signal()
	}
	if free && m.room != nil {
		m.room.freed(m, 1)
	}
}

// wakeDrainedLocked reports, under mu, whether the consumer parked while
// draining waited only for what was just given back, and must be woken to
// find the mailbox drained.
func (m *Mailbox) wakeDrainedLocked() bool {
	wake := m.parked && m.closed && m.held == 0 && m.beside == 0
	if wake {
		m.parked = false
	}
	return wake
}

// holdDrain counts a handler that handed the consumer's role on and goes on
// running beside it: it may still queue work here (its token's retry, its
// actor's next turn), so a draining consumer waits for it, as for a held
// retry. It is not counted against the bound. releaseDrain ends it.
func (m *Mailbox) holdDrain() {
	m.mu.Lock()
	m.beside++
	m.mu.Unlock()
}

// releaseDrain ends a holdDrain once the handler has finished.
func (m *Mailbox) releaseDrain() {
	m.mu.Lock()
	m.beside--
	wake := m.wakeDrainedLocked()
	m.mu.Unlock()
	if wake {
		m.signal()
	}
}

// Retry queues a retried job in the slot it held, past the close like
// Requeue. A retired or aborted mailbox refuses it (Gone, Closed) and the slot
// is given back.
func (m *Mailbox) requeueHeld(j Job) PushResult { return m.add(j, modeRetry) }

type addMode int

const (
	modePush     addMode = iota
	modeRequeue          // past the bound and the close, not counted
	modeRetry            // requeue into a held slot
	modeSchedule         // a Scheduled runnable: as requeue
	modeFront            // as push, at the head (see front.go)
)

func (m *Mailbox) add(j Job, mode addMode) PushResult {
	m.mu.Lock()
	if mode == modeRetry {
		m.held--
		m.n--
	}
	bounded := mode == modePush || mode == modeFront
	switch {
	case m.gone:
		m.mu.Unlock()
		return Gone
	case m.aborted || m.drained || (m.closed && bounded):
		m.mu.Unlock()
		return Closed
	case bounded && m.n >= m.size:
		m.mu.Unlock()
		return Full
	}
	if mode == modeFront {
		m.insertFront(j)
	} else {
		m.q = append(m.q, j)
	}
	m.setReady()
	m.n++
	if bounded {
		m.pushed++
	}
	wake := m.parked
	m.parked = false
	m.mu.Unlock()
	if wake {
		m.signal()
	}
	return Pushed
}

// pushAll appends as many of js as the bound lets in, under one lock and
// with one wake-up, as Push would each in turn, and returns how many it
// took; res says why it took fewer (Full, Closed or Gone).
func (m *Mailbox) pushAll(js []Job) (n int, res PushResult) {
	if len(js) == 0 {
		return 0, Pushed
	}
	m.mu.Lock()
	switch {
	case m.gone:
		m.mu.Unlock()
		return 0, Gone
	case m.aborted || m.drained || m.closed:
		m.mu.Unlock()
		return 0, Closed
	}
	n = min(len(js), m.size-m.n)
	if n <= 0 {
		m.mu.Unlock()
		return 0, Full
	}
	m.q = append(m.q, js[:n]...)
	m.setReady()
	m.n += n
	m.pushed += uint64(n)
	wake := m.parked
	m.parked = false
	m.mu.Unlock()
	if wake {
		m.signal()
	}
	if n < len(js) {
		return n, Full
	}
	return n, Pushed
}

func (m *Mailbox) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Pop returns the next job, taking a new batch when the current one is used
// up; false when the mailbox is empty or aborted, or while an executor
// consumes it (only it may then). Callers are served one at a time.
func (m *Mailbox) Pop() (Job, bool) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.attached {
		return nil, false
	}
	return m.pop()
}

// attach makes the executor's owner the consumer; detach ends it.
func (m *Mailbox) attach(on bool) {
	m.cmu.Lock()
	m.attached = on
	m.cmu.Unlock()
}

// pending reports, for the attached consumer, whether a pop may find a job
// without waiting (its batch, or a push since; once closed, it says to look).
func (m *Mailbox) pending() bool { return m.pos < len(m.batch) || m.ready.Load() != 0 }

// spent reports, for the attached consumer, whether it worked through its
// batch, whose slots a refill would give back.
func (m *Mailbox) spent() bool { return len(m.batch) > 0 && m.pos >= len(m.batch) }

// pop is Pop for the attached consumer.
func (m *Mailbox) pop() (Job, bool) {
	if m.hasFront.Load() {
		m.mergeFront()
	}
	if m.pos < len(m.batch) {
		j := m.batch[m.pos]
		m.pos++
		return j, true
	}
	return m.refill()
}

func (m *Mailbox) refill() (Job, bool) {
	m.mu.Lock()
	free := m.releaseLocked()
	var j Job
	ok := !m.aborted && len(m.q) > 0
	if ok {
		m.clearFront() // they lead q, and so the batch
		m.batch, m.q = m.q, m.batch
		m.setReady()
		j = m.batch[0]
	}
	m.pos = 1
	m.mu.Unlock()
	if free > 0 && m.room != nil {
		m.room.freed(m, free)
	}
	return j, ok
}

// releaseLocked gives the consumer's spent batch back, empty, and returns
// how many slots that freed under the bound.
func (m *Mailbox) releaseLocked() int {
	consumed := len(m.batch) - m.taken
	m.n -= consumed
	m.taken = 0
	clear(m.batch)
	spent := m.batch[:0]
	if cap(spent) > m.keep {
		spent = nil
	}
	m.batch, m.pos = spent, 0
	return min(consumed, m.size-m.n) // a requeue past the bound may hold some
}

// quiet reports, for the attached consumer, whether nothing is queued for
// it. A spent batch's slots are given back first: producers may be
// waiting for them, and a consumer that goes on with what it runs would
// hold them meanwhile.
func (m *Mailbox) quiet() bool {
	if m.pending() || m.hasFront.Load() {
		return false
	}
	if !m.spent() {
		return true
	}
	m.mu.Lock()
	if len(m.q) > 0 || m.aborted {
		m.mu.Unlock()
		return false
	}
	free := m.releaseLocked()
	m.mu.Unlock()
	if free > 0 && m.room != nil {
		m.room.freed(m, free)
	}
	return true
}

// hasRoom reports whether a push would find room now.
func (m *Mailbox) hasRoom() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n < m.size && !m.closed && !m.gone && !m.aborted && !m.drained
}

// setReady publishes, under mu, what a polling consumer reads: the queued
// count, or -1 once closed so that it stops polling and finds out why.
func (m *Mailbox) setReady() {
	if m.closed {
		m.ready.Store(-1)
	} else {
		m.ready.Store(int32(len(m.q)))
	}
}

// hasWork reports whether a push is queued or the consumer should look at
// its mailbox for another reason (closed or aborted), without the lock: a
// poller's look.
func (m *Mailbox) hasWork() bool { return m.ready.Load() != 0 }

// ParkState is what a consumer found when it looked for work.
type ParkState int

const (
	Ready   ParkState = iota // jobs are queued: pop again
	Parked                   // nothing queued: wait for the wake signal, then look again
	Drained                  // closed, empty and no retry held: the consumer may exit
	Aborted                  // aborted: the consumer must exit now
)

// park is called by the consumer after pop returned false. When it returns
// Parked the next push will signal wake.
func (m *Mailbox) park() ParkState {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.aborted:
		return Aborted
	case len(m.q) > 0:
		return Ready
	case m.closed && m.held == 0 && m.beside == 0:
		m.drained = true // its consumer exits: nothing may be queued behind it
		return Drained
	}
	m.parked = true
	return Parked
}

// Close refuses further pushes; the consumer drains what is queued (and the
// retries held), then finds it Drained.
func (m *Mailbox) Close() {
	m.mu.Lock()
	m.closed = true
	m.setReady()
	m.mu.Unlock()
	m.signal()
}

// Abort closes the mailbox, makes the consumer stop at its next refill, and
// returns every job queued or left in the consumer's batch, in order, for the
// caller to resolve; a job the consumer runs meanwhile is resolved by it
// instead (the token's state decides). It is safe while a consumer runs.
func (m *Mailbox) abort() []Job {
	m.mu.Lock()
	m.closed, m.aborted = true, true
	jobs := m.takeAllLocked()
	m.setReady()
	m.mu.Unlock()
	m.signal()
	return jobs
}

// Retire makes every later push, requeue and retry return Gone and returns
// the jobs queued or left in the batch, in order. Call it once the consumer
// ended: a consumer that takes over later (see [Mailbox.Reopen]) starts
// afresh.
func (m *Mailbox) retire() []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone, m.closed = true, true
	m.batch = m.batch[min(m.pos, len(m.batch)):] // the consumer ended: what it reached ran
	m.pos = 0
	jobs := m.takeAllLocked()
	m.pos = len(m.batch)
	return jobs
}

// Reopen undoes Retire for an executor that comes back into service.
func (m *Mailbox) Reopen() {
	m.mu.Lock()
	m.gone, m.closed = false, false
	m.setReady()
	m.mu.Unlock()
}

// Steal returns the jobs for which movable is true, in order: those queued
// are taken out, those left in the consumer's batch are returned too and
// stay there, for the token's state to decide who runs them. The others stay
// queued in order. It is safe while a consumer runs: that is its point,
// moving work off a consumer stuck in a handler.
func (m *Mailbox) steal(movable func(Job) bool) []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for _, j := range m.batch {
		if movable(j) {
			out = append(out, j)
		}
	}
	stay, front := m.q[:0], m.nfront
	for i, j := range m.q {
		if movable(j) {
			out = append(out, j)
			if i < front {
				m.nfront-- // a head job taken: the next ones are not head jobs
			}
		} else {
			stay = append(stay, j)
		}
	}
	clear(m.q[len(stay):])
	m.n -= len(m.q) - len(stay)
	m.q = stay
	m.setReady()
	return out
}

// takeAllLocked takes the queue and returns it after the consumer's batch.
// Nothing but retries holding a slot is counted against the bound afterwards.
func (m *Mailbox) takeAllLocked() []Job {
	jobs := append(append([]Job(nil), m.batch...), m.q...)
	clear(m.q)
	m.q = nil
	m.setReady()
	m.taken, m.n = len(m.batch), m.held
	return jobs
}

// Len returns the number of jobs held against the bound: queued, left in the
// consumer's batch until its next refill, and retries holding a slot.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// counts returns Pushed and Len under one lock.
func (m *Mailbox) counts() (pushed uint64, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushed, m.n
}
