package coregate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
)

// Weight is an op's weight class; it decides which executors may run its tokens.
// The zero value is Heavy.
type Weight = router.Weight

const (
	Heavy  = router.Heavy  // every executor
	Medium = router.Medium // executors 1 and up (clamped to the last)
	Light  = router.Light  // executors 2 and up (clamped to the last)
)

// Option configures an op at Define time.
type Option func(*opConfig)

type opConfig struct {
	weight Weight
}

// WithWeight sets the op's weight class; the default is Heavy.
func WithWeight(w Weight) Option { return func(c *opConfig) { c.weight = w } }

// Op is a defined operation: a named handler and its placement options. Submit
// its tokens with [Op.Submit].
type Op[A, R any] struct {
	rt     *Runtime
	name   string
	fn     func(context.Context, A) (R, error)
	weight Weight
}

// opRegistry holds the names of a runtime's ops.
type opRegistry struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func (r *opRegistry) add(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.names[name]; dup {
		return fmt.Errorf("coregate: op %q is already defined", name)
	}
	if r.names == nil {
		r.names = make(map[string]struct{})
	}
	r.names[name] = struct{}{}
	return nil
}

// Define defines an op named name on rt, run by fn. Names are unique per runtime.
// It returns an error for a nil runtime, a stopped runtime, an empty or
// duplicate name, a nil fn or an unknown weight.
func Define[A, R any](rt *Runtime, name string, fn func(context.Context, A) (R, error), opts ...Option) (*Op[A, R], error) {
	if rt == nil {
		return nil, errors.New("coregate: Define on a nil *Runtime")
	}
	if rt.stopping.Load() {
		return nil, ErrStopped
	}
	if name == "" {
		return nil, errors.New("coregate: op name is empty")
	}
	if fn == nil {
		return nil, fmt.Errorf("coregate: op %q has a nil function", name)
	}
	var cfg opConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	if !cfg.weight.Valid() {
		return nil, fmt.Errorf("coregate: op %q has unknown weight %v (want Heavy, Medium or Light)", name, cfg.weight)
	}
	if err := rt.registry.add(name); err != nil {
		return nil, err
	}
	return &Op[A, R]{rt: rt, name: name, fn: fn, weight: cfg.weight}, nil
}

// Name returns the op's name.
func (op *Op[A, R]) Name() string { return op.name }

// Weight returns the op's weight class.
func (op *Op[A, R]) Weight() Weight { return op.weight }

// Submit places a token for fn(ctx', arg) on an executor and returns it at once;
// [Token.Wait] gives the result. ctx is the token's parent: the handler's context
// carries ctx's values and is cancelled when ctx ends, and a token whose ctx ended
// before it started resolves with ctx's error without running. When every
// executor in the op's range is full, Submit waits for room until ctx ends and
// then returns ctx's error. After Stop it returns ErrStopped.
//
// Submit allocates once: the token.
func (op *Op[A, R]) Submit(ctx context.Context, arg A) (*Token[R], error) {
	if ctx == nil {
		return nil, ErrNilContext
	}
	rt := op.rt
	if rt.stopping.Load() {
		return nil, ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := &job[A, R]{op: op, arg: arg}
	j.tok.task.Init(ctx, rt.ids.Add(1))
	if _, err := rt.router.Submit(ctx, op.weight, j); err != nil {
		return nil, err
	}
	return &j.tok, nil
}

// job is a token with its op and argument: what a mailbox holds.
type job[A, R any] struct {
	tok Token[R]
	op  *Op[A, R]
	arg A
}

func (j *job[A, R]) Task() *actors.Task { return &j.tok.task }

func (j *job[A, R]) Run(ctx context.Context) error {
	r, err := j.op.fn(ctx, j.arg)
	j.tok.res = r
	var zero A
	j.arg = zero // the token may outlive the run; the argument need not
	return err
}
