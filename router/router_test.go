package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
	"github.com/coregate/coregate/internal/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// span returns the executors 0..n-1, all live.
func span(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestRangeTable is DESIGN.md's weight-range table.
func TestRangeTable(t *testing.T) {
	type span struct{ lo, hi int }
	tests := []struct {
		n                    int
		heavy, medium, light span
	}{
		{1, span{0, 0}, span{0, 0}, span{0, 0}},
		{2, span{0, 1}, span{1, 1}, span{1, 1}},
		{3, span{0, 2}, span{1, 2}, span{2, 2}},
		{4, span{0, 3}, span{1, 3}, span{2, 3}},
		{8, span{0, 7}, span{1, 7}, span{2, 7}},
		{16, span{0, 15}, span{1, 15}, span{2, 15}},
	}
	for _, tt := range tests {
		for w, want := range map[Weight]span{Heavy: tt.heavy, Medium: tt.medium, Light: tt.light} {
			lo, hi := Range(w, tt.n)
			if (span{lo, hi}) != want {
				t.Errorf("Range(%v, %d) = %d-%d, want %d-%d", w, tt.n, lo, hi, want.lo, want.hi)
			}
		}
	}
}

// TestCandidateOrder pins the round-robin order a class walks for given positions.
func TestCandidateOrder(t *testing.T) {
	tests := []struct {
		w    Weight
		n    int
		pos  uint64
		want []int
	}{
		{Heavy, 1, 5, []int{0}},
		{Heavy, 2, 0, []int{0, 1}},
		{Heavy, 2, 1, []int{1, 0}},
		{Medium, 2, 7, []int{1}},
		{Light, 3, 4, []int{2}},
		{Medium, 8, 0, []int{1, 2, 3, 4, 5, 6, 7}},
		{Medium, 8, 9, []int{3, 4, 5, 6, 7, 1, 2}},
		{Light, 8, 2, []int{4, 5, 6, 7, 2, 3}},
	}
	for _, tt := range tests {
		var got []int
		lo, hi := Range(tt.w, tt.n)
		for k := 0; k <= hi-lo; k++ {
			got = append(got, Candidate(Eligible(tt.w, span(tt.n)), tt.pos, k))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%v n=%d pos=%d: order %v, want %v", tt.w, tt.n, tt.pos, got, tt.want)
		}
	}
}

// FuzzPlacement checks the placement invariants for any class, size and position:
// the range is non-empty and nested (Light ⊆ Medium ⊆ Heavy), and the candidates
// visit every executor of the range exactly once.
func FuzzPlacement(f *testing.F) {
	for _, n := range []int{1, 2, 3, 8} {
		for w := range NumWeights {
			f.Add(w, n, uint64(n+w))
		}
	}
	f.Fuzz(func(t *testing.T, w, n int, pos uint64) {
		if w < 0 || w >= NumWeights || n < 1 || n > 4096 {
			t.Skip()
		}
		lo, hi := Range(Weight(w), n)
		if lo > hi || lo < 0 || hi != n-1 {
			t.Fatalf("Range(%d, %d) = %d-%d", w, n, lo, hi)
		}
		if w > 0 {
			if plo, _ := Range(Weight(w-1), n); plo > lo {
				t.Fatalf("class %d range starts before class %d's", w, w-1)
			}
		}
		seen := make(map[int]bool)
		for k := 0; k <= hi-lo; k++ {
			i := Candidate(Eligible(Weight(w), span(n)), pos, k)
			if i < lo || i > hi || seen[i] {
				t.Fatalf("candidate %d = %d: outside %d-%d or repeated", k, i, lo, hi)
			}
			seen[i] = true
		}
	})
}

// testRouter builds a router over n executors that are never launched, so tests
// can inspect mailboxes directly.
func testRouter(t testing.TB, n, size int) (*Router, []*actors.Executor) {
	t.Helper()
	r, g := newRouter(t, actors.GroupConfig{CPUs: make([]int, n), MailboxSize: size})
	return r, g.Executors()
}

// newRouter builds a router over a group of cfg (its engine, name and room
// filled in), both released when the test ends.
func newRouter(t testing.TB, cfg actors.GroupConfig) (*Router, *actors.Group) {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Engine, cfg.Name, cfg.Room = engine, "t", actors.NewRoom()
	g, err := actors.NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Release)
	r, err := New(g, "t", cfg.Room, anchor.NewSticky(64, time.Minute, nil), anchor.NewSeeds(64))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Unregister)
	return r, g
}

func newJob() *testkit.Job { return testkit.NewJob(0, nil) }

// TestStaggerAndSkipFull checks round robin within the range and that a full
// mailbox is skipped for the next one in range.
func TestStaggerAndSkipFull(t *testing.T) {
	r, execs := testRouter(t, 3, 4)
	var got []int
	for range 6 {
		i, res := r.TryPlace(Heavy, newJob())
		if res != actors.Pushed {
			t.Fatal(res)
		}
		got = append(got, i)
	}
	if fmt.Sprint(got) != "[0 1 2 0 1 2]" {
		t.Fatalf("Heavy placements %v, want round robin", got)
	}
	// Medium uses 1-2 and its counter starts one step on.
	got = got[:0]
	for range 4 {
		i, _ := r.TryPlace(Medium, newJob())
		got = append(got, i)
	}
	if fmt.Sprint(got) != "[2 1 2 1]" {
		t.Fatalf("Medium placements %v", got)
	}
	// Executors 1 and 2 are now full (4 each); Medium has nowhere to go.
	if _, res := r.TryPlace(Medium, newJob()); res != actors.Full {
		t.Fatalf("Medium with its range full: %v, want Full", res)
	}
	// Heavy skips the full ones and lands on executor 0.
	for range 2 {
		if i, _ := r.TryPlace(Heavy, newJob()); i != 0 {
			t.Fatalf("Heavy placed on full executor %d", i)
		}
	}
	if execs[0].Mailbox().Len() != 4 {
		t.Fatal("executor 0 should hold 4")
	}
}

// TestSubmitWaitsForRoomUntilContextEnds: on the fake clock, a Submit into a
// full range waits for room exactly until its context's deadline; a waiting
// submitter goes through when a refill frees a slot, and not before; closed
// mailboxes make Submit return ErrStopped.
func TestSubmitWaitsForRoomUntilContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, execs := testRouter(t, 1, 1)
		bg := context.Background()
		if _, err := r.submitW(bg, Heavy, newJob()); err != nil {
			t.Fatal(err)
		}
		const timeout = 20 * time.Millisecond
		ctx, cancel := context.WithTimeout(bg, timeout)
		defer cancel()
		start := time.Now()
		if _, err := r.submitW(ctx, Heavy, newJob()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Submit into full range = %v, want deadline exceeded", err)
		}
		if waited := time.Since(start); waited != timeout {
			t.Fatalf("Submit gave up after %v, want its context's %v", waited, timeout)
		}

		// A submitter waiting for room goes through once a refill frees a slot.
		done := make(chan error, 1)
		go func() {
			_, err := r.submitW(bg, Heavy, newJob())
			done <- err
		}()
		stillWaiting := func(when string) {
			t.Helper()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("Submit returned %v %s", err, when)
			default:
			}
		}
		stillWaiting("with the range full")
		mb := execs[0].Mailbox()
		if _, ok := mb.Pop(); !ok { // the consumer takes the queued job as its batch
			t.Fatal("nothing to pop")
		}
		stillWaiting("before the batch was used up")
		mb.Pop() // the refill frees the slot and notifies the room
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mb.Close()
		r.room.Notify()
		if _, err := r.submitW(bg, Heavy, newJob()); !errors.Is(err, actors.ErrStopped) {
			t.Fatalf("Submit to closed mailboxes = %v, want ErrStopped", err)
		}
	})
}

func TestPlacementAllocatesNothing(t *testing.T) {
	r, execs := testRouter(t, 2, 1<<20)
	j := newJob()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, res := r.TryPlace(Light, j); res != actors.Pushed {
			t.Fatal(res)
		}
		if _, err := r.submitW(context.Background(), Heavy, j); err != nil {
			t.Fatal(err)
		}
		i := r.Next(Medium)
		if _, err := r.WaitRoom(context.Background(), Medium, func() (int, actors.PushResult) { return i, execs[i].Push(j) }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("placement allocated %.1f times per token", allocs)
	}
}

func TestRouterPIDDeadLetters(t *testing.T) {
	r, _ := testRouter(t, 1, 4)
	got, stop := testkit.Subscribe(r.engine, testkit.Is[actor.DeadLetterEvent])
	defer stop()
	r.engine.Send(r.PID(), "not a job")
	select {
	case msg := <-got:
		if ev := msg.(actor.DeadLetterEvent); ev.Message != "not a job" || !ev.Target.Equals(r.PID()) {
			t.Fatalf("dead letter %+v", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no dead letter for a non-job message")
	}
}

// BenchmarkTryPlace measures placement plus the push it makes, per class,
// over 8 executors; the mailboxes are drained off the clock.
func BenchmarkTryPlace(b *testing.B) {
	for _, w := range []Weight{Heavy, Medium, Light} {
		b.Run(w.String(), func(b *testing.B) {
			r, execs := testRouter(b, 8, 4096)
			j := newJob()
			lo, _ := Range(w, 8)
			count, popped := make([]int, 8), make([]int, 8)
			drain := func() {
				for i, e := range execs {
					for _, ok := e.Mailbox().Pop(); ok; _, ok = e.Mailbox().Pop() {
						popped[i]++
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				idx, res := r.TryPlace(w, j)
				if res != actors.Pushed || idx < lo {
					b.Fatalf("placed on %d: %v", idx, res)
				}
				count[idx]++
				if i%4096 == 4095 { // drain, off the clock: a consumer's pop is not placement
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			b.StopTimer()
			drain()
			if !slices.Equal(popped, count) {
				b.Fatalf("jobs found in the mailboxes %v, placed %v", popped, count)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
			b.ReportMetric(float64(slices.Max(count[lo:])-slices.Min(count[lo:])), "max-min/executor")
		})
	}
}

// TestJobsByMessage: engine.Send of a job to the router places it; to an
// executor, pushes it; a full mailbox refuses it as an accepted, failed token.
func TestJobsByMessage(t *testing.T) {
	r, execs := testRouter(t, 2, 1)
	r.engine.Send(r.PID(), newJob())
	r.engine.Send(execs[1].PID(), newJob())
	if execs[0].Mailbox().Len() != 1 || execs[1].Mailbox().Len() != 1 {
		t.Fatalf("mailboxes hold %d and %d, want 1 each", execs[0].Mailbox().Len(), execs[1].Mailbox().Len())
	}
	refused := newJob()
	r.engine.Send(r.PID(), refused)
	if !testkit.Finished(refused.Task()) || !errors.Is(refused.Task().Result(), actors.ErrMailboxFull) {
		t.Fatalf("job sent to a full runtime: finished %v, %v", testkit.Finished(refused.Task()), refused.Task().Result())
	}
	if c := execs[0].Counts(); c.Submitted != 2 || c.Failed != 1 {
		t.Fatalf("executor 0 counts %+v, want the refusal counted as accepted and failed", c)
	}
}

// TestEligibleTable: ranges recomputed over the live executors. The class
// offset counts live positions, so losing executor 0 shifts every range.
func TestEligibleTable(t *testing.T) {
	tests := []struct {
		live                 []int
		heavy, medium, light []int
	}{
		{[]int{0, 1, 2, 3}, []int{0, 1, 2, 3}, []int{1, 2, 3}, []int{2, 3}},
		{[]int{0, 2, 3}, []int{0, 2, 3}, []int{2, 3}, []int{3}},
		{[]int{1, 2, 3}, []int{1, 2, 3}, []int{2, 3}, []int{3}},
		{[]int{0, 3}, []int{0, 3}, []int{3}, []int{3}},
		{[]int{5}, []int{5}, []int{5}, []int{5}},
		{nil, nil, nil, nil},
	}
	for _, tt := range tests {
		for w, want := range map[Weight][]int{Heavy: tt.heavy, Medium: tt.medium, Light: tt.light} {
			if got := Eligible(w, tt.live); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Eligible(%v, %v) = %v, want %v", w, tt.live, got, want)
			}
		}
	}
}

// FuzzEligible: for any live set, every class is non-empty unless nothing is
// live, the classes nest, and only live executors are eligible.
func FuzzEligible(f *testing.F) {
	f.Add(uint64(0b1011), 2)
	f.Add(uint64(1), 0)
	f.Fuzz(func(t *testing.T, mask uint64, w int) {
		if w < 0 || w >= NumWeights {
			t.Skip()
		}
		var live []int
		for i := range 64 {
			if mask&(1<<i) != 0 {
				live = append(live, i)
			}
		}
		set := Eligible(Weight(w), live)
		if (len(set) == 0) != (len(live) == 0) {
			t.Fatalf("Eligible(%d, %v) = %v", w, live, set)
		}
		for _, i := range set {
			if mask&(1<<i) == 0 {
				t.Fatalf("executor %d is eligible but not live", i)
			}
		}
		if w > 0 && len(Eligible(Weight(w-1), live)) < len(set) {
			t.Fatalf("class %d has more executors than class %d", w, w-1)
		}
	})
}

// TestRemoveRecomputesRanges: with executor 1 removed, Heavy alternates over 0
// and 2 and Medium and Light use 2; with all removed, placement reports that no
// executor is left.
func TestRemoveRecomputesRanges(t *testing.T) {
	r, execs := testRouter(t, 3, 64)
	r.Down(execs[1])
	seen := map[Weight][]int{}
	for _, w := range []Weight{Heavy, Medium, Light} {
		for range 4 {
			i, res := r.TryPlace(w, newJob())
			if res != actors.Pushed {
				t.Fatal(res)
			}
			seen[w] = append(seen[w], i)
		}
	}
	if fmt.Sprint(seen[Heavy]) != "[0 2 0 2]" || fmt.Sprint(seen[Medium]) != "[2 2 2 2]" || fmt.Sprint(seen[Light]) != "[2 2 2 2]" {
		t.Fatalf("placements with executor 1 down: %v", seen)
	}
	if r.Live(1) || !r.Live(0) || r.Next(Heavy) == 1 {
		t.Fatal("executor 1 still live")
	}
	// A push onto the retired mailbox is refused as Gone, never queued.
	if got := execs[1].Push(newJob()); got != actors.Gone {
		t.Fatalf("push on a retired executor: %v", got)
	}
	r.Down(execs[0])
	r.Down(execs[2])
	if _, res := r.TryPlace(Heavy, newJob()); res != actors.NoExecutor {
		t.Fatalf("TryPlace with nothing live: %v", res)
	}
	if _, err := r.submitW(context.Background(), Light, newJob()); !errors.Is(err, actors.ErrNoExecutor) {
		t.Fatalf("Submit with nothing live: %v", err)
	}
	if r.Next(Medium) != -1 {
		t.Fatal("Next with nothing live")
	}
}

// TestUnhealthySkipped: a stalled executor gets no staggered work while a
// healthy one in range has room, and gets it again when the others are full.
func TestUnhealthySkipped(t *testing.T) {
	r, execs := testRouter(t, 2, 3)
	execs[0].SetHealth(actors.Stalled, true)
	for range 3 {
		if i, _ := r.TryPlace(Heavy, newJob()); i != 1 {
			t.Fatalf("placed on stalled executor %d", i)
		}
		if r.Next(Heavy) != 1 {
			t.Fatal("Next picked the stalled executor")
		}
	}
	if i, _ := r.TryPlace(Heavy, newJob()); i != 0 {
		t.Fatalf("with executor 1 full, placed on %d, want the stalled 0", i)
	}
	execs[0].SetHealth(actors.Stalled, false)
	if !execs[0].Healthy() {
		t.Fatal("health not cleared")
	}
}

// TestNoHealthyInRangeGoesToHealthy: a Light op whose whole range (executor
// 1 of 2) is stalled is placed on the healthy executor 0, the Light range
// computed over the healthy executors, instead of queueing behind the stall;
// Up after Down puts an executor back.
func TestNoHealthyInRangeGoesToHealthy(t *testing.T) {
	r, execs := testRouter(t, 2, 8)
	execs[1].SetHealth(actors.Stalled, true)
	for range 3 {
		if i, res := r.TryPlace(Light, newJob()); i != 0 || res != actors.Pushed {
			t.Fatalf("Light with its range stalled placed on %d (%v), want 0", i, res)
		}
		if i := r.Next(Light); i != 0 {
			t.Fatalf("Next(Light) = %d with its range stalled, want 0", i)
		}
	}
	execs[0].SetHealth(actors.Stalled, true)
	if i, _ := r.TryPlace(Light, newJob()); i != 1 {
		t.Fatalf("with nothing healthy, Light placed on %d, want its own range", i)
	}
	r.Down(execs[1])
	r.Up(execs[1])
	if !r.Live(1) || fmt.Sprint(r.Eligible(Light)) != "[1]" {
		t.Fatal("Up did not put executor 1 back")
	}
}
