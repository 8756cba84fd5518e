package actors

// parked is the state of a token held off the queues (its op is paused):
// an executor that meets it in its mailbox skips it, as it skips a resolved
// one, while Cancel, Abort and Resolve still resolve it.
const parked uint32 = 3

// Park holds a queued token off the queues: executors skip it until
// [Task.Unpark]. It reports whether t was queued.
func (t *Task) Park() bool { return t.move(queued, parked) }

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
