package coregate

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// stopLog records the order in which actors' Stopped ran; started counts
// their Started.
type stopLog struct {
	mu      sync.Mutex
	names   []string
	started sync.WaitGroup
}

// logsStopped is an actor whose Stopped logs its name; sent a count, it
// spawns that many ChildOf children that do the same.
type logsStopped struct {
	rt   *Runtime
	name string
	log  *stopLog
}

func (a *logsStopped) Receive(c *ActorContext, kids int) (int, error) {
	a.log.started.Add(kids)
	for i := range kids {
		name := a.name + "/" + strconv.Itoa(i)
		if _, err := Spawn(a.rt, name, func() Actor[int, int] { return &logsStopped{a.rt, name, a.log} }, ChildOf(c)); err != nil {
			return 0, err
		}
	}
	return kids, nil
}

func (a *logsStopped) Started(*ActorContext) error {
	if a.name != "parent" {
		a.log.started.Done()
	}
	return nil
}

func (a *logsStopped) Stopped(*ActorContext) {
	a.log.mu.Lock()
	a.log.names = append(a.log.names, a.name)
	a.log.mu.Unlock()
}

// TestRuntimeStopStopsChildrenAfterTheirParent: ChildOf says a child stops
// with its parent, after the parent's Stopped, which may still ask it. A
// runtime's Stop told every actor to stop at once, children too, so a
// child's mailbox was closed before its parent's Stopped ran, and the
// parent's Ask got ErrActorStopped; and, when the drain was cut short, it
// stopped the actors in the registry's map order, a child's Stopped often
// ahead of its parent's. Stop now tells only the actors without a parent
// (each stops its children as it stops), and stops what the drain did not
// reach parents first.
func TestRuntimeStopStopsChildrenAfterTheirParent(t *testing.T) {
	bg := context.Background()
	t.Run("drained", func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		got := make(chan error, 1)
		par := must(Spawn(rt, "parent", func() Actor[int, int] {
			return &asksKidWhenStopped{spawnsKid: spawnsKid{rt: rt, kid: func() Actor[int, int] { return &counter{} }}, got: got}
		}))
		must(must(par.Ask(bg, 0)).Wait(bg))
		require.NoError(t, rt.Stop(bg))
		require.NoError(t, <-got, "the child answered its parent's Stopped")
	})
	t.Run("cut short", func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		log := &stopLog{}
		par := must(Spawn(rt, "parent", func() Actor[int, int] { return &logsStopped{rt, "parent", log} }))
		const kids = 16
		require.Equal(t, kids, must(must(par.Ask(bg, kids)).Wait(bg)))
		log.started.Wait() // Stopped runs only for an actor that started
		// A Receive that ignores its context holds the executor, so the
		// drain reaches none of the parent's tree.
		hold := holdingActor(t, rt)
		ended, cancel := context.WithCancel(bg)
		cancel()
		require.Error(t, rt.Stop(ended))
		hold()
		log.mu.Lock()
		defer log.mu.Unlock()
		require.Len(t, log.names, kids+1)
		require.Equal(t, "parent", log.names[0], "a child's Stopped ran before its parent's: %v", log.names)
	})
}

// blocksInStopped is an actor whose Stopped tells entered and waits for
// release.
type blocksInStopped struct{ entered, release chan struct{} }

func (*blocksInStopped) Receive(_ *ActorContext, v int) (int, error) { return v, nil }
func (b *blocksInStopped) Stopped(*ActorContext) {
	close(b.entered)
	<-b.release
}

// TestRuntimeStopIsNotHeldByAStoppedThatBlocks: Stop waits for callbacks
// (an actor's Stopped among them) until its ctx ends. An actor the drain
// did not reach is stopped by a kill after it, which ran its Stopped on a
// goroutine of its own and waited for it without a bound: a Stopped that
// blocked held Stop past its ctx, for good. The kill now waits until ctx
// ends, then for the grace a cancelled handler gets.
func TestRuntimeStopIsNotHeldByAStoppedThatBlocks(t *testing.T) {
	bg := context.Background()
	rt := start(t, Config{Cores: 1, Affinity: Off})
	b := &blocksInStopped{entered: make(chan struct{}), release: make(chan struct{})}
	blocks := must(Spawn(rt, "blocks", func() Actor[int, int] { return b }))
	must(must(blocks.Ask(bg, 1)).Wait(bg)) // started: its Stopped will run
	defer holdingActor(t, rt)()            // the drain reaches no further: "blocks" is killed after it
	defer close(b.release)
	ended, cancel := context.WithCancel(bg)
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- rt.Stop(ended) }()
	awaitClosed(t, b.entered, "Stopped did not run")
	select {
	case err := <-stopped:
		require.Error(t, err) // cut short: it says so
	case <-time.After(pidsTimeout):
		t.Fatalf("Stop still waits for a Stopped %v after its ctx ended", pidsTimeout)
	}
}

// holdingActor spawns an actor whose Receive ignores its context and holds
// rt's executor until release is called, and returns once it does: a
// runtime Stop's drain reaches nothing queued behind it.
func holdingActor(t *testing.T, rt *Runtime) (release func()) {
	t.Helper()
	running, hold := make(chan struct{}), make(chan struct{})
	holder := must(Spawn(rt, "holder", func() Actor[int, int] {
		return funcActor(func(*ActorContext, int) (int, error) {
			close(running)
			<-hold
			return 0, nil
		})
	}))
	require.NoError(t, holder.Tell(context.Background(), 1))
	<-running
	return func() { close(hold) }
}

// TestStoppedChildLeavesItsParent: a ChildOf child whose tree stopped
// leaves its parent's children, so a long-lived parent does not keep every
// child it ever had.
func TestStoppedChildLeavesItsParent(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	kids := make(chan *Ref[int, int], 1)
	parent := must(Spawn(rt, "parent", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, k int) (int, error) {
			kid, err := Spawn(rt, "kid"+strconv.Itoa(k), func() Actor[int, int] {
				return funcActor(func(_ *ActorContext, k int) (int, error) { return k, nil })
			}, ChildOf(c))
			kids <- kid
			return k, err
		})
	}))
	for k := range 3 {
		must(must(parent.Ask(bg, k)).Wait(bg))
		require.NoError(t, (<-kids).Stop(bg))
	}
	parent.own.mu.Lock()
	defer parent.own.mu.Unlock()
	require.Empty(t, parent.own.children, "stopped children kept by their parent")
}

// TestParentWhoseChildEndedAsItStoppedEnds: a parent that lists a ChildOf
// child as it stops, whose child's tree ends before the parent asks to hear
// of it, hears of it at once: the parent's tree ends, and its Stop returns.
func TestParentWhoseChildEndedAsItStoppedEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		bg := context.Background()
		kids := make(chan *Ref[int, int], 1)
		parent := must(Spawn(rt, "parent", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, k int) (int, error) {
				kid, err := Spawn(rt, "kid", func() Actor[int, int] {
					return funcActor(func(_ *ActorContext, k int) (int, error) { return k, nil })
				}, ChildOf(c))
				kids <- kid
				return k, err
			})
		}))
		must(must(parent.Ask(bg, 0)).Wait(bg))
		kid := <-kids
		hook := func(_ *Runtime, name string) {
			if name == "parent" { // it listed kid: kid's tree ends before it goes on
				if err := kid.Stop(bg); err != nil {
					t.Error(err)
				}
				<-kid.treeCh()
			}
		}
		testNameFreed.Store(&hook)
		defer testNameFreed.Store(nil)
		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		require.NoError(t, parent.Stop(ctx), "the parent's tree never ended")
	})
}

// gatedAsksKid spawns a ChildOf child on a 1 and, in its Stopped, waits
// for gate and then asks that child, sending what it got.
type gatedAsksKid struct {
	rt   *Runtime
	kid  *Ref[int, int]
	gate chan struct{}
	got  chan error
}

func (p *gatedAsksKid) Receive(c *ActorContext, x int) (int, error) {
	if x != 1 {
		return 0, nil
	}
	kid, err := Spawn(p.rt, "kid", func() Actor[int, int] { return &counter{} }, ChildOf(c))
	p.kid = kid
	return 0, err
}

func (p *gatedAsksKid) Stopped(c *ActorContext) {
	<-p.gate
	tok, err := p.kid.Ask(c, 7)
	if err == nil {
		_, err = tok.Wait(c)
	}
	p.got <- err
}

// TestRuntimeStopKeepsAPartedChildForItsParent: a parent placed by weight
// that followed a hand-off away from its ChildOf child (pinned where the
// parent was) may still ask that child from its Stopped as a runtime's
// Stop drains, as ChildOf says. The child's executor, with nothing queued,
// drained and exited as soon as Stop closed the mailboxes, before the
// parent's Stopped ran on the other one: its Ask to the child was refused
// with ErrActorStopped, and the child was killed from the parent's turn.
// Stop now lets every actor stop (its tree with it) before the executors
// drain. It runs in a synctest bubble: synctest.Wait lets the child's
// executor drain, if it would, before the parent asks.
func TestRuntimeStopKeepsAPartedChildForItsParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 2, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
		bg := context.Background()
		p := &gatedAsksKid{rt: rt, gate: make(chan struct{}), got: make(chan error, 1)}
		par := must(Spawn(rt, "parent", func() Actor[int, int] { return p }))
		must(must(par.Ask(bg, 1)).Wait(bg))
		home := par.Executor()
		sender := must(Spawn(rt, "sender", func() Actor[*Ref[int, int], int] { return relay{} }, OnExecutor(1-home)))
		synctest.Wait() // the parent's turn ended: it is idle
		must(must(sender.Ask(bg, par)).Wait(bg))
		synctest.Wait()
		require.Equal(t, 1-home, par.Executor(), "the parent followed the hand-off")
		require.Equal(t, home, p.kid.Executor(), "the child stays where it was spawned")

		stopped := make(chan error, 1)
		go func() { stopped <- rt.Stop(bg) }()
		synctest.Wait() // the parent's Stopped waits for the gate
		close(p.gate)
		require.NoError(t, <-p.got, "the parent's Stopped asking its child")
		require.NoError(t, <-stopped)
	})
}
