package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/coregate/coregate"
)

// waveResult is one wave's measurements.
type waveResult struct {
	Tokens    int
	Wall      time.Duration
	P50, P99  time.Duration // submit to completion
	Overlap   float64       // sum of run times / wall time
	PerSecond float64
}

// wave holds one wave's per-token timestamps, measured from base on the
// monotonic clock. Token i writes only slot i, and the slots are read after its
// Wait returned, so no locking is needed.
type wave struct {
	base               time.Time
	submit, start, end []time.Duration
}

func runWaves(rt *coregate.Runtime, minWave, maxWave int) ([]waveResult, error) {
	var cur *wave
	tiny, err := coregate.Define(rt, "wave-token", func(_ context.Context, i int) (int, error) {
		cur.start[i] = time.Since(cur.base)
		r := i * 2 // the work: tiny, and checkable
		cur.end[i] = time.Since(cur.base)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	var results []waveResult
	for n := minWave; n <= maxWave; n *= 2 {
		cur = &wave{submit: make([]time.Duration, n), start: make([]time.Duration, n), end: make([]time.Duration, n)}
		toks := make([]*coregate.Token[int], n)
		cur.base = time.Now()
		for i := range toks {
			cur.submit[i] = time.Since(cur.base)
			if toks[i], err = tiny.Submit(ctx, i); err != nil {
				return nil, fmt.Errorf("wave %d: submit %d: %w", n, i, err)
			}
		}
		for i, tok := range toks {
			v, err := tok.Wait(ctx)
			if err != nil {
				return nil, fmt.Errorf("wave %d: token %d: %w", n, i, err)
			}
			if v != 2*i {
				return nil, fmt.Errorf("wave %d: token %d returned %d, want %d", n, i, v, 2*i)
			}
		}
		results = append(results, cur.result())
	}
	return results, nil
}

func (w *wave) result() waveResult {
	n := len(w.submit)
	lat := make([]time.Duration, n)
	var busy time.Duration
	for i := range n {
		lat[i] = w.end[i] - w.submit[i]
		busy += w.end[i] - w.start[i]
	}
	wall := slices.Max(w.end) // the first submit is at ~0
	slices.Sort(lat)
	return waveResult{
		Tokens:    n,
		Wall:      wall,
		P50:       percentile(lat, 0.50),
		P99:       percentile(lat, 0.99),
		Overlap:   float64(busy) / float64(wall),
		PerSecond: float64(n) / wall.Seconds(),
	}
}

// percentile returns the p-th percentile of sorted by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func printWaves(w io.Writer, results []waveResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tokens\ttokens/s\tp50\tp99\toverlap\t")
	total := 0
	for _, r := range results {
		total += r.Tokens
		fmt.Fprintf(tw, "%d\t%.0f\t%v\t%v\t%.2f\t\n", r.Tokens, r.PerSecond, r.P50.Round(100*time.Nanosecond), r.P99.Round(100*time.Nanosecond), r.Overlap)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d tokens, all completed with correct results.\n", total)
	fmt.Fprintln(w, "overlap = sum of token run times / wave wall time: above 1 means tokens ran in parallel.")
}
