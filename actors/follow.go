package actors

// An actor placed by weight (not pinned by OnExecutor or ChildOf) floats: a
// hand-off from an actor on another executor, whose turn delivers the last
// envelope it knows of, on an executor with nothing else queued, brings the
// idle cell to that executor, so that a chain of actors passing one message
// along (a pipeline at light load, a ring, a request and its reply) runs on
// one core instead of crossing CPUs at every hop: the receiver runs next
// where the sender ran, as Pony schedules an actor woken by another on the
// waker's scheduler, and the way Go runs a goroutine woken by another next
// on the waker's P. When the sender still has envelopes to work through, a
// floating cell beside it goes back to its home executor instead, so that
// under load the chain spreads over the executors it was placed on.

// Float makes the cell floating: home is the executor its placement chose.
// It goes only where its host's Fits allows: its weight range, recomputed
// over the live executors as executors go down and come back, as a
// token's is. Called once, before the cell takes its first envelope.
func (c *Cell[E]) Float(home *Executor) {
	c.home = home
}

// Ending reports whether the cell's running turn delivers the last envelope
// it knows of: its batch and near queue are spent and no sender queued one
// since (a turn that began on a batch left from the last turn knows nothing
// of the queue until it takes it). It is false but on the goroutine running
// that turn (a Receive sending on): the flag outlives the turn that set it,
// and the actor's context outlives both, kept by a handler that runs on the
// actor's executor later or while the turn waits, whose sends are no turn's
// hand-off.
func (c *Cell[E]) Ending() bool { return c.ending.Load() && c.InTurn() }

// setEnding records, before each delivery, whether the envelope is the
// turn's last known one; stored only when it changes (about twice a batch).
func (c *Cell[E]) setEnding(last bool) {
	if c.ending.Load() != last {
		c.ending.Store(last)
	}
}

// Follow queues e near on x, the executor of a sender whose turn is ending
// (see Ending), moving the cell there, when the cell floats, is idle on
// another executor of x's group, x is in its weight range over the live
// executors (see [Host]'s Fits) and has nothing else queued, and the
// caller is x's owner. It reports whether it did;
// otherwise the caller sends the usual way.
//
// It takes the lock: the cell's executor trims an idle cell's queues under
// it (see trim), and x's near turn then reads them without it.
func (c *Cell[E]) Follow(x *Executor, e E) bool {
	// A look without the lock first: most sends find the cell busy, or
	// beside them, or the sender's executor with more to run.
	if s := c.state.Load(); c.home == nil || s&phaseMask != cellIdle || s&execMask == execBits(x) ||
		!x.Runs() || x.group.aborted.Load() || x.localPos != len(x.local) || x.mb.pending() || !c.host.Fits(x) {
		return false
	}
	if followLooked != nil {
		followLooked()
	}
	c.mu.Lock()
	s := c.state.Load()
	ok := s&phaseMask == cellIdle && s&execMask != execBits(x) && !c.refuses() &&
		!c.stranded.Load() && c.exec.Load().group == x.group &&
		c.state.CompareAndSwap(s, execBits(x)|cellNear)
	if ok {
		c.exec.Store(x)
	}
	c.mu.Unlock()
	if !ok {
		return false
	}
	// x's owner, the caller, owns near from the CAS on; the turn it runs
	// for the cell takes e.
	x.local = append(x.local, c)
	c.near = append(c.near, e)
	return true
}

// followLooked, when a test sets it, runs as Follow found the cell idle
// without the lock, before it takes the lock.
var followLooked func()

// GoHome moves the cell back to its home executor when it floats, is idle
// on x, away from home, and the caller is x's owner, whose turn has more to
// do (see the file's comment): the caller's send then queues it there. Not
// to a home that is not healthy (stalled in a token, restarting, down):
// the cell would wait there while x runs on; nor to one outside its range
// now that executors went down (see Float).
func (c *Cell[E]) GoHome(x *Executor) {
	if c.home == nil || c.home == x || c.state.Load() != execBits(x)|cellIdle || !x.Runs() || !c.home.Healthy() || !c.host.Fits(c.home) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The state word names the executor by its index alone: x may be an
	// executor of another group (a sender of another runtime). A CAS: the
	// home executor's owner may make the idle cell near meanwhile, if it
	// is there already.
	if s := c.state.Load(); s == execBits(x)|cellIdle && c.exec.Load() == x && !c.stranded.Load() && c.state.CompareAndSwap(s, execBits(c.home)|cellIdle) {
		c.exec.Store(c.home)
	}
}

// leaveStallLocked sends a floating cell, just scheduled from idle, home
// when the executor it followed a hand-off to is stalled in a token and
// its home is healthy (and in its range: see Float): its envelope would
// wait there as long as the stall while its home has nothing to do. GoHome's rule the other way round, for
// the senders GoHome does not see (plain code, an actor on another
// executor): a stalled executor gets no unpinned work, and a floating cell
// is unpinned. An executor restarting keeps its actors, and one down is
// left by placeLocked.
func (c *Cell[E]) leaveStallLocked() {
	if x := c.exec.Load(); c.home != nil && c.home != x && x.Health()&Stalled != 0 && c.home.Healthy() && c.host.Fits(c.home) {
		c.setExec(c.home)
	}
}
