package coregate

import (
	"context"
	"errors"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// funcInfo names closure tokens in reports; funcRule places them as a Heavy
// op's.
var (
	funcInfo = actors.Op{Name: "func"}
	funcRule = router.Rule{Weight: Heavy}
)

// SubmitFunc runs fn(ctx') on rt as a token without defining an op first,
// placed as a Heavy op's tokens are (staggered over every executor), counted,
// cancelled, stopped and waited for like any token. ctx is its parent, as for
// [Op.Submit]. Its reports name it "func". Define an op instead for sticky
// keys, anchors, retries or another weight. It returns Submit's errors, and
// an error for a nil runtime or fn.
func SubmitFunc[R any](ctx context.Context, rt *Runtime, fn func(context.Context) (R, error)) (*Token[R], error) {
	return submitFunc(ctx, rt, fn, nil)
}

func submitFunc[R any](ctx context.Context, rt *Runtime, fn func(context.Context) (R, error), w watcher) (*Token[R], error) {
	switch {
	case ctx == nil:
		return nil, ErrNilContext
	case rt == nil || rt.router == nil:
		return nil, errors.New("coregate: SubmitFunc on a nil *Runtime or one not made by Start")
	case fn == nil:
		return nil, errors.New("coregate: SubmitFunc with a nil function")
	case rt.stopping.Load():
		return nil, ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := &funcJob[R]{fn: fn, watch: w}
	j.tok.task.Init(ctx, rt.ids.Add(1), &funcInfo, j)
	if err := rt.router.Submit(ctx, &funcRule, nil, j); err != nil {
		return nil, err
	}
	return &j.tok, nil
}

// funcJob is a closure's token; it is its own hook, to tell its watcher.
type funcJob[R any] struct {
	tok   Token[R]
	fn    func(context.Context) (R, error)
	watch watcher
	actors.HookBase
}

func (j *funcJob[R]) Task() *actors.Task { return &j.tok.task }

func (j *funcJob[R]) Run(ctx context.Context) error {
	if g, ok := j.watch.(*Group); ok { // for its Wait, as a hookedJob's
		id := actors.GoID()
		g.enter(id)
		defer g.leave(id)
	}
	r, err := j.fn(ctx)
	j.tok.res = r
	return err
}

func (j *funcJob[R]) Placement() (*router.Rule, *router.Ticket) { return &funcRule, nil }

// Resolved lets go of the closure and tells the watcher.
func (j *funcJob[R]) Resolved(t *actors.Task) {
	j.fn = nil
	if j.watch != nil {
		j.watch.resolved(t)
	}
}

// Settled tells the watcher the token's waiters were woken.
func (j *funcJob[R]) Settled(t *actors.Task) {
	if j.watch != nil {
		j.watch.settled(t)
	}
}

func (j *funcJob[R]) Anchor() any { return nil }

func (j *funcJob[R]) Retry(actors.Outcome, error) (time.Duration, bool) { return 0, false }
