package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/bench/actorsuite"
	"go.uber.org/goleak"
)

// ants starts its default pool's goroutines when it is initialised, before any
// test: those are ignored, every goroutine a test leaves behind is not.
// The actor suite runs this test binary as its child (see actorRunner).
func TestMain(m *testing.M) {
	if actorsuite.IsChild() {
		serveActorChild()
	}
	if os.Getenv(envAsParent) != "" {
		os.Exit(runAsParent())
	}
	if os.Getenv(envStuckGo) != "" {
		os.Exit(stuckGo())
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// tiny returns -quick options shrunk further, so the whole suite runs on
// every peer in a test and cannot rot.
func tiny() options {
	o := defaults(true)
	o.tokens, o.cpuTokens, o.cpuMicros = 2000, 200, 2
	o.blkTokens, o.blkConc = 40, 8
	o.maxWave, o.probes, o.pauseMicro = 64, 20, 20
	o.keys, o.blockKiB, o.localityTokens, o.leads, o.fanout, o.bufKiB = 4, 4, 40, 8, 3, 1
	return o
}

// TestQuickRun runs every workload on every peer with tiny sizes and checks
// the tables, the JSON and the plot.
func TestQuickRun(t *testing.T) {
	dir := t.TempDir()
	o := tiny()
	o.jsonPath, o.plotPath = filepath.Join(dir, "raw.json"), filepath.Join(dir, "plot.svg")
	var out, progress bytes.Buffer
	if err := run(&out, &progress, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"tiny tokens", "4 submitter(s)", "CPU tokens", "blocking tokens", "doubling waves", "tokens/s",
		"overlap", "submit-to-start latency", "locality: 4 keys", "fan-out: 8 leads", "vs goroutine",
		"pond-futures", "hollywood", "coregate-off", "coregate-off-nospin", "all 1116 tokens of every wave completed",
	} {

		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if runtime.NumCPU() >= 2 && runtime.GOMAXPROCS(0) >= 2 && !strings.Contains(out.String(), "cross-CPU round trip") {
		t.Fatalf("output lacks the cross-CPU round trip:\n%s", out.String())
	}
	if !strings.Contains(progress.String(), "repetition 1 of 1") {
		t.Fatalf("no progress on stderr: %q", progress.String())
	}
	var raw struct{ Samples []sample }
	readJSON(t, o.jsonPath, &raw)
	// tiny x2, cpu, blocking, latency x2, and 5 waves: 11 samples per peer.
	if want := 11 * len(peers); len(raw.Samples) != want {
		t.Fatalf("%d samples in the JSON, want %d", len(raw.Samples), want)
	}
	svg, err := os.ReadFile(o.plotPath)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("coregate-off")) {
		t.Fatalf("plot: %v, %d bytes", err, len(svg))
	}
}

// TestPNGPlot draws the plot as a PNG from a run of two peers.
func TestPNGPlot(t *testing.T) {
	o := tiny()
	o.workloads, o.peers = "waves,latency", "goroutine,coregate"
	o.plotPath = filepath.Join(t.TempDir(), "plot.png")
	if err := run(&bytes.Buffer{}, &bytes.Buffer{}, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(o.plotPath)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("png: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, mod := range []func(*options){
		func(o *options) { o.maxWave = 2 },
		func(o *options) { o.cores = -3 },
		func(o *options) { o.cores = 1 << 20 },
		func(o *options) { o.workloads = "tiny,nope" },
		func(o *options) { o.peers = "goroutine,threads" },
		func(o *options) { o.peers = "" },
		func(o *options) { o.reps = 0 },
		func(o *options) { o.keys = 0 },
		func(o *options) { o.pauseMicro = -1 },
		func(o *options) { o.timeout = 0 },
		func(o *options) { o.timeout = -time.Second },
		func(o *options) { o.plotPath = "plot.pdf" },
		func(o *options) { o.suite = "everything" },
		func(o *options) { o.suite, o.actorCases = suiteActors, "pingpong,nope" },
		func(o *options) { o.suite, o.actorSystems = suiteActors, "" },
		func(o *options) { o.suite, o.actorSystems = suiteActors, "akka" },
		func(o *options) { o.suite, o.actorReps = suiteActors, 0 },
		func(o *options) { o.suite, o.actor.Rounds = suiteActors, 0 },
		func(o *options) { o.suite, o.actor.BigActors = suiteActors, 1 },
		func(o *options) { o.suite, o.actor.Timeout = suiteActors, 0 },
	} {
		o := tiny()
		mod(&o)
		if err := run(&bytes.Buffer{}, &bytes.Buffer{}, o); err == nil {
			t.Errorf("run(%+v) succeeded, want an error", o)
		}
	}
}

// TestOutputsCheckedBeforeTheRun: a -json or -plot file that cannot be
// written, and an argument that is not a flag, are errors before anything
// runs. Found by review: the first two failed only after the whole run,
// and a stray argument was ignored; so did -plot with -suite all and
// token workloads that draw nothing, after both suites had run, and an
// -actor-profiles directory that cannot be made, after the token suite.
func TestOutputsCheckedBeforeTheRun(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "out")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Directories where the outputs would go: a file cannot be written
	// over them. Their parent exists, which was all that was checked, so
	// each failed only once the run had ended.
	dirs := t.TempDir()
	for _, d := range []string{"out.json", "out.svg", "both-actors.svg"} {
		if err := os.Mkdir(filepath.Join(dirs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, mod := range []func(*options){
		func(o *options) { o.jsonPath = filepath.Join(dirs, "out.json") },
		func(o *options) { o.plotPath = filepath.Join(dirs, "out.svg") },
		func(o *options) { o.suite, o.plotPath = suiteAll, filepath.Join(dirs, "both.svg") },
		func(o *options) { o.suite, o.actorProfiles = suiteAll, filepath.Join(file, "profiles") },
		func(o *options) { o.jsonPath = missing + ".json" },
		func(o *options) { o.plotPath = missing + ".svg" },
		func(o *options) { o.workloads, o.plotPath = "tiny", filepath.Join(t.TempDir(), "x.svg") },
		func(o *options) {
			o.suite, o.workloads, o.plotPath = suiteAll, "tiny", filepath.Join(t.TempDir(), "x.svg")
		},
	} {
		o := tiny()
		mod(&o)
		if _, err := newSuite(o, io.Discard); err == nil {
			t.Errorf("newSuite(%+v) succeeded, want an error", o)
		}
	}
	var said strings.Builder
	if _, err := parseOptions("bench", []string{"-quick", "extra"}, &said); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("a stray argument: %v, want an error naming it", err)
	}
	// main exits 2 on a parse error without printing it, as the flag
	// package has printed its own: a stray argument must be said too.
	if !strings.Contains(said.String(), `"extra"`) {
		t.Errorf("a stray argument wrote %q to the error output, want it named", said.String())
	}
}

// TestSplitByCPU: probes split by whether they started on their submitter's
// CPU, those with an unread CPU left out.
func TestSplitByCPU(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	lat := []time.Duration{us(9), us(1), us(2), us(8), us(3), us(50)}
	sub := []int{0, 0, 1, 1, 0, -1}
	start := []int{0, 1, 0, 1, 1, 0}
	got := splitByCPU(lat, sub, start)
	want := cpuSplit{known: 5, own: 0.4, ownP50: us(8), otherP50: us(2), otherP99: us(3)}
	if got != want {
		t.Fatalf("split %+v, want %+v", got, want)
	}
	if got := splitByCPU(lat[:1], []int{-1}, []int{0}); got != (cpuSplit{}) {
		t.Fatalf("no CPU read: split %+v, want none", got)
	}
}

// TestWarmThenTimed: every locality variant runs once untimed before any is
// recorded, so none pays alone for the runtime's cold start, then once per
// repetition, the variants alternating.
func TestWarmThenTimed(t *testing.T) {
	var got []string
	err := warmThenTimed(2, 2, func(v int, record bool) error {
		got = append(got, fmt.Sprint(v, record))
		return nil
	})
	if want := []string{"0 false", "1 false", "0 true", "1 true", "0 true", "1 true"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("passes %q, %v; want %q", got, err, want)
	}
}

// TestLocalityRepsInJSON: the locality and fan-out workloads run -reps
// times and -json holds every repetition's rates. Found by review: both
// were timed once whatever -reps said, and left out of -json.
func TestLocalityRepsInJSON(t *testing.T) {
	o := tiny()
	o.workloads, o.peers, o.reps = "locality,fanout", "coregate", 3
	o.jsonPath = filepath.Join(t.TempDir(), "raw.json")
	var out bytes.Buffer
	if err := run(&out, &bytes.Buffer{}, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "median of 3 repetition(s)"); n != 2 {
		t.Fatalf("%d locality tables over 3 repetitions, want 2:\n%s", n, out.String())
	}
	var raw struct{ Locality []localityResult }
	readJSON(t, o.jsonPath, &raw)
	if len(raw.Locality) != 2 || raw.Locality[0].Workload != wLocality || raw.Locality[1].Workload != wFanOut {
		t.Fatalf("locality results in the JSON: %+v, want locality and fanout", raw.Locality)
	}
	for _, r := range raw.Locality {
		if len(r.Anchored) != o.reps || len(r.Plain) != o.reps || slices.Min(r.Anchored) <= 0 || slices.Min(r.Plain) <= 0 {
			t.Fatalf("%s: rates %v and %v, want %d positive each", r.Workload, r.Anchored, r.Plain, o.reps)
		}
	}
}

// TestQuickFlag: -quick selects the smaller sizes in every form the flag
// package takes it, a size given beside it still wins, and an argument that
// is only a value (a JSON file named -quick) does not select them.
// -quick=true once printed "-quick" over the full sizes.
func TestQuickFlag(t *testing.T) {
	full, quick := defaults(false), defaults(true)
	for _, c := range []struct {
		args  []string
		quick bool
	}{
		{nil, false},
		{[]string{"-quick"}, true},
		{[]string{"--quick"}, true},
		{[]string{"-quick=true"}, true},
		{[]string{"--quick=1"}, true},
		{[]string{"-quick=false"}, false},
		{[]string{"-quick", "-quick=false"}, false},
		{[]string{"-json", "-quick"}, false},
	} {
		o, err := parseOptions("bench", c.args, io.Discard)
		want := full
		if c.quick {
			want = quick
		}
		if err != nil || o.quick != c.quick || o.reps != want.reps || o.tokens != want.tokens || o.actor != want.actor {
			t.Errorf("%q: quick %v, reps %d, tokens %d (%v); want quick %v, reps %d, tokens %d",
				c.args, o.quick, o.reps, o.tokens, err, c.quick, want.reps, want.tokens)
		}
	}
	o, err := parseOptions("bench", []string{"-quick=true", "-tokens", "7", "-actor-reps", "2"}, io.Discard)
	if err != nil || o.reps != quick.reps || o.tokens != 7 || o.actorReps != 2 {
		t.Errorf("-quick=true -tokens 7 -actor-reps 2: reps %d, tokens %d, actor reps %d (%v)", o.reps, o.tokens, o.actorReps, err)
	}
	if _, err := parseOptions("bench", []string{"-quick=maybe"}, io.Discard); err == nil {
		t.Error("-quick=maybe parsed")
	}
}

// TestPeersSizedAlike: each peer of a measurement is sized to the CPUs the
// suite uses, coregate's executors as the pools' workers, also with -cores
// above GOMAXPROCS, where Affinity Off once ran -cores executors against
// GOMAXPROCS workers.
func TestPeersSizedAlike(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 allowed CPUs")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	o := tiny()
	o.cores, o.peers = 2, "coregate,coregate-off"
	s, err := newSuite(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.cpus != 1 {
		t.Fatalf("%d CPUs used with GOMAXPROCS 1, want 1", s.cpus)
	}
	err = s.each("sizes", func(mk func() peer) ([]sample, error) {
		p := mk()
		if err := p.open(s.cpus, func(i int) int { return i }); err != nil {
			return nil, err
		}
		n := len(p.(*coregatePeer).rt.Executors())
		if err := p.close(); err != nil {
			return nil, err
		}
		if n != s.cpus {
			return nil, fmt.Errorf("%d executors, the pools' workers %d", n, s.cpus)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOneSubmitterOnce: with -submitters 1 the tiny workload runs and
// prints once; it ran twice under one name, so its second table took each
// repetition's two runs as one peer's, pairing them across in the ratios.
func TestOneSubmitterOnce(t *testing.T) {
	o := tiny()
	o.workloads, o.peers, o.submitters, o.reps = "tiny", "goroutine,chanpool", 1, 2
	var out bytes.Buffer
	if err := run(&out, &bytes.Buffer{}, o); err != nil {
		t.Fatal(err)
	}
	s, err := newSuite(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.tiny(io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "tiny tokens"); n != 1 {
		t.Errorf("%d tiny tables, want 1:\n%s", n, out.String())
	}
	if want := o.reps * 2; len(s.samples) != want {
		t.Errorf("%d samples, want %d (a repetition per peer)", len(s.samples), want)
	}
}

// TestHugeSizesAreFlagErrors: a size far past anything a machine holds is
// an error naming its flag before anything runs, not a crash for want of
// memory (or a -max-wave whose doubling overflows and never ends).
func TestHugeSizesAreFlagErrors(t *testing.T) {
	huge := "1099511627776" // 2^40
	var names []string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := defaults(false)
	bindFlags(fs, &o)
	fs.VisitAll(func(f *flag.Flag) {
		if _, isInt := f.Value.(flag.Getter).Get().(int); isInt && f.Name != "cores" {
			names = append(names, f.Name)
		}
	})
	if len(names) < 30 {
		t.Fatalf("only %d int flags: %v", len(names), names)
	}
	for _, name := range names {
		args := []string{"-suite", suiteAll, "-" + name, huge}
		o, err := parseOptions("bench", args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if _, err := newSuite(o, io.Discard); err == nil || !strings.Contains(err.Error(), "-"+name+" ") {
			t.Errorf("%q: %v, want an error naming -%s", args, err, name)
		}
	}
	// Sizes that are each allowed but together hold too much at once.
	for _, args := range [][]string{
		{"-keys", "1000000", "-block-kib", "1048576"},
		{"-leads", "1000000", "-children", "1000"},
		{"-leads", "1000000", "-buf-kib", "1024"},
	} {
		o, err := parseOptions("bench", args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if _, err := newSuite(o, io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) || !strings.Contains(err.Error(), args[2]) {
			t.Errorf("%q: %v, want an error naming %s and %s", args, err, args[0], args[2])
		}
	}
}

// TestBurstBoundedAsInFlight: a tiny burst holds all of its tokens in
// flight at once (a goroutine each for the baseline), so -tokens is bounded
// as tokens held at once, not as results kept.
func TestBurstBoundedAsInFlight(t *testing.T) {
	o, err := parseOptions("bench", []string{"-tokens", "50000000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newSuite(o, io.Discard); err == nil || !strings.Contains(err.Error(), "-tokens ") {
		t.Fatalf("-tokens 50000000: %v, want an error naming -tokens", err)
	}
}

// TestWaveCountsEveryRound: the waves' header and last line count every
// token the waves ran and checked, each size's rounds included, as -json
// holds them. Found by review: they counted one wave of each size, 124
// tokens where each peer ran 1,116.
func TestWaveCountsEveryRound(t *testing.T) {
	o := tiny()
	o.workloads, o.peers = "waves", "goroutine"
	o.jsonPath = filepath.Join(t.TempDir(), "raw.json")
	var out bytes.Buffer
	if err := run(&out, &bytes.Buffer{}, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var raw struct{ Samples []sample }
	readJSON(t, o.jsonPath, &raw)
	total := 0
	for _, s := range raw.Samples {
		total += s.Tokens * len(s.RoundWallNs)
	}
	for _, want := range []string{fmt.Sprintf(", %d in all,", total), fmt.Sprintf("all %d tokens", total)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q (%d samples in the JSON):\n%s", want, len(raw.Samples), out.String())
		}
	}
}

// readJSON decodes the -json file at path into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestBankTransactionsFitCoregatesMailbox: coregate's bank gives each
// mailbox room for the whole burst, and a mailbox holds at most
// coregate.MaxMailboxSize, so a -transactions past it is a flag error before
// anything runs. Found by review: it passed the check and failed only when
// coregate's bank spawned its teller, after every case before it had run.
func TestBankTransactionsFitCoregatesMailbox(t *testing.T) {
	too := strconv.Itoa(coregate.MaxMailboxSize)
	o, err := parseOptions("bench", []string{"-suite", suiteActors, "-transactions", too}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newSuite(o, io.Discard); err == nil || !strings.Contains(err.Error(), "-transactions ") {
		t.Errorf("-transactions %s: %v, want an error naming -transactions", too, err)
	}
	// Only coregate's bank holds the burst in its mailboxes.
	for _, args := range [][]string{{"-actor-systems", "hollywood"}, {"-actor-cases", "counting"}} {
		o, err := parseOptions("bench", append([]string{"-suite", suiteActors, "-transactions", too}, args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newSuite(o, io.Discard); err != nil {
			t.Errorf("-transactions %s %q: %v", too, args, err)
		}
	}
}
