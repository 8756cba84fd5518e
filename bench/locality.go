package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
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
	sticky, err := coregate.Define(rt, "locality-sticky", touch, coregate.WithSticky())
	if err != nil {
		return localityResult{}, err
	}
	plain, err := coregate.Define(rt, "locality-plain", touch)
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
				return fmt.Errorf("locality token %d: %d, %v", i, k, err)
			}
			perKey[k][tok.Executor()] = true
		}
		rate := float64(tokens) / time.Since(start).Seconds()
		for k, b := range blocks {
			for _, w := range b.data {
				if w != count[k] {
					return fmt.Errorf("locality: key %d's block holds %d, want %d", k, w, count[k])
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
// ran second and 0.87-0.98x when it ran first.
func warmThenTimed(n, reps int, pass func(variant int, record bool) error) error {
	for rep := range reps + 1 {
		for i := range n {
			runtime.GC()
			if err := pass(i, rep > 0); err != nil {
				return err
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

// runFanOut: each lead writes a buffer of bufKiB and submits children that each
// sum it; the lead checks their sums. Anchored, the children run on the lead's
// executor, where the buffer is in cache; unanchored they spread.
func runFanOut(rt *coregate.Runtime, leads, children, bufKiB, reps int) (localityResult, error) {
	sum := func(_ context.Context, buf []uint64) (uint64, error) {
		var s uint64
		for _, w := range buf {
			s += w
		}
		return s, nil
	}
	child, err := coregate.Define(rt, "fanout-child", sum)
	if err != nil {
		return localityResult{}, err
	}
	lead := func(ctx context.Context, seed int) ([]int, error) {
		buf := make([]uint64, bufKiB*1024/8)
		var want uint64
		for i := range buf {
			buf[i] = uint64(seed + i)
			want += buf[i]
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
		return on, nil
	}
	anchored, err := coregate.Define(rt, "fanout-lead-anchored", lead, coregate.WithAnchor("fanout-child"))
	if err != nil {
		return localityResult{}, err
	}
	plain, err := coregate.Define(rt, "fanout-lead-plain", lead)
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
				return err
			}
			for _, e := range on[1:] {
				if e != on[0] {
					away++
				}
			}
		}
		if record {
			*v.rates = append(*v.rates, float64(res.Tokens)/time.Since(start).Seconds())
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
