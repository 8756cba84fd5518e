package coregate

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coregate/coregate/actors"
)

// BenchmarkBlockedSubmitters measures tiny tokens submitted by many
// goroutines through a small mailbox, so that nearly all of them wait for
// room at any time: each submitter keeps 4 tokens in flight, 64 or 1,024
// submitters against 16 slots per executor, with the default IdleSpin (a
// submitter polls for room up to 50 us before it blocks) and with polling
// off (it blocks at once). Every token's result is checked (each doubles
// its own argument), and their count, before the time is reported.
// wakes/token is how many waiting submitters were woken to try again, per
// token; cpu-ns/token the process's CPU time (user and system, where the OS
// says) per token, which shows the work of wake-ups that find no room even
// when other load on the machine blurs ns/token.
func BenchmarkBlockedSubmitters(b *testing.B) {
	for _, spin := range []time.Duration{0, -1} {
		for _, cores := range []int{1, 2} {
			for _, submitters := range []int{64, 1024} {
				name := fmt.Sprintf("spin=%v/cores=%d/submitters=%d", map[bool]string{true: "default", false: "off"}[spin == 0], cores, submitters)
				b.Run(name, func(b *testing.B) {
					benchBlocked(b, Config{Cores: cores, MailboxSize: 16, IdleSpin: spin}, submitters)
				})
			}
		}
	}
}

func benchBlocked(b *testing.B, cfg Config, submitters int) {
	const window = 4
	// Start runs min(allowed CPUs, GOMAXPROCS, Cores) executors: fewer than
	// the name says would measure another configuration under it. Any
	// other failure to start is a failure, not a skip.
	allowed, err := actors.AllowedCPUs()
	if err != nil {
		b.Fatal(err)
	}
	if have := min(len(allowed), runtime.GOMAXPROCS(0)); have < cfg.Cores {
		b.Skipf("cores=%d needs %d CPUs: %d allowed, GOMAXPROCS %d", cfg.Cores, cfg.Cores, len(allowed), runtime.GOMAXPROCS(0))
	}
	rt, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())
	if n := len(rt.Executors()); n != cfg.Cores {
		b.Fatalf("%d executors, want %d", n, cfg.Cores)
	}
	op, err := Define(rt, "double", func(_ context.Context, x int64) (int64, error) { return 2 * x, nil })
	if err != nil {
		b.Fatal(err)
	}
	ctx, wctx := context.Background(), benchContext(b)
	var ok atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, hasCPU := cpuTime()
	for g := range submitters {
		n := b.N / submitters
		if g < b.N%submitters {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ring [window]*Token[int64]
			var args [window]int64
			wait := func(k int) {
				if v, err := ring[k].Wait(wctx); err != nil || v != 2*args[k] {
					b.Errorf("token of %d: %d, %v", args[k], v, err)
					return
				}
				ok.Add(1)
			}
			for i := range n {
				k := i % window
				if ring[k] != nil {
					wait(k)
				}
				args[k] = int64(g)<<32 | int64(i)
				t, err := op.Submit(ctx, args[k])
				if err != nil {
					b.Error(err)
					ring[k] = nil
					return
				}
				ring[k] = t
			}
			for k := range ring {
				if ring[k] != nil {
					wait(k)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu1, _ := cpuTime()
	if got := ok.Load(); got != int64(b.N) {
		b.Fatalf("%d tokens succeeded with the right result, want %d", got, b.N)
	}
	if s := rt.Stats().Total; s.Succeeded != uint64(b.N) {
		b.Fatalf("stats count %d succeeded, want %d: %+v", s.Succeeded, b.N, s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/token")
	b.ReportMetric(float64(rt.room.Wakes())/float64(b.N), "wakes/token")
	if hasCPU {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/token")
	}
}
