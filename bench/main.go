// Command bench is coregate's benchmark suite. With no flags it runs:
//
//   - doubling waves: waves of 4, 8, ... 65,536 tiny tokens (131,068 in all),
//     each timed from its first submit to its last completion, printing per wave
//     the tokens, tokens/s, submit-to-completion latency p50 and p99, and overlap
//     (the sum of the tokens' run times divided by the wave's wall time);
//   - locality: keys owning 256 KiB blocks of state that their tokens update,
//     sticky placement against plain staggering, as a ratio of tokens/s;
//   - fan-out: leads whose children read the lead's buffer, anchored against
//     unanchored.
//
// Every workload checks that each token completed with the right result before
// it prints a figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/coregate/coregate"
)

type options struct {
	cores    int
	affinity string
	minWave  int
	maxWave  int

	workloads      string
	keys, blockKiB int
	localityTokens int
	leads, fanout  int
	bufKiB         int
}

func main() {
	var o options
	flag.IntVar(&o.cores, "cores", 0, "executors (0: every allowed CPU)")
	flag.StringVar(&o.affinity, "affinity", "best-effort", "pinning: best-effort, strict or off")
	flag.IntVar(&o.minWave, "min-wave", 4, "smallest wave")
	flag.IntVar(&o.maxWave, "max-wave", 65536, "largest wave (waves double from -min-wave)")
	flag.StringVar(&o.workloads, "workloads", "waves,locality,fanout", "comma-separated workloads to run")
	flag.IntVar(&o.keys, "keys", 16, "locality: keys, each owning a block of state")
	flag.IntVar(&o.blockKiB, "block-kib", 256, "locality: KiB of state per key")
	flag.IntVar(&o.localityTokens, "locality-tokens", 4000, "locality: tokens per variant")
	flag.IntVar(&o.leads, "leads", 400, "fan-out: leads per variant")
	flag.IntVar(&o.fanout, "children", 16, "fan-out: children per lead")
	flag.IntVar(&o.bufKiB, "buf-kib", 64, "fan-out: KiB of the buffer a lead shares with its children")
	flag.Parse()
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, o options) error {
	aff, err := parseAffinity(o.affinity)
	if err != nil {
		return err
	}
	want, err := parseWorkloads(o.workloads)
	if err != nil {
		return err
	}
	if o.minWave < 1 || o.maxWave < o.minWave {
		return fmt.Errorf("waves must satisfy 1 <= -min-wave <= -max-wave, got %d and %d", o.minWave, o.maxWave)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"keys", o.keys}, {"block-kib", o.blockKiB}, {"locality-tokens", o.localityTokens}, {"leads", o.leads}, {"children", o.fanout}, {"buf-kib", o.bufKiB}} {
		if want["locality"] || want["fanout"] {
			if f.v < 1 {
				return fmt.Errorf("-%s must be at least 1, got %d", f.name, f.v)
			}
		}
	}
	rt, err := coregate.Start(coregate.Config{Cores: o.cores, Affinity: aff})
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())

	pinned := 0
	for _, e := range rt.Executors() {
		if e.Pinned {
			pinned++
		}
	}
	fmt.Fprintf(w, "coregate: %d executors (%d pinned, affinity %s), GOMAXPROCS %d, %s/%s\n",
		len(rt.Executors()), pinned, aff, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	if want["waves"] {
		results, err := runWaves(rt, o.minWave, o.maxWave)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "\ndoubling waves")
		printWaves(w, results)
	}
	var loc []localityResult
	if want["locality"] {
		r, err := runLocality(rt, o.keys, o.blockKiB, o.localityTokens)
		if err != nil {
			return err
		}
		loc = append(loc, r)
	}
	if want["fanout"] {
		r, err := runFanOut(rt, o.leads, o.fanout, o.bufKiB)
		if err != nil {
			return err
		}
		loc = append(loc, r)
	}
	printLocality(w, loc)
	if err := rt.Stop(context.Background()); err != nil {
		return err
	}
	s := rt.Stats().Total
	if s.Submitted != s.Succeeded {
		return fmt.Errorf("stats do not add up: %+v", s)
	}
	return nil
}

func parseWorkloads(s string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		switch name = strings.TrimSpace(name); name {
		case "waves", "locality", "fanout":
			want[name] = true
		default:
			return nil, fmt.Errorf("unknown workload %q in -workloads (want waves, locality, fanout)", name)
		}
	}
	return want, nil
}

func parseAffinity(s string) (coregate.Affinity, error) {
	for _, a := range []coregate.Affinity{coregate.BestEffort, coregate.Strict, coregate.Off} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown -affinity %q (want best-effort, strict or off)", s)
}
