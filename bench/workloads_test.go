package main

import (
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lossyPeer is a goroutine per task that drops token 0: it never runs it
// and never stores its result, yet reports the batch complete.
type lossyPeer struct{ goroutinePeer }

func (p *lossyPeer) batch(lo, hi int, res []int, before func(int)) error {
	if lo == 0 {
		if before != nil {
			before(0)
		}
		lo++
	}
	return p.goroutinePeer.batch(lo, hi, res, before)
}

// wrongPeer is a goroutine per task that runs every token but stores a
// wrong result for the last one of each batch.
type wrongPeer struct{ goroutinePeer }

func (p *wrongPeer) batch(lo, hi int, res []int, before func(int)) error {
	err := p.goroutinePeer.batch(lo, hi, res, before)
	res[hi-1]++
	return err
}

// twicePeer is a goroutine per task that runs the first token of each
// batch twice, as a peer that ran a token it then reported lost and
// resubmitted: every result is right.
type twicePeer struct{ goroutinePeer }

func (p *twicePeer) batch(lo, hi int, res []int, before func(int)) error {
	p.job(lo)
	return p.goroutinePeer.batch(lo, hi, res, before)
}

// tokenRuns runs each token workload at a tiny size on the peer mk makes.
func tokenRuns() map[string]func(mk func() peer) error {
	const cpuIters = 10
	cpuWant := make([]int, 10)
	for i := range cpuWant {
		cpuWant[i] = spin(i, cpuIters)
	}
	return map[string]func(mk func() peer) error{
		"tiny": func(mk func() peer) error { _, err := runTiny(mk, 2, 100, 1); return err },
		"cpu": func(mk func() peer) error {
			_, err := runCPU(mk, 2, 2, 10, cpuIters, time.Microsecond, cpuWant)
			return err
		},
		"blocking":     func(mk func() peer) error { _, err := runBlocking(mk, 4, 10, time.Microsecond); return err },
		"waves":        func(mk func() peer) error { _, err := runWaves(mk, 2, 4, 8); return err },
		"latency":      func(mk func() peer) error { _, err := runLatency(mk, 2, 5, 0, false, 10); return err },
		"latency-busy": func(mk func() peer) error { _, err := runLatency(mk, 2, 5, 0, true, 10); return err },
	}
}

// TestLostTokenFails: a token that never ran, or one whose result is
// wrong, fails every workload, also where its right result is the zero
// value of an unwritten slot (token 0 of the waves, the blocking and the
// latency workloads); the same runs on a faithful peer pass, so each
// failure is the fault's. (The cpu case once expected zeros, so it failed
// on token 1 whatever the peer did.)
func TestLostTokenFails(t *testing.T) {
	runs := tokenRuns()
	for name, run := range runs {
		if err := run(func() peer { return &goroutinePeer{} }); err != nil {
			t.Errorf("%s: a faithful peer failed: %v", name, err)
		}
		if name == "latency-busy" {
			continue // the lossy peer drops token 0, a probe: "latency" has it
		}
		if err := run(func() peer { return &lossyPeer{} }); err == nil {
			t.Errorf("%s: a lost token passed the check", name)
		}
	}
	for name, run := range runs {
		if err := run(func() peer { return &wrongPeer{} }); err == nil {
			t.Errorf("%s: a wrong result passed the check", name)
		}
	}
}

// TestTokenRunTwiceFails: a token whose job ran twice fails every
// workload, though its result is right. Found by review: only the tiny
// workload counted the jobs that ran; the others checked results alone.
func TestTokenRunTwiceFails(t *testing.T) {
	for name, run := range tokenRuns() {
		if err := run(func() peer { return &twicePeer{} }); err == nil || !strings.Contains(err.Error(), "jobs ran for") {
			t.Errorf("%s: a token run twice gave %v, want a count of the jobs that ran", name, err)
		}
	}
	// Through the suite, the failure names the workload, the peer and
	// the repetition.
	addPeer(t, "twice", func() peer { return &twicePeer{} })
	for _, w := range []string{wTiny, wCPU, wBlocking, wWaves, wLatency} {
		o := tiny()
		o.workloads, o.peers = w, "twice"
		if err := run(io.Discard, io.Discard, o); err == nil || !strings.Contains(err.Error(), ": twice, repetition 1: ") || !strings.HasPrefix(err.Error(), w) || !strings.Contains(err.Error(), "jobs ran for") {
			t.Errorf("%s: the run returned %v, want the workload, the peer and the repetition named", w, err)
		}
	}
}

// addPeer adds a peer to the suite's list for the test.
func addPeer(t *testing.T, name string, mk func() peer) {
	saved := peers
	t.Cleanup(func() { peers = saved })
	peers = append(slices.Clip(peers), struct {
		name string
		make func(int) peer
		note string
	}{name, func(int) peer { return mk() }, "a test's"})
}

// TestPercentileNearestRank checks percentile against the definition, in
// integers: the p-th percentile of n samples is the smallest one with at
// least p*n of them at or below it. Rounding p*n instead of taking its
// ceiling gave the p99 of 51 to 99 samples (a wave of 64 tokens, -probes 60)
// as the second largest, and the p99.9 of 600 probes as the 599th.
func TestPercentileNearestRank(t *testing.T) {
	for n := 1; n <= 2000; n++ {
		sorted := make([]time.Duration, n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		for _, perMille := range []int{500, 990, 999} {
			var want time.Duration
			for i, v := range sorted {
				if (i+1)*1000 >= perMille*n {
					want = v
					break
				}
			}
			if got := percentile(sorted, float64(perMille)/1000); got != want {
				t.Fatalf("p%g of samples 1 to %d: got %d, want %d", float64(perMille)/10, n, got, want)
			}
		}
	}
}

// batchRecorder is a goroutine per task that records the size of every
// batch it is given.
type batchRecorder struct {
	goroutinePeer
	mu    sync.Mutex
	sizes []int
}

func (p *batchRecorder) batch(lo, hi int, res []int, before func(int)) error {
	p.mu.Lock()
	p.sizes = append(p.sizes, hi-lo)
	p.mu.Unlock()
	return p.goroutinePeer.batch(lo, hi, res, before)
}

// TestTinyIsABurst: issue 15's burst submits every token of a submitter
// before it awaits any, so each submitter hands its whole share to the peer
// as one batch. The workload once kept 1,024 tokens in flight per
// submitter, a windowed submit-and-wait, while the README quoted it as the
// burst.
func TestTinyIsABurst(t *testing.T) {
	for _, subs := range []int{1, 4} {
		const n = 5000
		rec := &batchRecorder{}
		if _, err := runTiny(func() peer { return rec }, 2, n, subs); err != nil {
			t.Fatal(err)
		}
		if len(rec.sizes) != subs {
			t.Errorf("%d submitter(s): batches of %v, want %d batch(es) of %d", subs, rec.sizes, subs, n/subs)
		}
	}
}

// slowReturnPeer is a goroutine per task whose batch returns its results
// only a while after the last token completed, as a peer that is slow to
// wake its waiter.
type slowReturnPeer struct{ goroutinePeer }

const slowReturn = 20 * time.Millisecond

func (p *slowReturnPeer) batch(lo, hi int, res []int, before func(int)) error {
	err := p.goroutinePeer.batch(lo, hi, res, before)
	time.Sleep(slowReturn)
	return err
}

// TestWaveTimedToLastResult: issue 15 times a wave from its first submit to
// its last result, the moment the submitter holds every result. The wave
// was timed to the last token's end inside its job instead, so a peer slow
// to hand the results back looked as fast as one that was not.
func TestWaveTimedToLastResult(t *testing.T) {
	out, err := runWaves(func() peer { return &slowReturnPeer{} }, 2, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out {
		if time.Duration(s.WallNs) < slowReturn {
			t.Errorf("wave of %d: timed %v, but its results came back after %v at the earliest", s.Wave, time.Duration(s.WallNs), slowReturn)
		}
	}
}

// alternatingPeer runs each job on the submitter's goroutine, and every
// second batch it is given returns delay late.
type alternatingPeer struct {
	job     func(int) int
	batches int
	delay   time.Duration
}

func (p *alternatingPeer) open(_ int, job func(int) int) error { p.job = job; return nil }
func (p *alternatingPeer) close() error                        { return nil }

func (p *alternatingPeer) batch(lo, hi int, res []int, before func(int)) error {
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		res[i] = p.job(i)
	}
	if p.batches++; p.batches%2 == 0 {
		time.Sleep(p.delay)
	}
	return nil
}

// TestWaveMedianRound: a wave size timed over an even number of rounds
// shows the round of nearest-rank median wall time, the lower middle one,
// as percentile takes a p50. Found by review: of a size's two rounds
// (32,768 tokens) the table showed the slower.
func TestWaveMedianRound(t *testing.T) {
	const n, delay = 32768, 300 * time.Millisecond // 2 rounds: waveTokens/n
	p := &alternatingPeer{delay: delay}
	out, err := runWaves(func() peer { return p }, 2, n, n)
	if err != nil {
		t.Fatal(err)
	}
	if p.batches != 2 || len(out) != 1 {
		t.Fatalf("%d rounds and %d samples, want 2 rounds and 1 sample", p.batches, len(out))
	}
	if wall := time.Duration(out[0].WallNs); wall >= delay {
		t.Fatalf("wave of %d: the round shown took %v, the slower of two (the faster took under %v)", n, wall, delay)
	}
	// -json keeps every round's wall time, in the order run.
	if r := out[0].RoundWallNs; len(r) != 2 || r[0] != out[0].WallNs || time.Duration(r[1]) < delay {
		t.Fatalf("rounds' wall times %v, want the shown round's %d, then one of at least %v", r, out[0].WallNs, delay)
	}
}

// TestWarmHeapLeavesPagesResident checks what the burst's warm-up is for:
// once warmHeap(n) and a GC have run, about n bytes of the heap are free
// and still resident (not given back to the OS), so the burst's allocations
// take them without a page fault. It starts from a heap with every free
// page given back, as the scavenger leaves it after a quiet while.
func TestWarmHeapLeavesPagesResident(t *testing.T) {
	free := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	const n = 32 << 20
	debug.FreeOSMemory() // a GC, and every free page given back
	before := free()
	warmHeap(n)
	runtime.GC()
	if got := free(); got < before+n/2 {
		t.Fatalf("free resident heap after warmHeap(%d MiB): %d MiB, before %d MiB; want at least %d MiB more", n>>20, got>>20, before>>20, n>>21)
	}
}

// allocSink keeps firstAllocPeer's allocations on the heap.
var allocSink [][]byte

// firstAllocPeer runs each job on the submitter's goroutine and allocates
// extra objects during its first batch only.
type firstAllocPeer struct {
	alternatingPeer
	extra int
}

func (p *firstAllocPeer) batch(lo, hi int, res []int, before func(int)) error {
	if p.batches == 0 {
		for range p.extra {
			allocSink = append(allocSink[:0], make([]byte, 64))
		}
	}
	return p.alternatingPeer.batch(lo, hi, res, before)
}

// TestWaveAllocsNotTruncated: a wave size's allocations per token are its
// rounds' allocations over their tokens. Found by review: the count was
// divided by the rounds in integers first, so allocations that did not
// come to one per round went missing (4 in the 9 rounds of a wave of 4:
// 0.11 of an allocation per token, on top of what each round makes).
func TestWaveAllocsNotTruncated(t *testing.T) {
	const n, extra = 4, 4
	rounds := waveRounds(n)
	perRun := func(extra int) float64 {
		allocSink = make([][]byte, 0, 1)
		out, err := runWaves(func() peer { return &firstAllocPeer{extra: extra} }, 2, n, n)
		if err != nil || len(out) != 1 {
			t.Fatalf("%v, %d samples", err, len(out))
		}
		return out[0].AllocsPerToken * float64(n*rounds) // every round's allocations
	}
	perRun(0) // the first run's one-time allocations
	without, with := perRun(0), perRun(extra)
	if d := math.Round(with - without); d < extra/2 {
		t.Fatalf("%d extra allocations in %d rounds of %d tokens counted as %v (%v against %v)", extra, rounds, n, d, with, without)
	}
}

// stuckPeer is a goroutine per task that loses token 0: it never runs it,
// and its batch waits for it until release is closed, as a peer that lost
// a token waits for it forever. closed is closed when the peer is.
type stuckPeer struct {
	goroutinePeer
	release <-chan struct{}
	closed  chan<- struct{}
}

func (p *stuckPeer) batch(lo, hi int, res []int, before func(int)) error {
	err := p.goroutinePeer.batch(max(lo, 1), hi, res, before)
	if lo == 0 {
		<-p.release
	}
	return err
}

func (p *stuckPeer) close() error { close(p.closed); return nil }

// TestLostTokenTimesOut: a peer that never completes a token fails the run
// once a measurement took -token-timeout, with the workload and the peer
// named. Found by review: every peer waits for its tokens without a
// deadline (a WaitGroup, a future, Token.Wait with context.Background), so
// a token lost by a broken coregate hung the suite on its progress line.
func TestLostTokenTimesOut(t *testing.T) {
	release, closed := make(chan struct{}), make(chan struct{})
	var made atomic.Bool
	t.Cleanup(func() {
		close(release) // the stuck measurement ends and closes its peer
		if made.Load() {
			<-closed
		}
	})
	addPeer(t, "stuck", func() peer {
		made.Store(true)
		return &stuckPeer{release: release, closed: closed}
	})
	o := tiny()
	o.workloads, o.peers, o.timeout = wTiny, "stuck", 50*time.Millisecond
	errc := make(chan error, 1)
	go func() { errc <- run(io.Discard, io.Discard, o) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "tiny: stuck, repetition 1: not done after 50ms (-token-timeout)") {
			t.Fatalf("run returned %v, want a timeout naming the workload and the peer", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run still waits for the lost token a minute after its 50ms -token-timeout")
	}
}
