package actors

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/anthdm/hollywood/actor"
)

// DefaultMaxBlocked is the default bound on handlers blocked at once in one
// group; see [GroupConfig].
const DefaultMaxBlocked = 1000

// GroupConfig describes the executors of one runtime.
type GroupConfig struct {
	Engine      *actor.Engine // the engine the executors register with; required
	Name        string        // PID prefix: executors are <Name>/exec/<index>
	CPUs        []int         // executor i runs on CPUs[i]; at most MaxExecutors of them
	MailboxSize int           // each mailbox's bound, 1 to MaxMailboxSize (no default)
	Affinity    Affinity      // the pinning mode; the zero value is BestEffort
	Room        *Room         // told when a mailbox frees space; may be nil
	// MaxBlocked bounds the group's handlers blocked at once (in
	// [Task.Await] or waiting for room, see [Block]), whatever group owns
	// what they wait on, each of which holds a goroutine and, when pinned,
	// an OS thread; past it a blocking call fails with [ErrTooManyBlocked].
	// 0 means DefaultMaxBlocked.
	MaxBlocked int
	// IdleSpin is how long an idle executor polls its mailbox before it
	// parks, at most [MaxIdleSpin]; 0 (or less) means it parks at once:
	// unlike the root package's Config, a GroupConfig has no default
	// here ([DefaultIdleSpin] is the root's). Spinners bounds
	// the executors polling at once; 0 (or more than there are) means all of
	// them.
	IdleSpin time.Duration
	Spinners int
	// Answer sends a Request's sender the error refusing its message; nil
	// means engine.Send. A runtime on a remote engine turns replies into
	// protobuf messages there, since hollywood's remote carries nothing else.
	Answer func(to *actor.PID, err error)
	// Detached is the pool of goroutines that runs handlers off the
	// executors ([Executor.RunDetached]), or nil: [Block] counts one of
	// its workers blocking as it counts an executor's handler, and lets the
	// pool run its queue meanwhile.
	Detached DetachedPool
}

// DetachedPool is a bounded pool of goroutines running handlers off the
// executors (the root package's blocking lane). A worker of it waiting on
// work queued behind it would wait for good, as an executor's handler would
// without its hand-off, unless the pool starts another in its place.
type DetachedPool interface {
	// Running reports whether the caller is one of the pool's workers and,
	// when it is, the task it runs (nil between tasks).
	Running() (t *Task, in bool)
	// Blocked tells the pool that the calling worker blocks until resume
	// is called; meanwhile it does not count against the pool's bound.
	Blocked() (resume func())
}

// Hooks are what a group's owner (its supervisor) and its router give it when
// it starts. Nil fields do nothing (Redirect: resolve with ErrNoExecutor).
type Hooks struct {
	// OnStart is called on an executor's goroutine once it is locked and
	// pinned, before it takes its first token.
	OnStart func(e *Executor)
	// OnExit is called on an executor's owner goroutine as it ends: err is nil
	// when it drained or was aborted, ErrGoexit when a handler called
	// runtime.Goexit, another error when the loop itself failed. It may
	// launch a replacement; it runs before the goroutine leaves the group.
	OnExit func(e *Executor, err error)
	// Redirect places an accepted job whose executor is down (one sent to a
	// down executor's PID, or a retry due on it) on another executor.
	Redirect func(j Job)
	// Follow returns the executor a retried job due now goes to when its
	// placement moved meanwhile (its seed or sticky pin left the executor
	// that ran it, which went down, even if it is back up), or nil to queue
	// it where it ran.
	Follow func(j Job) *Executor
}

// Group is the executors of one runtime and what they share: the engine, the
// abort signal that cancels running handlers, the exit hook, and the
// goroutines running their handlers.
//
// An executor's or the router's PID refuses hollywood's Poison and Stop: the
// runtime owns them and stops them with its own Stop, so they would lose
// tokens otherwise. The refusal completes the context Poison returned and is
// published as a [PoisonRefused] event.
type Group struct {
	engine     *actor.Engine
	execs      []*Executor // fixed at NewGroup
	affinity   Affinity
	maxBlocked int32
	blocked    atomic.Int32
	aborted    atomic.Bool
	cancelled  atomic.Int64 // handlers and turns that returned after Abort cancelled their contexts
	abort      context.Context
	cancel     context.CancelFunc
	onStart    func(*Executor)
	onExit     func(*Executor, error)
	redirect   func(Job)
	follow     func(Job) *Executor
	retries    retries
	answer     func(*actor.PID, error)
	spin       time.Duration // GroupConfig.IdleSpin
	spinners   spinners
	waiting    waitingGauge // goroutines waiting for a P, as the pollers see it
	detached   DetachedPool // GroupConfig.Detached, or nil
	// detachedBlocks counts, by goroutine id, the Blocks under way of the
	// detached pool's workers, nested ones too: only the outermost counts
	// (see blockDetached).
	detachedMu     sync.Mutex
	detachedBlocks map[uint64]int
	watches        watches // tokens a watch on their submitter's context is resolving

	wmu     sync.Mutex
	workers map[*worker]struct{}
	idle    chan struct{} // closed while workers is empty

	// Cells left idle with envelopes when no executor was live to take
	// them (see PlaceStranded).
	smu      sync.Mutex
	stranded map[strandedCell]struct{}
}

// strandedCell is a [Cell] of any envelope type, for the group's list.
type strandedCell interface{ placeStranded() }

// strand lists c, stranded, for PlaceStranded.
func (g *Group) strand(c strandedCell) {
	g.smu.Lock()
	defer g.smu.Unlock()
	if g.stranded == nil {
		g.stranded = make(map[strandedCell]struct{})
	}
	g.stranded[c] = struct{}{}
}

// PlaceStranded places again the actors whose cells were left idle with
// envelopes because no executor was live to take them (every executor of
// the group was down): nothing else would, when no one sends them another
// message, and their queued Asks would wait for good. Call it once an
// executor is back in service.
func (g *Group) PlaceStranded() {
	g.smu.Lock()
	cells := g.stranded
	g.stranded = nil
	g.smu.Unlock()
	for c := range cells {
		c.placeStranded()
	}
}

// NewGroup creates the executors and registers each with the engine; none runs
// until [Executor.Launch]. The group is listed for [Block] until
// [Group.Release].
func NewGroup(cfg GroupConfig) (*Group, error) {
	if cfg.MailboxSize < 1 || cfg.MailboxSize > MaxMailboxSize {
		return nil, fmt.Errorf("coregate: mailbox size %d is out of range 1-%d", cfg.MailboxSize, MaxMailboxSize)
	}
	if len(cfg.CPUs) > MaxExecutors {
		return nil, fmt.Errorf("coregate: %d executors, at most %d", len(cfg.CPUs), MaxExecutors)
	}
	g := &Group{
		engine: cfg.Engine, affinity: cfg.Affinity, maxBlocked: int32(min(cfg.MaxBlocked, math.MaxInt32)),
		workers: make(map[*worker]struct{}), idle: make(chan struct{}),
	}
	close(g.idle)
	if g.maxBlocked <= 0 {
		g.maxBlocked = DefaultMaxBlocked
	}
	g.answer, g.detached = cfg.Answer, cfg.Detached
	if g.answer == nil {
		g.answer = func(to *actor.PID, err error) { cfg.Engine.Send(to, err) }
	}
	g.spin = min(max(cfg.IdleSpin, 0), MaxIdleSpin)
	g.spinners.max = int32(len(cfg.CPUs))
	if cfg.Spinners > 0 && cfg.Spinners < len(cfg.CPUs) {
		g.spinners.max = int32(cfg.Spinners)
	}
	g.retries.pending = make(map[*Task]*pendingRetry)
	g.abort, g.cancel = context.WithCancel(context.Background())
	kind := cfg.Name + "/exec"
	for i, cpu := range cfg.CPUs {
		e := &Executor{
			group: g,
			index: i,
			cpu:   cpu,
			pid:   actor.NewPID(cfg.Engine.Address(), kind+"/"+strconv.Itoa(i)),
			mb:    NewMailbox(cfg.MailboxSize, cfg.Room),
		}
		e.mb.index = i
		e.ctx = &turnCtx{g.abort, e}
		if !Claim(cfg.Engine, e) {
			g.Unregister() // the executors claimed so far, not e
			g.cancel()
			return nil, fmt.Errorf("coregate: PID %s/%d is already registered on this engine", kind, i)
		}
		g.execs = append(g.execs, e)
	}
	listGroup(g) // for Block, until Release
	return g, nil
}

// Claim registers p with e unless e has a process of p's ID already, and
// reports whether p is registered. Hollywood keeps the first process of an
// ID and drops a later one without saying so to its caller, so the
// registry is looked at again after the spawn: a look before it alone
// leaves a runtime started at the same time under the same name free to
// take the ID in between, and both would go on sharing it.
func Claim(e *actor.Engine, p actor.Processer) bool {
	kind, id, _ := strings.Cut(p.PID().GetID(), "/")
	if e.Registry.GetPID(kind, id) != nil {
		return false // not spawned: hollywood would publish and log a duplicate
	}
	e.SpawnProc(p)
	return e.Registry.GetPID(kind, id) == p.PID()
}

// Executors returns the group's executors, index order. Do not modify the slice.
func (g *Group) Executors() []*Executor { return g.execs }

// Engine returns the engine the executors are registered with.
func (g *Group) Engine() *actor.Engine { return g.engine }

// Start sets the group's hooks and launches every executor; under [Strict]
// affinity a failed pin aborts the executors already launched, waits for
// them and is returned. Call it once.
func (g *Group) Start(h Hooks) error {
	g.onStart, g.onExit, g.redirect, g.follow = h.OnStart, h.OnExit, h.Redirect, h.Follow
	if g.onStart == nil {
		g.onStart = func(*Executor) {}
	}
	if g.onExit == nil {
		g.onExit = func(*Executor, error) {}
	}
	if g.redirect == nil {
		g.redirect = func(j Job) { Drop(j, Failed, ErrNoExecutor) }
	}
	if g.follow == nil {
		g.follow = func(Job) *Executor { return nil }
	}
	for _, e := range g.execs {
		if err := e.Launch(); err != nil {
			g.Abort()
			_ = g.Wait(context.Background())
			return err
		}
	}
	return nil
}

// DropSpares ends the parked helpers of every executor and keeps none from
// now on; a stopping runtime calls it so that only goroutines with work are
// left to wait for.
func (g *Group) DropSpares() {
	for _, e := range g.execs {
		e.dropSpares()
	}
}

// Abort makes every executor stop before its next token, cancels the contexts
// of running handlers, and resolves every token still queued with
// [ErrStopped], at once, so nothing waits on a token no executor will run;
// a retry on its way to its backoff (its attempt ran, see [Task.StopNow])
// resolves with its last attempt's error. It returns how many of each it
// resolved. Call it once.
func (g *Group) Abort() (stopped, retries int) {
	g.aborted.Store(true)
	g.DropSpares()
	g.cancel()
	for _, e := range g.execs {
		for _, j := range e.mb.abort() {
			t := j.Task()
			if t == nil {
				Drop(j, Stopped, ErrStopped) // a Scheduled runnable: unscheduled
				continue
			}
			switch resolved, retry := t.StopNow(); {
			case retry:
				retries++
			case resolved:
				stopped++
			}
		}
	}
	return stopped, retries
}

// Cancelled returns how many handlers, and turns counted with
// [Group.CountCancelled], returned (or called runtime.Goexit) after Abort
// had cancelled their contexts: work the abort cut short although it ended
// in time.
func (g *Group) Cancelled() int { return int(g.cancelled.Load()) }

// CountCancelled counts, for [Group.Cancelled], a turn that ran past the
// abort (an actor's Receive, whose context is the group's) once it ended.
func (g *Group) CountCancelled() { g.cancelled.Add(1) }

// Context returns the group's context: cancelled when the group aborts.
func (g *Group) Context() context.Context { return g.abort }

// Release frees the abort context and takes g off the process's list of
// groups, where [Block] looks for its caller's; call it once the group is
// stopped.
func (g *Group) Release() {
	g.cancel()
	unlistGroup(g)
}

// Unregister removes the executors' PIDs from the engine.
func (g *Group) Unregister() {
	for _, e := range g.execs {
		g.engine.Registry.Remove(e.pid)
	}
}

// Aborted reports whether Abort was called.
func (g *Group) Aborted() bool { return g.aborted.Load() }

// Group returns the executor's group.
func (e *Executor) Group() *Group { return e.group }

// InHandler reports whether the calling goroutine runs a handler of g: an
// executor's owner, or a handler that handed its executor on and goes on.
func (g *Group) InHandler() bool { return g.handlerOf(goid()) != nil }

// handlerOf returns the worker of goroutine id when it runs a handler of g
// (see InHandler), or nil.
func (g *Group) handlerOf(id uint64) *worker {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	for w := range g.workers {
		if w.id == id {
			return w
		}
	}
	return nil
}

func (g *Group) enter(w *worker, e *Executor) {
	g.wmu.Lock()
	if len(g.workers) == 0 {
		g.idle = make(chan struct{})
	}
	g.workers[w] = struct{}{}
	g.wmu.Unlock()
}

func (g *Group) leave(w *worker) {
	g.wmu.Lock()
	delete(g.workers, w)
	if len(g.workers) == 0 {
		close(g.idle)
	}
	g.wmu.Unlock()
}

// Wait blocks until no goroutine of g runs, or ctx ends.
func (g *Group) Wait(ctx context.Context) error {
	g.wmu.Lock()
	idle := g.idle
	g.wmu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Running returns the tokens whose handlers run now, on owners and on
// handlers finishing after a hand-off.
func (g *Group) Running() []*Task {
	var ts []*Task
	for _, e := range g.execs {
		if t := e.Running(); t != nil {
			ts = append(ts, t)
		}
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	for w := range g.workers {
		if t := w.kept.Load(); t != nil && t.isRunning() {
			ts = append(ts, t)
		}
	}
	return ts
}

// PoisonRefused is published when hollywood's Poison or Stop is sent to a PID
// the runtime owns (an executor, its router, its ops process) or one of
// the processes coregate adds to an engine (Remote's, a Request's). Nothing
// is stopped or lost; the context Poison returned is done. Stop the runtime
// to stop its processes.
type PoisonRefused struct {
	PID      *actor.PID // the PID the message was sent to
	Graceful bool       // Poison rather than Stop
}

// accept returns the job msg carries, or handles a message that is not one:
// a hollywood poison pill is refused and completed, a malformed job or
// anything else is a dead letter, answered with an error for a Request.
func (g *Group) accept(pid *actor.PID, msg any, sender *actor.PID) (Job, bool) {
	if j, ok := msg.(Job); ok {
		if err := validJob(j); err != nil {
			g.reject(pid, msg, sender, err)
			return nil, false
		}
		return j, true
	}
	if cancel, graceful, ok := PoisonPill(msg); ok {
		g.engine.BroadcastEvent(PoisonRefused{PID: pid, Graceful: graceful})
		cancel()
		return nil, false
	}
	g.reject(pid, msg, sender, fmt.Errorf("coregate: %v takes coregate jobs, not %T", pid, msg))
	return nil, false
}

// Reject publishes msg as a dead letter to pid and, when it came as a
// Request, answers err.
func (g *Group) reject(pid *actor.PID, msg any, sender *actor.PID, err error) {
	g.engine.BroadcastEvent(actor.DeadLetterEvent{Target: pid, Message: msg, Sender: sender})
	if sender != nil {
		g.answer(sender, err)
	}
}

// Accept returns the job msg carries, for other processes of the runtime
// (its router), and reports whether there is one. A message that is not a
// job is handled as an executor's [Executor.Send] handles it: hollywood's
// Poison and Stop are refused and their context completed (PoisonRefused), a
// malformed job or anything else is a dead letter, answered with an error
// when it came as a Request.
func (g *Group) Accept(pid *actor.PID, msg any, sender *actor.PID) (Job, bool) {
	return g.accept(pid, msg, sender)
}

// validJob checks a job that came by message before anything runs it: its
// Task must be one prepared by [Task.Init] and never sent or pushed; it
// claims it, so a job sent twice at once is accepted once. Calling into a
// job of unknown make is done under recover.
func validJob(j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("coregate: a %T panicked when asked for its Task: %v", j, r)
		}
	}()
	t := j.Task()
	switch {
	case t == nil:
		return fmt.Errorf("coregate: a %T has a nil Task", j)
	case t.parent == nil:
		return fmt.Errorf("coregate: a %T has a Task that was never initialised with Task.Init", j)
	case !t.claimSent():
		return fmt.Errorf("coregate: a %T was sent or pushed before; a token runs once", j)
	}
	return nil
}

// PoisonPill recognises hollywood's unexported poisonPill, what
// engine.Poison and engine.Stop send (v1.0.5: fields cancel
// context.CancelFunc and graceful bool), and returns its cancel, which
// completes the context they returned.
func PoisonPill(msg any) (cancel func(), graceful, ok bool) {
	v := reflect.ValueOf(msg)
	if !v.IsValid() || v.Kind() != reflect.Struct || v.Type().Name() != "poisonPill" || v.Type().PkgPath() != reflect.TypeFor[actor.PID]().PkgPath() {
		return nil, false, false
	}
	c, g := v.FieldByName("cancel"), v.FieldByName("graceful")
	if c.Type() != reflect.TypeFor[context.CancelFunc]() || g.Kind() != reflect.Bool {
		return nil, false, false
	}
	p := reflect.New(v.Type()).Elem()
	p.Set(v)
	f := p.FieldByName("cancel")
	cancel = *(*context.CancelFunc)(unsafe.Pointer(f.UnsafeAddr()))
	if cancel == nil {
		cancel = func() {}
	}
	return cancel, g.Bool(), true
}
