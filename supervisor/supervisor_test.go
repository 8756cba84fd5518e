package supervisor

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startOne(t *testing.T) (*Supervisor, *actor.Engine, <-chan any) {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	events, stop := testkit.Subscribe(engine, func(ev any) bool {
		switch ev.(type) {
		case ExecutorStarted, ExecutorRestarted, ExecutorStopped:
			return true
		}
		return false
	})
	t.Cleanup(stop)
	cpus, err := actors.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	s := startGroup(t, actors.GroupConfig{Engine: engine, CPUs: cpus[:1]}, Config{})
	return s, engine, events
}

// startGroup starts a supervisor over a new group made from gc (named "t",
// 64-token mailboxes) with cfg's policy, watchdog and rerouter.
func startGroup(t *testing.T, gc actors.GroupConfig, cfg Config) *Supervisor {
	t.Helper()
	room := actors.NewRoom()
	gc.Name, gc.MailboxSize, gc.Room = "t", 64, room
	g, err := actors.NewGroup(gc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Group, cfg.Room = g, room
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func next(t *testing.T, events <-chan any) any {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(2 * time.Minute): // long enough for the fake clock's cool-downs
		t.Fatal("no event")
		return nil
	}
}

func push(t *testing.T, e *actors.Executor, j *testkit.Job) {
	t.Helper()
	if got := e.Push(j); got != actors.Pushed {
		t.Fatalf("push: %v", got)
	}
}

// TestRestartAfterGoexitKeepsQueue: a handler calls runtime.Goexit while tokens
// wait behind it; the replacement executor runs all of them, in order, on the
// same CPU.
func TestRestartAfterGoexitKeepsQueue(t *testing.T) {
	s, _, events := startOne(t)
	e := s.Executors()[0]
	if _, ok := next(t, events).(ExecutorStarted); !ok {
		t.Fatal("first event is not ExecutorStarted")
	}

	release := make(chan struct{})
	push(t, e, testkit.NewJob(0, func(context.Context) error { <-release; return nil }))
	exiter := testkit.NewJob(1, func(context.Context) error { runtime.Goexit(); return nil })
	push(t, e, exiter)
	var mu sync.Mutex
	var order []int
	var masks [][]int
	var after []*testkit.Job
	for i := 2; i < 40; i++ {
		j := testkit.NewJob(uint64(i), func(context.Context) error {
			mask, _ := actors.ThreadCPUs()
			mu.Lock()
			order = append(order, i)
			masks = append(masks, mask)
			mu.Unlock()
			return nil
		})
		after = append(after, j)
		push(t, e, j)
	}
	close(release)
	<-exiter.Task().Finished()
	if err := exiter.Task().Result(); !errors.Is(err, actors.ErrGoexit) {
		t.Fatalf("Goexit token resolved with %v", err)
	}
	for _, j := range after {
		<-j.Task().Finished()
	}
	if !slices.IsSorted(order) || len(order) != len(after) {
		t.Fatalf("queued tokens ran as %v", order)
	}
	if pinned, _ := e.Pinned(); pinned {
		for _, m := range masks {
			if !slices.Equal(m, []int{e.CPU()}) {
				t.Fatalf("replacement runs with mask %v, want [%d]", m, e.CPU())
			}
		}
	}
	ev, ok := next(t, events).(ExecutorRestarted)
	if !ok || !errors.Is(ev.Reason, actors.ErrGoexit) || ev.Index != 0 {
		t.Fatalf("want ExecutorRestarted for Goexit, got %#v", ev)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := next(t, events).(ExecutorStopped); !ok {
		t.Fatal("no ExecutorStopped")
	}
	c := e.Counts()
	if c.Submitted != 40 || c.Succeeded != 39 || c.Failed != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestStopAbortsWhenContextEnds: a handler that blocks until its context is
// cancelled and tokens queued behind it; Stop's context ends first.
func TestStopAbortsWhenContextEnds(t *testing.T) {
	s, _, _ := startOne(t)
	e := s.Executors()[0]
	started := make(chan struct{})
	blocker := testkit.NewJob(0, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	push(t, e, blocker)
	<-started
	var queued []*testkit.Job
	for i := range 10 {
		j := testkit.NewJob(uint64(i+1), nil)
		queued = append(queued, j)
		push(t, e, j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want deadline exceeded", err)
	}
	// Stop gives a cancelled handler a grace to return, never a promise:
	// on a loaded machine the blocker may still be on its way out.
	select {
	case <-blocker.Task().Finished():
	case <-time.After(time.Minute): // bounds a hang: no timing
		t.Fatal("the running token never resolved after its context was cancelled")
	}
	if err := blocker.Task().Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("running token resolved with %v, want its context cancelled", err)
	}
	for _, j := range queued {
		if err := j.Task().Result(); !errors.Is(err, actors.ErrStopped) || !testkit.Finished(j.Task()) {
			t.Fatalf("queued token resolved with %v, want ErrStopped", err)
		}
	}
	if got := e.Push(testkit.NewJob(99, nil)); got != actors.Closed {
		t.Fatalf("push after Stop = %v, want Closed", got)
	}
	c := e.Counts()
	if c.Cancelled != 1 || c.Stopped != 10 || c.Submitted != c.Resolved() {
		t.Fatalf("counts %+v", c)
	}
}

// TestFireTakenDoesNothing: a relaunch timer that fires after Stop took it
// (its slot's timer cleared) does nothing: Stop relaunches the executor
// itself, and a second relaunch of a running executor would fail and count
// as a crash.
func TestFireTakenDoesNothing(t *testing.T) {
	s, _, _ := startOne(t)
	e := s.Executors()[0]
	s.fire(e) // no timer set: as after Stop took it
	if !e.Healthy() {
		t.Fatalf("health %v after a fire whose timer was taken", e.Health())
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
