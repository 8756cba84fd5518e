package coregate

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// benchTokens is how many tokens a benchmark keeps in flight before waiting on
// them: submit a window, then wait for it, so the figure is submit-to-completion.
const benchWindow = 1024

func BenchmarkSubmitWait(b *testing.B) {
	rt, err := Start(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())
	var sum atomic.Int64
	op, _ := Define(rt, "add", func(_ context.Context, x int64) (int64, error) {
		sum.Add(x)
		return x, nil
	})
	ctx := context.Background()

	b.Run("submitters=1", func(b *testing.B) {
		sum.Store(0)
		b.ReportAllocs()
		var ring [benchWindow]*Token[int64]
		var got int64
		wait := func(t *Token[int64]) {
			v, err := t.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got += v
		}
		for i := 0; i < b.N; i++ {
			if old := ring[i%benchWindow]; old != nil {
				wait(old)
			}
			t, err := op.Submit(ctx, 1)
			if err != nil {
				b.Fatal(err)
			}
			ring[i%benchWindow] = t
		}
		for _, t := range ring {
			if t != nil {
				wait(t)
			}
		}
		b.StopTimer()
		if got != int64(b.N) || sum.Load() != int64(b.N) {
			b.Fatalf("ran %d, results %d, want %d", sum.Load(), got, b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/token")
	})
}

func BenchmarkGoroutinePerTask(b *testing.B) {
	b.ReportAllocs()
	var sum atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		go func() { sum.Add(1); wg.Done() }()
	}
	wg.Wait()
	if sum.Load() != int64(b.N) {
		b.Fatal("lost tasks")
	}
}
