package coregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
	"github.com/coregate/coregate/router"
	"github.com/coregate/coregate/supervisor"
)

// Affinity says how executors bind to their CPUs; the zero value is BestEffort.
type Affinity = actors.Affinity

const (
	BestEffort = actors.BestEffort // lock and pin; a failed pin is recorded, not fatal
	Strict     = actors.Strict     // lock and pin; a failed pin fails Start
	Off        = actors.Off        // neither lock nor pin (see the README on choosing)
)

// Mailbox and blocking bounds.
const (
	DefaultMailboxSize = 4096                     // Config.MailboxSize when 0
	MaxMailboxSize     = actors.MaxMailboxSize    // the largest Config.MailboxSize
	DefaultMaxBlocked  = actors.DefaultMaxBlocked // Config.MaxBlocked when 0
	DefaultIdleSpin    = actors.DefaultIdleSpin   // Config.IdleSpin when 0
	MaxIdleSpin        = actors.MaxIdleSpin       // the longest Config.IdleSpin
)

// Config configures a runtime. The zero value is valid: one executor per allowed
// CPU (up to GOMAXPROCS), best-effort pinning, a new hollywood engine.
type Config struct {
	// Cores is the number of executors; 0 means every allowed CPU. The count is
	// min(allowed CPUs, GOMAXPROCS, Cores). Fewer than 0 is an error, and so is
	// more than the allowed CPUs, except with Affinity Off: unpinned executors
	// are plain goroutines, so Cores of them run whatever the allowed CPUs and
	// GOMAXPROCS (for tests and comparisons on a smaller machine), up to
	// actors.MaxExecutors (16 Mi).
	Cores int
	// CPUs names the CPUs the executors run on, executor i on CPUs[i], so
	// that two runtimes in one process can be kept apart; nil means the
	// allowed CPUs in order (see Cores). Each must be allowed (an error names
	// the allowed ones) and appear once; with Cores set too, Cores must not
	// exceed len(CPUs) and the first Cores are used. GOMAXPROCS does not
	// limit their number. A non-nil empty slice is an error.
	CPUs []int
	// MailboxSize bounds each executor's queued tokens (with the retries
	// waiting out a backoff on it); 0 means DefaultMailboxSize, at most
	// MaxMailboxSize. Submit waits for room when a token's whole range is
	// full, a handler's Submit included. Mailboxes grow with use and give a
	// burst's memory back once drained.
	MailboxSize int
	// MaxBlocked bounds the runtime's handlers blocked at once in Wait or
	// waiting for room, whichever runtime's token or mailbox they wait on;
	// 0 means DefaultMaxBlocked. A blocked handler hands its executor to
	// a helper on the same CPU and holds a goroutine (and, pinned, an OS
	// thread: Go's limit is 10,000 threads, see debug.SetMaxThreads); past the
	// bound such a call fails with ErrTooManyBlocked (but for an Every's stop,
	// which has no error to return and hands on all the same). Valid: 0
	// to math.MaxInt32.
	MaxBlocked int
	// IdleSpin is how long an idle executor stays awake polling its mailbox
	// before it parks (its first fifth only spinning, then yielding its CPU
	// to any other thread between looks; time it gives its P to waiting
	// goroutines does not count): a token submitted to an awake executor
	// starts in well under a microsecond, while waking a parked pinned
	// thread costs tens of microseconds on a virtual machine. The price is
	// CPU: after its last token an executor burns up to IdleSpin of its
	// core. It also bounds the shorter polls of the runtime's waiters: a
	// Wait on one of its tokens polls up to 5 µs before it blocks (from
	// any goroutine but an executor's own, of any runtime, which hands its
	// executor on at once instead), and a sender that found a mailbox full
	// polls up to 50 µs for room. 0 means DefaultIdleSpin; negative means
	// park at once (no polling, no idle CPU); at most MaxIdleSpin. See the
	// README's Idle executors.
	IdleSpin time.Duration
	// Spinners bounds the executors in their idle poll at once; 0 (or more
	// than there are) means every executor; negative is an error. (It does
	// not bound the 2 µs an actor's turn may wait for its next message, nor
	// a sender polling for room.) A polling executor holds its P; past the
	// first fifth of its spin (at once after it woke a waiting goroutine) it
	// gives the P up when goroutines wait for one at two readings in a row
	// of the runnable count, one poller per 10 µs, and polls on once the
	// scheduler runs it again, so the program's own goroutines are not kept
	// from running. A bound leaves CPUs to a program that needs them even
	// between its goroutines' runs. The router sends a token whose
	// staggered executor sleeps to an awake one in its range.
	Spinners int
	// Affinity is the pinning mode; the zero value is BestEffort. Strict
	// makes a failed pin fail Start; Off neither locks nor pins.
	Affinity Affinity
	// Engine hosts the executor and router processes; nil means a new engine,
	// and one not made by actor.NewEngine (a zero Engine) is an error.
	Engine *actor.Engine
	// Name prefixes the PIDs (<Name>/exec/<i>, <Name>/router, <Name>/ops);
	// "" means "coregate". Two runtimes on one engine need different names
	// (Start refuses a name one of whose PIDs the engine has already, also
	// when two Starts race for it), and a
	// name has no '/' (Start says so): an actor's PID is
	// <Name>/actor/<actor name>, so runtimes "a" and "a/actor/b" would
	// give one PID to two actors. It is valid UTF-8, as every PID must be
	// to cross hollywood's remote transport.
	Name string
	// StickyCap bounds the sticky pin table; 0 means DefaultStickyCap, fewer
	// than 0 is an error. Past it, new keys are placed by rendezvous hashing
	// instead of getting a pin.
	StickyCap int
	// StickyTTL is how long a pin with nothing in flight is kept at least;
	// 0 means DefaultStickyTTL, negative is an error. Such pins are evicted
	// as a new key finds the table full (looked for at most once a quarter
	// of the TTL), so Stats.Pins stays at its peak until then.
	StickyTTL time.Duration
	// SeedCap bounds the live seeds; 0 means DefaultSeedCap, fewer than 0 is
	// an error. Past it, new leads run unanchored.
	SeedCap int
	// Restart is each executor's restart intensity: at most Restart.MaxRestarts
	// restarts within Restart.Window, with a doubling, jittered backoff between
	// them; past it the executor is down, its work moves to the others, and it
	// is tried again after a doubling cool-down. Only failures of the executor
	// itself count, never a handler's panic or runtime.Goexit. Zero fields mean
	// the defaults (10 restarts per 60 s, backoff from 10 ms up to 1 s,
	// cool-down from 1 s up to 1 min); negative ones are an error, but
	// MaxRestarts NoRestarts.
	Restart RestartPolicy
	// BlockingWorkers bounds the goroutines running the tokens of ops
	// defined WithBlocking at once; 0 means DefaultBlockingWorkers, fewer
	// than 0 is an error. They are plain goroutines, neither locked nor
	// pinned, started as work comes and gone once it is done. One whose
	// handler blocks in a wait (counted against MaxBlocked) does not count
	// meanwhile, so another may start in its place.
	BlockingWorkers int
	// StallAfter is how long one token, or one actor's turn (64 messages; a
	// turn that goes on past them, with nothing else waiting, counts as a new
	// one), may run before its executor is reported stalled
	// (ExecutorStalled) and gets no unpinned work until it ends.
	// 0 means DefaultStallAfter; a negative value turns the watchdog off.
	StallAfter time.Duration
}

// RestartPolicy is an executor's restart intensity, or an actor's
// ([WithRestartPolicy]); see [supervisor.Policy].
type RestartPolicy = supervisor.Policy

// NoRestarts, as RestartPolicy.MaxRestarts, allows no restart: an actor
// stops at its first failure, an executor goes down at its first (and is
// tried again after its cool-down).
const NoRestarts = supervisor.NoRestarts

// DefaultStallAfter is the stall threshold used when Config.StallAfter is 0.
const DefaultStallAfter = time.Second

// Defaults for the anchor tables.
const (
	DefaultStickyCap = 1 << 16     // Config.StickyCap when 0
	DefaultStickyTTL = time.Minute // Config.StickyTTL when 0
	DefaultSeedCap   = 1 << 16     // Config.SeedCap when 0
)

// ExecutorInfo describes one executor.
type ExecutorInfo struct {
	Index int // position in the runtime, 0-based
	// CPU is the CPU it is pinned to: Config.CPUs[Index], or else the
	// Index-th allowed CPU (modulo their number under Affinity Off, whose
	// Cores may exceed them).
	CPU      int
	PID      *actor.PID // hollywood PID, <Name>/exec/<Index>
	Pinned   bool       // its thread's affinity is exactly CPU
	PinError error      // why it is not pinned, under BestEffort
	// Health: Restarting while a replacement waits out its backoff, Stalled
	// while a token or an actor's turn runs past Config.StallAfter, Down once
	// past its restart policy (and its queue moved: Restarting meanwhile),
	// until its cool-down brings it back. Work sent to an executor seen Down
	// goes to a live one at once. Unpinned work avoids an executor with any
	// of them.
	Restarting, Stalled, Down bool
}

// pidUTF8 says why a name in a PID must be valid UTF-8.
const pidUTF8 = ": a PID's ID must be, or hollywood's remote transport drops what it sends to or from that PID"

// Counts are token counts, per executor or in total. Once Stop has returned
// nil, Submitted == Succeeded + Failed + Panicked + Cancelled + Stopped; when
// Stop reported handlers still running, they are counted as each returns.
type Counts = actors.Counts

// Stats is a snapshot of a runtime's counts. The zero value, what Stats
// returns for a nil *Runtime, counts nothing.
type Stats struct {
	Total     Counts   // the sum of Executors
	Executors []Counts // index i is executor i

	Pins            int    // live sticky pins
	PinsEvicted     uint64 // pins evicted after idling past StickyTTL (looked for as the table fills)
	KeysHashed      uint64 // sticky placements by hashing because the pin table was full
	Seeds           int    // live seeds
	SeedsReleased   uint64 // seeds whose lead and children all resolved (a lead refused at its submit too)
	LeadsUnanchored uint64 // leads run without a seed because the seed table was full
}

// Runtime is a set of pinned executors with a router in front of them. Create it
// with [Start]; all its methods are safe for concurrent use. The zero value is
// not usable: a nil or zero *Runtime answers every method with an error or a
// zero value, and Define, Spawn and the rest refuse it.
type Runtime struct {
	engine    *actor.Engine
	sup       *supervisor.Supervisor
	router    *router.Router
	execs     []*actors.Executor
	ids       atomic.Uint64
	registry  opRegistry
	sticky    *anchor.Sticky
	seeds     *anchor.Seeds
	room      *actors.Room
	name      string
	actors    actorRegistry
	delays    delays  // tokens waiting out SubmitAfter's delay
	pauses    pauses  // ops ever paused, whose held tokens Stop resolves
	lane      *lane   // the blocking lane of WithBlocking ops
	callbacks running // callbacks of tokens resolved off their runner (see WithOnFailure)
	everys    running // the loops of Every, whose last each Stop waits for
	gone      *gone   // its engine's answerer for processes gone (peers' only with Remote)

	stopping atomic.Bool
	stopped  chan struct{}
	stopErr  error
	// refused counts the messages queued to killed actors that were refused
	// while the runtime stopped (see Ref.closeCell), for Stop's report.
	refused atomic.Int64
	// giveUp is closed a grace after Stop's ctx ended: a kill's wait for
	// the actor's Stopped ends there (see Ref.runStopped).
	giveUp atomic.Pointer[chan struct{}]
}

// Start validates cfg, starts one executor per CPU and returns the runtime.
func Start(cfg Config) (*Runtime, error) {
	if !cfg.Affinity.Valid() { // first: the CPUs' bounds depend on it
		return nil, fmt.Errorf("coregate: Config.Affinity is %v, want BestEffort, Strict or Off", cfg.Affinity)
	}
	cpus, err := cfg.cpus()
	if err != nil {
		return nil, err
	}
	if cfg.MailboxSize < 0 || cfg.MailboxSize > MaxMailboxSize {
		return nil, fmt.Errorf("coregate: Config.MailboxSize is %d, must be 0 (default) to %d", cfg.MailboxSize, MaxMailboxSize)
	}
	if cfg.BlockingWorkers < 0 {
		return nil, fmt.Errorf("coregate: Config.BlockingWorkers is %d, must be 0 (default) or more", cfg.BlockingWorkers)
	}
	if cfg.BlockingWorkers == 0 {
		cfg.BlockingWorkers = DefaultBlockingWorkers
	}
	if cfg.MaxBlocked < 0 || cfg.MaxBlocked > math.MaxInt32 {
		return nil, fmt.Errorf("coregate: Config.MaxBlocked is %d, must be 0 (default) to %d", cfg.MaxBlocked, math.MaxInt32)
	}
	if cfg.IdleSpin > MaxIdleSpin {
		return nil, fmt.Errorf("coregate: Config.IdleSpin is %v, must be at most %v (negative: never poll)", cfg.IdleSpin, MaxIdleSpin)
	}
	if cfg.Spinners < 0 {
		return nil, fmt.Errorf("coregate: Config.Spinners is %d, must be 0 (default) or more", cfg.Spinners)
	}
	if cfg.IdleSpin == 0 {
		cfg.IdleSpin = DefaultIdleSpin
	}
	if cfg.MailboxSize == 0 {
		cfg.MailboxSize = DefaultMailboxSize
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"StickyCap", &cfg.StickyCap, DefaultStickyCap}, {"SeedCap", &cfg.SeedCap, DefaultSeedCap}} {
		if *f.v < 0 {
			return nil, fmt.Errorf("coregate: Config.%s is %d, must be 0 (default) or more", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if cfg.StickyTTL < 0 {
		return nil, fmt.Errorf("coregate: Config.StickyTTL is %v, must be 0 (default) or more", cfg.StickyTTL)
	}
	if cfg.StickyTTL == 0 {
		cfg.StickyTTL = DefaultStickyTTL
	}
	if cfg.Name == "" {
		cfg.Name = "coregate"
	}
	if strings.Contains(cfg.Name, "/") {
		return nil, fmt.Errorf("coregate: Config.Name %q has a '/': it would share its PIDs' prefix with another runtime's actors", cfg.Name)
	}
	if !utf8.ValidString(cfg.Name) {
		return nil, fmt.Errorf("coregate: Config.Name %q is not valid UTF-8%s", cfg.Name, pidUTF8)
	}
	switch {
	case cfg.Engine == nil:
		if cfg.Engine, err = actor.NewEngine(actor.NewEngineConfig()); err != nil {
			return nil, fmt.Errorf("coregate: starting engine: %w", err)
		}
	case cfg.Engine.Registry == nil:
		// A zero Engine has no registry to spawn the executors in.
		return nil, errors.New("coregate: Config.Engine is not made by actor.NewEngine")
	}
	if _, err := cfg.Restart.Resolve(); err != nil {
		return nil, err
	}
	switch {
	case cfg.StallAfter == 0:
		cfg.StallAfter = DefaultStallAfter
	case cfg.StallAfter < 0:
		cfg.StallAfter = 0 // off
	}
	rt := &Runtime{
		name:    cfg.Name,
		engine:  cfg.Engine,
		stopped: make(chan struct{}),
		sticky:  anchor.NewSticky(cfg.StickyCap, cfg.StickyTTL, nil),
		seeds:   anchor.NewSeeds(cfg.SeedCap),
		room:    actors.NewRoom(),
	}
	rt.lane = newLane(rt, cfg.BlockingWorkers, cfg.MailboxSize)
	// In dependency order: the executors (not running yet), the router over
	// them, then the supervisor, which starts them with its own hooks and the
	// router's.
	group, err := actors.NewGroup(actors.GroupConfig{
		Engine:      cfg.Engine,
		Name:        cfg.Name,
		CPUs:        cpus,
		MailboxSize: cfg.MailboxSize,
		MaxBlocked:  cfg.MaxBlocked,
		IdleSpin:    cfg.IdleSpin,
		Spinners:    cfg.Spinners,
		Answer:      func(to *actor.PID, err error) { rt.answer(to, nil, err) },
		Affinity:    cfg.Affinity,
		Room:        rt.room,
		Detached:    rt.lane,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (give each runtime on an engine its own Config.Name)", err)
	}
	if rt.router, err = router.New(group, cfg.Name, rt.room, rt.sticky, rt.seeds); err != nil {
		group.Release()
		group.Unregister()
		return nil, fmt.Errorf("%w (give each runtime on an engine its own Config.Name)", err)
	}
	// The ops process before the executors run, so that a Start refused
	// for its PID has nothing to stop; until Start returns it has no op to
	// run, and refuses every call.
	rt.gone = goneOf(rt.engine, rt.name) // before any of its processes refuses a message
	ops := newOpsProc(rt)
	if !actors.Claim(rt.engine, ops) {
		rt.router.Unregister()
		group.Release()
		group.Unregister()
		return nil, fmt.Errorf("coregate: PID %s/ops is already registered on this engine (give each runtime on an engine its own Config.Name)", cfg.Name)
	}
	rt.sup, err = supervisor.Start(supervisor.Config{
		Group:      group,
		Room:       rt.room,
		Restart:    cfg.Restart,
		StallAfter: cfg.StallAfter,
		Reroute:    rt.router,
	})
	if err != nil {
		rt.engine.Registry.Remove(ops.pid)
		rt.router.Unregister()
		return nil, err
	}
	rt.execs = group.Executors()
	return rt, nil
}

// cpus returns the CPUs the executors run on: the first count allowed CPUs.
// Unpinned executors (Affinity Off) are plain goroutines, so Cores of them
// run whatever the allowed CPUs and GOMAXPROCS: executor i is then
// attributed to allowed CPU i modulo their number.
func (cfg Config) cpus() ([]int, error) {
	allowed, err := actors.AllowedCPUs()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Cores < 0:
		return nil, fmt.Errorf("coregate: Config.Cores is %d, must be 0 (all allowed CPUs) or more", cfg.Cores)
	case cfg.CPUs != nil:
		return cfg.chosenCPUs(allowed)
	case cfg.Cores > len(allowed) && cfg.Affinity != Off: // pinned, the bound that matters
		return nil, fmt.Errorf("coregate: Config.Cores is %d but only %d CPUs are allowed: %v (Affinity Off allows more)", cfg.Cores, len(allowed), allowed)
	case cfg.Cores > actors.MaxExecutors:
		return nil, fmt.Errorf("coregate: Config.Cores is %d, at most %d", cfg.Cores, actors.MaxExecutors)
	case cfg.Cores > 0 && cfg.Affinity == Off:
		cpus := make([]int, cfg.Cores)
		for i := range cpus {
			cpus[i] = allowed[i%len(allowed)]
		}
		return cpus, nil
	}
	n := min(len(allowed), runtime.GOMAXPROCS(0))
	if cfg.Cores > 0 {
		n = min(n, cfg.Cores)
	}
	return allowed[:n], nil
}

// chosenCPUs checks Config.CPUs against the allowed CPUs.
func (cfg Config) chosenCPUs(allowed []int) ([]int, error) {
	if len(cfg.CPUs) == 0 {
		return nil, errors.New("coregate: Config.CPUs is empty; leave it nil for every allowed CPU")
	}
	if cfg.Cores > len(cfg.CPUs) {
		return nil, fmt.Errorf("coregate: Config.Cores is %d but Config.CPUs names %d CPUs", cfg.Cores, len(cfg.CPUs))
	}
	seen := make(map[int]bool, len(cfg.CPUs))
	for _, c := range cfg.CPUs {
		switch {
		case !slices.Contains(allowed, c):
			return nil, fmt.Errorf("coregate: Config.CPUs names CPU %d, which is not allowed; the allowed CPUs are %v", c, allowed)
		case seen[c]:
			return nil, fmt.Errorf("coregate: Config.CPUs names CPU %d twice", c)
		}
		seen[c] = true
	}
	cpus := slices.Clone(cfg.CPUs)
	if cfg.Cores > 0 {
		cpus = cpus[:cfg.Cores]
	}
	return cpus, nil
}

// Engine returns the hollywood engine hosting the runtime's processes; subscribe
// to its event stream to see the supervisor's events and dead letters. It
// is nil for a nil *Runtime or one not made by Start.
func (rt *Runtime) Engine() *actor.Engine {
	if rt.unusable() {
		return nil
	}
	return rt.engine
}

// RouterPID returns the router's PID; nil for a nil *Runtime or one not
// made by Start.
func (rt *Runtime) RouterPID() *actor.PID {
	if rt.unusable() {
		return nil
	}
	return rt.router.PID()
}

// unusable says rt is nil or was not made by Start.
func (rt *Runtime) unusable() bool { return rt == nil || rt.sup == nil }

// inHandler says the caller is one of the runtime's handlers or callbacks:
// an op's handler or an actor's turn on an executor, a blocking lane's
// worker, a done or failure callback, an Every's each.
func (rt *Runtime) inHandler() bool {
	return rt.sup.Group().InHandler() || rt.lane.InWorker() || rt.callbacks.in() || rt.everys.in()
}

// Executors describes the executors, index order; none for a nil *Runtime
// or one not made by Start.
func (rt *Runtime) Executors() []ExecutorInfo {
	if rt.unusable() {
		return nil
	}
	infos := make([]ExecutorInfo, len(rt.execs))
	for i, e := range rt.execs {
		pinned, pinErr := e.Pinned()
		h := e.Health()
		infos[i] = ExecutorInfo{
			Index: i, CPU: e.CPU(), PID: e.PID(), Pinned: pinned, PinError: pinErr,
			Restarting: h&actors.Restarting != 0, Stalled: h&actors.Stalled != 0, Down: h&actors.Down != 0,
		}
	}
	return infos
}

// Stats returns the runtime's counts; zero for a nil *Runtime or one not
// made by Start.
func (rt *Runtime) Stats() Stats {
	if rt.unusable() {
		return Stats{}
	}
	s := Stats{Executors: make([]Counts, len(rt.execs))}
	for i, e := range rt.execs {
		s.Executors[i] = e.Counts()
		s.Total.Add(s.Executors[i])
	}
	st, sd := rt.sticky.Stats(), rt.seeds.Stats()
	s.Pins, s.PinsEvicted, s.KeysHashed = st.Pins, st.Evicted, st.Hashed
	s.Seeds, s.SeedsReleased, s.LeadsUnanchored = sd.Live, sd.Released, sd.Unanchored
	return s
}

// Stop stops the runtime gracefully: Submit and Define return ErrStopped from
// now on, tokens waiting out [Op.SubmitAfter]'s delay or held by [Op.Pause]
// resolve with ErrStopped at once, the loops of [Op.Every] end, and the
// executors drain their queues, and the retries waiting out a backoff, until
// ctx ends. Actors stop behind the messages queued to them, a [ChildOf]
// child once its parent's Stopped returned and before the executors
// drain, so that the parent's Stopped may still ask a child on another
// executor. If ctx ends first, every token still queued is
// resolved with ErrStopped at once (so nothing waits on a token no executor
// will run), every retry waiting out a backoff with its last attempt's error,
// and the contexts of running handlers are cancelled and given
// [supervisor.DefaultGrace] to return. Stop then returns, even while a handler
// ignores its context: Go cannot kill it, and its goroutine (and pinned
// thread) exits when it returns. Before it returns it also waits, until ctx
// ends, for the callbacks running on goroutines of their own (for an
// actor's Stopped that no executor ran, the grace too) and for the
// loops of Every, whose each is called once more for a run under way: none
// of them runs after Stop returned nil. The router is unregistered; Stats gives the
// final counts, plus those of handlers still running as each returns.
//
// It returns nil when every accepted token reached its own outcome (the
// delayed and held ones apart: they resolve with ErrStopped whatever ctx
// does, as said above), else a [*supervisor.StopError] wrapping ctx's error
// and saying exactly what ctx cut short (queued tokens stopped, retries
// resolved, messages queued to actors and refused with ErrActorStopped,
// handlers and actors' Receives whose contexts were cancelled and that
// returned within the grace (StopError.Cancelled: each resolved with what
// it returned; so a nil from Stop means that it cancelled no handler),
// handlers still running by op, and actors whose Receive still
// runs: such an actor is stopped as it returns, and the messages left in its
// turn are refused with ErrActorStopped; an actor that a handler still
// running told on its own executor is named so too, since the messages wait
// in that handler's turn: they are refused as it returns, not counted in
// Refused). It is not nil either when an
// executor went down as the runtime drained and its queue, moved to
// executors that had drained already, was resolved with ErrStopped. Stop may be called more than once
// and from several goroutines: the first call stops the runtime and later
// ones wait for it (or for their own ctx) and return its result. Called from inside a handler, or from a
// callback ([WithOnDone], [WithOnFailure], an actor's Stopped, the each of
// [Op.Every]), it returns ErrStopFromHandler, since it would wait for its own
// goroutine. Called from a handler of another runtime, it hands that
// handler's executor on while it waits, as [Token.Wait] does (a handler it
// drains may wait on work queued there); past that runtime's
// [Config.MaxBlocked] it returns [ErrTooManyBlocked] and stops nothing
// (a runtime that stopped already returns its result at once, from
// anywhere).
// When ctx ends before those callbacks or loops return, its error
// says so (unless it already says what ctx cut short).
func (rt *Runtime) Stop(ctx context.Context) error {
	if rt.unusable() {
		return errors.New("coregate: Stop on a nil *Runtime or one not made by Start")
	}
	if ctx == nil {
		return ErrNilContext
	}
	if rt.inHandler() {
		return ErrStopFromHandler
	}
	select {
	case <-rt.stopped:
		return rt.stopErr // nothing to wait for: no hand-off, nothing counted
	default:
	}
	// From a handler of another runtime: its executor goes on meanwhile,
	// since a handler the drain waits for may wait on work queued there.
	resume, err := actors.Block()
	if err != nil {
		return err
	}
	defer resume()
	if rt.stopping.CompareAndSwap(false, true) {
		rt.delays.stop()
		rt.pauses.stop()
		// Actors stop behind the messages queued to them, drained with the
		// executors; those the drain did not reach stop at once after it.
		// A ChildOf child stops with its parent, after the parent's
		// Stopped, which may still ask it: the children stop before the
		// executors drain, since a child's executor may be another than
		// its parent's (a parent placed by weight follows hand-offs), and
		// with nothing queued it would drain and exit first.
		live := rt.actors.all()
		for _, n := range live {
			if n.parent == nil {
				n.h.stopWith(nil)
			}
		}
		childrenStopped(ctx, live)
		laneStopped, laneRetries, laneCancelled, laneRunning := rt.lane.stop(ctx)
		supErr := rt.sup.Stop(ctx)
		counted := 0 // of the group's cancelled handlers and turns, by the supervisor
		if se := (*supervisor.StopError)(nil); errors.As(supErr, &se) {
			counted = se.Cancelled
		}
		rt.stopErr = withLane(ctx, supErr, laneStopped, laneRetries, laneCancelled, laneRunning)
		rt.pauses.settle() // a Submit to a paused op still holding its token resolves it
		// A delayed or held token that the watch on its submitter's context
		// took before Stop could is resolved by that watch: not yet, maybe.
		rt.sup.Group().AwaitWatched()
		// A kill runs the actor's Stopped off the executors and waits for
		// it (its children stop after it) until ctx ends, then for the
		// grace a cancelled handler gets.
		giveUp := make(chan struct{})
		rt.giveUp.Store(&giveUp)
		defer context.AfterFunc(ctx, func() { time.AfterFunc(supervisor.DefaultGrace, func() { close(giveUp) }) })()
		var receiving []string // actors whose turn runs on past the drain
		for _, n := range rt.actors.all() {
			if !n.h.kill(ErrStopped) {
				receiving = append(receiving, "actor:"+n.h.name())
			}
		}
		// Messages queued to actors the drain did not reach, and to those
		// stranded on a down executor, refused by their kills.
		refused := int(rt.refused.Load())
		// An actor's Receive cancelled by the abort that returned after the
		// supervisor counted, before its kill: cut short all the same.
		late := rt.sup.Group().Cancelled() - counted
		rt.stopErr = cutShort(ctx, rt.stopErr, rt.router.Dropped(), 0, refused, late, receiving)
		if err := rt.callbacks.wait(ctx); err != nil && rt.stopErr == nil {
			rt.stopErr = fmt.Errorf("coregate: Stop: callbacks still running: %w", err)
		}
		if err := rt.everys.wait(ctx); err != nil && rt.stopErr == nil {
			rt.stopErr = fmt.Errorf("coregate: Stop: loops of Every still running: %w", err)
		}
		// The router's PID last: while it is registered, Start refuses
		// the name, so a runtime started with it finds every PID free.
		rt.engine.Registry.Remove(rt.OpsPID())
		rt.router.Unregister()
		close(rt.stopped)
		return rt.stopErr
	}
	select {
	case <-rt.stopped:
		return rt.stopErr
	case <-ctx.Done():
		select {
		case <-rt.stopped: // both ready by the time the caller ran: it stopped
			return rt.stopErr
		default:
			return ctx.Err()
		}
	}
}

// CurrentExecutor returns the index of the executor running the handler or
// actor whose context ctx is (or derives from); ok is false for a context no
// handler or actor was given. It reads ctx, not the calling goroutine: a
// handler's context kept after the handler returned, or passed to a
// goroutine it started, still answers the executor that ran the handler,
// and an actor's the executor the actor runs on ([PerCore.Get] refuses
// such a context: its goroutine does not run there).
func CurrentExecutor(ctx context.Context) (index int, ok bool) {
	if ctx == nil {
		return -1, false
	}
	if e := actors.ExecutorOf(ctx); e != nil {
		return e.Index(), true
	}
	return -1, false
}
