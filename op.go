package coregate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"
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

// Option configures an op at Define time. A nil Option is an error.
type Option func(*opConfig)

type opConfig struct {
	weight  Weight
	sticky  bool
	keyFn   any // func(A) uint64, checked by Define
	lead    bool
	calls   []string
	retries int
	backoff time.Duration
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
// with the op name). key must be a non-nil func(A) uint64 for the op's
// argument type A; Define reports any other.
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

// WithRetry makes the op's tokens retried: a run that fails (returns an error
// other than its cancelled context's, panics, or calls runtime.Goexit) is
// queued again at the tail of the executor that ran it, up to retries more
// times, after backoff (doubled for each further retry, at most
// [MaxRetryBackoff]). Only the final attempt's outcome reaches the token, and
// the counts record one outcome per token. A cancelled token, or one whose
// submitter's context ended, is not retried; one waiting out a backoff when the
// runtime stops resolves with its last attempt's error.
//
// This makes delivery at-least-once for the op: a handler that failed after
// doing part of its work runs again, so use it for idempotent work only.
// Exactly-once is not offered.
func WithRetry(retries int, backoff time.Duration) Option {
	return func(c *opConfig) { c.retries, c.backoff = retries, backoff }
}

// MaxRetryBackoff caps the doubling backoff between retries.
const MaxRetryBackoff = time.Minute

// Op is a defined operation: a named handler and its placement options. Submit
// its tokens with [Op.Submit].
type Op[A, R any] struct {
	rt      *Runtime
	info    actors.Op // the op's name, shared by its tokens for reports
	name    string
	fn      func(context.Context, A) (R, error)
	weight  Weight
	keyOf   func(*A) uint64 // nil unless sticky
	lead    bool
	calls   []byte // canonical encoding of a lead's external calls
	retries int
	backoff time.Duration
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
// It returns an error for a nil runtime or one not made by [Start], a stopped
// runtime, an empty or duplicate name, a nil fn, a nil option, or options that
// do not fit the op (see each option).
func Define[A, R any](rt *Runtime, name string, fn func(context.Context, A) (R, error), opts ...Option) (*Op[A, R], error) {
	if rt == nil {
		return nil, errors.New("coregate: Define on a nil *Runtime")
	}
	if rt.router == nil {
		return nil, errors.New("coregate: Define on a Runtime not made by Start")
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
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("coregate: op %q: option %d is nil", name, i+1) // counted from 1
		}
		opt(&cfg)
	}
	if !cfg.weight.Valid() {
		return nil, fmt.Errorf("coregate: op %q has unknown weight %v (want Heavy, Medium or Light)", name, cfg.weight)
	}
	if cfg.retries < 0 || cfg.backoff < 0 {
		return nil, fmt.Errorf("coregate: op %q: WithRetry(%d, %v): retries and backoff must not be negative", name, cfg.retries, cfg.backoff)
	}
	op := &Op[A, R]{rt: rt, info: actors.Op{Name: name}, name: name, fn: fn, weight: cfg.weight, lead: cfg.lead, retries: cfg.retries, backoff: cfg.backoff}
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
		if key == nil { // a typed nil: cfg.keyFn itself is not nil
			return fmt.Errorf("coregate: op %q: WithStickyKey got a nil key function", op.name)
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
		if op.retries == 0 {
			j := &job[A, R]{op: op, arg: arg}
			j.tok.task.Init(ctx, rt.ids.Add(1), &op.info)
			if _, err := rt.router.Submit(ctx, op.weight, j); err != nil {
				return nil, err
			}
			return &j.tok, nil
		}
		j := &hookedJob[A, R]{job: job[A, R]{op: op, arg: arg}}
		j.tok.task.Init(ctx, rt.ids.Add(1), &op.info)
		j.tok.task.SetHook(j)
		if _, err := rt.router.Submit(ctx, op.weight, j); err != nil {
			return nil, err
		}
		return &j.tok, nil
	}
	j := &hookedJob[A, R]{job: job[A, R]{op: op, arg: arg}, seed: seed}
	j.tok.task.Init(ctx, rt.ids.Add(1), &op.info)
	j.tok.task.SetHook(j)
	if err := j.submit(ctx); err != nil {
		return nil, err
	}
	return &j.tok, nil
}

// submit pushes an anchored job where its seed or pin says, placing it first.
// Placement and push happen under the runtime's read lock on moves, so they see
// the executors as one consistent view: an executor going down moves its queue
// under the write lock, and no token of a seed or key can overtake the ones
// being moved. The lock is not held while waiting for room.
func (j *hookedJob[A, R]) submit(ctx context.Context) error {
	rt := j.op.rt
	push := func(first bool) (int, actors.PushResult) {
		rt.moving.RLock()
		defer rt.moving.RUnlock()
		exec := j.target(first)
		if exec < 0 {
			return -1, actors.NoExecutor
		}
		return exec, rt.execs[exec].Push(j)
	}
	_, res := push(true)
	var err error
	switch res {
	case actors.Pushed:
		return nil
	case actors.Closed:
		err = ErrStopped
	case actors.NoExecutor:
		err = ErrNoExecutor
	default:
		_, err = rt.router.WaitRoom(ctx, func() (int, actors.PushResult) { return push(false) })
	}
	if err != nil {
		j.Resolved(&j.tok.task) // it will never resolve: give back its pin and seed
	}
	return err
}

// target returns the executor an anchored job goes to, -1 when none is live.
// The first call places it, taking its pin or creating its seed; later calls
// (after a full mailbox, or to move it off an executor that went down) follow
// the seed or pin, moving it off a down executor, without counting again.
// The caller holds the runtime's lock on moves.
func (j *hookedJob[A, R]) target(first bool) int {
	rt := j.op.rt
	switch {
	case j.seed != nil:
		exec := j.seed.Executor()
		if !rt.router.Live(exec) {
			next := rt.router.Next(Weight(j.seed.Class))
			if next < 0 {
				return -1
			}
			exec = j.seed.Move(exec, next)
		}
		return exec
	case first:
		return j.op.place(j)
	case j.op.keyOf != nil:
		set := rt.router.Eligible(j.op.weight)
		if len(set) == 0 {
			return -1
		}
		return rt.sticky.Repin(j.key, set, rt.router.Next(j.op.weight))
	}
	return rt.router.Next(j.op.weight)
}

// place picks the executor of a sticky or lead token and takes its pin or seed;
// -1 when no executor is live.
func (op *Op[A, R]) place(j *hookedJob[A, R]) int {
	rt := op.rt
	exec := rt.router.Next(op.weight)
	if exec < 0 {
		return -1
	}
	if op.keyOf != nil {
		j.key = op.keyOf(&j.arg)
		exec, j.pinned = rt.sticky.Place(j.key, rt.router.Eligible(op.weight), exec)
	}
	if op.lead {
		j.seed = rt.seeds.Lead(j.tok.task.ID(), op.calls, exec, int(op.weight)) // nil: unanchored
	}
	return exec
}

// job is a token with its op and argument: what a mailbox holds.
type job[A, R any] struct {
	tok Token[R]
	op  *Op[A, R]
	arg A
}

// hookedJob is a job with a hook: one placed by a seed or a sticky pin, or one
// that may be retried. Plain tokens do not carry these fields, so they stay one
// size class smaller.
type hookedJob[A, R any] struct {
	job[A, R]
	key    uint64       // sticky key, when pinned
	pinned bool         // holds an in-flight count on its key's pin
	seed   *anchor.Seed // the seed it belongs to (its own, for a lead), or nil
	tries  int          // retries so far; touched only by the executor running it
}

// Resolved releases the job's pin and seed once, at its outcome, and lets go of
// the argument, which a retry would have needed.
func (j *hookedJob[A, R]) Resolved(*actors.Task) {
	if j.pinned {
		j.op.rt.sticky.Release(j.key)
	}
	if j.seed != nil {
		j.seed.Leave()
	}
	var zero A
	j.arg = zero
}

// Anchor hands the job's seed to the tokens its handler submits.
func (j *hookedJob[A, R]) Anchor() any {
	if j.seed == nil {
		return nil // a nil *Seed in an interface would not compare equal to nil
	}
	return j.seed
}

// Retry allows the op's retries, doubling the backoff each time.
func (j *hookedJob[A, R]) Retry(actors.Outcome, error) (time.Duration, bool) {
	if j.tries >= j.op.retries {
		return 0, false
	}
	j.tries++
	d := j.op.backoff
	for k := 1; k < j.tries && d < MaxRetryBackoff; k++ {
		d *= 2
	}
	return min(d, MaxRetryBackoff), true
}

// Run runs the handler, keeping the argument for a retry.
func (j *hookedJob[A, R]) Run(ctx context.Context) error {
	r, err := j.op.fn(ctx, j.arg)
	j.tok.res = r
	return err
}

// replace returns the executor a job moved off a down executor goes to.
func (j *hookedJob[A, R]) replace() int { return j.target(false) }

// movable reports whether the job may leave a stalled executor: never for a
// hooked job, held there by a sticky pin or a seed, or retried (an earlier
// attempt's entry may still sit in the stalled executor's batch).
func (j *hookedJob[A, R]) movable() bool { return false }

func (j *job[A, R]) replace() int { return j.op.rt.router.Next(j.op.weight) }

func (j *job[A, R]) movable() bool { return true }

func (j *job[A, R]) Task() *actors.Task { return &j.tok.task }

func (j *job[A, R]) Run(ctx context.Context) error {
	r, err := j.op.fn(ctx, j.arg)
	j.tok.res = r
	var zero A
	j.arg = zero // the token may outlive the run; the argument need not
	return err
}
