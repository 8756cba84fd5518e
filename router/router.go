package router

import (
	"context"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// Router places jobs on a fixed set of executors.
type Router struct {
	pid    *actor.PID
	engine *actor.Engine
	execs  []*actors.Executor
	room   *actors.Room
	pos    [NumWeights]struct {
		n atomic.Uint64
		_ [56]byte // one counter per cache line: submitters of different classes do not contend
	}
}

// New returns a router over execs, registered with engine as <name>/router. room
// must be the Room the executors' mailboxes notify.
func New(engine *actor.Engine, name string, execs []*actors.Executor, room *actors.Room) *Router {
	r := &Router{
		pid:    actor.NewPID(engine.Address(), name+"/router"),
		engine: engine,
		execs:  execs,
		room:   room,
	}
	for w := range r.pos {
		r.pos[w].n.Store(uint64(w))
	}
	engine.SpawnProc(r)
	return r
}

// next returns the position a class-w token takes, advancing the class counter.
func (r *Router) next(w Weight) uint64 { return r.pos[w].n.Add(1) - 1 }

// TryPlace pushes j on the first executor of its range with room, starting at the
// class's next position. It returns the executor's index, or Full or Closed with
// index -1.
func (r *Router) TryPlace(w Weight, j actors.Job) (int, actors.PushResult) {
	return r.tryPlaceAt(w, r.next(w), j)
}

func (r *Router) tryPlaceAt(w Weight, pos uint64, j actors.Job) (int, actors.PushResult) {
	n := len(r.execs)
	lo, hi := Range(w, n)
	for k := 0; k <= hi-lo; k++ {
		i := Candidate(w, n, pos, k)
		switch r.execs[i].Push(j) {
		case actors.Pushed:
			return i, actors.Pushed
		case actors.Closed:
			return -1, actors.Closed
		}
	}
	return -1, actors.Full
}

// Submit places j, waiting for room while its whole range is full. It returns the
// executor's index, [actors.ErrStopped] once the executors are closed, or ctx's
// error if ctx ends first.
func (r *Router) Submit(ctx context.Context, w Weight, j actors.Job) (int, error) {
	pos := r.next(w)
	if i, res := r.tryPlaceAt(w, pos, j); res == actors.Pushed {
		return i, nil
	}
	return r.waitRoom(ctx, func() (int, actors.PushResult) { return r.tryPlaceAt(w, pos, j) })
}

// Next returns the executor staggered selection picks for the next class-w
// token, advancing the class counter. Sticky keys and seeds are first placed
// there.
func (r *Router) Next(w Weight) int {
	return Candidate(w, len(r.execs), r.next(w), 0)
}

// SubmitTo pushes j onto executor i, waiting for room while its mailbox is full;
// errors as for Submit. Pinned tokens use it: they go where their pin or seed
// says, full or not.
func (r *Router) SubmitTo(ctx context.Context, i int, j actors.Job) error {
	switch r.execs[i].Push(j) {
	case actors.Pushed:
		return nil
	case actors.Closed:
		return actors.ErrStopped
	}
	_, err := r.waitRoom(ctx, func() (int, actors.PushResult) { return i, r.execs[i].Push(j) })
	return err
}

// waitRoom retries push whenever a mailbox frees room, until it succeeds, the
// mailboxes close or ctx ends.
func (r *Router) waitRoom(ctx context.Context, push func() (int, actors.PushResult)) (int, error) {
	for {
		ch, done := r.room.Wait()
		i, res := push()
		switch res {
		case actors.Pushed:
			done()
			return i, nil
		case actors.Closed:
			done()
			return -1, actors.ErrStopped
		}
		select {
		case <-ch:
			done()
		case <-ctx.Done():
			done()
			return -1, ctx.Err()
		}
	}
}

// Len returns the number of executors.
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
	if _, res := r.TryPlace(Heavy, j); res != actors.Pushed {
		// Executor 0 is in every range: let it refuse the job, so the job is
		// counted as accepted and resolved like any other.
		r.execs[0].Send(r.execs[0].PID(), j, sender)
	}
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
