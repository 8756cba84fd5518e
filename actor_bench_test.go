package coregate

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// BenchmarkActors measures coregate actors side by side with plain hollywood
// actors (v1.0.5, default engine and options) on the same workloads:
//
//	pingpong/one-core    two actors bounce a counter down to 0: b.N rounds,
//	                     2*b.N messages, with GOMAXPROCS 1 for both
//	                     systems, as in the actor suite (coregate: its one
//	                     executor)
//	pingpong/cross-core  the same with the actors on executors 0 and 1 of a
//	                     two-core runtime (skipped below two allowed CPUs)
//	counting             the benchmark goroutine tells b.N ones to one
//	                     actor, then asks it for the sum (b.N+1 messages)
//	counting8            the same from 8 goroutines at once, b.N in all:
//	                     more senders than CPUs contend for one mailbox
//	ring100              a token goes b.N hops around a ring of 100 actors
//	                     (coregate: placed as Spawn spreads them, or
//	                     one-core: all on executor 0)
//	ask                  b.N blocking round trips from outside, one at a
//	                     time: Ask+Wait against Request(...).Result()
//
// coregate-nopoll runs with Config.IdleSpin -1: idle executors park at once,
// so a message to an idle executor wakes a parked thread (what idle polling
// saves).
//
// Each sub-benchmark checks its own result (b.Fatal on a mismatch) before it
// reports msgs/s (for ask: round trips per second) and allocations, and stops
// everything it started: the runtime (coregate) or every actor it spawned
// (hollywood), so goleak stays quiet. Hollywood has no placement, so its
// one-core and cross-core runs are the same program under GOMAXPROCS 1 and
// under the benchmark's GOMAXPROCS. Hollywood's one-core run once had the
// benchmark's GOMAXPROCS too, free to spread its two goroutines over two
// Ps, while coregate's actors shared one executor.
func BenchmarkActors(b *testing.B) {
	b.Run("pingpong", func(b *testing.B) {
		b.Run("one-core", func(b *testing.B) {
			b.Run("coregate", func(b *testing.B) {
				oneCore(b)
				benchCoregateRing(b, Config{}, 2, 2*b.N, func(int) Option { return OnExecutor(0) })
			})
			b.Run("hollywood", func(b *testing.B) {
				oneCore(b)
				benchHollywoodRing(b, 2, 2*b.N)
			})
		})
		b.Run("cross-core", func(b *testing.B) {
			b.Run("coregate", func(b *testing.B) {
				needTwoCPUs(b)
				benchCoregateRing(b, Config{Cores: 2}, 2, 2*b.N, OnExecutor)
			})
			b.Run("coregate-nopoll", func(b *testing.B) {
				needTwoCPUs(b)
				benchCoregateRing(b, Config{Cores: 2, IdleSpin: -1}, 2, 2*b.N, OnExecutor)
			})
			b.Run("hollywood", func(b *testing.B) {
				needTwoCPUs(b)
				benchHollywoodRing(b, 2, 2*b.N)
			})
		})
	})
	b.Run("counting", func(b *testing.B) {
		b.Run("coregate", func(b *testing.B) { benchCoregateCounting(b, Config{}) })
		b.Run("coregate-nopoll", func(b *testing.B) { benchCoregateCounting(b, Config{IdleSpin: -1}) })
		b.Run("hollywood", benchHollywoodCounting)
	})
	b.Run("counting-request-context", func(b *testing.B) {
		// As counting, the sender's context a request's: eight values over
		// the deadline, as a server's middleware leaves it.
		b.Run("coregate", func(b *testing.B) { benchCoregateCountingDeep(b, Config{}, 1, 8) })
	})
	b.Run("counting8", func(b *testing.B) {
		b.Run("coregate", func(b *testing.B) { benchCoregateCountingFrom(b, Config{}, 8) })
		b.Run("hollywood", func(b *testing.B) { benchHollywoodCountingFrom(b, 8) })
	})
	b.Run("ring100", func(b *testing.B) {
		b.Run("coregate", func(b *testing.B) { benchCoregateRing(b, Config{}, 100, b.N, nil) })
		b.Run("coregate-one-core", func(b *testing.B) {
			benchCoregateRing(b, Config{}, 100, b.N, func(int) Option { return OnExecutor(0) })
		})
		b.Run("coregate-nopoll", func(b *testing.B) { benchCoregateRing(b, Config{IdleSpin: -1}, 100, b.N, nil) })
		b.Run("hollywood", func(b *testing.B) { benchHollywoodRing(b, 100, b.N) })
	})
	b.Run("ask", func(b *testing.B) {
		b.Run("coregate", func(b *testing.B) { benchCoregateAsk(b, Config{}) })
		b.Run("coregate-nopoll", func(b *testing.B) { benchCoregateAsk(b, Config{IdleSpin: -1}) })
		b.Run("hollywood", benchHollywoodAsk)
	})
}

// benchDeadline bounds every wait in these benchmarks: past it the
// benchmark fails rather than hangs.
const benchDeadline = 2 * time.Minute

// oneCore runs the rest of b with GOMAXPROCS 1, as the actor suite runs
// its one-core ping-pong on every system.
func oneCore(b *testing.B) {
	prev := runtime.GOMAXPROCS(1)
	b.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

func needTwoCPUs(b *testing.B) {
	allowed, err := actors.AllowedCPUs()
	if err != nil {
		b.Fatal(err)
	}
	if len(allowed) < 2 || runtime.GOMAXPROCS(0) < 2 {
		b.Skipf("cross-core needs 2 CPUs: %d allowed, GOMAXPROCS %d", len(allowed), runtime.GOMAXPROCS(0))
	}
}

// reportMsgs reports msgs per second of the timed part.
func reportMsgs(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// startBenchRuntime starts a runtime; the returned func stops it and checks
// that every accepted token was resolved.
func startBenchRuntime(b *testing.B, cfg Config) (*Runtime, func()) {
	b.Helper()
	rt, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return rt, func() {
		ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
		defer cancel()
		if err := rt.Stop(ctx); err != nil {
			b.Errorf("stopping the runtime: %v", err)
		}
		if s := rt.Stats().Total; s.Submitted != s.Resolved() {
			b.Errorf("unbalanced counts after Stop: %+v", s)
		}
	}
}

// hwSystem is a hollywood engine and the actors a benchmark spawned on it.
type hwSystem struct {
	e    *actor.Engine
	pids []*actor.PID
}

func newHW(b *testing.B) *hwSystem {
	b.Helper()
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		b.Fatal(err)
	}
	return &hwSystem{e: e}
}

func (h *hwSystem) spawn(r actor.Receiver, kind string) *actor.PID {
	pid := h.e.Spawn(func() actor.Receiver { return r }, kind, actor.WithID(fmt.Sprint(len(h.pids))))
	h.pids = append(h.pids, pid)
	return pid
}

// stop poisons every actor spawned and waits until each stopped.
func (h *hwSystem) stop(b *testing.B) {
	dones := make([]context.Context, len(h.pids))
	for i, pid := range h.pids {
		dones[i] = h.e.Poison(pid)
	}
	timeout := time.After(benchDeadline)
	for i, d := range dones {
		select {
		case <-d.Done():
		case <-timeout:
			b.Errorf("hollywood actor %v did not stop", h.pids[i])
			return
		}
	}
}

// waitDone waits for the end of a ring's run.
func waitDone(b *testing.B, done <-chan error) {
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(benchDeadline):
		b.Fatal("the token never came back to 0")
	}
}

// ringWant is how many messages actor i of a ring of k receives when a token
// of value msgs starts at actor 0: the hops j in [0, msgs] with j%k == i.
func ringWant(i, k, msgs int) int {
	if i > msgs {
		return 0
	}
	return (msgs-i)/k + 1
}

// cgHop is a coregate ring member: it passes n-1 on to next, and reports on
// done when n reaches 0. A ring of 2 is ping-pong.
type cgHop struct {
	next  *Ref[int, struct{}]
	recvd int
	done  chan<- error
}

func (a *cgHop) Receive(c *ActorContext, n int) (struct{}, error) {
	a.recvd++
	if n == 0 {
		a.done <- nil
		return struct{}{}, nil
	}
	if err := a.next.Tell(c, n-1); err != nil {
		a.done <- fmt.Errorf("hop at %d: %w", n, err)
	}
	return struct{}{}, nil
}

// benchCoregateRing passes a token msgs hops around a ring of k actors, actor
// i placed with place(i) (nil: the default Heavy staggering).
func benchCoregateRing(b *testing.B, cfg Config, k, msgs int, place func(int) Option) {
	rt, stop := startBenchRuntime(b, cfg)
	defer stop()
	done := make(chan error, 1)
	hops := make([]*cgHop, k)
	refs := make([]*Ref[int, struct{}], k)
	for i := range k {
		hop := &cgHop{done: done}
		var opts []Option
		if place != nil {
			opts = append(opts, place(i))
		}
		ref, err := Spawn(rt, fmt.Sprint("hop", i), func() Actor[int, struct{}] { return hop }, opts...)
		if err != nil {
			b.Fatal(err)
		}
		hops[i], refs[i] = hop, ref
	}
	for i, hop := range hops {
		hop.next = refs[(i+1)%k]
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := refs[0].Tell(context.Background(), msgs); err != nil {
		b.Fatal(err)
	}
	waitDone(b, done)
	b.StopTimer()
	for i, hop := range hops {
		if want := ringWant(i, k, msgs); hop.recvd != want {
			b.Fatalf("actor %d received %d messages, want %d", i, hop.recvd, want)
		}
	}
	reportMsgs(b, msgs)
}

// hwHop is cgHop for hollywood.
type hwHop struct {
	next  *actor.PID
	recvd int
	done  chan<- error
}

func (a *hwHop) Receive(c *actor.Context) {
	if n, ok := c.Message().(int); ok {
		a.recvd++
		if n == 0 {
			a.done <- nil
			return
		}
		c.Send(a.next, n-1)
	}
}

func benchHollywoodRing(b *testing.B, k, msgs int) {
	h := newHW(b)
	defer h.stop(b)
	done := make(chan error, 1)
	hops := make([]*hwHop, k)
	pids := make([]*actor.PID, k)
	for i := range k {
		hops[i] = &hwHop{done: done}
		pids[i] = h.spawn(hops[i], "hop")
	}
	for i, hop := range hops {
		hop.next = pids[(i+1)%k]
	}
	b.ReportAllocs()
	b.ResetTimer()
	h.e.Send(pids[0], msgs)
	waitDone(b, done)
	b.StopTimer()
	for i, hop := range hops {
		if want := ringWant(i, k, msgs); hop.recvd != want {
			b.Fatalf("actor %d received %d messages, want %d", i, hop.recvd, want)
		}
	}
	reportMsgs(b, msgs)
}

// cgSum adds what it is told and answers the sum.
type cgSum struct{ sum int }

func (a *cgSum) Receive(_ *ActorContext, x int) (int, error) {
	a.sum += x
	return a.sum, nil
}

// spawnSum starts a runtime with one cgSum actor; stop stops both.
func spawnSum(b *testing.B, cfg Config) (*Ref[int, int], context.Context, func()) {
	rt, stopRT := startBenchRuntime(b, cfg)
	ref, err := Spawn(rt, "sum", func() Actor[int, int] { return &cgSum{} })
	if err != nil {
		stopRT()
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
	return ref, ctx, func() { cancel(); stopRT() }
}

func benchCoregateCounting(b *testing.B, cfg Config) { benchCoregateCountingFrom(b, cfg, 1) }

// benchCoregateCountingFrom is counting with the b.N tells split over
// senders goroutines.
func benchCoregateCountingFrom(b *testing.B, cfg Config, senders int) {
	benchCoregateCountingDeep(b, cfg, senders, 0)
}

type benchKey int

// benchCoregateCountingDeep is benchCoregateCountingFrom with depth values
// added to the senders' context.
func benchCoregateCountingDeep(b *testing.B, cfg Config, senders, depth int) {
	ref, ctx, stop := spawnSum(b, cfg)
	defer stop()
	for i := range depth {
		ctx = context.WithValue(ctx, benchKey(i), i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if senders == 1 { // no closure call in the way
		for range b.N {
			if err := ref.Tell(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	} else if err := fromSenders(b.N, senders, func() error { return ref.Tell(ctx, 1) }); err != nil {
		b.Fatal(err)
	}
	tok, err := ref.Ask(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	got, err := tok.Wait(ctx)
	b.StopTimer()
	if err != nil || got != b.N {
		b.Fatalf("the actor counted %d (%v), want %d", got, err, b.N)
	}
	reportMsgs(b, b.N+1)
}

// hwSum adds the ints it gets and responds with the sum to a sumQuery, or to
// every int when respondEach is set.
type hwSum struct {
	sum         int
	respondEach bool
}

type sumQuery struct{}

func (a *hwSum) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case int:
		a.sum += m
		if a.respondEach {
			c.Respond(a.sum)
		}
	case sumQuery:
		c.Respond(a.sum)
	}
}

func benchHollywoodCounting(b *testing.B) { benchHollywoodCountingFrom(b, 1) }

func benchHollywoodCountingFrom(b *testing.B, senders int) {
	h := newHW(b)
	defer h.stop(b)
	pid := h.spawn(&hwSum{}, "sum")
	b.ReportAllocs()
	b.ResetTimer()
	if senders == 1 {
		for range b.N {
			h.e.Send(pid, 1)
		}
	} else {
		_ = fromSenders(b.N, senders, func() error { h.e.Send(pid, 1); return nil })
	}
	got, err := h.e.Request(pid, sumQuery{}, benchDeadline).Result()
	b.StopTimer()
	if err != nil || got != b.N {
		b.Fatalf("the actor counted %v (%v), want %d", got, err, b.N)
	}
	reportMsgs(b, b.N+1)
}

// fromSenders calls send n times in all from senders goroutines, and
// returns the first error.
func fromSenders(n, senders int, send func() error) error {
	errs := make(chan error, senders)
	for k := range senders {
		go func() {
			var err error
			for i := k; i < n && err == nil; i += senders {
				err = send()
			}
			errs <- err
		}()
	}
	var first error
	for range senders {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func benchCoregateAsk(b *testing.B, cfg Config) {
	ref, ctx, stop := spawnSum(b, cfg)
	defer stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tok, err := ref.Ask(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		got, err := tok.Wait(ctx)
		if err != nil || got != i+1 {
			b.Fatalf("ask %d: got %d (%v), want %d", i, got, err, i+1)
		}
	}
	b.StopTimer()
	reportMsgs(b, b.N)
}

func benchHollywoodAsk(b *testing.B) {
	h := newHW(b)
	defer h.stop(b)
	pid := h.spawn(&hwSum{respondEach: true}, "sum")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		got, err := h.e.Request(pid, 1, benchDeadline).Result()
		if err != nil || got != i+1 {
			b.Fatalf("request %d: got %v (%v), want %d", i, got, err, i+1)
		}
	}
	b.StopTimer()
	reportMsgs(b, b.N)
}
