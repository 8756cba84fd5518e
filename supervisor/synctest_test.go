package supervisor

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

func lifecycle(ev any) bool {
	switch ev.(type) {
	case ExecutorStarted, ExecutorRestarted, ExecutorStalled, ExecutorRecovered, ExecutorDown, ExecutorStopped:
		return true
	}
	return false
}

// startFake starts one unpinned executor (these tests are about time, not
// affinity) with cfg's policy and watchdog, on a new
// engine whose lifecycle events the returned channel carries.
func startFake(t *testing.T, cfg Config) (*Supervisor, *actors.Executor, <-chan any) {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	events, stop := testkit.Subscribe(engine, lifecycle)
	t.Cleanup(stop)
	cfg.Engine, cfg.Name, cfg.CPUs, cfg.MailboxSize, cfg.Affinity, cfg.Room = engine, "t", []int{0}, 64, actors.Off, actors.NewRoom()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Executors()[0], events
}

// TestRestartBackoffAndDownFakeClock runs the restart policy on synctest's
// fake clock: the first restart in the window is immediate, the next ones
// wait out a doubling jittered backoff (the executor is Restarting meanwhile),
// and the crash past MaxRestarts takes the executor down, resolving what was
// queued behind it (no other executor here) with ErrNoExecutor.
func TestRestartBackoffAndDownFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{MaxRestarts: 3, Window: time.Minute, Backoff: time.Second, MaxBackoff: 10 * time.Second}})
		if _, ok := next(t, events).(ExecutorStarted); !ok {
			t.Fatal("first event is not ExecutorStarted")
		}
		crash := func() time.Time {
			j := testkit.NewJob(0, func(context.Context) error { runtime.Goexit(); return nil })
			push(t, e, j)
			<-j.Task().Finished()
			return time.Now()
		}
		for k, want := range []struct{ lo, hi time.Duration }{
			{0, 0},
			{500 * time.Millisecond, time.Second},
			{time.Second, 2 * time.Second},
		} {
			at := crash()
			if want.hi > 0 {
				synctest.Wait()
				if e.Health()&actors.Restarting == 0 {
					t.Fatalf("restart %d: executor not marked Restarting during its backoff", k+1)
				}
			}
			ev, ok := next(t, events).(ExecutorRestarted)
			if !ok || ev.Restarts != k+1 || !errors.Is(ev.Reason, actors.ErrGoexit) {
				t.Fatalf("restart %d: event %#v", k+1, ev)
			}
			if waited := time.Since(at); waited != ev.Backoff || waited < want.lo || waited > want.hi {
				t.Fatalf("restart %d waited %v (event says %v), want %v-%v", k+1, waited, ev.Backoff, want.lo, want.hi)
			}
			if !e.Healthy() {
				t.Fatalf("restart %d: health %v after the restart", k+1, e.Health())
			}
		}

		// The fourth crash within the minute is past the policy.
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		exiter := testkit.NewJob(2, func(context.Context) error { runtime.Goexit(); return nil })
		push(t, e, exiter)
		var queued []*testkit.Job
		for i := range 5 {
			j := testkit.NewJob(uint64(10+i), nil)
			queued = append(queued, j)
			push(t, e, j)
		}
		close(release)
		ev, ok := next(t, events).(ExecutorDown)
		if !ok || ev.Restarts != 3 || ev.Rerouted != 0 {
			t.Fatalf("want ExecutorDown after 3 restarts, got %#v", ev)
		}
		for _, j := range queued {
			if err := j.Task().Result(); !j.Task().IsFinished() || !errors.Is(err, actors.ErrNoExecutor) {
				t.Fatalf("token queued on the down executor: %v", err)
			}
		}
		if e.Health()&actors.Down == 0 {
			t.Fatal("executor not marked Down")
		}
		if got := e.Push(testkit.NewJob(99, nil)); got != actors.Gone {
			t.Fatalf("push on a down executor: %v", got)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		c := e.Counts()
		if c.Submitted != c.Resolved() || c.Failed != 4+5 || c.Succeeded != 1 {
			t.Fatalf("counts %+v", c)
		}
	})
}

// TestWindowForgetsOldRestartsFakeClock: restarts older than the window no
// longer count, so a crash after a quiet minute restarts at once.
func TestWindowForgetsOldRestartsFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second}})
		next(t, events) // started
		for round := range 3 {
			for k := range 2 {
				push(t, e, testkit.NewJob(0, func(context.Context) error { runtime.Goexit(); return nil }))
				ev, ok := next(t, events).(ExecutorRestarted)
				if !ok || ev.Restarts != k+1 {
					t.Fatalf("round %d restart %d: %#v", round, k+1, ev)
				}
			}
			time.Sleep(time.Minute)
		}
		if e.Health() != 0 {
			t.Fatalf("health %v", e.Health())
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, ok := next(t, events).(ExecutorStopped); !ok {
			t.Fatal("no ExecutorStopped")
		}
	})
}

// TestStopDuringBackoffDrains: Stop while an executor waits out a backoff
// relaunches it at once, and the tokens queued behind the crash run.
func TestStopDuringBackoffDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, _ := startFake(t, Config{Restart: Policy{Backoff: time.Hour, MaxBackoff: time.Hour}})
		goexit := func(context.Context) error { runtime.Goexit(); return nil }
		push(t, e, testkit.NewJob(0, goexit))
		synctest.Wait() // restarted at once
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		push(t, e, testkit.NewJob(2, goexit))
		after := testkit.NewJob(3, nil)
		push(t, e, after)
		close(release)
		synctest.Wait() // crashed again: an hour's backoff
		if e.Health()&actors.Restarting == 0 || after.Task().IsFinished() {
			t.Fatal("executor is not waiting out its backoff")
		}
		start := time.Now()
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 || after.Task().Result() != nil || !after.Task().IsFinished() {
			t.Fatalf("Stop waited %v; queued token: %v", time.Since(start), after.Task().Result())
		}
	})
}

// TestWatchdogFakeClock: a token running past StallAfter marks its executor
// Stalled and publishes ExecutorStalled no earlier than the threshold; its end
// publishes ExecutorRecovered. Short tokens and an idle executor raise nothing.
func TestWatchdogFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		for range 20 {
			push(t, e, testkit.NewJob(0, func(context.Context) error { time.Sleep(50 * time.Millisecond); return nil }))
		}
		time.Sleep(5 * time.Second) // idle after the short tokens
		started := make(chan time.Time, 1)
		push(t, e, testkit.NewJob(1, func(context.Context) error {
			started <- time.Now()
			time.Sleep(time.Second)
			return nil
		}))
		t0 := <-started
		stalled, ok := next(t, events).(ExecutorStalled)
		if !ok {
			t.Fatalf("want ExecutorStalled, got %#v", stalled)
		}
		if since := time.Since(t0); since < 100*time.Millisecond || stalled.Running < 100*time.Millisecond || since > 200*time.Millisecond {
			t.Fatalf("stall reported %v after the token started (running %v)", since, stalled.Running)
		}
		if e.Health()&actors.Stalled == 0 {
			t.Fatal("executor not marked Stalled")
		}
		recovered, ok := next(t, events).(ExecutorRecovered)
		if !ok || time.Since(t0) < time.Second {
			t.Fatalf("want ExecutorRecovered after the token ended, got %#v at %v", recovered, time.Since(t0))
		}
		if !e.Healthy() {
			t.Fatal("still unhealthy after recovering")
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ev, ok := next(t, events).(ExecutorStopped); !ok {
			t.Fatalf("want ExecutorStopped, got %#v", ev)
		}
	})
}
