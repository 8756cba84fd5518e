// Command bench is coregate's benchmark suite. With no flags it runs the
// doubling-wave benchmark: waves of 4, 8, ... 65,536 tiny tokens (131,068 in
// all), each timed from its first submit to its last completion, and prints per
// wave the tokens, tokens/s, submit-to-completion latency p50 and p99, and
// overlap (the sum of the tokens' run times divided by the wave's wall time).
// Every wave checks that each token completed with the right result before it
// prints a figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/coregate/coregate"
)

type options struct {
	cores    int
	affinity string
	minWave  int
	maxWave  int
}

func main() {
	var o options
	flag.IntVar(&o.cores, "cores", 0, "executors (0: every allowed CPU)")
	flag.StringVar(&o.affinity, "affinity", "best-effort", "pinning: best-effort, strict or off")
	flag.IntVar(&o.minWave, "min-wave", 4, "smallest wave")
	flag.IntVar(&o.maxWave, "max-wave", 65536, "largest wave (waves double from -min-wave)")
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
	if o.minWave < 1 || o.maxWave < o.minWave {
		return fmt.Errorf("waves must satisfy 1 <= -min-wave <= -max-wave, got %d and %d", o.minWave, o.maxWave)
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
	fmt.Fprintf(w, "coregate doubling waves: %d executors (%d pinned, affinity %s), GOMAXPROCS %d, %s/%s\n\n",
		len(rt.Executors()), pinned, aff, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	results, err := runWaves(rt, o.minWave, o.maxWave)
	if err != nil {
		return err
	}
	printWaves(w, results)
	if err := rt.Stop(context.Background()); err != nil {
		return err
	}
	s := rt.Stats().Total
	if s.Submitted != s.Succeeded {
		return fmt.Errorf("stats do not add up: %+v", s)
	}
	return nil
}

func parseAffinity(s string) (coregate.Affinity, error) {
	for _, a := range []coregate.Affinity{coregate.BestEffort, coregate.Strict, coregate.Off} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown -affinity %q (want best-effort, strict or off)", s)
}
