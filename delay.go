package coregate

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// SubmitAfter is [Op.Submit] for a token that runs no earlier than d from
// now. The token is placed and accepted at once (it counts as submitted on
// its executor and [Token.Executor] answers it), and waits off every queue
// until it is due; it is then queued at the tail of its executor, past the
// mailbox bound, since it was accepted already. [Token.Cancel] and the end
// of ctx resolve it while it waits (ErrCancelled, ctx's error) and take it
// off the heap at once, and Stop resolves it with ErrStopped. Every waiting token of a runtime shares one
// heap and one timer: waiting tokens cost memory, no goroutines, except
// that a token submitted with a handler's context has a goroutine watch that
// context while it waits (and, as for Submit, is cancelled if the handler
// returns first: pass [context.WithoutCancel] of it to outlive the handler).
// A d of 0 is Submit; a negative d is an error.
func (op *Op[A, R]) SubmitAfter(ctx context.Context, d time.Duration, arg A) (*Token[R], error) {
	switch {
	case op.unusable():
		return nil, ErrNilOp
	case ctx == nil:
		return nil, ErrNilContext
	case d < 0:
		return nil, fmt.Errorf("coregate: op %q: SubmitAfter with a negative delay %v", op.info.Name, d)
	case d == 0:
		return op.Submit(ctx, arg)
	}
	if err := op.admit(ctx); err != nil {
		return nil, err
	}
	// The token tells its wait when it resolves, so a cancelled one leaves
	// the heap at once rather than when it would have been due.
	w := &delayed{at: time.Now().Add(d), ds: &op.rt.delays, pause: &op.pause, deliver: op.deliver}
	h := op.prepare(ctx, arg, w, nil)
	h.tok.task.Init(ctx, op.rt.ids.Add(1), &op.info, h)
	if err := op.rt.delays.add(ctx, op.rt, &op.rule, &h.ticket, h, w); err != nil {
		return nil, err
	}
	return &h.tok, nil
}

// delays holds a runtime's tokens waiting out SubmitAfter's delay, in a
// heap by due time, with one timer armed for the earliest.
type delays struct {
	mu      sync.Mutex
	q       delayHeap
	timer   *time.Timer
	stopped bool
	quit    chan struct{} // closed by stop, for the loops of Every
	fires   int           // fires between popping due tokens and delivering them
	fired   chan struct{} // made by delivering while fires > 0; closed when it drops to 0
}

type delayed struct {
	at      time.Time
	index   int         // in the heap; -1 once out
	out     atomic.Bool // it left the heap (due, dropped or stopped), for good
	ds      *delays
	job     actors.Job
	exec    *actors.Executor
	watch   func() bool      // stops the watch on the submitter's context, or nil
	pause   *pause           // its op's, which holds it when due while paused
	deliver func(actors.Job) // queues it when due
}

// add accepts j on the executor its placement picks and keeps it, as d,
// until d.at.
func (ds *delays) add(ctx context.Context, rt *Runtime, rule *router.Rule, tk *router.Ticket, j actors.Job, d *delayed) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.stopped {
		if tk != nil {
			rt.router.Release(tk) // a child joined its seed in prepare: leave it
		}
		return ErrStopped
	}
	i := rt.router.Place(rule, tk, j)
	if i < 0 {
		if tk != nil {
			rt.router.Release(tk)
		}
		return ErrNoExecutor
	}
	d.job, d.exec = j, rt.execs[i]
	d.exec.Accept(j.Task())
	heap.Push(&ds.q, d)
	if ctx.Done() != nil {
		d.watch = context.AfterFunc(ctx, func() {
			defer j.Task().Watching()() // from before it leaves the heap, where Stop looks
			ds.drop(d, actors.Cancelled, ctx.Err())
		})
	}
	if ds.q[0] == d {
		ds.arm(time.Until(d.at))
	}
	return nil
}

// arm sets the timer to fire after wait; the caller holds mu.
func (ds *delays) arm(wait time.Duration) {
	if ds.timer == nil {
		ds.timer = time.AfterFunc(wait, ds.fire)
		return
	}
	ds.timer.Reset(wait)
}

// resolved takes d out when its token resolved while it waits (cancelled),
// with the watch on its submitter's context. A token that left the heap
// takes no lock: it may resolve under the router's moves lock (its
// executor down), which add takes under this one.
func (d *delayed) resolved(*actors.Task) {
	if d.out.Load() {
		return // whoever took it out stopped its watch
	}
	ds := d.ds
	ds.mu.Lock()
	if d.index >= 0 && d.index < len(ds.q) && ds.q[d.index] == d {
		heap.Remove(&ds.q, d.index)
	}
	watch := d.watch
	ds.mu.Unlock()
	if watch != nil {
		watch()
	}
}

func (d *delayed) settled(*actors.Task) {}

// drop takes d out while it waits and resolves it with o and err; it
// reports whether it resolved it.
func (ds *delays) drop(d *delayed, o actors.Outcome, err error) bool {
	ds.mu.Lock()
	if d.index >= 0 && d.index < len(ds.q) && ds.q[d.index] == d {
		heap.Remove(&ds.q, d.index)
	}
	ds.mu.Unlock()
	if d.watch != nil {
		d.watch()
	}
	return d.job.Task().Resolve(o, err)
}

// fire queues every token that is due and arms the timer for the next.
func (ds *delays) fire() {
	now := time.Now()
	var due []*delayed
	ds.mu.Lock()
	if ds.stopped { // stop took the heap: nothing is due here any more
		ds.mu.Unlock()
		return
	}
	for len(ds.q) > 0 && !ds.q[0].at.After(now) {
		due = append(due, heap.Pop(&ds.q).(*delayed))
	}
	if len(ds.q) > 0 {
		ds.arm(ds.q[0].at.Sub(now))
	}
	// Counted under the lock, before stop can set stopped: stop waits for
	// the tokens popped here to be delivered, so that a graceful Stop
	// drains them (and returns with none unresolved), and so does
	// cancelOf, so that CancelQueued finds them in the queues.
	ds.fires++
	defer ds.fireDone()
	ds.mu.Unlock()
	for _, d := range due {
		if d.watch != nil {
			d.watch()
		}
		if !d.job.Task().Queued() || d.pause.hold(d.job) {
			continue // cancelled while it waited, or held by a Pause
		}
		d.deliver(d.job)
		d.pause.hold(d.job) // after the push, as Submit: a Pause scanning meanwhile may have missed it
	}
}

// fireDone counts a fire out once it delivered what it popped.
func (ds *delays) fireDone() {
	ds.mu.Lock()
	if ds.fires--; ds.fires == 0 && ds.fired != nil {
		close(ds.fired)
		ds.fired = nil
	}
	ds.mu.Unlock()
}

// deliveringLocked returns a channel closed once no fire is between
// popping due tokens and delivering them, or nil when none is; the caller
// holds mu.
func (ds *delays) deliveringLocked() <-chan struct{} {
	if ds.fires == 0 {
		return nil
	}
	if ds.fired == nil {
		ds.fired = make(chan struct{})
	}
	return ds.fired
}

// deliver queues j, accepted before and held meanwhile, at the tail of its
// executor (of its seed or pin, when they moved meanwhile); elsewhere when
// that one is down; resolved with ErrStopped once the runtime aborted.
func (rt *Runtime) deliver(j actors.Job) {
	switch rt.router.Deliver(j) {
	case actors.Gone:
		rt.router.Redirect(j)
	case actors.Closed:
		j.Task().Resolve(actors.Stopped, ErrStopped)
	}
}

// stop resolves every waiting token with ErrStopped, refuses new ones and
// ends the loops of Every. They are not counted in Stop's error: waiting,
// none was cut short, as a paused op's held tokens are not.
func (ds *delays) stop() {
	ds.mu.Lock()
	ds.stopped = true
	if ds.timer != nil {
		ds.timer.Stop()
	}
	q := ds.q
	ds.q = nil
	for _, d := range q {
		d.index = -1
		d.out.Store(true)
	}
	if ds.quit == nil {
		ds.quit = make(chan struct{})
	}
	close(ds.quit)
	delivering := ds.deliveringLocked()
	ds.mu.Unlock()
	if delivering != nil {
		<-delivering // a fire that popped due tokens has delivered them
	}
	for _, d := range q {
		if d.watch != nil {
			d.watch()
		}
		d.job.Task().Resolve(actors.Stopped, ErrStopped)
	}
}

// done returns a channel closed once the runtime stops.
func (ds *delays) done() <-chan struct{} {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.quit == nil {
		ds.quit = make(chan struct{})
	}
	return ds.quit
}

// delayHeap orders waiting tokens by due time, and tokens due at once in
// submission order (by id: a heap alone is not stable), as Submit's tokens
// run in the order one goroutine submits them.
type delayHeap []*delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].job.Task().ID() < h[j].job.Task().ID()
}
func (h delayHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *delayHeap) Push(x any) {
	d := x.(*delayed)
	d.index = len(*h)
	*h = append(*h, d)
}
func (h *delayHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	d.index = -1
	d.out.Store(true)
	*h = old[:len(old)-1]
	return d
}

// cancelOf resolves every waiting token of op with ErrCancelled and returns
// how many. It returns once the tokens that came due before it looked are
// delivered, so that the caller finds them queued.
func (ds *delays) cancelOf(op *actors.Op) int {
	ds.mu.Lock()
	var out []*delayed
	for _, d := range ds.q {
		if d.job.Task().Op() == op {
			out = append(out, d)
		}
	}
	delivering := ds.deliveringLocked()
	ds.mu.Unlock()
	if len(out) > 0 {
		// Before drop takes them off the heap, where Stop looks
		// (delays.stop), until they are resolved: counted as a watch
		// resolving them is, so that a Stop meanwhile waits for them
		// (AwaitWatched) rather than return with them unresolved. One
		// count covers them all: it is their group's.
		defer out[0].job.Task().Watching()()
	}
	n := 0
	for _, d := range out {
		if ds.drop(d, actors.Cancelled, ErrCancelled) {
			n++
		}
	}
	if delivering != nil {
		<-delivering
	}
	return n
}
