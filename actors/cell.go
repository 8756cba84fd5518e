package actors

import (
	"context"
	"sync"
	"sync/atomic"
)

// Throughput is how many messages an actor handles in one turn before the
// others on its executor get theirs (fairness, as Pony and Akka batch).
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
// takes them all at once), so a mailbox holds at most twice its size. The
// queue grows with use and gives a burst's memory back once drained.
type Cell[E any] struct {
	host Host[E]

	mu sync.Mutex
	q  []E // queued, not yet taken by a turn
	// A turn lingering for the next envelope (see Executor.linger) sets
	// lingering under mu and polls fresh; a sender that queues meanwhile
	// sets fresh.
	lingering bool
	fresh     atomic.Bool
	size      int
	exec      *Executor
	state     cellState
	closed    bool
	room      chan struct{} // closed when a turn frees room; made only while senders wait

	// the active turn's batch; taken under mu, worked through without it
	batch []E
	bpos  int
}

// cellKeep bounds the queue slices an idle cell keeps, in envelopes: a
// steady stream reuses them, a burst gives its memory back.
const cellKeep = Throughput

type cellState uint8

const (
	cellIdle      cellState = iota // not queued anywhere
	cellScheduled                  // on its executor's queue
	cellActive                     // a turn runs; it schedules the next when work remains
)

// Host is the typed half of an actor, which its cell calls.
type Host[E any] interface {
	// Deliver handles one envelope, on the cell's executor.
	Deliver(ctx context.Context, e E)
	// Home returns a live executor for a cell whose executor went down, or nil.
	Home() *Executor
	// Idle is called after the cell went idle: on the executor after a turn,
	// or where it was unscheduled (an executor that could not run it).
	Idle()
}

// NewCell returns a cell on executor e whose queue holds at most size
// envelopes, handing each to host on e's goroutine.
func NewCell[E any](e *Executor, size int, host Host[E]) *Cell[E] {
	return &Cell[E]{exec: e, size: max(size, 1), host: host}
}

// Executor returns the executor the cell runs on.
func (c *Cell[E]) Executor() *Executor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exec
}

// Put queues e, waiting for room until ctx ends. It returns ErrMailboxFull
// when ctx ends first, ErrCellClosed once the cell is closed, or
// ErrNoExecutor when no executor can take the cell.
func (c *Cell[E]) Put(ctx context.Context, e E) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrCellClosed
		}
		if len(c.q) < c.size {
			err := c.appendLocked(e)
			c.mu.Unlock()
			return err
		}
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
	g := c.Executor().group
	if g.SpinRoom(room) {
		return nil
	}
	resume, err := g.Block()
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
func (c *Cell[E]) TryPut(e E) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrCellClosed
	case len(c.q) >= c.size:
		return ErrMailboxFull
	}
	return c.appendLocked(e)
}

// appendLocked queues e and schedules the cell; when it cannot be scheduled
// e is taken back, so an error always means e was not queued.
func (c *Cell[E]) appendLocked(e E) error {
	c.q = append(c.q, e)
	if err := c.scheduleLocked(); err != nil {
		var zero E
		c.q[len(c.q)-1] = zero
		c.q = c.q[:len(c.q)-1]
		return err
	}
	if c.lingering {
		c.fresh.Store(true)
	}
	return nil
}

// Unschedule is called when the cell was taken off a queue and could not be
// placed anywhere (no executor was live): it is idle again, so the next
// message schedules it.
func (c *Cell[E]) Unschedule() {
	c.mu.Lock()
	idle := c.state == cellScheduled
	if idle {
		c.state = cellIdle
	}
	c.mu.Unlock()
	if idle {
		c.host.Idle() // what waited for the cell to be idle (a kill) goes on
	}
}

// scheduleLocked puts an idle cell on its executor's queue, on another live
// one when its executor went down.
func (c *Cell[E]) scheduleLocked() error {
	if c.state != cellIdle {
		return nil // scheduled already, or the active turn schedules the next
	}
	for {
		switch c.exec.Schedule(c) {
		case Pushed:
			c.state = cellScheduled
			return nil
		case Gone:
			if e := c.host.Home(); e != nil && e != c.exec {
				c.exec = e
				continue
			}
			return ErrNoExecutor
		default: // aborted: the runtime is stopping
			return ErrStopped
		}
	}
}

// Task is nil: a cell is a Scheduled runnable, not a token.
func (c *Cell[E]) Task() *Task { return nil }

// Run is not called for a Scheduled runnable.
func (c *Cell[E]) Run(context.Context) error { return nil }

// Turn hands up to Throughput envelopes to deliver (see [Cell]). It takes
// the queued envelopes as a batch under one lock, as the executor's mailbox
// does, and works through it without the lock. The cell follows the executor
// running the turn, so a cell moved off an executor that went down stays on
// its new one.
func (c *Cell[E]) Turn(ctx context.Context) {
	c.mu.Lock()
	if c.state == cellActive {
		c.mu.Unlock()
		return // the active turn schedules the next
	}
	c.state = cellActive
	if e := ExecutorOf(ctx); e != nil {
		c.exec = e
	}
	if c.bpos == len(c.batch) {
		c.takeLocked()
	}
	c.mu.Unlock()
	done := false
	defer func() {
		if !done { // deliver ended the goroutine (runtime.Goexit): let the next turn go on
			c.endTurn()
		}
	}()
	var zero E
	for k := 0; k < Throughput; k++ {
		if c.bpos == len(c.batch) {
			c.mu.Lock()
			c.takeLocked()
			if e := c.exec; len(c.batch) == 0 && !c.closed && e.mayLinger() {
				// Drained: an executor with nothing else to do waits a
				// moment for the next envelope of a stream, instead of
				// ending the turn and scheduling it again for each one.
				c.lingering = true
				c.fresh.Store(false)
				c.mu.Unlock()
				e.linger(c.fresh.Load)
				c.mu.Lock()
				c.lingering = false
				c.takeLocked()
			}
			if len(c.batch) == 0 { // drained: end the turn under the same lock
				done = true
				idle := c.endTurnLocked()
				c.mu.Unlock()
				if idle {
					c.host.Idle()
				}
				return
			}
			c.mu.Unlock()
		}
		e := c.batch[c.bpos]
		c.batch[c.bpos] = zero
		c.bpos++
		c.host.Deliver(ctx, e)
	}
	done = true
	c.endTurn()
}

// takeLocked makes the queue the turn's batch, freeing its room for senders,
// and gives the spent batch back to the queue: a stream of messages reuses
// the two slices, and endTurnLocked gives a burst's memory back once the
// cell goes idle.
func (c *Cell[E]) takeLocked() {
	c.batch, c.q, c.bpos = c.q, c.batch[:0], 0
	if len(c.batch) > 0 && c.room != nil { // senders wait for room
		close(c.room)
		c.room = nil
		c.exec.wokeWaiter()
	}
}

// endTurn makes the cell idle, or schedules it again when envelopes remain
// or a send came in during the turn.
func (c *Cell[E]) endTurn() {
	c.mu.Lock()
	idle := c.endTurnLocked()
	c.mu.Unlock()
	if idle {
		c.host.Idle()
	}
}

// endTurnLocked is endTurn under mu; it reports whether the cell is idle.
func (c *Cell[E]) endTurnLocked() bool {
	c.state = cellIdle
	if len(c.q) > 0 || c.bpos < len(c.batch) {
		_ = c.scheduleLocked() // an error here leaves the envelopes to Close
	}
	if c.state != cellIdle {
		return false
	}
	if len(c.q) > 0 || c.bpos < len(c.batch) {
		return true // unscheduled with envelopes left, for Close
	}
	// An idle actor keeps little: a burst's memory goes back.
	if cap(c.q) > cellKeep {
		c.q = nil
	}
	if cap(c.batch) > cellKeep {
		c.batch, c.bpos = nil, 0
	}
	return true
}

// Close refuses further envelopes and returns those still queued, in order,
// for the caller to resolve; senders waiting for room see ErrCellClosed. The
// rest of a batch a turn is working through is left to that turn (its
// deliver sees the actor stopped); without one, Close takes it too.
func (c *Cell[E]) Close() []E {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var left []E
	if c.state != cellActive {
		left = append(left, c.batch[c.bpos:]...)
		clear(c.batch)
		c.batch, c.bpos = nil, 0
	}
	left = append(left, c.q...)
	c.q = nil
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	return left
}

// Idle reports whether no turn of the cell runs or is queued.
func (c *Cell[E]) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == cellIdle
}
