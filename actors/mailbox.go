package actors

import (
	"sync"
	"sync/atomic"
)

// PushResult says what became of a push.
type PushResult int

const (
	Pushed     PushResult = iota
	Full                  // the mailbox holds Size tokens; try another or wait for room
	Closed                // the mailbox refuses tokens: its runtime is stopping
	Gone                  // the mailbox's executor is down: place the token elsewhere
	NoExecutor            // (from a router) every executor is down
)

// Mailbox is a bounded multi-producer single-consumer queue of jobs.
//
// Producers append under a mutex to a slice allocated once; the consumer swaps
// that slice for its own empty one and runs the whole batch without the lock, the
// shape of nats-server's internal queue. A producer signals the consumer's
// capacity-1 wake channel only when the consumer is parked, so a busy executor is
// never signalled and an idle one is woken once per empty-to-non-empty edge.
//
// Size bounds the tokens queued, counting the consumer's batch until the next
// refill, so at most Size jobs wait at any time. Nothing allocates per push or pop
// once the two slices exist.
//
// Consumer methods (Pop, Park, TakeAll) must be called by one goroutine at a time;
// a replacement consumer may take over after the previous one ended.
type Mailbox struct {
	mu      sync.Mutex
	q       []Job // producer side, len(q) <= size
	n       int   // queued: len(q) plus the consumer's batch until it refills
	size    int
	parked  bool
	closed  bool // refuses pushes
	aborted bool // the consumer stops taking batches
	gone    bool // retired: refuses every push, even requeues
	pushed  uint64
	wake    chan struct{}
	room    *Room

	// consumer side
	batch []Job
	pos   int
}

// NewMailbox returns an empty mailbox holding at most size jobs. room, which may be
// nil, is notified whenever a refill frees space while producers wait for it.
func NewMailbox(size int, room *Room) *Mailbox {
	return &Mailbox{
		q:     make([]Job, 0, size),
		batch: make([]Job, 0, size),
		size:  size,
		wake:  make(chan struct{}, 1),
		room:  room,
	}
}

// Push appends j unless the mailbox is full, closed or retired.
func (m *Mailbox) Push(j Job) PushResult { return m.add(j, push) }

// PushOver is Push past the size bound. It is for submitters that must not wait
// for room: an executor's own goroutine (a handler submitting), which would
// otherwise wait on a mailbox only executors drain.
func (m *Mailbox) PushOver(j Job) PushResult { return m.add(j, pushOver) }

// Requeue appends a job that was accepted before (a retry, or a token moved
// from an executor that went down) past the size bound and even when the
// mailbox is closed, so an accepted token is never refused for room; it is not
// counted in Pushed, since it was counted where it was accepted. It refuses
// only a retired mailbox. Whoever drains a closed mailbox after its consumer
// ended ([Mailbox.TakeAll]) still finds the job.
func (m *Mailbox) Requeue(j Job) PushResult { return m.add(j, requeue) }

type addMode int

const (
	push     addMode = iota
	pushOver         // past the bound
	requeue          // past the bound and the close, not counted
)

func (m *Mailbox) add(j Job, mode addMode) PushResult {
	m.mu.Lock()
	switch {
	case m.gone:
		m.mu.Unlock()
		return Gone
	case mode == requeue:
	case m.closed:
		m.mu.Unlock()
		return Closed
	case m.n >= m.size && mode == push:
		m.mu.Unlock()
		return Full
	}
	m.q = append(m.q, j)
	m.n++
	if mode != requeue {
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

func (m *Mailbox) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Pop returns the next job, taking a new batch when the current one is used up.
// It returns false when the mailbox is empty or aborted.
func (m *Mailbox) Pop() (Job, bool) {
	if m.pos < len(m.batch) {
		j := m.batch[m.pos]
		m.batch[m.pos] = nil
		m.pos++
		return j, true
	}
	return m.refill()
}

func (m *Mailbox) refill() (Job, bool) {
	m.mu.Lock()
	freed := len(m.batch) > 0
	m.n -= len(m.batch)
	m.batch, m.pos = m.batch[:0], 0
	empty := m.aborted || len(m.q) == 0
	if !empty {
		m.batch, m.q = m.q, m.batch
	}
	m.mu.Unlock()
	if freed && m.room != nil {
		m.room.notify()
	}
	if empty {
		return nil, false
	}
	j := m.batch[0]
	m.batch[0] = nil
	m.pos = 1
	return j, true
}

// spinRounds bounds how long an idle consumer polls before it parks.
const spinRounds = 32

// spin polls for a push for a short while before the consumer parks: waking a
// parked locked thread costs the producer a futex call and the consumer microseconds.
func (m *Mailbox) spin() bool {
	for range spinRounds {
		if m.mu.TryLock() {
			n := len(m.q)
			m.mu.Unlock()
			if n > 0 {
				return true
			}
		}
	}
	return false
}

// ParkState is what Park found.
type ParkState int

const (
	Ready   ParkState = iota // jobs are queued: Pop again
	Parked                   // nothing queued: wait on Wake, then Park again
	Drained                  // closed and empty: the consumer may exit
	Aborted                  // aborted: the consumer must exit now
)

// Park is called by the consumer after Pop returned false. When it returns Parked
// the next Push will signal Wake.
func (m *Mailbox) Park() ParkState {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.aborted:
		return Aborted
	case len(m.q) > 0:
		return Ready
	case m.closed:
		return Drained
	}
	m.parked = true
	return Parked
}

// Wake returns the channel a parked consumer waits on.
func (m *Mailbox) Wake() <-chan struct{} { return m.wake }

// Close refuses further pushes; the consumer drains what is queued, then Park
// says Drained.
func (m *Mailbox) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.signal()
}

// Abort closes the mailbox and makes the consumer stop at its next batch.
func (m *Mailbox) Abort() {
	m.mu.Lock()
	m.closed, m.aborted = true, true
	m.mu.Unlock()
	m.signal()
}

// TakeAll removes and returns every job not yet popped, in order. Only call it
// when no consumer is running.
func (m *Mailbox) TakeAll() []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeAllLocked()
}

// Retire makes every later push and requeue return Gone and returns
// the jobs still queued, in order. Only call it when no consumer is running.
func (m *Mailbox) Retire() []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone, m.closed = true, true
	return m.takeAllLocked()
}

func (m *Mailbox) takeAllLocked() []Job {
	jobs := append(append([]Job(nil), m.batch[m.pos:]...), m.q...)
	clear(m.batch)
	clear(m.q)
	m.batch, m.q, m.pos, m.n = m.batch[:0], m.q[:0], 0, 0
	return jobs
}

// Len returns the number of queued jobs (the batch in progress counts until the
// consumer's next refill).
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Pushed returns how many jobs were ever pushed.
func (m *Mailbox) Pushed() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushed
}

// Room lets producers that found every mailbox full wait for space without
// polling. Waiting allocates a channel; the push path never touches it unless
// someone waits.
type Room struct {
	waiters atomic.Int32
	ch      atomic.Pointer[chan struct{}]
}

// NewRoom returns a Room with no waiters.
func NewRoom() *Room {
	r := &Room{}
	c := make(chan struct{})
	r.ch.Store(&c)
	return r
}

// Wait registers the caller as a waiter and returns the channel to wait on;
// call Leave when done waiting. Retry the push after Wait and before blocking on
// the channel, so a refill between the failed push and Wait is not missed.
func (r *Room) Wait() <-chan struct{} {
	r.waiters.Add(1)
	return *r.ch.Load()
}

// Leave ends one Wait.
func (r *Room) Leave() { r.waiters.Add(-1) }

func (r *Room) notify() {
	if r.waiters.Load() > 0 {
		r.Notify()
	}
}

// Notify wakes every current waiter.
func (r *Room) Notify() {
	c := make(chan struct{})
	close(*r.ch.Swap(&c))
}
