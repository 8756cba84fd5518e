package coregate

// An actor's turns and life past Spawn: one envelope delivered, Receive
// run with a panic told from runtime.Goexit, a restart from its factory
// within its restart intensity, and its stop (mailbox closed and refused,
// Stopped run once, name freed, children stopped).

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/supervisor"
)

// deliver handles one envelope on the actor's executor.
func (r *Ref[M, R]) deliver(ctx context.Context, e envelope[M, R]) {
	if r.stopped.Load() || r.killed.Load() != nil {
		r.refuse(e)
		return
	}
	exec := actors.ExecutorOf(ctx)
	if i := int32(exec.Index()) + 1; r.own.exec.Load() != i {
		r.own.exec.Store(i) // moved off an executor that went down
	}
	switch e.kind {
	case envStart:
		r.began = true
		r.start()
		return
	case envStop:
		reason := r.reason
		if reason == nil && r.cut {
			reason = ErrStopped // not drained: see ActorStopped
		}
		r.finish(reason)
		return
	}
	g := exec.Group()
	if g.Aborted() {
		// A runtime's Stop gave up draining: what was queued is refused, as
		// its queued tokens are stopped, never handed to a Receive that
		// begins after the abort (the turn goes on once a Receive the abort
		// cancelled returns within the grace). Counted for its report.
		r.refuse(e)
		r.own.rt.refused.Add(1)
		r.cut = true
		return
	}
	if e.tok != nil && !e.tok.task.Begin() {
		return // cancelled while queued
	}
	o, res, err := r.receive(g, e)
	r.reply(e, o, res, err)
	if o == actors.Panicked {
		r.restart(err)
	}
}

// receive runs Receive, telling a panic from runtime.Goexit as the executor
// does; a Goexit replies ErrGoexit and restarts the actor before the
// goroutine ends (its executor replaces it). A Receive that ends, however it
// ends, after g, its executor's group, aborted (a runtime's Stop gave up
// draining as it ran) is counted as cut short.
func (r *Ref[M, R]) receive(g *actors.Group, e envelope[M, R]) (o actors.Outcome, res R, err error) {
	normal, recovered := false, false
	defer func() {
		if g.Aborted() {
			g.CountCancelled() // also for a Goexit, which ends the goroutine here
		}
		if !normal && !recovered {
			var zero R
			r.reply(e, actors.Failed, zero, ErrGoexit)
			r.restart(ErrGoexit)
		}
	}()
	func() {
		defer func() {
			if !normal {
				o, err = actors.Panicked, &PanicError{Value: recover(), Stack: debug.Stack()}
			}
		}()
		res, err = r.value.Receive(&r.ctx, e.msg)
		o = actors.Succeeded
		if err != nil {
			o = actors.Failed
		}
		normal = true
	}()
	recovered = !normal
	return o, res, err
}

// reply resolves an Ask's token or answers a Request.
func (r *Ref[M, R]) reply(e envelope[M, R], o actors.Outcome, res R, err error) {
	if e.tok != nil {
		e.tok.res = res
		e.tok.task.End(o, err)
	}
	if e.reply != nil {
		if err != nil {
			r.own.rt.answer(e.reply, nil, err)
		} else {
			r.own.rt.answer(e.reply, res, nil)
		}
	}
}

// closeCell closes the actor's mailbox and refuses what it held.
//
// A killed actor's refusals while the runtime stops are what the Stop cut
// short: they are counted, once each (Close hands each envelope out once),
// for its report, whichever kill refused them (Stop's after the drain, or a
// stop that found the actor stranded on a down executor).
func (r *Ref[M, R]) closeCell() {
	refused := 0
	for _, e := range r.cell.Close() {
		if e.kind == envTell {
			refused++
		}
		r.refuse(e)
	}
	if refused > 0 && r.killed.Load() != nil && r.own.rt.stopping.Load() {
		r.own.rt.refused.Add(int64(refused))
	}
}

// refuse answers an envelope that reached a stopped actor.
func (r *Ref[M, R]) refuse(e envelope[M, R]) {
	if e.tok != nil {
		e.tok.task.Resolve(actors.Stopped, ErrActorStopped)
	}
	if e.reply != nil {
		r.own.rt.answer(e.reply, nil, ErrActorStopped)
	}
}

// restart replaces the actor's value from its factory within its restart
// intensity, or stops it past it. Its mailbox is kept. A killed actor is
// not restarted: it stops as its turn ends, and its factory and Started
// must not run after the runtime's Stop returned. Nor is one whose
// runtime's Stop gave up draining (its Receive failed as the abort
// cancelled it): no message reaches it again (deliver refuses them), and
// its factory and Started would begin after the abort, as no Receive does,
// and could run on past Stop's return. Its stop, or its kill, runs Stopped
// on the value that failed.
func (r *Ref[M, R]) restart(reason error) {
	if r.killed.Load() != nil || r.own.rt.sup.Group().Aborted() {
		return
	}
	n, ok := r.window.Allow(time.Now(), supervisor.Policy{MaxRestarts: r.maxRestarts, Window: r.restartWindow})
	switch {
	case !ok && r.maxRestarts == NoRestarts:
		r.finish(fmt.Errorf("coregate: actor %q: failed with restarts off (NoRestarts): %w", r.own.name, reason))
		return
	case !ok:
		r.finish(fmt.Errorf("coregate: actor %q: past its restart intensity (%d in %v): %w", r.own.name, r.maxRestarts, r.restartWindow, reason))
		return
	}
	var v Actor[M, R]
	err := r.try("the factory on restart", func() error {
		if v = r.newActor(); isNilActor(v) {
			return errors.New("returned nil")
		}
		return nil
	})
	if err != nil {
		r.finish(fmt.Errorf("coregate: actor %q: the factory on restart: %w", r.own.name, err))
		return
	}
	r.value = v
	// A message by PID may fail Receive between the actor's registration
	// and its ActorStarted, which register announces holding mu: the
	// restart is announced after the start.
	r.mu.Lock()
	r.own.rt.engine.BroadcastEvent(ActorRestarted{PID: r.own.pid, Reason: reason, Restarts: n})
	r.mu.Unlock()
	r.start()
}

// start runs Started, if the actor has it; an error, a panic or a
// runtime.Goexit stops the actor.
func (r *Ref[M, R]) start() {
	s, ok := r.value.(starter)
	if !ok {
		return
	}
	if err := r.try("Started", func() error { return s.Started(&r.ctx) }); err != nil {
		r.finish(fmt.Errorf("coregate: actor %q: Started: %w", r.own.name, err))
	}
}

// try runs f, one of the actor's own calls on a restart or start (the
// factory, Started), and returns its error, a panic in it as a
// *PanicError. A runtime.Goexit in it stops the actor (ErrGoexit) as the
// goroutine ends, rather than leave it running on a value that never
// came, or never started.
func (r *Ref[M, R]) try(what string, f func() error) (err error) {
	normal, recovered := false, false
	defer func() {
		if !normal && !recovered {
			r.finish(fmt.Errorf("coregate: actor %q: %s: %w", r.own.name, what, ErrGoexit))
		}
	}()
	func() {
		defer func() {
			if !normal {
				err = &PanicError{Value: recover(), Stack: debug.Stack()}
			}
		}()
		err = f()
		normal = true
	}()
	recovered = !normal
	return err
}

// finish stops the actor once: its mailbox refuses new messages and the
// queued ones are answered ErrActorStopped, Stopped runs (on the actor's
// executor, or on the stopping goroutine once no executor runs), its name
// and PID are freed, and its children stop (see finished). It is called
// from the actor's turn, or as its cell goes idle on its executor.
func (r *Ref[M, R]) finish(reason error) { r.stop(reason, true) }

// finishAway is finish for a caller outside the actor's turns (kill): its
// Stopped runs on a goroutine of its own.
func (r *Ref[M, R]) finishAway(reason error) { r.stop(reason, false) }

// stop is finish; here says Stopped may run on the caller's goroutine
// when it is one of the executors' (see runStopped).
func (r *Ref[M, R]) stop(reason error, here bool) {
	r.once.Do(func() {
		r.stopping.Store(true)
		r.stopped.Store(true)
		r.closeCell()
		defer r.finished(reason) // also when Stopped calls runtime.Goexit
		// Not for an actor stopped before its start was delivered (Stop
		// came as it was spawned): Started never ran.
		if s, ok := r.value.(stopper); ok && r.began {
			r.runStopped(s, here)
		}
	})
}

// finished is the rest of finish once Stopped ran: the name and PID freed,
// the end announced, Stop's waiters let go, and the children told to stop.
// The actor leaves its parent's children, and its tree counts as stopped
// (treeCh), once they all stopped, their trees with them; nothing waits for
// that here, since a child may be queued on this very executor.
func (r *Ref[M, R]) finished(reason error) {
	listed := r.unlist()
	if listed {
		r.own.rt.engine.Registry.Remove(r.own.pid) // before the name is free to spawn again
	}
	var ended any
	if listed {
		ended = ActorStopped{PID: r.own.pid, Reason: reason}
	}
	kids := r.own.rt.actors.remove(&r.own, ended)
	if f := testNameFreed.Load(); f != nil {
		(*f)(r.own.rt, r.own.name)
	}
	r.mu.Lock()
	r.ended = true
	if r.done != nil {
		close(r.done)
	}
	r.mu.Unlock()
	left := new(atomic.Int32)
	left.Store(int32(len(kids)) + 1) // and this call's own
	last := func() {
		if left.Add(-1) == 0 {
			r.treeEnded()
		}
	}
	for _, c := range kids {
		c.h.stopWith(ErrActorStopped)
		c.h.whenTreeEnded(last)
	}
	last()
}

// treeEnded is called once the actor and every actor of its tree stopped.
func (r *Ref[M, R]) treeEnded() {
	r.own.rt.actors.leaveParent(&r.own)
	r.mu.Lock()
	r.treeOver = true
	if r.tree != nil {
		close(r.tree)
	}
	then := r.then
	r.then = nil
	r.mu.Unlock()
	for _, f := range then {
		f()
	}
}

// whenTreeEnded runs f once the actor's tree stopped: now, if it has.
func (r *Ref[M, R]) whenTreeEnded(f func()) {
	r.mu.Lock()
	if !r.treeOver {
		r.then = append(r.then, f)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	f()
}

// runStopped runs s.Stopped; a panic in it is dropped, so that the actor is
// not left half-stopped. On the actor's executor (a turn, or its cell going
// idle there: here is set) it runs there, as Receive does: a
// runtime.Goexit in it ends the goroutine once finish's deferred rest ran,
// and the executor replaces the goroutine. Elsewhere (a stopping runtime's
// goroutine, once no executor runs, or a kill from another actor's turn or
// an op's handler, whose goroutine a Goexit would end, failing their
// message) it runs on a goroutine of its own, so that a Goexit cannot end
// the caller's, known as a callback's: the runtime's Stop called from it
// returns ErrStopFromHandler, as from a turn, rather than wait for the
// Stop that waits for it here; that Stop waits until its ctx ends, then
// for a grace, so a Stopped that blocks does not hold it past its ctx.
func (r *Ref[M, R]) runStopped(s stopper, here bool) {
	run := func() {
		// Not a turn, even on the executor (a kill completed as the turn
		// ended): a Stop of itself from Stopped looks here (inStopped).
		r.stoppedBy.Store(actors.GoID())
		defer r.stoppedBy.Store(0)
		defer func() {
			if p := recover(); p != nil {
				r.own.rt.engine.BroadcastEvent(CallbackPanicked{Value: p, Stack: debug.Stack(), Actor: r.own.pid})
			}
		}()
		s.Stopped(&r.ctx)
	}
	if here && r.own.rt.sup.Group().InHandler() {
		run()
		return
	}
	ended := make(chan struct{})
	r.own.rt.callbacks.run(func() {
		defer close(ended)
		run()
	})
	var giveUp <-chan struct{} // nil, never ready, but in a runtime's Stop
	if p := r.own.rt.giveUp.Load(); p != nil {
		giveUp = *p
	}
	select {
	case <-ended:
	case <-giveUp: // Stop's ctx ended: it returns, and reports Stopped still running
	}
}
