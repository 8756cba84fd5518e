package coregate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
	"github.com/coregate/coregate/supervisor"
)

// Actor is a Go value with state whose Receive handles one message at a time
// on the executor the actor is pinned to. The value is the actor's state.
//
// Optional methods, found by type assertion:
//
//	Started(c *ActorContext) error // after creation and after every restart
//	Stopped(c *ActorContext)       // once, when the actor stops
//
// Stopped runs only for an actor whose start was reached (an actor that a
// runtime Stop stopped as it was spawned never ran Started either); a panic
// or runtime.Goexit in it does not keep the actor from stopping, and a
// panic is published as [CallbackPanicked] before its [ActorStopped].
type Actor[M, R any] interface {
	// Receive handles msg and returns the reply an Ask's token resolves
	// with (a Tell's is dropped). It is never called concurrently for one
	// actor; a panic or runtime.Goexit in it fails msg and restarts the
	// actor.
	Receive(c *ActorContext, msg M) (R, error)
}

type starter interface{ Started(*ActorContext) error }
type stopper interface{ Stopped(*ActorContext) }

// ActorContext is what Receive, Started and Stopped get: a [context.Context]
// that [CurrentExecutor] understands and that ops submitted with it inherit
// (their tokens run on the actor's executor, in place of staggering; an op
// of another runtime places its tokens by its own rules), and the actor's
// identity. It is one value for the actor's life, cancelled when the
// runtime's Stop gives up draining, and once the runtime stopped; not when
// the actor alone stops ([Ref.Stop] waits for the running Receive).
// Contexts derived from it stay valid. A nil or zero ActorContext, one the
// runtime did not give (a unit test of a Receive may build one), is a
// context as [context.Background] is: never done, no deadline, no values,
// no Self.
type ActorContext struct {
	context.Context
	node *actorNode
}

// Self returns the actor's PID; nil for a nil or zero ActorContext (one not
// given by the runtime).
func (c *ActorContext) Self() *actor.PID {
	if c.zero() {
		return nil
	}
	return c.node.pid
}

// Value answers the executor the actor runs on, and the actor itself (the
// tokens it submits stay near it); then the runtime context's values. An
// ActorContext never changes, so contexts derived from it stay valid.
func (c *ActorContext) Value(key any) any {
	if c.zero() {
		return nil
	}
	switch key {
	case actors.ExecKey:
		return c.node.rt.execs[c.node.exec.Load()-1]
	case actors.AnchorKey{}, actors.TurnKey{}:
		return c.node
	}
	return c.Context.Value(key)
}

// Deadline returns the runtime context's deadline.
func (c *ActorContext) Deadline() (time.Time, bool) {
	if c.zero() {
		return time.Time{}, false
	}
	return c.Context.Deadline()
}

// Done returns the runtime context's Done channel.
func (c *ActorContext) Done() <-chan struct{} {
	if c.zero() {
		return nil
	}
	return c.Context.Done()
}

// Err returns the runtime context's error.
func (c *ActorContext) Err() error {
	if c.zero() {
		return nil
	}
	return c.Context.Err()
}

// zero says c is nil or zero: not given by the runtime.
func (c *ActorContext) zero() bool { return c == nil || c.node == nil }

// join: an actor leads no seed.
func (n *actorNode) join(string) (*anchor.Seed, map[string]struct{}) { return nil, nil }

// near is the executor the actor's tokens stay on.
func (n *actorNode) near() int { return int(n.exec.Load()) }

// descends says n is a child of a, or a child's child, and so on.
func (n *actorNode) descends(a *actorNode) bool {
	for p := n.parent; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

func (n *actorNode) runtime() *Runtime { return n.rt }

// ErrActorStopped answers Tell and Ask to an actor that stopped (by Stop, past
// its restart intensity, with its parent, or with the runtime), and resolves
// the Asks still queued when it stopped.
var ErrActorStopped = errors.New("coregate: actor stopped")

// Actor lifecycle events, published on the runtime's engine.
type (
	// ActorStarted is published when a spawned actor became a process of
	// the engine, reachable at its PID. An actor that stops before that
	// (within Spawn: its Started failed, or its parent stopped, at once)
	// is announced by neither ActorStarted nor ActorStopped.
	ActorStarted struct {
		PID      *actor.PID // the actor's PID, <Config.Name>/actor/<name>
		Executor int        // the index of the executor it runs on
	}
	// ActorRestarted is published when a panic or runtime.Goexit in Receive
	// restarted an actor from its factory, always after its ActorStarted
	// (also for a message sent to its PID as Spawn registered it); Restarts
	// counts those within its policy's window.
	ActorRestarted struct {
		PID      *actor.PID // the actor's PID
		Reason   error      // the failure: a [*PanicError] or [ErrGoexit]
		Restarts int        // restarts within the policy's window, this one included
	}
	// ActorStopped is published once when an actor announced by
	// ActorStarted stops. Reason is nil for a [Ref.Stop], and for a
	// runtime's Stop that drained the actor; [ErrActorStopped] for a
	// child stopped with its parent ([ChildOf]); [ErrStopped] for an actor
	// a runtime's Stop stopped without draining it; otherwise the failure
	// that stopped it (past its restart intensity, its Started, or its
	// factory on a restart).
	ActorStopped struct {
		PID    *actor.PID // the actor's PID, now unregistered
		Reason error      // why it stopped; nil for a Stop
	}
)

// actorNode is the untyped part of an actor the runtime keeps: its name, its
// place in the parent/child tree, and how to stop it.
type actorNode struct {
	name     string
	pid      *actor.PID
	rt       *Runtime
	exec     atomic.Int32 // 1 + the executor of its last turn, for the tokens it submits
	h        actorHandle
	mu       sync.Mutex
	children map[*actorNode]struct{}
	parent   *actorNode
}

// envelope is one message in an actor's mailbox.
type envelope[M, R any] struct {
	kind  envKind
	msg   M
	tok   *Token[R]  // an Ask's token, or nil
	reply *actor.PID // a hollywood Request's sender, or nil
}

type envKind uint8

const (
	envTell envKind = iota
	envStart
	envStop
)

// Ref is a typed handle on a spawned actor: Tell, Ask, Stop. Its zero value
// is not usable; refs come from [Spawn]. A nil *Ref answers every method
// with ErrNilRef or a zero value.
type Ref[M, R any] struct {
	own      actorNode // its place among the runtime's actors
	cell     *actors.Cell[envelope[M, R]]
	info     actors.Op // "actor <name>", for reports
	newActor func() Actor[M, R]
	// Its restart intensity: Policy.MaxRestarts and Window, the two an
	// actor's restarts use (they take no backoff).
	maxRestarts   int
	restartWindow time.Duration

	// touched only in the actor's turns
	value  Actor[M, R]
	ctx    ActorContext
	window supervisor.Window
	began  bool // its start was delivered: Stopped runs only after it
	cut    bool // a runtime's Stop that gave up draining refused a message

	// stopped is set once finish began. A turn reads it, and finish may run
	// off the actor's executor (a kill, an actor no executor could take, a
	// Spawn whose start could not be queued) while a message queued in that
	// moment reaches a turn: atomic, a plain load on amd64 and arm64.
	stopped atomic.Bool
	// stoppedBy is the goroutine that runs Stopped (see runStopped) while
	// it runs, for a Stop of the actor from there, outside a turn; 0
	// otherwise, since a goroutine's id may be reused once it ended.
	stoppedBy atomic.Uint64

	weight   Weight // where a moved actor goes
	floats   bool   // placed by weight, not pinned: it follows hand-offs (see put)
	stopping atomic.Bool
	killed   atomic.Pointer[error] // a kill's reason, for the running turn to complete
	once     sync.Once
	mu       sync.Mutex
	done     chan struct{} // closed when the actor stopped; made when first asked for
	ended    bool
	tree     chan struct{} // closed when it and its tree stopped; made when first asked for
	treeOver bool
	then     []func() // run once its tree stopped: its parent's count of children left
	reason   error
	// registered says Spawn made the actor a process of the engine, unlisted
	// that finish ran its clean-up: whichever comes second sees the other.
	registered, unlisted bool
}

// actorHandle is how the runtime stops an actor, and places its children,
// without knowing its types.
type actorHandle interface {
	stopWith(reason error) <-chan struct{}
	kill(reason error) (now bool)
	// whenTreeEnded runs f once the actor and its tree stopped: now, if
	// they have.
	whenTreeEnded(f func())
	name() string
	// executor is the executor the actor is on now: the one it moved to
	// when its own went down, before it ran a turn there.
	executor() *actors.Executor
	// inTurn says the caller runs the actor's turn.
	inTurn() bool
	// handing returns the actor's executor and whether its running turn
	// delivers its last known message (see actors.Cell.Ending), for a send
	// from that turn.
	handing() (*actors.Executor, bool)
}

// kill stops the actor at once, from outside its turns (a stopping runtime
// whose executors ended): now when no turn runs, else as the running turn
// ends, so Stopped never overlaps Receive. It reports whether it stopped
// the actor now. Its queued messages are refused (ErrActorStopped) rather
// than delivered, and counted for the runtime's Stop (see closeCell). Behind
// a turn stuck in Receive, the messages queued are refused now, so no Ask
// among them waits on that Receive; the rest of the turn's batch, which
// only its goroutine may touch, is refused once that Receive returns.
// Its Stopped does not run on the caller's goroutine (see runStopped),
// which may run another actor's Receive or an op's handler (a stop of
// the actor no executor takes any more).
func (r *Ref[M, R]) kill(reason error) (now bool) {
	r.killed.Store(&reason)
	if r.cell.Idle() {
		r.finishAway(reason)
		return true
	}
	r.closeCell()
	return false
}

func (r *Ref[M, R]) name() string { return r.own.name }

func (r *Ref[M, R]) executor() *actors.Executor { return r.cell.Executor() }

func (r *Ref[M, R]) handing() (*actors.Executor, bool) { return r.cell.Executor(), r.cell.Ending() }

func (r *Ref[M, R]) inTurn() bool { return r.cell.InTurn() }

// inStopped says the caller runs the actor's Stopped: in a turn, or
// outside one (off the executors, or on one as a kill completes).
func (r *Ref[M, R]) inStopped() bool {
	by := r.stoppedBy.Load()
	return by != 0 && by == actors.GoID()
}

// waitsOnItself returns an error wrapping ErrAskSelf when a Wait on t is
// called from the turn of the actor t is an Ask to, before t is answered
// (see actors.Task.WaitsOnItself): only a later turn, or the end of the
// Receive running now, answers it, so the wait would last as long as its
// context, whatever context that is (the actor's, a server's Background).
// The caller is the goroutine running the turn: another goroutine, one the
// turn started or another handler, with the actor's context or any other,
// waits for the later turn that answers it.
func waitsOnItself(t *actors.Task) error {
	if !t.WaitsOnItself() {
		return nil
	}
	return fmt.Errorf("%w: actor %q would wait for a turn of its own", ErrAskSelf, t.OpName())
}

// requestsItself returns an error wrapping ErrAskSelf when a Request to pid
// on engine e is called from a turn of the actor pid names with its
// context, as waitsOnItself does for its own Ask: only a later turn could
// answer it. It looks before the Request blocks and sends; with another
// context the actor's process refuses it as it is sent (see actorProc.Send).
func requestsItself(ctx context.Context, e *actor.Engine, pid *actor.PID) error {
	n := turnOf(ctx)
	if n == nil || n.rt.engine != e || !n.pid.Equals(pid) || !n.h.inTurn() {
		return nil
	}
	return fmt.Errorf("%w: actor %q would wait for a turn of its own (a Request to itself)", ErrAskSelf, n.name)
}

// cellHost is a Ref as its cell's [actors.Host]; a conversion, not an
// allocation.
type cellHost[M, R any] Ref[M, R]

// Deliver handles one envelope.
func (h *cellHost[M, R]) Deliver(ctx context.Context, e envelope[M, R]) {
	(*Ref[M, R])(h).deliver(ctx, e)
}

// Home picks a live executor in the actor's weight class for an actor whose
// executor went down.
func (h *cellHost[M, R]) Home() *actors.Executor {
	if i := h.own.rt.router.Home(h.weight); i >= 0 {
		return h.own.rt.execs[i]
	}
	return nil
}

// Fits says x is in the actor's weight range over the live executors, the
// one its tokens get: a floating actor follows and goes home only there,
// so executors going down keep it off those its class no longer uses (the
// class offset counts live positions, not indexes).
func (h *cellHost[M, R]) Fits(x *actors.Executor) bool {
	_, ok := slices.BinarySearch(h.own.rt.router.Eligible(h.weight), x.Index())
	return ok
}

// Drop answers an envelope that will not be delivered as refused.
func (h *cellHost[M, R]) Drop(e envelope[M, R]) { (*Ref[M, R])(h).refuse(e) }

// Idle completes a kill that came during the turn that just ended.
func (h *cellHost[M, R]) Idle() {
	if f := testIdle.Load(); f != nil {
		(*f)(h.own.rt, h.own.name, h.idle)
		return
	}
	h.idle()
}

// idle is Idle. The cell is asked again, under its lock, whether it is
// idle: the turn that called Idle let go of the lock first, and a later
// turn may have begun since on another goroutine (the helper a handler
// handed the executor to, or the executor a floating actor followed to),
// its Receive begun before the kill, whose end calls Idle in turn. Once the
// cell is seen idle after the kill, every later turn sees the kill and
// refuses what it takes (deliver), as kill's own look does.
func (h *cellHost[M, R]) idle() {
	if reason := h.killed.Load(); reason != nil && h.cell.Idle() {
		(*Ref[M, R])(h).finish(*reason)
	}
}

// testIdle, when set by a test, is called in place of a cell's Idle with
// the actor's runtime and name, and the call it stands for. Atomic: actors
// of another test's runtime may still be stopping.
var testIdle atomic.Pointer[func(rt *Runtime, name string, idle func())]

// testStrandedKill, when set by a test, is called in place of the kill of
// a stop that no executor could take (the actor stranded) with the
// actor's runtime and name, and the kill it stands for. Atomic: actors of
// another test's runtime may still be stopping.
var testStrandedKill atomic.Pointer[func(rt *Runtime, name string, kill func())]

// doneCh returns a channel closed once the actor stopped.
func (r *Ref[M, R]) doneCh() <-chan struct{} { return r.signal(&r.done, &r.ended) }

// treeCh returns a channel closed once the actor and its tree stopped.
func (r *Ref[M, R]) treeCh() <-chan struct{} { return r.signal(&r.tree, &r.treeOver) }

// signal returns *ch, made when first asked for (closed at once when *over
// is set), under mu: done and tree are made only for those who wait.
func (r *Ref[M, R]) signal(ch *chan struct{}, over *bool) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *ch == nil {
		*ch = make(chan struct{})
		if *over {
			close(*ch)
		}
	}
	return *ch
}

// Spawn starts an actor named name (unique among the runtime's live actors)
// whose state is a value from newActor, and returns its Ref. The actor is
// placed with [OnExecutor], [ChildOf] or [WithWeight] (staggered in the
// class's range, Heavy by default). [OnExecutor] and [ChildOf] pin it; one
// placed by weight follows hand-offs within its range (over the live
// executors, as its tokens'): another actor's turn that sends it the last
// message that turn knows of, on an executor with nothing else queued,
// brings it, idle, to that executor, where it runs next (as Pony runs an
// actor on the scheduler of the actor that woke it), so a chain of actors
// passing one message along runs on one core instead of crossing CPUs at
// every hop; sent to by an actor beside it with more to do, it goes back to
// its executor of placement (unless that one is stalled, restarting, down
// or out of its range), so under load the chain spreads out again. It
// runs once the sender's Receive returns: a Receive that sends and then
// works for long holds it up (send last, or pin it). The actor is
// restarted from newActor under
// [WithRestartPolicy] (the package defaults otherwise, 10 restarts a
// minute, whatever Config.Restart says). It is a hollywood process with PID
// <Config.Name>/actor/<name>: a message of type M sent there is handled as
// a Tell, and its reply (the R, or the error) goes to its sender when it
// has one (engine.Request's, or a hollywood actor's Context.Send, which
// sends with its own PID), as hollywood's Respond would send it. It returns
// an error for a nil runtime or one not made by [Start], a stopped runtime
// ([ErrStopped]), an empty name, one not valid UTF-8, or one a live actor has ([ErrNameTaken];
// so is one whose PID an actor of a stopped runtime of the same name and
// engine holds, its Receive running on past that Stop), a nil factory, a
// nil option, or options that do not fit an actor (see each option).
//
// Spawn calls newActor once itself, on the caller's goroutine: a panic in
// it is returned as an error wrapping a [*PanicError], and a nil value (a
// nil pointer in the interface too) as an error; either leaves no actor,
// name or PID behind. On a restart a nil value stops the actor.
//
// Started, if the actor has it, runs on the actor's executor before its
// first message; an error, a panic or a runtime.Goexit in it stops the
// actor, as one in the factory or Started on a restart does.
func Spawn[M, R any](rt *Runtime, name string, newActor func() Actor[M, R], opts ...Option) (*Ref[M, R], error) {
	switch {
	case rt == nil:
		return nil, errors.New("coregate: Spawn on a nil *Runtime")
	case rt.router == nil:
		return nil, errors.New("coregate: Spawn on a Runtime not made by Start")
	case rt.stopping.Load():
		return nil, ErrStopped
	case name == "":
		return nil, errors.New("coregate: actor name is empty")
	case !utf8.ValidString(name):
		return nil, fmt.Errorf("coregate: actor name %q is not valid UTF-8%s", name, pidUTF8)
	case newActor == nil:
		return nil, fmt.Errorf("coregate: actor %q has a nil factory", name)
	}
	cfg, err := actorOptions(name, opts)
	if err != nil {
		return nil, err
	}
	policy, err := cfg.restart.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%w (actor %q)", err, name) // Resolve's says coregate: already
	}
	// A name taken is answered before the factory runs, for its side
	// effects; add checks it again, under the lock, once the actor is made.
	if rt.actors.has(name) {
		return nil, fmt.Errorf("%w: actor %q is already running", ErrNameTaken, name)
	}
	pid := actor.NewPID(rt.engine.Address(), rt.name+"/actor/"+name)
	if err := pidHeld(rt, name, pid); err != nil {
		return nil, err
	}
	// Before the factory, as the name: a Spawn refused for where it
	// would run (OnExecutor out of range, a parent of another runtime or
	// one that stopped) runs no factory either.
	exec, err := rt.actorExecutor(name, cfg)
	if err != nil {
		return nil, err
	}
	// Before the actor is listed or registered: a factory that fails
	// leaves nothing behind, and the name may be spawned again.
	value, err := callFactory(newActor)
	if err != nil {
		return nil, fmt.Errorf("coregate: actor %q: the factory: %w", name, err)
	}
	if isNilActor(value) {
		return nil, fmt.Errorf("coregate: actor %q: the factory returned nil", name)
	}
	r := &Ref[M, R]{
		info: actors.Op{Name: name}, newActor: newActor, value: value,
		maxRestarts: policy.MaxRestarts, restartWindow: policy.Window,
	}
	r.own = actorNode{
		rt:   rt,
		name: name,
		pid:  pid,
		h:    r,
	}
	r.own.exec.Store(int32(exec.Index()) + 1)
	r.ctx = ActorContext{Context: rt.sup.Group().Context(), node: &r.own}
	size := cmpOr(cfg.mailbox, DefaultActorMailbox)
	r.weight = cfg.weight
	r.cell = actors.NewCell[envelope[M, R]](exec, size, (*cellHost[M, R])(r))
	r.info.Turns = r.cell // its Asks begin in its turns (see waitsOnItself)
	if cfg.parent == nil && cfg.onExec == 0 {
		// Placed by weight: it floats within its range (see Ref.Executor).
		r.floats = true
		r.cell.Float(exec)
	}
	if err := rt.actors.add(&r.own, cfg.parent); err != nil {
		return nil, err
	}
	if testSpawnAdded != nil {
		testSpawnAdded(r.doneCh())
	}
	if err := r.cell.TryPutFirst(envelope[M, R]{kind: envStart}); err != nil {
		r.finish(err)
		if errors.Is(err, actors.ErrCellClosed) {
			// Stopped as it was spawned, by its parent's stop or the
			// runtime's: the error add gives just after either.
			err = ErrActorStopped
			if rt.stopping.Load() {
				err = ErrStopped
			}
		}
		return nil, fmt.Errorf("coregate: actor %q: %w", name, err)
	}
	if testSpawnQueued != nil {
		testSpawnQueued(r.doneCh())
	}
	r.register(r.cell.Executor().Index()) // exec, or where the start moved it if exec is down
	return r, nil
}

// callFactory calls newActor, a panic in it returned as a *PanicError, as
// the factory's panics on a restart are. A runtime.Goexit in it ends the
// caller's goroutine: Spawn's own, or an executor's, which is replaced.
func callFactory[M, R any](newActor func() Actor[M, R]) (v Actor[M, R], err error) {
	normal := false
	defer func() {
		if !normal {
			err = &PanicError{Value: recover(), Stack: debug.Stack()}
		}
	}()
	v = newActor()
	normal = true
	return v, nil
}

// isNilActor says v is nil, or a nil pointer (or other nil value) in the
// interface: no actor, whose Receive would panic on its first message.
func isNilActor[M, R any](v Actor[M, R]) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// testSpawnAdded, when set by a test, is called by Spawn once the actor is
// listed and before its Started is queued, with a channel closed once the
// actor stopped.
var testSpawnAdded func(stopped <-chan struct{})

// testSpawnQueued, when set by a test, is called by Spawn once Started is
// queued and before the actor is registered with the engine, with a channel
// closed once the actor stopped.
var testSpawnQueued func(stopped <-chan struct{})

// testNameFreed, when set by a test, is called once a stopping actor's
// name is free to spawn again, with its runtime and name. Atomic: actors of
// another test's runtime may still be stopping.
var testNameFreed atomic.Pointer[func(rt *Runtime, name string)]

// testRegistered, when set by a test, is called by register with the
// actor's PID once it is a process of the engine and before its
// ActorStarted is announced.
var testRegistered func(pid *actor.PID)

// register makes the actor a process of the engine and announces it
// (ActorStarted), after Started is queued, so that a message by PID comes
// after it. An actor that stopped meanwhile (its Started failed, or its
// parent stopped) is not registered: its PID would outlive it and hide the
// next actor of its name.
func (r *Ref[M, R]) register(exec int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unlisted {
		return
	}
	r.registered = true
	e := r.own.rt.engine
	e.SpawnProc(&actorProc[M, R]{r})
	if testRegistered != nil {
		testRegistered(r.own.pid)
	}
	e.BroadcastEvent(ActorStarted{PID: r.own.pid, Executor: exec})
}

// unlist ends the actor's registration for finish, and reports whether
// there was one: whose process to remove and whose end to announce.
func (r *Ref[M, R]) unlist() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unlisted = true
	return r.registered
}

// DefaultActorMailbox bounds an actor's queued messages unless
// [WithMailbox] says otherwise.
const DefaultActorMailbox = 1024

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// PID returns the actor's hollywood PID, <Config.Name>/actor/<name>; nil
// for a nil *Ref or one not made by Spawn.
func (r *Ref[M, R]) PID() *actor.PID {
	if r.unusable() {
		return nil
	}
	return r.own.pid
}

// Executor returns the index of the executor the actor runs on now; -1 for
// a nil *Ref or one not made by Spawn. An actor moves when its executor goes
// down, and one placed by weight (neither [OnExecutor] nor [ChildOf]) moves
// with a hand-off from another actor: see [Spawn].
func (r *Ref[M, R]) Executor() int {
	if r.unusable() {
		return -1
	}
	return r.cell.Executor().Index()
}

// unusable says r is nil or was not made by Spawn.
func (r *Ref[M, R]) unusable() bool { return r == nil || r.cell == nil }

// Tell queues msg for the actor, waiting for room in its mailbox until ctx
// ends (a ctx that ended already fails a Tell only when it would wait, as
// [golang.org/x/sync/semaphore]'s Acquire does). Messages from one sender
// arrive in the order sent. A failure of
// Receive on msg has no one to go to: it restarts the actor, as for Ask. It
// returns ErrActorStopped once the actor stopped. An actor telling itself in
// its own turn (Receive or Started, with any context) does not wait: only a
// later turn of its own makes room, so on a full mailbox it gets an error
// wrapping ErrMailboxFull at once. Tell allocates nothing in steady
// state.
func (r *Ref[M, R]) Tell(ctx context.Context, msg M) error {
	if r.unusable() {
		return ErrNilRef
	}
	if ctx == nil {
		return ErrNilContext
	}
	if r.stopping.Load() {
		return ErrActorStopped
	}
	return r.put(ctx, envelope[M, R]{msg: msg})
}

// Ask queues msg for the actor and returns at once the token its reply
// resolves: Wait gives Receive's result and error (a *PanicError or
// ErrGoexit when Receive failed, ErrActorStopped when the actor stopped
// first); Cancel before the actor reaches it skips it. It waits for room like
// Tell (an actor asking itself in its own turn gets ErrMailboxFull instead)
// and allocates only the token. ctx bounds that wait, and Receive gets
// the actor's own context, not ctx: an Ask queued before ctx ended is
// delivered all the same, as Akka delivers an ask that timed out (to skip
// it, Cancel its token).
func (r *Ref[M, R]) Ask(ctx context.Context, msg M) (*Token[R], error) {
	if r.unusable() {
		return nil, ErrNilRef
	}
	if ctx == nil {
		return nil, ErrNilContext
	}
	if r.stopping.Load() {
		return nil, ErrActorStopped
	}
	tok := &Token[R]{}
	tok.task.Init(ctx, r.own.rt.ids.Add(1), &r.info, nil)
	r.cell.Executor().Accept(&tok.task)
	if err := r.put(ctx, envelope[M, R]{msg: msg, tok: tok}); err != nil {
		// Accepted: resolve it so the counts balance; given up waiting for
		// room, it was cancelled, as a token whose submitter's context ended.
		o := actors.Failed
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			o = actors.Cancelled
		}
		tok.task.Resolve(o, err)
		return nil, err
	}
	return tok, nil
}

func (r *Ref[M, R]) put(ctx context.Context, e envelope[M, R]) error {
	if r.floats {
		// From another actor's turn: the cell follows a hand-off, or goes
		// home from a sender with more to do (see actors.Cell.Follow).
		if n := senderOf(ctx); n != nil && n != &r.own {
			if x, ending := n.h.handing(); !ending {
				r.cell.GoHome(x)
			} else if r.cell.Follow(x, e) {
				return nil
			}
		}
	}
	err := r.cell.TryPut(e)
	if errors.Is(err, actors.ErrMailboxFull) {
		if r.inTurn() {
			// Only a later turn of the actor takes its queue: the wait for
			// room would last as long as ctx, whatever ctx is (its own, or
			// a server's Background).
			return fmt.Errorf("%w: actor %q sends itself a message in its own turn, and only a later turn makes room", ErrMailboxFull, r.own.name)
		}
		err = r.cell.Put(ctx, e)
	}
	return refused(err)
}

// senderOf is turnOf for a send that may make a floating actor follow
// its sender or go home: both happen only on the goroutine that owns the
// sender's executor (Cell.Follow and Cell.GoHome ask), so a caller that
// owns no executor is no actor's sender here, and its context, perhaps a
// request's many layers deep, is not searched (eight values over a
// deadline made a Tell 105-123 ns against 77-104 with a plain context).
func senderOf(ctx context.Context) *actorNode {
	if _, ok := ctx.(*ActorContext); !ok && !actors.OwnsExecutor() {
		return nil
	}
	return turnOf(ctx)
}

// turnOf returns the actor whose context ctx is, or derives from, or nil:
// most sends from an actor pass its context itself. A nil *ActorContext
// (a unit test's) is no actor's, as a zero one is.
func turnOf(ctx context.Context) *actorNode {
	if ac, ok := ctx.(*ActorContext); ok {
		if ac.zero() {
			return nil
		}
		return ac.node
	}
	n, _ := ctx.Value(actors.TurnKey{}).(*actorNode)
	return n
}

// refused is the error of a message its cell did not take, as Tell and Ask
// answer it: ErrActorStopped for a closed cell, and for one no executor
// takes any more because the runtime is stopping (its kill comes next).
func refused(err error) error {
	if err == nil {
		return nil // the common case, on every Tell
	}
	if errors.Is(err, actors.ErrCellClosed) || errors.Is(err, ErrStopped) {
		return ErrActorStopped
	}
	return err
}

// Stop stops the actor after the messages already queued: new ones are
// refused, Stopped runs once, its children ([ChildOf]) stop too, and Stop
// returns when they all have, their names free to spawn again, or ctx's
// error if ctx ends first (they still stop). Called from a handler (an op's, or
// another actor's Receive), it hands the handler's executor on while it
// waits, as Wait does, since the actor may be queued on that very executor.
// The actor stopping itself (from its own Started, Receive or Stopped, with
// any context, or with its ActorContext, or a context derived from it,
// anywhere) returns at once: it stops once the current message is handled
// and those queued before the stop. So does a descendant ([ChildOf])
// stopping it with its own ActorContext (or one derived from it): it stops
// after, with the tree, and meanwhile answers what the actor's Stopped
// asks it. From a handler or a callback (an op's
// handler, a Receive or Stopped, an Every's each), Stop waits for the
// actor alone, its children stopping after it: one of them may be the
// caller.
func (r *Ref[M, R]) Stop(ctx context.Context) error {
	if r.unusable() {
		return ErrNilRef
	}
	if ctx == nil {
		return ErrNilContext
	}
	done := r.stopWith(nil)
	turn := turnOf(ctx)
	if turn == &r.own || r.inTurn() || r.inStopped() {
		// It stops after this turn, or this Stopped: waiting for it here
		// would never end, whatever ctx the turn passed (its own, or a
		// server's Background).
		return nil
	}
	if turn != nil && turn.descends(&r.own) {
		// A descendant's turn stopping its ancestor stops after it, with
		// the tree: waiting here, it would answer nothing the ancestor's
		// Stopped asks it until ctx ended.
		return nil
	}
	if !r.own.rt.inHandler() {
		// From plain code, the whole tree. Not from a handler: a child's
		// Stopped stopping its parent would wait for itself.
		done = r.treeCh()
	}
	select {
	case <-done:
		return nil
	default:
	}
	resume, err := actors.Block()
	if err != nil {
		return err
	}
	defer resume()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // both ready by the time the caller ran: it stopped
			return nil
		default:
			return ctx.Err()
		}
	}
}

// stopWith starts stopping the actor (a stop envelope behind what is queued)
// and returns a channel closed once it stopped. The stop is the mailbox's
// last envelope: a Tell or Ask that passed its check of stopping as the
// stop began is queued ahead of it, and delivered, or refused with
// ErrActorStopped, never accepted and dropped.
func (r *Ref[M, R]) stopWith(reason error) <-chan struct{} {
	if r.stopping.CompareAndSwap(false, true) {
		r.reason = reason
		put := r.cell.TryPutLast
		if !r.own.rt.stopping.Load() {
			// An actor stranded with messages (no executor live) stops
			// after them once an executor is back, as Stop says; a
			// stopping runtime kills it instead (see below).
			put = r.cell.TryPutLastStranded
		}
		if err := put(envelope[M, R]{kind: envStop}); err != nil {
			if errors.Is(err, actors.ErrMailboxFull) {
				go func() {
					err := r.cell.PutLast(context.Background(), envelope[M, R]{kind: envStop})
					if err != nil && !errors.Is(err, actors.ErrCellClosed) {
						r.kill(reason) // no executor took it (the runtime drained meanwhile): stop here
					}
				}()
			} else {
				// No executor will run it: stop here, also while the runtime
				// stops, since a handler its drain waits for may wait on a
				// message queued here (closeCell counts what it refuses for
				// the runtime's Stop).
				if f := testStrandedKill.Load(); f != nil {
					(*f)(r.own.rt, r.own.name, func() { r.kill(reason) })
				} else {
					r.kill(reason)
				}
			}
		}
	}
	return r.doneCh()
}
