package actors

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate/internal/faults"
)

// An idle executor first polls its mailbox for a while, yielding its CPU to
// any other thread between looks, and only then parks: waking a parked
// locked thread costs the producer a scheduler hand-off and the consumer
// tens of microseconds on a virtual machine (see docs/design.md, Executors:
// "idle executors poll before they park", and the README's Idle
// executors). This is Seastar's reactor poll and Aeron's backoff idle
// strategy. A poller gives its P up as soon as the program's goroutines wait
// for one (see Executor.idle), GroupConfig.Spinners may bound the pollers,
// and the router prefers an executor that polls to one that sleeps.

// Idle states of an executor, for the router's preference.
const (
	idleBusy     uint32 = iota // running tokens, or between them
	idleSpinning               // awake, polling its mailbox
	idleParked                 // asleep until a push wakes it
)

// DefaultIdleSpin is how long an idle executor polls before it parks when
// the root package's Config.IdleSpin is 0. A [GroupConfig.IdleSpin] of 0
// means no polling: the root package fills in this default before it makes
// the group.
const DefaultIdleSpin = 100 * time.Microsecond

// MaxIdleSpin bounds [GroupConfig.IdleSpin].
const MaxIdleSpin = 10 * time.Millisecond

// awaitSpin bounds how long [Task.Await] polls a token before it blocks, for
// a caller that owns no executor: a tiny token often ends sooner than a
// blocked goroutine would be woken.
const awaitSpin = 5 * time.Microsecond

// A poller reads the clock every pollEvery looks and, past its first
// phase, looks at the program's demand for Ps and yields its CPU every
// yieldEvery reads: sched_yield costs about half a microsecond on a VM, so
// yielding often would slow the poller's reaction; a pinned poller shares
// its CPU only with threads the OS lets preempt it anyway.
const (
	pollEvery  = 64
	yieldEvery = 8
)

// 1/spinShare of an idle spin only spins (Aeron's backoff:
// spin, then yield, then park): a reply in a conversation between executors
// comes within a few microseconds, and neither a yield nor a P handed to a
// goroutine that was waiting a moment should stand in its way.
const spinShare = 5

// poll calls ready until it reports true, for up to d; it reports whether it
// did. For its first spin it only looks; after that it asks giveUp
// (may be nil) and yields its CPU every yieldEvery reads, and ends when
// giveUp says so. A clock that stands still (in a testing/synctest bubble,
// while nothing blocks) ends it too.
func poll(d, spin time.Duration, ready func() bool, giveUp func() bool) bool {
	if d <= 0 {
		return ready()
	}
	var start time.Time
	for r := 0; ; r++ {
		for range pollEvery {
			if ready() {
				return true
			}
		}
		if r == 0 {
			start = time.Now()
			continue
		}
		elapsed := time.Since(start)
		if elapsed >= d || (elapsed == 0 && r >= 1000) {
			return false
		}
		if r%yieldEvery == 0 && elapsed >= spin {
			if giveUp != nil && giveUp() {
				return false
			}
			osYield()
		}
	}
}

// runnableGoroutines reads into s how many goroutines wait for a P. It takes
// the scheduler's lock: pollers read it through their group's waitingGauge.
// s is the caller's, kept between readings: a sample made for each reading
// escapes to the heap, and pollers read every few microseconds.
func runnableGoroutines(s *[1]metrics.Sample) uint64 {
	s[0].Name = "/sched/goroutines/runnable:goroutines"
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// waitingGauge shares one reading of the runnable-goroutine count among a
// group's pollers for a few microseconds: the reading takes the scheduler's
// lock, and sixteen pollers reading it on their own would take it millions
// of times a second.
type waitingGauge struct {
	n       atomic.Uint64
	at      atomic.Int64 // when n was read, in time.Since(gaugeEpoch) nanoseconds
	reading atomic.Bool
	sample  [1]metrics.Sample // the reading's, used by the poller that set reading
	gave    atomic.Int64      // when a poller last gave its P up, as at
}

// giveGap is how long one poller's P serves the goroutines that waited:
// the others go on polling meanwhile, so one waiting goroutine does not make
// every poller park.
const giveGap = 10 * time.Microsecond

// yield reports whether the calling poller should give its P up: no other
// poller has in the last giveGap. It takes the turn when it does.
func (w *waitingGauge) yield() bool {
	now := int64(time.Since(gaugeEpoch))
	last := w.gave.Load()
	return now-last > int64(giveGap) && w.gave.CompareAndSwap(last, now)
}

// demand tells a poller whether goroutines waited for a P at two readings
// of its group's gauge in a row: one reading is not enough (a goroutine
// readied while another P is idle is usually taken by that P within
// microseconds), and two looks within gaugeFresh see the same reading.
type demand struct {
	gauge  *waitingGauge
	waited bool  // at the last reading
	last   int64 // when the last reading was taken
}

func (d *demand) sustained() bool {
	n, at := d.gauge.read()
	if at == d.last {
		return false
	}
	d.last = at
	waiting := n > 0
	both := waiting && d.waited
	d.waited = waiting
	return both
}

// gaugeFresh is how long one reading serves.
const gaugeFresh = 2 * time.Microsecond

var gaugeEpoch = time.Now()

// read returns a reading at most gaugeFresh old, taking a new one when none
// is and no other poller is taking it.
//
// It also returns when the reading was taken, so a poller can tell a new
// reading from the one it saw last. (In a testing/synctest bubble the clock
// stands before gaugeEpoch, so no reading is taken there and pollers never
// give their P up: they end when the clock does not move.)
func (w *waitingGauge) read() (n uint64, at int64) {
	now := int64(time.Since(gaugeEpoch))
	if now-w.at.Load() > int64(gaugeFresh) && w.reading.CompareAndSwap(false, true) {
		w.n.Store(runnableGoroutines(&w.sample))
		w.at.Store(now)
		w.reading.Store(false)
	}
	return w.n.Load(), w.at.Load()
}

// spinners counts a group's polling executors against its bound.
type spinners struct {
	n   atomic.Int32
	max int32
}

// enter reports whether one more executor may poll; leave ends a poll that
// entered.
func (s *spinners) enter() bool {
	// A compare-and-swap, not an add taken back when over: the count never
	// reads more than max (TestIdleExecutorsPollWithinBound reads it), and
	// a refused poll writes nothing.
	for {
		n := s.n.Load()
		if n >= s.max {
			return false
		}
		if s.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *spinners) leave() { s.n.Add(-1) }

// idle is what the executor's owner does when its mailbox is empty: poll
// (while GroupConfig.Spinners allows one more poller), then park. It returns false when
// the owner must exit (drained or aborted).
//
// A poller keeps its P, and every P may be needed: a goroutine the owner
// woke (a Wait on a token that ended, a producer waiting for room) is queued
// on the owner's own P, and a program's goroutines need Ps to run at all
// when every P is held by an executor. So past its spin-only phase (at once
// when the owner just woke a waiter) a poller gives its P up when goroutines
// wait for one at two readings in a row (runtime/metrics' runnable count, read
// as often as it yields, through the group's shared gauge; one poller per
// giveGap), and polls on when the scheduler runs it again. One look is not
// enough: a goroutine readied while another P is idle is usually taken by
// that P within microseconds.
func (e *Executor) idle() bool {
	e.trimDue(nanotime)
	g := e.group
	first := g.spin / spinShare
	if e.woke { // the woken goroutine waits on this P: look for demand at once
		e.woke, first = false, 0
	}
	if g.spin > 0 && g.spinners.enter() {
		d := demand{gauge: &g.waiting, last: -1}
		gave := false
		giveUp := func() bool {
			gave = d.sustained() && g.waiting.yield()
			return gave
		}
		for left := g.spin; left > 0; first = 0 {
			e.claims.Store(0)
			e.idleState.Store(idleSpinning)
			start := time.Now()
			if poll(left, first, e.mb.hasWork, giveUp) || !gave {
				break
			}
			// Goroutines wait for this P: let them have it, and go on
			// polling once the scheduler runs this goroutine again, for
			// what is left of the spin (time off the P does not count).
			left -= time.Since(start)
			d.waited, gave = false, false
			e.idleState.Store(idleParked)
			runtime.Gosched()
		}
		e.idleState.Store(idleBusy)
		g.spinners.leave()
		if e.mb.ready.Load() > 0 {
			return true
		}
	}
	e.trimListed(true) // nothing to do for a while: idle cells give a burst's memory back
	e.claims.Store(0)
	e.idleState.Store(idleParked)
	defer e.idleState.Store(idleBusy)
	switch e.mb.park() { // closed, aborted or empty: park tells which
	case Parked:
		<-e.mb.wake
	case Drained:
		faults.Drained(e.index)
		return false
	case Aborted:
		return false
	}
	return true
}

// Awake reports whether the executor is polling its mailbox: idle, but a push
// starts at once without waking a thread.
func (e *Executor) Awake() bool { return e.idleState.Load() == idleSpinning }

// Claim takes the executor for one push in place of a parked one, and
// reports whether it did.
//
// A polling executor takes a token, and from then on no longer counts as
// awake, so that a burst is not all sent to one poller before it has
// noticed the first push (it may be off its CPU meanwhile).
//
// A token of a cheap op ([Op.Cheap]) may also go to a running executor,
// and a polling one stays claimable for it: up to claimMax of them between
// two of the executor's idle spells. A few tiny tokens run sooner queued
// behind each other than on a thread woken for them (tens of microseconds
// on a VM), so a small fan-out never waits for a wake-up; a long burst
// still spreads, since the ninth goes where staggering sends it. Not
// behind a token that is not known to be cheap (the last one the executor
// started since it was idle: its op not cheap, or never timed, as when that
// token is its op's first or runs until its context ends) or an actor's
// turn (which may run long), and not in a group that does not poll: there
// an executor that keeps up with a burst parks between its tokens and
// would take all of them, every push meeting the consumer's cache lines.
func (e *Executor) Claim(cheap bool) bool {
	switch e.idleState.Load() {
	case idleSpinning:
		if !cheap {
			return e.idleState.CompareAndSwap(idleSpinning, idleBusy)
		}
	case idleBusy:
		if !cheap || e.group.spin <= 0 || e.owner.Load() == nil {
			return false
		}
		if op := e.runningOp.Load(); op != nil && !op.timedCheap() {
			return false // not behind a token that may run long, or whose op was never timed
		}
	default:
		return false
	}
	return e.claims.Add(1) <= claimMax
}

// claimMax bounds the cheap tokens sent to one executor in place of parked
// ones between two of its idle spells (see Claim).
const claimMax = 8

// Asleep reports whether the executor is parked: a push to it wakes a thread.
func (e *Executor) Asleep() bool { return e.idleState.Load() == idleParked }

// wokeWaiter notes, when called by e's owner, that it woke a goroutine (the
// waiter of a token it resolved, a sender waiting for room in an actor's
// mailbox): Go queued it on the owner's P, which the owner's next poll
// should give up soon rather than spin on.
func (e *Executor) wokeWaiter() {
	if e.Runs() {
		e.woke = true
	}
}

// lingerFor bounds how long a turn whose actor ran dry waits for its next
// envelope: a stream's messages come within a microsecond or two of each
// other, and a reply from another executor within a few.
const lingerFor = 2 * time.Microsecond

// mayLinger reports whether a turn whose runnable ran dry may linger (see
// linger): polling is on, nothing else is queued on the executor, it woke
// no goroutine that waits for its P, and the caller is its owner.
func (e *Executor) mayLinger() bool {
	if e.group.spin <= 0 {
		return false
	}
	return e.Runs() && !e.woke && e.localPos == len(e.local)
}

// linger, for a turn that mayLinger, polls more as well as the executor's
// mailbox for up to lingerFor. A stream of messages to one actor is then
// taken by the turn that is already running, instead of the turn ending and
// being scheduled again through the mailbox for each message, the sender
// and the turn contending for the actor's lock every time.
func (e *Executor) linger(more func() bool) {
	e.lingers++
	poll(min(e.group.spin, lingerFor), lingerFor, func() bool { return more() || e.mb.hasWork() }, nil)
}

// gatherMin and gatherMax bound how long a turn that keeps up with a
// stream lets its next batch gather (see Cell.refill); the envelope that
// came first waits that long. In the counting benchmark (one sender
// telling one actor) 1 µs took a run from about 20 M to 26 M messages a
// second, and 3 µs to 29 M, in a quiet phase of the VM; in a slow one
// (cross-CPU round trip 500 ns) 2, 8 and 32 µs gave 10.5, 12.3 and 14.2 M:
// every take moves the lock's and the queue's lines between the CPUs, and
// a larger batch pays that for more envelopes. gatherBatch is the batch a
// cell's gather aims at (see Cell.gatherTime).
const (
	gatherMin   = 2 * time.Microsecond
	gatherMax   = 32 * time.Microsecond
	gatherBatch = 4 * Throughput
)

// gather, for a turn that mayLinger, spins for d while the executor's
// mailbox is empty, without looking at the stream: a turn that reads the
// cell's fields a sender writes takes their cache line from it.
func (e *Executor) gather(d time.Duration) {
	e.gathers++
	poll(d, d, e.mb.hasWork, nil)
}

// roomSpin bounds how long a sender that found a mailbox full polls for room
// before it blocks.
const roomSpin = 50 * time.Microsecond

// SpinRoom lets a caller that is not a handler (of any group) poll ch, on
// which a consumer that frees room sends (a [Waiter]'s) or which it closes
// (an actor's cell's), for up to roomSpin (IdleSpin when shorter) before the
// caller blocks on it, and reports whether a value came (it was received)
// or ch closed meanwhile.
// A sender that parks instead is woken onto the consumer's own P, which the
// consumer holds while it works through the batch it just took, and waits
// for another P to steal it: a full mailbox then runs stop-and-go, a thread
// wake-up per batch. Like an idle poller it yields its CPU between looks and
// stops early when goroutines wait for a P at two readings in a row.
func (g *Group) SpinRoom(ch <-chan struct{}) bool {
	if g.spin <= 0 || inAnyHandler() {
		return false // a handler hands its executor on and blocks instead
	}
	closed := func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	d := demand{gauge: &g.waiting, last: -1}
	return poll(min(g.spin, roomSpin), 0, closed, d.sustained)
}
