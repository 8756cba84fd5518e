package coregate

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// hop records where each message ran and passes n-1 on to next while n > 0,
// with its context or, when derive is set, one derived from it.
type hop struct {
	next   **Ref[int, int]
	ran    chan [2]any // the executor, the thread's CPUs
	derive bool
}

type hopKey struct{}

func (h *hop) Receive(c *ActorContext, n int) (int, error) {
	e, _ := CurrentExecutor(c)
	mask, _ := actors.ThreadCPUs()
	h.ran <- [2]any{e, mask}
	if n > 0 {
		ctx := context.Context(c)
		if h.derive {
			ctx = context.WithValue(c, hopKey{}, n)
		}
		return 0, (*h.next).Tell(ctx, n-1)
	}
	return 0, nil
}

// whileBusy runs during while executor i spins in a token, then lets the
// token end and waits for it: what during queues there is taken in one turn.
func whileBusy(t *testing.T, rt *Runtime, i int, during func()) {
	t.Helper()
	var spin atomic.Bool
	spin.Store(true)
	started := make(chan struct{})
	hold := must(Define(rt, "busy", func(context.Context, int) (int, error) {
		close(started)
		for spin.Load() {
			runtime.Gosched()
		}
		return 0, nil
	}, OnExecutor(i)))
	held := must(hold.Submit(context.Background(), 0))
	<-started
	during()
	spin.Store(false)
	must(held.Wait(context.Background()))
}

// relay tells the actor it is sent 0, from its own turn.
type relay struct{}

func (relay) Receive(c *ActorContext, to *Ref[int, int]) (int, error) { return 0, to.Tell(c, 0) }

// waitIdle waits until no turn of the actor runs or is queued: a turn that
// ran dry lingers a moment for more before it ends.
func waitIdle[M, R any](r *Ref[M, R]) {
	for !r.cell.Idle() {
		runtime.Gosched()
	}
}

// twoHomes starts a two-executor runtime with actors a and b placed by
// weight, a on executor 0 and b on 1, each passing on to the other, both
// started and idle.
func twoHomes(t *testing.T) (rt *Runtime, a, b *Ref[int, int], ranA, ranB chan [2]any) {
	t.Helper()
	return twoHomesPassing(t, false)
}

// twoHomesPassing is twoHomes with the actors passing on with a context
// derived from theirs when derive is set.
func twoHomesPassing(t *testing.T, derive bool) (rt *Runtime, a, b *Ref[int, int], ranA, ranB chan [2]any) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.NumCPU() < 2 {
		t.Skip("needs two pinned executors (two CPUs, Linux): the test watches an actor move between them")
	}
	rt = start(t, Config{Cores: 2, Affinity: Strict})
	ranA, ranB = make(chan [2]any, 64), make(chan [2]any, 64)
	a = must(Spawn(rt, "a", func() Actor[int, int] { return &hop{next: &b, ran: ranA, derive: derive} }))
	b = must(Spawn(rt, "b", func() Actor[int, int] { return &hop{next: &a, ran: ranB, derive: derive} }))
	require.Equal(t, 0, a.Executor(), "staggered placement: the first actor on executor 0")
	require.Equal(t, 1, b.Executor(), "staggered placement: the second on executor 1")
	bg := context.Background()
	must(must(a.Ask(bg, -1)).Wait(bg))
	must(must(b.Ask(bg, -1)).Wait(bg))
	<-ranA
	<-ranB
	waitIdle(a)
	waitIdle(b)
	return rt, a, b, ranA, ranB
}

// requireRanOn checks that a message ran on executor i, on its CPU.
func requireRanOn(t *testing.T, rt *Runtime, i int, got [2]any, what string) {
	t.Helper()
	require.Equal(t, i, got[0], "%s ran on the wrong executor", what)
	require.Equal(t, []int{rt.Executors()[i].CPU}, got[1], "%s: the thread's CPUs inside Receive", what)
}

// TestActorFollowsAHandOff: an actor placed by weight that an actor on
// another executor hands its last message to, on an executor with nothing
// else queued, runs it there, on that CPU, and stays: a chain passing one
// message along runs on one core. Then, once the sender has more to do as
// it sends (two messages queued), the actor goes back to its own executor,
// so that under load the chain spreads out again.
func TestActorFollowsAHandOff(t *testing.T) {
	rt, a, b, ranA, ranB := twoHomes(t)
	bg := context.Background()
	require.NoError(t, a.Tell(bg, 5)) // a 5, b 4, a 3, b 2, a 1, b 0
	for range 3 {
		requireRanOn(t, rt, 0, <-ranA, "a")
		requireRanOn(t, rt, 0, <-ranB, "b, handed a message by a on executor 0,")
	}
	require.Equal(t, 0, b.Executor())
	waitIdle(b)

	// a's turn takes both messages, and sends to b from the first with the
	// second to come.
	whileBusy(t, rt, 0, func() {
		require.NoError(t, a.Tell(bg, 1)) // passes 0 on to b
		require.NoError(t, a.Tell(bg, -1))
	})
	requireRanOn(t, rt, 0, <-ranA, "a")
	requireRanOn(t, rt, 1, <-ranB, "b, sent to by a with more to do,")
	requireRanOn(t, rt, 0, <-ranA, "a")
}

// TestActorFollowsAHandOffWithADerivedContext: a hand-off sent with a
// context derived from the sender's ActorContext (a value added, as a
// handler adds a deadline) is followed as one sent with the ActorContext
// itself: the sender's turn is found in the context, which is searched
// for a caller that owns an executor.
func TestActorFollowsAHandOffWithADerivedContext(t *testing.T) {
	rt, a, b, ranA, ranB := twoHomesPassing(t, true)
	require.NoError(t, a.Tell(context.Background(), 3)) // a 3, b 2, a 1, b 0
	for range 2 {
		requireRanOn(t, rt, 0, <-ranA, "a")
		requireRanOn(t, rt, 0, <-ranB, "b, handed a message by a on executor 0,")
	}
	require.Equal(t, 0, b.Executor())
}

// TestPlacedActorsDoNotFollow: an actor pinned with OnExecutor, and one
// whose weight range leaves out the sender's executor, stay where they are
// when an actor on another executor hands a message off to them.
func TestPlacedActorsDoNotFollow(t *testing.T) {
	rt, _, _, _, _ := twoHomes(t)
	bg := context.Background()
	sender := must(Spawn(rt, "sender", func() Actor[*Ref[int, int], int] { return relay{} }, OnExecutor(0)))
	for name, opt := range map[string]Option{"OnExecutor": OnExecutor(1), "WithWeight(Medium)": WithWeight(Medium)} {
		ran := make(chan [2]any, 1)
		var none *Ref[int, int]
		to := must(Spawn(rt, name, func() Actor[int, int] { return &hop{next: &none, ran: ran} }, opt))
		require.Equal(t, 1, to.Executor(), name)
		must(must(to.Ask(bg, -1)).Wait(bg))
		<-ran
		waitIdle(to)
		must(must(sender.Ask(bg, to)).Wait(bg))
		requireRanOn(t, rt, 1, <-ran, name)
		require.Equal(t, 1, to.Executor(), name)
	}
}

// sendTo tells the actor it holds what it is sent.
type sendTo struct{ to **Ref[int, int] }

func (s sendTo) Receive(c *ActorContext, n int) (int, error) { return 0, (*s.to).Tell(c, n) }

// TestActorStaysOffAStalledHome: an actor placed by weight that followed a
// hand-off stays where it is when a sender beside it with more to do sends
// to it while its home executor is stalled in a token: sent home, its
// message waited there as long as the stall, while the executor it was on
// ran on (found by review).
func TestActorStaysOffAStalledHome(t *testing.T) {
	f := followedAway(t)
	rt, a, ran, bg := f.rt, f.a, f.ran, context.Background()
	f.stall(1) // b's home

	// a takes two messages in one turn: it sends to b from the first with
	// the second to come.
	whileBusy(t, rt, 0, func() {
		require.NoError(t, a.Tell(bg, 0))
		require.NoError(t, a.Tell(bg, 0))
	})
	for range 2 {
		select {
		case got := <-ran:
			require.Equal(t, 0, got[0], "b ran off executor 0")
		case <-time.After(5 * time.Second):
			t.Fatal("b's message waits on its stalled home executor")
		}
	}
}

// shuttleMsg is a message of the shuttle: n round trips left, out on the
// way from a to c.
type shuttleMsg struct {
	n   int
	out bool
}

// shuttleEnd is a pinned end of the shuttle: it sends what it is sent back
// to the shuttle (out when it is a), and signals done at 0.
type shuttleEnd struct {
	next **Ref[shuttleMsg, int]
	done chan struct{}
	out  bool
}

func (a *shuttleEnd) Receive(c *ActorContext, m shuttleMsg) (int, error) {
	if m.n == 0 {
		a.done <- struct{}{}
		return 0, nil
	}
	return 0, (*a.next).Tell(c, shuttleMsg{n: m.n, out: a.out})
}

// shuttle passes what a sends on to c, and what c sends back to a, one
// round trip less, counting the moves between executors it sees.
type shuttle struct {
	a, c  **Ref[shuttleMsg, int]
	moves *atomic.Int64
	last  int
}

func (s *shuttle) Receive(c *ActorContext, m shuttleMsg) (int, error) {
	if e, _ := CurrentExecutor(c); e != s.last {
		s.last = e
		s.moves.Add(1)
	}
	if m.out {
		return 0, (*s.c).Tell(c, shuttleMsg{n: m.n})
	}
	return 0, (*s.a).Tell(c, shuttleMsg{n: m.n - 1})
}

// TestFollowAllocatesNothing guards the Tell that brings an actor along
// (see actors.Cell.Follow): an actor placed by weight shuttles between two
// actors pinned to two executors, each hop's Tell bringing it to the
// sender's executor. A run is 256 round trips: 1,024 Tells, 512 of which
// bring it along (none allocated, measured); the bound leaves room for
// the wake-ups of the test's goroutine, and an allocation per Tell would
// be 1,024.
func TestFollowAllocatesNothing(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off})
	var a, b, c *Ref[shuttleMsg, int]
	done := make(chan struct{}, 1)
	moves := new(atomic.Int64)
	a = must(Spawn(rt, "a", func() Actor[shuttleMsg, int] { return &shuttleEnd{next: &b, done: done, out: true} }, OnExecutor(0)))
	c = must(Spawn(rt, "c", func() Actor[shuttleMsg, int] { return &shuttleEnd{next: &b, done: done} }, OnExecutor(1)))
	b = must(Spawn(rt, "b", func() Actor[shuttleMsg, int] { return &shuttle{a: &a, c: &c, moves: moves, last: -1} }))
	bg := context.Background()
	const n = 256
	run := func() {
		if err := a.Tell(bg, shuttleMsg{n: n}); err != nil {
			t.Fatal(err)
		}
		<-done
	}
	run()
	moves.Store(0)
	allocs := testing.AllocsPerRun(20, run)
	t.Logf("%.2f allocations per run, %d moves in %d runs", allocs, moves.Load(), 21)
	require.LessOrEqual(t, allocs, 8.0, "allocations per %d Tells", 4*n)
	require.Positive(t, moves.Load(), "the actor never moved")
}

// TestFollowerLeavesAStalledExecutor: an actor placed by weight that
// followed a hand-off away from its home is sent a message from plain code
// while the executor it followed to is stalled in a token: it goes home,
// healthy, instead of waiting there as long as the stall while its home
// has nothing to do (the mirror of TestActorStaysOffAStalledHome).
func TestFollowerLeavesAStalledExecutor(t *testing.T) {
	f := followedAway(t)
	b, ran, bg := f.b, f.ran, context.Background()
	f.stall(0) // where b is now

	tok := must(b.Ask(bg, 0))
	select {
	case got := <-ran:
		require.Equal(t, 1, got[0], "b ran off its home")
	case <-time.After(5 * time.Second):
		t.Fatal("b's message waits on the stalled executor it followed to")
	}
	must(tok.Wait(bg))
	require.Equal(t, 1, b.Executor())
}

// followed is the scene of the stalled-executor follow tests: b, placed by
// weight on executor 1, followed a hand-off from a (pinned to executor 0)
// to executor 0 and is idle there; ran gets b's runs.
type followed struct {
	t       *testing.T
	rt      *Runtime
	a, b    *Ref[int, int]
	ran     chan [2]any
	stalled <-chan any
}

func followedAway(t *testing.T) *followed {
	engine := must(actor.NewEngine(actor.NewEngineConfig()))
	stalled, unsubscribe := testkit.Subscribe(engine, testkit.Is[supervisor.ExecutorStalled])
	t.Cleanup(unsubscribe)
	f := &followed{t: t, ran: make(chan [2]any, 4), stalled: stalled}
	f.rt = start(t, Config{Engine: engine, Cores: 2, Affinity: Off, StallAfter: 10 * time.Millisecond})
	bg := context.Background()
	var none *Ref[int, int]
	must(Spawn(f.rt, "first", func() Actor[int, int] { return &counter{} }))
	f.b = must(Spawn(f.rt, "b", func() Actor[int, int] { return &hop{next: &none, ran: f.ran} }))
	require.Equal(t, 1, f.b.Executor(), "staggered placement: the second actor on executor 1")
	f.a = must(Spawn(f.rt, "a", func() Actor[int, int] { return sendTo{&f.b} }, OnExecutor(0)))
	must(must(f.b.Ask(bg, 0)).Wait(bg))
	<-f.ran
	waitIdle(f.b)
	must(must(f.a.Ask(bg, 0)).Wait(bg)) // its last message: b follows it to executor 0
	require.Equal(t, 0, (<-f.ran)[0], "b, handed a message by a on executor 0, ran on")
	waitIdle(f.b)
	require.Equal(t, 0, f.b.Executor())
	return f
}

// stall makes executor i stall in a token until the test ends.
func (f *followed) stall(i int) {
	gate := make(chan struct{})
	f.t.Cleanup(func() { close(gate) })
	stall := must(Define(f.rt, "stall", func(context.Context, int) (int, error) { <-gate; return 0, nil }, OnExecutor(i)))
	must(stall.Submit(context.Background(), 0))
	require.Equal(f.t, i, (<-f.stalled).(supervisor.ExecutorStalled).Index)
}
