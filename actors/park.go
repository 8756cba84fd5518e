package actors

// parked is the state of a token held off the queues (its op is paused):
// an executor that meets it in its mailbox skips it, as it skips a resolved
// one, while Cancel, Abort and Resolve still resolve it.
const parked uint32 = 3

// Park holds a queued token off the queues: executors skip it until
// [Task.Unpark]. It reports whether t was queued.
func (t *Task) Park() bool { return t.state.CompareAndSwap(queued, parked) }

// Unpark makes a parked token queued again, for the caller to deliver
// ([Executor.Deliver]); false when it was resolved meanwhile.
func (t *Task) Unpark() bool { return t.state.CompareAndSwap(parked, queued) }
