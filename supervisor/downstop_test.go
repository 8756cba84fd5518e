package supervisor

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/router"
)

// gatedDown is a router whose Down waits for gate once it was entered
// (entered closed): the supervisor decided the executor is down, its queue
// not yet moved.
type gatedDown struct {
	*router.Router
	entered, gate chan struct{}
}

func (g *gatedDown) Down(e *actors.Executor) int {
	close(g.entered)
	<-g.gate
	return g.Router.Down(e)
}

// startGatedDown starts a supervisor of two unpinned executors with no
// restarts, whose router's Down is gated; the caller unregisters the router.
func startGatedDown(t *testing.T) (*Supervisor, *router.Router, *gatedDown) {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	room := actors.NewRoom()
	g, err := actors.NewGroup(actors.GroupConfig{Engine: engine, Name: "t", CPUs: []int{0, 0}, MailboxSize: 8, Room: room, Affinity: actors.Off, IdleSpin: -1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := router.New(g, "t", room, anchor.NewSticky(64, time.Minute, nil), anchor.NewSeeds(64))
	if err != nil {
		t.Fatal(err)
	}
	gd := &gatedDown{Router: r, entered: make(chan struct{}), gate: make(chan struct{})}
	s, err := Start(Config{Group: g, Room: room, Restart: Policy{MaxRestarts: NoRestarts, Cooldown: time.Hour}, Reroute: gd})
	if err != nil {
		r.Unregister()
		t.Fatal(err)
	}
	return s, r, gd
}

// TestDownRacingStopCutsNothingShort: an executor goes down just before a
// graceful Stop begins, its queue not yet moved when Stop closes the
// mailboxes. Stop let the other executor drain and exit first, so the
// moved tokens found it drained and were resolved with ErrStopped by a
// Stop whose context never ended (a crash just after Stop began restarts
// the executor instead, cutting nothing short: TestDownDuringStopCutsNothingShort
// at the root). Stop now waits for a down under way to move its queue
// before it closes the mailboxes.
func TestDownRacingStopCutsNothingShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, r, gd := startGatedDown(t)
		defer r.Unregister()
		e := s.Executors()[0]
		release := make(chan struct{})
		blocker := testkit.NewJob(1, func(context.Context) error { <-release; return nil })
		queued := []*testkit.Job{testkit.NewJob(2, nil), testkit.NewJob(3, nil), testkit.NewJob(4, nil)}
		for _, j := range append([]*testkit.Job{blocker}, queued...) {
			e.Accept(j.Task())
			push(t, e, j)
			synctest.Wait() // the blocker runs: the others wait behind it, not in its batch
		}
		f := injectLoopFaults(t, e)
		f.armed.Store(1)
		close(release) // the loop fails before its next token: down (no restarts)
		<-gd.entered
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		synctest.Wait() // Stop closed the mailboxes: executor 1, idle, drained
		close(gd.gate)  // the down moves executor 0's queue
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if n := r.Dropped(); n != 0 {
			t.Fatalf("%d tokens moved off the down executor resolved with ErrStopped by a Stop whose context never ended", n)
		}
		for i, j := range queued {
			if !testkit.Finished(j.Task()) {
				t.Fatalf("token %d unresolved", i)
			}
			if err := j.Task().Result(); err != nil {
				t.Fatalf("token %d resolved with %v, want it run", i, err)
			}
		}
	})
}

// TestDownShownOnceItsQueueMoved: an executor is shown Down only once its
// mailbox refuses work, and out of service (Restarting) while its queue
// moves. Found by a flaky test at the root: an actor spawned OnExecutor
// onto an executor seen Down was queued there, announced there, and moved
// by the down a moment later.
func TestDownShownOnceItsQueueMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, r, gd := startGatedDown(t)
		defer r.Unregister()
		e := s.Executors()[0]
		f := injectLoopFaults(t, e)
		f.armed.Store(1)
		j := testkit.NewJob(1, nil)
		e.Accept(j.Task())
		push(t, e, j) // wakes the loop, which fails: down (no restarts)
		<-gd.entered
		moving := e.Health()
		close(gd.gate)
		if moving&actors.Down != 0 || moving&actors.Restarting == 0 {
			t.Fatalf("health %v while its queue moves: want Restarting, not Down", moving)
		}
		for e.Health()&actors.Down == 0 {
			synctest.Wait()
			runtime.Gosched()
		}
		if res := e.Schedule(nil); res != actors.Gone {
			t.Fatalf("Schedule on an executor shown Down: %v, want Gone", res)
		}
		if h := e.Health(); h&actors.Restarting != 0 {
			t.Fatalf("health %v once down: still Restarting", h)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	})
}
