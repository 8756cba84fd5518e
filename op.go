package coregate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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

// Option configures an op at Define time, or an actor at Spawn time. A nil
// Option is an error, and so is one that does not apply to what it
// configures (each option says where it applies).
type Option func(*opConfig)

type opConfig struct {
	ops, actors []string // the options used that apply only to ops, or only to actors

	weight    Weight
	sticky    bool
	keyFn     any // func(A) uint64, checked by Define
	onDone    any // func(A, R), checked by Define
	onFailure any // func(A, error), checked by Define
	lead      bool
	calls     []string
	retries   int
	backoff   time.Duration

	onExec    int        // 1 + the executor an actor or op is pinned to, or 0
	onExecSet bool       // OnExecutor was given
	parent    *actorNode // ChildOf's parent, or nil
	restart   RestartPolicy
	mailbox   int

	blocking bool // WithBlocking
}

// WithWeight sets the weight class of an op or of an actor (placed by
// staggered selection in the class's range); the default is Heavy.
func WithWeight(w Weight) Option { return func(c *opConfig) { c.weight = w } }

// OnExecutor pins an actor, or every token of an op, to executor i, whatever
// the weight; Spawn and Define report an i out of range. A pinned op's
// tokens wait for room on that executor alone, join no lead's seed, and
// move elsewhere only while it is down; a pinned actor moved off a down
// executor stays where it went. It does not combine with WithBlocking, WithSticky,
// WithStickyKey or WithAnchor, nor, for an actor, with [ChildOf].
func OnExecutor(i int) Option {
	return func(c *opConfig) { c.onExec, c.onExecSet = i+1, true }
}

// ChildOf places an actor on the executor of the actor whose context c is,
// as it is when Spawn is called (the one it moved to if its own went down,
// even before it ran there; should that executor go down, each moves on
// its own and they may part), and stops it when that actor stops: the
// parent's Stopped runs first, while its children still run (so it may
// still ask them), and they are told to stop after it, the reverse of
// Akka's postStop and hollywood's Stopped, which come after the
// children's. Actors only; it does not combine with [OnExecutor].
func ChildOf(c *ActorContext) Option {
	return func(cfg *opConfig) {
		cfg.actors = append(cfg.actors, "ChildOf")
		if c != nil && c.node != nil {
			cfg.parent = c.node
		} else {
			cfg.parent = &actorNode{} // reported by Spawn
		}
	}
}

// WithRestartPolicy sets an actor's restart intensity: a panic or
// runtime.Goexit in Receive restarts it from its factory at most
// p.MaxRestarts times within p.Window; past that it stops. MaxRestarts
// [NoRestarts] stops it at its first failure. Zero fields mean the package
// defaults ([supervisor.DefaultMaxRestarts] in [supervisor.DefaultWindow]),
// not Config.Restart; an actor's restarts take no backoff, so only those two
// fields apply (a negative field, Backoff too, still makes Spawn fail, as
// for an executor's policy). A restart keeps the actor's [ChildOf] children running,
// with their names (Akka's default restart stops them): a Started that
// spawns them gets an error for each name taken, so keep what must outlive
// a restart, such as their Refs, outside the value (in the factory's
// closure, say). Actors only.
func WithRestartPolicy(p RestartPolicy) Option {
	return func(c *opConfig) { c.actors, c.restart = append(c.actors, "WithRestartPolicy"), p }
}

// WithMailbox bounds an actor's queued messages: 0 means
// [DefaultActorMailbox], at most [MaxMailboxSize], and a negative n makes
// Spawn fail. Tell and Ask wait for room beyond it, but for the actor's own,
// in its turn, which get [ErrMailboxFull] (see [Ref.Tell]). The bound
// counts the messages that wait for the actor's next turn, not its start
// (queued by Spawn); the turn's own batch, and what actors on the same
// executor queued without a lock, may each hold as many again. Actors only.
func WithMailbox(n int) Option {
	return func(c *opConfig) { c.actors, c.mailbox = append(c.actors, "WithMailbox"), n }
}

// WithSticky makes the op's tokens sticky: the key is the op name and the
// argument, and every token of a key goes to the executor the key's first token
// was placed on, while the pin lives (see package anchor). The argument must be
// made of strings, byte slices, booleans, integers and floats (structs and
// arrays of these included); for other types use [WithStickyKey]. Define
// reports an argument type that can be neither encoded nor keyed.
//
// A key keeps its tokens on one executor, not one at a time: while one of them
// blocks in [Token.Wait], its executor runs on, and so may the key's next
// token (tried: 100 deposits to one sticky account, each waiting on a child,
// ran interleaved). For state that must be touched by one message at a time,
// use an actor.
func WithSticky() Option {
	return func(c *opConfig) { c.ops, c.sticky = append(c.ops, "WithSticky"), true }
}

// WithStickyKey makes the op's tokens sticky with key(arg) as the key (mixed
// with the op name). key must be a non-nil func(A) uint64 for the op's
// argument type A; Define reports any other. key runs on the submitting
// goroutine at each Submit: a panic in it goes on to Submit's caller (and
// Add's, Map's and SubmitAll's) with no token accepted for that argument
// (SubmitAll's earlier ones stay queued); [Op.Every] and named actions
// answer it as a [*PanicError] instead, and a runtime.Goexit in it with
// an error wrapping [ErrGoexit] (they run key on a goroutine of its own,
// so that it ends no goroutine of theirs).
func WithStickyKey[A any](key func(A) uint64) Option {
	return func(c *opConfig) { c.ops, c.sticky, c.keyFn = append(c.ops, "WithStickyKey"), true, key }
}

// WithAnchor makes the op a lead that calls the named ops: each of its tokens
// gets a seed, and every token of a declared op submitted with the context its
// handler received (directly or through nested children of declared ops) runs
// on the lead's executor, whatever its own weight. A token of an op the lead
// did not declare, or of another runtime's op, is placed by its own rules,
// and so is one of a declared op that runs on the blocking lane
// ([WithBlocking]: its workers are on no executor). A lead submitted as a declared
// call of another lead joins that lead's seed instead of getting one, and
// the ops it declares join that seed too. The seed is released when the
// lead and all its children have resolved; a child submitted after that is
// placed as an ordinary token, since its lead's work is over and there is
// nothing left to stay near. The lead's Submit reports a declared name
// that no op of the runtime defines, until one does.
func WithAnchor(externalCalls ...string) Option {
	return func(c *opConfig) { c.ops, c.lead, c.calls = append(c.ops, "WithAnchor"), true, externalCalls }
}

// WithRetry makes the op's tokens retried: a run that fails (returns an error
// other than its cancelled context's, panics, or calls runtime.Goexit) is
// queued again at the tail of the executor that ran it (of its seed's or
// sticky pin's, when they moved off it meanwhile), up to retries more
// times, after backoff (doubled for each further retry, at most
// [MaxRetryBackoff]). Only the final attempt's outcome reaches the token, and
// the counts record one outcome per token. A cancelled token, or one whose
// submitter's context ended, is not retried; one waiting out a backoff
// when that happens resolves at once, with [ErrCancelled] or the
// context's error. A runtime's Stop waits for the
// retries waiting out a backoff as it drains; one still waiting when Stop's
// context ends resolves with its last attempt's error. Negative retries or
// backoff make Define fail.
//
// This makes delivery at-least-once for the op: a handler that failed after
// doing part of its work runs again, so use it for idempotent work only.
// Exactly-once is not offered.
func WithRetry(retries int, backoff time.Duration) Option {
	return func(c *opConfig) { c.ops, c.retries, c.backoff = append(c.ops, "WithRetry"), retries, backoff }
}

// MaxRetryBackoff caps the doubling backoff between retries.
const MaxRetryBackoff = time.Minute

// Op is a defined operation: a named handler and its placement options. Submit
// its tokens with [Op.Submit]. Its zero value is not usable; ops come from
// [Define]. A nil *Op, or one not made by Define, answers every method with
// ErrNilOp or a zero value.
type Op[A, R any] struct {
	rt        *Runtime
	info      actors.Op // the op's name, shared by its tokens for reports
	fn        func(context.Context, A) (R, error)
	rule      router.Rule
	keyOf     func(*A) uint64     // nil unless sticky
	userKey   bool                // keyOf runs the user's code (WithStickyKey)
	declared  map[string]struct{} // a lead's external calls: the ops whose tokens join its seed
	checked   atomic.Bool         // a lead's declared calls were all found defined
	hooked    bool                // its tokens carry a hook: keyed, a lead, retried, pinned or called back
	keepArg   bool                // a run keeps the argument: for a retry or a callback
	retries   int
	callbacks callbacks[A, R] // WithOnDone, WithOnFailure
	backoff   time.Duration
	pause     pause // holds its tokens while paused
	lane      *lane // the blocking lane (WithBlocking), or nil
	near      int   // 1 + the executor every token goes to (OnExecutor), or 0
}

// opRegistry holds a runtime's ops by name.
type opRegistry struct {
	mu    sync.Mutex
	names map[string]opCaller
}

func (r *opRegistry) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.names[name]
	return ok
}

func (r *opRegistry) add(name string, op opCaller) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.names[name]; dup {
		return fmt.Errorf("%w: op %q is already defined", ErrNameTaken, name)
	}
	if r.names == nil {
		r.names = make(map[string]opCaller)
	}
	r.names[name] = op
	return nil
}

// Define defines an op named name on rt, run by fn. Names are unique per
// runtime. It returns an error for a nil runtime or one not made by [Start],
// a stopped runtime ([ErrStopped]), an empty name, one not valid UTF-8, or one an op has
// ([ErrNameTaken]), a nil fn, a nil option, or options that do not fit the
// op (see each option).
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
	if !utf8.ValidString(name) {
		return nil, fmt.Errorf("coregate: op name %q is not valid UTF-8: a call names its op in a protobuf string, which must be", name)
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
	if len(cfg.actors) > 0 {
		return nil, fmt.Errorf("coregate: op %q: %s applies to actors, not ops", name, cfg.actors[0])
	}
	if !cfg.weight.Valid() {
		return nil, fmt.Errorf("coregate: op %q has unknown weight %v (want Heavy, Medium or Light)", name, cfg.weight)
	}
	if cfg.blocking && (cfg.sticky || cfg.lead) {
		return nil, fmt.Errorf("coregate: op %q: WithBlocking does not combine with WithSticky, WithStickyKey or WithAnchor", name)
	}
	if cfg.onExecSet {
		switch {
		case cfg.onExec <= 0 || cfg.onExec > len(rt.execs):
			return nil, fmt.Errorf("coregate: op %q: OnExecutor(%d) is out of range: the runtime has %d executors", name, cfg.onExec-1, len(rt.execs))
		case cfg.blocking || cfg.sticky || cfg.lead:
			return nil, fmt.Errorf("coregate: op %q: OnExecutor does not combine with WithBlocking, WithSticky, WithStickyKey or WithAnchor", name)
		}
	}
	if cfg.retries < 0 || cfg.backoff < 0 {
		return nil, fmt.Errorf("coregate: op %q: WithRetry(%d, %v): retries and backoff must not be negative", name, cfg.retries, cfg.backoff)
	}
	op := &Op[A, R]{
		rt: rt, info: actors.Op{Name: name}, fn: fn,
		rule:    router.Rule{Weight: cfg.weight, Lead: cfg.lead},
		retries: cfg.retries, backoff: cfg.backoff,
	}
	if cfg.blocking {
		op.lane = rt.lane
	}
	if err := op.configureAnchors(cfg); err != nil {
		return nil, err
	}
	if err := op.configureCallbacks(cfg); err != nil {
		return nil, err
	}
	op.rule.Keyed = op.keyOf != nil
	op.rule.Retry = op.retries > 0
	op.near = cfg.onExec
	op.pause.info, op.info.Hold = &op.info, op.holdTaken
	op.hooked = op.rule.Keyed || op.rule.Lead || op.retries > 0 || op.near > 0 || op.callbacks.set()
	op.keepArg = op.retries > 0 || op.callbacks.set()
	if err := rt.registry.add(name, op); err != nil {
		return nil, err
	}
	return op, nil
}

func (op *Op[A, R]) configureAnchors(cfg opConfig) error {
	switch {
	case cfg.keyFn != nil:
		key, ok := cfg.keyFn.(func(A) uint64)
		if !ok {
			return fmt.Errorf("coregate: op %q: WithStickyKey got a %T, want a func(%v) uint64", op.info.Name, cfg.keyFn, reflect.TypeFor[A]())
		}
		if key == nil { // a typed nil: cfg.keyFn itself is not nil
			return fmt.Errorf("coregate: op %q: WithStickyKey got a nil key function", op.info.Name)
		}
		opHash := xxhash.Sum64String(op.info.Name)
		op.keyOf = func(a *A) uint64 { return anchor.MixKey(opHash, key(*a)) }
		op.userKey = true
	case cfg.sticky:
		keyer, err := anchor.NewKeyer[A]()
		if err != nil {
			return fmt.Errorf("coregate: op %q: WithSticky: %w", op.info.Name, err)
		}
		op.keyOf = func(a *A) uint64 { return keyer.Key(op.info.Name, a) }
	}
	for _, c := range cfg.calls {
		if c == "" {
			return fmt.Errorf("coregate: op %q: WithAnchor has an empty call name", op.info.Name)
		}
	}
	if cfg.lead {
		op.rule.Calls = anchor.CallsEncoding(cfg.calls)
		op.declared = make(map[string]struct{}, len(cfg.calls))
		for _, c := range cfg.calls {
			op.declared[c] = struct{}{}
		}
	}
	return nil
}

// Name returns the op's name; "" for a nil op.
func (op *Op[A, R]) Name() string {
	if op == nil {
		return ""
	}
	return op.info.Name
}

// Weight returns the op's weight class; Heavy for a nil op.
func (op *Op[A, R]) Weight() Weight {
	if op == nil {
		return Heavy
	}
	return op.rule.Weight
}

// Submit places a token for fn(ctx', arg) on an executor and returns it at once;
// [Token.Wait] gives the result. ctx is the token's parent: the handler's context
// carries ctx's values and is cancelled when ctx ends, and a token whose ctx ended
// before it started resolves with ctx's error without running. When every
// executor in the op's range is full, Submit waits for room until ctx ends and
// then returns ctx's error; a ctx already done is returned at once, with no
// token. After Stop it returns [ErrStopped], and [ErrNoExecutor] while every
// executor of the runtime is down. A nil op gives [ErrNilOp], a nil ctx
// [ErrNilContext]. A lead's Submit reports a declared external call that
// no op of the runtime defines, until one does.
//
// Submit allocates once: the token.
func (op *Op[A, R]) Submit(ctx context.Context, arg A) (*Token[R], error) {
	return op.submitWith(ctx, arg, router.How{}, nil)
}

// submitCaught is Submit with a panic in the op's own code that runs as
// the token is submitted (its WithStickyKey function) returned as a
// *PanicError, for the runtime's own submitters (Every's loop, the ops
// process on its sender's goroutine, a remote transport's), where no
// caller could recover it.
//
// A runtime.Goexit in the key function would end that goroutine, which no
// recover stops (a remote transport's reader: its connection dropped with
// what it carried, and hollywood's remote Stop waiting for it for good),
// so the key is made on a goroutine of its own, and a Goexit there fails
// the submit with an error wrapping ErrGoexit.
func (op *Op[A, R]) submitCaught(ctx context.Context, arg A) (tok *Token[R], err error) {
	defer func() {
		if p := recover(); p != nil {
			tok, err = nil, &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	if op.userKey {
		key, err := op.keyApart(arg)
		if err != nil {
			return nil, err
		}
		return op.submitKeyed(ctx, arg, router.How{}, nil, func(*A) uint64 { return key })
	}
	return op.Submit(ctx, arg)
}

// keyApart returns arg's key, made on a goroutine of its own (see
// submitCaught): a panic there is a *PanicError, a runtime.Goexit an
// error wrapping ErrGoexit.
func (op *Op[A, R]) keyApart(arg A) (key uint64, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		returned := false
		defer func() {
			if returned {
				return
			}
			if p := recover(); p != nil {
				err = &PanicError{Value: p, Stack: debug.Stack()}
				return
			}
			// Unwinding with nothing to recover: a Goexit.
			err = fmt.Errorf("%w in the WithStickyKey function of op %q", ErrGoexit, op.info.Name)
		}()
		key = op.keyOf(&arg)
		returned = true
	}()
	<-done
	return key, err
}

// submitWith is Submit queueing as how says, with w (when not nil) told of
// the token's outcome.
func (op *Op[A, R]) submitWith(ctx context.Context, arg A, how router.How, w watcher) (*Token[R], error) {
	return op.submitKeyed(ctx, arg, how, w, nil)
}

// submitKeyed is submitWith with keyOf, when not nil, giving the token's
// sticky key in op.keyOf's place (one made already).
func (op *Op[A, R]) submitKeyed(ctx context.Context, arg A, how router.How, w watcher, keyOf func(*A) uint64) (*Token[R], error) {
	if err := op.admit(ctx); err != nil {
		return nil, err
	}
	h := op.prepare(ctx, arg, w, keyOf)
	if h == nil {
		j := &job[A, R]{op: op, arg: arg}
		return op.submit(ctx, j, j, nil, nil, how)
	}
	return op.submit(ctx, &h.job, h, h, &h.ticket, how)
}

// unusable says op is nil or was not made by Define.
func (op *Op[A, R]) unusable() bool { return op == nil || op.rt == nil }

// admit says why a token of op may not be submitted with ctx now, or nil.
func (op *Op[A, R]) admit(ctx context.Context) error {
	if op.unusable() {
		return ErrNilOp
	}
	if ctx == nil {
		return ErrNilContext
	}
	if op.rt.stopping.Load() {
		return ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if op.rule.Lead && !op.checked.Load() {
		return op.checkCalls()
	}
	return nil
}

// prepare returns the hooked job for a token of arg submitted with ctx, or
// nil when a plain job will do: no seed, no actor nearby, no sticky key,
// lead, retry or watcher. keyOf, when not nil, gives the key of a sticky
// op in op.keyOf's place (one made already).
func (op *Op[A, R]) prepare(ctx context.Context, arg A, w watcher, keyOf func(*A) uint64) *hookedJob[A, R] {
	var h *hookedJob[A, R]
	if op.keyOf != nil {
		// The key first: a key function that panics has joined no seed.
		h = &hookedJob[A, R]{job: job[A, R]{op: op, arg: arg}}
		if keyOf == nil {
			keyOf = op.keyOf
		}
		h.ticket.Key = keyOf(&h.arg)
	}
	// The seed of the lead whose context this is comes first, when the lead
	// declared this op among its external calls.
	// An actor's context keeps its tokens near it.
	var seed *anchor.Seed
	var declared map[string]struct{}
	near := 0
	if l := leaderOf(ctx, op.rt); l != nil && op.lane == nil && op.near == 0 {
		seed, declared = l.join(op.info.Name)
		near = l.near()
	}
	if op.near > 0 {
		near = op.near
	}
	if h == nil {
		if seed == nil && near == 0 && !op.hooked && w == nil {
			return nil
		}
		h = &hookedJob[A, R]{job: job[A, R]{op: op, arg: arg}}
	}
	h.declared, h.watch = declared, w
	h.ticket.Seed, h.ticket.Near = seed, near
	switch {
	case seed == nil && op.rule.Lead:
		h.declared = op.declared
	case seed != nil && op.rule.Lead:
		// A lead that joined another's seed: the ops it declares join that
		// seed too, so they run on its executor as its lead's calls do.
		h.declared = nestedCalls(declared, op.declared)
	}
	return h
}

// nestedCalls returns the calls a lead that joined the seed of a lead
// declaring outer passes on: outer and its own calls (outer itself when it
// has them all).
func nestedCalls(outer, own map[string]struct{}) map[string]struct{} {
	for c := range own {
		if _, ok := outer[c]; !ok {
			all := maps.Clone(outer)
			maps.Copy(all, own)
			return all
		}
	}
	return outer
}

// submit starts j's token and has the router place it (as, with hook and
// ticket tk: both nil for a plain token).
func (op *Op[A, R]) submit(ctx context.Context, j *job[A, R], as actors.Job, hook actors.Hook, tk *router.Ticket, how router.How) (*Token[R], error) {
	j.tok.task.Init(ctx, op.rt.ids.Add(1), &op.info, hook)
	// A token of a paused op is pushed parked: an awake executor takes a
	// push within nanoseconds, before the token could be parked after it.
	parked := op.info.Paused() && j.tok.task.Park()
	if parked {
		op.rt.pauses.park() // Stop waits until the token is held or resolved
		defer op.rt.pauses.parked()
	}
	if err := op.place(ctx, tk, as, how); err != nil {
		if errors.Is(err, actors.ErrFull) {
			return nil, fmt.Errorf("%w (op %q)", err, op.info.Name)
		}
		return nil, err
	}
	if parked {
		op.pause.holdParked(as, op.deliver)
	} else {
		op.pause.hold(as) // after the push: a Pause scanning meanwhile may have missed it
	}
	return &j.tok, nil
}

// place queues a started token: on the blocking lane, or where the router
// places it.
func (op *Op[A, R]) place(ctx context.Context, tk *router.Ticket, as actors.Job, how router.How) error {
	if op.lane != nil {
		return op.lane.submit(ctx, &op.rule, as, how)
	}
	return op.rt.router.SubmitHow(ctx, &op.rule, tk, as, how)
}

// deliver queues a token of op accepted before and held meanwhile (delayed
// or paused) again.
func (op *Op[A, R]) deliver(j actors.Job) {
	if op.lane != nil {
		op.lane.deliver(j)
		return
	}
	op.rt.deliver(j)
}

// queued returns the jobs of op's tokens that wait to run: queued, and when
// retrying is true waiting out a retry backoff too; except, when not nil,
// leaves out the queued jobs for which it is true (see
// [actors.Group.QueuedOf]).
func (op *Op[A, R]) queued(retrying bool, except func(actors.Job) bool) []actors.Job {
	js := op.rt.sup.Group().QueuedOf(&op.info, retrying, except)
	if op.lane != nil {
		js = append(js, op.lane.queuedOf(&op.info, retrying, except)...)
	}
	return js
}

// dropRetry forgets the retry t, resolved, may be waiting out a backoff for.
func (op *Op[A, R]) dropRetry(t *actors.Task) {
	if op.lane != nil {
		op.lane.dropRetry(t)
		return
	}
	op.rt.sup.Group().DropRetry(t)
}

// checkCalls reports a lead's declared external call that no op of the
// runtime defines; once all are, it is not asked again.
func (op *Op[A, R]) checkCalls() error {
	for _, c := range slices.Sorted(maps.Keys(op.declared)) {
		if !op.rt.registry.has(c) {
			return fmt.Errorf("coregate: op %q: WithAnchor declares %q, which no op of this runtime defines", op.info.Name, c)
		}
	}
	op.checked.Store(true)
	return nil
}

// leader is what a handler's context carries under actors.AnchorKey when
// its token belongs to a seed: join hands the seed to a token of op name,
// with the lead's declared calls to pass on, when the lead declared name
// and the seed is still live. Both name executors of its own runtime: a
// token of another runtime's op ignores it (see leaderOf).
type leader interface {
	join(name string) (*anchor.Seed, map[string]struct{})
	near() int // 1 + the executor to stay on (an actor's), or 0
	runtime() *Runtime
}

// leaderOf returns the leader ctx carries for a token of rt, or nil: one
// of another runtime (a handler of runtime B submitting to an op of A with
// its context) names B's executors and seeds, nothing of A's.
func leaderOf(ctx context.Context, rt *Runtime) leader {
	if l, ok := ctx.Value(actors.AnchorKey{}).(leader); ok && l.runtime() == rt {
		return l
	}
	return nil
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
	ticket   router.Ticket
	declared map[string]struct{} // the ops that join its seed (its lead's declared calls)
	// tries counts its retries so far. Written only by the goroutine running
	// it, but read by any taker of a stale entry of it (a Pause's Hold): atomic.
	tries  atomic.Int64
	watch  watcher       // told of its outcome (its group's, Map's), or nil
	runner atomic.Uint64 // the goroutine that ran its handler last (with callbacks only)
	actors.HookBase
}

func (j *job[A, R]) Task() *actors.Task { return &j.tok.task }

// Run runs the handler and keeps its result; the argument is kept only for a
// retry.
func (j *job[A, R]) Run(ctx context.Context) error {
	r, err := j.op.fn(ctx, j.arg)
	j.tok.res = r
	if !j.op.keepArg {
		var zero A
		j.arg = zero // the token may outlive the run; the argument need not
	}
	return err
}

// Run runs the handler as a plain job's does, noting the goroutine that
// runs it when the op has callbacks (see callBack), and for its group (see
// Group.Wait).
func (j *hookedJob[A, R]) Run(ctx context.Context) error {
	if j.op.callbacks.set() {
		j.runner.Store(actors.GoID())
	}
	if g, ok := j.watch.(*Group); ok {
		id := actors.GoID()
		g.enter(id)
		defer g.leave(id)
	}
	return j.job.Run(ctx)
}

// Placement is a plain token's: its op's rule, no ticket.
func (j *job[A, R]) Placement() (*router.Rule, *router.Ticket) { return &j.op.rule, nil }

// Placement is the op's rule and the token's ticket.
func (j *hookedJob[A, R]) Placement() (*router.Rule, *router.Ticket) {
	return &j.op.rule, &j.ticket
}

// Resolved gives back the job's pin and seed once, at its outcome, lets go
// of the argument, which a retry or a callback would have needed, tells its
// watcher and calls its op's callback.
func (j *hookedJob[A, R]) Resolved(t *actors.Task) {
	if hookResolving != nil {
		hookResolving(t)
	}
	if j.tries.Load() > 0 { // resolved while waiting out a backoff (cancelled): its timer need not hold Stop up
		j.op.dropRetry(t)
	}
	j.op.rt.router.Release(&j.ticket)
	arg := j.arg
	var zero A
	j.arg = zero
	if j.watch != nil {
		j.watch.resolved(t)
	}
	if j.op.callbacks.set() { // last: a callback may end the goroutine
		j.callBack(t, arg)
	}
}

// hookResolving, when a test sets it, runs as a hooked token resolves,
// once its outcome is decided and before its hook tells anyone.
var hookResolving func(*actors.Task)

// Settled tells the watcher the token's waiters were woken.
func (j *hookedJob[A, R]) Settled(t *actors.Task) {
	if j.watch != nil {
		j.watch.settled(t)
	}
}

// Anchor hands the job, as a leader, to the tokens its handler submits when
// it belongs to a seed.
func (j *hookedJob[A, R]) Anchor() any {
	if j.ticket.Seed == nil {
		return nil // a nil *hookedJob in an interface would not compare equal to nil
	}
	return j
}

func (j *hookedJob[A, R]) near() int { return j.ticket.Near }

func (j *hookedJob[A, R]) runtime() *Runtime { return j.op.rt }

func (j *hookedJob[A, R]) join(name string) (*anchor.Seed, map[string]struct{}) {
	if _, ok := j.declared[name]; !ok || !j.ticket.Seed.Join() {
		return nil, nil // not a declared call, or the lead's work is over
	}
	return j.ticket.Seed, j.declared
}

// Retry allows the op's retries, doubling the backoff each time.
func (j *hookedJob[A, R]) Retry(actors.Outcome, error) (time.Duration, bool) {
	tries := int(j.tries.Load())
	if tries >= j.op.retries {
		return 0, false
	}
	tries++
	j.tries.Store(int64(tries))
	if j.op.callbacks.set() {
		// Its runner is no longer its resolver: the goroutine may end, and
		// its identity (a g's address) go to one that holds a lock.
		j.runner.Store(0)
	}
	// A zero backoff stays zero: doubling it once per try so far would
	// cost an op retried without end time quadratic in its failures.
	d := j.op.backoff
	for k := 1; k < tries && d > 0 && d < MaxRetryBackoff; k++ {
		d *= 2
	}
	if retryAsked != nil {
		retryAsked()
	}
	return min(d, MaxRetryBackoff), true
}

// retryAsked, when a test sets it, runs on a failed attempt's runner as
// the token's hook has allowed another attempt, before the token is queued
// again.
var retryAsked func()

// Kept makes the goroutine that ran the token's failed attempt its
// resolver again, which Retry let go of: a Cancel came as the token was
// queued again, and that goroutine resolves it with the attempt's outcome,
// so the callback runs there before the waiters wake.
func (j *hookedJob[A, R]) Kept(*actors.Task) {
	if j.op.callbacks.set() {
		j.runner.Store(actors.GoID())
	}
}

// actorOptions applies opts for an actor named name and checks they apply.
func actorOptions(name string, opts []Option) (opConfig, error) {
	var cfg opConfig
	for i, opt := range opts {
		if opt == nil {
			return cfg, fmt.Errorf("coregate: actor %q: option %d is nil", name, i+1)
		}
		opt(&cfg)
	}
	switch {
	case len(cfg.ops) > 0:
		return cfg, fmt.Errorf("coregate: actor %q: %s applies to ops, not actors", name, cfg.ops[0])
	case !cfg.weight.Valid():
		return cfg, fmt.Errorf("coregate: actor %q has unknown weight %v (want Heavy, Medium or Light)", name, cfg.weight)
	case cfg.parent != nil && cfg.parent.exec.Load() == 0:
		return cfg, fmt.Errorf("coregate: actor %q: ChildOf needs the context a parent actor received", name)
	case cfg.parent != nil && cfg.onExecSet:
		return cfg, fmt.Errorf("coregate: actor %q: ChildOf and OnExecutor do not combine: a child runs on its parent's executor", name)
	case cfg.mailbox < 0 || cfg.mailbox > MaxMailboxSize:
		return cfg, fmt.Errorf("coregate: actor %q: WithMailbox(%d) must be 0 (default) to %d", name, cfg.mailbox, MaxMailboxSize)
	}
	return cfg, nil
}
