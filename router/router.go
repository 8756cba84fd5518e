package router

import (
	"context"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// Router places jobs on a fixed set of executors, of which the live ones take
// work.
type Router struct {
	pid    *actor.PID
	engine *actor.Engine
	execs  []*actors.Executor
	room   *actors.Room
	view   atomic.Pointer[view]
	pos    [NumWeights]struct {
		n atomic.Uint64
		_ [56]byte // one counter per cache line: submitters of different classes do not contend
	}
}

// view is the set of live executors; it is replaced, never changed.
type view struct {
	live   []int  // ascending executor indexes
	isLive []bool // by executor index
}

func (v *view) eligible(w Weight) []int { return Eligible(w, v.live) }

// New returns a router over execs, all live, registered with engine as
// <name>/router. room must be the Room the executors' mailboxes notify.
func New(engine *actor.Engine, name string, execs []*actors.Executor, room *actors.Room) *Router {
	r := &Router{
		pid:    actor.NewPID(engine.Address(), name+"/router"),
		engine: engine,
		execs:  execs,
		room:   room,
	}
	v := &view{isLive: make([]bool, len(execs))}
	for i := range execs {
		v.live = append(v.live, i)
		v.isLive[i] = true
	}
	r.view.Store(v)
	for w := range r.pos {
		r.pos[w].n.Store(uint64(w))
	}
	engine.SpawnProc(r)
	return r
}

// Remove takes executor i out of placement for good: the weight ranges are
// recomputed over the executors still live. The caller retires i's mailbox
// after Remove, so a submitter that still pushed there with the old view gets
// [actors.Gone] and places again.
func (r *Router) Remove(i int) {
	old := r.view.Load()
	v := &view{isLive: append([]bool(nil), old.isLive...)}
	v.isLive[i] = false
	for _, k := range old.live {
		if k != i {
			v.live = append(v.live, k)
		}
	}
	r.view.Store(v)
}

// Live reports whether executor i takes work.
func (r *Router) Live(i int) bool {
	v := r.view.Load()
	return i >= 0 && i < len(v.isLive) && v.isLive[i]
}

// Eligible returns the live executors class w may use, ascending; empty when
// none is live. Do not modify the slice.
func (r *Router) Eligible(w Weight) []int { return r.view.Load().eligible(w) }

// next returns the position a class-w token takes, advancing the class counter.
func (r *Router) next(w Weight) uint64 { return r.pos[w].n.Add(1) - 1 }

// TryPlace pushes j on the first healthy executor of its range with room,
// starting at the class's next position; unhealthy executors (restarting or
// stalled) are tried only when every healthy one is full. It returns the
// executor's index, or -1 and Full, Closed, Gone (an executor went down
// meanwhile: try again) or NoExecutor.
func (r *Router) TryPlace(w Weight, j actors.Job) (int, actors.PushResult) {
	return r.tryPlaceAt(w, r.next(w), j, false)
}

// tryPlaceAt is TryPlace at position pos; over pushes past the bound of the
// first candidate instead of finding every mailbox full.
func (r *Router) tryPlaceAt(w Weight, pos uint64, j actors.Job, over bool) (int, actors.PushResult) {
	set := r.view.Load().eligible(w)
	if len(set) == 0 {
		return -1, actors.NoExecutor
	}
	res := actors.Full
	skipped := false
	for pass := 0; pass < 2; pass++ {
		for k := range set {
			i := Candidate(set, pos, k)
			e := r.execs[i]
			if e.Healthy() == (pass == 1) {
				skipped = skipped || pass == 0
				continue
			}
			push := e.Push
			if over {
				push = e.PushOver
			}
			switch push(j) {
			case actors.Pushed:
				return i, actors.Pushed
			case actors.Closed:
				return -1, actors.Closed
			case actors.Gone:
				res = actors.Gone
			}
		}
		if !skipped {
			break
		}
	}
	return -1, res
}

// Submit places j, waiting for room while its whole range is full. It returns the
// executor's index, [actors.ErrStopped] once the executors are closed,
// [actors.ErrNoExecutor] when every executor is down, or ctx's error if ctx ends
// first.
func (r *Router) Submit(ctx context.Context, w Weight, j actors.Job) (int, error) {
	pos := r.next(w)
	if i, res := r.tryPlaceAt(w, pos, j, false); res == actors.Pushed {
		return i, nil
	}
	return r.WaitRoom(ctx, func(over bool) (int, actors.PushResult) { return r.tryPlaceAt(w, pos, j, over) })
}

// Next returns the executor staggered selection picks for the next class-w
// token, advancing the class counter, preferring a healthy one; -1 when none is
// live. Sticky keys and seeds are first placed there.
func (r *Router) Next(w Weight) int {
	set := r.view.Load().eligible(w)
	if len(set) == 0 {
		return -1
	}
	pos := r.next(w)
	for k := range set {
		if i := Candidate(set, pos, k); r.execs[i].Healthy() {
			return i
		}
	}
	return Candidate(set, pos, 0)
}

// Adopt queues j, accepted on an executor that went down, on the executor
// staggered selection picks for class w, past its mailbox bound. It returns the
// executor, or -1 when none is live.
func (r *Router) Adopt(w Weight, j actors.Job) int {
	for {
		i := r.Next(w)
		if i < 0 || r.execs[i].Adopt(j) == actors.Pushed {
			return i
		}
	}
}

// WaitRoom calls push until it neither finds every candidate full nor sees an
// executor go down, waiting for a mailbox to free room between calls. It returns
// the index push gave, [actors.ErrStopped] once the executors are closed,
// [actors.ErrNoExecutor] when every executor is down, or ctx's error if ctx ends
// first.
//
// An executor's own goroutine (a handler submitting) never waits: only
// executors make room, and one waiting on a full mailbox could wait on itself,
// or on another executor waiting on it. It calls push with over set instead,
// which queues past the bound.
func (r *Router) WaitRoom(ctx context.Context, push func(over bool) (int, actors.PushResult)) (int, error) {
	over := false
	for {
		ch := r.room.Wait()
		i, res := push(over)
		switch res {
		case actors.Full:
			if !over && r.execs[0].Group().Current() != nil {
				r.room.Leave()
				over = true
				continue
			}
		case actors.Gone:
			r.room.Leave()
			continue // the view changed: place again at once
		case actors.Pushed:
			r.room.Leave()
			return i, nil
		case actors.Closed:
			r.room.Leave()
			return -1, actors.ErrStopped
		default:
			r.room.Leave()
			return -1, actors.ErrNoExecutor
		}
		select {
		case <-ch:
			r.room.Leave()
		case <-ctx.Done():
			r.room.Leave()
			return -1, ctx.Err()
		}
	}
}

// Len returns the number of executors, live or not.
func (r *Router) Len() int { return len(r.execs) }

// actor.Processer

// Start is a no-op: the router has no goroutine of its own.
func (r *Router) Start() {}

// PID returns the router's PID, <name>/router.
func (r *Router) PID() *actor.PID { return r.pid }

// Send places a [actors.Job] as class Heavy without waiting; see the package doc.
func (r *Router) Send(_ *actor.PID, msg any, sender *actor.PID) {
	j, ok := msg.(actors.Job)
	if !ok {
		r.engine.BroadcastEvent(actor.DeadLetterEvent{Target: r.pid, Message: msg, Sender: sender})
		return
	}
	for {
		_, res := r.TryPlace(Heavy, j)
		switch res {
		case actors.Pushed:
		case actors.Full:
			r.home().Refuse(j, actors.Failed, actors.ErrMailboxFull)
		case actors.Closed:
			r.home().Refuse(j, actors.Stopped, actors.ErrStopped)
		case actors.NoExecutor:
			r.home().Refuse(j, actors.Failed, actors.ErrNoExecutor)
		case actors.Gone:
			continue
		}
		return
	}
}

// home is the executor that accepts and refuses a job sent to the router that
// cannot be placed, so it is counted and resolved like any other: the first
// live one, or executor 0 when none is.
func (r *Router) home() *actors.Executor {
	if set := r.Eligible(Heavy); len(set) > 0 {
		return r.execs[set[0]]
	}
	return r.execs[0]
}

// Invoke treats each envelope as a Send.
func (r *Router) Invoke(msgs []actor.Envelope) {
	for _, m := range msgs {
		r.Send(r.pid, m.Msg, m.Sender)
	}
}

// Shutdown is a no-op; the runtime unregisters the router when it stops.
func (r *Router) Shutdown() {}

// Unregister removes the router's PID from its engine.
func (r *Router) Unregister() { r.engine.Registry.Remove(r.pid) }
