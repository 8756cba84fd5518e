package coregate

import "github.com/coregate/coregate/actors"

// CancelQueued cancels every token of op that waits to run: queued on an
// executor, waiting out [Op.SubmitAfter]'s delay or a retry backoff, or held
// by [Op.Pause]. Each resolves with ErrCancelled and never runs; running
// tokens are not touched (cancel one with [Token.Cancel]). It returns how
// many it cancelled. Tokens submitted meanwhile may escape it.
func (op *Op[A, R]) CancelQueued() int {
	if op.unusable() {
		return 0
	}
	// The delayed first: a token coming due meanwhile is queued (or held)
	// by the time cancelOf returns, where the rest finds it.
	n := op.rt.delays.cancelOf(&op.info)
	// The queued and the held are taken under the pause's lock, as one: a
	// Resume between the two would queue again held tokens that the scan
	// of the queues had passed, after which none would be held any more,
	// and a Pause between them would hold queued ones the scan had yet to
	// reach. They are resolved after it (a token's hook runs callbacks).
	p := &op.pause
	p.mu.Lock()
	js := op.queued(true, nil)
	all := append(js, p.held...)
	p.held = nil
	if len(all) > 0 {
		// Counted as a watch resolving them is, before the held leave the
		// list where Stop looks (pauses.stop) and before any is taken, so
		// that a Stop meanwhile (its drain passing one taken here) waits
		// for them (AwaitWatched) rather than return with them unresolved.
		// One count covers them all: it is their group's.
		defer all[0].Task().Watching()()
	}
	p.mu.Unlock()
	if cancelQueuedTook != nil {
		cancelQueuedTook()
	}
	for _, j := range all {
		if j.Task().Resolve(actors.Cancelled, ErrCancelled) {
			n++
		}
	}
	return n
}

// cancelQueuedTook, when a test sets it, runs as CancelQueued has taken the
// tokens it cancels, before it resolves them.
var cancelQueuedTook func()
