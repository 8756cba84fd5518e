package coregate

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/internal/faults"
	"github.com/stretchr/testify/require"
)

// Regression tests for what a review of where actors run as executors go
// down, stall and come back found.

// startFourDownable starts, in a synctest bubble, four unpinned executors
// (more than this machine's CPUs: Affinity Off), each of which goes down
// for an hour after two failures of its loop; down(i) takes executor i
// down, woken by a token pinned there.
func startFourDownable(t *testing.T, stallAfter time.Duration) (rt *Runtime, down func(exec int)) {
	var arms, armed atomic.Int32
	rt, err := Start(Config{Cores: 4, Affinity: Off, StallAfter: stallAfter, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Stop(context.Background()) }) //nolint:errcheck // when a check failed; the tests check it
	pokes := make([]*Op[int, int], 4)
	for i := range pokes {
		pokes[i] = must(Define(rt, "poke"+string(rune('0'+i)), where[int], OnExecutor(i)))
	}
	t.Cleanup(faults.SetLoop(func(exec int) error {
		if int32(exec) == armed.Load() && arms.Load() > 0 && arms.Add(-1) >= 0 {
			return errLoop
		}
		return nil
	}))
	return rt, func(exec int) {
		t.Helper()
		armed.Store(int32(exec))
		arms.Store(2) // a restart, then down
		must(pokes[exec].Submit(context.Background(), 0))
		synctest.Wait()
		require.True(t, rt.Executors()[exec].Down, "executor %d", exec)
	}
}

// hold holds executor i in a token until release is called, or the test
// ends (before its runtime stops, which would wait for the token).
func hold(t *testing.T, rt *Runtime, i int) (release func()) {
	gate := make(chan struct{})
	release = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	op := must(Define(rt, "hold", func(context.Context, int) (int, error) { <-gate; return 0, nil }, OnExecutor(i)))
	must(op.Submit(context.Background(), 0))
	return release
}

// requireInRange checks that an actor of class w ran in w's range over
// the live executors.
func requireInRange(t *testing.T, rt *Runtime, w Weight, got [2]any, what string) {
	t.Helper()
	require.Contains(t, rt.router.Eligible(w), got[0], "%s ran outside the %v range over the live executors", what, w)
}

// TestFollowStaysInTheRecomputedRange: executor 0 is down, so a Medium
// actor's range over the live executors 1-3 is 2-3, as its tokens' is. An
// actor pinned to executor 1 hands it its last message: the actor followed
// it onto executor 1, outside its range, since Follow checked the range
// with every executor live (found by review).
func TestFollowStaysInTheRecomputedRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, down := startFourDownable(t, -1)
		bg := context.Background()
		down(0)
		require.Equal(t, []int{2, 3}, rt.router.Eligible(Medium))
		ran := make(chan [2]any, 4)
		var m, none *Ref[int, int]
		m = must(Spawn(rt, "m", func() Actor[int, int] { return &hop{next: &none, ran: ran} }, WithWeight(Medium)))
		must(must(m.Ask(bg, 0)).Wait(bg))
		requireInRange(t, rt, Medium, <-ran, "m")
		waitIdle(m)
		s := must(Spawn(rt, "s", func() Actor[int, int] { return sendTo{&m} }, OnExecutor(1)))
		must(must(s.Ask(bg, 0)).Wait(bg)) // its last message: a hand-off to m
		requireInRange(t, rt, Medium, <-ran, "m, handed a message on executor 1,")
	})
}

// followedBeforeDown is the scene of the going-home tests: a Medium actor
// m placed on executor 1, its home, followed a hand-off from s (pinned to
// executor 2) to executor 2 and is idle there; then executor 0 went down,
// so Medium's range over the live executors is 2-3, leaving out m's home.
func followedBeforeDown(t *testing.T, stallAfter time.Duration) (rt *Runtime, m, s *Ref[int, int], ran chan [2]any) {
	rt, down := startFourDownable(t, stallAfter)
	bg := context.Background()
	ran = make(chan [2]any, 4)
	var none *Ref[int, int]
	for _, name := range []string{"m2", "m3"} { // staggered: executors 2, 3, then 1
		must(Spawn(rt, name, func() Actor[int, int] { return &counter{} }, WithWeight(Medium)))
	}
	m = must(Spawn(rt, "m", func() Actor[int, int] { return &hop{next: &none, ran: ran} }, WithWeight(Medium)))
	require.Equal(t, 1, m.Executor())
	s = must(Spawn(rt, "s", func() Actor[int, int] { return sendTo{&m} }, OnExecutor(2)))
	must(must(m.Ask(bg, 0)).Wait(bg))
	require.Equal(t, 1, (<-ran)[0])
	waitIdle(m)
	must(must(s.Ask(bg, 0)).Wait(bg))
	require.Equal(t, 2, (<-ran)[0], "m, handed a message by s on executor 2, ran on")
	waitIdle(m)
	down(0)
	require.Equal(t, []int{2, 3}, rt.router.Eligible(Medium))
	return rt, m, s, ran
}

// TestGoingHomeStaysInTheRecomputedRange: in followedBeforeDown's scene,
// s takes two messages in one turn and sends to m from the first, with
// more to do: m went home to executor 1, outside its range over the live
// executors, since going home never looked at the range (found by review).
func TestGoingHomeStaysInTheRecomputedRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, _, s, ran := followedBeforeDown(t, -1)
		bg := context.Background()
		release := hold(t, rt, 2)
		synctest.Wait()
		require.NoError(t, s.Tell(bg, 0))
		require.NoError(t, s.Tell(bg, 0))
		release()
		for range 2 {
			requireInRange(t, rt, Medium, <-ran, "m, sent to by s with more to do,")
		}
	})
}

// TestLeavingAStallStaysInTheRecomputedRange: in followedBeforeDown's
// scene, executor 2, where m is, stalls in a token, and plain code asks m:
// m left the stall for its home, executor 1, outside its range over the
// live executors (found by review). It waits for the stall instead, as
// actors on a stalled executor do.
func TestLeavingAStallStaysInTheRecomputedRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, m, _, ran := followedBeforeDown(t, 10*time.Millisecond)
		bg := context.Background()
		release := hold(t, rt, 2)
		time.Sleep(time.Second)
		synctest.Wait()
		require.True(t, rt.Executors()[2].Stalled)
		tok := must(m.Ask(bg, 0))
		synctest.Wait()
		select {
		case got := <-ran:
			requireInRange(t, rt, Medium, got, "m, asked off its stalled executor,")
		default:
			release()
			requireInRange(t, rt, Medium, <-ran, "m, asked on its stalled executor,")
		}
		must(tok.Wait(bg))
	})
}
