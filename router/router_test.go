package router

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
		{8, span{0, 7}, span{1, 7}, span{2, 7}},
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
			got = append(got, Candidate(tt.w, tt.n, tt.pos, k))
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
			i := Candidate(Weight(w), n, pos, k)
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
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	room := actors.NewRoom()
	cpus := make([]int, n)
	g, err := actors.NewGroup(actors.GroupConfig{Engine: engine, Name: "t", CPUs: cpus, MailboxSize: size, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Release)
	return New(engine, "t", g.Executors(), room), g.Executors()
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

func TestSubmitWaitsForRoomUntilContextEnds(t *testing.T) {
	r, execs := testRouter(t, 1, 1)
	if _, err := r.Submit(context.Background(), Heavy, newJob()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Submit(ctx, Heavy, newJob()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit into full range = %v, want deadline exceeded", err)
	}
	// Room made while a submitter waits lets it through.
	done := make(chan error)
	go func() {
		_, err := r.Submit(context.Background(), Heavy, newJob())
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	execs[0].Mailbox().Pop()
	execs[0].Mailbox().Pop() // refill frees the slot and notifies
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	execs[0].Mailbox().Close()
	r.room.Notify()
	if _, err := r.Submit(context.Background(), Heavy, newJob()); !errors.Is(err, actors.ErrStopped) {
		t.Fatalf("Submit to closed mailboxes = %v, want ErrStopped", err)
	}
}

func TestPlacementAllocatesNothing(t *testing.T) {
	r, _ := testRouter(t, 2, 1<<20)
	j := newJob()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, res := r.TryPlace(Light, j); res != actors.Pushed {
			t.Fatal(res)
		}
		if _, err := r.Submit(context.Background(), Heavy, j); err != nil {
			t.Fatal(err)
		}
		if err := r.SubmitTo(context.Background(), r.Next(Medium), j); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("placement allocated %.1f times per token", allocs)
	}
}

func TestRouterPIDDeadLetters(t *testing.T) {
	r, _ := testRouter(t, 1, 4)
	got, stop := testkit.Subscribe(r.engine, func(ev any) bool {
		_, ok := ev.(actor.DeadLetterEvent)
		return ok
	})
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

func BenchmarkTryPlace(b *testing.B) {
	r, execs := testRouter(b, 2, 4096)
	j := newJob()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		idx, _ := r.TryPlace(Heavy, j)
		execs[idx].Mailbox().Pop()
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
	if !refused.Task().IsFinished() || !errors.Is(refused.Task().Result(), actors.ErrMailboxFull) {
		t.Fatalf("job sent to a full runtime: finished %v, %v", refused.Task().IsFinished(), refused.Task().Result())
	}
	if c := execs[0].Counts(); c.Submitted != 2 || c.Failed != 1 {
		t.Fatalf("executor 0 counts %+v, want the refusal counted as accepted and failed", c)
	}
}
