package coregate

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStaleHandOffDoesNotDrawAnActor: a Tell made with an actor's context
// after its turn ended, on its executor (here an op's handler there that
// kept the context), is no hand-off from a turn: the actor it reaches,
// placed by weight on another executor, stays there. The turn's "ending"
// flag, set for the last message of the actor's last turn, outlived the
// turn, and the Tell drew the receiver onto the sender's executor (found
// by review).
func TestStaleHandOffDoesNotDrawAnActor(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off})
	bg := context.Background()
	kept := make(chan *ActorContext, 1)
	a := must(Spawn(rt, "a", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, _ int) (int, error) {
			kept <- c
			return 0, nil
		})
	}, OnExecutor(0)))
	b, ran := floaterOnExecutor1(t, rt)
	must(must(a.Ask(bg, 0)).Wait(bg))
	c := <-kept
	waitIdle(a) // its turn is over
	told := must(Define(rt, "told", func(context.Context, int) (int, error) {
		return 0, b.Tell(c, 1)
	}, OnExecutor(0)))
	must(must(told.Submit(bg, 0)).Wait(bg))
	require.Equal(t, 1, <-ran, "b was drawn onto the executor of a's ended turn")
	require.Equal(t, 1, b.Executor())
}

// TestHandOffWhileTheTurnWaits: as above, with the actor's turn still
// running but waiting (in Wait, its executor handed on): a handler that
// the executor runs meanwhile, telling with the actor's context, is not
// the turn handing its last message off.
func TestHandOffWhileTheTurnWaits(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off})
	bg := context.Background()
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // a failure must not leave a's turn waiting for Stop
	gate := must(Define(rt, "gate", func(context.Context, int) (int, error) {
		<-release
		return 0, nil
	}, WithBlocking()))
	kept := make(chan *ActorContext, 1)
	a := must(Spawn(rt, "a", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, _ int) (int, error) {
			kept <- c
			return must(gate.Submit(c, 0)).Wait(c)
		})
	}, OnExecutor(0)))
	b, ran := floaterOnExecutor1(t, rt)
	asked := must(a.Ask(bg, 0))
	c := <-kept // a's turn goes on to wait for gate
	told := must(Define(rt, "told", func(context.Context, int) (int, error) {
		return 0, b.Tell(c, 1)
	}, OnExecutor(0)))
	must(must(told.Submit(bg, 0)).Wait(bg))
	require.Equal(t, 1, <-ran, "b was drawn onto the executor of a's waiting turn")
	require.Equal(t, 1, b.Executor())
	free()
	must(asked.Wait(bg))
}

// floaterOnExecutor1 spawns floating actors until one is placed on
// executor 1, and returns it, idle, with the channel its Receive reports
// its executor on.
func floaterOnExecutor1(t *testing.T, rt *Runtime) (*Ref[int, int], chan int) {
	t.Helper()
	ran := make(chan int, 4)
	for i := 0; ; i++ {
		r := must(Spawn(rt, "b"+string(rune('0'+i)), func() Actor[int, int] {
			return funcActor(func(c *ActorContext, _ int) (int, error) {
				e, _ := CurrentExecutor(c)
				ran <- e
				return 0, nil
			})
		}))
		if r.Executor() == 1 {
			waitIdle(r)
			return r, ran
		}
	}
}
