package coregate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate"
)

// busy occupies a one-core runtime's only executor until release is closed.
func busy(rt *coregate.Runtime) (release chan struct{}) {
	release, started := make(chan struct{}), make(chan struct{})
	go func() {
		tok, _ := coregate.SubmitFunc(context.Background(), rt, func(context.Context) (int, error) {
			close(started)
			<-release
			return 0, nil
		})
		_, _ = tok.Wait(context.Background())
	}()
	<-started
	return release
}

func ExampleOp_SubmitAll() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	square, _ := coregate.Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil })
	toks, err := square.SubmitAll(ctx, []int{1, 2, 3, 4})
	if err != nil {
		fmt.Println(err) // the tokens of the arguments queued before it are in toks, nil for the others
		return
	}
	for _, tok := range toks {
		v, _ := tok.Wait(ctx)
		fmt.Print(v, " ")
	}
	fmt.Println()
	// Output: 1 4 9 16
}

func ExampleOp_SubmitFirst() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	var order []string
	say, _ := coregate.Define(rt, "say", func(_ context.Context, s string) (int, error) {
		order = append(order, s) // tokens of one executor run one at a time
		return 0, nil
	})
	release := busy(rt)
	a, _ := say.Submit(ctx, "queued")
	b, _ := say.SubmitFirst(ctx, "urgent")
	close(release)
	a.Wait(ctx)
	b.Wait(ctx)
	fmt.Println(order)
	// Output: [urgent queued]
}

func ExampleOp_TrySubmit() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1, MailboxSize: 1})
	defer rt.Stop(ctx)
	echo, _ := coregate.Define(rt, "echo", func(_ context.Context, x int) (int, error) { return x, nil })
	release := busy(rt) // its token fills the one-slot mailbox until the next refill
	_, err := echo.TrySubmit(1)
	fmt.Println(errors.Is(err, coregate.ErrFull), err)
	close(release)
	// Output: true coregate: every executor of the op's range is full (op "echo")
}

func ExampleOp_SubmitAfter() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	now, _ := coregate.Define(rt, "now", func(context.Context, struct{}) (time.Time, error) { return time.Now(), nil })
	start := time.Now()
	tok, _ := now.SubmitAfter(ctx, 20*time.Millisecond, struct{}{})
	ranAt, _ := tok.Wait(ctx)
	fmt.Println(ranAt.Sub(start) >= 20*time.Millisecond)

	later, _ := now.SubmitAfter(ctx, time.Hour, struct{}{})
	later.Cancel() // a waiting token resolves at once
	_, err := later.Wait(ctx)
	fmt.Println(err)
	// Output:
	// true
	// coregate: token cancelled
}

func ExampleOp_Every() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	var n atomic.Int32
	tick, _ := coregate.Define(rt, "tick", func(context.Context, struct{}) (int32, error) { return n.Add(1), nil })
	got := make(chan int32, 10)
	stop, _ := tick.Every(ctx, 5*time.Millisecond, struct{}{}, func(v int32, err error) { got <- v })
	fmt.Println(<-got, <-got, <-got)
	stop()
	_, err := tick.Every(ctx, 0, struct{}{}, func(int32, error) {})
	fmt.Println(err)
	// Output:
	// 1 2 3
	// coregate: op "tick": Every with interval 0s, want more than 0
}

func ExampleOp_CancelQueued() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	job, _ := coregate.Define(rt, "job", func(_ context.Context, x int) (int, error) { return x, nil })
	release := busy(rt)
	var toks []*coregate.Token[int]
	for i := range 3 {
		tok, _ := job.Submit(ctx, i)
		toks = append(toks, tok)
	}
	fmt.Println(job.CancelQueued())
	close(release)
	_, err := toks[0].Wait(ctx)
	fmt.Println(err)
	// Output:
	// 3
	// coregate: token cancelled
}

func ExampleOp_Pause() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	var ran atomic.Int32
	job, _ := coregate.Define(rt, "job", func(context.Context, int) (int, error) { return int(ran.Add(1)), nil })
	other, _ := coregate.Define(rt, "other", func(context.Context, int) (int, error) { return 0, nil })
	job.Pause()
	held, _ := job.Submit(ctx, 1)
	tok, _ := other.Submit(ctx, 1) // other ops go on
	tok.Wait(ctx)
	fmt.Println(ran.Load())
	job.Resume()
	fmt.Println(held.Wait(ctx))
	// Output:
	// 0
	// 1 <nil>
}

func ExampleMap() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	upper, _ := coregate.Define(rt, "upper", func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", errors.New("empty")
		}
		return strings.ToUpper(s), nil
	})
	for r, err := range coregate.Map(ctx, upper, slices.Values([]string{"a", "", "c"})) {
		fmt.Println(r, err)
	}
	// Output:
	// A <nil>
	//  empty
	// C <nil>
}

func ExampleMapUnordered() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	type count struct {
		word string // the input, carried in R: results come as tokens finish
		n    int
	}
	letters, _ := coregate.Define(rt, "letters", func(_ context.Context, s string) (count, error) {
		return count{s, len(s)}, nil
	})
	for r, err := range coregate.MapUnordered(ctx, letters, slices.Values([]string{"a", "bb", "ccc"})) {
		fmt.Println(r.word, r.n, err)
	}
	// Unordered output:
	// a 1 <nil>
	// bb 2 <nil>
	// ccc 3 <nil>
}

func ExampleWithBlocking() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1, BlockingWorkers: 64})
	defer rt.Stop(ctx)
	slow, _ := coregate.Define(rt, "slow", func(ctx context.Context, d time.Duration) (bool, error) {
		time.Sleep(d) // a slow API call: on the lane, not on the core
		_, onCore := coregate.CurrentExecutor(ctx)
		return onCore, nil
	}, coregate.WithBlocking())
	g := coregate.NewGroup(ctx, rt)
	for range 64 {
		coregate.Add(g, slow, 50*time.Millisecond)
	}
	quick, _ := coregate.SubmitFunc(ctx, rt, func(ctx context.Context) (bool, error) {
		_, onCore := coregate.CurrentExecutor(ctx)
		return onCore, nil
	})
	fmt.Println(quick.Wait(ctx)) // the core is free while 64 handlers sleep
	fmt.Println(g.Wait())
	// Output:
	// true <nil>
	// <nil>
}

func ExampleNewPerCore() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	counters, _ := coregate.NewPerCore(rt, func(executor int) int { return 0 })
	count, _ := coregate.Define(rt, "count", func(ctx context.Context, _ int) (int, error) {
		c, err := counters.Get(ctx) // this executor's own: no lock
		if err != nil {
			return 0, err
		}
		*c++
		return *c, nil
	})
	tok, _ := count.Submit(ctx, 0)
	fmt.Println(tok.Wait(ctx))
	_, err := counters.Get(ctx)
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// coregate: PerCore.Get outside a handler or actor of its runtime
}

func ExampleSubmitFunc() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	tok, _ := coregate.SubmitFunc(ctx, rt, func(context.Context) (string, error) { return "no op defined", nil })
	fmt.Println(tok.Wait(ctx))
	// Output: no op defined <nil>
}

func ExampleNewGroup() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)
	fetch, _ := coregate.Define(rt, "fetch", func(ctx context.Context, id int) (string, error) {
		if id == 3 {
			return "", fmt.Errorf("fetch %d: not found", id)
		}
		return fmt.Sprint("item ", id), nil
	})
	g := coregate.NewGroup(ctx, rt)
	for id := range 5 {
		coregate.Add(g, fetch, id)
	}
	fmt.Println(g.Wait()) // the first error; the rest were cancelled
	// Output: fetch 3: not found
}

func ExampleOnExecutor() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 2, Affinity: coregate.Off})
	defer rt.Stop(ctx)
	where, _ := coregate.Define(rt, "where", func(ctx context.Context, _ int) (int, error) {
		i, _ := coregate.CurrentExecutor(ctx)
		return i, nil
	}, coregate.OnExecutor(1))
	var on []int
	for i := range 3 {
		tok, _ := where.Submit(ctx, i)
		i, _ := tok.Wait(ctx)
		on = append(on, i)
	}
	fmt.Println(on)
	// Output: [1 1 1]
}

func ExampleWithOnDone() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	var done, failed atomic.Int64
	parse, _ := coregate.Define(rt, "parse", func(_ context.Context, s string) (int, error) {
		if s == "" {
			return 0, errors.New("empty")
		}
		return len(s), nil
	},
		coregate.WithOnDone(func(s string, n int) { done.Add(int64(n)) }),
		coregate.WithOnFailure(func(s string, err error) { failed.Add(1) }),
	)
	for _, s := range []string{"a", "bc", "", "def"} {
		tok, _ := parse.Submit(ctx, s)
		tok.Wait(ctx) // a token's callback has run once Wait returns
	}
	fmt.Println(done.Load(), failed.Load())
	// Output: 6 1
}
