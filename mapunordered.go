package coregate

import (
	"context"
	"iter"
	"maps"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// MapUnordered is [Map] yielding each result as soon as its token resolves,
// in the order they finish rather than the input's, with the same window,
// errors and early exit; carry the input in R when the caller needs to match
// them. A slow token then holds up nothing but itself.
func MapUnordered[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A]) iter.Seq2[R, error] {
	return MapUnorderedWindow(ctx, op, args, window(op))
}

// MapUnorderedWindow is [MapUnordered] with at most window tokens in flight.
func MapUnorderedWindow[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A], window int) iter.Seq2[R, error] {
	return mapWith(ctx, op, args, window, func(ctx context.Context, yield func(R, error) bool) flight[A] {
		return &finished[A, R]{op: op, yield: yield, ctx: ctx, ch: make(chan *actors.Task, window),
			inFlight: make(map[*actors.Task]*Token[R], window)}
	})
}

// finished is MapUnordered's tokens in flight; each tells it when it
// resolves, on a channel with room for all of them.
type finished[A, R any] struct {
	op       *Op[A, R]
	yield    func(R, error) bool
	ctx      context.Context
	ch       chan *actors.Task
	inFlight map[*actors.Task]*Token[R]
}

func (w *finished[A, R]) resolved(*actors.Task) {}

// settled hands t on once its waiters were woken: its token is done.
func (w *finished[A, R]) settled(t *actors.Task) { w.ch <- t }

func (w *finished[A, R]) submit(ctx context.Context, a A) error {
	tok, err := w.op.submitWith(ctx, a, router.How{}, w)
	if err == nil {
		w.inFlight[&tok.task] = tok
	}
	return err
}

func (w *finished[A, R]) len() int { return len(w.inFlight) }

// emit waits for the first token to resolve and yields its result; false
// when the caller stopped, or ctx ended the wait (its error was yielded).
func (w *finished[A, R]) emit() bool {
	var t *actors.Task
	select {
	case t = <-w.ch:
	default:
		// Inside a handler, hand the executor on first: the tokens awaited
		// may be queued behind it.
		resume, err := actors.Block()
		if err != nil {
			var zero R
			w.yield(zero, err)
			return false
		}
		select {
		case t = <-w.ch:
			resume()
		case <-w.ctx.Done():
			resume()
			var zero R
			w.yield(zero, w.ctx.Err())
			return false
		}
	}
	tok := w.inFlight[t]
	delete(w.inFlight, t)
	r, err := tok.Wait(context.Background()) // resolved: it returns at once
	return w.yield(r, err)
}

func (w *finished[A, R]) cancelAll() { cancelInFlight(maps.Values(w.inFlight)) }
