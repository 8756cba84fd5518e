package actors

import "sync/atomic"

// counters are an executor's outcome counts. Each sits on its own cache line: the
// executor goroutine writes them on every token and Stats readers must not slow it.
type counters struct {
	c [numOutcomes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (c *counters) add(o Outcome) { c.c[o].n.Add(1) }

// Counts is a snapshot of one executor's token counts. A token is counted on the
// executor that accepted it, from submission to outcome, even when it ran
// elsewhere because that executor went down.
type Counts struct {
	Submitted uint64 // accepted onto this executor
	Succeeded uint64 // the handler returned a nil error
	// Failed counts tokens whose handler returned an error or called
	// runtime.Goexit, and those refused after they were accepted, without
	// running: a full mailbox (ErrMailboxFull), no live executor
	// (ErrNoExecutor), an Ask refused before it was queued (one whose
	// context ended as it waited for room counts as Cancelled).
	Failed    uint64
	Panicked  uint64 // the handler panicked (a *PanicError)
	Cancelled uint64 // cancelled before starting, or gave up on a cancelled context
	// Stopped counts tokens that never ran because what was to run them
	// stopped first: tokens still queued when their runtime gave up
	// draining, or waiting out a delay or held by a pause when it stopped
	// (ErrStopped), and Asks queued to an actor that stopped
	// (ErrActorStopped).
	Stopped uint64
	// Queued is a gauge, not a count: the tokens held against the mailbox
	// bound, which includes the rest of the batch the executor is working
	// through and retries waiting out a backoff, so a token that just
	// resolved may still be counted for a moment.
	Queued uint64
	// Rerouted counts tokens accepted here that moved to another executor
	// because this one went down or stalled, once each however often they
	// moved; they are still counted here.
	Rerouted uint64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Submitted += o.Submitted
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	c.Panicked += o.Panicked
	c.Cancelled += o.Cancelled
	c.Stopped += o.Stopped
	c.Queued += o.Queued
	c.Rerouted += o.Rerouted
}

// Resolved is the number of tokens that reached an outcome.
func (c Counts) Resolved() uint64 {
	return c.Succeeded + c.Failed + c.Panicked + c.Cancelled + c.Stopped
}

// Counts returns a snapshot of e's counts. Outcomes are read before Submitted, so
// Submitted >= Resolved() holds in every snapshot.
func (e *Executor) Counts() Counts {
	var c Counts
	c.Succeeded = e.stats.c[Succeeded].n.Load()
	c.Failed = e.stats.c[Failed].n.Load()
	c.Panicked = e.stats.c[Panicked].n.Load()
	c.Cancelled = e.stats.c[Cancelled].n.Load()
	c.Stopped = e.stats.c[Stopped].n.Load()
	pushed, n := e.mb.counts()
	c.Submitted = pushed + e.refused.Load()
	c.Queued = uint64(n)
	c.Rerouted = e.rerouted.Load()
	return c
}
