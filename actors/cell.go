package actors

import (
	"context"
	"errors"
	"sync/atomic"
	"unsafe"
)

// Throughput is how many messages an actor handles in one turn before the
// others on its executor get theirs (fairness, as Pony and Akka batch).
// With none waiting, the turn goes on instead (see Executor.goOn).
const Throughput = 64

// Cell is the runtime half of an actor: a bounded FIFO queue of envelopes E
// (its mailbox), its schedule state and its executor. It is a [Scheduled]
// runnable: when the queue turns non-empty the cell is put on its executor's
// queue, and each turn hands up to [Throughput] envelopes to deliver, one at a
// time, then schedules itself again if envelopes remain. A turn that finds
// another still active (its goroutine blocked inside deliver and handed the
// executor on) returns at once and leaves the rescheduling to the active one,
// so deliver never runs twice at once for one cell.
//
// The bound counts the envelopes queued and not yet taken by a turn (a turn
// takes them all at once), and the near queue (see putNear) holds at most
// size more, so a mailbox holds at most three times its size. The
// queue grows with use and gives a burst's memory back once the cell is idle
// and its executor parks (see trim).
type Cell[E any] struct {
	mu spinMutex
	q  []E // queued, not yet taken by a turn
	// fresh says that a sender queued an envelope since the active turn
	// last took the queue (takeLocked clears it): a turn that ran dry reads
	// it, and lingers on it (see Executor.linger), before it takes the lock
	// again. Senders set it once they let go of mu, so that the turn,
	// taking mu at once, does not find it still held.
	fresh atomic.Bool
	size  int
	exec  atomic.Pointer[Executor] // written under mu, with state's executor bits (setExec)
	// state holds the cell's phase (a cellState) in its low phaseBits and
	// the index of its executor above them, so that putNear's move from
	// idle to near checks the executor in the same compare-and-swap (see
	// putNearOn), and while active its turn's goroutine's tag (see
	// InTurn). It changes under mu, but for putNear's idle to near and
	// the near turn's near to active, both by CAS.
	state  atomic.Uint64
	closed atomic.Bool // written under mu
	// sealed is set, under mu, as the last envelope is queued (PutLast):
	// puts after it are refused, as once closed.
	sealed atomic.Bool
	// stranded is set, under mu, while the cell is idle with envelopes left
	// (no executor could take it): putNear must not pass them.
	stranded atomic.Bool
	// lockedNear is set, under mu, when an envelope is queued under the
	// lock while the cell is near (its sender was not the owner: a handler
	// that handed the executor on): the owner's next put must not go near,
	// ahead of it. takeLocked clears it.
	lockedNear atomic.Bool
	room       chan struct{} // closed when a turn frees room; made only while senders wait
	// turnBy is the goroutine (see goid) that runs the active turn: the
	// owner of the executor that began it, which keeps it while it waits
	// beside a new owner (see InTurn).
	turnBy atomic.Uint64
	// over is how many envelopes of q the bound does not count: a fresh
	// cell's first (see TryPutFirst), until a turn takes it.
	over int
	// The executor whose trim list holds the cell (see trim), written under
	// mu.
	trimOn *Executor

	host Host[E]

	// Envelopes queued by the owner of the cell's executor without the lock
	// (putNear), while the cell was idle or already queued that way. Only
	// that owner touches near: it appends, and the turn it runs takes them
	// ahead of q. While the cell is active, near is that turn's, even once
	// it goes on on a goroutine that handed the executor on; it is the
	// owner's again as soon as the turn shows the cell idle.
	near []E

	// the active turn's batch; taken under mu, worked through without it
	batch []E
	bpos  int
	// last is how many envelopes the turn's last take found: two or more
	// say a stream is coming in (see refill), whose batches the turn
	// gathers for gatherMin<<gatherShift (see gatherTime).
	//
	// gatherShift, takes and trimTakes sit in what was padding, leaving
	// the struct's size and its other fields' places as they were: 8
	// bytes more moved cross-core ping-pong by a tenth from one build to
	// the next. takes counts the turns' takes (takeLocked), trimTakes is
	// takes as the cell was listed on trimOn, both under mu; wrapping,
	// they can only make a stream's queues trimmed once more.
	last        int32
	gatherShift uint8
	// ending says the running turn delivers its last known envelope (see
	// Ending); home is set for a floating cell (see Float).
	ending           atomic.Bool
	takes, trimTakes uint16
	home             *Executor
}

// cellKeep bounds the queue slices a cell keeps once its executor parks, in
// envelopes: a stream reuses them, a burst gives its memory back.
const cellKeep = Throughput

type cellState = uint64

const (
	cellIdle      cellState = iota // not queued anywhere, nothing queued (but where no executor could take it)
	cellScheduled                  // on its executor's queue
	cellNear                       // on its executor's local run queue, put there by putNear
	cellActive                     // a turn runs; it schedules the next when work remains
)

// The state word's low phaseBits hold the phase; the executor's index is
// above them, below tagShift; above tagShift, while the cell is active, the
// tag of the goroutine that began the turn (see goTag), set by the same
// compare-and-swap that makes the cell active, and cleared as it leaves
// active.
const (
	phaseBits = 8
	phaseMask = 1<<phaseBits - 1
	tagShift  = 32
	execMask  = (1<<tagShift - 1) &^ phaseMask
)

// phase returns the cell's cellState.
func (c *Cell[E]) phase() cellState { return c.state.Load() & phaseMask }

// setPhase changes the phase, keeping the executor bits (and clearing the
// turn's tag: the phase it sets is not active but in tests). Never called while
// the cell is idle and may be sent to: idle is the one phase another writer
// (putNear) leaves by CAS without the lock. (Tests set the phase of cells
// no one sends to.)
func (c *Cell[E]) setPhase(p cellState) { c.state.Store(c.state.Load()&execMask | p) }

// setExec moves the cell to executor e, under mu while the cell is
// scheduled or active: no one else writes the state then.
func (c *Cell[E]) setExec(e *Executor) {
	c.exec.Store(e)
	c.state.Store(c.state.Load()&^execMask | execBits(e))
}

// execBits is e's index in the state word.
func execBits(e *Executor) cellState { return cellState(e.index) << phaseBits }

// MaxExecutors bounds a group's executors: a cell's state word holds the
// index of its executor in tagShift - phaseBits bits.
const MaxExecutors = 1 << (tagShift - phaseBits)

// Host is the typed half of an actor, which its cell calls.
type Host[E any] interface {
	// Deliver handles one envelope, on the cell's executor.
	Deliver(ctx context.Context, e E)
	// Home returns a live executor for a cell whose executor went down, or nil.
	Home() *Executor
	// Fits reports whether a floating cell (see [Cell.Float]) may go to x:
	// x is in its weight range over the live executors.
	Fits(x *Executor) bool
	// Idle is called after the cell went idle: on the executor after a turn,
	// or where it was unscheduled (an executor that could not run it). It
	// comes once the cell's lock is let go, so a later turn may have begun
	// by then, on another goroutine (a helper the executor was handed to,
	// an executor the cell followed to): ask [Cell.Idle] before acting on
	// the cell being idle.
	Idle()
	// Drop resolves an envelope that will never be delivered: one its
	// executor's goroutine queued (putNear) after the cell was closed, when
	// no turn will run to deliver it.
	Drop(e E)
}

// NewCell returns a cell on executor e whose queue holds at most size
// envelopes, handing each to host on e's goroutine.
func NewCell[E any](e *Executor, size int, host Host[E]) *Cell[E] {
	c := &Cell[E]{size: max(size, 1), host: host}
	c.exec.Store(e)
	c.state.Store(cellIdle | execBits(e))
	return c
}

var _ Homed = (*Cell[struct{}])(nil)

// Home returns the live executor the cell moves to when its own went down,
// as its host picks it (see [Homed]), or nil when none is live.
func (c *Cell[E]) Home() *Executor { return c.host.Home() }

// Executor returns the executor the cell runs on.
func (c *Cell[E]) Executor() *Executor { return c.exec.Load() }

// putNear queues e without a lock or a wake-up when the caller is the owner
// of the cell's executor (a handler or turn on it) and the cell is idle or
// was queued the same way: the cell goes on the owner's local run queue,
// and its turn, run by the same owner, takes these envelopes ahead of the
// locked queue. It reports whether it queued e; otherwise the caller takes
// the locked path (closed, full, scheduled another way, or active).
//
// Order holds for each sender: a cell is idle only once its queue is empty
// (see endTurnLocked), so an envelope put here never passes one its sender
// queued under the lock, and the turn takes near first, so neither does one
// queued under the lock after it.
func (c *Cell[E]) putNear(e E) bool { return c.putNearOn(c.exec.Load(), e) }

// putNearOn is putNear for a cell whose executor the caller read as x.
func (c *Cell[E]) putNearOn(x *Executor, e E) bool {
	if !x.Runs() || c.refuses() {
		return false
	}
	// near is read only once the state says this owner may touch it: a
	// turn that went on on another goroutine (a hand-off) still writes it
	// until the cell is no longer active. The state says which executor the
	// cell is on: it may have moved since x was read (x went down while its
	// owner still ran, and a turn on a live executor took the cell over),
	// and then near is another owner's, or making it near here would run
	// its next turn on x.
	s := c.state.Load()
	if s&execMask != execBits(x) {
		return false
	}
	switch s & phaseMask {
	case cellNear:
		if len(c.near) >= c.size || c.lockedNear.Load() {
			return false
		}
	case cellIdle:
		if c.stranded.Load() || !c.state.CompareAndSwap(s, s&execMask|cellNear) {
			return false
		}
		// Queued even while the group aborts: the owner's run or, as it
		// ends, its flushLocal unschedules it and hands the envelopes on.
		x.local = append(x.local, c)
	default:
		return false
	}
	c.near = append(c.near, e)
	return true
}

// Put queues e, waiting for room until ctx ends. It returns ctx's error
// when ctx ends first, ErrCellClosed once the cell is closed or sealed, or
// ErrNoExecutor when no executor can take the cell.
func (c *Cell[E]) Put(ctx context.Context, e E) error { return c.put(ctx, e, false) }

// PutLast is Put for the last envelope the cell takes (an actor's stop):
// once it is queued the cell is sealed, and puts after it are refused with
// ErrCellClosed, so that nothing a put accepted waits behind it. It never
// goes near: a sender on the locked path could pass it there. Unlike Put,
// it waits for room also while no executor is live.
func (c *Cell[E]) PutLast(ctx context.Context, e E) error { return c.put(ctx, e, true) }

// refuses says the cell takes no more envelopes: closed, or sealed.
func (c *Cell[E]) refuses() bool { return c.closed.Load() || c.sealed.Load() }

func (c *Cell[E]) put(ctx context.Context, e E, last bool) error {
	if !last && c.putNear(e) {
		return nil
	}
	for {
		c.mu.Lock()
		if c.refuses() {
			c.mu.Unlock()
			return ErrCellClosed
		}
		if len(c.q)-c.over < c.size {
			err := c.appendLocked(e)
			if err == nil && last {
				c.sealed.Store(true)
			}
			c.mu.Unlock()
			if err == nil {
				c.nudge()
			}
			return err
		}
		if err := c.placeStrandedLocked(); err != nil && !(last && errors.Is(err, ErrNoExecutor)) {
			c.mu.Unlock()
			return err
		}
		// The last envelope waits for room also while no executor is
		// live: the cell is listed stranded, and the turn an executor
		// back in service gives it makes room (Close ends the wait).
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		if err := c.wait(ctx, room); err != nil {
			return err
		}
	}
}

func (c *Cell[E]) wait(ctx context.Context, room chan struct{}) error {
	if c.Executor().group.SpinRoom(room) {
		return nil
	}
	// The caller's wait, whatever group it serves: see Block.
	resume, err := Block()
	if err != nil {
		return err
	}
	defer resume()
	select {
	case <-room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryPut queues e if there is room, without waiting; it reports whether it
// did (ErrMailboxFull when full, or as Put).
func (c *Cell[E]) TryPut(e E) error { return c.tryPut(e, false, false) }

// TryPutLast is TryPut for the last envelope, as PutLast.
func (c *Cell[E]) TryPutLast(e E) error { return c.tryPut(e, true, false) }

// TryPutLastStranded is TryPutLast, but where no executor takes the cell
// and envelopes are left in it (stranded, see unplacedLocked) e is queued
// behind them all the same: an executor back in service places the cell
// with them (PlaceStranded), so that the last envelope (an actor's stop)
// comes after what was accepted before it rather than have the caller
// refuse those unseen. A full cell answers ErrMailboxFull then, stranded
// or not: PutLast waits for room, as long as the cell is stranded too.
func (c *Cell[E]) TryPutLastStranded(e E) error { return c.tryPut(e, true, true) }

// TryPutFirst queues a fresh cell's first envelope (an actor's start)
// outside its bound, which is for the envelopes of its senders: they find
// as much room before the turn took it as after. It fails only as Put does
// on a closed cell or where no executor is live.
func (c *Cell[E]) TryPutFirst(e E) error {
	c.mu.Lock()
	err := ErrCellClosed
	if !c.refuses() {
		if err = c.appendLocked(e); err == nil {
			c.over++
		}
	}
	c.mu.Unlock()
	if err == nil {
		c.nudge()
	}
	return err
}

func (c *Cell[E]) tryPut(e E, last, strand bool) error {
	if !last && c.putNear(e) {
		return nil
	}
	c.mu.Lock()
	var err error
	switch {
	case c.refuses():
		err = ErrCellClosed
	case len(c.q)-c.over >= c.size:
		err = ErrMailboxFull
		if perr := c.placeStrandedLocked(); perr != nil && !(strand && errors.Is(perr, ErrNoExecutor)) {
			err = perr // stranded: the caller's PutLast waits for room (see put)
		}
	default:
		err = c.appendLocked(e)
		if strand && errors.Is(err, ErrNoExecutor) && c.stranded.Load() && c.leftLocked() {
			c.q = append(c.q, e) // placed with the rest (strandLocked listed the cell)
			err = nil
		}
		if err == nil && last {
			c.sealed.Store(true)
		}
	}
	c.mu.Unlock()
	if err == nil {
		c.nudge()
	}
	return err
}

// placeStrandedLocked places a stranded cell (idle with envelopes no
// executor could take) for a sender that found its queue full: only a turn
// frees room, and no put schedules the cell while the queue is full, so it
// would take no message again even once an executor is back. It returns
// the error when no executor takes it still.
func (c *Cell[E]) placeStrandedLocked() error {
	if !c.stranded.Load() {
		return nil
	}
	return c.scheduleLocked()
}

// nudge tells the active turn, after a sender queued an envelope and let go
// of mu, that one came (see fresh). Read first: a stream sets it once for
// each batch the turn takes, not for each envelope.
func (c *Cell[E]) nudge() {
	if c.phase() == cellActive && !c.fresh.Load() {
		c.fresh.Store(true)
	}
}

// appendLocked queues e and schedules the cell; when it cannot be scheduled
// e is taken back, so an error always means e was not queued.
func (c *Cell[E]) appendLocked(e E) error {
	c.q = append(c.q, e)
	prefetchAhead(c.q)
	if c.phase() == cellNear && !c.lockedNear.Load() {
		c.lockedNear.Store(true)
	}
	if err := c.scheduleLocked(); err != nil {
		var zero E
		c.q[len(c.q)-1] = zero
		c.q = c.q[:len(c.q)-1]
		return err
	}
	return nil
}

// Unschedule is called when the cell was taken off a queue and could not be
// placed anywhere (no executor was live): it is idle again, so the next
// message schedules it.
//
// Called for a cell its executor's goroutine queued with putNear (from the
// owner: an aborting executor's run, or its flushLocal), it first moves
// those envelopes to the locked queue, or drops them once the cell is
// closed, so they reach Close or are resolved.
//
// Called by another goroutine (Group.Abort drops its mailbox's whole
// batch, which may hold a stale entry for a cell that ran since), it acts
// only on a cell still scheduled, a phase only the lock's holder leaves.
// An idle cell's owner may make it near without the lock at any moment,
// and then only the owner touches near; a near or active one is the
// owner's or its turn's.
func (c *Cell[E]) Unschedule() {
	c.mu.Lock()
	if c.phase() != cellScheduled && !c.ownedHere() {
		c.mu.Unlock()
		return
	}
	drop := c.leaveNearLocked()
	idle := c.phase() == cellScheduled
	if idle {
		if c.closed.Load() { // no Close is to come for what is left
			drop = append(drop, c.takeLeftLocked()...)
		}
		if c.strandLocked() {
			idle = c.placeLocked() != nil
		}
	}
	c.mu.Unlock()
	c.drop(drop)
	if idle {
		c.host.Idle() // what waited for the cell to be idle (a kill) goes on
	}
}

// ownedHere reports whether the caller is the owner of the cell's executor.
func (c *Cell[E]) ownedHere() bool {
	return c.exec.Load().Runs()
}

// LeaveNear is called by an owner that moves the cell off its local run
// queue to the mailbox (it ends): envelopes queued near go to the locked
// queue, ahead of it, and the cell counts as scheduled the usual way.
func (c *Cell[E]) LeaveNear() {
	c.mu.Lock()
	drop := c.leaveNearLocked()
	c.mu.Unlock()
	c.drop(drop)
}

// leaveNearLocked ends the cell's near state, on the owner: the near
// envelopes go ahead of q, or, once the cell is closed, are returned for
// the caller to drop after unlocking (a dropped Ask's answer may be a
// message to this very actor).
func (c *Cell[E]) leaveNearLocked() (drop []E) {
	if c.phase() != cellNear {
		return nil
	}
	c.setPhase(cellScheduled)
	if c.closed.Load() {
		drop, c.near = c.near, nil
		return drop
	}
	c.mergeNearLocked()
	return nil
}

// drop hands envelopes that will never be delivered to the host.
func (c *Cell[E]) drop(es []E) {
	for _, e := range es {
		c.host.Drop(e)
	}
}

// restNear ends a turn's pass over near, which delivered near[:from]: the
// rest (past Throughput, or left by a Goexit) go ahead of q.
func (c *Cell[E]) restNear(from int) {
	if from == len(c.near) {
		c.near = c.near[:0]
		return
	}
	c.mu.Lock()
	n := copy(c.near, c.near[from:])
	clear(c.near[n:])
	c.near = c.near[:n]
	c.mergeNearLocked()
	c.mu.Unlock()
}

// mergeNearLocked puts the envelopes queued near ahead of q, on the owner.
func (c *Cell[E]) mergeNearLocked() {
	if len(c.near) == 0 {
		return
	}
	if len(c.q) > 0 {
		c.near = append(c.near, c.q...)
		clear(c.q)
	}
	c.q, c.near = c.near, c.q[:0]
}

// scheduleLocked puts an idle cell on its executor's queue, on another live
// one when its executor went down.
func (c *Cell[E]) scheduleLocked() error {
	// Load first: a failed CAS still takes the line from the turn.
	if s := c.state.Load(); s&phaseMask != cellIdle || !c.state.CompareAndSwap(s, s&execMask|cellScheduled) {
		return nil // scheduled already, or the active turn schedules the next
	}
	c.leaveStallLocked()
	return c.placeLocked()
}

// placeLocked puts a cell marked scheduled on its executor's queue (see
// scheduleLocked); it is idle again when no executor takes it.
func (c *Cell[E]) placeLocked() error {
	for {
		x := c.exec.Load()
		switch x.Schedule(c) {
		case Pushed:
			return nil
		case Gone:
			// x too, when it came back since the push found it gone.
			if e := c.host.Home(); e != nil {
				c.setExec(e)
				continue
			}
			if c.strandLocked() {
				continue
			}
			return ErrNoExecutor
		default: // aborted: the runtime is stopping
			c.unplacedLocked()
			return ErrStopped
		}
	}
}

// leftLocked says envelopes are queued, or left in the batch.
func (c *Cell[E]) leftLocked() bool { return len(c.q) > 0 || c.bpos < len(c.batch) }

// unplacedLocked makes a cell no executor took idle again, marking it
// stranded when envelopes are left (for Close).
func (c *Cell[E]) unplacedLocked() {
	c.stranded.Store(c.leftLocked()) // before idle: putNear reads them in that order
	c.setPhase(cellIdle)
	if g := c.exec.Load().group; c.stranded.Load() && !g.aborted.Load() {
		// No sender may come to place it: an executor back in service does.
		g.strand(c)
	}
}

// strandLocked makes a cell that no executor took, none being live, idle
// again (see unplacedLocked), and reports whether one is live after all
// once the cell is listed stranded, the cell then marked scheduled again
// for the caller to place: an executor back in service places the cells
// listed when it comes back (PlaceStranded), which may be after the
// caller found none live and before the cell was listed, and nothing
// would place it then.
func (c *Cell[E]) strandLocked() (again bool) {
	c.unplacedLocked()
	if !c.stranded.Load() || c.exec.Load().group.aborted.Load() || c.host.Home() == nil {
		return false
	}
	s := c.state.Load()
	return c.state.CompareAndSwap(s, s&execMask|cellScheduled)
}

// placeStranded places a cell left stranded (see unplacedLocked) again, for
// [Group.PlaceStranded]; it is stranded, and listed, again when no executor
// takes it still.
func (c *Cell[E]) placeStranded() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stranded.Load() && !c.closed.Load() {
		_ = c.scheduleLocked()
	}
}

// Close refuses further envelopes and returns those still queued, in order,
// for the caller to resolve; senders waiting for room see ErrCellClosed. The
// rest of a batch a turn is working through is left to that turn (its
// deliver sees the actor stopped); without one, Close takes it too.
//
// Envelopes the executor's goroutine queued without the lock (putNear) are
// not Close's: the turn that is queued for them delivers them (its deliver
// sees the actor stopped), or they are dropped if that turn never runs.
func (c *Cell[E]) Close() []E {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed.Store(true)
	var left []E
	// Only a batch with envelopes left is Close's to touch: a turn queued
	// near (its cell was idle, so its batch is spent) reads the batch
	// without the lock as it begins.
	if c.phase() != cellActive && c.bpos < len(c.batch) {
		left = append(left, c.batch[c.bpos:]...)
		clear(c.batch)
		c.batch, c.bpos = nil, 0
	}
	left = append(left, c.q...)
	c.q, c.over = nil, 0
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	return left
}

// Idle reports whether no turn of the cell runs or is queued.
//
// It takes the lock: a put that fails to place the cell marks it scheduled
// for a moment under the lock, and a kill that saw that would wait for an
// Idle call that never comes.
func (c *Cell[E]) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.phase() == cellIdle
}

// prefetchAhead asks the CPU for the cache line prefetchBytes past
// q's end, within its capacity, for writing: the line the sender's appends
// reach a few envelopes later.
//
// A stream's queue reuses the spent batch the turn on another CPU read and
// cleared, so each of its lines is in that CPU's cache when the sender
// appends to it. Fetched there by the append's store, the line's transfer
// is waited for in full at the unlock (a locked instruction drains the
// store buffer), once every line's worth of envelopes: in the counting
// benchmark (one sender, 32-byte envelopes) the sender's Unlock held 18%
// of the CPU samples, and a message took 118 ns (median of eight runs,
// cross-CPU round trip about 230 ns); fetched ahead, the transfer overlaps
// the sends before it: 92 ns, in eight runs interleaved with those.
func prefetchAhead[E any](q []E) {
	var e E
	size := int(unsafe.Sizeof(e))
	if size == 0 {
		return
	}
	if n := len(q) + max(1, prefetchBytes/size); n < cap(q) {
		prefetchw(unsafe.Pointer(&q[:cap(q)][n]))
	}
}

// prefetchBytes is how far past the queue's end prefetchAhead reaches: four
// lines (128 to 1024 measured alike).
const prefetchBytes = 256
