package coregate

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// MapWindowPerExecutor is the window of [Map]: how many of its tokens may be
// in flight at once, per executor of the runtime.
const MapWindowPerExecutor = 4

// Map runs op on every argument of args and yields the results in input
// order, each as soon as it and those before it are ready. At most
// [MapWindowPerExecutor] tokens per executor are in flight at once: args is
// read no further than that window ahead of the results yielded, so a
// million inputs never mean a million tokens. A handler's error is yielded at
// its own position, and the sequence goes on. An error submitting a token
// (the runtime stopped, ctx ended) is yielded at its position after the
// results before it, and ends the sequence; so does ctx's end while waiting.
// Breaking out of the loop cancels every token still in flight: those not
// started resolve with ErrCancelled, running ones see their context
// cancelled. The tokens are submitted with a context derived from ctx.
//
// The sequence may be ranged over more than once; each range runs op again.
func Map[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A]) iter.Seq2[R, error] {
	window := MapWindowPerExecutor
	if op != nil && op.rt != nil {
		window *= len(op.rt.execs)
	}
	return MapWindow(ctx, op, args, window)
}

// MapWindow is [Map] with at most window tokens in flight; a window below 1
// is an error, yielded as the sequence's only element.
func MapWindow[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A], window int) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		var zero R
		switch {
		case ctx == nil:
			yield(zero, ErrNilContext)
			return
		case op == nil:
			yield(zero, errors.New("coregate: Map of a nil *Op"))
			return
		case args == nil:
			yield(zero, fmt.Errorf("coregate: op %q: Map over a nil sequence", op.info.Name))
			return
		case window < 1:
			yield(zero, fmt.Errorf("coregate: op %q: Map with a window of %d, want 1 or more", op.info.Name, window))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w := mapWindow[R]{yield: yield, ctx: ctx, toks: make([]*Token[R], 0, window)}
		defer w.cancelAll()
		for a := range args {
			tok, err := op.Submit(ctx, a)
			if err != nil {
				for len(w.toks) > 0 {
					if !w.emit() {
						return
					}
				}
				yield(zero, err)
				return
			}
			w.toks = append(w.toks, tok)
			if len(w.toks) == window && !w.emit() {
				return
			}
		}
		for len(w.toks) > 0 && w.emit() {
		}
	}
}

// mapWindow is Map's tokens in flight, in input order.
type mapWindow[R any] struct {
	yield func(R, error) bool
	ctx   context.Context
	toks  []*Token[R] // a queue: the oldest first
}

// emit waits for the oldest token and yields its result; false when the
// caller stopped, or when ctx ended the wait (its error was yielded).
func (w *mapWindow[R]) emit() bool {
	tok := w.toks[0]
	w.toks[0] = nil
	w.toks = append(w.toks[:0], w.toks[1:]...)
	r, err := tok.Wait(w.ctx)
	if !w.yield(r, err) {
		return false
	}
	return err == nil || w.ctx.Err() == nil
}

// cancelAll cancels the tokens still in flight.
func (w *mapWindow[R]) cancelAll() {
	for _, tok := range w.toks {
		tok.Cancel()
	}
}
