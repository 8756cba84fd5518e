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
	for _, j := range op.queued(true, nil) {
		if j.Task().Resolve(actors.Cancelled, ErrCancelled) {
			n++
		}
	}
	return n + op.pause.cancel()
}
