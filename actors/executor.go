package actors

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/faults"
)

// Executor runs tokens from its mailbox, one at a time, on a goroutine locked to
// its OS thread and pinned to one CPU unless the group's affinity is [Off]. It
// implements [actor.Processer]: engine.Send to its PID pushes a [Job]; anything
// else is answered with an [actor.DeadLetterEvent] on the engine's event stream
// (and, for a Request, an error response).
//
// The goroutine draining the mailbox is the executor's owner. A handler that
// blocks (in [Task.Await], or waiting for room) hands ownership to a helper
// goroutine pinned to the same CPU and blocks without holding the executor;
// once it wakes it finishes its handler beside the new owner and then exits.
// This is how fork-join pools compensate a blocked worker, and it keeps a
// child's runtime.Goexit from unwinding the parent that waits for it.
type Executor struct {
	// Read by every submitter: kept off the lines the owner writes per token.
	group     *Group
	index     int
	cpu       int
	pid       *actor.PID
	mb        *Mailbox
	ctx       context.Context // what Scheduled turns run with
	owner     atomic.Pointer[worker]
	health    atomic.Uint32 // Health bits
	idleState atomic.Uint32 // idleBusy, idleSpinning or idleParked
	claims    atomic.Uint32 // cheap pushes that claimed it since it last went idle (see Claim)
	// runningOp is the op of the token the owner runs (see Claim; noOp for
	// one of no op), turn's for an actor's turn, nil while it waits: written
	// only when it changes (see setRunning), so a stream of one op's tokens
	// leaves the line to the submitters that read it.
	runningOp atomic.Pointer[Op]
	_         [64]byte
	running   atomic.Pointer[Task] // the owner's token: the last it started, nil while it waits
	_         [56]byte

	// The owner's own run queue: runnables the owner scheduled on its own
	// executor (an actor's Tell to an actor beside it), queued without a
	// lock or a wake-up. Only the current owner touches it; a hand-off passes
	// it on, and an owner that ends moves it to the mailbox.
	local     []Scheduled
	localPos  int
	fromLocal bool          // the last job came from local: the mailbox goes next
	woke      bool          // a token the owner resolved woke its waiter: it is queued on the owner's P
	ticks     uint32        // tokens the owners started, for sampling their ops' cost (Op.sampleDue)
	lastOp    *Op           // runningOp, the owners' copy on a line of theirs: only owners touch it, one at a time
	lingers   int           // turns that lingered (see linger), for tests
	gathers   int           // turns that gathered (see gather), for tests
	stats     counters      // each count on its own line
	refused   atomic.Uint64 // jobs accepted without being pushed here (refused, or redirected)
	rerouted  atomic.Uint64 // jobs accepted here that moved to other executors
	retried   atomic.Uint32 // failed attempts the owner queued again (see Retried)
	// Turns the owners began (owner only), published to turnsSeen at the
	// next turn after the watchdog asked (see Turns): a turn costs the owner
	// no atomic write, and one stuck in a Receive shows no new count.
	turns      uint64
	turnsSeen  atomic.Uint64
	turnsAsked atomic.Bool

	mu     sync.Mutex
	pinned bool
	pinErr error

	spareMu  sync.Mutex
	spares   []*worker // parked helpers, pinned like the owner
	noSpares bool      // stopping: parking helpers exit instead

	// Idle cells holding a burst's memory, trimmed when the owner parks or,
	// on an owner that keeps finding work, once the first listed is
	// trimAge old (trimFrom, a nanotime).
	trimMu   sync.Mutex
	trims    []trimmer
	trimFrom atomic.Int64 // 0 while none is listed
	// The list's other array: trimListed walks one while cells list again
	// on the other, so a stream kept at each trimAge allocates no list.
	trimSpare []trimmer
}

// trimmer is an idle cell that may give memory back (see Cell.trim).
type trimmer interface {
	trim(x *Executor, parked bool)
}

// trimAge bounds how long a listed cell waits for its executor to park
// before it is trimmed anyway, unless it had a turn since it was listed: a
// stream that pauses keeps its queues until its executor parks.
const trimAge = 10 * time.Millisecond

// addTrim lists t, to trim when the owner next parks or trimAge from now.
func (e *Executor) addTrim(t trimmer) {
	e.trimMu.Lock()
	if len(e.trims) == 0 {
		e.trimFrom.Store(nanotime())
	}
	e.trims = append(e.trims, t)
	e.trimMu.Unlock()
}

// trimDue trims the listed cells, as the owner runs out of work, when the
// first was listed trimAge before now.
func (e *Executor) trimDue(now func() int64) {
	if from := e.trimFrom.Load(); from != 0 && now()-from >= int64(trimAge) {
		e.trimListed(false)
	}
}

// epoch is what nanotime counts from.
var epoch = time.Now()

// nanotime is a monotonic clock in nanoseconds, never 0.
func nanotime() int64 { return int64(time.Since(epoch)) + 1 }

// trimKeep bounds the trim list's array kept for reuse, in cells: the list
// of a burst over many actors gives its memory back.
const trimKeep = 1024

// trimListed trims the listed cells, as the owner parks (parked) or once
// the first listed is trimAge old.
func (e *Executor) trimListed(parked bool) {
	e.trimMu.Lock()
	ts := e.trims
	e.trims, e.trimSpare = e.trimSpare, nil
	e.trimFrom.Store(0)
	e.trimMu.Unlock()
	for _, t := range ts {
		t.trim(e, parked)
	}
	if cap(ts) > trimKeep {
		return
	}
	clear(ts) // the array is kept, not the cells it listed
	e.trimMu.Lock()
	if e.trimSpare == nil {
		e.trimSpare = ts[:0]
	}
	e.trimMu.Unlock()
}

// worker is one goroutine of an executor: its owner, or a handler that handed
// ownership on and is finishing.
type worker struct {
	e    *Executor
	id   uint64               // goroutine id
	kept atomic.Pointer[Task] // the token it went on with after handing the executor on
	wake chan bool            // a parked spare's: true to take over, false to exit
	// It handed its executor on and finishes its handler beside the new
	// owner, holding the mailbox's drain (see Mailbox.holdDrain). Its own.
	beside bool
	// blocks counts its Blocks under way (see block), nested ones too (a
	// Request, blocked, whose Tell then waits for room): only the
	// outermost counts against MaxBlocked. Its own.
	blocks int
}

// Index returns the executor's position in its group.
func (e *Executor) Index() int { return e.index }

// CPU returns the CPU the executor is pinned to (or would be, when unpinned).
func (e *Executor) CPU() int { return e.cpu }

// Mailbox returns the executor's mailbox.
func (e *Executor) Mailbox() *Mailbox { return e.mb }

// Pinned reports whether the owner's thread is pinned to CPU(), and why not
// when it is not.
func (e *Executor) Pinned() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pinned, e.pinErr
}

// Push places j on this executor's mailbox.
func (e *Executor) Push(j Job) PushResult {
	j.Task().exec = e
	return e.mb.Push(j)
}

// PushAll pushes js in order, as many as the mailbox has room for, under
// one lock and with at most one wake-up: a burst's share of this executor.
// It returns how many it pushed, and when fewer than all, why not (Full,
// Closed or Gone); the rest are the caller's to place.
func (e *Executor) PushAll(js []Job) (int, PushResult) {
	for _, j := range js {
		j.Task().exec = e
	}
	return e.mb.pushAll(js)
}

// Adopt queues j, accepted on another executor that went down or stalled, at
// the tail of this one past the mailbox bound: an accepted token is never
// refused for room. It returns Gone when this executor is down too, Closed
// when the runtime aborted. The executor that accepted j counts it as
// rerouted, once however often it moves.
func (e *Executor) Adopt(j Job) PushResult {
	t := j.Task()
	if t == nil {
		return e.mb.requeue(j) // a Scheduled runnable: no token to mark or count
	}
	// Marked before the push, so its old executor skips it (clearing
	// sentBit, no longer needed); not once an executor claimed it to run
	// (runBit): it runs there, and its handler must not see it moved.
	// A steal's movingBit, if set, is cleared with the move.
	var prev, was, mark int32
	for {
		prev = t.moved.Load()
		if prev&runBit != 0 {
			return Pushed // running, or about to, where it is: nothing to move
		}
		was = prev &^ movingBit
		mark = int32(e.index) + 1
		if e == t.exec && was&^sentBit == 0 {
			mark = was // back where it was accepted, never moved: it did not move
		}
		if t.moved.CompareAndSwap(prev, mark) {
			break
		}
	}
	// Counted before the push: once pushed, the token may run and resolve
	// before this goroutine goes on, and a caller reading Stats after its
	// Wait must find it counted.
	first := mark != was && was&^sentBit == 0
	if first {
		t.exec.rerouted.Add(1)
	}
	res := e.mb.requeue(j)
	if res != Pushed {
		t.moved.CompareAndSwap(mark, prev)
		if first {
			t.exec.rerouted.Add(^uint64(0))
		}
	}
	return res
}

// Refuse accepts j without queueing it and resolves it at once with o and err,
// so it is counted on this executor like any other token.
func (e *Executor) Refuse(j Job, o Outcome, err error) {
	j.Task().exec = e
	e.refused.Add(1)
	j.Task().Resolve(o, err)
}

// Retire takes the executor out of service once its owner ended: every later
// push returns Gone, and the jobs still queued are returned, in order, for the
// caller to place elsewhere (with [Executor.Adopt]) or resolve.
func (e *Executor) Retire() []Job { return live(e.mb.retire()) }

// Steal takes the queued jobs for which movable is true, in order, and
// hands them to place, which places them elsewhere; the others stay queued
// in order. Until place returns, a draining owner waits for it, as for a
// handler beside it: place may give a job back with [Executor.Adopt] (the
// executor it went to drained meanwhile). It is safe while the executor
// runs (or is stuck in) a handler.
//
// The owner, back from its handler, may find a stolen job still in its
// batch: each is marked moving, last first, before any is placed, so the
// owner skips the marked ones and runs at most a prefix of them (those it
// claimed before the mark), never one behind a job that moves. Jobs of one
// submitter moved together keep their order.
func (e *Executor) Steal(movable func(Job) bool, place func([]Job)) {
	e.mb.holdDrain()
	defer e.mb.releaseDrain()
	jobs := live(e.mb.steal(movable))
	for i := len(jobs) - 1; i >= 0; i-- {
		if t := jobs[i].Task(); t != nil {
			t.markMoving() // false: the owner claimed it, Adopt leaves it
		}
	}
	place(jobs)
}

// live drops tokens resolved while queued (cancelled) and stale entries
// (see [Renewed]), which moved would mark their token as moved away from
// its live entry; scheduled runnables stay.
func live(jobs []Job) []Job {
	out := jobs[:0]
	for _, j := range jobs {
		if t := j.Task(); t == nil || t.Queued() && t.Current(j) {
			out = append(out, j)
		}
	}
	clear(jobs[len(out):])
	return out
}

// Health is a set of reasons an executor should not get unpinned work.
type Health uint32

const (
	Restarting Health = 1 << iota // its owner ended and a replacement is due
	Stalled                       // a token has run past the stall threshold
	Down                          // past its restart intensity, until a cool-down brings it back
)

// Health returns the executor's current health bits; 0 is healthy.
func (e *Executor) Health() Health { return Health(e.health.Load()) }

// Healthy reports whether the executor should get unpinned work.
func (e *Executor) Healthy() bool { return e.health.Load() == 0 }

// SetHealth sets or clears h.
func (e *Executor) SetHealth(h Health, on bool) {
	if on {
		e.health.Or(uint32(h))
	} else {
		e.health.And(^uint32(h))
	}
}

// Running returns the token the executor's owner runs now, or nil. A
// watchdog that sees the same token (pointer and ID) running for a while has
// found a token running that long; it costs the owner one store per token.
func (e *Executor) Running() *Task {
	if t := e.running.Load(); t != nil && t.isRunning() {
		return t
	}
	return nil
}

// Retried counts the failed attempts the executor queued again for a retry.
// The next attempt runs the same token (pointer and ID): a watchdog that sees
// the count change has seen the one it sampled end.
func (e *Executor) Retried() uint32 { return e.retried.Load() }

// Turns returns the count of actor turns the executor's owners began, as
// published since the last call: a watchdog that calls it twice and gets the
// same count with the owner busy and no token running has seen one turn (an
// actor's Receive) run between the calls.
func (e *Executor) Turns() uint64 {
	e.turnsAsked.Store(true) // first: a turn that begins after this publishes
	return e.turnsSeen.Load()
}

// Busy reports whether the executor has an owner at work (running tokens
// or turns, or between them) rather than polling or parked.
func (e *Executor) Busy() bool { return e.idleState.Load() == idleBusy && e.owner.Load() != nil }

// Started returns the last token the owner started, running or not.
func (e *Executor) Started() *Task { return e.running.Load() }

func (e *Executor) owns(w *worker) bool { return e.owner.Load() == w }

// Launch starts the executor's owner and returns once it has locked and pinned
// its thread. Under [Strict] affinity a failed pin is returned and the goroutine
// has already ended. Launch is also how a replacement takes over the mailbox of
// an executor whose owner ended.
//
// Launch is refused with [ErrRunning] while the executor has an owner (or a
// launch or hand-off is under way), so two goroutines never drain one mailbox.
func (e *Executor) Launch() error {
	if !e.owner.CompareAndSwap(nil, reserved) {
		return fmt.Errorf("%w: executor %d", ErrRunning, e.index)
	}
	ready := make(chan error, 1)
	go e.main(ready, nil)
	return <-ready
}

// reserved is the owner while a goroutine is on its way to becoming it (a
// launch, or a helper after a hand-off): nobody else may launch meanwhile.
// Its id matches no goroutine.
var reserved = &worker{}

// main is an owner's goroutine: the first, a replacement (ready != nil), or a
// helper taking over from a handler that blocks (ready == nil), which
// handOff counted in the group as starting until it enters.
func (e *Executor) main(ready chan<- error, starting *worker) {
	w := &worker{e: e}
	entered := func() {
		e.group.enter(w, e)
		if starting != nil {
			e.group.leave(starting)
		}
	}
	if e.group.affinity != Off {
		// Never unlocked: the goroutine returns still locked and the thread ends
		// with it, so no other goroutine ever inherits the pinned mask.
		runtime.LockOSThread()
		err := faults.Pin(e.index)
		if err == nil {
			err = pinThread(e.cpu)
		}
		e.mu.Lock()
		e.pinned, e.pinErr = err == nil, err
		e.mu.Unlock()
		if err != nil && e.group.affinity == Strict {
			if ready != nil {
				e.owner.Store(nil)
				ready <- err
				return
			}
			// A helper that cannot pin fails like the executor's loop would.
			entered()
			e.owner.Store(w)
			e.exit(w, fmt.Errorf("coregate: executor %d: %w", e.index, err))
			return
		}
	}
	w.id = goid()
	entered()
	e.setRunning(nil) // the previous owner may have ended inside a token
	e.mb.attach(true)
	e.owner.Store(w)
	if ready != nil {
		e.group.onStart(e)
		ready <- nil
	}
	normal := false
	defer func() {
		var err error
		if !normal {
			err = ErrGoexit
			if r := recover(); r != nil {
				cause, ok := r.(error)
				if !ok {
					cause = fmt.Errorf("%v", r)
				}
				err = fmt.Errorf("coregate: executor %d loop panicked: %w", e.index, cause)
			}
		}
		e.exit(w, err)
	}()
	for {
		e.loop(w)
		if e.owns(w) || !e.park(w) {
			break
		}
	}
	normal = true
}

// maxSpares bounds the parked helpers an executor keeps: enough for the
// usual fan-out of a few handlers waiting at once, without holding many idle
// threads.
const maxSpares = 4

// park keeps w, a handler's goroutine that handed its executor on and has
// finished its handler, as a spare helper, so the next hand-off wakes a
// parked, already pinned thread instead of creating and pinning one. It
// returns true when a hand-off made w the owner again, false when w should
// exit (enough spares, or the runtime is stopping).
func (e *Executor) park(w *worker) bool {
	w.kept.Store(nil)
	e.leaveBeside(w)
	e.spareMu.Lock()
	if e.noSpares || len(e.spares) >= maxSpares {
		e.spareMu.Unlock()
		return false
	}
	if w.wake == nil {
		w.wake = make(chan bool, 1)
	}
	e.spares = append(e.spares, w)
	e.spareMu.Unlock()
	if !<-w.wake {
		return false
	}
	e.setRunning(nil)
	e.owner.Store(w) // handOff reserved it for w
	return true
}

// dropSpares wakes every parked spare to exit and keeps no more; the group
// calls it as it stops.
func (e *Executor) dropSpares() {
	e.spareMu.Lock()
	spares := e.spares
	e.spares, e.noSpares = nil, true
	e.spareMu.Unlock()
	for _, w := range spares {
		w.wake <- false
	}
}

// exit ends worker w. An owner's end is reported to the group, which starts a
// replacement before w leaves, so a stopping group never sees no worker while
// a replacement is due. That comes in a deferred call: the local run queue's
// hand-off may end the goroutine (see flushLocal), and the group must still
// see w end.
func (e *Executor) exit(w *worker, err error) {
	e.leaveBeside(w) // a handler beside the owner that ended in Goexit
	defer func() {
		if e.owner.CompareAndSwap(w, nil) {
			e.mb.attach(false)
			e.group.onExit(e, err)
		}
		e.group.leave(w)
	}()
	if e.owns(w) {
		e.flushLocal()
	}
}

func (e *Executor) loop(w *worker) {
	for !e.group.aborted.Load() && e.owns(w) {
		if err := faults.Loop(e.index); err != nil {
			panic(err)
		}
		if j, ok := e.next(); ok {
			e.run(w, j)
			continue
		}
		e.setRunning(nil)
		if !e.idle() {
			return
		}
	}
}

// run resolves j: it runs the handler unless the token was resolved already
// or moved to another executor, or its op is paused and Hold took it. The
// token's state decides between this executor and whoever else may hold it
// (Abort, Cancel, a stealer that moved it): only one of them moves it out
// of queued.
func (e *Executor) run(w *worker, j Job) {
	t := j.Task()
	if t == nil {
		if s, ok := j.(Scheduled); ok {
			if e.group.aborted.Load() {
				s.Unschedule() // as Abort drops those still queued
			} else {
				e.turn(s)
			}
		}
		return
	}
	if t.elsewhere(e) {
		return // moved off this executor (or being moved by a steal); its new one runs it
	}
	if t.op != nil && t.op.paused.Load() && t.held(j) {
		return // its op is paused: held, not run
	}
	if !t.start(j) {
		return // resolved while queued, running elsewhere, or a stale entry
	}
	t.runHere(e) // a steal racing the claim (Adopt) is overruled
	if e.group.aborted.Load() {
		t.finish(Stopped, ErrStopped)
		return
	}
	e.setRunning(t)
	e.ticks++
	var begun int64
	if t.op.sampleDue(e.ticks) {
		begun = nanotime()
	}
	o, err, cut := invoke(j, t, e.retry, e.group)
	if begun != 0 {
		t.op.observe(nanotime() - begun)
	}
	if (o == Failed || o == Panicked) && e.retry(j, o, err, cut) {
		return
	}
	t.finish(o, err)
}

// invoke runs the handler under recover, telling a panic from runtime.Goexit
// with singleflight's double defer: the inner function recovers a panic (even
// panic(nil) under GODEBUG=panicnil=1) and returns normally, while a Goexit
// runs the inner defer and keeps unwinding, past the line after it. A Goexit
// resolves (or, when retry queues it again, retries) the token here, then
// goes on ending the goroutine. A handler that ends, however it ends, after
// g (nil: not counted here) aborted is counted as cut short (cut): its
// context was cancelled as it ran, and it is not retried.
func invoke(j Job, t *Task, retry func(j Job, o Outcome, err error, cut bool) bool, g *Group) (o Outcome, err error, cut bool) {
	normal, recovered := false, false
	defer func() {
		if cut = g != nil && g.aborted.Load(); cut {
			g.cancelled.Add(1) // also for a Goexit, which ends the goroutine here
		}
		if normal || recovered {
			return
		}
		if !retry(j, Failed, ErrGoexit, cut) {
			t.finish(Failed, ErrGoexit)
		}
	}()
	func() {
		defer func() {
			if !normal {
				r := recover()
				o, err = Panicked, &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		if err = t.ctxErr(); err != nil {
			o = Cancelled
		} else if err = j.Run(t); err == nil {
			o = Succeeded
		} else if t.cancelledBy(err) {
			o = Cancelled
		} else {
			o = Failed
		}
		normal = true
	}()
	recovered = !normal
	return o, err, cut
}

// turn runs one turn of s. A panic escaping it is recovered (the runnable
// owns its failures); a Goexit goes on ending the goroutine.
func (e *Executor) turn(s Scheduled) {
	e.setRunning(inTurn)
	e.countTurn()
	defer func() {
		if r := recover(); r != nil {
			e.group.engine.BroadcastEvent(TurnPanicked{Index: e.index, Value: r})
		}
	}()
	s.Turn(e.ctx)
}

// countTurn counts a turn begun, publishing the count when the watchdog
// asked for it (see Turns). Owner only.
func (e *Executor) countTurn() {
	e.turns++
	if e.turnsAsked.Load() {
		e.turnsAsked.Store(false)
		e.turnsSeen.Store(e.turns)
	}
}

// goOn reports whether a turn that reached Throughput, run by the calling
// goroutine, may go on instead of passing: the caller owns the executor,
// the group goes on, and nothing else waits here (no cell on the local
// queue, nothing in the mailbox; a spent batch's slots are given back).
// Passing would only schedule the cell again and take it back, the
// cell's lock twice and the mailbox once for every Throughput envelopes
// of a stream. Going on counts as a turn begun, so the watchdog sees the
// same progress as from a pass.
func (e *Executor) goOn() bool {
	if !e.Runs() || e.group.aborted.Load() || e.localPos != len(e.local) || !e.mb.quiet() {
		return false
	}
	e.countTurn()
	return true
}

// setRunning records t as the owner's token (nil while it waits) and
// publishes its op, when it changed (see runningOp).
func (e *Executor) setRunning(t *Task) {
	e.running.Store(t)
	op := noOp
	switch {
	case t == nil:
		op = nil
	case t.op != nil:
		op = t.op
	}
	if e.lastOp != op {
		e.lastOp = op
		e.runningOp.Store(op)
	}
}

// noOp is runningOp for a token of no op: never timed, so not cheap, as
// a nil op is not (runningOp's nil says the owner runs nothing).
var noOp = new(Op)

// inTurn is what the owner's running token reads while it runs a turn: no
// token's, of an op never cheap, so that [Executor.Claim] does not queue a
// cheap token behind a turn that may run long.
var inTurn = func() *Task {
	op := &Op{Name: "turn"}
	s := new(opSamples)
	s.cost.Store(math.MaxInt64)
	s.costs.Store(firstSamples)
	op.samples.Store(s)
	return &Task{op: op}
}()

// TurnPanicked is published when a panic escapes a [Scheduled] runnable's
// turn; the executor goes on.
type TurnPanicked struct {
	Index int // the executor
	Value any // what was passed to panic
}

// Schedule queues s for a turn, past the mailbox bound and the close (an
// actor with messages is drained like any token), uncounted: it is not a
// token. It refuses an aborted mailbox (Closed) and a down executor (Gone).
//
// Called by the executor's own owner (a turn or handler running on it), it
// queues s on the owner's local run queue: no lock, no wake-up.
func (e *Executor) Schedule(s Scheduled) PushResult {
	if e.scheduleNear(s) {
		return Pushed
	}
	return e.mb.add(s, modeSchedule)
}

// scheduleNear queues s on the owner's local run queue when the caller is
// e's owner and the group is not aborting, and reports whether it did.
func (e *Executor) scheduleNear(s Scheduled) bool {
	if !e.Runs() || e.group.aborted.Load() {
		return false
	}
	e.local = append(e.local, s)
	return true
}

// nearLeaver is a Scheduled runnable that keeps work only its executor's
// owner may touch while it is on the owner's local run queue (a Cell's
// envelopes queued near): LeaveNear hands that work over before the
// runnable moves to the mailbox.
type nearLeaver interface{ LeaveNear() }

// next returns the owner's next job: from its local run queue or its
// mailbox, taking turns while both have some.
func (e *Executor) next() (Job, bool) {
	if e.localPos < len(e.local) {
		e.fromLocal = !e.fromLocal
		if e.fromLocal {
			return e.popLocal(), true
		}
		if !e.mb.pending() {
			// The mailbox's spent batch still holds its slots until a
			// refill: give them back once, or producers waiting for room
			// wait as long as the local queue keeps the owner busy (two
			// actors here telling each other).
			if e.mb.spent() {
				if j, ok := e.mb.refill(); ok {
					return j, true
				}
			}
			return e.popLocal(), true
		}
	}
	e.fromLocal = false
	if j, ok := e.mb.pop(); ok {
		return j, true
	}
	if e.localPos < len(e.local) {
		// pending saw a push that a steal took, or the mailbox is closed
		// and empty: the local queue goes on.
		return e.popLocal(), true
	}
	return nil, false
}

func (e *Executor) popLocal() Job {
	s := e.local[e.localPos]
	e.local[e.localPos] = nil
	if e.localPos++; e.localPos == len(e.local) {
		e.local, e.localPos = e.local[:0], 0
		if cap(e.local) > maxKeep {
			e.local = nil
		}
	}
	return s
}

// flushLocal moves the local run queue to the mailbox, as an owner ends; a
// runnable the mailbox refuses (aborted, retired) is unscheduled.
//
// It goes on until the queue is empty: what it calls (an actor stopped by
// Unschedule, an answer sent by Drop) may queue another runnable there. It
// goes on too when what it calls ends the goroutine: a killed actor stopped
// by Unschedule runs its Stopped here, which may call runtime.Goexit, and
// the runnables behind it would be left, their messages never answered.
func (e *Executor) flushLocal() {
	normal := false
	defer func() {
		if !normal {
			e.flushLocal()
		}
	}()
	for e.localPos < len(e.local) {
		s := e.popLocal().(Scheduled)
		if n, ok := s.(nearLeaver); ok {
			n.LeaveNear()
		}
		if e.mb.add(s, modeSchedule) != Pushed {
			s.Unschedule()
		}
	}
	e.local, e.localPos = nil, 0
	normal = true
}

// retry queues j again if its hook asks for another attempt, and reports
// whether it did, or resolved j (its hook failed, see Task.askRetry). A
// cancelled token is not retried, nor one whose handler ended after the
// abort (cut: counted as a handler cancelled). One that ended before is
// asked for even once the abort came: a retry it allows is cut short, and
// counted so, on its way to its backoff (see Abort, retries.schedule and
// Executor.requeue), else a Stop would say it cut nothing short.
func (e *Executor) retry(j Job, o Outcome, err error, cut bool) bool {
	if retryLooking != nil {
		retryLooking()
	}
	t := j.Task()
	h := t.hook()
	if h == nil || cut || t.cancel.isFired() || t.ctxErr() != nil {
		return false
	}
	delay, again, resolved := t.askRetry(h, o, err)
	if resolved {
		return true
	}
	if !again {
		return false
	}
	e.retried.Add(1)
	t.requeued()
	t.requeue(o, err)
	if t.cancel.isFired() { // Cancel came as it ended (see Task.Cancel): this attempt's outcome is its last
		return t.keep(h, o, err)
	}
	if retryQueued != nil {
		retryQueued()
	}
	e.group.retries.schedule(e, j, delay, o, err)
	return true
}

// retryLooking, when a test sets it, runs as a failed attempt's handler
// has returned, before its executor looks whether to retry it.
var retryLooking func()

// retryQueued, when a test sets it, runs as a failed attempt's token is
// queued again for its retry, before its backoff is scheduled.
var retryQueued func()

// leaveBeside ends w's hold on the mailbox's drain, taken when it handed e
// on, once its handler has finished (and queued any retry).
func (e *Executor) leaveBeside(w *worker) {
	if w.beside {
		w.beside = false
		e.mb.releaseDrain()
	}
}

// handOff gives ownership of e from w, which is about to block inside a
// handler, to a new helper goroutine on the same CPU. Until w's handler
// finishes, a drain of e's mailbox waits for it: it may queue a retry there.
func (e *Executor) handOff(w *worker) {
	w.beside = true
	e.mb.holdDrain()
	w.kept.Store(e.running.Swap(nil)) // the executor is no longer busy with it
	e.owner.Store(reserved)
	e.spareMu.Lock()
	var spare *worker
	if n := len(e.spares); n > 0 {
		spare, e.spares = e.spares[n-1], e.spares[:n-1]
	}
	e.spareMu.Unlock()
	if spare != nil {
		spare.wake <- true
		return
	}
	// Counted in the group before it starts: the handler handing on may
	// return, and its goroutine leave, before the helper enters, and a
	// stopping group that then found no goroutine of its own running took
	// its drain for done, with the queue left for the helper to run after
	// Stop returned.
	starting := &worker{e: e}
	e.group.enter(starting, e)
	go e.main(nil, starting)
}

// actor.Processer

// Start is called by the engine when the executor is registered; the goroutine is
// started by [Executor.Launch] instead, so a failed pin can be returned.
func (e *Executor) Start() {}

// PID returns the executor's PID, <name>/exec/<index>.
func (e *Executor) PID() *actor.PID { return e.pid }

// Send delivers a [Job] without waiting: a job that finds the mailbox full or
// closed is accepted and resolved at once with [ErrMailboxFull] or [ErrStopped],
// so the counts still add up; one sent to a down executor is placed elsewhere.
// hollywood's Poison and Stop are refused (see [Group]); anything else becomes
// a dead letter, answered with an error when it came as a Request.
func (e *Executor) Send(_ *actor.PID, msg any, sender *actor.PID) {
	j, ok := e.group.accept(e.pid, msg, sender)
	if !ok {
		return
	}
	switch e.Push(j) {
	case Full:
		e.Refuse(j, Failed, ErrMailboxFull)
	case Closed:
		e.Refuse(j, Stopped, ErrStopped)
	case Gone:
		e.refused.Add(1)
		e.group.redirect(j)
	}
}

// Invoke is part of [actor.Processer]; executors take no batches from hollywood
// and treat each envelope as a Send.
func (e *Executor) Invoke(msgs []actor.Envelope) {
	for _, m := range msgs {
		e.Send(e.pid, m.Msg, m.Sender)
	}
}

// Shutdown is part of [actor.Processer]; hollywood never calls it for a
// process it did not spawn. Runtimes stop executors through their supervisor.
func (e *Executor) Shutdown() {}

// Runs reports whether the calling goroutine is e's owner: the goroutine
// running e's queue, in a handler or an actor's turn now.
func (e *Executor) Runs() bool {
	w := e.owner.Load()
	return w != nil && w.id == goid()
}

// Serves reports whether the calling goroutine runs a handler of e: its
// owner, or a handler e ran that handed e on and goes on beside it.
func (e *Executor) Serves() bool {
	if e.Runs() {
		return true
	}
	w := e.group.handlerOf(goid())
	return w != nil && w.e == e
}
