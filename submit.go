package coregate

import (
	"context"
	"unsafe"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// SubmitFirst is [Op.Submit] with the token queued at the head of its
// executor's queue, ahead of every token queued there (fastthreadpool's
// submit_first): it runs as soon as the executor's current token returns.
// Tokens submitted first later go ahead of it, last in, first out. It is
// placed, counted and waits for room as Submit's tokens are.
func (op *Op[A, R]) SubmitFirst(ctx context.Context, arg A) (*Token[R], error) {
	return op.submitWith(ctx, arg, router.How{First: true}, nil)
}

// TrySubmit is [Op.Submit] without the wait: when every executor the token
// may go to is full, it returns an error wrapping [ErrFull], naming the op, at
// once. Its token's parent context is [context.Background], also when a
// handler or an actor calls it: the token is none of theirs, so it joins no
// anchored seed, does not stay near them and is not cancelled with them
// (a handler that wants those submits with its context, and waits for room).
func (op *Op[A, R]) TrySubmit(arg A) (*Token[R], error) {
	return op.submitWith(context.Background(), arg, router.How{NoWait: true}, nil)
}

// SubmitAll submits a token of op for each of args, as many Submit calls in
// a row would, and returns them in args' order. A burst costs less this way
// when op has no sticky key, anchor, retry, callback, blocking lane or
// OnExecutor, is not paused, and ctx is not the context of a handler in a
// seed or of an actor: the tokens are allocated 16 KiB at a time (a token kept keeps its
// slab's memory) and queued up to 256 at a time per executor, each under one
// lock and with one wake-up. They still take consecutive positions of their
// class, so they spread over the executors as Submit's would, and a batch
// that finds no room waits for it as Submit does. Other ops' tokens are
// submitted one at a time.
//
// On error (Submit's errors) the tokens of the arguments already queued are
// returned, and nil in place of each of the others; those queued run
// (when the error is ctx's end, they share ctx: those not yet started
// resolve with its error).
func (op *Op[A, R]) SubmitAll(ctx context.Context, args []A) ([]*Token[R], error) {
	if err := op.admit(ctx); err != nil {
		return make([]*Token[R], len(args)), err // none submitted: nil for each
	}
	if len(args) == 0 {
		return nil, nil
	}
	toks := make([]*Token[R], len(args))
	if !op.batches(ctx) {
		for k, a := range args {
			t, err := op.Submit(ctx, a)
			if err != nil {
				return toks, err
			}
			toks[k] = t
		}
		return toks, nil
	}
	n := uint64(len(args))
	id := op.rt.ids.Add(n) - n
	// Slabs of slabBytes, not one allocation for the batch: a large
	// object takes fresh pages, whose first writes fault (a burst of
	// 200,000 took 5 to 8 times longer in one run out of four).
	per := max(1, slabBytes/int(unsafe.Sizeof(job[A, R]{})))
	slabs := make([][]job[A, R], 0, (len(args)+per-1)/per)
	for lo := 0; lo < len(args); lo += per {
		jobs := make([]job[A, R], min(per, len(args)-lo))
		for k := range jobs {
			j := &jobs[k]
			j.op, j.arg = op, args[lo+k]
			j.tok.task.Init(ctx, id+uint64(lo+k)+1, &op.info, nil)
			toks[lo+k] = &j.tok
		}
		slabs = append(slabs, jobs)
	}
	at := func(k int) *job[A, R] { return &slabs[k/per][k%per] }
	// A batch may wait for room long after a Pause, and its tokens are
	// held only once it is queued whole: from the first push that sees op
	// paused, every token of the batch still queued or to be pushed is
	// parked, as Submit's pushed while paused are, and held below.
	var parked []bool
	err := op.rt.router.SubmitAll(ctx, &op.rule, len(args),
		func(k int) actors.Job {
			if parked == nil && op.info.Paused() {
				parked = make([]bool, len(args))
				op.rt.pauses.park() // Stop waits until they are held or resolved
				for i := range parked {
					parked[i] = at(i).tok.task.Park()
				}
			}
			return at(k)
		},
		func(k int) { toks[k] = nil })
	for k, t := range toks {
		switch {
		case t == nil:
		case parked != nil && parked[k]:
			op.pause.holdParked(at(k), op.deliver)
		default:
			op.pause.hold(at(k)) // after the push, as Submit's
		}
	}
	if parked != nil {
		op.rt.pauses.parked()
	}
	return toks, err
}

// slabBytes is how much memory SubmitAll allocates for tokens at a time.
const slabBytes = 16 << 10

// batches reports whether tokens of op submitted with ctx are plain jobs
// that [Op.SubmitAll] may queue together.
func (op *Op[A, R]) batches(ctx context.Context) bool {
	if op.hooked || op.lane != nil || op.near > 0 || op.info.Paused() {
		return false
	}
	return leaderOf(ctx, op.rt) == nil
}
