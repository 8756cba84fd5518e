package coregate

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/coregate/coregate/actors"
)

// MapWindowPerExecutor is the window of [Map]: how many of its tokens may be
// in flight at once, per executor of the runtime.
const MapWindowPerExecutor = 4

// MaxMapWindow is the largest window of [MapWindow] and
// [MapUnorderedWindow]: as many tokens as the largest mailbox holds. Each
// range makes room for its window at once, so a larger one would only be
// memory (or a panic).
const MaxMapWindow = MaxMailboxSize

// Map runs op on every argument of args and yields the results in input
// order. The window is [MapWindowPerExecutor] tokens per executor of the
// runtime in flight at once (in all, however op's placement spreads them):
// args is read no further than that window ahead of the results yielded,
// so a million inputs never mean a million tokens. Map reads args until
// the window is full (or args ends) before it waits for a result, then
// yields each as soon as it and those before it are ready. So while args
// waits for its next input (a channel, say), results already ready wait
// with it: behind a slow source they lag by up to a window, and a caller
// that sends the next input only once it got a result waits for good
// (unless the window is 1). A handler's error is yielded at its own
// position, and the sequence goes on. An error submitting a token (the
// runtime stopped, ctx ended) is yielded at its position after the results
// before it, and ends the sequence; so does ctx's end while waiting, and,
// inside a handler, a wait refused with [ErrTooManyBlocked]. Breaking out
// of the loop cancels every token still in flight: those not started
// resolve with ErrCancelled, running ones see their context cancelled. The
// tokens are submitted with a context derived from ctx.
//
// The sequence may be ranged over more than once; each range runs op again.
func Map[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A]) iter.Seq2[R, error] {
	return MapWindow(ctx, op, args, window(op))
}

// MapWindow is [Map] with at most window tokens in flight; a window below 1
// or above [MaxMapWindow] is an error, yielded as the sequence's only
// element.
func MapWindow[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A], window int) iter.Seq2[R, error] {
	return mapWith(ctx, op, args, window, func(ctx context.Context, yield func(R, error) bool) flight[A] {
		return &inOrder[A, R]{op: op, yield: yield, ctx: ctx, toks: make([]*Token[R], 0, window)}
	})
}

// flight is a Map's tokens in flight, yielded in input order or as they
// finish.
type flight[A any] interface {
	submit(ctx context.Context, a A) error // a token for a, held in flight
	len() int
	emit() bool // waits for a token and yields it; false to stop
	cancelAll()
}

// mapWith runs a Map over args with at most window tokens in the flight
// newFlight makes.
func mapWith[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A], window int, newFlight func(context.Context, func(R, error) bool) flight[A]) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		var zero R
		if err := checkMap(ctx, op, args, window); err != nil {
			yield(zero, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		f := newFlight(ctx, yield)
		defer f.cancelAll()
		for a := range args {
			if err := f.submit(ctx, a); err != nil {
				for f.len() > 0 {
					if !f.emit() {
						return
					}
				}
				yield(zero, err)
				return
			}
			if f.len() == window && !f.emit() {
				return
			}
		}
		for f.len() > 0 && f.emit() {
		}
	}
}

// checkMap says what is wrong with Map's input, or nil.
func checkMap[A, R any](ctx context.Context, op *Op[A, R], args iter.Seq[A], window int) error {
	switch {
	case ctx == nil:
		return ErrNilContext
	case op.unusable():
		return ErrNilOp
	case args == nil:
		return fmt.Errorf("coregate: op %q: Map over a nil sequence", op.info.Name)
	case window < 1 || window > MaxMapWindow:
		return fmt.Errorf("coregate: op %q: Map with a window of %d, want 1 to %d", op.info.Name, window, MaxMapWindow)
	}
	return nil
}

// window is Map's default window for op.
func window[A, R any](op *Op[A, R]) int {
	if op == nil || op.rt == nil {
		return MapWindowPerExecutor
	}
	return MapWindowPerExecutor * len(op.rt.execs)
}

// inOrder is Map's tokens in flight, yielded in input order.
type inOrder[A, R any] struct {
	op    *Op[A, R]
	yield func(R, error) bool
	ctx   context.Context
	toks  []*Token[R] // a queue: the oldest first
}

func (w *inOrder[A, R]) submit(ctx context.Context, a A) error {
	tok, err := w.op.Submit(ctx, a)
	if err == nil {
		w.toks = append(w.toks, tok)
	}
	return err
}

func (w *inOrder[A, R]) len() int { return len(w.toks) }

// emit waits for the oldest token and yields its result; false when the
// caller stopped, or when the wait failed (ctx ended, or too many handlers
// block already): its error was yielded, and the token is left in flight
// for cancelAll.
func (w *inOrder[A, R]) emit() bool {
	tok := w.toks[0]
	if err := tok.task.Await(w.ctx); err != nil {
		var zero R
		w.yield(zero, err)
		return false
	}
	w.toks[0] = nil
	w.toks = append(w.toks[:0], w.toks[1:]...)
	r, err := tok.Wait(w.ctx) // resolved: it returns at once
	// A handler's error, even with ctx ended meanwhile, is one position's:
	// the sequence goes on, and ends with ctx's error at the first token
	// not resolved (or argument not submitted), so it is never cut short
	// silently.
	return w.yield(r, err)
}

// cancelAll cancels the tokens still in flight.
func (w *inOrder[A, R]) cancelAll() { cancelInFlight(slices.Values(w.toks)) }

// cancelInFlight cancels toks: first every one not started yet, latest
// first (see latestFirst), then the running ones' contexts. Cancelling a
// running token first would let its executor go on to the next one before
// that was cancelled: on one core, breaking out of a Map ran tokens queued
// behind the one running.
func cancelInFlight[R any](toks iter.Seq[*Token[R]]) {
	byLatest := latestFirst(toks)
	if len(byLatest) == 0 {
		return
	}
	// Counted as a watch resolving them is (see actors.Task.Watching),
	// as Token.Cancel is: a Stop that finds one taken, its outcome not yet
	// recorded, waits for it. One count covers them all: it is their
	// group's.
	defer byLatest[0].task.Watching()()
	for _, tok := range byLatest {
		tok.task.Resolve(actors.Cancelled, ErrCancelled)
	}
	for _, tok := range byLatest {
		tok.Cancel()
	}
}

// latestFirst returns toks, the latest submitted first. An executor works
// through its queue oldest first: cancelled oldest first, a token left
// queued whose executor was free (or freed by the token cancelled just
// before it) could be run by that executor before its turn to be cancelled
// came, and so could the next.
func latestFirst[R any](toks iter.Seq[*Token[R]]) []*Token[R] {
	return slices.SortedFunc(toks, func(a, b *Token[R]) int {
		return cmp.Compare(b.task.ID(), a.task.ID())
	})
}
