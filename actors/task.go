package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Job is what a mailbox holds, a runnable of one of two kinds. A token runs
// once: its Task is its bookkeeping, and Run runs its handler. A [Scheduled]
// runnable (an actor) runs many times and its Task is nil. The root package's
// typed tokens implement Job, so a push stores an interface holding a pointer
// and allocates nothing.
type Job interface {
	// Task returns a token's bookkeeping, the same pointer on every call; nil
	// for a Scheduled runnable.
	Task() *Task
	// Run runs a token's handler with ctx and keeps its result; it returns
	// the handler's error.
	Run(ctx context.Context) error
}

// Scheduled is a runnable run many times and never twice at once: an actor,
// put on its executor's queue ([Executor.Schedule]) whenever its mailbox turns
// non-empty. Each turn runs on the executor's goroutine with a context that
// [ExecutorOf] understands and that the runtime's abort cancels. Run is not
// called for it.
//
// It keeps its own schedule state: a turn that finds a previous one still
// active (its goroutine handed the executor on while blocked in it, see
// [Block]) must return at once and leave it to the active turn to
// schedule it again. A panic or runtime.Goexit escaping a turn is its own
// failure to handle: the executor recovers a panic and goes on, and a Goexit
// ends the goroutine as a token's does.
type Scheduled interface {
	Job
	// Turn runs one turn on the executor's goroutine, with a context the
	// runtime's abort cancels.
	Turn(ctx context.Context)
	// Unschedule tells it that it was taken off a queue and could not be
	// placed anywhere: it is no longer scheduled.
	Unschedule()
}

// Homed is a Scheduled runnable that stays where it is placed (an actor) and
// picks the live executor it moves to when its own goes down ([Cell.Home]):
// a queue moved off a down executor places it there, not as a token of its
// weight would be staggered.
type Homed interface {
	Scheduled
	// Home returns the live executor to move to, or nil when none is live.
	Home() *Executor
}

// Op names what a token runs, for reports such as a Stop that left handlers
// running. Tokens of one op share one *Op. While it is paused
// ([Op.SetPaused]), an executor that takes one of its tokens to run offers
// it to Hold before it claims it. The zero value is an unnamed op that is
// not paused.
type Op struct {
	Name string // the op's name, as reports show it
	// Hold takes a token of the paused op that an executor (or a lane's
	// worker) took from its queue to run, still queued (not claimed), and
	// reports whether the executor must pass it by: parked with
	// [Task.Park] to be queued again later, resolved with [Task.Resolve],
	// or no longer queued. When it did not, the executor claims the token
	// and runs it. It must be set before the op is first paused.
	Hold func(Job) bool
	// Turns, when set, runs the one turn that begins and ends the op's
	// tokens: the [Cell] of an actor, whose Asks they are. That turn
	// waiting for one of them not done would wait for itself (see
	// [Task.WaitsOnItself]).
	Turns  interface{ InTurn() bool }
	paused atomic.Bool
	// samples is the op's timing, made by its first sample: executors
	// write it, and read paused for every token, so it has a cache line
	// of its own; and it is not in the Op itself, of which every actor
	// holds one (its Asks'), never timed.
	samples atomic.Pointer[opSamples]
}

// opSamples is an op's sampled cost: 64 bytes, a size class whose objects
// each take a cache line of their own.
type opSamples struct {
	cost  atomic.Int64  // a token's run time, ns: a moving average of samples
	costs atomic.Uint32 // samples taken
	_     [52]byte
}

// The router may send a token of a cheap op (its tokens run in under
// cheapCost on average, sampled) to a busy executor rather than wake a
// parked one (see [Executor.Claim]). An executor times the first
// firstSamples tokens of each op it runs and then one token in sampleEvery.
const (
	cheapCost    = 2 * time.Microsecond
	firstSamples = 4
	sampleEvery  = 16
)

// Cheap reports whether o's tokens run in under cheapCost on average, as
// far as is known. An op no token of which has been timed yet is taken as
// cheap, as most are: a handful of its first tokens may then queue behind
// each other on one executor instead of waking another.
func (o *Op) Cheap() bool {
	if o == nil {
		return false
	}
	s := o.samples.Load()
	return s == nil || s.cost.Load() < int64(cheapCost)
}

// timedCheap is Cheap for an op at least one token of which was timed: a
// token running whose op is not may run for any time (the op's first, or
// one that loops until its context ends), so no cheap token is queued
// behind it (see [Executor.Claim]).
func (o *Op) timedCheap() bool {
	if o == nil {
		return false
	}
	// costs first: observe stores a first sample's cost before it counts it.
	s := o.samples.Load()
	return s != nil && s.costs.Load() > 0 && s.cost.Load() < int64(cheapCost)
}

// sampleDue reports whether the owner whose token count is tick should time
// this token of o.
func (o *Op) sampleDue(tick uint32) bool {
	if o == nil {
		return false
	}
	s := o.samples.Load()
	return s == nil || tick%sampleEvery == 0 || s.costs.Load() < firstSamples
}

// observe adds a token's run time to o's average (a quarter of each new
// sample). Executors that sample at once may lose one another's update: the
// average only steers placement.
func (o *Op) observe(d int64) {
	s := o.samples.Load()
	if s == nil {
		s = new(opSamples)
		if !o.samples.CompareAndSwap(nil, s) {
			s = o.samples.Load()
		}
	}
	if s.costs.Load() > 0 {
		c := s.cost.Load()
		d = c + (d-c)/4
	}
	s.cost.Store(d)
	s.costs.Add(1) // after the cost: timedCheap reads a counted sample's
}

// Outcome is how a token ended. Every accepted token ends with exactly one.
type Outcome int

const (
	Succeeded Outcome = iota // the handler returned nil
	Failed                   // the handler returned an error or called runtime.Goexit, or it was refused unrun
	Panicked                 // the handler panicked
	Cancelled                // cancelled before it ran, or gave up on its cancelled context
	Stopped                  // never ran: its runtime (or, for an Ask, its actor) stopped first
	numOutcomes
)

// task states, in the low bits of Task.state; above them the retrying
// mark, and above that its epoch, which a resumed token's renewal advances
// (see [Task.Unpark]) and every other change keeps.
const (
	queued uint32 = iota
	running
	done

	stateMask  = 3 // the state bits; parked is the fourth
	retrying   = 4 // beside queued: a retry its backoff has yet to queue again (see Task.requeue)
	epochShift = 3
)

// Task is the part of a token the executor manages: identity, state, result error
// and the handler's context. A *Task is the [context.Context] its handler
// receives, so running a token allocates no context: Value answers which executor
// runs it, and Done (built lazily, only when a handler asks for it) closes when
// the token is cancelled, the submitter's context ends, the runtime aborts, or
// the handler has returned.
//
// A token submitted with its parent handler's context has that token as its
// parent, so a lookup walks the chain of live handlers above it. The chain
// is short: a handler cannot submit with its context once that context is
// cancelled (its parent ended), so every link was running when it was made,
// and the handlers running or blocked at once are bounded (the executors,
// and [GroupConfig.MaxBlocked]).
//
// The zero Task is not usable; the root package initialises it with [Task.Init].
type Task struct {
	parent context.Context
	op     *Op
	exec   *Executor
	id     uint64
	state  atomic.Uint32 // a task state, and its epoch above stateMask
	moved  atomic.Int32  // 1 + the index of the executor it was moved to, or 0; and sentBit
	done   signal        // fires when the token is resolved
	cancel signal        // fires when the handler's context is cancelled
	// What few tokens need, made on first need (see extra): a plain token
	// that succeeds never has one, which keeps it a size class smaller.
	more atomic.Pointer[extra]
}

// extra holds a token's rarer fields: the hook of an anchored, retried or
// watched token (the hook holds its extra, see HookBase, so such a token
// makes none), the error it resolved with, the watch of a handler that
// asked for Done, and that of a held token's context.
type extra struct {
	hook  Hook
	err   error // written once by finish, before done fires
	watch atomic.Pointer[watch]
	// held stops the watch on the submitter's context of a token held
	// while its op is paused (see WatchHeld).
	held atomic.Pointer[func() bool]
	// The outcome and error of the attempt a retry follows, written by
	// its runner before it marks it retrying (see requeue), for a Stop
	// that resolves it on its way to its backoff ([Task.StopNow]).
	lastO   Outcome
	lastErr error
}

// extra returns t's extra, making it when t has none yet. A token's
// resolver and its handler asking for Done may both make one at once: the
// first to install its own wins.
func (t *Task) extra() *extra {
	if x := t.more.Load(); x != nil {
		return x
	}
	x := new(extra)
	if t.more.CompareAndSwap(nil, x) {
		return x
	}
	return t.more.Load()
}

// hook returns t's hook, or nil.
func (t *Task) hook() Hook {
	if x := t.more.Load(); x != nil {
		return x.hook
	}
	return nil
}

// Hook is what anchored and retried tokens carry: the root package uses it to
// release sticky pins and seeds on every outcome, to hand a lead's seed to the
// tokens its handler submits, and to decide retries. A hook is one token's,
// and embeds [HookBase].
type Hook interface {
	// Resolved is called once when the token resolves, before its waiters wake.
	Resolved(t *Task)
	// Anchor is the value the handler's context answers for AnchorKey, or nil.
	Anchor() any
	// Retry is called when a run failed or panicked (o is Failed or Panicked,
	// err its error). When again is true the token is queued once more at the
	// tail of the executor that ran it, after delay, instead of resolving.
	Retry(o Outcome, err error) (delay time.Duration, again bool)
	// held returns the token's rarer fields, which the hook holds
	// (HookBase): a hooked token makes no other allocation for them.
	held() *extra
}

// HookBase is embedded in every [Hook]: it holds the rarer fields of the
// hook's token.
type HookBase struct{ x extra }

func (b *HookBase) held() *extra { return &b.x }

// Settler is a [Hook] that is also told once the token's waiters were
// woken: what waits for a set of tokens (a group) must not finish before
// each token's own Wait would.
type Settler interface {
	// Settled is called once, after t's waiters were woken.
	Settled(t *Task)
}

// Keeper is a [Hook] told when the runner of a failed attempt whose Retry
// allowed another resolves the token itself after all, with that attempt's
// outcome: a Cancel came as the token was queued again (see
// [Task.Cancel]). Kept is called on that runner just before: a hook that
// let go of its runner in Retry (a callback's, which runs on the goroutine
// that ran the token) takes it back.
type Keeper interface {
	Kept(t *Task)
}

// AnchorKey is the context key under which a handler's context answers its
// hook's Anchor, so tokens submitted with that context (or one derived from
// it) find it.
type AnchorKey struct{}

// Init prepares t, once, before it is pushed: parent is the submitter's
// context (its values are visible to the handler and its end cancels the
// token), op names what it runs and hook is what an anchored or retried token
// carries; op and hook may be nil.
func (t *Task) Init(parent context.Context, id uint64, op *Op, hook Hook) {
	t.parent, t.id, t.op = parent, id, op
	if hook != nil {
		x := hook.held()
		x.hook = hook
		t.more.Store(x)
	}
}

// sentBit marks in moved a job accepted by message, so sending one job twice
// at once is refused rather than queued twice.
const sentBit = 1 << 30

// claimSent claims a job that came by message; false when it was sent, pushed
// or moved before.
func (t *Task) claimSent() bool { return t.moved.CompareAndSwap(0, sentBit) }

// runBit marks in moved a token claimed to run by the executor in moved's
// index bits: a steal that marked it moved to another executor as it was
// claimed is overruled, and no later steal marks it (see Adopt), so its
// handler's context names the executor it runs on. A retry clears it.
const runBit = 1 << 28

// movingBit marks in moved a token a steal took off a stalled executor and
// has yet to place ([Executor.Adopt] clears it): its old executor's owner,
// which may still find it in its batch, skips it. A steal marks the batch's
// tokens last first, so the owner runs a prefix of them (those it claimed
// first), never one behind a token that moves.
const movingBit = 1 << 27

// markMoving sets movingBit unless an executor claimed t to run (runBit);
// false when one did.
func (t *Task) markMoving() bool {
	for {
		m := t.moved.Load()
		if m&runBit != 0 {
			return false
		}
		if m&movingBit != 0 || t.moved.CompareAndSwap(m, m|movingBit) {
			return true
		}
	}
}

// elsewhere reports whether t is not e's to run: moved to another executor,
// or taken by a steal that has yet to place it. One load of moved, on the
// run path.
func (t *Task) elsewhere(e *Executor) bool {
	m := t.moved.Load()
	if m&movingBit != 0 {
		return true
	}
	i := m &^ (sentBit | detachedBit | runBit)
	return i != 0 && int(i-1) != e.index
}

// runHere marks t, just claimed by e to run, as running on e. A token on
// the executor that accepted it, never moved, keeps no index (movedTo stays
// -1, and a later move counts as its first); sentBit stays.
func (t *Task) runHere(e *Executor) {
	for {
		m := t.moved.Load()
		idx := int32(e.index + 1)
		if t.exec == e && m&^(sentBit|detachedBit|runBit|movingBit) == 0 {
			idx = 0
		}
		n := m&(sentBit|detachedBit) | runBit | idx
		if m == n || t.moved.CompareAndSwap(m, n) {
			return
		}
	}
}

// requeued clears runBit from a token queued again for a retry, which a
// steal or a down executor may move like any queued token.
func (t *Task) requeued() {
	if t.moved.Load()&runBit != 0 {
		t.moved.And(^int32(runBit))
	}
}

// movedTo returns the index of the executor the token was moved to, or -1.
func (t *Task) movedTo() int {
	if m := t.moved.Load() &^ (sentBit | detachedBit | runBit | movingBit); m != 0 {
		return int(m - 1)
	}
	return -1
}

// OpName returns the name of the op t runs, or "?" when it has none.
func (t *Task) OpName() string {
	if t.op == nil {
		return "?"
	}
	return t.op.Name
}

// ID returns the token's id.
func (t *Task) ID() uint64 { return t.id }

// Of reports whether t is a token of op.
func (t *Task) Of(op *Op) bool { return t.op == op }

// Cheap reports whether the token's op is cheap ([Op.Cheap]).
func (t *Task) Cheap() bool { return t.op.Cheap() }

// Executor returns the executor the token is placed on: the one it was pushed
// onto, or the one it was moved to when that executor went down. It is nil
// before placement.
func (t *Task) Executor() *Executor {
	if i := t.movedTo(); i >= 0 {
		return t.exec.group.execs[i]
	}
	return t.exec
}

// Finished returns a channel closed once the token is resolved.
func (t *Task) Finished() <-chan struct{} { return t.done.ch() }

// Result returns the token's error once it is resolved (nil on success).
func (t *Task) Result() error {
	if x := t.more.Load(); x != nil {
		return x.err
	}
	return nil
}

// Cancel cancels the token: a queued token is resolved at once with
// [ErrCancelled] and will not run; a running token has its context cancelled. It
// reports whether the token was resolved by this call.
func (t *Task) Cancel() bool {
	// Counted as a watch resolving t is ([Task.Watching]): a Stop that
	// finds t taken by this claim, its outcome not yet recorded, waits
	// for it rather than return with t unresolved and its hook (a
	// callback) still to run. Not through Watching's func: no allocation.
	w := &t.exec.group.watches
	w.add(1)
	defer w.add(-1)
	for {
		if t.Resolve(Cancelled, ErrCancelled) {
			return true
		}
		switch t.phase() {
		case running:
			// A failed attempt queued for its retry reads cancel once it is
			// queued (Executor.retry), and this reads the state once cancel
			// is fired: one of the two sees the other, so the Cancel is not
			// lost between attempts.
			t.cancel.fire()
			if t.phase() == running {
				return false
			}
		case done:
			return false
		}
		// Queued again since the claim failed (a retry): claim it now.
	}
}

// Await blocks until the token is resolved or ctx ends. Called from a
// handler of any group, not only the token's, it first hands the caller's
// executor on (see [Block]), so that executor's queue keeps running,
// including work queued behind the waiter that the token waits on, directly
// or through handlers of other groups.
func (t *Task) Await(ctx context.Context) error {
	if t.done.isFired() {
		return nil
	}
	// A caller that owns no executor polls briefly: a tiny token often ends
	// before a blocked goroutine would be woken. Not while the token waits
	// on an executor off its CPU, which may be waiting for this very P. An
	// owner, of this group's executors or another's, does not poll: its
	// executor's queue would wait meanwhile, and what the token waits on
	// may be queued there.
	id := goid()
	w := ownerOf(id)
	if g := t.exec.group; g.spin > 0 && w == nil {
		stop := func() bool { return t.done.isFired() || t.exec.Asleep() && t.phase() == queued }
		if poll(min(g.spin, awaitSpin), awaitSpin, stop, nil) && t.done.isFired() {
			return nil
		}
	}
	resume, err := block(id, w, true, t)
	if err != nil {
		return err
	}
	defer resume()
	select {
	case <-t.done.ch():
		return nil
	case <-ctx.Done():
		// Both may be ready by the time the waiter runs (select then picks
		// either): a token resolved is its outcome, whatever ended since.
		if t.done.isFired() {
			return nil
		}
		return ctx.Err()
	}
}

// finish resolves the token; only the goroutine that moved its state to done or
// running may call it, so it runs once.
func (t *Task) finish(o Outcome, err error) {
	if err != nil {
		t.extra().err = err
	}
	t.exec.stats.add(o)
	if h := t.hook(); h != nil {
		// Deferred: a hook runs user callbacks, and one that ends the
		// goroutine (runtime.Goexit) must not leave the token unresolved.
		defer t.wake()
		h.Resolved(t)
		return
	}
	t.wake()
}

// wake fires the token's done signal and tells its settler and watch, once
// its outcome is recorded.
func (t *Task) wake() {
	if t.done.fire() {
		t.exec.wokeWaiter()
	}
	x := t.more.Load()
	if x == nil {
		return // neither a hook nor a watch: nothing more to tell
	}
	if s, ok := x.hook.(Settler); ok {
		s.Settled(t)
	}
	t.unwatchHeld()
	// After the fire: a watch started concurrently either is seen here or sees
	// the token done (startWatch checks after installing itself). A handler that
	// asked for Done may have derived contexts still watching it: close it, as
	// net/http does when a handler returns.
	if w := x.watch.Load(); w != nil {
		w.stop()
		t.cancel.fire()
	}
}

// claim moves a queued (or parked) token to done for a resolver other than
// its executor.
func (t *Task) claim() bool {
	for {
		s := t.state.Load()
		if p := s & stateMask; p != queued && p != parked {
			return false
		}
		if t.state.CompareAndSwap(s, s&^stateMask|done) {
			return true
		}
	}
}

// Resolve resolves a queued token that will not run with outcome o and error
// err, and reports whether it did: false when the token was already running or
// resolved. The token must have been pushed (or refused by an executor).
func (t *Task) Resolve(o Outcome, err error) bool {
	if !t.claim() {
		return false
	}
	t.finish(o, err)
	return true
}

// isRunning reports whether the token's handler runs now.
func (t *Task) isRunning() bool { return t.phase() == running && !t.done.isFired() }

// Accept counts t, a token that is not run as a job (an actor's Ask), as
// accepted by executor e, so it is counted there like any token. Call it once,
// before anything can resolve t.
func (e *Executor) Accept(t *Task) {
	t.exec = e
	e.refused.Add(1)
}

// Begin moves an accepted token that is not run as a job (an Ask) from
// queued to running, for whoever handles it; false when it was resolved
// already (cancelled, or stopped).
func (t *Task) Begin() bool { return t.move(queued, running) }

// End resolves a token that Begin moved to running with o and err; it does
// nothing for one that was not begun, and reports whether it resolved it.
func (t *Task) End(o Outcome, err error) bool {
	if !t.move(running, done) {
		return false
	}
	t.finish(o, err)
	return true
}

// Drop resolves j with o and err when it is a token; a Scheduled runnable
// is told it is no longer scheduled. It reports whether it resolved a token.
func Drop(j Job, o Outcome, err error) bool {
	t := j.Task()
	if t == nil {
		if s, ok := j.(Scheduled); ok {
			s.Unschedule()
		}
		return false
	}
	return t.Resolve(o, err)
}

// Queued reports whether the token waits to run.
func (t *Task) Queued() bool { return t.phase() == queued }

// WaitsOnItself reports whether a wait for t by the calling goroutine would
// wait for itself, whatever context it would wait with: t is not done, and
// the caller runs the turn that alone begins and ends it ([Op.Turns]): t
// is queued for a later turn, or it is the message that turn handles now.
// Cheap for a token done, and for one of an op without turns.
func (t *Task) WaitsOnItself() bool {
	return t.phase() != done && t.op != nil && t.op.Turns != nil && t.op.Turns.InTurn()
}

// phase returns the token's state without its epoch or retrying mark.
func (t *Task) phase() uint32 { return t.state.Load() & stateMask }

// move moves the token from state from to state to, keeping its epoch,
// and reports whether it did. A retrying token is moved by none: its retry
// queues it again.
func (t *Task) move(from, to uint32) bool {
	for {
		s := t.state.Load()
		if s&(stateMask|retrying) != from {
			return false
		}
		if t.state.CompareAndSwap(s, s&^stateMask|to) {
			return true
		}
	}
}

// start claims a queued token to run it from j, the entry its executor
// (or lane) took, and reports whether it did: not when it is no longer
// queued, nor when j is stale, an entry queued before the token was
// parked and resumed (see [Renewed]).
func (t *Task) start(j Job) bool {
	// Never renewed: j is its only entry. Apart, so that this inlines.
	return t.state.CompareAndSwap(queued, running) || t.startRenewed(j)
}

// startRenewed is start for a token that was renewed.
func (t *Task) startRenewed(j Job) bool {
	r, ok := j.(Renewed)
	if !ok {
		return false
	}
	s := r.Epoch() << epochShift
	return t.state.CompareAndSwap(s|queued, s|running)
}

// Current reports whether j is not a stale entry of t: it is t's only
// one, or the one of t's latest renewal (see [Renewed]).
func (t *Task) Current(j Job) bool {
	epoch := t.state.Load() >> epochShift
	if epoch == 0 {
		return true
	}
	r, ok := j.(Renewed)
	return ok && r.Epoch() == epoch
}

// requeue makes a running token queued again, for a retry of the entry
// that ran it after an attempt that ended with o and err: only the
// goroutine running it may call it. It is marked retrying, in the same
// store, until its retry queues it again ([Task.RetryDue]): Park refuses
// it meanwhile, so a Pause never holds a retry on its way to its backoff
// or in it, whatever its scan found, and no entry of it starts. Cancel and
// Stop still resolve it (Stop with o and err, see [Task.StopNow]).
func (t *Task) requeue(o Outcome, err error) {
	x := t.extra() // a retried token's hook holds it: no allocation
	x.lastO, x.lastErr = o, err
	t.state.Store(t.state.Load()&^stateMask | queued | retrying)
}

// StopNow resolves a token that will not run because its runtime gave up
// draining, and reports whether it did, and whether as a retry: a token
// queued (or parked) resolves with [ErrStopped], but one marked retrying,
// whose attempt ran and failed and whose runner has yet to hand it to its
// backoff, with that attempt's outcome and error, as a Stop resolves a
// retry waiting out its backoff: it did run.
func (t *Task) StopNow() (resolved, retry bool) {
	for {
		s := t.state.Load()
		if p := s & stateMask; p != queued && p != parked {
			return false, false
		}
		if !t.state.CompareAndSwap(s, s&^stateMask|done) {
			continue
		}
		if s&retrying != 0 {
			x := t.extra()
			t.finish(x.lastO, x.lastErr)
			return true, true
		}
		t.finish(Stopped, ErrStopped)
		return true, false
	}
}

// RetryDue ends the backoff of a token that [Executor.RunDetached] queued
// again for a retry: again's caller calls it as it queues the token's job.
// From then on it is a queued token like any other, which a Pause may hold.
func (t *Task) RetryDue() { t.state.And(^uint32(retrying)) }

// context.Context, as the handler sees it.

type execKey struct{}

// ExecKey is the context key under which a handler's context answers the
// *Executor running it, for contexts that answer it themselves (an actor's).
var ExecKey any = execKey{}

// ExecutorOf returns the executor running the handler whose context ctx is (or
// derives from), or nil.
func ExecutorOf(ctx context.Context) *Executor {
	if c, ok := ctx.(*turnCtx); ok { // a Scheduled turn's: no walk, no key compare
		return c.e
	}
	e, _ := ctx.Value(execKey{}).(*Executor)
	return e
}

// turnCtx is what an executor's Scheduled turns run with: the group's abort
// context, answering the executor.
type turnCtx struct {
	context.Context
	e *Executor
}

func (c *turnCtx) Value(key any) any {
	if _, ok := key.(execKey); ok {
		return c.e
	}
	return c.Context.Value(key)
}

// Deadline is the submitter's deadline, if any.
func (t *Task) Deadline() (time.Time, bool) { return t.parent.Deadline() }

// Value answers the executor running the token, its hook's anchor, and the
// submitter's values.
func (t *Task) Value(key any) any {
	switch key {
	case execKey{}:
		if t.moved.Load()&detachedBit != 0 {
			return nil // runs off the executors (RunDetached)
		}
		return t.Executor()
	case AnchorKey{}:
		if h := t.hook(); h != nil {
			if a := h.Anchor(); a != nil {
				return a
			}
		}
	case TurnKey{}:
		return nil // a token's handler is not the turn of whoever submitted it
	}
	return t.parent.Value(key)
}

// TurnKey is the context key under which an actor's context answers the
// actor (the root package's ActorContext does) and a token's handler
// context answers nil, even for a token the actor submitted: what a call
// made with it can tell the actor's own turn from a token's handler.
type TurnKey struct{}

// Done is closed when the token is cancelled, its submitter's context or a
// parent token's ends, the runtime aborts, or the handler has returned.
func (t *Task) Done() <-chan struct{} {
	if t.cancel.isFired() || t.done.isFired() {
		return *fired
	}
	if x := t.more.Load(); x == nil || x.watch.Load() == nil {
		t.startWatch()
	}
	return t.cancel.ch()
}

// Err says why Done is closed, or nil. It fires nothing: a getter. When
// the submitter's context ended it is that context's error, as for any
// context derived from it: DeadlineExceeded at its deadline.
func (t *Task) Err() error {
	if t.cancel.isFired() || t.done.isFired() {
		if err := t.parent.Err(); err != nil {
			return err
		}
		return context.Canceled
	}
	if err := t.parent.Err(); err != nil {
		return err
	}
	if t.exec != nil && t.exec.group.aborted.Load() {
		return context.Canceled
	}
	return nil
}

// ctxErr is the submitter's context's error (Canceled once a parent token
// ended or was cancelled): a token whose ctxErr is set does not start.
func (t *Task) ctxErr() error { return t.parent.Err() }

// cancelledBy reports whether err is the handler giving up because its context
// was cancelled, which counts as Cancelled rather than Failed.
func (t *Task) cancelledBy(err error) bool {
	return t.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// watch ties a running token's cancel signal to its parent context and to the
// runtime's abort; it exists only once a handler called Done.
type watch struct {
	mu      sync.Mutex
	stopped bool
	stops   [2]func() bool
}

// watchInstalled, when a test sets it, runs as startWatch has installed
// its watch, before it registers the watch's AfterFuncs.
var watchInstalled func()

func (t *Task) startWatch() {
	w := &watch{}
	// Locked before it is installed: a wake that finds it waits until its
	// AfterFuncs are registered to stop them, not marking it stopped first.
	w.mu.Lock()
	if !t.extra().watch.CompareAndSwap(nil, w) {
		w.mu.Unlock()
		return
	}
	if watchInstalled != nil {
		watchInstalled()
	}
	fire := func() { t.cancel.fire() }
	if t.parent.Done() != nil {
		w.stops[0] = context.AfterFunc(t.parent, fire)
	}
	w.stops[1] = context.AfterFunc(t.exec.group.abort, fire)
	w.mu.Unlock()
	// finish may have looked for a watch before the CompareAndSwap: then
	// this does what wake would have, closing the channel Done returns.
	if t.done.isFired() {
		w.stop()
		t.cancel.fire()
	}
}

// stopWaits, when a test sets it, runs as stop finds the watch locked
// (startWatch registering its AfterFuncs), before stop waits for it.
var stopWaits func()

func (w *watch) stop() {
	if !w.mu.TryLock() {
		if stopWaits != nil {
			stopWaits()
		}
		w.mu.Lock()
	}
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped = true
	for _, stop := range w.stops {
		if stop != nil {
			stop()
		}
	}
}
