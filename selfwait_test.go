package coregate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// foreignContexts are contexts an actor's turn may have at hand that are not
// its ActorContext: a server's or a test's (one with a deadline far off,
// standing for context.Background, on synctest's clock), and one derived
// from another actor's context (captured there, as a newcomer might).
func foreignContexts(other *ActorContext) map[string]func() (context.Context, context.CancelFunc) {
	return map[string]func() (context.Context, context.CancelFunc){
		"Background": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Hour)
		},
		"another actor's": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(other, time.Hour)
		},
	}
}

// selfWaiter does, in its turn (Receive of 0, or Started on a restart),
// what waits on the actor itself, with a context that is not its own:
// Wait for its own Ask, Request its own PID, or Tell itself into its full
// mailbox. It reports the error.
type selfWaiter struct {
	rt      *Runtime
	self    **Ref[int, int]
	how     string
	ctx     func() (context.Context, context.CancelFunc)
	started bool // on a restart, in Started
	got     chan<- error
}

func (a *selfWaiter) Started(*ActorContext) error {
	if a.started {
		a.got <- a.waitOnItself()
	}
	return nil
}

func (a *selfWaiter) Receive(_ *ActorContext, n int) (int, error) {
	switch n {
	case 0:
		a.got <- a.waitOnItself()
	case -1:
		panic("restart")
	}
	return n, nil
}

func (a *selfWaiter) waitOnItself() error {
	ctx, cancel := a.ctx()
	defer cancel()
	self := *a.self
	switch a.how {
	case "Wait":
		tok, err := self.Ask(ctx, 1)
		if err != nil {
			return err
		}
		_, err = tok.Wait(ctx)
		return err
	case "Request":
		_, err := Request[int](ctx, a.rt.Engine(), self.PID(), 1)
		return err
	case "Tell", "Ask":
		for i := 1; i <= 2; i++ { // the first fits, the second finds the mailbox full
			var err error
			if a.how == "Ask" {
				_, err = self.Ask(ctx, i)
			} else {
				err = self.Tell(ctx, i)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// TestWaitOnItselfWithAnotherContext: an actor that, in its own turn
// (Receive, or Started), waits on itself with a context that is not its own
// (a server's Background, one derived from another actor's context) gets
// the error it gets with its own, at once: ErrAskSelf for a Wait on its own
// Ask and for a Request to its own PID, ErrMailboxFull for a Tell or Ask to
// itself into its full mailbox. Only a later turn of its own can answer, or
// make room, so the wait lasted as long as that context: for ever with
// Background (here its deadline, an hour on synctest's clock), the actor
// and its executor's goroutine with it. The actor goes on after it.
func TestWaitOnItselfWithAnotherContext(t *testing.T) {
	for _, how := range []string{"Wait", "Request", "Tell", "Ask"} {
		for _, where := range []string{"Receive", "Started"} {
			for _, ctxName := range []string{"Background", "another actor's"} {
				t.Run(how+"/"+where+"/"+ctxName, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						testWaitOnItself(t, how, where, ctxName)
					})
				})
			}
		}
	}
}

func testWaitOnItself(t *testing.T, how, where, ctxName string) {
	rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
	bg := context.Background()
	defer func() { require.NoError(t, rt.Stop(bg)) }()
	other := make(chan *ActorContext, 1)
	otherRef := must(Spawn(rt, "other", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, n int) (int, error) {
			other <- c
			return n, nil
		})
	}))
	must(must(otherRef.Ask(bg, 0)).Wait(bg))
	ctx := foreignContexts(<-other)[ctxName]
	got := make(chan error, 1)
	var self *Ref[int, int]
	var lives atomic.Int32
	self = must(Spawn(rt, "narcissus", func() Actor[int, int] {
		restarted := lives.Add(1) > 1
		return &selfWaiter{rt: rt, self: &self, how: how, ctx: ctx, started: where == "Started" && restarted, got: got}
	}, WithMailbox(1)))
	msg := 0
	if where == "Started" {
		msg = -1 // restarts the actor: Started waits on itself
	}
	_, _ = must(self.Ask(bg, msg)).Wait(bg)
	err := <-got
	switch how {
	case "Wait", "Request":
		require.ErrorIs(t, err, ErrAskSelf)
		require.ErrorContains(t, err, `"narcissus"`)
	default:
		require.ErrorIs(t, err, ErrMailboxFull)
	}
	require.Equal(t, 42, must(must(self.Ask(bg, 42)).Wait(bg)), "the actor goes on")
}

// TestEveryStopFromAHandlerPastMaxBlocked: an Every's stop called from a
// handler when Config.MaxBlocked handlers block already still hands the
// handler's executor on while it waits for the loop (stop has no error to
// return). It waited holding the executor, so on one core a last each that
// submitted to the runtime and waited (logging the run, say) waited for a
// token queued behind that handler, which waited for each: for ever, each
// waiting with Background (here a context the test ends once it saw the
// deadlock, on synctest's clock).
func TestEveryStopFromAHandlerPastMaxBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1, MaxBlocked: 1}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		release := blockOne(t, rt)
		defer release()
		everyStopFromAHandler(t, rt, time.Second, time.Hour)
	})
}

// TestGroupWaitFromItsOwnToken: a token's handler calling Wait on its own
// group gets an error at once: the group waits for that token, which ends
// only once the handler returned. It waited for good (Wait takes no
// context, so not even the runtime's Stop ended it), as errgroup's Wait
// called from one of its goroutines does. The group's Wait where it was
// made returns once the handler returned, with the handler's error. Checked
// for an op's token, one of the blocking lane, and a Go closure, each also
// after waiting once (its executor handed on meanwhile).
func TestGroupWaitFromItsOwnToken(t *testing.T) {
	for _, kind := range []string{"Add", "Add WithBlocking", "Go", "Add after a wait"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
				bg := context.Background()
				defer func() { require.NoError(t, rt.Stop(bg)) }()
				g := NewGroup(bg, rt)
				got := make(chan error, 1)
				side := must(Define(rt, "side", func(_ context.Context, x int) (int, error) { return x, nil }))
				handler := func(ctx context.Context, _ int) (int, error) {
					if kind == "Add after a wait" {
						must(must(side.Submit(ctx, 1)).Wait(ctx)) // queued behind: hands the executor on
					}
					err := g.Wait()
					got <- err
					return 0, err
				}
				switch kind {
				case "Go":
					must(Go(g, func(ctx context.Context) (int, error) { return handler(ctx, 0) }))
				default:
					var opts []Option
					if kind == "Add WithBlocking" {
						opts = append(opts, WithBlocking())
					}
					must(Add(g, must(Define(rt, "waitsOnItsGroup", handler, opts...)), 0))
				}
				select {
				case err := <-got:
					require.ErrorContains(t, err, "token of the group")
				case <-time.After(time.Hour):
					t.Fatal("Wait from a token of the group waits for itself")
				}
				require.ErrorContains(t, g.Wait(), "token of the group")
			})
		})
	}
}

// TestWaitOnTheAskItHandles: an actor whose Receive waits for the token of
// the very Ask it handles (handed to it by its asker, say) gets ErrAskSelf
// at once, with its own context or any other: the token resolves only once
// that Receive returned. It waited as long as the context (for ever with
// Background, here its deadline on synctest's clock).
func TestWaitOnTheAskItHandles(t *testing.T) {
	for _, own := range []bool{true, false} {
		name := "its own context"
		if !own {
			name = "Background"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
				bg := context.Background()
				defer func() { require.NoError(t, rt.Stop(bg)) }()
				toks := make(chan *Token[int], 1)
				ref := must(Spawn(rt, "narcissus", func() Actor[int, int] {
					return funcActor(func(c *ActorContext, n int) (int, error) {
						if n != 0 {
							return n, nil
						}
						ctx, cancel := context.WithTimeout(bg, time.Hour)
						defer cancel()
						if own {
							ctx, cancel = context.WithTimeout(c, time.Hour)
							defer cancel()
						}
						_, err := (<-toks).Wait(ctx)
						return 0, err
					})
				}))
				tok := must(ref.Ask(bg, 0))
				toks <- tok
				_, err := tok.Wait(bg)
				require.ErrorIs(t, err, ErrAskSelf)
				require.Equal(t, 42, must(must(ref.Ask(bg, 42)).Wait(bg)), "the actor goes on")
			})
		})
	}
}

// TestGroupWaitAfterItsTokenRan: a goroutine that ran a token of a group,
// now done, waits on that group from another op's handler: that Wait waits
// for the group's other tokens, as any, and is no call from its own token
// (the group counts a handler out as it returns).
func TestGroupWaitAfterItsTokenRan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := must(Start(Config{Cores: 1, Affinity: Off, IdleSpin: -1, StallAfter: -1}))
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		g := NewGroup(bg, rt)
		member := must(Define(rt, "member", func(context.Context, int) (int, error) { return 0, nil }))
		must(Add(g, member, 0))
		synctest.Wait() // member ran on the executor's goroutine and returned
		release := make(chan struct{})
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) { <-release; return 0, nil }, WithBlocking()))
		must(Add(g, slow, 0))
		outsider := must(Define(rt, "outsider", func(context.Context, int) (int, error) { return 0, g.Wait() }))
		tok := must(outsider.Submit(bg, 0))
		synctest.Wait()
		close(release)
		_, err := tok.Wait(bg)
		require.NoError(t, err)
	})
}

// TestWaitInItsTurnOnItsAnsweredAsk: an actor's wait, in its own turn, on
// an Ask to itself that an earlier turn answered returns the answer: only
// one not answered yet waits on itself (ErrAskSelf).
func TestWaitInItsTurnOnItsAnsweredAsk(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	bg := context.Background()
	var self *Ref[int, int]
	var held *Token[int]
	asked := make(chan *Token[int], 1)
	self = must(Spawn(rt, "self", func() Actor[int, int] {
		return funcActor(func(c *ActorContext, k int) (int, error) {
			switch k {
			case 1: // ask itself; a later turn answers
				held = must(self.Ask(c, 2))
				asked <- held
				return 0, nil
			case 2:
				return 20, nil
			default: // wait on the Ask answered by then
				return held.Wait(c)
			}
		})
	}))
	require.NoError(t, self.Tell(bg, 1))
	<-(<-asked).Done() // answered before the wait is asked for
	v, err := must(self.Ask(bg, 3)).Wait(bg)
	require.NoError(t, err)
	require.Equal(t, 20, v)
}

// TestWaitForItsOwnToken: a handler that waits for its own token (handed
// to it, as a list of pending tokens that holds it would be) gets
// ErrWaitSelf at once, as its first wait (an executor's owner, or a
// blocking lane's worker) and after a wait on another token (a handler
// that handed its executor on, or a lane worker counted blocked): the
// token resolves only once the handler returned, and the Wait waited
// until its context ended, holding a goroutine and the runtime's Stop.
func TestWaitForItsOwnToken(t *testing.T) {
	for _, lane := range []bool{false, true} {
		for _, first := range []bool{false, true} {
			name := map[bool]string{false: "executor", true: "lane"}[lane] + "/" +
				map[bool]string{false: "first-wait", true: "after-a-wait"}[first]
			t.Run(name, func(t *testing.T) {
				rt := start(t, Config{Cores: 1, Affinity: Off})
				bg := context.Background()
				child := must(Define(rt, "child", func(_ context.Context, x int) (int, error) { return x, nil }))
				me := make(chan *Token[int], 1)
				var opts []Option
				if lane {
					opts = append(opts, WithBlocking())
				}
				op := must(Define(rt, "self", func(ctx context.Context, x int) (int, error) {
					if first {
						if _, err := must(child.Submit(ctx, 1)).Wait(ctx); err != nil {
							return 0, err
						}
					}
					wctx, cancel := context.WithTimeout(bg, 10*time.Second)
					defer cancel()
					_, err := (<-me).Wait(wctx)
					if !errors.Is(err, ErrWaitSelf) {
						return 0, fmt.Errorf("a Wait for its own token: %v, want ErrWaitSelf", err)
					}
					return x, nil
				}, opts...))
				tok := must(op.Submit(bg, 7))
				me <- tok
				v, err := tok.Wait(bg)
				require.NoError(t, err)
				require.Equal(t, 7, v)
			})
		}
	}
}
