package coregate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchWindow is how many tokens a submitter keeps in flight: it waits for the
// oldest before submitting past the window, so each figure covers submit, run and
// wait.
const benchWindow = 1024

// BenchmarkSubmitWait measures a tiny token (an atomic add with a result
// handle) from submit to a successful Wait, from one and from several
// submitting goroutines. It checks every result and the total before it reports.
func BenchmarkSubmitWait(b *testing.B) {
	for _, aff := range []Affinity{BestEffort, Off} {
		rt, op, sum := startAdder(b, Config{Affinity: aff})
		b.Run("affinity="+aff.String()+"/submitters=1", func(b *testing.B) {
			sum.Store(0)
			b.ReportAllocs()
			got := submitWindowed(b, op, b.N)
			b.StopTimer()
			checkSum(b, got, sum.Load(), int64(b.N))
		})
		b.Run("affinity="+aff.String()+"/submitters=4", func(b *testing.B) {
			sum.Store(0)
			b.ReportAllocs()
			var total atomic.Int64
			var wg sync.WaitGroup
			for g := range 4 {
				n := b.N / 4
				if g == 0 {
					n += b.N % 4
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					total.Add(submitWindowed(b, op, n))
				}()
			}
			wg.Wait()
			b.StopTimer()
			checkSum(b, total.Load(), sum.Load(), int64(b.N))
		})
		if err := rt.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// startAdder starts a runtime with an op "add" that adds its argument to the
// returned sum and returns it.
func startAdder(b *testing.B, cfg Config) (*Runtime, *Op[int64, int64], *atomic.Int64) {
	rt, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sum := new(atomic.Int64)
	op, err := Define(rt, "add", func(_ context.Context, x int64) (int64, error) {
		sum.Add(x)
		return x, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return rt, op, sum
}

// submitWindowed submits n tokens of 1 with a sliding window and returns the sum
// of their results.
func submitWindowed(b *testing.B, op *Op[int64, int64], n int) int64 {
	ctx, wctx := context.Background(), benchContext(b)
	var ring [benchWindow]*Token[int64]
	var got int64
	wait := func(t *Token[int64]) {
		v, err := t.Wait(wctx)
		if err != nil {
			b.Error(err)
		}
		got += v
	}
	for i := range n {
		if old := ring[i%benchWindow]; old != nil {
			wait(old)
		}
		t, err := op.Submit(ctx, 1)
		if err != nil {
			b.Error(err)
			return got
		}
		ring[i%benchWindow] = t
	}
	for _, t := range ring {
		if t != nil {
			wait(t)
		}
	}
	return got
}

func checkSum(b *testing.B, results, ran, want int64) {
	if results != want || ran != want {
		b.Fatalf("results sum to %d and handlers ran %d times, want %d", results, ran, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/token")
}

// BenchmarkGoroutinePerTask is the baseline: go f() with a WaitGroup per task,
// the same atomic add, no result handle.
func BenchmarkGoroutinePerTask(b *testing.B) {
	b.ReportAllocs()
	var sum atomic.Int64
	var wg sync.WaitGroup
	for range b.N {
		wg.Add(1)
		go func() {
			sum.Add(1)
			wg.Done()
		}()
	}
	wg.Wait()
	b.StopTimer()
	checkSum(b, sum.Load(), sum.Load(), int64(b.N))
}

// BenchmarkSubmit measures Submit alone for a tiny token (executors drain
// meanwhile); the tokens are waited on and checked after the timer stops.
func BenchmarkSubmit(b *testing.B) {
	for _, sticky := range []bool{false, true} {
		b.Run(map[bool]string{false: "staggered", true: "sticky"}[sticky], func(b *testing.B) {
			rt, err := Start(Config{MailboxSize: 1 << 16})
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Stop(context.Background())
			var opts []Option
			if sticky {
				opts = append(opts, WithStickyKey(func(x int64) uint64 { return uint64(x % 64) }))
			}
			op, err := Define(rt, "id", func(_ context.Context, x int64) (int64, error) { return x, nil }, opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx, wctx := context.Background(), benchContext(b)
			toks := make([]*Token[int64], 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t, err := op.Submit(ctx, int64(i))
				if err != nil {
					b.Fatal(err)
				}
				toks = append(toks, t)
			}
			b.StopTimer()
			for i, t := range toks {
				if v, err := t.Wait(wctx); err != nil || v != int64(i) {
					b.Fatalf("token %d: %d, %v", i, v, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
		})
	}
}

// BenchmarkWaitResolved measures Wait on a token that is already resolved: the
// common case of a caller that waits after the work is done. It allocates
// nothing.
func BenchmarkWaitResolved(b *testing.B) {
	rt, err := Start(Config{Cores: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())
	op, err := Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil })
	if err != nil {
		b.Fatal(err)
	}
	ctx, wctx := context.Background(), benchContext(b)
	tok, err := op.Submit(ctx, 7)
	if err != nil {
		b.Fatal(err)
	}
	<-tok.Done()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if v, err := tok.Wait(wctx); v != 7 || err != nil {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkBurst is the burst of issue 15's goal: tiny tokens with results
// submitted from one goroutine, then all awaited, on the default Config and
// with idle polling off, and with one SubmitAll. It checks every result.
func BenchmarkBurst(b *testing.B) {
	for _, spin := range []time.Duration{0, -1} {
		b.Run("idlespin="+map[bool]string{true: "default", false: "off"}[spin == 0], func(b *testing.B) {
			burst(b, Config{IdleSpin: spin}, func(op *Op[int64, int64], ctx context.Context) []*Token[int64] {
				toks := make([]*Token[int64], b.N)
				for i := range toks {
					var err error
					if toks[i], err = op.Submit(ctx, 1); err != nil {
						b.Fatal(err)
					}
				}
				return toks
			})
		})
	}
	b.Run("submitall", func(b *testing.B) {
		args := make([]int64, b.N)
		for i := range args {
			args[i] = 1
		}
		burst(b, Config{}, func(op *Op[int64, int64], ctx context.Context) []*Token[int64] {
			toks, err := op.SubmitAll(ctx, args)
			if err != nil {
				b.Fatal(err)
			}
			return toks
		})
	})
}

// burst times submit's tokens of an adder on a runtime of cfg, and their
// Waits, and checks their results.
func burst(b *testing.B, cfg Config, submit func(*Op[int64, int64], context.Context) []*Token[int64]) {
	rt, op, sum := startAdder(b, cfg)
	defer rt.Stop(context.Background())
	ctx, wctx := context.Background(), benchContext(b)
	b.ReportAllocs()
	b.ResetTimer()
	got := waitAll(b, wctx, submit(op, ctx))
	b.StopTimer()
	checkSum(b, got, sum.Load(), int64(b.N))
}

// waitAll waits for toks and returns the sum of their results.
func waitAll(b *testing.B, ctx context.Context, toks []*Token[int64]) int64 {
	var sum int64
	for _, t := range toks {
		v, err := t.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	return sum
}

// benchContext bounds a benchmark's waits by benchDeadline, so that a lost
// token fails it rather than hanging until go test's own timeout. Tokens
// are still submitted with context.Background: a deadline's context there
// would be each token's parent, on the path the benchmark measures.
func benchContext(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkWaves measures issue 15's small fan-out: waves of n tiny tokens
// (an atomic add with a result) submitted one by one, then all awaited,
// wave after wave, b.N tokens in all (the last wave may be short); beside
// it the same waves as n goroutines and a WaitGroup. ns/token is a token's
// share of its wave's time, submit to the last result in hand. Every
// result and the total are checked before it reports.
func BenchmarkWaves(b *testing.B) {
	for _, n := range []int{8, 16, 32} {
		b.Run(fmt.Sprintf("tokens=%d/coregate", n), func(b *testing.B) {
			rt, op, sum := startAdder(b, Config{})
			defer func() {
				if err := rt.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
			}()
			ctx, wctx := context.Background(), benchContext(b)
			toks := make([]*Token[int64], n)
			var got int64
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += n {
				w := toks[:min(n, b.N-done)]
				for i := range w {
					t, err := op.Submit(ctx, 1)
					if err != nil {
						b.Fatal(err)
					}
					w[i] = t
				}
				got += waitAll(b, wctx, w)
			}
			b.StopTimer()
			checkSum(b, got, sum.Load(), int64(b.N))
		})
		b.Run(fmt.Sprintf("tokens=%d/goroutines", n), func(b *testing.B) {
			var sum atomic.Int64
			results := make([]int64, n)
			var wg sync.WaitGroup
			var got int64
			b.ReportAllocs()
			for done := 0; done < b.N; done += n {
				w := results[:min(n, b.N-done)]
				for i := range w {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sum.Add(1)
						w[i] = 1
					}()
				}
				wg.Wait()
				for _, v := range w {
					got += v
				}
			}
			b.StopTimer()
			checkSum(b, got, sum.Load(), int64(b.N))
		})
	}
}
