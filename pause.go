package coregate

import (
	"slices"
	"sync"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// Pause holds the op's tokens until [Op.Resume]: those queued now and those
// submitted (or due after [Op.SubmitAfter]) meanwhile wait without running.
// A held token takes no executor and holds up no other op's tokens: an
// executor that meets one in its queue skips it. Submit still places and
// counts new tokens as usual, and waits for room as usual. Held tokens can be
// cancelled ([Token.Cancel], [Op.CancelQueued]), a held token is cancelled
// as soon as its submitter's context ends (as a queued one is when an
// executor reaches it), and Stop resolves them with ErrStopped at once. Running tokens go on, and so does the retry of a token
// that was running or waiting out its retry backoff when Pause was called;
// no other token of the op starts after Pause returns, until Resume, even
// one whose Submit raced Pause. Pause on a paused op, or after Stop, does
// nothing.
func (op *Op[A, R]) Pause() {
	if op.unusable() {
		return
	}
	p := &op.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.info.Paused() || op.rt.stopping.Load() {
		return
	}
	if p.rt == nil {
		if !op.rt.pauses.add(p) {
			return // Stop came first: it would never resolve what this parks
		}
		p.rt = op.rt
	}
	p.info.SetPaused(true) // before the scan: a token it misses is held as it is taken
	js := op.queued(false, nil)
	if pauseScanned != nil {
		pauseScanned()
	}
	for _, j := range js {
		p.parkLocked(j)
	}
}

// pauseScanned, when a test sets it, runs as Pause has scanned the queues,
// before it parks what it found.
var pauseScanned func()

// Resume ends an [Op.Pause]: the tokens it held are queued again, each at the
// tail of its executor (past the mailbox bound: they were accepted already),
// in the order they were held. Resume on an op that is not paused does
// nothing.
func (op *Op[A, R]) Resume() {
	if op.unusable() {
		return
	}
	p := &op.pause
	p.mu.Lock()
	defer p.mu.Unlock() // Stop's drop waits until they are delivered
	if !p.info.Paused() {
		return
	}
	held := p.held
	p.held = nil
	if p.resumes++; p.resumes == 0 {
		p.resumes = 1 // 0 is holdParked's
	}
	for _, j := range held {
		if r, ok := unpark(j); ok {
			r.resume = p.resumes
			op.deliver(r)
		}
	}
	// A Submit that found the op not paused and pushed only after the
	// Pause's scan (it waited for room meanwhile) left its token queued
	// where it was pushed, ahead of those just queued again that its
	// submitter sent before it, unless its hold or an executor's Hold
	// parked it since. It goes behind them: it is its submitter's latest
	// token (its Submit has not returned), so the tail is its place. One
	// pushed after this looks is behind them already.
	again := func(j actors.Job) bool {
		r, ok := j.(*renewed)
		return ok && r.resume == p.resumes // queued again just now
	}
	for _, j := range op.queued(false, again) {
		if j.Task().Park() {
			if r, ok := unpark(j); ok {
				op.deliver(r)
			}
		}
	}
	// Only now: a Submit meanwhile still pushes its token parked, and
	// holds it (holdParked) once this lets go of mu, queued behind the
	// held ones its submitter sent before it.
	p.info.SetPaused(false)
}

// Paused reports whether the op is paused.
func (op *Op[A, R]) Paused() bool { return op != nil && op.info.Paused() }

// pause holds the tokens of a paused op.
type pause struct {
	info    *actors.Op // its op's: paused there, where executors look
	mu      sync.Mutex
	closed  bool         // the runtime stopped: nothing is held any more
	rt      *Runtime     // set when first paused, and registered with rt
	held    []actors.Job // parked, in the order they were held
	prune   int          // the length of held at which pruneLocked looks again
	resumes uint32       // Resumes that queued held tokens again, stamped on their jobs
}

// hold parks j, a token of the op that is queued or about to be, when the op
// is paused, and reports whether it did. Submit calls it after each push,
// so a token pushed while Pause scanned the queues is held too, in its
// order; one that an executor takes before this parks it is held by
// holdTaken instead, and one still queued when a Resume comes first is
// moved behind the tokens the Resume queues again.
func (p *pause) hold(j actors.Job) bool {
	if !p.info.Paused() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info.Paused() && !p.closed && p.parkLocked(j)
}

// holdParked holds j, a token pushed parked because the op was paused when
// it was submitted. When a Resume came in between, j is unparked and
// delivered again instead, as Resume does; when a Stop did, j is resolved
// with ErrStopped (the drain resolves it first if it reaches it).
func (p *pause) holdParked(j actors.Job, deliver func(actors.Job)) {
	p.mu.Lock()
	on, closed := p.info.Paused(), p.closed
	if on && !closed {
		p.held = append(p.held, j)
		p.pruneLocked()
		j.Task().WatchHeld()
	}
	p.mu.Unlock()
	if on && !closed {
		return
	}
	if closed {
		j.Task().Resolve(actors.Stopped, ErrStopped)
	} else if r, ok := unpark(j); ok {
		deliver(r)
	}
}

// holdTaken is the op's [actors.Op.Hold]: it holds j, a token that an
// executor (or a lane's worker) took from its queue to run while the op was
// paused, before it is claimed. Those are tokens that Pause's scan did not
// park: pushed after it by a Submit that found the op not paused, before
// the Submit's hold. A retry is left to run, as Pause says.
func (op *Op[A, R]) holdTaken(j actors.Job) bool {
	base := j
	if r, ok := j.(*renewed); ok {
		base = r.Job
	}
	if h, ok := base.(*hookedJob[A, R]); ok && h.tries.Load() > 0 {
		return false
	}
	return op.pause.holdTaken(j, op.lane != nil)
}

// holdTaken parks and holds j, taken to run and not claimed, while the op
// is paused, and reports whether the taker must pass it by: held, or no
// longer queued (parked or resolved meanwhile). Not when a Resume came in
// between: j is claimed where it is, where the Resume left it (it moved a
// token pushed after the Pause's scan behind the held ones, leaving j
// stale). When a Stop came, j is resolved with ErrStopped, as it would
// have been held. lane says the op's tokens share one queue, the blocking
// lane's, whatever executor accepted them.
func (p *pause) holdTaken(j actors.Job, lane bool) bool {
	t := j.Task()
	p.mu.Lock()
	on, closed := p.info.Paused(), p.closed
	if on && !closed && t.Park() {
		// Held late: tokens queued behind it (on its executor, or on the
		// lane) may be held already (Pause's scan, or Submits after its
		// own). It goes before the first of them by id, which follows
		// each submitter's order, so Resume keeps that order.
		e, at := t.Executor(), len(p.held)
		for k, h := range p.held {
			if ht := h.Task(); ht.ID() > t.ID() && (lane || ht.Executor() == e) {
				at = k
				break
			}
		}
		p.held = slices.Insert(p.held, at, j)
		p.pruneLocked()
		t.WatchHeld()
	}
	p.mu.Unlock()
	if closed {
		t.Resolve(actors.Stopped, ErrStopped)
		return true
	}
	return on
}

// unpark makes j's parked token queued again and returns the job to
// deliver for it, at its new place: the entries j left in the queues are
// stale from now on. It returns false when the token was resolved
// meanwhile.
func unpark(j actors.Job) (*renewed, bool) {
	if r, ok := j.(*renewed); ok {
		j = r.Job // renewed before: its epoch is stale too
	}
	epoch, ok := j.Task().Unpark()
	if !ok {
		return nil, false
	}
	return &renewed{Job: j, epoch: epoch}, true
}

// renewed is a token's job queued again by a Resume (actors.Renewed).
type renewed struct {
	actors.Job
	epoch  uint32
	resume uint32 // the pause's Resume that queued it, or 0 (holdParked)
}

func (r *renewed) Epoch() uint32 { return r.epoch }

// Placement is the token's own, for the router.
func (r *renewed) Placement() (*router.Rule, *router.Ticket) {
	return r.Job.(router.Placed).Placement()
}

func (p *pause) parkLocked(j actors.Job) bool {
	if !j.Task().Park() {
		return false
	}
	p.held = append(p.held, j)
	p.pruneLocked()
	j.Task().WatchHeld()
	return true
}

// minHeldPrune is the fewest held tokens among which a pause looks for
// resolved ones to let go.
const minHeldPrune = 64

// pruneLocked lets go of the held tokens resolved while held (cancelled,
// or their submitters' contexts ended) once the list has doubled since it
// last looked: Resume would pass them by, and until then each would keep
// what it holds, so a long pause under calls that time out would grow
// without bound. Amortized, it costs O(1) a token held. The caller holds
// mu.
func (p *pause) pruneLocked() {
	if len(p.held) < max(p.prune, minHeldPrune) {
		return
	}
	p.held = slices.DeleteFunc(p.held, func(j actors.Job) bool { return !j.Task().Parked() })
	p.prune = 2 * len(p.held)
}

// drop resolves every held token with o and err, holds no more, and
// returns how many it resolved.
func (p *pause) drop(o actors.Outcome, err error) int {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.closed = true
	p.info.SetPaused(false)
	p.mu.Unlock()
	n := 0
	for _, j := range held {
		if j.Task().Resolve(o, err) {
			n++
		}
	}
	return n
}

// pauses are a runtime's ops that were ever paused, for Stop, and the
// submits that pushed a token parked and have not held it yet.
type pauses struct {
	mu      sync.Mutex
	list    []*pause
	stopped bool          // stop began: no op registers any more
	parking int           // submits between their parked push and holdParked
	settled chan struct{} // made by settle while parking > 0; closed when it reaches 0
}

// park counts a submit in between its parked push and its hold.
func (ps *pauses) park() {
	ps.mu.Lock()
	ps.parking++
	ps.mu.Unlock()
}

// parked counts a submit out once it held (or resolved) its token.
func (ps *pauses) parked() {
	ps.mu.Lock()
	if ps.parking--; ps.parking == 0 && ps.settled != nil {
		close(ps.settled)
		ps.settled = nil
	}
	ps.mu.Unlock()
}

// settle waits until no submit is between its parked push and its hold:
// Stop calls it once the executors drained (so a submit waiting for room
// has been refused), and a token pushed meanwhile is resolved by its own
// submit (holdParked) before Stop returns.
func (ps *pauses) settle() {
	ps.mu.Lock()
	if ps.parking == 0 {
		ps.mu.Unlock()
		return
	}
	if ps.settled == nil {
		ps.settled = make(chan struct{})
	}
	ch := ps.settled
	ps.mu.Unlock()
	<-ch
}

// add registers a paused op, which stop will find, and reports whether it
// did: not once stop began.
func (ps *pauses) add(p *pause) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.stopped {
		return false
	}
	ps.list = append(ps.list, p)
	return true
}

// stop resolves every held token with ErrStopped; nothing is held after it,
// and no op registers to hold any.
func (ps *pauses) stop() {
	ps.mu.Lock()
	ps.stopped = true
	list := ps.list
	ps.mu.Unlock()
	for _, p := range list {
		p.drop(actors.Stopped, ErrStopped)
	}
}
