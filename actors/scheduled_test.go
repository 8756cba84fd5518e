package actors

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/anthdm/hollywood/actor"
)

// ticker is a test-only Scheduled runnable, shaped like an actor: it keeps its
// own schedule state, runs turns one at a time, skips a turn that finds one
// active (recording that it must run again), and schedules itself again until
// it has had limit turns.
type ticker struct {
	e     *Executor
	limit int
	body  func(ctx context.Context, turn int)
	done  chan struct{}

	mu             sync.Mutex
	active, again  bool
	turns, skipped int
	overlapped     bool
}

func (k *ticker) Task() *Task               { return nil }
func (k *ticker) Run(context.Context) error { panic("a Scheduled runnable is not run as a token") }
func (k *ticker) Unschedule()               {}

func (k *ticker) Turn(ctx context.Context) {
	k.mu.Lock()
	if k.active {
		k.again, k.skipped = true, k.skipped+1
		k.mu.Unlock()
		return
	}
	k.active, k.turns = true, k.turns+1
	turn := k.turns
	k.mu.Unlock()
	if e := ExecutorOf(ctx); e != k.e {
		k.overlapped = true // wrong executor: flag it like an overlap
	}
	if k.body != nil {
		k.body(ctx, turn)
	}
	k.mu.Lock()
	k.active = false
	more := k.again || turn < k.limit
	k.again = false
	k.mu.Unlock()
	if !more {
		close(k.done)
		return
	}
	if k.e.Schedule(k) != Pushed {
		panic("reschedule refused")
	}
}

func startOneExecutor(t *testing.T) (*Group, *Executor) {
	t.Helper()
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	return g, g.Executors()[0]
}

// startGroup starts a group of cfg (Engine and Name filled in) with hooks on
// a new engine; the test's cleanup aborts it.
func startGroup(t *testing.T, cfg GroupConfig, hooks Hooks) *Group {
	t.Helper()
	cfg.Engine, cfg.Name = newEngine(t), "t"
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(hooks); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Abort()
		_ = g.Wait(context.Background())
		g.Release()
		g.Unregister()
	})
	return g
}

// TestScheduledRunsManyTimes: a Scheduled runnable rescheduling itself runs
// 100 turns on its executor, interleaved with tokens, which all run; it is
// not counted as a token.
func TestScheduledRunsManyTimes(t *testing.T) {
	_, e := startOneExecutor(t)
	k := &ticker{e: e, limit: 100, done: make(chan struct{})}
	if e.Schedule(k) != Pushed {
		t.Fatal("schedule refused")
	}
	var toks []*testJob
	for i := range 50 {
		j := newJob(uint64(i), nil)
		toks = append(toks, j)
		for e.Push(j) == Full {
			<-k.done // cannot happen with 16 slots and the runnable uncounted
		}
	}
	<-k.done
	for _, j := range toks {
		<-j.Task().Finished()
	}
	if k.turns != 100 || k.skipped != 0 || k.overlapped {
		t.Fatalf("turns %d, skipped %d, overlapped %v", k.turns, k.skipped, k.overlapped)
	}
	if c := e.Counts(); c.Submitted != 50 || c.Succeeded != 50 {
		t.Fatalf("counts %+v: the runnable must not count as tokens", c)
	}
}

// TestScheduledSkippedWhileActive: a turn blocks on a token queued behind it,
// so its goroutine hands the executor to a helper; the runnable, scheduled
// again meanwhile, is popped by the helper and skips (its turn is active),
// then runs again once the blocked turn ends. Turns never overlap.
func TestScheduledSkippedWhileActive(t *testing.T) {
	_, e := startOneExecutor(t)
	k := &ticker{e: e, limit: 1, done: make(chan struct{})}
	k.body = func(ctx context.Context, turn int) {
		if turn != 1 {
			return
		}
		if e.Schedule(k) != Pushed { // queued ahead of the token
			panic("schedule refused")
		}
		tok := newJob(1, nil)
		if e.Push(tok) != Pushed {
			panic("push refused")
		}
		if err := tok.Task().Await(ctx); err != nil {
			panic(err)
		}
	}
	e.Schedule(k)
	<-k.done
	if k.turns != 2 || k.skipped != 1 || k.overlapped {
		t.Fatalf("turns %d, skipped %d, overlapped %v; want 2 turns, 1 skipped", k.turns, k.skipped, k.overlapped)
	}
}

// TestLaunchRefusedWhileRunning: a second Launch of a running executor is an
// error, never a second goroutine draining its mailbox.
func TestLaunchRefusedWhileRunning(t *testing.T) {
	_, e := startOneExecutor(t)
	if err := e.Launch(); !errors.Is(err, ErrRunning) {
		t.Fatalf("Launch of a running executor = %v, want ErrRunning", err)
	}
}

// TestLocalScheduleIsFair: a runnable that its own turns schedule again (on
// the owner's local run queue) does not starve a token pushed to the
// mailbox meanwhile: the owner takes turns between the two.
func TestLocalScheduleIsFair(t *testing.T) {
	_, e := startOneExecutor(t)
	tok := newJob(1, nil)
	ranAt := 0 // the turn during which the token was seen done
	k := &ticker{e: e, limit: 50, done: make(chan struct{})}
	k.body = func(_ context.Context, turn int) {
		if turn == 1 && e.Push(tok) != Pushed {
			panic("push refused")
		}
		if ranAt == 0 && tok.Task().done.isFired() {
			ranAt = turn
		}
	}
	if e.Schedule(k) != Pushed {
		t.Fatal("schedule refused")
	}
	<-k.done
	if ranAt == 0 || ranAt > 3 {
		t.Fatalf("the mailbox's token ran before turn %d of a self-scheduling runnable; want by turn 3", ranAt)
	}
}

// TestLocalScheduleSurvivesOwnerExit: a runnable scheduled on the owner's
// local run queue by a turn that then ends the owner's goroutine
// (runtime.Goexit) is moved to the mailbox as the owner ends, so that an
// executor retired then (down) hands it on with its queue.
func TestLocalScheduleSurvivesOwnerExit(t *testing.T) {
	retired := make(chan []Job, 1)
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(e *Executor, err error) { retired <- e.Retire() }})
	e := g.Executors()[0]
	after := &ticker{e: e, limit: 1, done: make(chan struct{})}
	k := &ticker{e: e, limit: 1, done: make(chan struct{})}
	k.body = func(context.Context, int) {
		if e.Schedule(after) != Pushed {
			panic("schedule refused")
		}
		runtime.Goexit() // the turn never returns
	}
	if e.Schedule(k) != Pushed {
		t.Fatal("schedule refused")
	}
	jobs := <-retired
	if len(jobs) != 1 || jobs[0] != Job(after) {
		t.Fatalf("retired %v, want the runnable scheduled locally", jobs)
	}
}

// TestLocalQueueGoesOnWhenPopFails: found by review. The owner gives the
// mailbox its turn when a pop may find a job (a push it saw, a closed
// mailbox to look at); when the pop finds none (a steal took the push, the
// closed mailbox is empty) the local runnable must run next, not wait for a
// push that may never come.
func TestLocalQueueGoesOnWhenPopFails(t *testing.T) {
	g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unregister()
	e := g.Executors()[0] // not launched: the test plays its owner
	e.mb.attach(true)
	defer e.mb.attach(false)
	k := &ticker{e: e, limit: 1, done: make(chan struct{})}
	e.local = append(e.local, k)
	e.fromLocal = true // the mailbox's turn
	e.mb.Close()       // empty, but pending: the owner must look
	if !e.mb.pending() {
		t.Fatal("a closed mailbox does not ask to be looked at")
	}
	if j, ok := e.next(); !ok || j != Job(k) {
		t.Fatalf("next() = %v, %v; want the local runnable", j, ok)
	}
}

// TestLocalQueueTakesTurnsWithClosedMailbox: found by review. While the
// mailbox is closed (a draining Stop) its jobs still take turns with the
// local run queue.
func TestLocalQueueTakesTurnsWithClosedMailbox(t *testing.T) {
	g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unregister()
	e := g.Executors()[0]
	e.mb.attach(true)
	defer e.mb.attach(false)
	k1 := &ticker{e: e, limit: 1, done: make(chan struct{})}
	k2 := &ticker{e: e, limit: 1, done: make(chan struct{})}
	tok := newJob(1, nil)
	if e.Push(tok) != Pushed {
		t.Fatal("push refused")
	}
	e.mb.Close()
	e.local = append(e.local, k1, k2)
	var got []Job
	for range 3 {
		j, ok := e.next()
		if !ok {
			t.Fatal("next() found nothing")
		}
		got = append(got, j)
	}
	if got[0] != Job(k1) || got[1] != Job(tok) || got[2] != Job(k2) {
		t.Fatalf("order %v, want local, mailbox, local", got)
	}
}

func newEngine(t *testing.T) *actor.Engine {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	return engine
}

// TestAdoptLeavesARunningToken: Adopt of a token an executor claimed to
// run moves nothing: it runs where it is, its handler sees its executor
// unchanged, and no move is counted.
func TestAdoptLeavesARunningToken(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0, 0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	e0, e1 := g.Executors()[0], g.Executors()[1]
	started, gate := make(chan struct{}), make(chan struct{})
	j := newJob(1, func(context.Context) error { close(started); <-gate; return nil })
	if e0.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-started
	if res := e1.Adopt(j); res != Pushed {
		t.Fatalf("Adopt = %v", res)
	}
	got, rerouted := j.Task().Executor(), e0.Counts().Rerouted
	close(gate)
	<-j.Task().Finished()
	if got != e0 || rerouted != 0 {
		t.Fatalf("a running token adopted: on executor %d, %d rerouted; want 0, none", got.Index(), rerouted)
	}
}
