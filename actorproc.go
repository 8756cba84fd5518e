package coregate

// An actor among the runtime's processes: its hollywood process, the
// registry of live names, and the executor a new actor goes to.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// actorProc is an actor as a hollywood process: Send of an M is a Tell (a
// Request's sender gets the reply), Poison and Stop stop the actor after
// the messages queued (as Ref.Stop does), anything else is a dead letter
// (a Request's sender gets an error wrapping ErrBadArgument).
type actorProc[M, R any] struct{ r *Ref[M, R] }

func (p *actorProc[M, R]) Start()          {}
func (p *actorProc[M, R]) PID() *actor.PID { return p.r.own.pid }
func (p *actorProc[M, R]) Shutdown()       {}
func (p *actorProc[M, R]) Invoke(msgs []actor.Envelope) {
	for _, m := range msgs {
		p.Send(p.r.own.pid, m.Msg, m.Sender)
	}
}

func (p *actorProc[M, R]) Send(_ *actor.PID, msg any, sender *actor.PID) {
	r := p.r
	// A pill first: an actor of any M (an interface) would take it for a
	// message.
	if cancel, _, ok := actors.PoisonPill(msg); ok {
		// Done once the whole tree stopped, as Ref.Stop from plain code
		// waits for it: a child's name is free once the context is done.
		go func() { r.stopWith(nil); <-r.treeCh(); cancel() }()
		return
	}
	// A nil is M's nil where M has one, as a Call's nil argument is an op's.
	m, err := argAs[M](msg)
	if err != nil {
		r.own.rt.deadLetter(r.own.pid, msg, sender)
		if sender != nil {
			r.own.rt.answer(sender, nil, fmt.Errorf("%w: actor %q %w", ErrBadArgument, r.own.name, err))
		}
		return
	}
	if sender != nil && isRequest(sender) && r.cell.InTurn() {
		// A Request of the actor's own turn, with a context not its own
		// (with its own, Request refused it before sending): only a later
		// turn could answer it, so it would wait as long as that context.
		// Sent here on the turn's goroutine, as a local send is.
		r.own.rt.answer(sender, nil, fmt.Errorf("%w: actor %q would wait for a turn of its own (a Request to itself)", ErrAskSelf, r.own.name))
		return
	}
	err = ErrActorStopped // once its Stop began, as Tell and Ask answer
	if !r.stopping.Load() {
		err = r.cell.TryPut(envelope[M, R]{msg: m, reply: sender})
		if err == nil {
			// Its answer may come once the actor left the registry (a
			// turn's rest refused after its stop): a Request must wait
			// for it.
			r.own.rt.took(sender)
			return
		}
	}
	err = refused(err) // as Tell and Ask answer it
	r.own.rt.deadLetter(r.own.pid, msg, sender)
	if sender != nil {
		r.own.rt.answer(sender, nil, fmt.Errorf("coregate: actor %q: %w", r.own.name, err))
	}
}

// actorRegistry holds a runtime's live actors by name.
type actorRegistry struct {
	mu    sync.Mutex
	names map[string]*actorNode
}

func (a *actorRegistry) add(n *actorNode, parent *actorNode) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n.rt.stopping.Load() {
		// Under the lock that Stop's look at the actors (all) takes after it
		// set stopping: an actor is either refused here or stopped by Stop.
		return ErrStopped
	}
	if _, dup := a.names[n.name]; dup {
		return fmt.Errorf("%w: actor %q is already running", ErrNameTaken, n.name)
	}
	if err := pidHeld(n.rt, n.name, n.pid); err != nil {
		return err
	}
	if parent != nil && a.names[parent.name] != parent {
		// Checked with the parent's children under the same lock as its
		// stop takes them (remove): a child is either stopped with its
		// parent or refused here.
		return parentStopped(n.name, parent)
	}
	if a.names == nil {
		a.names = make(map[string]*actorNode)
	}
	a.names[n.name] = n
	if parent != nil {
		n.parent = parent
		parent.mu.Lock()
		if parent.children == nil {
			parent.children = make(map[*actorNode]struct{})
		}
		parent.children[n] = struct{}{}
		parent.mu.Unlock()
	}
	return nil
}

// pidHeld says why an actor named name may not have pid: a process of the
// engine has it already, an actor of a stopped runtime of the same name
// whose Receive runs on past that Stop (its process leaves the engine as
// it returns).
// Hollywood keeps the first process of an ID, so the new actor would have
// a PID that reaches the old one, then none. Only another runtime's can
// hold it: one of rt's own leaves the engine before its name is free.
func pidHeld(rt *Runtime, name string, pid *actor.PID) error {
	if p, _ := registered(rt.engine, pid); p != nil {
		return fmt.Errorf("%w: actor %q: its PID %v is a process of the engine still (an actor of a stopped runtime named %q, whose Receive runs on?)", ErrNameTaken, name, pid, rt.name)
	}
	return nil
}

// has says an actor named name is live.
func (a *actorRegistry) has(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.names[name]
	return ok
}

// listed says n is live: its name is n's.
func (a *actorRegistry) listed(n *actorNode) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.names[n.name] == n
}

// leaveParent takes n, whose tree stopped, out of its parent's children:
// not before, so that a parent stopping meanwhile waits for n's tree too.
func (a *actorRegistry) leaveParent(n *actorNode) {
	if p := n.parent; p != nil {
		p.mu.Lock()
		delete(p.children, n)
		p.mu.Unlock()
	}
}

// remove frees n's name and returns its children, to stop with it (those
// still stopping too: their trees may not have). ended, when not nil, is
// published on the engine as the name is freed, under the lock that add
// takes: an actor spawned again under the name, with the same PID, is
// announced after it, and a subscriber that spawns the name again on
// seeing it finds the name free.
func (a *actorRegistry) remove(n *actorNode, ended any) []*actorNode {
	a.mu.Lock()
	if a.names[n.name] == n {
		delete(a.names, n.name)
	}
	if ended != nil {
		n.rt.engine.BroadcastEvent(ended)
	}
	a.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	var kids []*actorNode
	for c := range n.children {
		kids = append(kids, c)
	}
	return kids
}

// all returns the live actors, each parent ahead of its children: a
// stopping runtime kills them in that order, so that a parent's Stopped
// runs before its children's, as ChildOf says.
func (a *actorRegistry) all() []*actorNode {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*actorNode, 0, len(a.names))
	depth := make(map[*actorNode]int, len(a.names))
	for _, n := range a.names {
		out = append(out, n)
		for p := n.parent; p != nil; p = p.parent {
			depth[n]++
		}
	}
	slices.SortFunc(out, func(x, y *actorNode) int { return depth[x] - depth[y] })
	return out
}

// childrenStopped waits until every ChildOf child among ns, the actors of
// a stopping runtime, and its tree stopped, or until ctx ends. Its parent
// told it to stop once its own Stopped returned, so every parent's
// Stopped has run by then too.
func childrenStopped(ctx context.Context, ns []*actorNode) {
	left := new(atomic.Int64)
	left.Store(1) // this call's own, so that all closes once
	all := make(chan struct{})
	ended := func() {
		if left.Add(-1) == 0 {
			close(all)
		}
	}
	for _, n := range ns {
		if n.parent != nil {
			left.Add(1)
			n.h.whenTreeEnded(ended)
		}
	}
	ended()
	select {
	case <-all:
	case <-ctx.Done():
	}
}

// parentStopped is the error of a Spawn of name ChildOf a parent that
// stopped.
func parentStopped(name string, parent *actorNode) error {
	return fmt.Errorf("coregate: actor %q: its parent %q stopped: %w", name, parent.name, ErrActorStopped)
}

// actorExecutor is where a new actor goes: OnExecutor, its parent's executor,
// or staggered selection in its weight class.
func (rt *Runtime) actorExecutor(name string, cfg opConfig) (*actors.Executor, error) {
	switch {
	case cfg.parent != nil && cfg.parent.rt != rt:
		return nil, fmt.Errorf("coregate: actor %q: ChildOf a parent %q of another runtime (%q, not %q)", name, cfg.parent.name, cfg.parent.rt.name, rt.name)
	case cfg.parent != nil && !rt.actors.listed(cfg.parent):
		// Before the factory too; add checks it again under its lock.
		return nil, parentStopped(name, cfg.parent)
	case cfg.parent != nil:
		// Where the parent is now, not where it last ran a turn: it may
		// have moved off an executor that went down since, and that
		// executor may be back by now.
		return cfg.parent.h.executor(), nil
	case cfg.onExecSet:
		if cfg.onExec <= 0 || cfg.onExec > len(rt.execs) {
			return nil, fmt.Errorf("coregate: actor %q: OnExecutor(%d) is out of range: the runtime has %d executors", name, cfg.onExec-1, len(rt.execs))
		}
		return rt.execs[cfg.onExec-1], nil
	}
	i := rt.router.Home(cfg.weight)
	if i < 0 {
		return nil, ErrNoExecutor
	}
	return rt.execs[i], nil
}
