// Command service shows coregate's pool and service features together: a
// request fans out with a group, a slow lookup runs on the blocking lane so
// no core waits on it, results stream back in order with Map, a per-core
// counter tallies work without a lock, a periodic job reports while the
// service runs, and a job submitted first jumps the queue.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coregate/coregate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the program, writing to w (from two goroutines: w must be safe
// for that, as os.Stdout is); its test runs it.
func run(w io.Writer) error {
	ctx := context.Background()
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		return err
	}
	defer rt.Stop(ctx) // on an early return; the Stop below reports

	// A per-core tally: each executor counts in its own slot, no lock.
	tally, err := coregate.NewPerCore(rt, func(int) int { return 0 })
	if err != nil {
		return err
	}
	upper, err := coregate.Define(rt, "upper", func(ctx context.Context, s string) (string, error) {
		n, err := tally.Get(ctx)
		if err != nil {
			return "", err
		}
		*n++
		return strings.ToUpper(s), nil
	})
	if err != nil {
		return err
	}
	// A slow lookup (a remote API, a disk): on the blocking lane.
	lookup, err := coregate.Define(rt, "lookup", func(ctx context.Context, id int) (string, error) {
		select {
		case <-time.After(20 * time.Millisecond):
			return fmt.Sprintf("user-%d", id), nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}, coregate.WithBlocking())
	if err != nil {
		return err
	}

	// A periodic report while the service runs; runs never overlap.
	report, err := coregate.Define(rt, "report", func(context.Context, struct{}) (coregate.Counts, error) {
		return rt.Stats().Total, nil
	})
	if err != nil {
		return err
	}
	stop, err := report.Every(ctx, 10*time.Millisecond, struct{}{}, func(c coregate.Counts, err error) {
		if err == nil {
			fmt.Fprintf(w, "report: %d tokens done so far\n", c.Resolved())
		}
	})
	if err != nil {
		return err
	}
	defer stop() // on an early return: no report after run returns

	// A request fans out to 50 lookups at once: three lines with a group.
	start := time.Now()
	g := coregate.NewGroup(ctx, rt)
	for id := range 50 {
		coregate.Add(g, lookup, id)
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(w, "50 lookups of 20 ms each in %v, the cores free meanwhile\n", time.Since(start).Round(10*time.Millisecond))

	// Results in input order, a bounded window in flight.
	var out []string
	for s, err := range coregate.Map(ctx, upper, slices.Values([]string{"alpha", "beta", "gamma"})) {
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	fmt.Fprintln(w, out)

	urgent, err := upper.SubmitFirst(ctx, "urgent") // ahead of anything queued
	if err != nil {
		return err
	}
	u, err := urgent.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, u)

	// Each executor's count is read on its own thread, by a token pinned
	// there, as it was written: no lock.
	counted := 0
	for i := range rt.Executors() {
		read, err := coregate.Define(rt, fmt.Sprint("tally-", i), func(ctx context.Context, _ struct{}) (int, error) {
			n, err := tally.Get(ctx)
			if err != nil {
				return 0, err
			}
			return *n, nil
		}, coregate.OnExecutor(i))
		if err != nil {
			return err
		}
		tok, err := read.Submit(ctx, struct{}{})
		if err != nil {
			return err
		}
		n, err := tok.Wait(ctx)
		if err != nil {
			return err
		}
		counted += n
	}
	fmt.Fprintf(w, "tally: %d upper tokens, counted per core without a lock\n", counted)
	stop()

	if err := rt.Stop(ctx); err != nil {
		return err
	}
	s := rt.Stats().Total
	fmt.Fprintf(w, "stats: %d accepted = %d succeeded + %d failed + %d panicked + %d cancelled + %d stopped\n",
		s.Submitted, s.Succeeded, s.Failed, s.Panicked, s.Cancelled, s.Stopped)
	return nil
}
