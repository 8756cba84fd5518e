// Command quickstart starts a coregate runtime, defines a Heavy and a Light op,
// runs a few hundred tokens of each, and prints where each class ran and the
// runtime's stats.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/coregate/coregate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the program, writing to w; its test runs it.
func run(w io.Writer) error {
	ctx := context.Background()
	rt, err := coregate.Start(coregate.Config{}) // one pinned executor per allowed CPU
	if err != nil {
		return err
	}
	defer rt.Stop(ctx) // on an early return; the Stop below reports
	for _, e := range rt.Executors() {
		fmt.Fprintf(w, "executor %d: CPU %d, PID %s, pinned %v\n", e.Index, e.CPU, e.PID, e.Pinned)
	}

	// A Heavy op may run on every executor; a Light one from the third on
	// (clamped to the last executor on smaller machines).
	hash, err := coregate.Define(rt, "hash", func(ctx context.Context, s string) (uint64, error) {
		var h uint64 = 14695981039346656037
		for i := 0; i < 1000; i++ {
			for _, c := range []byte(s) {
				h = (h ^ uint64(c)) * 1099511628211
			}
		}
		return h, nil
	}, coregate.WithWeight(coregate.Heavy))
	if err != nil {
		return err
	}
	upper, err := coregate.Define(rt, "upper", func(ctx context.Context, s string) (string, error) {
		return strings.ToUpper(s), nil
	}, coregate.WithWeight(coregate.Light))
	if err != nil {
		return err
	}

	heavyOn := map[int]int{}
	lightOn := map[int]int{}
	var hashes []*coregate.Token[uint64]
	var uppers []*coregate.Token[string]
	for i := 0; i < 300; i++ {
		h, err := hash.Submit(ctx, fmt.Sprintf("key-%d", i))
		if err != nil {
			return err
		}
		u, err := upper.Submit(ctx, fmt.Sprintf("word-%d", i))
		if err != nil {
			return err
		}
		hashes, uppers = append(hashes, h), append(uppers, u)
	}
	for i := range hashes {
		if _, err := hashes[i].Wait(ctx); err != nil {
			return err
		}
		if _, err := uppers[i].Wait(ctx); err != nil {
			return err
		}
		heavyOn[hashes[i].Executor()]++
		lightOn[uppers[i].Executor()]++
	}
	fmt.Fprintf(w, "heavy tokens per executor: %v\n", heavyOn)
	fmt.Fprintf(w, "light tokens per executor: %v\n", lightOn)

	if err := rt.Stop(ctx); err != nil {
		return err
	}
	s := rt.Stats()
	fmt.Fprintf(w, "stats: submitted %d, succeeded %d, failed %d, panicked %d, cancelled %d, stopped %d\n",
		s.Total.Submitted, s.Total.Succeeded, s.Total.Failed, s.Total.Panicked, s.Total.Cancelled, s.Total.Stopped)
	return nil
}
