package coregate

import (
	"context"

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
// once. Its token's parent context is [context.Background].
func (op *Op[A, R]) TrySubmit(arg A) (*Token[R], error) {
	return op.submitWith(context.Background(), arg, router.How{NoWait: true}, nil)
}
