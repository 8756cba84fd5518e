package router

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
)

// Router places jobs on a fixed set of executors, of which the live ones take
// work, and moves queued work off executors that go down or stall. It
// implements the supervisor's Rerouter (Down, Up, Stalled) and the group's
// Redirect. Make one with [New]; the zero value is not usable.
type Router struct {
	pid    *actor.PID
	engine *actor.Engine
	group  *actors.Group
	execs  []*actors.Executor
	room   *actors.Room
	sticky *anchor.Sticky
	seeds  *anchor.Seeds
	moving sync.RWMutex // placement of keyed and anchored tokens (read) against moves (write)
	mu     sync.Mutex   // orders view changes
	view   atomic.Pointer[view]
	// tokens a move resolved with ErrStopped: the executor they went to had
	// drained (see reroute)
	dropped atomic.Int64
	// what a submitter waiting for room fits: class w's range, or
	// executor i alone (made once: waiting allocates nothing)
	fitRange [NumWeights]func(exec int) bool
	fitOnly  []func(exec int) bool
	pos      [NumWeights]struct {
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

// New returns a router over g's executors, all live, registered with g's
// engine as <name>/router, placing sticky keys with sticky and seeds with
// seeds. room must be the Room the executors' mailboxes notify.
func New(g *actors.Group, name string, room *actors.Room, sticky *anchor.Sticky, seeds *anchor.Seeds) (*Router, error) {
	engine := g.Engine()
	r := &Router{
		pid:    actor.NewPID(engine.Address(), name+"/router"),
		engine: engine,
		group:  g,
		execs:  g.Executors(),
		room:   room,
		sticky: sticky,
		seeds:  seeds,
	}
	v := &view{isLive: make([]bool, len(r.execs))}
	for i := range r.execs {
		v.live = append(v.live, i)
		v.isLive[i] = true
	}
	r.view.Store(v)
	for w := range r.pos {
		r.pos[w].n.Store(uint64(w))
		r.fitRange[w] = func(e int) bool { return r.fits(Weight(w), e) }
	}
	r.fitOnly = make([]func(int) bool, len(r.execs))
	for i := range r.fitOnly {
		r.fitOnly[i] = func(e int) bool { return e == i }
	}
	if !actors.Claim(engine, r) {
		return nil, fmt.Errorf("router: PID %s/router is already registered on this engine", name)
	}
	return r, nil
}

func (r *Router) setLive(i int, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.view.Load()
	v := &view{isLive: append([]bool(nil), old.isLive...)}
	v.isLive[i] = on
	for k, l := range v.isLive {
		if l {
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
	return r.tryPlaceAt(w, r.next(w), j, How{})
}

// awake is [Awake] over the router's executors for job j; the executor it
// returns is claimed (see [actors.Executor.Claim]: a busy one may be, for a
// token of a cheap op).
func (r *Router) awake(set []int, pos uint64, j actors.Job) int {
	return Awake(set, pos, func(i int) bool { return r.execs[i].Asleep() },
		func(i int) bool {
			// Asked only when the staggered choice is asleep: a burst's
			// submits, to busy executors, do not read the op's cost.
			t := j.Task()
			return r.execs[i].Healthy() && r.execs[i].Claim(t != nil && t.Cheap())
		})
}

// tryPlaceAt is TryPlace at position pos.
func (r *Router) tryPlaceAt(w Weight, pos uint64, j actors.Job, how How) (int, actors.PushResult) {
	v := r.view.Load()
	set := v.eligible(w)
	if len(set) == 0 {
		return -1, actors.NoExecutor
	}
	if i := r.awake(set, pos, j); i >= 0 {
		if got := how.push(r.execs[i], j); got == actors.Pushed || got == actors.Closed {
			return i, got
		}
	}
	res := actors.Full
	healthy := 0
	for pass := 0; pass < 2; pass++ {
		for k := range set {
			i := Candidate(set, pos, k)
			e := r.execs[i]
			if e.Healthy() == (pass == 1) {
				continue
			}
			if pass == 0 {
				healthy++
			}
			switch how.push(e, j) {
			case actors.Pushed:
				return i, actors.Pushed
			case actors.Closed:
				return -1, actors.Closed
			case actors.Gone:
				res = actors.Gone
			}
		}
		if healthy == len(set) {
			break // nobody skipped
		}
		if healthy == 0 {
			// The whole range is unhealthy: before queueing behind it, try the
			// range over the healthy executors.
			if i := healthyRange(v.live, r.healthy, w, pos); i >= 0 {
				if got := how.push(r.execs[i], j); got == actors.Pushed || got == actors.Closed {
					return i, got
				}
			}
		}
	}
	return -1, res
}

// Next returns the executor staggered selection picks for the next class-w
// token, advancing the class counter (see [Decide]); -1 when none is live.
func (r *Router) Next(w Weight) int {
	return Decide(r.view.Load().live, r.healthy, w, -1, r.next(w))
}

// Home returns the executor staggered selection picks for the next class-w
// job that stays where it is placed (an actor), as [Router.Next] does, but
// always in the class's range: when none of the range is healthy, an
// unhealthy executor of it rather than a healthy one outside it, where the
// job would stay out of its range. It returns -1 when none is live.
func (r *Router) Home(w Weight) int {
	v := r.view.Load()
	pos := r.next(w)
	i := Decide(v.live, r.healthy, w, -1, pos)
	if set := v.eligible(w); i >= 0 && !contains(set, i) {
		i = Candidate(set, pos, 0)
	}
	return i
}

// WaitRoom calls push until it neither finds every candidate full nor sees an
// executor go down, waiting in line for room between calls. It returns the
// index push gave, [actors.ErrStopped] once the executors are closed,
// [actors.ErrNoExecutor] when every executor is down, or ctx's error if ctx
// ends first.
//
// push says what it tried by the index it returns with [actors.Full]: an
// executor, when it tries that one alone (a token that follows its key's
// pin, its seed or an actor), or -1 when it tries class w's range, as
// staggered selection does (or the range over the healthy executors, when
// none of it is healthy). The submitter then waits in the runtime's
// [actors.Room] for room on those executors only: a refill that frees k
// slots wakes at most k submitters, the first in line that may use them,
// instead of all of them; a change of the live or healthy executors wakes
// all. A wake the submitter does not use goes on to the next in line that
// may, so no room is left unused while one waits for it. A push that tries
// one executor and then another (a key's pin or a seed moved off an
// executor that went down) waits for room on any executor. The first push
// that finds room allocates nothing, and waiting allocates nothing in
// steady state (the Room keeps the places in line that were left).
//
// A handler waiting for room, of this router's runtime or another's, hands
// its executor on first ([actors.Block]), so that executor goes on draining
// and the handler meets backpressure like any submitter, never an unbounded
// queue.
func (r *Router) WaitRoom(ctx context.Context, w Weight, push func() (int, actors.PushResult)) (int, error) {
	var resume func()
	defer func() {
		if resume != nil {
			resume()
		}
	}()
	var wt *actors.Waiter // nil until the first push that finds no room
	leave := func(used int) {
		if wt != nil {
			wt.Leave(used)
		}
	}
	only := -1 // the one executor push tries, while it tries the same one
	for {
		i, res := push()
		switch res {
		case actors.Full:
		case actors.Gone:
			continue // the view changed: place again at once
		case actors.Pushed:
			leave(i)
			return i, nil
		case actors.Closed:
			leave(-1)
			return -1, actors.ErrStopped
		default:
			leave(-1)
			return -1, actors.ErrNoExecutor
		}
		switch {
		case wt == nil:
			// In line before the next push, which room freed since this
			// one then cannot slip past.
			if i >= 0 {
				only = i
				wt = r.room.Join(r.fitOnly[i])
			} else {
				wt = r.room.Join(r.fitRange[w])
			}
			continue
		case only >= 0 && i != only:
			// It tried another executor than the one it waits for: it
			// waits for any, and tries again, since room freed on that
			// one before did not wake it.
			only = -1
			wt.Fit(nil)
			continue
		}
		wt.Missed()
		if !r.group.SpinRoom(wt.C()) {
			if resume == nil {
				var err error
				if resume, err = actors.Block(); err != nil {
					leave(-1)
					return -1, err
				}
			}
			select {
			case <-wt.C():
			case <-ctx.Done():
				leave(-1)
				return -1, ctx.Err()
			}
		}
		wt.Take()
		if err := ctx.Err(); err != nil {
			leave(-1) // the wake it took goes on
			return -1, err
		}
	}
}

// fits reports whether a push of class w that tries the class's range may
// use executor e: e is in the range, or none of the range is healthy and e
// is in the range over the healthy executors (see healthyRange). With no
// executor live it fits, to find out.
func (r *Router) fits(w Weight, e int) bool {
	v := r.view.Load()
	set := v.eligible(w)
	switch {
	case len(set) == 0:
		return true
	case e < 0 || e >= len(v.isLive) || !v.isLive[e]:
		return false
	case e >= set[0]:
		return true // set is every live executor from set[0] on
	case !r.execs[e].Healthy():
		return false
	}
	for _, i := range set {
		if r.execs[i].Healthy() {
			return false
		}
	}
	below, n := 0, 0 // healthy live executors before e, and in all
	for _, i := range v.live {
		if r.execs[i].Healthy() {
			n++
			if i < e {
				below++
			}
		}
	}
	lo, _ := Range(w, n)
	return below >= lo
}

// actor.Processer

// Start is a no-op: the router has no goroutine of its own.
func (r *Router) Start() {}

// PID returns the router's PID, <name>/router.
func (r *Router) PID() *actor.PID { return r.pid }

// Send places an [actors.Job] as class Heavy without waiting; see the package
// doc. Other messages are handled as an executor's Send handles them.
func (r *Router) Send(_ *actor.PID, msg any, sender *actor.PID) {
	j, ok := r.group.Accept(r.pid, msg, sender)
	if !ok {
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
