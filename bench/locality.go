package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate"
)

// localityResult compares anchored placement with plain staggering on the same
// work, in every repetition.
type localityResult struct {
	Workload   string    `json:"workload"` // locality or fanout
	Name       string    `json:"name"`
	Tokens     int       `json:"tokens"`
	Anchored   []float64 `json:"anchored_tokens_per_sec"` // one per repetition
	Plain      []float64 `json:"plain_tokens_per_sec"`
	AnchoredOn string    `json:"anchored_on"` // how placement used the executors, in the last repetition
	Spread     string    `json:"plain_on"`
}

// twiceOp, set by tests, names an op of the locality and fan-out
// workloads whose first token define runs twice, as a broken runtime
// might: their checks must catch it.
var twiceOp string

// define is coregate.Define, but for an op named twiceOp.
func define[A, R any](rt *coregate.Runtime, name string, fn func(context.Context, A) (R, error), opts ...coregate.Option) (*coregate.Op[A, R], error) {
	if name == twiceOp {
		once := fn
		var ran atomic.Bool
		fn = func(ctx context.Context, a A) (R, error) {
			if !ran.Swap(true) {
				once(ctx, a)
			}
			return once(ctx, a)
		}
	}
	return coregate.Define(rt, name, fn, opts...)
}

// block is the state one key owns. Its mutex is needed by plain placement,
// where two tokens of a key may run at once on different executors; sticky
// tokens of a key never overlap, so for them it is never contended.
type block struct {
	mu   sync.Mutex
	data []uint64
}

// runLocality: each of keys keys owns a blockKiB block; every token adds 1 to
// every word of its key's block. Sticky placement keeps a block in one core's
// caches; staggered placement moves it between cores. Both variants run the same
// tokens, and each checks every block afterwards.
func runLocality(rt *coregate.Runtime, keys, blockKiB, tokens, reps int) (localityResult, error) {
	var blocks []*block
	touch := func(_ context.Context, k int) (int, error) {
		b := blocks[k]
		b.mu.Lock()
		for i := range b.data {
			b.data[i]++
		}
		b.mu.Unlock()
		return k, nil
	}
	sticky, err := define(rt, "locality-sticky", touch, coregate.WithSticky())
	if err != nil {
		return localityResult{}, err
	}
	plain, err := define(rt, "locality-plain", touch)
	if err != nil {
		return localityResult{}, err
	}
	res := localityResult{Workload: wLocality, Name: fmt.Sprintf("locality: %d keys x %d KiB, sticky vs staggered", keys, blockKiB), Tokens: tokens}
	// Keys in a fixed pseudo-random order: in key order, round robin would send
	// each key to one executor whenever the executor count divides the key count.
	rng := rand.New(rand.NewPCG(1, 2))
	seq := make([]int, tokens)
	count := make([]uint64, keys)
	for i := range seq {
		seq[i] = rng.IntN(keys)
		count[seq[i]]++
	}
	variants := []struct {
		op    *coregate.Op[int, int]
		rates *[]float64
		on    *string
	}{{plain, &res.Plain, &res.Spread}, {sticky, &res.Anchored, &res.AnchoredOn}}
	err = warmThenTimed(len(variants), reps, func(vi int, record bool) error {
		v := variants[vi]
		blocks = make([]*block, keys)
		for k := range blocks {
			blocks[k] = &block{data: make([]uint64, blockKiB*1024/8)}
		}
		perKey := make([]map[int]bool, keys)
		for k := range perKey {
			perKey[k] = map[int]bool{}
		}
		toks := make([]*coregate.Token[int], tokens)
		start := time.Now()
		for i := range toks {
			if toks[i], err = v.op.Submit(context.Background(), seq[i]); err != nil {
				return err
			}
		}
		for i, tok := range toks {
			k, err := tok.Wait(context.Background())
			if err != nil || k != seq[i] {
				return fmt.Errorf("%s: token %d: %d, %v", v.op.Name(), i, k, err)
			}
			perKey[k][tok.Executor()] = true
		}
		rate := float64(tokens) / time.Since(start).Seconds()
		// A token run twice, or lost and run again, touched its block
		// once more.
		for k, b := range blocks {
			for _, w := range b.data {
				if w != count[k] {
					return fmt.Errorf("%s: key %d's block holds %d, want %d", v.op.Name(), k, w, count[k])
				}
			}
		}
		if record {
			*v.rates, *v.on = append(*v.rates, rate), executorsPerKey(perKey)
		}
		return nil
	})
	return res, err
}

// warmThenTimed runs pass for each of n variants once to warm up, then reps
// times more to record (record true), the variants alternating within each
// repetition, each pass after a GC. Timed once in a fixed order on a fresh
// runtime, the first variant paid for the cold start (parked executors, a
// heap still growing): anchored fan-out measured 1.12-1.25x plain when it
// ran second and 0.87-0.98x when it ran first. A pass's error names its
// repetition, or the warm-up.
func warmThenTimed(n, reps int, pass func(variant int, record bool) error) error {
	for rep := range reps + 1 {
		for i := range n {
			runtime.GC()
			if err := pass(i, rep > 0); err != nil {
				if rep == 0 {
					return fmt.Errorf("warm-up: %w", err)
				}
				return fmt.Errorf("repetition %d: %w", rep, err)
			}
		}
	}
	return nil
}

// executorsPerKey says on how many executors the average key ran.
func executorsPerKey(perKey []map[int]bool) string {
	total := 0
	for _, m := range perKey {
		total += len(m)
	}
	return fmt.Sprintf("%.1f executors per key", float64(total)/float64(len(perKey)))
}

// fanOutBuf is a lead's buffer, and the count of its children that ran: a
// child run twice returns the right sum. The count is the lead's own, not
// the workload's, so that anchored children stay on their lead's cache
// lines.
type fanOutBuf struct {
	data []uint64
	ran  atomic.Int64
}

// runFanOut: each lead writes a buffer of bufKiB and submits children that each
// sum it; the lead checks their sums and their count. Anchored, the children
// run on the lead's executor, where the buffer is in cache; unanchored they
// spread.
func runFanOut(rt *coregate.Runtime, leads, children, bufKiB, reps int) (localityResult, error) {
	sum := func(_ context.Context, buf *fanOutBuf) (uint64, error) {
		var s uint64
		for _, w := range buf.data {
			s += w
		}
		buf.ran.Add(1)
		return s, nil
	}
	child, err := define(rt, "fanout-child", sum)
	if err != nil {
		return localityResult{}, err
	}
	var leadsRan atomic.Int64
	lead := func(ctx context.Context, seed int) ([]int, error) {
		leadsRan.Add(1)
		buf := &fanOutBuf{data: make([]uint64, bufKiB*1024/8)}
		var want uint64
		for i := range buf.data {
			buf.data[i] = uint64(seed + i)
			want += buf.data[i]
		}
		me, _ := coregate.CurrentExecutor(ctx)
		toks := make([]*coregate.Token[uint64], children)
		for i := range toks {
			tok, err := child.Submit(ctx, buf)
			if err != nil {
				return nil, err
			}
			toks[i] = tok
		}
		on := []int{me}
		for _, tok := range toks {
			got, err := tok.Wait(ctx)
			if err != nil {
				return nil, err
			}
			if got != want {
				return nil, fmt.Errorf("fan-out child summed %d, want %d", got, want)
			}
			on = append(on, tok.Executor())
		}
		if n := buf.ran.Load(); n != int64(children) {
			return nil, fmt.Errorf("lead %d: %d children ran, want %d", seed, n, children)
		}
		return on, nil
	}
	anchored, err := define(rt, "fanout-lead-anchored", lead, coregate.WithAnchor("fanout-child"))
	if err != nil {
		return localityResult{}, err
	}
	plain, err := define(rt, "fanout-lead-plain", lead)
	if err != nil {
		return localityResult{}, err
	}
	res := localityResult{Workload: wFanOut, Name: fmt.Sprintf("fan-out: %d leads x %d children on a %d KiB buffer, anchored vs unanchored", leads, children, bufKiB), Tokens: leads * (1 + children)}
	variants := []struct {
		op    *coregate.Op[int, []int]
		rates *[]float64
		on    *string
	}{{plain, &res.Plain, &res.Spread}, {anchored, &res.Anchored, &res.AnchoredOn}}
	err = warmThenTimed(len(variants), reps, func(vi int, record bool) error {
		v := variants[vi]
		toks := make([]*coregate.Token[[]int], leads)
		leadsRan.Store(0)
		start := time.Now()
		for i := range toks {
			if toks[i], err = v.op.Submit(context.Background(), i); err != nil {
				return err
			}
		}
		away := 0
		for _, tok := range toks {
			on, err := tok.Wait(context.Background())
			if err != nil {
				return fmt.Errorf("%s: %w", v.op.Name(), err)
			}
			for _, e := range on[1:] {
				if e != on[0] {
					away++
				}
			}
		}
		elapsed := time.Since(start)
		if n := leadsRan.Load(); n != int64(leads) {
			return fmt.Errorf("%s: %d leads ran, want %d", v.op.Name(), n, leads)
		}
		if record {
			*v.rates = append(*v.rates, float64(res.Tokens)/elapsed.Seconds())
			*v.on = fmt.Sprintf("%.0f%% of children away from their lead", 100*float64(away)/float64(leads*children))
		}
		return nil
	})
	return res, err
}

// printLocality prints each variant's median rate over the repetitions and
// the median of the per-repetition ratios.
func printLocality(w io.Writer, results []localityResult) {
	for _, r := range results {
		var ratios []float64
		for i := range r.Anchored {
			ratios = append(ratios, r.Anchored[i]/r.Plain[i])
		}
		fmt.Fprintf(w, "\n%s (%d tokens), median of %d repetition(s)\n", r.Name, r.Tokens, len(r.Anchored))
		fmt.Fprintf(w, "  anchored   %10.0f tokens/s  (%s)\n", median(r.Anchored), r.AnchoredOn)
		fmt.Fprintf(w, "  plain      %10.0f tokens/s  (%s)\n", median(r.Plain), r.Spread)
		fmt.Fprintf(w, "  ratio      %10.2fx\n", median(ratios))
	}
}
