package coregate

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// tellsItself, on its message 0, sends itself messages 1 and 2 with its
// context (a Tell, or an Ask it does not wait for) and returns the first
// error; it counts the other messages it handles.
type tellsItself struct {
	self **Ref[int, int]
	ask  bool
	got  *atomic.Int32
}

func (a *tellsItself) Receive(c *ActorContext, x int) (int, error) {
	if x != 0 {
		a.got.Add(1)
		return x, nil
	}
	for i := 1; i <= 2; i++ {
		var err error
		if a.ask {
			_, err = (*a.self).Ask(c, i)
		} else {
			err = (*a.self).Tell(c, i)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// TestSendToItselfOnAFullMailbox: an actor that Tells or Asks itself in
// its own turn while its mailbox is full gets an error wrapping
// ErrMailboxFull at once: only a later turn of its own makes room, so the
// wait for room would last as long as its context (for its ActorContext,
// until the runtime's Stop gives up). The message that fitted is
// delivered. Found by review: the turn waited for good, and the actor
// with it (under synctest the bubble deadlocked).
func TestSendToItselfOnAFullMailbox(t *testing.T) {
	for _, ask := range []bool{false, true} {
		name := "Tell"
		if ask {
			name = "Ask"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
				bg := context.Background()
				var self *Ref[int, int]
				var got atomic.Int32
				self = must(Spawn(rt, "self", func() Actor[int, int] { return &tellsItself{&self, ask, &got} }, WithMailbox(1)))
				_, err := must(self.Ask(bg, 0)).Wait(bg)
				require.ErrorIs(t, err, ErrMailboxFull)
				require.Equal(t, 3, must(must(self.Ask(bg, 3)).Wait(bg)), "the actor goes on")
				require.Equal(t, int32(2), got.Load(), "message 1, which fitted, and 3")
				require.NoError(t, rt.Stop(bg))
			})
		})
	}
}

// TestAskSelfOnlyInTheTurn: ErrAskSelf is for the goroutine running the
// actor's turn. A handler on another executor that waits, with a context
// the actor stored in its turn, for an Ask to the actor is not the turn,
// and the actor's next turn answers it; it got ErrAskSelf whenever the
// actor's turn happened to be running (found by the hand-off review).
func TestAskSelfOnlyInTheTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 2, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		release := make(chan struct{})
		got := make(chan error, 1)
		var self *Ref[int, int]
		var captured atomic.Pointer[ActorContext]
		far := must(Define(rt, "far", func(context.Context, int) (int, error) {
			c := captured.Load()
			tok, err := self.Ask(c, 1)
			if err == nil {
				_, err = tok.Wait(c) // the captured actor context, not the turn
			}
			got <- err
			return 0, err
		}, OnExecutor(1)))
		self = must(Spawn(rt, "a", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, n int) (int, error) {
				if n != 0 {
					return n, nil
				}
				captured.Store(c)
				_, err := far.Submit(bg, 0)
				if err != nil {
					return 0, err
				}
				<-release // the turn stays active meanwhile
				return 0, nil
			})
		}, OnExecutor(0)))
		tok := must(self.Ask(bg, 0))
		synctest.Wait()
		close(release)
		must(tok.Wait(bg))
		if err := <-got; err != nil {
			t.Fatalf("a handler on another executor waiting with the actor's captured context: %v", err)
		}
	})
}

// TestAskSelfNotAfterTheTurn: a handler on the actor's own executor, run by
// the goroutine that ran the actor's last turn once that turn ended, waits
// with the context the actor stored in its turn for an Ask to the actor: it
// is not in the turn (the actor is idle), and the actor's next turn answers
// it, instead of ErrAskSelf.
func TestAskSelfNotAfterTheTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		got := make(chan error, 1)
		var self *Ref[int, int]
		var captured atomic.Pointer[ActorContext]
		near := must(Define(rt, "near", func(context.Context, int) (int, error) {
			c := captured.Load()
			tok, err := self.Ask(c, 1)
			if err == nil {
				_, err = tok.Wait(c) // the captured actor context, the turn over
			}
			got <- err
			return 0, err
		}, OnExecutor(0)))
		self = must(Spawn(rt, "a", func() Actor[int, int] {
			return funcActor(func(c *ActorContext, n int) (int, error) {
				if n != 0 {
					return n, nil
				}
				captured.Store(c)
				_, err := near.Submit(bg, 0) // runs once this turn ended
				return 0, err
			})
		}, OnExecutor(0)))
		must(must(self.Ask(bg, 0)).Wait(bg))
		if err := <-got; err != nil {
			t.Fatalf("a handler after the actor's turn, waiting with its captured context: %v", err)
		}
	})
}
