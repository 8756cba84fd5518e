package actors

// parked is the state of a token held off the queues (its op is paused):
// an executor that meets it in its mailbox skips it, as it skips a resolved
// one, while Cancel, Abort and Resolve still resolve it.
const parked uint32 = 3

// Park holds a queued token off the queues: executors skip it until
// [Task.Unpark]. It reports whether t was queued.
func (t *Task) Park() bool { return t.move(queued, parked) }

// SetPaused pauses the op, or ends its pause. Parking the tokens queued
// before is the caller's business; from now on an executor (or a lane's
// worker) that claims one of the op's tokens to run hands it to [Op.Hold]
// instead, so a token the caller's scan of the queues missed (claimed as
// it scanned, or pushed after it) does not run either. A claim that reads
// the op not paused came before SetPaused(true): the token was running
// then.
func (o *Op) SetPaused(on bool) { o.paused.Store(on) }

// Paused reports whether the op is paused.
func (o *Op) Paused() bool { return o.paused.Load() }

// held offers j, whose token was just claimed to run while its op is
// paused, to the op's Hold, and reports whether Hold took it: then it must
// not run.
func (t *Task) held(j Job) bool {
	if t.op.Hold == nil || !t.op.Hold(j) {
		return false
	}
	// A Cancel that found the token claimed left it to run, its context
	// cancelled: it will not run now. The Cancel read the state after
	// firing, and Repark moved it before this looks, so one of the two
	// sees the other, as in Executor.retry.
	if t.cancel.isFired() {
		t.Resolve(Cancelled, ErrCancelled)
	}
	return true
}

// Repark parks t, a token claimed to run that has not run, for [Op.Hold]:
// executors skip its entries until [Task.Unpark], and Cancel, Abort and
// Resolve resolve it as any parked token. Only the claimer may call it, and
// only from Hold. It reports whether t was claimed.
func (t *Task) Repark() bool { return t.move(running, parked) }

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
			return next >> epochShift, true
		}
	}
}

// Renewed is a job queued again for a token that [Task.Unpark] renewed:
// it runs the token when its Epoch is the token's latest, and executors
// skip the token's other entries.
type Renewed interface {
	Job
	Epoch() uint32
}
