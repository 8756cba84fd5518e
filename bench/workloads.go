package main

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sample is one measurement: one workload (one wave of the waves workload) on
// one peer in one repetition. Durations are in nanoseconds.
type sample struct {
	Workload       string  `json:"workload"`
	Peer           string  `json:"peer"`
	Rep            int     `json:"rep"`
	Wave           int     `json:"wave,omitempty"`
	Tokens         int     `json:"tokens"`
	Workers        int     `json:"workers"`
	WallNs         int64   `json:"wall_ns"`
	NsPerToken     float64 `json:"ns_per_token"`
	TokensPerSec   float64 `json:"tokens_per_sec"`
	AllocsPerToken float64 `json:"allocs_per_token"`
	P50Ns          int64   `json:"p50_ns,omitempty"`
	P99Ns          int64   `json:"p99_ns,omitempty"`
	P999Ns         int64   `json:"p999_ns,omitempty"`
	Overlap        float64 `json:"overlap,omitempty"`
	Efficiency     float64 `json:"efficiency,omitempty"`
	CPUCores       float64 `json:"cpu_cores,omitempty"`     // process CPU time over wall time (latency)
	RoundWallNs    []int64 `json:"round_wall_ns,omitempty"` // waves: every round's wall time, in the order run; the sample is the median round's

	// Latency, where threads' CPUs can be read: of the CPUKnown probes, the
	// share OwnCPU that started on the CPU their submitter ran on just
	// before submitting, the p50 of those, and the p50 and p99 of the others.
	CPUKnown      int     `json:"cpu_known,omitempty"`
	OwnCPU        float64 `json:"own_cpu,omitempty"`
	OwnCPUP50Ns   int64   `json:"own_cpu_p50_ns,omitempty"`
	OtherCPUP50Ns int64   `json:"other_cpu_p50_ns,omitempty"`
	OtherCPUP99Ns int64   `json:"other_cpu_p99_ns,omitempty"`
}

// Workload names, as -workloads takes them and tables show them.
const (
	wTiny     = "tiny"
	wCPU      = "cpu"
	wBlocking = "blocking"
	wWaves    = "waves"
	wLatency  = "latency"
	wLocality = "locality"
	wFanOut   = "fanout"
)

var workloadNames = []string{wTiny, wCPU, wBlocking, wWaves, wLatency, wLocality, wFanOut}

// timed runs body between two reads of the allocation counter and the clock,
// after a GC so garbage from earlier measurements is not charged to it.
func timed(body func() error) (wall time.Duration, mallocs uint64, err error) {
	return timedWarm(0, body)
}

// timedWarm is timed with warm bytes of the heap made resident first (see
// warmHeap): a measurement that grows the heap by about that much then
// pays the same page faults whichever peer ran before it.
func timedWarm(warm int, body func() error) (wall time.Duration, mallocs uint64, err error) {
	var before, after runtime.MemStats
	runtime.GC()
	if warm > 0 {
		warmHeap(warm)
		runtime.GC()
	}
	runtime.ReadMemStats(&before)
	start := time.Now()
	err = body()
	wall = time.Since(start)
	runtime.ReadMemStats(&after)
	return wall, after.Mallocs - before.Mallocs, err
}

// withPeer opens a fresh peer for one measurement and closes it after.
func withPeer(mk func() peer, workers int, job func(int) int, body func(p peer) error) error {
	return withPeerOpened(mk, func(p peer) error { return p.open(workers, job) }, body)
}

// blockingPeer is a peer with its own way to run blocking jobs (coregate's
// blocking lane, WithBlocking).
type blockingPeer interface {
	openBlocking(workers int, job func(int) int) error
}

// withBlockingPeer is withPeer for a blocking job: a peer that has a blocking
// mode opens in it.
func withBlockingPeer(mk func() peer, workers int, job func(int) int, body func(p peer) error) error {
	return withPeerOpened(mk, func(p peer) error {
		if bp, ok := p.(blockingPeer); ok {
			return bp.openBlocking(workers, job)
		}
		return p.open(workers, job)
	}, body)
}

func withPeerOpened(mk func() peer, open func(peer) error, body func(p peer) error) error {
	p := mk()
	if err := open(p); err != nil {
		return err
	}
	err := body(p)
	if cerr := p.close(); err == nil {
		err = cerr
	}
	return err
}

// chunked runs [lo, hi) on p in batches of window, so at most window tokens
// are in flight per submitter (a goroutine per task could otherwise hold
// hundreds of thousands of stacks at once).
func chunked(p peer, lo, hi, window int, res []int) error {
	for c := lo; c < hi; c += window {
		if err := p.batch(c, min(c+window, hi), res, nil); err != nil {
			return err
		}
	}
	return nil
}

// noResult fills res with a value no job returns, so a token that never
// stored its result fails checkResults even where the right result is 0
// (token 0 of the waves, the blocking and the latency workloads).
func noResult(res []int) []int {
	for i := range res {
		res[i] = math.MinInt
	}
	return res
}

// checkResults reports the first token whose result is not want(i).
func checkResults(res []int, want func(i int) int) error {
	for i, v := range res {
		if w := want(i); v != w {
			return fmt.Errorf("token %d returned %d, want %d", i, v, w)
		}
	}
	return nil
}

// checkRan reports a measurement whose peer ran other than n jobs, which
// its jobs counted in ran. The result checks cannot tell a token whose job
// ran twice (or ran, and was reported lost and submitted again): its
// result is right.
func checkRan(ran *atomic.Int64, n int) error {
	if c := ran.Load(); c != int64(n) {
		return fmt.Errorf("%d jobs ran for %d tokens", c, n)
	}
	return nil
}

func tinyResult(i int) int { return i ^ 0x5bd1 }

// runTiny is issue 15's burst: n tokens whose work is an atomic add and
// whose result is checked, from submitters goroutines, each of which submits
// all of its share and then awaits them (one batch each). It once kept 1,024
// tokens in flight per submitter, a windowed submit-and-wait that the README
// quoted as the burst.
func runTiny(mk func() peer, workers, n, submitters int) (sample, error) {
	var counter atomic.Int64
	job := func(i int) int { counter.Add(1); return tinyResult(i) }
	res := noResult(make([]int, n))
	var s sample
	err := withPeer(mk, workers, job, func(p peer) error {
		wall, mallocs, err := timedWarm(n*burstBytes, func() error {
			errs := make([]error, submitters)
			var wg sync.WaitGroup
			for k := range submitters {
				wg.Go(func() { errs[k] = p.batch(k*n/submitters, (k+1)*n/submitters, res, nil) })
			}
			wg.Wait()
			return firstError(errs)
		})
		if err != nil {
			return err
		}
		if err := checkRan(&counter, n); err != nil {
			return err
		}
		s = perToken(n, workers, wall, mallocs)
		return checkResults(res, tinyResult)
	})
	return s, err
}

// burstBytes is the heap a burst's token is given resident before it is
// measured (see warmHeap): more than any peer's future and queue slot take,
// less than a goroutine's stack.
const burstBytes = 256

// warmHeap makes about n bytes of the heap resident and free: it allocates
// them in 1 MiB blocks, writes a byte in every 4 KiB page, and drops them
// for the caller's next GC to free. The runtime's scavenger gives free
// memory back to the OS in the background, and on a virtual machine the
// page fault that takes a page back costs about 10 µs (this VM, 2026-12-01):
// a burst of 200,000 tokens grows the heap by tens of MiB, so without this
// its figure turned on how much the scavenger had given back since the peer
// before it (coregate's burst took 680 ns a token after hollywood's and 320
// after its own; hollywood's 330 against 210, warm).
func warmHeap(n int) {
	const block, page = 1 << 20, 4 << 10
	blocks := make([][]byte, 0, (n+block-1)/block)
	for range cap(blocks) {
		b := make([]byte, block)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		blocks = append(blocks, b)
	}
	runtime.KeepAlive(blocks)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func perToken(n, workers int, wall time.Duration, mallocs uint64) sample {
	return sample{
		Tokens: n, Workers: workers, WallNs: int64(wall),
		NsPerToken:     float64(wall) / float64(n),
		TokensPerSec:   float64(n) / wall.Seconds(),
		AllocsPerToken: float64(mallocs) / float64(n),
	}
}

// spin is the CPU workload: iters rounds of a 64-bit LCG seeded with i; its
// result depends on every round, so it cannot be skipped.
func spin(i, iters int) int {
	x := uint64(i) + 1
	for range iters {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return int(x >> 1)
}

// sink keeps calibration results alive, so the compiler cannot drop the work.
var sink int

// calibrate returns the spin iterations that take about d on this machine,
// and what one such token then costs, measured on one goroutine: the
// fastest of several rounds, since a shared machine only ever adds time (a
// round slowed by a neighbour made efficiencies of over 100%).
func calibrate(d time.Duration) (iters int, cost time.Duration) {
	iters = 1000
	for {
		const reps = 200
		start := time.Now()
		for i := range reps {
			sink += spin(i, iters)
		}
		per := time.Since(start) / reps
		if per >= d/2 || iters > 1<<30 {
			iters = int(float64(iters) * float64(d) / float64(max(per, 1)))
			break
		}
		iters *= 4
	}
	const rounds, reps = 20, 20
	cost = time.Duration(math.MaxInt64)
	for range rounds {
		start := time.Now()
		for i := range reps {
			sink += spin(i, iters)
		}
		cost = min(cost, time.Since(start)/reps)
	}
	return iters, cost
}

// runCPU: n tokens of cost each from one submitter, in batches of 64 per
// worker, each awaited before the next is submitted (chunked). Efficiency is the ideal parallel time on cpus CPUs (n*cost/cpus) divided by
// the wall time.
func runCPU(mk func() peer, workers, cpus, n, iters int, cost time.Duration, want []int) (sample, error) {
	var ran atomic.Int64
	job := func(i int) int { ran.Add(1); return spin(i, iters) }
	res := noResult(make([]int, n))
	var s sample
	err := withPeer(mk, workers, job, func(p peer) error {
		wall, mallocs, err := timed(func() error { return chunked(p, 0, n, 64*workers, res) })
		if err != nil {
			return err
		}
		if err := checkRan(&ran, n); err != nil {
			return err
		}
		s = perToken(n, workers, wall, mallocs)
		s.Efficiency = float64(n) * float64(cost) / float64(cpus) / float64(wall)
		return checkResults(res, func(i int) int { return want[i] })
	})
	return s, err
}

// runBlocking: n tokens that each sleep d, in batches of concurrency, each
// awaited before the next (chunked). concurrency is also the pools' worker
// count and coregate's Config.BlockingWorkers (its op runs WithBlocking).
func runBlocking(mk func() peer, concurrency, n int, d time.Duration) (sample, error) {
	var ran atomic.Int64
	job := func(i int) int { ran.Add(1); time.Sleep(d); return i }
	res := noResult(make([]int, n))
	var s sample
	err := withBlockingPeer(mk, concurrency, job, func(p peer) error {
		wall, mallocs, err := timed(func() error { return chunked(p, 0, n, concurrency, res) })
		if err != nil {
			return err
		}
		if err := checkRan(&ran, n); err != nil {
			return err
		}
		s = perToken(n, concurrency, wall, mallocs)
		s.Efficiency = float64(n) * float64(d) / float64(concurrency) / float64(wall)
		return checkResults(res, func(i int) int { return i })
	})
	return s, err
}

// wave holds one wave's per-token timestamps, measured from base on the
// monotonic clock, and when the submitter held every result (returned).
// Token i writes only slot i, and the slots are read after the wave
// completed, so no locking is needed.
type wave struct {
	base               time.Time
	submit, start, end []time.Duration
	returned           time.Duration
}

// waveTokens bounds the tokens of the rounds runWaves times for one wave
// size: small waves get up to maxWaveRounds rounds, the largest one.
const (
	waveTokens    = 1 << 16
	maxWaveRounds = 9
)

// waveRounds is how many rounds runWaves times a wave of n tokens.
func waveRounds(n int) int { return min(max(waveTokens/n, 1), maxWaveRounds) }

// runWaves: waves of minWave, 2*minWave, ... maxWave tokens, each submitted
// at once and timed from before its first submit to its last result, when
// the submitter holds every result (issue 15: "submit to last result"; the
// wave was once timed to the last token's end inside its job, which left
// out handing the results back and waking the submitter).
// Each size runs several rounds back to back after one GC, and its sample is
// the round of median wall time: one wave alone is too short to stand for
// the size, and a wave just after a GC's stop-the-world measures the
// scheduler handing Ps back, not the peer (a service fanning out each
// request meets a GC once in many requests).
func runWaves(mk func() peer, workers, minWave, maxWave int) ([]sample, error) {
	var cur *wave
	var ran atomic.Int64
	job := func(i int) int {
		w := cur
		w.start[i] = time.Since(w.base)
		r := i * 2 // the work: tiny, and checkable
		w.end[i] = time.Since(w.base)
		ran.Add(1) // outside the token's busy time
		return r
	}
	var out []sample
	err := withPeer(mk, workers, job, func(p peer) error {
		for n := minWave; n <= maxWave; n *= 2 {
			rounds := waveRounds(n)
			waves, results := make([]*wave, rounds), make([][]int, rounds)
			for r := range rounds {
				waves[r] = &wave{submit: make([]time.Duration, n), start: make([]time.Duration, n), end: make([]time.Duration, n)}
				results[r] = noResult(make([]int, n))
			}
			// One count of allocations over the rounds, whose reads stop
			// the world: not between rounds.
			var m0, m1 runtime.MemStats
			ran.Store(0)
			runtime.GC()
			runtime.ReadMemStats(&m0)
			for r, w := range waves {
				cur = w
				before := func(i int) { w.submit[i] = time.Since(w.base) }
				w.base = time.Now()
				if err := p.batch(0, n, results[r], before); err != nil {
					return err
				}
				w.returned = time.Since(w.base)
			}
			runtime.ReadMemStats(&m1)
			if err := checkRan(&ran, rounds*n); err != nil {
				return fmt.Errorf("wave %d: %w", n, err)
			}
			samples, walls := make([]sample, rounds), make([]int64, rounds)
			for r, w := range waves {
				if err := checkResults(results[r], func(i int) int { return 2 * i }); err != nil {
					return fmt.Errorf("wave %d: %w", n, err)
				}
				samples[r] = w.sample(workers)
				// The rounds' count over all of their tokens: divided by
				// the rounds first, in integers, it lost what came to
				// less than one allocation a round.
				samples[r].AllocsPerToken = float64(m1.Mallocs-m0.Mallocs) / float64(rounds*n)
				walls[r] = samples[r].WallNs
			}
			// The round of nearest-rank median wall time, as percentile
			// takes a p50: the lower middle one of an even count, so of
			// two rounds the faster, not the slower.
			slices.SortFunc(samples, func(a, b sample) int { return cmp.Compare(a.WallNs, b.WallNs) })
			med := samples[(rounds-1)/2]
			med.RoundWallNs = walls
			out = append(out, med)
		}
		return nil
	})
	return out, err
}

// sample is the wave's figures but its allocations, which runWaves counts
// over all of a size's rounds.
func (w *wave) sample(workers int) sample {
	n := len(w.submit)
	lat := make([]time.Duration, n)
	var busy time.Duration
	for i := range n {
		lat[i] = w.end[i] - w.submit[i]
		busy += w.end[i] - w.start[i]
	}
	wall := w.returned // from before the first submit to the last result
	s := perToken(n, workers, wall, 0)
	s.Wave = n
	s.Overlap = float64(busy) / float64(wall)
	slices.Sort(lat)
	s.P50Ns, s.P99Ns = int64(percentile(lat, 0.50)), int64(percentile(lat, 0.99))
	return s
}

// load runs batches of tokens [lo, hi) on p, checking each batch's results,
// until stop is closed.
func load(p peer, lo, hi int, res []int, iters int, stop <-chan struct{}, rounds *atomic.Int64) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		noResult(res[lo:hi]) // a round's results, not the last round's, are checked
		if err := p.batch(lo, hi, res, nil); err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			if res[i] != spin(i, iters) {
				return fmt.Errorf("background token %d returned %d", i, res[i])
			}
		}
		rounds.Add(1)
	}
}

// cpuTime returns the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wait pauses for d. A short pause yields the processor in a loop instead of
// sleeping: time.Sleep rounds a 20 µs sleep up to about a millisecond on a
// Linux VM once every P is idle, which would turn "a token every 20 µs" into
// a token every millisecond. Yielding also lets a goroutine peer's new
// goroutine run at once, as a real caller that goes on working would.
func wait(d time.Duration) {
	if d >= time.Millisecond {
		time.Sleep(d)
		return
	}
	for t := time.Now(); time.Since(t) < d; {
		runtime.Gosched()
	}
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: the ceil(p*n)-th smallest of n, the smallest sample with at least
// a share p of them at or below it. Rounding p*n instead would report the
// p99 of 60 probes, or of a wave of 64 tokens, as the second largest. The
// small epsilon keeps a product that floating point puts a hair above an
// integer (0.99*300) on that integer.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(float64(len(sorted))*p - 1e-9))
	return sorted[max(0, min(rank-1, len(sorted)-1))]
}

// cpuSplit is how probes' latencies split by where they started.
type cpuSplit struct {
	known                      int     // probes whose two CPUs were read
	own                        float64 // share of those that started on their submitter's CPU
	ownP50, otherP50, otherP99 time.Duration
}

// splitByCPU splits lat by whether probe i started on the CPU its submitter
// ran on just before submitting (start[i] == sub[i]); a CPU of -1 (not
// read) leaves the probe out. A thread that shares its CPU with the
// submitter can start only when the OS takes the CPU from the submitter.
func splitByCPU(lat []time.Duration, sub, start []int) cpuSplit {
	var own, other []time.Duration
	for i, l := range lat {
		switch {
		case sub[i] < 0 || start[i] < 0:
		case sub[i] == start[i]:
			own = append(own, l)
		default:
			other = append(other, l)
		}
	}
	var s cpuSplit
	if s.known = len(own) + len(other); s.known == 0 {
		return s
	}
	s.own = float64(len(own)) / float64(s.known)
	if len(own) > 0 {
		slices.Sort(own)
		s.ownP50 = percentile(own, 0.50)
	}
	if len(other) > 0 {
		slices.Sort(other)
		s.otherP50, s.otherP99 = percentile(other, 0.50), percentile(other, 0.99)
	}
	return s
}

// runLatency measures submit-to-start of probes tokens submitted one at a
// time, pause apart. Busy, two background submitters each keep a batch of
// workers tokens of about a microsecond in flight meanwhile, taking turns, so
// the workers are not left idle while one of them checks its batch.
func runLatency(mk func() peer, workers, probes int, pause time.Duration, busy bool, busyIters int) (sample, error) {
	base := time.Now()
	submit := make([]time.Duration, probes)
	start := make([]time.Duration, probes)
	// The CPUs are read outside the timed span: before the submit time, after the start time.
	subCPU, startCPU := make([]int, probes), make([]int, probes)
	var ran atomic.Int64
	job := func(i int) int {
		defer ran.Add(1) // after the start time is read
		if i < probes {
			start[i] = time.Since(base)
			startCPU[i] = currentCPU()
			return i
		}
		return spin(i, busyIters)
	}
	const loaders = 2
	res := noResult(make([]int, probes+loaders*workers))
	var s sample
	err := withPeer(mk, workers, job, func(p peer) error {
		stop := make(chan struct{})
		bgErr := make(chan error, loaders)
		var bgRounds atomic.Int64
		if busy {
			for l := range loaders {
				go func() { bgErr <- load(p, probes+l*workers, probes+(l+1)*workers, res, busyIters, stop, &bgRounds) }()
			}
			time.Sleep(pause) // let the load build up
		}
		before := func(i int) {
			subCPU[i] = currentCPU()
			submit[i] = time.Since(base)
		}
		var cpu0 time.Duration
		wall, mallocs, err := timed(func() error {
			cpu0 = cpuTime() // after timed's GC
			for i := range probes {
				if err := p.batch(i, i+1, res, before); err != nil {
					return err
				}
				wait(pause)
			}
			return nil
		})
		if busy {
			close(stop)
			for range loaders {
				if berr := <-bgErr; err == nil {
					err = berr
				}
			}
			if err == nil && bgRounds.Load() == 0 {
				err = fmt.Errorf("the background load never completed a round")
			}
		}
		if err != nil {
			return err
		}
		// Each background round is a batch of workers tokens.
		if err := checkRan(&ran, probes+int(bgRounds.Load())*workers); err != nil {
			return err
		}
		if err := checkResults(res[:probes], func(i int) int { return i }); err != nil {
			return err
		}
		lat := make([]time.Duration, probes)
		for i := range lat {
			lat[i] = start[i] - submit[i]
		}
		split := splitByCPU(lat, subCPU, startCPU)
		slices.Sort(lat)
		s = perToken(probes, workers, wall, mallocs)
		s.CPUKnown, s.OwnCPU = split.known, split.own
		s.OwnCPUP50Ns, s.OtherCPUP50Ns, s.OtherCPUP99Ns = int64(split.ownP50), int64(split.otherP50), int64(split.otherP99)
		s.CPUCores = float64(cpuTime()-cpu0) / float64(wall)
		s.P50Ns, s.P99Ns, s.P999Ns = int64(percentile(lat, 0.50)), int64(percentile(lat, 0.99)), int64(percentile(lat, 0.999))
		return nil
	})
	return s, err
}
