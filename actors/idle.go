package actors

import (
	"sync/atomic"
	"time"
)

// An idle executor first polls its mailbox for a while, yielding its CPU to
// any other thread between looks, and only then parks: waking a parked
// locked thread costs the producer a scheduler hand-off and the consumer
// tens of microseconds on a virtual machine (see docs/design.md, Idle
// executors). This is Seastar's reactor poll and Aeron's backoff idle
// strategy. At most a few executors poll at once, so the CPUs are not all
// taken by pollers while user goroutines need them, and the router prefers
// an executor that polls to one that sleeps.

// Idle states of an executor, for the router's preference.
const (
	idleBusy     uint32 = iota // running tokens, or between them
	idleSpinning               // awake, polling its mailbox
	idleParked                 // asleep until a push wakes it
)

// DefaultIdleSpin is how long an idle executor polls before it parks when
// [GroupConfig.IdleSpin] is 0.
const DefaultIdleSpin = 100 * time.Microsecond

// MaxIdleSpin bounds [GroupConfig.IdleSpin].
const MaxIdleSpin = 10 * time.Millisecond

// wokeGrace bounds how long an owner that woke a goroutine waits for
// another P to take it before it parks to give it its own.
const wokeGrace = 20 * time.Microsecond

// awaitSpin bounds how long [Task.Await] polls a token before it blocks, for
// a caller that is not a handler: a tiny token often ends sooner than a
// blocked goroutine would be woken.
const awaitSpin = 5 * time.Microsecond

// A poller reads the clock every pollEvery looks and yields its CPU every
// yieldEvery reads: sched_yield costs about half a microsecond on a VM, so
// yielding often would slow the poller's reaction; a pinned poller shares
// its CPU only with threads the OS lets preempt it anyway.
const (
	pollEvery  = 64
	yieldEvery = 8
)

// poll calls ready until it reports true, for up to d; it reports whether it
// did. A clock that stands still (in a testing/synctest bubble, while
// nothing blocks) ends it too.
func poll(d time.Duration, ready func() bool) bool {
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
		if elapsed := time.Since(start); elapsed >= d || (elapsed == 0 && r >= 1000) {
			return false
		}
		if r%yieldEvery == 0 {
			osYield()
		}
	}
}

// DefaultSpinners is the bound on polling executors when
// [GroupConfig.Spinners] is 0: as many as leave the program's goroutines at
// least half the executors' worth of Ps (a polling executor holds its P), so
// every executor when GOMAXPROCS leaves that headroom, at least one.
func DefaultSpinners(executors, gomaxprocs int) int {
	return min(executors, max(1, gomaxprocs-executors/2))
}

// wokeExecutor is called after a push woke a parked executor. When the
// caller is an owner, the woken goroutine was queued on the caller's P,
// where it waits for that P: unless every executor may poll (then the woken
// one finds a P left idle by a parked one), the owner parks at once when it
// goes idle instead of polling (see [Executor.idle]).
func (g *Group) wokeExecutor() {
	if int(g.spinners.max) >= len(g.execs) {
		return
	}
	if w := g.currentOwner(); w != nil {
		w.e.woke.Store(true)
	}
}

// spinners counts a group's polling executors against its bound.
type spinners struct {
	n   atomic.Int32
	max int32
}

// enter reports whether one more executor may poll; leave ends a poll that
// entered.
func (s *spinners) enter() bool {
	if s.n.Add(1) <= s.max {
		return true
	}
	s.n.Add(-1)
	return false
}

func (s *spinners) leave() { s.n.Add(-1) }

// idle is what the executor's owner does when its mailbox is empty: poll
// while the group allows one more poller, then park. It returns false when
// the owner must exit (drained or aborted).
//
// A goroutine that the owner woke (a Wait on a token that ended, a producer
// waiting for room, another executor's owner) was queued on the owner's P,
// and a poller keeps its P. Another P usually takes it within microseconds
// (the woken Wait says so by clearing the flag); the owner waits up to
// wokeGrace for that, and parks, giving the goroutine its P, if it did not
// happen. Parking at once instead locks a caller that asks and waits into
// waking a parked executor every time.
func (e *Executor) idle() bool {
	g := e.group
	if g.spin > 0 && e.woke.Load() {
		poll(min(g.spin, wokeGrace), func() bool { return !e.woke.Load() || e.mb.hasWork() })
		if e.mb.ready.Load() > 0 {
			return true // work first; the flag is looked at next time
		}
	}
	stranded := e.woke.Swap(false) || e.mb.woke
	e.mb.woke = false
	if g.spin > 0 && !stranded && g.spinners.enter() {
		e.idleState.Store(idleSpinning)
		poll(g.spin, e.mb.hasWork)
		e.idleState.Store(idleBusy)
		g.spinners.leave()
		if e.mb.ready.Load() > 0 {
			return true
		}
	}
	e.idleState.Store(idleParked)
	defer e.idleState.Store(idleBusy)
	switch e.mb.park() { // closed, aborted or empty: park tells which
	case Parked:
		<-e.mb.wake
	case Drained, Aborted:
		return false
	}
	return true
}

// Awake reports whether the executor is polling its mailbox: idle, but a push
// starts at once without waking a thread.
func (e *Executor) Awake() bool { return e.idleState.Load() == idleSpinning }

// Claim takes an awake executor for one push: it reports whether the
// executor was polling, and from then on it no longer counts as awake, so
// that a burst is not all sent to one poller before it has noticed the
// first push (it may be off its CPU meanwhile).
func (e *Executor) Claim() bool { return e.idleState.CompareAndSwap(idleSpinning, idleBusy) }

// Asleep reports whether the executor is parked: a push to it wakes a thread.
func (e *Executor) Asleep() bool { return e.idleState.Load() == idleParked }
