package actors

// A cell's turn: the batch it takes under the cell's lock, the gather
// that lets a stream's batches grow, the end of a turn that runs dry or
// passes on, and the trim that gives an idle cell's queues back.

import (
	"context"
	"errors"
	"time"
)

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
	// A cell queued near is on this owner's local run queue, and only this
	// owner touches near: its turn starts without the lock.
	w := turnOwner(ctx)
	s := c.state.Load()
	near := s&phaseMask == cellNear && c.state.CompareAndSwap(s, s&execMask|cellActive|w.tag())
	if near {
		c.markTurn(w)
	}
	took := false
	if !near {
		c.mu.Lock()
		if c.activate(w.tag()) == cellActive {
			c.mu.Unlock()
			return // the active turn schedules the next
		}
		if e := ExecutorOf(ctx); e != nil && e != c.exec.Load() {
			c.setExec(e)
		}
		c.markTurn(w)
		if c.stranded.Load() {
			c.stranded.Store(false)
		}
		if c.bpos == len(c.batch) {
			c.takeLocked()
			took = true
		}
		c.mu.Unlock()
	}
	// The batch is worked through in locals, written back before anything
	// else reads them (the lock, a Goexit): a turn writes nothing per
	// envelope on the cell, whose fields senders write.
	host, batch, pos := c.host, c.batch, c.bpos
	k, npos := 0, 0
	done := false
	defer func() {
		if !done { // deliver ended the goroutine (runtime.Goexit): let the next turn go on
			c.bpos = pos
			if near {
				c.restNear(npos)
			}
			c.endTurn()
		}
	}()
	var zero E
	if near {
		// The near envelopes first: the cell is active, so no one else
		// touches near until this turn ends, on whichever goroutine.
		for npos < len(c.near) && k < Throughput {
			e := c.near[npos]
			c.near[npos] = zero
			npos++
			k++
			c.setEnding(npos == len(c.near) && pos == len(batch) && !c.lockedNear.Load() && !c.fresh.Load())
			host.Deliver(ctx, e)
		}
		c.restNear(npos)
		near = false // done with near: a Goexit from here on must not redo it
	}
	for ; ; k = 0 {
		for ; k < Throughput; k++ {
			if pos == len(batch) {
				c.refill(pos, took)
				batch, pos, took = c.batch, c.bpos, true
				if len(batch) == 0 { // drained: end the turn under the same lock
					done = true
					idle, drop, _ := c.endTurnLocked()
					c.mu.Unlock()
					c.drop(drop)
					if idle {
						host.Idle()
					}
					return
				}
				c.mu.Unlock()
			}
			e := batch[pos]
			batch[pos] = zero
			pos++
			// Not on a batch left from the last turn (took is false):
			// what was queued while the cell waited set no fresh.
			c.setEnding(pos == len(batch) && took && !c.fresh.Load())
			host.Deliver(ctx, e)
		}
		if c.exec.Load().goOn() {
			continue // nothing else waits: no pass (see Executor.goOn)
		}
		done = true
		c.bpos = pos
		if !c.passTurn() {
			return
		}
		done = false
	}
}

// activate makes the cell active for the turn tagged tag, under mu, and
// returns the phase it was in. A CAS, not a store: putNear may be leaving
// idle meanwhile. An active cell keeps its turn's tag.
func (c *Cell[E]) activate(tag cellState) cellState {
	for {
		s := c.state.Load()
		if s&phaseMask == cellActive {
			return cellActive
		}
		if c.state.CompareAndSwap(s, s&execMask|cellActive|tag) {
			return s & phaseMask
		}
	}
}

// refill takes the queue for a turn whose batch ran dry at pos, and returns
// holding mu. Drained, as far as the senders said (fresh), a turn on an
// executor with nothing else to do lingers a moment for the next envelope
// of a stream, instead of ending and being scheduled again for each one;
// then it takes the queue, under the one lock a dry turn takes. A turn that
// has not taken the queue yet (took is false: it began near, or on a batch
// left from the last turn) takes it first, since fresh does not cover what
// was queued before it began, and lingers only if it found nothing.
//
// A turn that keeps up with a stream would take each envelope as it comes,
// the sender and the turn then taking the lock in turns, a cache-line
// transfer for every envelope. So once the last take found a stream (two or
// more) and the next envelope is there, the turn gathers a moment more (see
// Executor.gather) and takes a batch. Not when the last take found the
// mailbox half full: its sender would wait for room meanwhile.
func (c *Cell[E]) refill(pos int, took bool) {
	x := c.exec.Load()
	if took && !c.closed.Load() && x.mayLinger() {
		if !c.fresh.Load() {
			x.linger(c.fresh.Load)
		}
		if c.last >= 2 && 2*int(c.last) <= c.size && c.fresh.Load() {
			x.gather(c.gatherTime())
		}
	}
	c.mu.Lock()
	c.bpos = pos
	c.takeLocked()
	if len(c.batch) == 0 && !took && !c.closed.Load() && x.mayLinger() {
		c.mu.Unlock()
		x.linger(c.fresh.Load)
		c.mu.Lock()
		c.takeLocked()
	}
}

// gatherTime is how long this turn gathers the stream's next batch:
// gatherMin at first, then twice the last gather's while the takes find
// fewer envelopes than gatherBatch (or a quarter of the mailbox, so that
// the sender seldom waits for room: only a rate that more than doubles
// within a gather fills the rest), half as long once they find more,
// within gatherMin and gatherMax, and from gatherMin again after a take
// of one or none (takeLocked): a fast stream gathers its batch in a few
// microseconds, a slower one waits longer for it, and a conversation
// (ping-pong) whose take finds two now and then waits gatherMin, not what
// its chance pairs grew to (gather looks only at the executor's mailbox,
// so the turn waits it out while its peer waits for its reply).
func (c *Cell[E]) gatherTime() time.Duration {
	d := gatherMin << c.gatherShift
	if int(c.last) < min(gatherBatch, c.size/4) {
		if d < gatherMax {
			c.gatherShift++
		}
	} else if c.gatherShift > 0 {
		c.gatherShift--
	}
	return d
}

// takeLocked makes the queue the turn's batch, freeing its room for senders,
// and gives the spent batch back to the queue: a stream of messages reuses
// the two slices, and trim gives a burst's memory back once the cell is
// idle and its executor parks.
func (c *Cell[E]) takeLocked() {
	c.batch, c.q, c.bpos, c.over = c.q, c.batch[:0], 0, 0
	c.last = int32(len(c.batch))
	if c.last < 2 && c.gatherShift != 0 {
		c.gatherShift = 0 // no stream: a conversation's chance pair must not wait out a long gather
	}
	c.takes++
	if c.fresh.Load() {
		c.fresh.Store(false)
	}
	if c.lockedNear.Load() {
		c.lockedNear.Store(false)
	}
	if len(c.batch) > 0 && c.room != nil { // senders wait for room
		close(c.room)
		c.room = nil
		c.exec.Load().wokeWaiter()
	}
}

// endTurn makes the cell idle, or schedules it again when envelopes remain
// or a send came in during the turn.
func (c *Cell[E]) endTurn() {
	c.mu.Lock()
	idle, drop, _ := c.endTurnLocked()
	c.mu.Unlock()
	c.drop(drop)
	if idle {
		c.host.Idle()
	}
}

// passTurn ends a turn that reached Throughput as endTurn does, unless no
// executor takes the cell again because its own drained (a graceful stop)
// while this turn ran on a handler's goroutine that had handed it on (see
// Block): the stop waits for this very goroutine, and the envelopes
// left would be stranded, then refused. Then the cell stays active and
// passTurn reports that the turn goes on with them.
func (c *Cell[E]) passTurn() (goOn bool) {
	c.mu.Lock()
	tag := c.state.Load() &^ (execMask | phaseMask)
	idle, drop, err := c.endTurnLocked()
	if errors.Is(err, ErrStopped) && !c.exec.Load().group.aborted.Load() {
		// Active again, with the turn's tag: before stranded is cleared,
		// as putNear reads them in the other order.
		c.state.Store(c.state.Load()&execMask | cellActive | tag)
		c.stranded.Store(false)
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	c.drop(drop)
	if idle {
		c.host.Idle()
	}
	return false
}

// endTurnLocked is endTurn under mu; it reports whether the cell is idle,
// and returns the envelopes left when the cell is closed, for the caller to
// drop once it let go of mu, and why the cell could not be placed again.
//
// The cell never shows idle while envelopes remain: the owner's putNear
// could otherwise queue a sender's next envelope ahead of one it queued
// under the lock. A closed cell is not scheduled again for what is left
// (Close left the rest of the batch to this turn, and placing the cell may
// fail, which would strand them): they are dropped, each resolved.
func (c *Cell[E]) endTurnLocked() (idle bool, drop []E, err error) {
	if c.closed.Load() {
		drop = c.takeLeftLocked()
	}
	if c.leftLocked() {
		c.setPhase(cellScheduled)
		// An error here leaves the envelopes to Close: the runtime stops.
		err = c.placeLocked()
		return err != nil, nil, err
	}
	// A burst's memory goes back once the executor parks (see trim), not
	// here: a stream that pauses for a moment would allocate its queue
	// afresh each time, and the garbage would pause it again. near is read
	// before the cell shows idle: from then on it is the owner's, whose
	// putNear appends to it without the lock, and this turn may go on on a
	// goroutine that handed the executor on.
	big := max(cap(c.q), cap(c.batch), cap(c.near)) > cellKeep
	c.setPhase(cellIdle)
	if x := c.exec.Load(); c.trimOn != x && big {
		c.trimOn, c.trimTakes = x, c.takes
		x.addTrim(c)
	}
	return true, drop, nil
}

// takeLeftLocked takes the envelopes a closed cell still holds (the rest of
// its batch, and its queue), in order.
func (c *Cell[E]) takeLeftLocked() []E {
	n := len(c.batch) - c.bpos + len(c.q)
	if n == 0 {
		return nil
	}
	left := make([]E, 0, n)
	left = append(append(left, c.batch[c.bpos:]...), c.q...)
	clear(c.batch)
	clear(c.q)
	c.batch, c.bpos, c.q, c.over = c.batch[:0], 0, c.q[:0], 0
	return left
}

// trim gives back the queue memory of a cell still idle when its executor
// x parks (parked), or, when x keeps finding work, of one that had no turn
// since it was listed: an idle actor keeps little, and a stream that pauses
// now and then keeps its queues (regrown at every trim, they took 250 KB
// and 60 page faults each time in a stream to a counter). Called by x's
// owner (near is trimmed only then).
func (c *Cell[E]) trim(x *Executor, parked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trimOn != x {
		return // listed again since, on another executor
	}
	c.trimOn = nil
	if c.exec.Load() != x {
		// It floated to another executor since (see Follow), whose owner
		// may make it near, and run it, without the lock.
		return
	}
	if c.phase() != cellIdle || c.leftLocked() {
		return // at work again (its next idle lists it again), or stranded with envelopes
	}
	if !parked && c.takes != c.trimTakes {
		// At work since it was listed, and idle again: that idle did not
		// list it (it was listed still), and no next idle may come, so it
		// stays listed, for x's park or its next trimAge.
		c.trimOn, c.trimTakes = x, c.takes
		x.addTrim(c)
		return
	}
	if cap(c.q) > cellKeep {
		c.q = nil
	}
	if cap(c.batch) > cellKeep {
		c.batch, c.bpos = nil, 0
	}
	// The queues trade slices with near (mergeNearLocked), which only the
	// owner touches: x's, as it parks, while the cell is idle on x.
	if x.Runs() && cap(c.near) > cellKeep {
		c.near = nil
	}
}

// Active reports whether a turn of the cell runs, without the lock: a
// moment's answer, exact for the turn's own goroutine.
func (c *Cell[E]) Active() bool { return c.phase() == cellActive }

// turnOwner returns the goroutine that runs a turn with ctx: the owner of
// ctx's executor, or nil.
func turnOwner(ctx context.Context) *worker {
	if e := ExecutorOf(ctx); e != nil {
		return e.owner.Load()
	}
	return nil
}

// tag is w's goroutine's tag in a cell's state word while it runs the
// cell's turn (see InTurn): the low 31 bits of its id above a bit always
// set, never 0; 0 for nil.
func (w *worker) tag() cellState {
	if w == nil {
		return 0
	}
	return goTag(w.id)
}

// goTag is the tag of goroutine g (see worker.tag). The id is shifted
// past the bit that keeps the tag from 0, not folded into it: goroutines
// started one after another, as a group's owners are, have ids that differ
// in the lowest bit alone, and in the moment before a turn's markTurn
// turnBy cannot tell them apart (it names the last turn's goroutine).
func goTag(g uint64) cellState { return cellState(uint32(g)<<1|1) << tagShift }

// markTurn notes w, the goroutine that runs the turn beginning (written
// only when it changed: most turns run on the goroutine of the last).
func (c *Cell[E]) markTurn(w *worker) {
	if w != nil && c.turnBy.Load() != w.id {
		c.turnBy.Store(w.id)
	}
}

// InTurn reports whether the caller's goroutine runs the cell's active
// turn (also while it waits beside its executor's next owner): not
// another handler, nor a goroutine the turn started. The state word's tag
// says which goroutine began the active turn from the moment it did,
// before markTurn notes it in turnBy: in between, turnBy still names the
// goroutine of a turn that ended, which may be running another turn that
// waits on this cell. turnBy tells apart goroutines whose tags are alike
// (ids 2^31 apart) once markTurn ran.
func (c *Cell[E]) InTurn() bool {
	s, g := c.state.Load(), goid()
	return s&phaseMask == cellActive && s&^(execMask|phaseMask) == goTag(g) && c.turnBy.Load() == g
}
