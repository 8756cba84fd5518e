package coregate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
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
	sticky bool
	keyFn  any // func(A) uint64, checked by Define
	lead   bool
	calls  []string
}

// WithWeight sets the op's weight class; the default is Heavy.
func WithWeight(w Weight) Option { return func(c *opConfig) { c.weight = w } }

// WithSticky makes the op's tokens sticky: the key is the op name and the
// argument, and every token of a key goes to the executor the key's first token
// was placed on, while the pin lives (see package anchor). The argument must be
// made of strings, byte slices, booleans, integers and floats (structs and
// arrays of these included); for other types use [WithStickyKey]. Define
// reports an argument type that can be neither encoded nor keyed.
func WithSticky() Option { return func(c *opConfig) { c.sticky = true } }

// WithStickyKey makes the op's tokens sticky with key(arg) as the key (mixed
// with the op name). key must be a func(A) uint64 for the op's argument type A;
// Define reports any other.
func WithStickyKey[A any](key func(A) uint64) Option {
	return func(c *opConfig) { c.sticky, c.keyFn = true, key }
}

// WithAnchor makes the op a lead that calls the named ops: each of its tokens
// gets a seed, and every token submitted with the context its handler received
// (directly or through nested children) runs on the lead's executor, whatever
// its own weight. The seed is released when the lead and all its children have
// resolved; a child submitted after that is placed as an ordinary token, since
// its lead's work is over and there is nothing left to stay near.
func WithAnchor(externalCalls ...string) Option {
	return func(c *opConfig) { c.lead, c.calls = true, externalCalls }
}

// Op is a defined operation: a named handler and its placement options. Submit
// its tokens with [Op.Submit].
type Op[A, R any] struct {
	rt     *Runtime
	name   string
	fn     func(context.Context, A) (R, error)
	weight Weight
	keyOf  func(*A) uint64 // nil unless sticky
	lead   bool
	calls  []byte // canonical encoding of a lead's external calls
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
	op := &Op[A, R]{rt: rt, name: name, fn: fn, weight: cfg.weight, lead: cfg.lead}
	if err := op.configureAnchors(cfg); err != nil {
		return nil, err
	}
	if err := rt.registry.add(name); err != nil {
		return nil, err
	}
	return op, nil
}

func (op *Op[A, R]) configureAnchors(cfg opConfig) error {
	switch {
	case cfg.keyFn != nil:
		key, ok := cfg.keyFn.(func(A) uint64)
		if !ok {
			return fmt.Errorf("coregate: op %q: WithStickyKey got a %T, want a func(%v) uint64", op.name, cfg.keyFn, reflect.TypeFor[A]())
		}
		opHash := xxhash.Sum64String(op.name)
		op.keyOf = func(a *A) uint64 { return anchor.MixKey(opHash, key(*a)) }
	case cfg.sticky:
		enc, err := anchor.NewEncoder(reflect.TypeFor[A]())
		if err != nil {
			return fmt.Errorf("coregate: op %q: WithSticky: %w", op.name, err)
		}
		op.keyOf = func(a *A) uint64 { return enc.Key(op.name, unsafe.Pointer(a)) }
	}
	for _, c := range cfg.calls {
		if c == "" {
			return fmt.Errorf("coregate: op %q: WithAnchor has an empty call name", op.name)
		}
	}
	if cfg.lead {
		op.calls = anchor.CallsEncoding(cfg.calls)
	}
	return nil
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
	// Placement precedence: the seed of the lead whose context this is, then a
	// sticky pin, then staggered selection.
	seed, _ := ctx.Value(actors.AnchorKey{}).(*anchor.Seed)
	if seed != nil && !seed.Join() {
		seed = nil // released: the lead's work is over
	}
	if seed == nil && op.keyOf == nil && !op.lead {
		j := &job[A, R]{op: op, arg: arg}
		j.tok.task.Init(ctx, rt.ids.Add(1))
		if _, err := rt.router.Submit(ctx, op.weight, j); err != nil {
			return nil, err
		}
		return &j.tok, nil
	}
	j := &anchoredJob[A, R]{job: job[A, R]{op: op, arg: arg}, seed: seed}
	j.tok.task.Init(ctx, rt.ids.Add(1))
	exec := 0
	if seed != nil {
		exec = seed.Executor()
	} else {
		exec = op.place(j)
	}
	if err := j.submitTo(ctx, exec); err != nil {
		return nil, err
	}
	return &j.tok, nil
}

// place picks the executor of a sticky or lead token and takes its pin or seed.
func (op *Op[A, R]) place(j *anchoredJob[A, R]) int {
	rt := op.rt
	exec := rt.router.Next(op.weight)
	if op.keyOf != nil {
		j.key = op.keyOf(&j.arg)
		lo, hi := router.Range(op.weight, rt.router.Len())
		exec, j.pinned = rt.sticky.Place(j.key, lo, hi, exec)
	}
	if op.lead {
		j.seed = rt.seeds.Lead(j.tok.task.ID(), op.calls, exec) // nil: unanchored
	}
	return exec
}

// job is a token with its op and argument: what a mailbox holds.
type job[A, R any] struct {
	tok Token[R]
	op  *Op[A, R]
	arg A
}

// anchoredJob is a job placed by a seed or a sticky pin. Plain tokens do not
// carry these fields, so they stay one size class smaller.
type anchoredJob[A, R any] struct {
	job[A, R]
	key    uint64       // sticky key, when pinned
	pinned bool         // holds an in-flight count on its key's pin
	seed   *anchor.Seed // the seed it belongs to (its own, for a lead), or nil
}

// submitTo pushes j onto executor exec; if it is refused, the pin and seed it
// took are given back, since it will never resolve.
func (j *anchoredJob[A, R]) submitTo(ctx context.Context, exec int) error {
	j.tok.task.SetHook(j)
	err := j.op.rt.router.SubmitTo(ctx, exec, j)
	if err != nil {
		j.Resolved(&j.tok.task)
	}
	return err
}

// Resolved releases the job's pin and seed once, at its outcome.
func (j *anchoredJob[A, R]) Resolved(*actors.Task) {
	if j.pinned {
		j.op.rt.sticky.Release(j.key)
	}
	if j.seed != nil {
		j.seed.Leave()
	}
}

// Anchor hands the job's seed to the tokens its handler submits.
func (j *anchoredJob[A, R]) Anchor() any {
	if j.seed == nil {
		return nil // a nil *Seed in an interface would not compare equal to nil
	}
	return j.seed
}

func (j *job[A, R]) Task() *actors.Task { return &j.tok.task }

func (j *job[A, R]) Run(ctx context.Context) error {
	r, err := j.op.fn(ctx, j.arg)
	j.tok.res = r
	var zero A
	j.arg = zero // the token may outlive the run; the argument need not
	return err
}
