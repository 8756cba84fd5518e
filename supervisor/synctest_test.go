package supervisor

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
)

func lifecycle(ev any) bool {
	switch ev.(type) {
	case ExecutorStarted, ExecutorRestarted, ExecutorStalled, ExecutorRecovered, ExecutorDown, ExecutorRevived, ExecutorStopped:
		return true
	}
	return false
}

// startFake starts one unpinned executor (these tests are about time, not
// affinity) with cfg's policy and watchdog, on a new
// engine whose lifecycle events the returned channel carries.
func startFake(t *testing.T, cfg Config) (*Supervisor, *actors.Executor, <-chan any) {
	t.Helper()
	return startOn(t, cfg, []int{0}, actors.Off)
}

// startOn starts one executor on cpus[0] with affinity aff and cfg's
// policy and watchdog, on a new engine whose lifecycle events the returned
// channel carries.
func startOn(t *testing.T, cfg Config, cpus []int, aff actors.Affinity) (*Supervisor, *actors.Executor, <-chan any) {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	events, stop := testkit.Subscribe(engine, lifecycle)
	t.Cleanup(stop)
	s := startGroup(t, actors.GroupConfig{Engine: engine, CPUs: cpus[:1], Affinity: aff}, cfg)
	return s, s.Executors()[0], events
}

// loopFaults arms executor 0's loop to fail: each crash() makes the loop
// panic once, between batches, as a bug in coregate itself would.
type loopFaults struct {
	armed atomic.Int32
	e     *actors.Executor
}

var errLoop = errors.New("injected loop failure")

func injectLoopFaults(t *testing.T, e *actors.Executor) *loopFaults {
	f := &loopFaults{e: e}
	t.Cleanup(faults.SetLoop(func(exec int) error {
		if exec == e.Index() && f.armed.Load() > 0 && f.armed.Add(-1) >= 0 {
			return errLoop
		}
		return nil
	}))
	return f
}

// crash makes the loop fail once: a no-op token wakes it, and the loop fails
// before running it, so the token waits for the replacement. It returns once
// the supervisor has dealt with the failure.
func (f *loopFaults) crash(t *testing.T) time.Time {
	f.armed.Store(1)
	push(t, f.e, testkit.NewJob(0, nil))
	synctest.Wait()
	return time.Now()
}

func goexitJob(id uint64) *testkit.Job {
	return testkit.NewJob(id, func(context.Context) error { runtime.Goexit(); return nil })
}

// TestRestartBackoffDownAndReviveFakeClock runs the restart policy on
// synctest's fake clock: the first restart in the window is immediate, the
// next ones wait out a doubling jittered backoff (the executor is Restarting
// meanwhile), the failure past MaxRestarts takes the executor down, resolving
// what was queued behind it (no other executor here) with ErrNoExecutor, and
// after its cool-down it runs again; each further down doubles the cool-down
// up to MaxCooldown. Handlers' Goexits in between never count.
func TestRestartBackoffDownAndReviveFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{
			MaxRestarts: 3, Window: time.Minute, Backoff: time.Second, MaxBackoff: 10 * time.Second,
			Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second,
		}})
		f := injectLoopFaults(t, e)
		if _, ok := next(t, events).(ExecutorStarted); !ok {
			t.Fatal("first event is not ExecutorStarted")
		}
		for k, want := range []struct{ lo, hi time.Duration }{
			{0, 0},
			{500 * time.Millisecond, time.Second},
			{time.Second, 2 * time.Second},
		} {
			at := f.crash(t)
			if want.hi > 0 && e.Health()&actors.Restarting == 0 {
				t.Fatalf("restart %d: executor not marked Restarting during its backoff", k+1)
			}
			ev, ok := next(t, events).(ExecutorRestarted)
			if !ok || ev.Restarts != k+1 || !errors.Is(ev.Reason, errLoop) {
				t.Fatalf("restart %d: event %#v", k+1, ev)
			}
			if waited := time.Since(at); waited != ev.Backoff || waited < want.lo || waited > want.hi {
				t.Fatalf("restart %d waited %v (event says %v), want %v-%v", k+1, waited, ev.Backoff, want.lo, want.hi)
			}
			if !e.Healthy() {
				t.Fatalf("restart %d: health %v after the restart", k+1, e.Health())
			}
			// A handler's Goexit is replaced at once and not counted.
			push(t, e, goexitJob(1))
			if ev, ok := next(t, events).(ExecutorRestarted); !ok || ev.Restarts != k+1 || ev.Backoff != 0 || !errors.Is(ev.Reason, actors.ErrGoexit) {
				t.Fatalf("Goexit after restart %d: %#v", k+1, ev)
			}
		}

		// The fourth failure within the minute is past the policy.
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		synctest.Wait() // it runs
		var queued []*testkit.Job
		for i := range 5 {
			j := testkit.NewJob(uint64(10+i), nil)
			queued = append(queued, j)
			push(t, e, j)
		}
		f.armed.Store(1)
		close(release)
		ev, ok := next(t, events).(ExecutorDown)
		if !ok || ev.Restarts != 3 || ev.Rerouted != 0 || ev.Cooldown != 10*time.Second {
			t.Fatalf("want ExecutorDown after 3 restarts with a 10 s cool-down, got %#v", ev)
		}
		downAt := time.Now()
		for _, j := range queued {
			<-j.Task().Finished()
		}
		if e.Health()&actors.Down == 0 {
			t.Fatal("executor not marked Down")
		}
		if got := e.Push(testkit.NewJob(99, nil)); got != actors.Gone {
			t.Fatalf("push on a down executor: %v", got)
		}

		// Half-open after the cool-down: it runs again, and work reaches it.
		for k, cool := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second} {
			if _, ok := next(t, events).(ExecutorRevived); !ok || time.Since(downAt) != cool {
				t.Fatalf("revival %d after %v, want %v", k+1, time.Since(downAt), cool)
			}
			if !e.Healthy() {
				t.Fatalf("revived executor has health %v", e.Health())
			}
			j := testkit.NewJob(100, nil)
			push(t, e, j)
			<-j.Task().Finished()
			if j.Task().Result() != nil {
				t.Fatal(j.Task().Result())
			}
			// Down again at once: the window restarts, so three restarts
			// then down, with the cool-down doubled (capped at 30 s).
			for range 3 {
				f.crash(t)
				time.Sleep(10 * time.Second) // past any backoff
			}
			f.crash(t)
			down, ok := next(t, events).(ExecutorDown)
			for !ok { // the three restarts before it
				down, ok = next(t, events).(ExecutorDown)
			}
			if want := min(2*cool, 30*time.Second); down.Cooldown != want {
				t.Fatalf("down %d: cool-down %v, want %v", k+2, down.Cooldown, want)
			}
			downAt = time.Now()
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		c := e.Counts()
		// 3 Goexits; 5 queued at the first down and the waking no-op at each
		// later one, resolved with ErrNoExecutor (no other executor here).
		if c.Submitted != c.Resolved() || c.Failed != 3+5+3 {
			t.Fatalf("counts %+v", c)
		}
	})
}

// TestWindowForgetsOldRestartsFakeClock: restarts older than the window no
// longer count, so a failure after a quiet minute restarts at once.
func TestWindowForgetsOldRestartsFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second}})
		f := injectLoopFaults(t, e)
		next(t, events) // started
		for round := range 3 {
			for k := range 2 {
				f.crash(t)
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
// relaunches it at once, and the tokens queued behind the failure run.
func TestStopDuringBackoffDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, _ := startFake(t, Config{Restart: Policy{Backoff: time.Hour, MaxBackoff: time.Hour}})
		f := injectLoopFaults(t, e)
		f.crash(t) // restarted at once
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		after := testkit.NewJob(3, nil)
		push(t, e, after)
		f.armed.Store(1)
		close(release)
		synctest.Wait() // failed again: an hour's backoff, after's token ran
		push(t, e, testkit.NewJob(4, nil))
		later := testkit.NewJob(5, nil)
		push(t, e, later)
		synctest.Wait()
		if e.Health()&actors.Restarting == 0 || testkit.Finished(later.Task()) {
			t.Fatal("executor is not waiting out its backoff")
		}
		start := time.Now()
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 || later.Task().Result() != nil || !testkit.Finished(later.Task()) {
			t.Fatalf("Stop waited %v; queued token: %v", time.Since(start), later.Task().Result())
		}
	})
}

// TestGoexitFloodNeverDownFakeClock: a thousand handlers calling
// runtime.Goexit within a second never take the executor down, nor wait out a
// backoff: each is replaced at once.
func TestGoexitFloodNeverDownFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, _ := startFake(t, Config{Restart: Policy{MaxRestarts: 1}})
		start := time.Now()
		var last *testkit.Job
		for i := range 1000 {
			last = goexitJob(uint64(i))
			push(t, e, last)
			if i%32 == 31 {
				<-last.Task().Finished()
			}
		}
		<-last.Task().Finished()
		ok := testkit.NewJob(2000, nil)
		push(t, e, ok)
		<-ok.Task().Finished()
		if time.Since(start) != 0 || !e.Healthy() || ok.Task().Result() != nil {
			t.Fatalf("after 1000 Goexits: %v later, health %v, %v", time.Since(start), e.Health(), ok.Task().Result())
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c := e.Counts(); c.Failed != 1000 || c.Succeeded != 1 {
			t.Fatalf("counts %+v", c)
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

// startStrict is startFake with Strict affinity on the first allowed CPU, so
// that a pin failure (injectPinFaults) fails a launch.
func startStrict(t *testing.T, cfg Config) (*Supervisor, *actors.Executor, <-chan any) {
	t.Helper()
	cpus, err := actors.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, cfg, cpus, actors.Strict)
}

// injectPinFaults makes pinning executor 0's thread fail, once armed, for
// the first limit tries; it returns the number of tries that failed.
func injectPinFaults(t *testing.T, limit int32) (arm func(), failed *atomic.Int32) {
	var armed atomic.Bool
	failed = new(atomic.Int32)
	t.Cleanup(faults.SetPin(func(exec int) error {
		if exec == 0 && armed.Load() && failed.Add(1) <= limit {
			return errors.New("injected pin failure")
		}
		return nil
	}))
	return func() { armed.Store(true) }, failed
}

// TestStopWhileRelaunchFailsFakeClock: Stop relaunches an executor waiting
// out its backoff, and the relaunch fails (its thread cannot be pinned under
// Strict). While stopping a failure restarts at once, but a launch that keeps
// failing is past the policy after MaxRestarts tries: the executor goes down
// and what was queued on it is resolved (no other executor here). Before,
// each failed launch relaunched at once from inside the last one, without
// end: Stop never returned, whatever its context, and the recursion grew the
// stack until the process died.
func TestStopWhileRelaunchFailsFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, _ := startStrict(t, Config{Restart: Policy{MaxRestarts: 3, Backoff: time.Hour, MaxBackoff: time.Hour}})
		arm, failed := injectPinFaults(t, 1000)
		f := injectLoopFaults(t, e)
		f.crash(t) // restarted at once
		f.crash(t) // an hour's backoff
		queued := testkit.NewJob(1, nil)
		push(t, e, queued)
		synctest.Wait()
		if e.Health()&actors.Restarting == 0 || testkit.Finished(queued.Task()) {
			t.Fatal("executor is not waiting out its backoff")
		}
		arm()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		if n := failed.Load(); n > 3 {
			t.Fatalf("%d launches tried while stopping, want at most MaxRestarts (3)", n)
		}
		if !testkit.Finished(queued.Task()) || !errors.Is(queued.Task().Result(), actors.ErrNoExecutor) {
			t.Fatal("the token queued on the executor that cannot launch is not resolved with ErrNoExecutor")
		}
		if c := e.Counts(); c.Submitted != c.Resolved() {
			t.Fatalf("counts %+v", c)
		}
	})
}

// TestFailedRevivalIsDownAgainFakeClock: a down executor whose revival
// fails to launch (its thread cannot be pinned under Strict) is down again
// at once, like a circuit breaker whose half-open try failed, with its
// cool-down doubled, and nothing queued on it is lost to a Stop. Before,
// the failed revival went into restarts with backoffs while still recorded
// as down: Stop did not relaunch it ("one down stays down"), and a token
// queued meanwhile on its reopened mailbox was never resolved while Stop
// returned nil.
func TestFailedRevivalIsDownAgainFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startStrict(t, Config{Restart: Policy{
			MaxRestarts: 2, Window: 24 * time.Hour, Backoff: time.Hour, MaxBackoff: time.Hour,
			Cooldown: 10 * time.Second, MaxCooldown: time.Minute,
		}})
		next(t, events) // started
		arm, _ := injectPinFaults(t, 1000)
		f := injectLoopFaults(t, e)
		f.crash(t) // restarted at once
		next(t, events)
		f.crash(t)            // an hour's backoff
		time.Sleep(time.Hour) // restarted
		next(t, events)
		f.crash(t) // past the policy
		if ev, ok := next(t, events).(ExecutorDown); !ok || ev.Cooldown != 10*time.Second {
			t.Fatalf("want ExecutorDown with a 10 s cool-down, got %#v", ev)
		}
		arm()
		time.Sleep(10 * time.Second) // the revival fails
		synctest.Wait()
		// No restart came between the revival and its failure: Restarts 0
		// (it said 1, the failure counted as a restart it never had).
		if ev, ok := next(t, events).(ExecutorDown); !ok || ev.Cooldown != 20*time.Second || ev.Restarts != 0 {
			t.Fatalf("want ExecutorDown again with a 20 s cool-down and no restarts, got %#v", ev)
		}
		queued := testkit.NewJob(1, nil)
		res := e.Push(queued)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if res == actors.Pushed && !testkit.Finished(queued.Task()) {
			t.Fatal("a token queued on the executor whose revival failed is unresolved after Stop")
		}
		if c := e.Counts(); c.Submitted != c.Resolved() {
			t.Fatalf("counts %+v", c)
		}
	})
}

// hookJob is a token running fn whose hook answers a retry with retry.
type hookJob struct {
	task  actors.Task
	fn    func(context.Context) error
	retry func() (time.Duration, bool)
	actors.HookBase
}

func newHookJob(id uint64, fn func(context.Context) error, retry func() (time.Duration, bool)) *hookJob {
	j := &hookJob{fn: fn, retry: retry}
	j.task.Init(context.Background(), id, nil, j)
	return j
}

func (j *hookJob) Task() *actors.Task                                { return &j.task }
func (j *hookJob) Run(ctx context.Context) error                     { return j.fn(ctx) }
func (j *hookJob) Resolved(*actors.Task)                             {}
func (j *hookJob) Anchor() any                                       { return nil }
func (j *hookJob) Retry(actors.Outcome, error) (time.Duration, bool) { return j.retry() }

// newRetryJob is a token whose hook retries it retries times, at once.
func newRetryJob(id uint64, retries int, fn func(context.Context) error) *hookJob {
	return newHookJob(id, fn, func() (time.Duration, bool) {
		if retries == 0 {
			return 0, false
		}
		retries--
		return 0, true
	})
}

// TestRetriedTokenIsNotAStallFakeClock: a token retried at once after each
// short attempt is the same token running again, but every attempt ends well
// within the stall threshold: its executor makes progress and is not
// reported stalled. Found by review: the watchdog knew a token by pointer and
// ID only, so attempts back to back looked like one run past the threshold.
func TestRetriedTokenIsNotAStallFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		errAttempt := errors.New("attempt failed")
		j := newRetryJob(1, 5, func(context.Context) error {
			time.Sleep(60 * time.Millisecond)
			return errAttempt
		})
		if e.Push(j) != actors.Pushed {
			t.Fatal("push refused")
		}
		<-j.Task().Finished()
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		for {
			switch ev := next(t, events).(type) {
			case ExecutorStalled:
				t.Fatalf("a token whose attempts each ran 60 ms was reported stalled: %#v", ev)
			case ExecutorStopped:
				if !errors.Is(j.Task().Result(), errAttempt) {
					t.Fatalf("result %v", j.Task().Result())
				}
				return
			}
		}
	})
}

// TestStalledGoexitRecoversBeforeRestartFakeClock: a stalled handler that
// ends in runtime.Goexit is reported recovered before its replacement is
// reported restarted, and the replacement is not left marked Stalled, as for
// a failure of the executor itself. Found by review: the Goexit path did not
// look at the watchdog, so ExecutorRestarted came first and the healthy
// replacement stayed Stalled until the next tick.
func TestStalledGoexitRecoversBeforeRestartFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		j := testkit.NewJob(1, func(context.Context) error {
			time.Sleep(150 * time.Millisecond)
			runtime.Goexit()
			return nil
		})
		push(t, e, j)
		if ev, ok := next(t, events).(ExecutorStalled); !ok {
			t.Fatalf("want ExecutorStalled, got %#v", ev)
		}
		if ev, ok := next(t, events).(ExecutorRecovered); !ok {
			t.Fatalf("want ExecutorRecovered before the restart, got %#v", ev)
		}
		if ev, ok := next(t, events).(ExecutorRestarted); !ok || !errors.Is(ev.Reason, actors.ErrGoexit) {
			t.Fatalf("want ExecutorRestarted, got %#v", ev)
		}
		if !e.Healthy() {
			t.Fatalf("replacement has health %v", e.Health())
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// turnJob is a Scheduled runnable (an actor, as the executor sees one) whose
// turn calls fn.
type turnJob struct{ fn func() }

func (j *turnJob) Task() *actors.Task        { return nil }
func (j *turnJob) Run(context.Context) error { return nil }
func (j *turnJob) Turn(context.Context)      { j.fn() }
func (j *turnJob) Unschedule()               {}

// TestStuckTurnIsAStallFakeClock: an actor's turn that runs past the stall
// threshold (a Receive that does not return) stalls its executor as a token
// does, and its end is progress. Found by review: the watchdog looked only
// at the running token, so an executor held by an actor was never reported.
func TestStuckTurnIsAStallFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		done := make(chan struct{})
		if e.Schedule(&turnJob{fn: func() { time.Sleep(250 * time.Millisecond); close(done) }}) != actors.Pushed {
			t.Fatal("push refused")
		}
		if ev, ok := next(t, events).(ExecutorStalled); !ok || ev.Running < 100*time.Millisecond {
			t.Fatalf("want ExecutorStalled, got %#v", ev)
		}
		if e.Health()&actors.Stalled == 0 {
			t.Fatalf("health %v, want Stalled", e.Health())
		}
		<-done
		if ev, ok := next(t, events).(ExecutorRecovered); !ok {
			t.Fatalf("want ExecutorRecovered, got %#v", ev)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestShortTurnsAndIdleAreNoStallFakeClock: turns back to back, each well
// within the threshold, and an idle executor after them, are progress and
// rest, not a stall.
func TestShortTurnsAndIdleAreNoStallFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		ran := make(chan struct{}, 5)
		for range 5 {
			if e.Schedule(&turnJob{fn: func() { time.Sleep(60 * time.Millisecond); ran <- struct{}{} }}) != actors.Pushed {
				t.Fatal("push refused")
			}
		}
		for range 5 {
			<-ran
		}
		time.Sleep(time.Second) // idle, well past the threshold
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		for {
			switch ev := next(t, events).(type) {
			case ExecutorStalled:
				t.Fatalf("short turns or an idle executor reported stalled: %#v", ev)
			case ExecutorStopped:
				return
			}
		}
	})
}

// TestStalledDrainRecoversBeforeStoppedFakeClock: a stalled handler that
// returns while Stop drains is reported recovered before its executor is
// reported stopped, as the package promises (events in order per executor,
// ExecutorStopped last). Found by review: the drained owner's end did not
// look at the watchdog, so its last look in Stop, or its next tick,
// published ExecutorRecovered after ExecutorStopped.
func TestStalledDrainRecoversBeforeStoppedFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond})
		next(t, events) // started
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		if ev, ok := next(t, events).(ExecutorStalled); !ok {
			t.Fatalf("want ExecutorStalled, got %#v", ev)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		synctest.Wait() // Stop waits for the stalled handler
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if ev := next(t, events); !testkit.Is[ExecutorRecovered](ev) {
			t.Fatalf("want ExecutorRecovered before ExecutorStopped, got %#v", ev)
		}
		if ev := next(t, events); !testkit.Is[ExecutorStopped](ev) {
			t.Fatalf("want ExecutorStopped last, got %#v", ev)
		}
	})
}

// TestGoexitRestartCountsOnlyTheWindowFakeClock: the ExecutorRestarted of a
// handler's Goexit says how many restarts the policy's window holds, as
// every ExecutorRestarted does, not counting restarts older than the
// window. Found by review: it counted every restart recorded since the
// window was last pruned, however old.
func TestGoexitRestartCountsOnlyTheWindowFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{MaxRestarts: 3, Window: time.Minute}})
		f := injectLoopFaults(t, e)
		next(t, events) // started
		f.crash(t)
		if ev, ok := next(t, events).(ExecutorRestarted); !ok || ev.Restarts != 1 {
			t.Fatalf("want the first restart, got %#v", ev)
		}
		time.Sleep(2 * time.Minute) // the restart leaves the window
		push(t, e, goexitJob(1))
		ev := next(t, events)
		if r, ok := ev.(ExecutorRestarted); !ok || !errors.Is(r.Reason, actors.ErrGoexit) || r.Restarts != 0 {
			t.Fatalf("want a Goexit restart with 0 restarts in the window, got %#v", ev)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStopEndsRestartLoopFakeClock: while Stop drains, an executor whose
// loop fails again and again restarts at once past its policy, so that a
// few failures do not cut the drain short, but not for ever: a loop that
// keeps failing goes down, its queue is resolved (no other executor here),
// and Stop returns. Found by review: each failure restarted it at once,
// without end, so Stop with a context that never ends never returned,
// spinning a new locked thread per failure.
func TestStopEndsRestartLoopFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxRestarts, cap = 2, 1000
		s, e, _ := startFake(t, Config{Restart: Policy{MaxRestarts: maxRestarts}})
		var armed atomic.Bool
		var failures atomic.Int32
		t.Cleanup(faults.SetLoop(func(exec int) error {
			if armed.Load() && failures.Add(1) <= cap {
				return errLoop
			}
			return nil
		}))
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		queued := testkit.NewJob(2, nil)
		push(t, e, queued)
		synctest.Wait() // the first runs; the second waits behind it
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		synctest.Wait()
		armed.Store(true) // from now on the loop fails before every token
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if n := failures.Load(); n > 2*maxRestarts+1 {
			t.Fatalf("the loop failed %d times while stopping, restarted at once each time", n)
		}
		if !testkit.Finished(queued.Task()) || !errors.Is(queued.Task().Result(), actors.ErrNoExecutor) {
			t.Fatalf("the token queued behind the failures: %v", queued.Task().Result())
		}
		if c := e.Counts(); c.Submitted != c.Resolved() {
			t.Fatalf("counts %+v", c)
		}
	})
}

// slowUp is a Rerouter whose Up, called as a down executor comes back,
// waits for release: a router taking its time to put it back in the ranges.
type slowUp struct {
	noReroute
	release chan struct{}
}

func (r slowUp) Up(*actors.Executor) { <-r.release }

// TestNoStallBeforeRevivedFakeClock: a revived executor whose return is
// slow to be announced (its router takes a while to put it back) is not
// reported stalled before its ExecutorRevived: it has run nothing yet.
// Before, onStart cleared Down before it announced the revival, and the
// watchdog, seeing an owner busy with no token since the launch, published
// ExecutorStalled ahead of ExecutorRevived (and, for a restart whose
// goroutine was slow to be scheduled, ahead of ExecutorRestarted).
func TestNoStallBeforeRevivedFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s, e, events := startFake(t, Config{
			Restart:    Policy{MaxRestarts: NoRestarts, Cooldown: time.Second},
			StallAfter: 100 * time.Millisecond,
			Reroute:    slowUp{release: release},
		})
		next(t, events) // started
		f := injectLoopFaults(t, e)
		f.crash(t)
		if ev, ok := next(t, events).(ExecutorDown); !ok {
			t.Fatalf("want ExecutorDown, got %#v", ev)
		}
		time.Sleep(time.Second) // the cool-down: its revival waits in Up
		synctest.Wait()
		time.Sleep(time.Second) // ten stall thresholds
		close(release)
		if ev := next(t, events); !testkit.Is[ExecutorRevived](ev) {
			t.Errorf("want ExecutorRevived, got %#v", ev)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// newBadHookJob is a token whose hook panics when asked for a retry: a
// hook failing after its handler returned, outside the handler's recover.
func newBadHookJob(id uint64, fn func(context.Context) error) *hookJob {
	return newHookJob(id, fn, func() (time.Duration, bool) { panic("retry hook failed") })
}

// TestHookFailureResolvesItsTokenFakeClock: a token's hook that panics
// when asked for a retry, after its handler failed, runs outside the
// handler's recover. The token resolves with that panic (a *PanicError),
// whether it ran on the executor's owner or finished beside the new owner
// after a hand-off, and the tokens behind it run. Before, the panic ended
// the goroutine holding the token running, and nothing resolved it: its
// Wait never returned and Submitted never matched the outcomes (beside the
// owner, the panic was not even reported). Run detached (a blocking lane's
// worker), the panic escaped RunDetached and ended the process.
func TestHookFailureResolvesItsTokenFakeClock(t *testing.T) {
	errHandler := errors.New("handler failed")
	for _, beside := range []bool{false, true} {
		t.Run(map[bool]string{false: "owner", true: "beside"}[beside], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, e, events := startFake(t, Config{})
				next(t, events) // started
				child := testkit.NewJob(2, nil)
				j := newBadHookJob(1, func(ctx context.Context) error {
					if beside { // hand the executor on, and finish beside its new owner
						if e.Push(child) != actors.Pushed {
							return errors.New("child refused")
						}
						if err := child.Task().Await(ctx); err != nil {
							return err
						}
					}
					return errHandler
				})
				after := testkit.NewJob(3, nil)
				if e.Push(j) != actors.Pushed {
					t.Fatal("push refused")
				}
				push(t, e, after)
				synctest.Wait()
				if !testkit.Finished(j.Task()) {
					t.Error("the token whose hook panicked is not resolved")
				} else if pe := (*actors.PanicError)(nil); !errors.As(j.Task().Result(), &pe) || pe.Value != "retry hook failed" || len(pe.Stack) == 0 {
					t.Errorf("the token whose hook panicked resolved with %v, want its *PanicError", j.Task().Result())
				}
				if !testkit.Finished(after.Task()) {
					t.Error("the token behind it did not run")
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = s.Stop(ctx)
				if c := e.Counts(); c.Submitted != c.Resolved() || c.Panicked != 1 {
					t.Errorf("counts %+v", c)
				}
			})
		})
	}
	t.Run("detached", func(t *testing.T) {
		s, _, _ := startOne(t)
		e := s.Executors()[0]
		j := newBadHookJob(1, func(context.Context) error { return errHandler })
		e.Accept(j.Task())
		e.RunDetached(j, func(actors.Job, time.Duration, actors.Outcome, error) { t.Error("retried") })
		if pe := (*actors.PanicError)(nil); !errors.As(j.Task().Result(), &pe) || pe.Value != "retry hook failed" {
			t.Errorf("the token whose hook panicked resolved with %v, want its *PanicError", j.Task().Result())
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c := e.Counts(); c.Submitted != c.Resolved() || c.Panicked != 1 {
			t.Errorf("counts %+v", c)
		}
	})
}

// TestStopCutBackoffReportsTheWaitFakeClock: a replacement that Stop
// launches before its backoff ended is announced with the time it waited,
// as ExecutorRestarted.Backoff says. Before, it reported the whole backoff
// planned (about an hour here) although it waited ten seconds.
func TestStopCutBackoffReportsTheWaitFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{Backoff: time.Hour, MaxBackoff: time.Hour}})
		next(t, events) // started
		f := injectLoopFaults(t, e)
		f.crash(t) // restarted at once
		next(t, events)
		f.crash(t) // an hour's backoff, jittered
		time.Sleep(10 * time.Second)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ev, ok := next(t, events).(ExecutorRestarted); !ok || ev.Backoff != 10*time.Second {
			t.Errorf("want ExecutorRestarted with a 10 s Backoff, got %#v", ev)
		}
	})
}

// stallCounter is a Rerouter that counts its Stalled calls.
type stallCounter struct {
	noReroute
	stalled atomic.Int32
}

func (c *stallCounter) Stalled(*actors.Executor) int { c.stalled.Add(1); return 0 }

// TestStillStalledMovesAgainFakeClock: while an executor stays stalled, each
// watchdog look moves its queued unpinned work again (what no healthy
// executor took at the stall, or what was queued since), not only the look
// that found the stall.
func TestStillStalledMovesAgainFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rr := &stallCounter{}
		s, e, events := startFake(t, Config{StallAfter: 100 * time.Millisecond, Reroute: rr})
		next(t, events) // started
		release := make(chan struct{})
		push(t, e, testkit.NewJob(1, func(context.Context) error { <-release; return nil }))
		if ev, ok := next(t, events).(ExecutorStalled); !ok {
			t.Fatalf("want ExecutorStalled, got %#v", ev)
		}
		if n := rr.stalled.Load(); n != 1 {
			t.Fatalf("Stalled called %d times at the stall, want 1", n)
		}
		time.Sleep(100 * time.Millisecond) // four more looks, stuck still
		if n := rr.stalled.Load(); n < 3 {
			t.Fatalf("Stalled called %d times while stuck for four looks, want one per look", n)
		}
		close(release)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStopCutNothingShortIsNil: Stop's context ends before the executor
// exits (its loop is held up after the close), but nothing was queued or
// running: no token was cut short, so Stop returns nil, not a StopError of
// zeros.
func TestStopCutNothingShortIsNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Grace: time.Millisecond})
		next(t, events) // started
		var armed atomic.Bool
		gate := make(chan struct{})
		t.Cleanup(faults.SetLoop(func(exec int) error {
			if exec == e.Index() && armed.Load() {
				<-gate
			}
			return nil
		}))
		armed.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- s.Stop(ctx) }()
		synctest.Wait() // the closed mailbox woke the loop, held at the gate
		close(gate)
		if err := <-done; err != nil {
			t.Fatalf("Stop = %v, want nil: nothing was cut short", err)
		}
	})
}

// TestCooldownResetsAfterAWindowUpFakeClock: each down right after a
// revival doubles the cool-down, but once the executor stayed up a whole
// Window the next cool-down starts from Cooldown again.
func TestCooldownResetsAfterAWindowUpFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{Restart: Policy{
			MaxRestarts: NoRestarts, Window: time.Minute, Cooldown: 10 * time.Second, MaxCooldown: time.Hour,
		}})
		f := injectLoopFaults(t, e)
		next(t, events) // started
		for k, want := range []time.Duration{10 * time.Second, 20 * time.Second, 10 * time.Second} {
			if k == 2 {
				time.Sleep(2 * time.Minute) // up a whole window
			}
			f.crash(t)
			down, ok := next(t, events).(ExecutorDown)
			if !ok || down.Cooldown != want {
				t.Fatalf("down %d: %#v, want a cool-down of %v", k+1, down, want)
			}
			if ev, ok := next(t, events).(ExecutorRevived); !ok {
				t.Fatalf("down %d: want ExecutorRevived, got %#v", k+1, ev)
			}
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHugeCooldownDoesNotOverflowFakeClock: a cool-down of more than half
// the largest Duration, doubled as the executor goes down again, stays at
// MaxCooldown instead of wrapping to a negative (or zero) cool-down that
// revives the executor at once, a restart storm the policy was set to
// prevent.
func TestHugeCooldownDoesNotOverflowFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const huge = time.Duration(1) << 62 // above MaxInt64/2: doubled, it wraps
		s, e, events := startFake(t, Config{Restart: Policy{MaxRestarts: NoRestarts, Cooldown: huge}})
		f := injectLoopFaults(t, e)
		next(t, events) // started
		f.crash(t)
		if down, ok := next(t, events).(ExecutorDown); !ok || down.Cooldown != huge {
			t.Fatalf("first down: %#v, want a cool-down of %v", down, huge)
		}
		time.Sleep(huge)
		synctest.Wait()
		if ev, ok := next(t, events).(ExecutorRevived); !ok {
			t.Fatalf("want ExecutorRevived after the cool-down, got %#v", ev)
		}
		f.crash(t) // within the window: the cool-down doubles, capped
		if down, ok := next(t, events).(ExecutorDown); !ok || down.Cooldown != huge {
			t.Fatalf("second down: %#v, want the cool-down capped at %v", down, huge)
		}
		synctest.Wait()
		select {
		case ev := <-events:
			t.Fatalf("at once after the second down: %#v", ev)
		default:
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStopReportsARetryCutShortOnItsWayFakeClock: Stop's context ends as a
// failed attempt is on its way to its backoff (its runner asked its hook,
// after it looked for an abort, before it queued the token again). The
// retry never runs: Stop resolves it with the attempt's error and reports
// it among the retries. It returned nil, as if every token had reached its
// own outcome (found by review).
func TestStopReportsARetryCutShortOnItsWayFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, e, events := startFake(t, Config{})
		next(t, events) // started
		errAttempt := errors.New("attempt failed")
		asked := make(chan struct{})
		j := newHookJob(1, func(context.Context) error { return errAttempt }, func() (time.Duration, bool) {
			close(asked)
			<-s.group.Context().Done() // Stop gave up (Abort)
			// Stop is on to its grace by the time it wakes: the abort
			// and the backoffs' stop are behind it.
			time.Sleep(time.Nanosecond)
			return time.Hour, true
		})
		if e.Push(j) != actors.Pushed {
			t.Fatal("push refused")
		}
		<-asked
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Stop(ctx)
		if !errors.Is(j.Task().Result(), errAttempt) {
			t.Fatalf("resolved with %v, want the attempt's error", j.Task().Result())
		}
		var se *StopError
		if !errors.As(err, &se) || se.Retries != 1 || se.Stopped != 0 {
			t.Fatalf("Stop = %v, want a StopError with one retry resolved", err)
		}
	})
}
