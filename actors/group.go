package actors

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
)

// GroupConfig describes the executors of one runtime.
type GroupConfig struct {
	Engine      *actor.Engine
	Name        string // PID prefix: executors are <Name>/exec/<index>
	CPUs        []int  // executor i runs on CPUs[i]
	MailboxSize int
	Affinity    Affinity
	Room        *Room // notified when a mailbox frees space; may be nil
	// OnStart is called on an executor's goroutine once it is locked and
	// pinned, before it takes its first token; may be nil.
	OnStart func(e *Executor)
	// OnExit is called on an executor's goroutine as it ends: err is nil when it
	// drained or was aborted, ErrGoexit or a loop failure when it crashed.
	OnExit func(e *Executor, err error)
	// Redirect places an accepted job whose executor is down (one sent to a
	// down executor's PID, or a retry due on it) on another executor. nil
	// resolves such jobs with ErrNoExecutor.
	Redirect func(j Job)
}

// Group is the executors of one runtime and what they share: the engine, the
// abort signal that cancels running handlers, and the exit hook.
type Group struct {
	engine   *actor.Engine
	execs    []*Executor // fixed at NewGroup
	affinity Affinity
	aborted  atomic.Bool
	abort    context.Context
	cancel   context.CancelFunc
	onStart  func(*Executor)
	onExit   func(*Executor, error)
	redirect func(Job)
	retries  retries
}

// NewGroup creates the executors and registers each with the engine; none runs
// until [Executor.Launch].
func NewGroup(cfg GroupConfig) (*Group, error) {
	g := &Group{engine: cfg.Engine, affinity: cfg.Affinity, onStart: cfg.OnStart, onExit: cfg.OnExit, redirect: cfg.Redirect}
	if g.onStart == nil {
		g.onStart = func(*Executor) {}
	}
	if g.onExit == nil {
		g.onExit = func(*Executor, error) {}
	}
	if g.redirect == nil {
		g.redirect = func(j Job) { j.Task().Resolve(Failed, ErrNoExecutor) }
	}
	g.retries.pending = make(map[*Task]*pendingRetry)
	g.abort, g.cancel = context.WithCancel(context.Background())
	kind := cfg.Name + "/exec"
	for i, cpu := range cfg.CPUs {
		if cfg.Engine.Registry.GetPID(kind, strconv.Itoa(i)) != nil {
			g.Unregister()
			g.cancel()
			return nil, fmt.Errorf("coregate: PID %s/%d is already registered on this engine (set Config.Name)", kind, i)
		}
		e := &Executor{
			group: g,
			index: i,
			cpu:   cpu,
			pid:   actor.NewPID(cfg.Engine.Address(), kind+"/"+strconv.Itoa(i)),
			mb:    NewMailbox(cfg.MailboxSize, cfg.Room),
		}
		g.execs = append(g.execs, e)
		cfg.Engine.SpawnProc(e)
	}
	return g, nil
}

// Executors returns the group's executors, index order. Do not modify the slice.
func (g *Group) Executors() []*Executor { return g.execs }

// Abort makes every executor stop before its next token and cancels the contexts
// of running handlers.
func (g *Group) Abort() {
	g.aborted.Store(true)
	g.cancel()
	for _, e := range g.execs {
		e.mb.Abort()
	}
}

// Release frees the abort context; call it once the group is stopped.
func (g *Group) Release() { g.cancel() }

// Unregister removes the executors' PIDs from the engine.
func (g *Group) Unregister() {
	for _, e := range g.execs {
		g.engine.Registry.Remove(e.pid)
	}
}

// current returns the executor whose goroutine is calling, or nil.
func (g *Group) current() *Executor {
	id := goid()
	for _, e := range g.execs {
		if e.goid.Load() == id {
			return e
		}
	}
	return nil
}

// Aborted reports whether Abort was called.
func (g *Group) Aborted() bool { return g.aborted.Load() }

// Group returns the executor's group.
func (e *Executor) Group() *Group { return e.group }

// Current returns the executor whose goroutine is calling, or nil. It costs a
// few nanoseconds per executor on amd64 and arm64, about 2 µs elsewhere.
func (g *Group) Current() *Executor { return g.current() }
