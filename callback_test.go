package coregate

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/stretchr/testify/require"
)

// called records callbacks, keyed by argument.
type called struct {
	mu     sync.Mutex
	done   map[int]int
	failed map[int]error
	more   chan struct{} // gets a value per callback
}

func newCalled() *called {
	return &called{done: map[int]int{}, failed: map[int]error{}, more: make(chan struct{}, 1000)}
}

func (c *called) onDone(arg, r int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.done[arg]; dup {
		panic("done called twice")
	}
	c.done[arg] = r
	c.more <- struct{}{}
}

func (c *called) onFailure(arg int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.failed[arg]; dup {
		panic("failed called twice")
	}
	c.failed[arg] = err
	c.more <- struct{}{}
}

func (c *called) get(arg int) (r int, err error, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.done[arg]; ok {
		return r, nil, true
	}
	err, ok = c.failed[arg]
	return 0, err, ok
}

var errOdd = errors.New("odd")

// TestCallbacksRunBeforeWaitReturns: each token that ran gets exactly one
// callback, done with its result or failure with its error (a panic's
// *PanicError and a Goexit's ErrGoexit included), on the goroutine that ran
// it before its waiters wake: once Wait returns, the callback has run.
func TestCallbacksRunBeforeWaitReturns(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(map[bool]string{false: "executor", true: "lane"}[blocking], func(t *testing.T) {
			rt := start(t, Config{Cores: 2, Affinity: Off})
			c := newCalled()
			opts := []Option{WithOnDone(c.onDone), WithOnFailure(c.onFailure)}
			if blocking {
				opts = append(opts, WithBlocking())
			}
			op := must(Define(rt, "half", func(_ context.Context, x int) (int, error) {
				switch {
				case x == 7:
					panic("seven")
				case x == 9:
					runtime.Goexit()
				case x%2 == 1:
					return 0, errOdd
				}
				return x / 2, nil
			}, opts...))
			bg := context.Background()
			for x := range 12 {
				_, werr := must(op.Submit(bg, x)).Wait(bg)
				r, err, ok := c.get(x)
				require.True(t, ok, "token %d: Wait returned before its callback ran", x)
				require.Equal(t, werr, err, "token %d", x)
				switch {
				case x == 7:
					var pe *PanicError
					require.ErrorAs(t, err, &pe)
				case x == 9:
					require.ErrorIs(t, err, ErrGoexit)
				case x%2 == 1:
					require.ErrorIs(t, err, errOdd)
				default:
					require.NoError(t, err)
					require.Equal(t, x/2, r)
				}
			}
		})
	}
}

// TestCallbacksOfTokensThatNeverRan: a token cancelled while queued gets
// its failure callback (on a goroutine of its own), and so does each held
// token Stop resolves; Stop returns once they ran.
func TestCallbacksOfTokensThatNeverRan(t *testing.T) {
	rt, err := Start(Config{Cores: 1, Affinity: Off})
	require.NoError(t, err)
	c := newCalled()
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }, WithOnFailure(c.onFailure)))
	gate, started := make(chan struct{}), make(chan struct{})
	hold := must(SubmitFunc(context.Background(), rt, func(context.Context) (int, error) {
		close(started)
		<-gate
		return 0, nil
	}))
	<-started
	bg := context.Background()
	cancelled := must(op.Submit(bg, 1))
	require.True(t, cancelled.Cancel())
	<-c.more
	_, err, ok := c.get(1)
	require.True(t, ok)
	require.ErrorIs(t, err, ErrCancelled)
	close(gate)
	_, _ = hold.Wait(bg)
	op.Pause() // its tokens are held, and Stop resolves them with ErrStopped
	var queued []*Token[int]
	for x := 2; x < 12; x++ {
		queued = append(queued, must(op.Submit(bg, x)))
	}
	require.NoError(t, rt.Stop(bg))
	for _, tok := range queued {
		_, werr := tok.Wait(bg)
		require.ErrorIs(t, werr, ErrStopped)
	}
	for x := 2; x < 12; x++ {
		_, err, ok := c.get(x)
		require.True(t, ok, "token %d: Stop returned before its callback ran", x)
		require.ErrorIs(t, err, ErrStopped)
	}
	requireBalanced(t, rt)
}

// TestCallbackOnceAfterRetries: a retried token's callback comes once, with
// its last attempt's outcome.
func TestCallbackOnceAfterRetries(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	c := newCalled()
	var attempts int
	op := must(Define(rt, "flaky", func(_ context.Context, x int) (int, error) {
		attempts++ // one executor: attempts run one at a time
		if attempts < 3 {
			return 0, errOdd
		}
		return x, nil
	}, WithRetry(2, 0), WithOnDone(c.onDone), WithOnFailure(c.onFailure)))
	bg := context.Background()
	v, err := must(op.Submit(bg, 5)).Wait(bg)
	require.NoError(t, err)
	require.Equal(t, 5, v)
	require.Equal(t, 3, attempts)
	r, err, ok := c.get(5)
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, 5, r)
	require.Len(t, c.more, 1, "one callback for three attempts")
}

// TestCallbackPanicAndGoexitAreContained: a callback that panics is
// published as CallbackPanicked and the token keeps its outcome; one that
// calls runtime.Goexit ends its executor's goroutine, which is replaced, and
// the token is still resolved. The runtime goes on.
func TestCallbackPanicAndGoexitAreContained(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	events, stop := testkit.Subscribe(engine, testkit.Is[CallbackPanicked])
	defer stop()
	rt := start(t, Config{Engine: engine, Cores: 1, Affinity: Off})
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }, WithOnDone(func(x, _ int) {
		switch x {
		case 1:
			panic("in a callback")
		case 2:
			runtime.Goexit()
		}
	})))
	bg := context.Background()
	for x := range 4 {
		v, err := must(op.Submit(bg, x)).Wait(bg)
		require.NoError(t, err)
		require.Equal(t, x, v)
	}
	select {
	case ev := <-events:
		p := ev.(CallbackPanicked)
		require.Equal(t, "id", p.Op)
		require.Equal(t, "in a callback", p.Value)
	case <-time.After(time.Minute):
		t.Fatal("no CallbackPanicked")
	}
}

// TestCallbackBadInput: a callback of the wrong type, a nil one, or one given
// to an actor is an error.
func TestCallbackBadInput(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	fn := func(_ context.Context, x int) (int, error) { return x, nil }
	_, err := Define(rt, "a", fn, WithOnDone(func(string, int) {}))
	require.ErrorContains(t, err, "WithOnDone got a func(string, int), want a func(int, int)")
	_, err = Define(rt, "b", fn, WithOnFailure(func(string, error) {}))
	require.ErrorContains(t, err, "WithOnFailure got a func(string, error), want a func(int, error)")
	_, err = Define(rt, "c", fn, WithOnDone[int, int](nil))
	require.ErrorContains(t, err, "WithOnDone with a nil function")
	_, err = Define(rt, "d", fn, WithOnFailure[int](nil))
	require.ErrorContains(t, err, "WithOnFailure with a nil function")
	_, err = Spawn(rt, "e", func() Actor[int, int] { return funcActor(func(*ActorContext, int) (int, error) { return 0, nil }) }, WithOnDone(func(int, int) {}))
	require.ErrorContains(t, err, "WithOnDone applies to ops")
}

// TestStopFromACallbackDoesNotWaitForItself: Stop called from a callback
// that runs on a goroutine of its own (a token cancelled while queued)
// returns ErrStopFromHandler, as from a callback run on the handler's
// goroutine. Found by review: it went on to wait for the callbacks still
// running, itself among them, so it never returned (or, with a deadline,
// returned the deadline's error having waited all of it).
func TestStopFromACallbackDoesNotWaitForItself(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	stopped := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background()) // lets a Stop that waits for itself go
	defer cancel()
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil },
		WithOnFailure(func(int, error) { stopped <- rt.Stop(ctx) })))
	gate, started := make(chan struct{}), make(chan struct{})
	bg := context.Background()
	hold := must(SubmitFunc(bg, rt, func(context.Context) (int, error) {
		close(started)
		<-gate
		return 0, nil
	}))
	<-started
	require.True(t, must(op.Submit(bg, 1)).Cancel())
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, ErrStopFromHandler)
	case <-time.After(pidsTimeout):
		cancel()
		close(gate)
		t.Fatal("Stop from a callback waits for that callback")
	}
	close(gate)
	_, _ = hold.Wait(bg)
}

// panicsWhenStopped is an actor whose Stopped panics.
type panicsWhenStopped struct{ counter }

func (panicsWhenStopped) Stopped(*ActorContext) { panic("cleanup failed") }

// TestActorStoppedPanicIsPublished: a panic in an actor's Stopped does not
// keep it from stopping and is published as CallbackPanicked, naming the
// actor, before its ActorStopped, as a panic in an op's callback is. Found
// by review: it was recovered and dropped, with no trace anywhere.
func TestActorStoppedPanicIsPublished(t *testing.T) {
	for _, how := range []string{"Ref.Stop", "Runtime.Stop"} {
		t.Run(how, func(t *testing.T) {
			rt, err := Start(Config{Cores: 1, Affinity: Off})
			require.NoError(t, err)
			events, stop := testkit.Subscribe(rt.Engine(), func(ev any) bool {
				switch ev.(type) {
				case CallbackPanicked, ActorStopped:
					return true
				}
				return false
			})
			defer stop()
			bg := context.Background()
			ref := must(Spawn(rt, "messy", func() Actor[int, int] { return &panicsWhenStopped{} }))
			if how == "Ref.Stop" {
				require.NoError(t, ref.Stop(bg))
			}
			require.NoError(t, rt.Stop(bg))
			requireBalanced(t, rt)
			ev := <-events
			p, ok := ev.(CallbackPanicked)
			require.True(t, ok, "the first event is %#v, not a CallbackPanicked", ev)
			require.Equal(t, "cleanup failed", p.Value)
			require.True(t, p.Actor.Equals(ref.PID()), "it names the actor: %v", p.Actor)
			require.Contains(t, string(p.Stack), "Stopped")
			_, ok = (<-events).(ActorStopped)
			require.True(t, ok, "then its ActorStopped")
		})
	}
}

// TestCallbackGoexitOnAHelperOrTheLane: a callback that calls
// runtime.Goexit where the token's handler ran off the executor's owner (a
// handler that blocked in Wait and finished beside the executor it handed
// on, or a WithBlocking handler on a lane worker) ends that goroutine
// only: the token still resolves, and the executor and the lane go on.
func TestCallbackGoexitOnAHelperOrTheLane(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(map[bool]string{false: "helper", true: "lane"}[blocking], func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			inner := must(Define(rt, "inner", func(_ context.Context, x int) (int, error) { return x, nil }))
			opts := []Option{WithOnDone(func(x, _ int) {
				if x%2 == 0 {
					runtime.Goexit()
				}
			})}
			if blocking {
				opts = append(opts, WithBlocking())
			}
			op := must(Define(rt, "outer", func(ctx context.Context, x int) (int, error) {
				if blocking {
					return x, nil
				}
				return must(inner.Submit(ctx, x)).Wait(ctx) // hands the executor on
			}, opts...))
			bg := context.Background()
			for x := range 20 {
				v, err := must(op.Submit(bg, x)).Wait(bg)
				require.NoError(t, err)
				require.Equal(t, x, v)
			}
			require.NoError(t, rt.Stop(bg))
		})
	}
}

// TestCallbackOfAnAttemptCancelledAsItIsRetried: a token cancelled as its
// failed attempt is queued again for its retry (its hook allowed one, its
// backoff has yet to begin) resolves with that attempt's error on the
// goroutine that ran it, and its failure callback runs there, before its
// waiters wake, as for any token that ran. The callback ran on a goroutine
// of its own, possibly after Wait returned (found by review).
func TestCallbackOfAnAttemptCancelledAsItIsRetried(t *testing.T) {
	defer func() { retryAsked = nil }()
	for _, blocking := range []bool{false, true} {
		t.Run(map[bool]string{false: "executor", true: "lane"}[blocking], func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			fn, attempts := failing(2)
			var runner, caller atomic.Uint64
			opts := []Option{WithRetry(1, time.Hour), WithOnFailure(func(int, error) { caller.Store(actors.GoID()) })}
			if blocking {
				opts = append(opts, WithBlocking())
			}
			op := must(Define(rt, "c", func(ctx context.Context, x int) (int, error) {
				runner.Store(actors.GoID())
				return fn(ctx, x)
			}, opts...))
			toks := make(chan *Token[int], 1)
			retryAsked = func() { // on the runner: the token is cancelled meanwhile
				retryAsked = nil
				if (<-toks).Cancel() {
					t.Error("Cancel resolved a token still running")
				}
			}
			bg := context.Background()
			tok := must(op.Submit(bg, 7))
			toks <- tok
			_, err := tok.Wait(bg)
			require.ErrorIs(t, err, errFlaky)
			require.NotZero(t, caller.Load(), "Wait returned before the callback ran")
			require.Equal(t, runner.Load(), caller.Load(), "the callback ran off the goroutine that ran the token")
			require.Equal(t, int32(1), attempts.Load())
		})
	}
}

// TestGroupWaitFromACallbackOfItsToken: a callback that runs on the
// handler's goroutine, before the token settles, and calls Wait on the
// token's own group gets an error at once, as the token's handler does: the
// group waits for that very token, which settles only once the callback
// returned. It waited for good, holding the executor (or the lane's
// worker).
func TestGroupWaitFromACallbackOfItsToken(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(map[bool]string{false: "executor", true: "lane"}[blocking], func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off})
			bg := context.Background()
			g := NewGroup(bg, rt)
			inner := make(chan error, 1)
			opts := []Option{WithOnDone(func(int, int) { inner <- g.Wait() })}
			if blocking {
				opts = append(opts, WithBlocking())
			}
			op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }, opts...))
			must(Add(g, op, 1))
			select {
			case err := <-inner:
				require.ErrorContains(t, err, "Wait called from a token of the group")
			case <-time.After(10 * time.Second):
				t.Fatal("Group.Wait from the callback of its token waited for the token")
			}
			require.NoError(t, g.Wait())
		})
	}
}
