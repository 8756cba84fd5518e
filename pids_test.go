package coregate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
)

// Tests of what the runtime's hollywood PIDs (its executors and its router) do
// with messages other than its own tokens, and of Rerouted when no executor is
// left to take a down executor's queue.

// pidsTimeout bounds every wait in this file; a passing test never reaches it.
const pidsTimeout = 10 * time.Second

// runtimePIDs returns the PIDs of rt's executors, in index order, then its
// router's.
func runtimePIDs(rt *Runtime) []*actor.PID {
	var pids []*actor.PID
	for _, e := range rt.Executors() {
		pids = append(pids, e.PID)
	}
	return append(pids, rt.RouterPID())
}

// awaitClosed fails the test unless ch is closed within pidsTimeout.
func awaitClosed(t *testing.T, ch <-chan struct{}, format string, args ...any) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(pidsTimeout):
		t.Fatalf("timed out after %v: %s", pidsTimeout, fmt.Sprintf(format, args...))
	}
}

// nextEvent returns the next event from events, failing the test if it is not
// an E or none comes within pidsTimeout.
func nextEvent[E any](t *testing.T, events <-chan any, format string, args ...any) E {
	t.Helper()
	select {
	case ev := <-events:
		e, ok := ev.(E)
		require.True(t, ok, "got a %T event, want a %T: %s", ev, e, fmt.Sprintf(format, args...))
		return e
	case <-time.After(pidsTimeout):
		var e E
		t.Fatalf("no %T event within %v: %s", e, pidsTimeout, fmt.Sprintf(format, args...))
		return e
	}
}

// requireHealthy checks that every executor of rt is healthy and its PID, like
// the router's, is still registered with the engine.
func requireHealthy(t *testing.T, rt *Runtime) {
	t.Helper()
	reg := rt.Engine().Registry
	for _, e := range rt.Executors() {
		require.False(t, e.Restarting || e.Stalled || e.Down, "executor %d is unhealthy: %+v", e.Index, e)
		pid := reg.GetPID("coregate/exec", strconv.Itoa(e.Index))
		require.NotNil(t, pid, "executor %d's PID is no longer registered", e.Index)
		require.True(t, pid.Equals(e.PID))
	}
	pid := reg.GetPID("coregate", "router")
	require.NotNil(t, pid, "the router's PID is no longer registered")
	require.True(t, pid.Equals(rt.RouterPID()))
}

// TestPoisonAndStopAreRefusedByRuntimePIDs: hollywood's Poison and Stop, sent
// to every executor's PID and to the router's while every executor is busy
// with tokens queued behind it, complete at once and are published as
// PoisonRefused; nothing is stopped or lost: the queued tokens and those
// submitted (or sent by message) afterwards all succeed, the executors stay
// healthy and registered, and the counts balance.
func TestPoisonAndStopAreRefusedByRuntimePIDs(t *testing.T) {
	rt := start(t, Config{StallAfter: -1}) // no watchdog: the blocked handlers must not be reported stalled
	execs := rt.Executors()
	n := len(execs)
	refused, stop := testkit.Subscribe(rt.Engine(), testkit.Is[actors.PoisonRefused])
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	bg := context.Background()

	// The first gate token each executor runs blocks it until release.
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // a failed test must not leave Stop waiting on a gate
	started := make(chan int, n)
	claimed := make([]atomic.Bool, n)
	gate := must(Define(rt, "gate", func(ctx context.Context, x int) (int, error) {
		if e, _ := CurrentExecutor(ctx); claimed[e].CompareAndSwap(false, true) {
			started <- e
			<-release
		}
		return x, nil
	}))
	var toks []*Token[int]
	submit := func() {
		toks = append(toks, must(gate.Submit(bg, len(toks))))
	}
	placed := map[int]bool{}
	for len(placed) < n {
		require.Less(t, len(toks), 64*n, "gate tokens did not reach every executor")
		submit()
		placed[toks[len(toks)-1].Executor()] = true
	}
	for range n {
		select {
		case <-started:
		case <-time.After(pidsTimeout):
			t.Fatal("not every executor is blocked on the gate")
		}
	}
	// Every executor is held by its gate: these tokens stay queued behind it.
	var sent []*testkit.Job
	send := func() {
		for _, pid := range runtimePIDs(rt) {
			j := testkit.NewJob(uint64(1000+len(sent)), nil)
			sent = append(sent, j)
			rt.Engine().Send(pid, j)
		}
	}
	for range 4 * n {
		submit()
	}
	send()
	for _, tok := range toks {
		select {
		case <-tok.Done():
			t.Fatalf("token %d resolved while every executor was blocked", tok.ID())
		default:
		}
	}

	for _, pid := range runtimePIDs(rt) {
		for _, graceful := range []bool{true, false} {
			var done context.Context
			if graceful {
				done = rt.Engine().Poison(pid)
			} else {
				done = rt.Engine().Stop(pid)
			}
			awaitClosed(t, done.Done(), "Poison/Stop (graceful %v) of %v", graceful, pid)
			ev := nextEvent[actors.PoisonRefused](t, refused, "refusal by %v", pid)
			require.True(t, ev.PID.Equals(pid), "PoisonRefused for %v, want %v", ev.PID, pid)
			require.Equal(t, graceful, ev.Graceful, "PoisonRefused.Graceful for %v", pid)
		}
	}

	// Tokens submitted and jobs sent after the refusals are accepted too.
	for range 4 * n {
		submit()
	}
	send()
	unblock()
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		require.NoError(t, err, "token %d", i)
		require.Equal(t, i, v)
	}
	for _, j := range sent {
		awaitClosed(t, j.Task().Finished(), "job %d sent by message", j.Task().ID())
		require.NoError(t, j.Task().Result())
	}
	requireHealthy(t, rt)

	require.NoError(t, rt.Stop(ctx))
	s := rt.Stats().Total
	require.Equal(t, uint64(len(toks)+len(sent)), s.Submitted)
	require.Equal(t, s.Submitted, s.Succeeded)
	requireBalanced(t, rt)
}

// unknownMsg is a message no runtime PID understands.
type unknownMsg struct{ N int }

// TestRequestToRuntimePIDAnswersAtOnce: a hollywood Request to an executor's
// or the router's PID with a message that is not a valid token (a string, a
// struct, a hand-built job whose Task was never initialised) is answered at
// once with an error naming the message's type, and is published as a dead
// letter; nothing is accepted, and the runtime goes on working.
func TestRequestToRuntimePIDAnswersAtOnce(t *testing.T) {
	rt := start(t, Config{})
	dead, stop := testkit.Subscribe(rt.Engine(), testkit.Is[actor.DeadLetterEvent])
	defer stop()
	for _, pid := range runtimePIDs(rt) {
		for _, msg := range []any{"hello", unknownMsg{N: 7}, &zeroTaskJob{}} {
			resp := rt.Engine().Request(pid, msg, pidsTimeout)
			v, err := resp.Result()
			require.NoError(t, err, "Request(%v, %T) was not answered", pid, msg)
			answer, ok := v.(error)
			require.True(t, ok, "Request(%v, %T) answered a %T (%v), want an error", pid, msg, v, v)
			require.ErrorContains(t, answer, fmt.Sprintf("%T", msg))

			dl := nextEvent[actor.DeadLetterEvent](t, dead, "Request(%v, %T)", pid, msg)
			require.True(t, dl.Target.Equals(pid), "dead letter to %v, want %v", dl.Target, pid)
			require.Equal(t, msg, dl.Message)
			require.True(t, dl.Sender.Equals(resp.PID()), "dead letter from %v, want the request's %v", dl.Sender, resp.PID())
		}
	}
	require.Zero(t, rt.Stats().Total.Submitted, "a rejected message is not a token")

	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	require.Equal(t, 42, must(must(op.Submit(context.Background(), 42)).Wait(ctx)))
	requireHealthy(t, rt)
}

// Hand-built jobs: actors.Job implementations whose Task the runtime did not
// prepare. None may reach a mailbox.
type (
	zeroTaskJob  struct{ task actors.Task } // a Task never initialised with Task.Init
	nilTaskJob   struct{ n int }            // Task returns nil
	panicTaskJob struct{ n int }            // Task panics
)

func (j *zeroTaskJob) Task() *actors.Task       { return &j.task }
func (*nilTaskJob) Task() *actors.Task          { return nil }
func (*panicTaskJob) Task() *actors.Task        { panic("panicTaskJob has no Task") }
func (*zeroTaskJob) Run(context.Context) error  { return errHandBuiltRan }
func (*nilTaskJob) Run(context.Context) error   { return errHandBuiltRan }
func (*panicTaskJob) Run(context.Context) error { return errHandBuiltRan }

var errHandBuiltRan = errors.New("a hand-built job ran")

// eventsFlushed is broadcast on the event stream to learn that every event
// broadcast before it has been delivered.
type eventsFlushed struct{}

// TestHandBuiltJobsAreDeadLetters: hand-built jobs sent to every executor's
// PID and to the router's (a zero Task, a nil Task, a Task that panics, twelve
// of each) are each a dead letter, without crashing, restarting or taking
// down any executor, without being counted; a token still runs on every
// executor afterwards.
func TestHandBuiltJobsAreDeadLetters(t *testing.T) {
	rt := start(t, Config{IdleSpin: -1}) // parked executors: sequential tokens follow the staggered counter
	events, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool {
		switch ev := ev.(type) {
		case actor.DeadLetterEvent:
			switch ev.Message.(type) {
			case *zeroTaskJob, *nilTaskJob, *panicTaskJob:
				return true
			}
		case supervisor.ExecutorRestarted, supervisor.ExecutorDown, eventsFlushed:
			return true
		}
		return false
	})
	defer stop()
	const each = 12
	for _, pid := range runtimePIDs(rt) {
		var jobs []actors.Job
		for i := range each {
			jobs = append(jobs, &zeroTaskJob{}, &nilTaskJob{n: i}, &panicTaskJob{n: i})
		}
		for _, j := range jobs {
			require.NotPanics(t, func() { rt.Engine().Send(pid, j) }, "sending a %T to %v", j, pid)
		}
		// Per PID, so the subscription's buffer never overflows.
		for i, j := range jobs {
			dl := nextEvent[actor.DeadLetterEvent](t, events, "hand-built job %d (%T) sent to %v", i, j, pid)
			require.True(t, dl.Target.Equals(pid), "dead letter to %v, want %v", dl.Target, pid)
			require.Same(t, j, dl.Message, "dead letter %d to %v", i, pid)
		}
	}
	require.Zero(t, rt.Stats().Total.Submitted, "a hand-built job is not a token")

	// A token on every executor, by message and by Submit.
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	for _, e := range rt.Executors() {
		j := testkit.NewJob(uint64(e.Index+1), nil)
		rt.Engine().Send(e.PID, j)
		awaitClosed(t, j.Task().Finished(), "job sent to executor %d", e.Index)
		require.NoError(t, j.Task().Result())
		require.Equal(t, e.Index, j.Task().Executor().Index())
	}
	op := must(Define(rt, "where", func(ctx context.Context, _ int) (int, error) {
		e, _ := CurrentExecutor(ctx)
		return e, nil
	}))
	ran := map[int]bool{}
	for i := range 4 * len(rt.Executors()) {
		ran[must(must(op.Submit(context.Background(), i)).Wait(ctx))] = true
	}
	require.Len(t, ran, len(rt.Executors()), "tokens reach every executor")
	requireHealthy(t, rt)

	// A restart or down would have been broadcast before a replacement took
	// the tokens above: every one of them has reached us before the marker.
	rt.Engine().BroadcastEvent(eventsFlushed{})
	for {
		select {
		case ev := <-events:
			if _, ok := ev.(eventsFlushed); !ok {
				t.Fatalf("unexpected event %T: %+v", ev, ev)
			}
			return
		case <-time.After(pidsTimeout):
			t.Fatal("the event stream did not deliver the flush marker")
		}
	}
}

var errPidsLoop = errors.New("injected loop failure (pids_test)")

// TestReroutedCountsOnlyTokensThatMoved: when the only executor goes down with
// 100 tokens queued, there is nowhere to move them: each fails with
// ErrNoExecutor, the ExecutorDown event and the executor's Rerouted count say
// none moved, and the counts balance. Jobs sent by message while it is down
// fail the same way without counting as rerouted, Submit reports
// ErrNoExecutor, and Stop still works.
func TestReroutedCountsOnlyTokensThatMoved(t *testing.T) {
	rt := start(t, Config{
		Cores: 1, Affinity: Off, StallAfter: -1,
		// The second loop failure takes it down; the cool-down outlasts the test.
		Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour},
	})
	events, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool {
		switch ev.(type) {
		case supervisor.ExecutorRestarted, supervisor.ExecutorDown:
			return true
		}
		return false
	})
	defer stop()
	// A token of "arm" makes the executor's loop fail right after it.
	var armed atomic.Bool
	defer faults.SetLoop(func(exec int) error {
		if exec == 0 && armed.CompareAndSwap(true, false) {
			return errPidsLoop
		}
		return nil
	})()
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock)
	arm := must(Define(rt, "arm", func(context.Context, int) (int, error) {
		armed.Store(true)
		return 0, nil
	}))
	gate := must(Define(rt, "gate", func(context.Context, int) (int, error) {
		<-release
		return 0, nil
	}))
	plain := must(Define(rt, "plain", func(_ context.Context, x int) (int, error) { return x, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	bg := context.Background()

	must(must(arm.Submit(bg, 0)).Wait(ctx))
	restarted := nextEvent[supervisor.ExecutorRestarted](t, events, "the first loop failure restarts the executor")
	require.Equal(t, 0, restarted.Index)
	require.ErrorIs(t, restarted.Reason, errPidsLoop)

	// The gate holds the executor while the arming token and 100 more queue.
	blocker := must(gate.Submit(bg, 0))
	armer := must(arm.Submit(bg, 0))
	queued := make([]*Token[int], 100)
	for i := range queued {
		queued[i] = must(plain.Submit(bg, i))
	}
	unblock()
	down := nextEvent[supervisor.ExecutorDown](t, events, "the second loop failure takes the executor down")
	require.Equal(t, 0, down.Index)
	require.ErrorIs(t, down.Reason, errPidsLoop)
	require.Zero(t, down.Rerouted, "no executor was left to move the queue to")
	require.Equal(t, time.Hour, down.Cooldown)
	for _, tok := range []*Token[int]{blocker, armer} {
		_, err := tok.Wait(ctx)
		require.NoError(t, err)
	}
	for i, tok := range queued {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, ErrNoExecutor, "queued token %d", i)
	}
	require.True(t, rt.Executors()[0].Down)
	s := rt.Stats()
	require.Zero(t, s.Executors[0].Rerouted, "tokens resolved with ErrNoExecutor did not move")
	require.Equal(t, s.Total.Submitted, s.Total.Resolved(), "%+v", s.Total)
	require.Equal(t, uint64(3+100), s.Total.Submitted)
	require.Equal(t, uint64(100), s.Total.Failed)

	// While it is down: jobs sent by message fail, Submit fails, nothing moves.
	for _, pid := range runtimePIDs(rt) {
		j := testkit.NewJob(1, nil)
		rt.Engine().Send(pid, j)
		awaitClosed(t, j.Task().Finished(), "job sent to %v while down", pid)
		require.ErrorIs(t, j.Task().Result(), ErrNoExecutor, "job sent to %v while down", pid)
	}
	_, err := plain.Submit(bg, 0)
	require.ErrorIs(t, err, ErrNoExecutor)

	require.NoError(t, rt.Stop(ctx), "Stop with the only executor down")
	s = rt.Stats()
	require.Zero(t, s.Executors[0].Rerouted)
	require.Equal(t, uint64(3+100+2), s.Total.Submitted)
	require.Equal(t, uint64(100+2), s.Total.Failed)
	requireBalanced(t, rt)
}

// TestDuplicateConcurrentSendAcceptedOnce: one job sent twice at once to an
// executor's PID is accepted once (the second is a dead letter), so it is
// counted once and the accounting balances.
func TestDuplicateConcurrentSendAcceptedOnce(t *testing.T) {
	rt := start(t, Config{})
	pid := rt.Executors()[0].PID
	for range 2000 {
		j := testkit.NewJob(1, nil)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { rt.Engine().Send(pid, j) })
		}
		wg.Wait()
		<-j.Task().Finished()
	}
	require.NoError(t, rt.Stop(context.Background()))
	require.Equal(t, uint64(2000), rt.Stats().Total.Submitted)
}

// slowStopped is an actor whose Stopped tells entered and waits for release.
type slowStopped struct{ entered, release chan struct{} }

func (*slowStopped) Receive(_ *ActorContext, v int) (int, error) { return v, nil }
func (s *slowStopped) Stopped(*ActorContext) {
	close(s.entered)
	<-s.release
}

// TestRequestToStoppingActorPIDIsActorStopped: a message sent by PID to an
// actor whose mailbox is closed while its Stopped still runs (its PID is
// registered until Stopped returns) is answered with ErrActorStopped, as
// Tell and Ask are, and crosses processes with code ACTOR_STOPPED: it was
// answered with the cell's own sentinel, which errors.Is did not take for
// ErrActorStopped and the wire coded FAILED (found by review).
func TestRequestToStoppingActorPIDIsActorStopped(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	s := &slowStopped{entered: make(chan struct{}), release: make(chan struct{})}
	ref := must(Spawn(rt, "slowstop", func() Actor[int, int] { return s }))
	stopped := make(chan error, 1)
	go func() { stopped <- ref.Stop(context.Background()) }()
	awaitClosed(t, s.entered, "Stopped did not run")
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	_, err := Request[int](ctx, rt.Engine(), ref.PID(), 1)
	close(s.release)
	require.ErrorIs(t, err, ErrActorStopped)
	require.Equal(t, wire.Code_ACTOR_STOPPED, wireError(err).GetCode(), "%v", err)
	require.NoError(t, <-stopped)
}

// stringerActor takes any fmt.Stringer.
type stringerActor struct{}

func (stringerActor) Receive(_ *ActorContext, s fmt.Stringer) (string, error) { return s.String(), nil }

// TestActorPIDWrongTypeNamesInterfaceM: the error answering a message of
// the wrong type names the type the actor takes when that is an interface;
// it said "takes <nil>" (%T of M's nil zero value; found by review).
func TestActorPIDWrongTypeNamesInterfaceM(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	ref := must(Spawn(rt, "stringer", func() Actor[fmt.Stringer, string] { return stringerActor{} }))
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	_, err := Request[string](ctx, rt.Engine(), ref.PID(), 5)
	require.ErrorContains(t, err, `actor "stringer" takes fmt.Stringer, not int`)
	s, err := Request[string](ctx, rt.Engine(), ref.PID(), time.Second)
	require.NoError(t, err)
	require.Equal(t, "1s", s)
}

// nilActor says whether its message is nil.
type nilActor[M any] struct{}

func (nilActor[M]) Receive(_ *ActorContext, m M) (bool, error) {
	return any(m) == nil || isNilPointer(m), nil
}

func isNilPointer[M any](m M) bool { p, ok := any(m).(*int); return ok && p == nil }

// TestActorPIDTakesNilOfNilableM: a nil message sent by PID to an actor
// whose M can be nil (an interface, a pointer) is that M's nil, as a Call's
// nil argument is an op's; it was refused with ErrBadArgument ("takes
// interface {}, not <nil>"), though a Tell of the same nil is delivered.
func TestActorPIDTakesNilOfNilableM(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	anyRef := must(Spawn(rt, "nil-any", func() Actor[any, bool] { return nilActor[any]{} }))
	isNil, err := Request[bool](ctx, rt.Engine(), anyRef.PID(), nil)
	require.NoError(t, err)
	require.True(t, isNil)
	ptrRef := must(Spawn(rt, "nil-ptr", func() Actor[*int, bool] { return nilActor[*int]{} }))
	isNil, err = Request[bool](ctx, rt.Engine(), ptrRef.PID(), nil)
	require.NoError(t, err)
	require.True(t, isNil)
	intRef := must(Spawn(rt, "nil-int", func() Actor[int, bool] { return nilActor[int]{} }))
	_, err = Request[bool](ctx, rt.Engine(), intRef.PID(), nil)
	require.ErrorIs(t, err, ErrBadArgument)
	require.ErrorContains(t, err, `actor "nil-int" takes int, not nil`)
}
