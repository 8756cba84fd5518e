package actors

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// A handler that blocks hands its own executor on, whatever group owns what
// it waits on: a token, an actor's reply or room in a mailbox of another
// runtime may wait in turn on work queued behind the caller on its own
// executor (A's handler waits on B's token, whose handler waits on a token
// queued on A), and that cycle deadlocks unless the caller's executor goes
// on. So Block finds the caller's group itself, among every group of the
// process, rather than asking the group of what it waits on.

// groups lists every group of the process from NewGroup to Release. It
// changes as runtimes start and stop, never per token: readers load it
// without a lock, and only a caller about to block looks through it.
var groups struct {
	mu   sync.Mutex // serialises the writers
	list atomic.Pointer[[]*Group]
}

// listGroup adds g to groups.
func listGroup(g *Group) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	var list []*Group
	if old := groups.list.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, g)
	groups.list.Store(&list)
}

// unlistGroup removes g from groups; it does nothing when g is not listed.
func unlistGroup(g *Group) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	old := groups.list.Load()
	if old == nil || !slices.Contains(*old, g) {
		return
	}
	list := slices.DeleteFunc(slices.Clone(*old), func(x *Group) bool { return x == g })
	groups.list.Store(&list)
}

// listed returns the groups of the process; do not modify the slice.
func listed() []*Group {
	if l := groups.list.Load(); l != nil {
		return *l
	}
	return nil
}

// ownerOf returns the worker of goroutine id when it owns an executor of
// any group, or nil. It takes no lock: a goroutine's ownership changes only
// by its own doing (a hand-off, a spare taking over), so the answer holds
// while the goroutine asks.
func ownerOf(id uint64) *worker {
	for _, g := range listed() {
		if w := g.ownerOf(id); w != nil {
			return w
		}
	}
	return nil
}

// ownerOf returns the worker of goroutine id when it owns an executor of g,
// or nil.
func (g *Group) ownerOf(id uint64) *worker {
	for _, e := range g.execs {
		if w := e.owner.Load(); w != nil && w.id == id {
			return w
		}
	}
	return nil
}

// OwnsExecutor reports whether the calling goroutine owns an executor of
// any group.
func OwnsExecutor() bool { return ownerOf(goid()) != nil }

// inAnyHandler reports whether the calling goroutine runs a handler of any
// group of the process (see [Group.InHandler]).
func inAnyHandler() bool {
	id := goid()
	if ownerOf(id) != nil {
		return true
	}
	for _, g := range listed() {
		if g.handlerOf(id) != nil {
			return true
		}
	}
	return false
}

// Block is called by a goroutine before it blocks on anything of any group
// (a token, an actor's reply, room in a mailbox, a Request's answer). When
// the caller runs a handler of a group, which need not be the group of what
// it waits on, the wait is that group's:
//
//   - a caller owning an executor hands it to a helper pinned to the same
//     CPU, which drains its queue meanwhile, so a handler blocking on work
//     queued behind it (directly, or through a handler of another group
//     that waits on that work in turn) does not deadlock, and a child's
//     runtime.Goexit ends only the child's goroutine;
//   - a handler that handed its executor on before (it waited once, or an
//     actor's turn goes on after a wait) blocks beside the new owner;
//   - a worker of the group's [DetachedPool] tells the pool, which may start
//     another in its place.
//
// Each counts against its group's bound on blocked handlers
// ([GroupConfig.MaxBlocked]): past it Block fails with [ErrTooManyBlocked]
// and hands nothing on. Call resume once the caller stops blocking; a caller
// that handed its executor on then finishes its handler beside the
// executor's new owner. Block does nothing for other goroutines, or once the
// caller's group is aborted (no queue is left to drain).
func Block() (resume func(), err error) {
	id := goid()
	return block(id, ownerOf(id), true, nil)
}

// BlockAnyway is Block for a wait that has no error to return (an Every's
// stop): past the bound on blocked handlers it hands the caller's executor
// on all the same, and counts it, since holding the executor could
// deadlock: what the caller waits for may wait on work queued behind it.
func BlockAnyway() (resume func()) {
	id := goid()
	resume, _ = block(id, ownerOf(id), false, nil)
	return resume
}

// block is Block for goroutine id, whose worker is w when it owns an
// executor (see ownerOf); past the bound it fails only when bounded. It
// fails with ErrWaitSelf when the caller runs the handler of t, the token
// it would wait for (nil: none).
func block(id uint64, w *worker, bounded bool, t *Task) (resume func(), err error) {
	if w != nil {
		if t != nil && w.e.running.Load() == t {
			return nil, ErrWaitSelf
		}
		g := w.e.group
		if g.aborted.Load() {
			return noResume, nil
		}
		if err := g.countBlocked(bounded); err != nil {
			return nil, err
		}
		w.blocks++
		w.e.handOff(w)
		return w.unblock, nil
	}
	gs := listed()
	for _, g := range gs {
		w := g.handlerOf(id)
		if w == nil {
			continue
		}
		if t != nil && w.kept.Load() == t {
			return nil, ErrWaitSelf
		}
		// It handed its executor on before: no hand-off, but it holds its
		// goroutine (a pinned thread) all the same, so it counts too,
		// once: inside a Block of its own it is counted already.
		if g.aborted.Load() {
			return noResume, nil
		}
		if w.blocks > 0 {
			w.blocks++
			return w.unnest, nil
		}
		if err := g.countBlocked(bounded); err != nil {
			return nil, err
		}
		w.blocks++
		return w.unblock, nil
	}
	for _, g := range gs {
		if g.detached == nil {
			continue
		}
		if running, in := g.detached.Running(); in {
			if t != nil && running == t {
				return nil, ErrWaitSelf
			}
			return g.blockDetached(bounded)
		}
	}
	return noResume, nil
}

// blockDetached is block for a worker of g's DetachedPool. Apart from
// block's loop: a closure there would move the loop's variable to the heap,
// an allocation for every caller that runs no handler.
// A Block inside one of the same worker's own (a Request, blocked, whose
// Tell then waits for room) is not counted again, as on an executor (see
// worker.blocks).
func (g *Group) blockDetached(bounded bool) (resume func(), err error) {
	if g.aborted.Load() {
		return noResume, nil
	}
	id := goid()
	g.detachedMu.Lock()
	defer g.detachedMu.Unlock()
	if g.detachedBlocks[id] > 0 {
		g.detachedBlocks[id]++
		return func() { g.detachedBlock(id, -1) }, nil
	}
	if err := g.countBlocked(bounded); err != nil {
		return nil, err
	}
	if g.detachedBlocks == nil {
		g.detachedBlocks = make(map[uint64]int)
	}
	g.detachedBlocks[id] = 1
	back := g.detached.Blocked()
	return func() { back(); g.detachedBlock(id, -1); g.uncountBlocked() }, nil
}

// detachedBlock adds d to the Blocks under way of the detached worker id.
func (g *Group) detachedBlock(id uint64, d int) {
	g.detachedMu.Lock()
	if g.detachedBlocks[id] += d; g.detachedBlocks[id] == 0 {
		delete(g.detachedBlocks, id)
	}
	g.detachedMu.Unlock()
}

func noResume() {}

// countBlocked counts a handler of g blocking, or fails past g's bound
// when bounded.
func (g *Group) countBlocked(bounded bool) error {
	if g.blocked.Add(1) > g.maxBlocked && bounded {
		g.blocked.Add(-1)
		return fmt.Errorf("%w (%d)", ErrTooManyBlocked, g.maxBlocked)
	}
	return nil
}

// uncountBlocked counts a handler of g that stopped blocking.
func (g *Group) uncountBlocked() { g.blocked.Add(-1) }

// unblock ends w's outermost Block (see worker.blocks).
func (w *worker) unblock() {
	w.blocks--
	w.e.group.uncountBlocked()
}

// unnest ends a Block of w's inside another of its own: not counted.
func (w *worker) unnest() { w.blocks-- }
