package actors

import "context"

// parked is the state of a token held off the queues (its op is paused):
// an executor that meets it in its mailbox skips it, as it skips a resolved
// one, while Cancel, Abort and Resolve still resolve it.
const parked uint32 = 3

// Park holds a queued token off the queues: executors skip it until
// [Task.Unpark]. It reports whether it did: not when t was not queued, nor
// when it was a retry not queued again yet (see [Task.RetryDue]).
func (t *Task) Park() bool { return t.move(queued, parked) }

// Parked reports whether the token is held off the queues by [Task.Park]
// and has not been unparked or resolved since.
func (t *Task) Parked() bool { return t.phase() == parked }

// SetPaused pauses the op, or ends its pause. Parking the tokens queued
// before is the caller's business; from now on an executor (or a lane's
// worker) that takes one of the op's queued tokens to run offers it to
// [Op.Hold] before it claims it, so a token the caller's scan of the
// queues missed (pushed after it) does not run either. An executor that
// read the op not paused before SetPaused(true) may still claim a token
// it took: the caller's scan finds the token in the executor's batch (as
// a lane's scan finds those its workers took), and of its Park and that
// claim only one succeeds.
//
// The token is offered unclaimed, still queued, so that a Resume coming
// before Hold decides finds it in its queue: once claimed, it could only
// run from where it was, ahead of held tokens queued again behind it.
func (o *Op) SetPaused(on bool) { o.paused.Store(on) }

// Paused reports whether the op is paused.
func (o *Op) Paused() bool { return o.paused.Load() }

// held offers j, just taken from a queue to run while its op is paused,
// to the op's Hold before it is claimed, and reports whether the taker
// must pass it by: Hold took it, or it is not to run from j anyway
// (parked, resolved, running elsewhere, or j is a stale entry), which the
// claim would find too, so the look needs no lock.
func (t *Task) held(j Job) bool {
	if t.phase() != queued || !t.Current(j) {
		return true
	}
	return t.op.Hold != nil && t.op.Hold(j)
}

// Unpark makes a parked token queued again, for the caller to deliver
// ([Executor.Deliver]) as a [Renewed] job of the epoch it returns; ok is
// false when it was resolved meanwhile. The token's entries queued before
// it was parked may still wait in a queue (an executor skipped none it did
// not reach): from now on they are stale, and only the renewed job runs it,
// from its new place.
func (t *Task) Unpark() (epoch uint32, ok bool) {
	for {
		s := t.state.Load()
		if s&stateMask != parked {
			return 0, false
		}
		next := s&^stateMask + 1<<epochShift
		if next == 0 {
			next = 1 << epochShift // epoch 0 is the unrenewed entries'
		}
		if t.state.CompareAndSwap(s, next|queued) {
			t.unwatchHeld() // queued again: an executor looks at its context
			return next >> epochShift, true
		}
	}
}

// Renewed is a job queued again for a token that [Task.Unpark] renewed:
// it runs the token when its Epoch is the token's latest, and executors
// skip the token's other entries.
type Renewed interface {
	Job
	// Epoch is the renewal of its token this entry was queued for, as
	// Task.Unpark returned it.
	Epoch() uint32
}

// WatchHeld, for a token its op's pause holds (parked), resolves it
// Cancelled with its submitter's context's error as soon as that context
// ends, as an executor reaching it would: a held token waits for no
// executor, and would otherwise keep its Wait's caller, and what the token
// holds, until a Resume or a Stop. Unpark and the token's resolution end
// the watch; a context that never ends needs none.
func (t *Task) WatchHeld() {
	parent := t.parent
	if parent.Done() == nil {
		return
	}
	stop := context.AfterFunc(parent, func() { t.CancelWatched(parent.Err()) })
	if old := t.extra().held.Swap(&stop); old != nil {
		(*old)() // held again without an Unpark in between: one watch is enough
	}
	// Resolved or unparked before the watch was in place (neither saw it):
	// end it here.
	if t.done.isFired() || t.phase() != parked {
		t.unwatchHeld()
	}
}

// unwatchHeld ends the watch WatchHeld started, if any.
func (t *Task) unwatchHeld() {
	if x := t.more.Load(); x != nil {
		if stop := x.held.Swap(nil); stop != nil {
			(*stop)()
		}
	}
}
