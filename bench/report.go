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

// metric extracts a sample's time-like figure: lower is better, so ratios to
// the goroutine baseline below 1 mean faster.
type metric func(sample) float64

func nsPerToken(s sample) float64 { return s.NsPerToken }
func wallMillis(s sample) float64 { return float64(s.WallNs) / 1e6 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// find returns the samples of workload (and wave, when not 0) for peer.
func (s *suite) find(workload, peer string, wave int) []sample {
	var out []sample
	for _, smp := range s.samples {
		if smp.Workload == workload && smp.Peer == peer && smp.Wave == wave {
			out = append(out, smp)
		}
	}
	return out
}

// ratio is the median over repetitions of peer's figure divided by the
// goroutine baseline's in the same repetition; 0 when there is no baseline.
func (s *suite) ratio(workload, peer string, wave int, m metric) float64 {
	base := s.find(workload, "goroutine", wave)
	var rs []float64
	for _, smp := range s.find(workload, peer, wave) {
		for _, b := range base {
			if b.Rep == smp.Rep && m(b) > 0 {
				rs = append(rs, m(smp)/m(b))
			}
		}
	}
	return median(rs)
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// table prints one row per peer: median, min and max of m over the
// repetitions, allocations per token, efficiency when asked, and the ratio.
func (s *suite) table(w io.Writer, workload, title, unit string, m metric, efficiency bool) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "peer\t" + unit + " median\tmin\tmax\tallocs/token\t"
	if efficiency {
		head += "efficiency\t"
	}
	fmt.Fprintln(tw, head+"vs goroutine\t")
	for _, p := range s.peers {
		smps := s.find(workload, p, 0)
		var xs, allocs, effs []float64
		for _, smp := range smps {
			xs = append(xs, m(smp))
			allocs = append(allocs, smp.AllocsPerToken)
			effs = append(effs, smp.Efficiency)
		}
		row := fmt.Sprintf("%s\t%.1f\t%.1f\t%.1f\t%.2f\t", p, median(xs), slices.Min(xs), slices.Max(xs), median(allocs))
		if efficiency {
			row += fmt.Sprintf("%.0f%%\t", 100*median(effs))
		}
		fmt.Fprintln(tw, row+fmtRatio(s.ratio(workload, p, 0, m))+"\t")
	}
	tw.Flush()
}

// waveTables prints tokens/s, p50, p99 and overlap per wave, a column per
// peer (medians over the repetitions).
func (s *suite) waveTables(w io.Writer) {
	var waves []int
	total := 0 // every round's tokens, each round checked
	for n := s.o.minWave; n <= s.o.maxWave; n *= 2 {
		waves = append(waves, n)
		total += waveRounds(n) * n
	}
	fmt.Fprintf(w, "\ndoubling waves (%d to %d tokens, each size run in up to %d rounds (%d tokens at most) and shown by its median round, %d in all, each timed from before its first submit to its last result in the submitter's hands; p50 and p99: a token's submit to the end of its job)\n", s.o.minWave, s.o.maxWave, maxWaveRounds, max(waveTokens, s.o.maxWave), total)
	for _, t := range []struct {
		name string
		f    func(sample) float64
		fmt  func(float64) string
	}{
		{"tokens/s", func(x sample) float64 { return x.TokensPerSec }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
		{"p50 submit to completion", func(x sample) float64 { return float64(x.P50Ns) }, fmtNs},
		{"p99 submit to completion", func(x sample) float64 { return float64(x.P99Ns) }, fmtNs},
		{"overlap (sum of run times / wall)", func(x sample) float64 { return x.Overlap }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
	} {
		fmt.Fprintf(w, "\n  %s\n", t.name)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "wave\t"
		for _, p := range s.peers {
			head += p + "\t"
		}
		fmt.Fprintln(tw, head)
		for _, n := range waves {
			row := fmt.Sprintf("%d\t", n)
			for _, p := range s.peers {
				var xs []float64
				for _, smp := range s.find(wWaves, p, n) {
					xs = append(xs, t.f(smp))
				}
				row += t.fmt(median(xs)) + "\t"
			}
			fmt.Fprintln(tw, row)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nall %d tokens of every wave completed with correct results on every peer.\n", total)
}

func fmtNs(v float64) string {
	return time.Duration(v).Round(100 * time.Nanosecond).String()
}

// latencyTable prints submit-to-start percentiles, idle and busy, per peer.
func (s *suite) latencyTable(w io.Writer) {
	fmt.Fprintf(w, "\nsubmit-to-start latency, %d tokens one at a time %dµs apart; busy: two background submitters take turns keeping a ~1µs token per worker in flight; idle CPU: the process's CPU time over the idle run's wall time (the submitter's own pause loop is about 1 core)\n", s.o.probes, s.o.pauseMicro)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "peer\tidle p50\tp99\tp99.9\tbusy p50\tp99\tp99.9\tidle p50 vs goroutine\tidle p99 vs goroutine\tidle CPU (cores)\t")
	p50 := func(x sample) float64 { return float64(x.P50Ns) }
	p99 := func(x sample) float64 { return float64(x.P99Ns) }
	p999 := func(x sample) float64 { return float64(x.P999Ns) }
	for _, p := range s.peers {
		row := p + "\t"
		for _, mode := range []string{"-idle", "-busy"} {
			for _, f := range []metric{p50, p99, p999} {
				var xs []float64
				for _, smp := range s.find(wLatency+mode, p, 0) {
					xs = append(xs, f(smp))
				}
				row += fmtNs(median(xs)) + "\t"
			}
		}
		row += fmtRatio(s.ratio(wLatency+"-idle", p, 0, p50)) + "\t" + fmtRatio(s.ratio(wLatency+"-idle", p, 0, p99)) + "\t"
		var cpu []float64
		for _, smp := range s.find(wLatency+"-idle", p, 0) {
			cpu = append(cpu, smp.CPUCores)
		}
		row += fmt.Sprintf("%.2f\t", median(cpu))
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	s.cpuSplitTable(w)
}

// cpuSplitTable prints where the idle probes started: how many on the CPU
// their submitter had just run on, the p50 of those, and the p50 and p99 of
// the others (medians over repetitions). It prints nothing where CPUs
// cannot be read.
func (s *suite) cpuSplitTable(w io.Writer) {
	known := false
	for _, p := range s.peers {
		for _, smp := range s.find(wLatency+"-idle", p, 0) {
			known = known || smp.CPUKnown > 0
		}
	}
	if !known {
		return
	}
	fmt.Fprintf(w, "\nwhere the idle probes started: on the CPU their submitter had just run on (a goroutine runs there in the submitter's place once it blocks; a thread pinned there waits for the OS to take the CPU from the submitter's), or on another\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "peer\ton submitter's CPU\tp50 there\tp50 elsewhere\tp99 elsewhere\t")
	for _, p := range s.peers {
		var own, ownP50, otherP50, otherP99 []float64
		for _, smp := range s.find(wLatency+"-idle", p, 0) {
			if smp.CPUKnown == 0 {
				continue
			}
			own = append(own, smp.OwnCPU)
			if smp.OwnCPU > 0 {
				ownP50 = append(ownP50, float64(smp.OwnCPUP50Ns))
			}
			if smp.OwnCPU < 1 {
				otherP50 = append(otherP50, float64(smp.OtherCPUP50Ns))
				otherP99 = append(otherP99, float64(smp.OtherCPUP99Ns))
			}
		}
		cell := func(xs []float64) string {
			if len(xs) == 0 {
				return "-"
			}
			return fmtNs(median(xs))
		}
		fmt.Fprintf(tw, "%s\t%.1f%%\t%s\t%s\t%s\t\n", p, 100*median(own), cell(ownP50), cell(otherP50), cell(otherP99))
	}
	tw.Flush()
}

// locality runs coregate's own placement workloads on one pinned runtime,
// -reps times each after a warm-up, and keeps the results for -json.
func (s *suite) locality(w io.Writer) error {
	rt, err := coregate.Start(coregate.Config{Cores: s.o.cores})
	if err != nil {
		return err
	}
	defer func() {
		// Stopped below once the workloads are done; after a failure,
		// bounded too, since a stuck token would keep Stop waiting.
		ctx, cancel := context.WithTimeout(context.Background(), s.o.timeout)
		defer cancel()
		rt.Stop(ctx)
	}()
	var results []localityResult
	for _, v := range []struct {
		name string
		run  func() (localityResult, error)
	}{
		{wLocality, func() (localityResult, error) {
			return runLocality(rt, s.o.keys, s.o.blockKiB, s.o.localityTokens, s.o.reps)
		}},
		{wFanOut, func() (localityResult, error) { return runFanOut(rt, s.o.leads, s.o.fanout, s.o.bufKiB, s.o.reps) }},
	} {
		if !s.want[v.name] {
			continue
		}
		fmt.Fprintf(s.progress, "\r%-72s", "bench: "+v.name+", coregate")
		r, err := bounded(s.o.timeout, v.run)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		results = append(results, r)
	}
	s.localityResults = results
	printLocality(w, results)
	if err := rt.Stop(context.Background()); err != nil {
		return err
	}
	if st := rt.Stats().Total; st.Submitted != st.Succeeded {
		return fmt.Errorf("locality: coregate counts do not add up: %+v", st)
	}
	return nil
}
