package actors

import (
	"context"
	"sync"
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
// The queue grows with use up to its bound and gives its memory back once
// drained, so an idle cell costs a few hundred bytes.
type Cell[E any] struct {
	deliver func(ctx context.Context, e E)
	home    func() *Executor // a live executor, when the cell's went down

	mu      sync.Mutex
	q       []E
	head    int
	size    int
	exec    *Executor
	state   cellState
	closed  bool
	room    chan struct{} // closed when a turn frees room; made only while senders wait
	waiting int
}

// cellKeep bounds the queue an idle cell keeps, in envelopes.
const cellKeep = 8

type cellState uint8

const (
	cellIdle      cellState = iota // not queued anywhere
	cellScheduled                  // on its executor's queue
	cellActive                     // a turn runs
	cellAgain                      // a turn runs and another is due when it ends
)

// NewCell returns a cell on executor e whose queue holds at most size
// envelopes, handing each to deliver on e's goroutine. home, called when e
// refuses the cell because it went down, returns a live executor or nil.
func NewCell[E any](e *Executor, size int, deliver func(ctx context.Context, e E), home func() *Executor) *Cell[E] {
	return &Cell[E]{exec: e, size: max(size, 1), deliver: deliver, home: home}
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
		if len(c.q)-c.head < c.size {
			c.q = append(c.q, e)
			err := c.scheduleLocked()
			c.mu.Unlock()
			return err
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.waiting++
		c.mu.Unlock()
		err := c.wait(ctx, room)
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func (c *Cell[E]) wait(ctx context.Context, room chan struct{}) error {
	resume, err := c.Executor().group.Block()
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
	case len(c.q)-c.head >= c.size:
		return ErrMailboxFull
	}
	c.q = append(c.q, e)
	return c.scheduleLocked()
}

// scheduleLocked puts an idle cell on its executor's queue, on another live
// one when its executor went down.
func (c *Cell[E]) scheduleLocked() error {
	switch c.state {
	case cellIdle:
	case cellActive:
		c.state = cellAgain
		return nil
	default:
		return nil
	}
	for {
		switch c.exec.Schedule(c) {
		case Pushed:
			c.state = cellScheduled
			return nil
		case Gone:
			if e := c.home(); e != nil && e != c.exec {
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

// Turn hands up to Throughput envelopes to deliver (see [Cell]). The cell
// follows the executor running the turn, so a cell moved off an executor that
// went down stays on its new one.
func (c *Cell[E]) Turn(ctx context.Context) {
	c.mu.Lock()
	if c.state == cellActive || c.state == cellAgain {
		c.state = cellAgain // the active turn schedules the next
		c.mu.Unlock()
		return
	}
	c.state = cellActive
	if e := ExecutorOf(ctx); e != nil {
		c.exec = e
	}
	c.mu.Unlock()
	done := false
	defer func() {
		if !done { // deliver ended the goroutine (runtime.Goexit): let the next turn go on
			c.endTurn()
		}
	}()
	for range Throughput {
		e, ok := c.pop()
		if !ok {
			break
		}
		c.deliver(ctx, e)
	}
	done = true
	c.endTurn()
}

func (c *Cell[E]) pop() (E, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero E
	if c.head == len(c.q) {
		return zero, false
	}
	e := c.q[c.head]
	c.q[c.head] = zero
	c.head++
	if c.head == len(c.q) {
		c.q, c.head = c.q[:0], 0
		if cap(c.q) > min(2*c.size, cellKeep) {
			c.q = nil // an idle actor keeps little: a burst's memory goes back
		}
	}
	if c.room != nil { // senders wait for room
		close(c.room)
		c.room = nil
	}
	return e, true
}

// endTurn makes the cell idle, or schedules it again when envelopes remain
// or a send came in during the turn.
func (c *Cell[E]) endTurn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = cellIdle
	if c.head < len(c.q) {
		_ = c.scheduleLocked() // an error here leaves the envelopes to Close
	}
}

// Len returns the envelopes queued.
func (c *Cell[E]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q) - c.head
}

// Close refuses further envelopes and returns those still queued, in order,
// for the caller to resolve; senders waiting for room see ErrCellClosed.
func (c *Cell[E]) Close() []E {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	left := append([]E(nil), c.q[c.head:]...)
	c.q, c.head = nil, 0
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
