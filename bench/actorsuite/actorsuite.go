// Package actorsuite is the system-neutral half of the actor benchmark suite
// that `go run ./bench -suite actors` runs: the Savina workloads (Imam and
// Sarkar, 2014) scaled down, their parameters, what each must compute, and
// the harness that times one workload on one actor system and checks its
// answer before the time counts.
//
// It imports no actor library. Each system (coregate, hollywood, protoactor)
// implements every workload as a [Func] in a [System], the way a user of that
// library would write it, and runs it with [Run] in its own child process:
// hollywood and protoactor cannot be linked into one binary (both register
// the protobuf file actor.proto), and a process per measurement keeps one
// system's garbage out of another's timings. [ServeChild] is the child's side
// of that protocol; the parent (package main of the bench) starts children,
// reads their [Result] and prints the tables.
//
// The workloads (Case names as the tables and -json show them):
//
//   - pingpong/one-core, pingpong/cross-core: two actors bounce a counter,
//     Params.Rounds round trips (2 messages each); p50 is the round trip. One
//     core: the child runs with GOMAXPROCS=1 (coregate: both actors on its one
//     executor). Cross-core: GOMAXPROCS=2 (coregate: the actors on executors
//     0 and 1; the others: wherever the Go scheduler puts them).
//   - counting: one sender (the child's main goroutine) tells one actor
//     Params.Count increments, then asks it for the count.
//   - ask: the child's main goroutine, outside any actor, makes Params.Asks
//     blocking request/reply round trips to one actor, one at a time: it
//     sends i and waits for the reply, which must be i+1 ([CheckAsk]). The
//     rate counts round trips; p50 is the round trip. Each system's own
//     blocking request: coregate Ask then Wait, hollywood
//     Request(...).Result(), protoactor RequestFuture(...).Result().
//   - threadring: a token goes Params.RingHops hops around a ring of
//     Params.RingActors actors.
//   - forkjoin-throughput: Params.FJActors actors each receive
//     Params.FJMessages messages, sent round robin from one sender.
//   - forkjoin-creation: Params.Creations actors are created, each gets one
//     message and reports back; the rate is actors per second.
//   - big: Params.BigActors actors each send Params.BigPings pings, one at a
//     time, to random other actors (a seeded sequence per actor), each ping
//     answered by a pong.
//   - chameneos: Params.Creatures creatures meet through one mall actor until
//     Params.Meetings meetings took place (4 messages a meeting); the rate is
//     meetings per second.
//   - bank: a teller actor sends Params.Transactions seeded transfers between
//     Params.Accounts account actors (debit, then credit, then done to the
//     teller), then every balance is asked for and checked; the rate is
//     transactions per second.
//
// A case's actors report when their last expected message arrives, and
// the measured part ends there. After it, every case but counting (which
// ends on such a request) and ask (which checks every reply) asks each of
// its actors, through its mailbox and once every sender to it is done, what
// it received, and checks the answers ([CheckRingAfter],
// [CheckForkJoinAfter] and the like): a message delivered twice after its
// actor reported fails the check too.
package actorsuite

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"
)

// Case names: a workload, and for pingpong its placement.
const (
	PingPongOneCore   = "pingpong/one-core"
	PingPongCrossCore = "pingpong/cross-core"
	Counting          = "counting"
	Ask               = "ask"
	ThreadRing        = "threadring"
	ForkJoinThrough   = "forkjoin-throughput"
	ForkJoinCreation  = "forkjoin-creation"
	Big               = "big"
	Chameneos         = "chameneos"
	Bank              = "bank"
)

// Cases lists every case in the order tables show them.
var Cases = []string{
	PingPongOneCore, PingPongCrossCore, Counting, Ask, ThreadRing,
	ForkJoinThrough, ForkJoinCreation, Big, Chameneos, Bank,
}

// Unit names what a case's rate counts.
func Unit(c string) string {
	switch c {
	case ForkJoinCreation:
		return "actors/s"
	case Chameneos:
		return "meetings/s"
	case Bank:
		return "txns/s"
	}
	return "msgs/s"
}

// Params sizes every workload; one value serves all cases.
type Params struct {
	Case         string        `json:"case"`
	Rounds       int           `json:"rounds"`      // pingpong round trips
	Count        int           `json:"count"`       // counting messages
	Asks         int           `json:"asks"`        // ask round trips
	RingActors   int           `json:"ring_actors"` // threadring
	RingHops     int           `json:"ring_hops"`
	FJActors     int           `json:"fj_actors"` // forkjoin-throughput
	FJMessages   int           `json:"fj_messages"`
	Creations    int           `json:"creations"`  // forkjoin-creation
	BigActors    int           `json:"big_actors"` // big
	BigPings     int           `json:"big_pings"`
	Creatures    int           `json:"creatures"` // chameneos
	Meetings     int           `json:"meetings"`
	Accounts     int           `json:"accounts"` // bank
	Transactions int           `json:"transactions"`
	Seed         uint64        `json:"seed"`    // big's targets, bank's transfers
	Timeout      time.Duration `json:"timeout"` // the longest wait for an answer
}

// Defaults returns sizes near Savina's, each measurement a fraction of a
// second to a few seconds on 2 CPUs; quick ones are smaller, so the
// quick suite (3 repetitions) takes well under a minute there.
func Defaults(quick bool) Params {
	if quick {
		return Params{
			Rounds: 40_000, Count: 2_000_000, Asks: 100_000, RingActors: 100, RingHops: 100_000,
			FJActors: 60, FJMessages: 20_000, Creations: 40_000,
			BigActors: 120, BigPings: 4_000, Creatures: 100, Meetings: 200_000,
			Accounts: 1_000, Transactions: 100_000, Seed: 1, Timeout: time.Minute,
		}
	}
	return Params{
		Rounds: 100_000, Count: 5_000_000, Asks: 300_000, RingActors: 100, RingHops: 300_000,
		FJActors: 60, FJMessages: 50_000, Creations: 100_000,
		BigActors: 120, BigPings: 10_000, Creatures: 100, Meetings: 1_000_000,
		Accounts: 1_000, Transactions: 300_000, Seed: 1, Timeout: 2 * time.Minute,
	}
}

// Tiny returns sizes small enough for every case on every system in a test,
// also under the race detector.
func Tiny() Params {
	return Params{
		Rounds: 50, Count: 500, Asks: 50, RingActors: 7, RingHops: 100,
		FJActors: 5, FJMessages: 40, Creations: 50,
		BigActors: 6, BigPings: 10, Creatures: 5, Meetings: 60,
		Accounts: 8, Transactions: 100, Seed: 1, Timeout: time.Minute,
	}
}

// Upper bounds of the sizes, far above the defaults, so that a slip of the
// finger is an error rather than a crash for want of memory: at each bound
// a case holds a few GiB at most.
const (
	maxActors   = 1_000_000      // actors alive at once
	maxHeld     = 100_000_000    // messages a case may hold at once: pingpong's and ask's samples, counting's queue (hollywood's inbox is unbounded), bank's transfers
	maxMessages = 1_000_000_000  // messages that pass one at a time
	maxTimeout  = 24 * time.Hour // the parent gives a child 3x as long: no overflow
)

// Validate reports the first size out of its bounds (each at least 1), or
// an unknown case.
func (p Params) Validate() error {
	if p.Case != "" && !slices.Contains(Cases, p.Case) {
		return fmt.Errorf("unknown actor case %q", p.Case)
	}
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"rounds", p.Rounds, maxHeld}, {"count", p.Count, maxHeld}, {"asks", p.Asks, maxHeld}, {"ring-actors", p.RingActors, maxActors},
		{"ring-hops", p.RingHops, maxMessages}, {"fj-actors", p.FJActors, maxActors}, {"fj-messages", p.FJMessages, maxHeld},
		{"creations", p.Creations, maxActors}, {"big-actors", p.BigActors, maxActors}, {"big-pings", p.BigPings, maxHeld},
		{"creatures", p.Creatures, maxActors}, {"meetings", p.Meetings, maxMessages},
		{"accounts", p.Accounts, maxActors}, {"transactions", p.Transactions, maxHeld},
	} {
		if f.v < 1 || f.v > f.hi {
			return fmt.Errorf("-%s must be between 1 and %d, got %d", f.name, f.hi, f.v)
		}
	}
	switch {
	case p.FJActors*p.FJMessages > maxHeld:
		// One sender outruns the actors: every message may be queued at once.
		return fmt.Errorf("-fj-actors %d x -fj-messages %d is more than %d messages", p.FJActors, p.FJMessages, maxHeld)
	case p.BigActors < 2:
		return fmt.Errorf("-big-actors must be at least 2 (an actor pings others), got %d", p.BigActors)
	case p.Creatures < 2:
		return fmt.Errorf("-creatures must be at least 2 (a meeting takes two), got %d", p.Creatures)
	case p.Accounts < 2:
		return fmt.Errorf("-accounts must be at least 2 (a transfer takes two), got %d", p.Accounts)
	case p.Timeout <= 0 || p.Timeout > maxTimeout:
		return fmt.Errorf("-actor-timeout must be positive and at most %v, got %v", maxTimeout, p.Timeout)
	}
	return nil
}

// Func runs one case on one system: it sets the actors up, brackets the
// measured part with m.Start and m.Stop, checks what the actors computed, and
// tears everything down. ops is what the case's [Unit] counts; a non-nil
// error is a failed check (or a broken system) and the time does not count.
type Func func(p Params, m *Meter) (ops int, err error)

// System is one actor library's implementation of every case.
type System map[string]Func

// Meter times the measured part of a case and counts its allocations; a
// case that has a latency records one sample per operation.
type Meter struct {
	start, stop   time.Time
	mallocs       uint64
	started, done bool
	lat           []int64
	profile       string   // a CPU profile of the measured part goes here
	profFile      *os.File // while it is written
	err           error    // from the profile
}

// Reserve makes room for n latency samples before the measured part, so
// recording allocates nothing.
func (m *Meter) Reserve(n int) { m.lat = make([]int64, 0, n) }

// Record adds a latency sample; call it from one goroutine at a time.
func (m *Meter) Record(d time.Duration) { m.lat = append(m.lat, int64(d)) }

// Start begins the measured part, after a GC so the setup's garbage is not
// charged to it.
func (m *Meter) Start() {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	m.mallocs, m.started = ms.Mallocs, true
	if m.profile != "" {
		if m.profFile, m.err = os.Create(m.profile); m.err == nil {
			m.err = pprof.StartCPUProfile(m.profFile)
		}
	}
	m.start = time.Now()
}

// Stop ends the measured part.
func (m *Meter) Stop() {
	m.stop = time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallocs, m.done = ms.Mallocs-m.mallocs, true
	if m.profFile != nil {
		pprof.StopCPUProfile()
		m.err = errors.Join(m.err, m.profFile.Close())
	}
}

// Result is one measurement: one case on one system in one repetition.
type Result struct {
	Case    string `json:"case"`
	System  string `json:"system"`
	Rep     int    `json:"rep"`
	Ops     int    `json:"ops"` // what Unit(Case) counts
	WallNs  int64  `json:"wall_ns"`
	Allocs  uint64 `json:"allocs"`
	P50Ns   int64  `json:"p50_ns,omitempty"`
	Failure string `json:"failure,omitempty"` // the failed check; the figures do not count
	Skipped string `json:"skipped,omitempty"` // why the case did not run
}

// Rate is Ops per second.
func (r Result) Rate() float64 {
	if r.WallNs <= 0 {
		return 0
	}
	return float64(r.Ops) / (float64(r.WallNs) / 1e9)
}

// AllocsPerOp is the measured part's allocations per operation.
func (r Result) AllocsPerOp() float64 {
	if r.Ops == 0 {
		return 0
	}
	return float64(r.Allocs) / float64(r.Ops)
}

// Run runs p.Case on sys and returns its result; a failed check, a panic or
// a missing case is a Result with Failure set. With a non-empty profile, a
// CPU profile of the measured part is written there.
func Run(name string, sys System, p Params, profile string) (res Result) {
	res = Result{Case: p.Case, System: name}
	f, ok := sys[p.Case]
	if !ok {
		res.Failure = fmt.Sprintf("%s implements no case %q", name, p.Case)
		return res
	}
	if err := p.Validate(); err != nil {
		res.Failure = err.Error()
		return res
	}
	// Ping-pong runs every system on the CPUs its name says: coregate's
	// executors follow Config, but hollywood and protoactor spread over
	// every P, so cross-core on a larger machine would give them all its
	// CPUs against coregate's two.
	switch p.Case {
	case PingPongOneCore:
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	case PingPongCrossCore:
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	m := &Meter{profile: profile}
	defer func() {
		if v := recover(); v != nil {
			res.Failure = fmt.Sprintf("panic: %v", v)
		}
	}()
	ops, err := f(p, m)
	switch {
	case err != nil:
		res.Failure = err.Error()
	case !m.started || !m.done:
		res.Failure = fmt.Sprintf("%s %s: the measured part was never started and stopped", name, p.Case)
	case m.err != nil:
		res.Failure = fmt.Sprintf("CPU profile: %v", m.err)
	default:
		res.Ops, res.WallNs, res.Allocs = ops, m.stop.Sub(m.start).Nanoseconds(), m.mallocs
		if len(m.lat) > 0 {
			// The nearest-rank median, as the token suite's percentiles:
			// the ceil(n/2)-th of n, so the p50 of two samples is not
			// their maximum.
			slices.Sort(m.lat)
			res.P50Ns = m.lat[(len(m.lat)-1)/2]
		}
	}
	return res
}

// The child protocol: the parent sets these variables in a child's
// environment; nothing else reads them.
const (
	EnvSystem  = "COREGATE_BENCH_ACTOR_SYSTEM"  // the system to run
	EnvParams  = "COREGATE_BENCH_ACTOR_PARAMS"  // Params as JSON
	EnvResult  = "COREGATE_BENCH_ACTOR_RESULT"  // the file the Result goes to, as JSON
	EnvProfile = "COREGATE_BENCH_ACTOR_PROFILE" // if set, the file a CPU profile goes to
)

// IsChild reports whether this process was started as a child of the bench.
func IsChild() bool { return os.Getenv(EnvSystem) != "" }

// ServeChild runs the case in the environment on the named system of
// systems, writes the Result where the environment says and exits: 0 when
// the Result was written (a failed check is in it), 1 otherwise.
func ServeChild(systems map[string]System) {
	if err := serve(systems); err != nil {
		fmt.Fprintln(os.Stderr, "actor child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serve(systems map[string]System) error {
	name := os.Getenv(EnvSystem)
	sys, ok := systems[name]
	if !ok {
		return fmt.Errorf("this binary has no actor system %q", name)
	}
	var p Params
	if err := json.Unmarshal([]byte(os.Getenv(EnvParams)), &p); err != nil {
		return fmt.Errorf("%s: %w", EnvParams, err)
	}
	out := os.Getenv(EnvResult)
	if out == "" {
		return errors.New(EnvResult + " is not set")
	}
	b, err := json.Marshal(Run(name, sys, p, os.Getenv(EnvProfile)))
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
