// Command bench is coregate's benchmark suite. It has two suites (-suite):
// tokens (the default) measures coregate's tokens against the worker pools a
// Go engineer would use instead; actors runs the Savina actor workloads on
// coregate, hollywood and protoactor actors; all runs both. Every
// measurement checks its own result before it counts.
//
// # Tokens
//
// Every workload runs on coregate and on the peers in the same process,
// alternating peer by peer within each repetition, and every measurement
// checks that each token completed with the right result and that its peer
// ran as many jobs as tokens were submitted (a job run twice has the right
// result); one still running after -token-timeout fails the run, as a lost
// token would hang it.
//
// Workloads (-workloads):
//
//   - tiny: issue 15's burst: tokens whose work is an atomic add, with a
//     result handle, from one submitter and from -submitters submitters,
//     each submitting all of its share before awaiting any;
//   - cpu: tokens of about -cpu-us microseconds of computation (calibrated at
//     start), with their efficiency against the ideal parallel time;
//   - blocking: -blocking-tokens tokens that sleep -blocking-ms, at a
//     concurrency of -blocking-concurrency where the peer has such a setting;
//   - waves: doubling waves of tiny tokens (-min-wave to -max-wave), each timed
//     from before its first submit to its last result: tokens/s,
//     submit-to-completion p50 and p99, and overlap;
//   - latency: submit-to-start p50, p99 and p99.9 of -probes tokens submitted
//     one at a time, on an idle runtime and on a busy one, and (on Linux)
//     where the idle ones started: on the CPU their submitter had just run
//     on or on another, with the latencies of each;
//   - locality and fanout: coregate's sticky keys against plain staggering,
//     and anchored fan-out against unanchored.
//
// Peers (-peers): goroutine (a goroutine per task, the baseline of every
// ratio), chanpool, ants, pond, pond-futures, hollywood, coregate,
// coregate-off (Affinity: Off), coregate-all (each batch by one
// Op.SubmitAll) and coregate-off-nospin (Affinity: Off, IdleSpin: -1). Tables go to stdout, progress to stderr;
// -json writes every raw measurement and -plot draws waves and latency.
//
// # Actors
//
// The cases (-actor-cases) are described in package
// [github.com/coregate/coregate/bench/actorsuite]; each runs on every system
// (-actor-systems) in every repetition (-actor-reps), systems alternating,
// and prints a table (median rate, min, max, p50 where it applies,
// allocations per operation, ratio to hollywood in the same repetition) and
// a summary. A failed check prints FAIL and the command exits 1.
//
// Every measurement runs in a child process of its own. Hollywood and
// protoactor cannot be linked into one binary: both register the protobuf
// file actor.proto, and such a program panics before main. So coregate and
// hollywood, which this binary links, run in a copy of this very executable
// (os.Executable, told what to run by environment variables the parent sets;
// main serves them before parsing flags), and protoactor runs in the program
// of the module bench/protoactor, which the parent builds once per run with
// the go command into a temporary directory (the build cache makes every
// build after the first one quick). A process per measurement also keeps one
// system's garbage, threads and GOMAXPROCS out of another's timings. Nothing
// needs to be set by hand: `go run ./bench -suite actors` does it all; a
// machine without the go command or the source can leave protoactor out
// with -actor-systems coregate,hollywood. An interrupt (SIGINT, SIGTERM)
// kills the running child and removes the built children; on Linux a child
// also dies with a bench that is killed outright.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/bench/actorsuite"
	"github.com/panjf2000/ants/v2"
)

type options struct {
	reps       int
	quick      bool
	cores      int
	workloads  string
	peers      string
	jsonPath   string
	plotPath   string
	tokens     int // tiny
	submitters int
	cpuTokens  int
	cpuMicros  int
	blkTokens  int
	blkConc    int
	blkMillis  int
	minWave    int
	maxWave    int
	probes     int
	pauseMicro int
	timeout    time.Duration // the longest one measurement may take

	keys, blockKiB int
	localityTokens int
	leads, fanout  int
	bufKiB         int

	suite         string // tokens, actors or all
	actor         actorsuite.Params
	actorReps     int
	actorCases    string
	actorSystems  string
	actorProfiles string

	// noCrossCPU leaves the cross-CPU probe out: tests that wait for a
	// child against a deadline, since the probe's spinning threads take
	// minutes on a loaded machine (each hand-off needs both on a CPU).
	noCrossCPU bool
}

// Upper bounds of the sizes, far above any default, so that a slip of the
// finger (-tokens 10000000000) is a flag error rather than a crash for want
// of memory: at each bound a workload holds a few GiB at most.
const (
	maxReps       = 1000
	maxTokens     = 100_000_000 // tokens whose results are kept: 8 bytes each
	maxInFlight   = 10_000_000  // tokens or keys held at once, a few hundred bytes each
	maxWave       = 1 << 20     // a wave's tokens are all in flight: a goroutine each for the baseline
	maxGoroutines = 100_000     // submitters, and the blocking workload's workers
	maxHeldKiB    = 16 << 20    // the locality workload's state, a fan-out lead's buffer
	maxTimeout    = 24 * time.Hour
)

// Suites, as -suite takes them.
const (
	suiteTokens = "tokens"
	suiteActors = "actors"
	suiteAll    = "all"
)

// defaults returns the default run's options; quick shrinks them to a run
// of a few seconds on 2 CPUs (the actor suite under a minute).
func defaults(quick bool) options {
	o := options{
		reps: 3, workloads: strings.Join(workloadNames, ","), peers: peerNames(),
		tokens: 200_000, submitters: 4, cpuTokens: 20_000, cpuMicros: 10,
		blkTokens: 10_000, blkConc: 1000, blkMillis: 1, minWave: 4, maxWave: 65536,
		probes: 1000, pauseMicro: 20, timeout: 5 * time.Minute,
		keys: 16, blockKiB: 256, localityTokens: 4000, leads: 400, fanout: 16, bufKiB: 64,
		suite: suiteTokens, actor: actorsuite.Defaults(quick), actorReps: 5,
		actorCases: strings.Join(actorsuite.Cases, ","), actorSystems: strings.Join(actorSystemNames, ","),
	}
	if quick {
		o.quick, o.reps = true, 1
		o.tokens, o.cpuTokens, o.blkTokens, o.blkConc = 20_000, 2000, 1000, 100
		o.maxWave, o.probes = 4096, 200
		o.localityTokens, o.leads = 1000, 100
		o.actorReps = 3
	}
	return o
}

func peerNames() string {
	var names []string
	for _, p := range peers {
		names = append(names, p.name)
	}
	return strings.Join(names, ",")
}

func main() {
	if actorsuite.IsChild() {
		serveActorChild()
	}
	o, err := parseOptions(os.Args[0], os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		os.Exit(2) // the flag package has said why
	}
	if err := run(os.Stdout, os.Stderr, o); err != nil {
		fmt.Fprintln(os.Stderr, "\nbench:", err)
		os.Exit(1)
	}
}

// serveActorChild runs the one actor measurement this process was started
// for, and exits. ants starts its default pool when this binary starts: two
// goroutines on tickers (500 ms and 1 s) that the protoactor child, a binary
// without ants, does not have; they are stopped first.
func serveActorChild() {
	ants.Release()
	actorsuite.ServeChild(linkedActorSystems)
}

// parseOptions parses the command line. -quick changes the defaults of the
// other flags, so the arguments are parsed twice: once to learn -quick in
// whatever form the flag package takes it (-quick, --quick, -quick=true,
// -quick=false), then over the defaults it selects, so a size given on the
// command line still wins.
func parseOptions(name string, args []string, errOut io.Writer) (options, error) {
	probe := defaults(false)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindFlags(fs, &probe)
	_ = fs.Parse(args) // a bad argument is reported by the parse below
	o := defaults(probe.quick)
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	bindFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		// Said here, as the flag package says its own errors: main exits
		// without printing a parse error.
		err := fmt.Errorf("unexpected argument %q: the bench takes flags only (-h lists them)", fs.Arg(0))
		fmt.Fprintln(errOut, err)
		return o, err
	}
	return o, nil
}

// bindFlags defines every flag on fs, each defaulting to its field in o.
func bindFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.quick, "quick", o.quick, "smaller sizes (tokens: one repetition, a few seconds on 2 CPUs; actors: under a minute) (other flags still apply)")
	fs.IntVar(&o.reps, "reps", o.reps, "tokens: repetitions of every measurement (actors: -actor-reps)")
	fs.IntVar(&o.cores, "cores", 0, "tokens: CPUs to use: coregate's executors and the pools' workers (0: every allowed CPU; the actor suite's cases set their own)")
	fs.StringVar(&o.workloads, "workloads", o.workloads, "comma-separated workloads: "+strings.Join(workloadNames, ", "))
	fs.StringVar(&o.peers, "peers", o.peers, "comma-separated peers")
	fs.StringVar(&o.jsonPath, "json", "", "write every raw measurement to this JSON file")
	fs.StringVar(&o.plotPath, "plot", "", "draw the suite to this .svg or .png file (tokens: tokens/s per wave and latency; actors: rates per case; all: the actors' chart goes to NAME-actors.EXT)")
	fs.IntVar(&o.tokens, "tokens", o.tokens, "tiny: tokens per measurement")
	fs.IntVar(&o.submitters, "submitters", o.submitters, "tiny: submitting goroutines of the second tiny table")
	fs.IntVar(&o.cpuTokens, "cpu-tokens", o.cpuTokens, "cpu: tokens per measurement")
	fs.IntVar(&o.cpuMicros, "cpu-us", o.cpuMicros, "cpu: microseconds of work per token")
	fs.IntVar(&o.blkTokens, "blocking-tokens", o.blkTokens, "blocking: tokens per measurement")
	fs.IntVar(&o.blkConc, "blocking-concurrency", o.blkConc, "blocking: tokens in flight and the pools' workers")
	fs.IntVar(&o.blkMillis, "blocking-ms", o.blkMillis, "blocking: milliseconds each token sleeps")
	fs.IntVar(&o.minWave, "min-wave", o.minWave, "waves: smallest wave")
	fs.IntVar(&o.maxWave, "max-wave", o.maxWave, "waves: largest wave (waves double from -min-wave)")
	fs.IntVar(&o.probes, "probes", o.probes, "latency: tokens submitted one at a time")
	fs.IntVar(&o.pauseMicro, "pause-us", o.pauseMicro, "latency: microseconds between probes")
	fs.DurationVar(&o.timeout, "token-timeout", o.timeout, "tokens: the longest one measurement may take before the run fails (a lost token would otherwise hang it)")
	fs.IntVar(&o.keys, "keys", o.keys, "locality: keys, each owning a block of state")
	fs.IntVar(&o.blockKiB, "block-kib", o.blockKiB, "locality: KiB of state per key")
	fs.IntVar(&o.localityTokens, "locality-tokens", o.localityTokens, "locality: tokens per variant")
	fs.IntVar(&o.leads, "leads", o.leads, "fanout: leads per variant")
	fs.IntVar(&o.fanout, "children", o.fanout, "fanout: children per lead")
	fs.IntVar(&o.bufKiB, "buf-kib", o.bufKiB, "fanout: KiB of the buffer a lead shares with its children")
	fs.StringVar(&o.suite, "suite", o.suite, "which suite: tokens (tokens against worker pools), actors (Savina workloads on coregate, hollywood and protoactor) or all")
	fs.IntVar(&o.actorReps, "actor-reps", o.actorReps, "actors: repetitions of every case on every system")
	fs.StringVar(&o.actorCases, "actor-cases", o.actorCases, "actors: comma-separated cases: "+strings.Join(actorsuite.Cases, ", "))
	fs.StringVar(&o.actorSystems, "actor-systems", o.actorSystems, "actors: comma-separated systems: "+strings.Join(actorSystemNames, ", "))
	fs.StringVar(&o.actorProfiles, "actor-profiles", "", "actors: write a CPU profile of every measurement to this directory (CASE-SYSTEM-REP.pprof; the protoactor binary is not kept)")
	a := &o.actor
	for _, f := range []struct {
		v          *int
		name, help string
	}{
		{&a.Rounds, "rounds", "pingpong: round trips"},
		{&a.Count, "count", "counting: messages"},
		{&a.Asks, "asks", "ask: blocking round trips from outside any actor"},
		{&a.RingActors, "ring-actors", "threadring: actors in the ring"},
		{&a.RingHops, "ring-hops", "threadring: hops of the token"},
		{&a.FJActors, "fj-actors", "forkjoin-throughput: actors"},
		{&a.FJMessages, "fj-messages", "forkjoin-throughput: messages per actor"},
		{&a.Creations, "creations", "forkjoin-creation: actors created"},
		{&a.BigActors, "big-actors", "big: actors"},
		{&a.BigPings, "big-pings", "big: pings each actor sends"},
		{&a.Creatures, "creatures", "chameneos: creatures"},
		{&a.Meetings, "meetings", "chameneos: meetings"},
		{&a.Accounts, "accounts", "bank: accounts"},
		{&a.Transactions, "transactions", "bank: transfers"},
	} {
		fs.IntVar(f.v, f.name, *f.v, "actors, "+f.help)
	}
	fs.DurationVar(&a.Timeout, "actor-timeout", a.Timeout, "actors: the longest wait for an answer before a case fails")
}

// suite is one run: its options, the chosen peers and every sample taken.
type suite struct {
	o        options
	want     map[string]bool
	peers    []string
	cpus     int   // CPUs used: coregate's executors, the pools' workers
	allowed  []int // CPUs this process may use
	progress io.Writer
	samples  []sample

	localityResults  []localityResult // the locality and fanout workloads
	tokens, actorsOn bool             // the suites to run
	cases, systems   []string         // the actor suite's
	actorResults     []actorsuite.Result
}

func run(stdout, stderr io.Writer, o options) error {
	s, err := newSuite(o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "coregate bench: %d CPUs used (GOMAXPROCS %d, %d allowed), %s/%s, %s%s\n",
		s.cpus, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), map[bool]string{true: ", -quick"}[o.quick])
	if !o.noCrossCPU {
		if x := crossCPURoundTrip(s.allowed); x.RoundTrip > 0 {
			fmt.Fprintf(stdout, "cross-CPU round trip (a cache line from CPU %d to %d and back): %v\n", x.From, x.To, x.RoundTrip)
		}
	}
	if s.tokens {
		if err := s.tokenSuite(stdout); err != nil {
			return err
		}
	}
	var actorErr error
	if s.actorsOn {
		actorErr = s.actors(stdout) // a failed check still writes what was measured
		// An actor suite that ended without a result (a child that
		// crashed, an interrupt) leaves nothing of its own to write; the
		// token suite's measurements of -suite all still are.
		if len(s.actorResults) == 0 && !s.tokens {
			return actorErr
		}
	}
	if o.jsonPath != "" {
		if err := s.writeJSON(o.jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nraw measurements: %s\n", o.jsonPath)
	}
	if o.plotPath != "" {
		if err := s.plots(stdout, o.plotPath); err != nil {
			return errors.Join(actorErr, err) // failed checks leave nothing to draw
		}
	}
	return actorErr
}

// tokenSuite runs the chosen token workloads.
func (s *suite) tokenSuite(stdout io.Writer) error {
	fmt.Fprintf(stdout, "token suite, %d repetition(s); ratio columns: the peer's time divided by a goroutine per task's in the same repetition (median over repetitions); below 1 is faster\n", s.o.reps)
	steps := []struct {
		name string
		run  func(io.Writer) error
	}{
		{wTiny, s.tiny}, {wCPU, s.cpu}, {wBlocking, s.blocking}, {wWaves, s.waves}, {wLatency, s.latency},
	}
	for _, st := range steps {
		if s.want[st.name] {
			if err := st.run(stdout); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
		}
	}
	if s.want[wLocality] || s.want[wFanOut] {
		if err := s.locality(stdout); err != nil {
			return err
		}
	}
	fmt.Fprint(s.progress, "\r"+strings.Repeat(" ", 72)+"\r")
	return nil
}

// plots draws the suites that ran: with both, the actors' chart goes beside
// path as NAME-actors.EXT.
func (s *suite) plots(stdout io.Writer, path string) error {
	if s.tokens {
		if err := s.plot(path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "plot: %s\n", path)
	}
	if s.actorsOn {
		if s.tokens {
			path = actorPlotPath(path)
		}
		if err := s.actorPlot(path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "plot: %s\n", path)
	}
	return nil
}

// actorPlotPath is where -suite all draws the actors' chart, beside the
// token suite's at path: NAME-actors.EXT.
func actorPlotPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-actors" + ext
}

// writable reports why path cannot be written, opening it for writing as
// the run's end will; a file it had to create is removed again. That its
// directory exists is not enough: the path may be a directory itself, or a
// file or directory this process may not write.
func writable(path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	err = f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		err = errors.Join(err, os.Remove(path))
	}
	return err
}

func newSuite(o options, progress io.Writer) (*suite, error) {
	s := &suite{o: o, progress: progress, want: map[string]bool{}}
	switch o.suite {
	case suiteTokens, suiteActors, suiteAll:
		s.tokens, s.actorsOn = o.suite != suiteActors, o.suite != suiteTokens
	default:
		return nil, fmt.Errorf("unknown -suite %q (want %s, %s or %s)", o.suite, suiteTokens, suiteActors, suiteAll)
	}
	if err := s.validActorOptions(); err != nil {
		return nil, err
	}
	for _, name := range splitList(o.workloads) {
		if !slices.Contains(workloadNames, name) {
			return nil, fmt.Errorf("unknown workload %q in -workloads (want %s)", name, strings.Join(workloadNames, ", "))
		}
		s.want[name] = true
	}
	for _, name := range splitList(o.peers) {
		if peerIndex(name) < 0 {
			return nil, fmt.Errorf("unknown peer %q in -peers (want %s)", name, peerNames())
		}
		if !slices.Contains(s.peers, name) {
			s.peers = append(s.peers, name)
		}
	}
	// Tables follow the peers' declared order, baseline first.
	slices.SortFunc(s.peers, func(a, b string) int { return peerIndex(a) - peerIndex(b) })
	if len(s.want) == 0 || len(s.peers) == 0 {
		return nil, fmt.Errorf("nothing to run: -workloads and -peers must name at least one each")
	}
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"reps", o.reps, 1, maxReps}, {"tokens", o.tokens, 1, maxInFlight}, // a burst: all in flight at once
		{"submitters", o.submitters, 1, maxGoroutines},
		{"cpu-tokens", o.cpuTokens, 1, maxTokens}, {"cpu-us", o.cpuMicros, 1, 1_000_000},
		{"blocking-tokens", o.blkTokens, 1, maxTokens}, {"blocking-concurrency", o.blkConc, 1, maxGoroutines},
		{"blocking-ms", o.blkMillis, 1, 60_000}, {"min-wave", o.minWave, 1, maxWave}, {"max-wave", o.maxWave, 1, maxWave},
		{"probes", o.probes, 1, maxInFlight}, {"pause-us", o.pauseMicro, 0, 1_000_000},
		{"keys", o.keys, 1, maxInFlight}, {"block-kib", o.blockKiB, 1, maxHeldKiB}, {"locality-tokens", o.localityTokens, 1, maxInFlight},
		{"leads", o.leads, 1, maxInFlight}, {"children", o.fanout, 1, maxInFlight}, {"buf-kib", o.bufKiB, 1, maxHeldKiB},
	} {
		if f.v < f.lo || f.v > f.hi {
			return nil, fmt.Errorf("-%s must be between %d and %d, got %d", f.name, f.lo, f.hi, f.v)
		}
	}
	if o.timeout <= 0 || o.timeout > maxTimeout {
		return nil, fmt.Errorf("-token-timeout must be positive and at most %v, got %v", maxTimeout, o.timeout)
	}
	if o.maxWave < o.minWave {
		return nil, fmt.Errorf("waves must satisfy 1 <= -min-wave <= -max-wave, got %d and %d", o.minWave, o.maxWave)
	}
	// Each of these is allowed alone, but a workload may hold their product
	// at once: every key's block; every lead's result of children+1 ints;
	// every lead's buffer, since a lead waiting for its children on an
	// executor runs the leads queued behind it there.
	for _, p := range []struct {
		a, b       string
		x, y, most int
		what       string
	}{
		{"keys", "block-kib", o.keys, o.blockKiB, maxHeldKiB, "KiB of state"},
		{"leads", "children", o.leads, o.fanout, maxTokens, "children"},
		{"leads", "buf-kib", o.leads, o.bufKiB, maxHeldKiB, "KiB of buffers"},
	} {
		if p.x*p.y > p.most {
			return nil, fmt.Errorf("-%s %d x -%s %d is %d %s, more than %d", p.a, p.x, p.b, p.y, p.x*p.y, p.what, p.most)
		}
	}
	if o.plotPath != "" && !strings.HasSuffix(o.plotPath, ".svg") && !strings.HasSuffix(o.plotPath, ".png") {
		return nil, fmt.Errorf("-plot %q: want a .svg or .png file", o.plotPath)
	}
	// With both suites, the token chart takes the -plot file itself: it
	// needs something to draw as much as with the token suite alone.
	if o.plotPath != "" && s.tokens && !s.want[wWaves] && !s.want[wLatency] {
		return nil, fmt.Errorf("-plot draws the token suite's waves and latency workloads, and -workloads %q has neither (-suite actors draws the actor suite alone)", o.workloads)
	}
	// Checked before the run, not after minutes of it.
	outs := []struct{ flag, path string }{{"json", o.jsonPath}, {"plot", o.plotPath}}
	if o.plotPath != "" && s.tokens && s.actorsOn {
		outs = append(outs, struct{ flag, path string }{"plot", actorPlotPath(o.plotPath)})
	}
	for _, out := range outs {
		if out.path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(out.path)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("-%s %q: its directory does not exist", out.flag, out.path)
		}
		if err := writable(out.path); err != nil {
			return nil, fmt.Errorf("-%s %q: %w", out.flag, out.path, err)
		}
	}
	if s.actorsOn && o.actorProfiles != "" {
		if err := os.MkdirAll(o.actorProfiles, 0o755); err != nil {
			return nil, fmt.Errorf("-actor-profiles: %w", err)
		}
	}
	allowed, err := actors.AllowedCPUs()
	if err != nil {
		return nil, err
	}
	s.allowed = allowed
	s.cpus = min(len(allowed), runtime.GOMAXPROCS(0))
	switch {
	case o.cores < 0 || o.cores > len(allowed):
		return nil, fmt.Errorf("-cores is %d; this process may use %d CPUs %v", o.cores, len(allowed), allowed)
	case o.cores > 0:
		s.cpus = min(s.cpus, o.cores)
	}
	return s, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func peerIndex(name string) int {
	return slices.IndexFunc(peers, func(p struct {
		name string
		make func(int) peer
		note string
	}) bool {
		return p.name == name
	})
}

// each runs measure for every repetition and every chosen peer, alternating
// peers within a repetition, and keeps the samples.
func (s *suite) each(workload string, measure func(mk func() peer) ([]sample, error)) error {
	for rep := 1; rep <= s.o.reps; rep++ {
		for _, name := range s.peers {
			fmt.Fprintf(s.progress, "\r%-72s", fmt.Sprintf("bench: %s, %s, repetition %d of %d", workload, name, rep, s.o.reps))
			p := peers[peerIndex(name)]
			// Every peer gets s.cpus, coregate too: with Affinity Off
			// Config.Cores executors run whatever GOMAXPROCS is, so
			// -cores above GOMAXPROCS gave coregate-off more executors
			// than the pools had workers.
			out, err := bounded(s.o.timeout, func() ([]sample, error) {
				return measure(func() peer { return p.make(s.cpus) })
			})
			if err != nil {
				return fmt.Errorf("%s, repetition %d: %w", name, rep, err)
			}
			for _, smp := range out {
				smp.Workload, smp.Peer, smp.Rep = workload, name, rep
				s.samples = append(s.samples, smp)
			}
		}
	}
	return nil
}

// bounded returns what f returns, or an error once f has run for limit.
// Every peer waits for its tokens without a deadline (a WaitGroup, a
// future, Token.Wait with context.Background), so a token that a broken
// peer lost would keep the suite waiting forever, a progress line standing
// still, instead of failing it. f then goes on in the background; the
// error ends the run.
func bounded[T any](limit time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		var zero T
		return zero, fmt.Errorf("not done after %v (-token-timeout): a token lost or a peer stuck", limit)
	}
}

func one(smp sample, err error) ([]sample, error) { return []sample{smp}, err }

func (s *suite) tiny(w io.Writer) error {
	// One table per submitter count: -submitters 1 once ran the single
	// submitter twice under one name, and its second table mixed both runs.
	for _, subs := range slices.Compact([]int{1, s.o.submitters}) {
		name := fmt.Sprintf("%s-%d", wTiny, subs)
		if err := s.each(name, func(mk func() peer) ([]sample, error) {
			return one(runTiny(mk, s.cpus, s.o.tokens, subs))
		}); err != nil {
			return err
		}
		s.table(w, name, fmt.Sprintf("tiny tokens (an atomic add, result checked), %d submitter(s), %d tokens, each submitter's all submitted, then awaited, from a warm heap", subs, s.o.tokens), "ns/token", nsPerToken, false)
	}
	return nil
}

func (s *suite) cpu(w io.Writer) error {
	d := time.Duration(s.o.cpuMicros) * time.Microsecond
	iters, cost := calibrate(d)
	want := make([]int, s.o.cpuTokens)
	for i := range want {
		want[i] = spin(i, iters)
	}
	if err := s.each(wCPU, func(mk func() peer) ([]sample, error) {
		return one(runCPU(mk, s.cpus, s.cpus, s.o.cpuTokens, iters, cost, want))
	}); err != nil {
		return err
	}
	s.table(w, wCPU, fmt.Sprintf("CPU tokens (%v each, calibrated), %d tokens; efficiency = ideal time on %d CPUs / wall", cost.Round(100*time.Nanosecond), s.o.cpuTokens, s.cpus), "ns/token", nsPerToken, true)
	return nil
}

func (s *suite) blocking(w io.Writer) error {
	d := time.Duration(s.o.blkMillis) * time.Millisecond
	if err := s.each(wBlocking, func(mk func() peer) ([]sample, error) {
		return one(runBlocking(mk, s.o.blkConc, s.o.blkTokens, d))
	}); err != nil {
		return err
	}
	s.table(w, wBlocking, fmt.Sprintf("blocking tokens (sleep %v), %d tokens, concurrency %d (coregate: an op WithBlocking, Config.BlockingWorkers %d); efficiency = ideal time / wall", d, s.o.blkTokens, s.o.blkConc, s.o.blkConc), "ms", wallMillis, true)
	return nil
}

func (s *suite) waves(w io.Writer) error {
	if err := s.each(wWaves, func(mk func() peer) ([]sample, error) {
		return runWaves(mk, s.cpus, s.o.minWave, s.o.maxWave)
	}); err != nil {
		return err
	}
	s.waveTables(w)
	return nil
}

func (s *suite) latency(w io.Writer) error {
	pause := time.Duration(s.o.pauseMicro) * time.Microsecond
	busyIters, _ := calibrate(time.Microsecond)
	for _, busy := range []bool{false, true} {
		name := wLatency + "-idle"
		if busy {
			name = wLatency + "-busy"
		}
		if err := s.each(name, func(mk func() peer) ([]sample, error) {
			return one(runLatency(mk, s.cpus, s.o.probes, pause, busy, busyIters))
		}); err != nil {
			return err
		}
	}
	s.latencyTable(w)
	return nil
}

func (s *suite) writeJSON(path string) error {
	out := struct {
		GOOS, GOARCH, Go string
		GOMAXPROCS, CPUs int
		Options          string
		Samples          []sample            `json:",omitempty"`
		Locality         []localityResult    `json:",omitempty"`
		ActorParams      *actorsuite.Params  `json:",omitempty"`
		Actors           []actorsuite.Result `json:",omitempty"`
	}{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: s.cpus,
		Options: fmt.Sprintf("%+v", s.o), Samples: s.samples, Locality: s.localityResults, Actors: s.actorResults}
	if s.actorsOn {
		out.ActorParams = &s.o.actor
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
