package actors

// Deliver queues j, a token accepted on e before ([Executor.Accept]) and
// held elsewhere meanwhile (delayed, or paused), at the tail of e's mailbox:
// past the bound, since it was accepted already, and past the close, so a
// draining executor still runs it. It is not counted again. It returns Gone
// when e is down (place it with the router's Redirect) and Closed once the
// runtime aborted (resolve it).
func (e *Executor) Deliver(j Job) PushResult { return e.mb.requeue(j) }
