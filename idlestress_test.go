package coregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A lost wake-up in the executors' idle path (a token or message accepted
// and never run until something else happens) shows here as a round that
// misses its deadline: each round hands one piece of work to an executor
// that is, by the random pause before it, busy, polling, giving its P up,
// or parked, and waits for it alone.

// stressFor is how long each configuration of the idle stress tests runs:
// a moment by default, COREGATE_STRESS (a duration) for a longer hunt.
func stressFor(t *testing.T) time.Duration {
	if s := os.Getenv("COREGATE_STRESS"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err)
		return d
	}
	if testing.Short() {
		return 20 * time.Millisecond
	}
	return 150 * time.Millisecond
}

// roundDeadline is how long one round may take before it counts as a hang.
const roundDeadline = 3 * time.Second

// idlePause waits a random while, so that the next push finds its executor
// in a random phase of its idle path: spinning, yielding, giving its P up
// (around IdleSpin/5 and IdleSpin), or parked.
func idlePause(r *rand.Rand) {
	switch r.IntN(6) {
	case 0:
	case 1:
		runtime.Gosched()
	case 2:
		for range r.IntN(2000) {
			_ = r.Uint64()
		}
	case 3:
		time.Sleep(time.Duration(r.IntN(30)) * time.Microsecond)
	case 4:
		time.Sleep(time.Duration(80+r.IntN(60)) * time.Microsecond)
	case 5:
		time.Sleep(time.Duration(r.IntN(400)) * time.Microsecond)
	}
}

// idleConfigs are the configurations the stress tests run under.
func idleConfigs() []Config {
	var cfgs []Config
	for _, cores := range []int{1, 2} {
		for _, spin := range []time.Duration{-1, 0, MaxIdleSpin} {
			cfgs = append(cfgs, Config{Cores: cores, IdleSpin: spin, Affinity: Off})
		}
		cfgs = append(cfgs, Config{Cores: cores, Spinners: 1, Affinity: Off})
	}
	return append(cfgs, Config{Cores: 1}) // pinned, on a locked thread
}

func cfgName(c Config) string {
	return fmt.Sprintf("cores=%d/spin=%v/spinners=%d/aff=%v", c.Cores, c.IdleSpin, c.Spinners, c.Affinity)
}

// stressRounds runs round over and over for stressFor, each within
// roundDeadline, under every configuration.
func stressRounds(t *testing.T, setup func(t *testing.T, rt *Runtime) func(ctx context.Context, r *rand.Rand) error) {
	for _, cfg := range idleConfigs() {
		t.Run(cfgName(cfg), func(t *testing.T) {
			rt := start(t, cfg)
			round := setup(t, rt)
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
			end := time.Now().Add(stressFor(t))
			n, slowest := 0, time.Duration(0)
			for ; time.Now().Before(end); n++ {
				ctx, cancel := context.WithTimeout(context.Background(), roundDeadline)
				began := time.Now()
				err := round(ctx, r)
				slowest = max(slowest, time.Since(began))
				cancel()
				if err != nil {
					t.Fatalf("round %d: %v", n, err)
				}
			}
			t.Logf("%d rounds, the slowest %v", n, slowest)
		})
	}
}

func TestStressIdleSubmitWait(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		sq, err := Define(rt, "sq", func(_ context.Context, x int) (int, error) { return x * x, nil })
		require.NoError(t, err)
		return func(ctx context.Context, r *rand.Rand) error {
			idlePause(r)
			tok, err := sq.Submit(ctx, 3)
			if err != nil {
				return err
			}
			if r.IntN(2) == 0 {
				idlePause(r)
			}
			v, err := tok.Wait(ctx)
			if err == nil && v != 9 {
				err = fmt.Errorf("got %d", v)
			}
			return err
		}
	})
}

// stressActor answers what it is asked; told a number, it passes it, one
// less, to its peer, and the one that gets 0 reports it.
type stressActor struct {
	peer *Ref[int, int]
	done chan int
}

func (a *stressActor) Receive(c *ActorContext, n int) (int, error) {
	switch {
	case n == 0:
		a.done <- 0
	case n > 0:
		if err := a.peer.Tell(c, n-1); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func TestStressIdleTellAsk(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		done := make(chan int, 1)
		a := &stressActor{done: done}
		ref, err := Spawn(rt, "a", func() Actor[int, int] { return a })
		require.NoError(t, err)
		return func(ctx context.Context, r *rand.Rand) error {
			idlePause(r)
			if r.IntN(2) == 0 {
				if err := ref.Tell(ctx, 0); err != nil {
					return err
				}
				select {
				case <-done:
					return nil
				case <-ctx.Done():
					return fmt.Errorf("tell: %w", ctx.Err())
				}
			}
			tok, err := ref.Ask(ctx, -1)
			if err != nil {
				return err
			}
			_, err = tok.Wait(ctx)
			return err
		}
	})
}

// Ping-pong between two actors on two executors (one, with one core): each
// message is pushed to an executor that just went idle.
func TestStressIdlePingPong(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		done := make(chan int, 1)
		a, b := &stressActor{done: done}, &stressActor{done: done}
		last := len(rt.Executors()) - 1
		ra, err := Spawn(rt, "a", func() Actor[int, int] { return a }, OnExecutor(0))
		require.NoError(t, err)
		rb, err := Spawn(rt, "b", func() Actor[int, int] { return b }, OnExecutor(last))
		require.NoError(t, err)
		a.peer, b.peer = rb, ra
		return func(ctx context.Context, r *rand.Rand) error {
			idlePause(r)
			if err := ra.Tell(ctx, 1+r.IntN(8)); err != nil {
				return err
			}
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("ping-pong: %w", ctx.Err())
			}
		}
	})
}

// chainAsker asks its peer and waits for the answer in its Receive: its
// executor is handed on while it waits.
type chainAsker struct{ peer *Ref[int, int] }

func (a *chainAsker) Receive(c *ActorContext, n int) (int, error) {
	if n <= 0 || a.peer == nil {
		return n, nil
	}
	tok, err := a.peer.Ask(c, n-1)
	if err != nil {
		return 0, err
	}
	return tok.Wait(c)
}

func TestStressIdleAskChain(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		last := len(rt.Executors()) - 1
		a, b, c := &chainAsker{}, &chainAsker{}, &chainAsker{}
		ra, err := Spawn(rt, "a", func() Actor[int, int] { return a }, OnExecutor(0))
		require.NoError(t, err)
		rb, err := Spawn(rt, "b", func() Actor[int, int] { return b }, OnExecutor(last))
		require.NoError(t, err)
		rc, err := Spawn(rt, "c", func() Actor[int, int] { return c }, OnExecutor(0))
		require.NoError(t, err)
		a.peer, b.peer = rb, rc
		return func(ctx context.Context, r *rand.Rand) error {
			idlePause(r)
			tok, err := ra.Ask(ctx, 2)
			if err != nil {
				return err
			}
			_, err = tok.Wait(ctx)
			return err
		}
	})
}

// A handler that waits on a token it submitted (queued behind it on its own
// executor, or on another), with random pauses in the handler too.
func TestStressIdleNestedWait(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		leaf, err := Define(rt, "leaf", func(_ context.Context, x int) (int, error) { return x + 1, nil })
		require.NoError(t, err)
		outer, err := Define(rt, "outer", func(ctx context.Context, x int) (int, error) {
			tok, err := leaf.Submit(ctx, x)
			if err != nil {
				return 0, err
			}
			if x%2 == 0 {
				runtime.Gosched()
			}
			return tok.Wait(ctx)
		})
		require.NoError(t, err)
		return func(ctx context.Context, r *rand.Rand) error {
			idlePause(r)
			k := 1 + r.IntN(3)
			toks := make([]*Token[int], k)
			for i := range toks {
				if toks[i], err = outer.Submit(ctx, r.IntN(100)); err != nil {
					return err
				}
			}
			for _, tok := range toks {
				if _, err := tok.Wait(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	})
}

// Several submitters at once, each waiting for its own work: wakers race
// each other as well as the executor going idle, and handlers block in
// Wait (handing their executor on to a spare) while others push.
func TestStressIdleConcurrent(t *testing.T) {
	stressRounds(t, func(t *testing.T, rt *Runtime) func(context.Context, *rand.Rand) error {
		last := len(rt.Executors()) - 1
		leaf, err := Define(rt, "leaf", func(_ context.Context, x int) (int, error) { return x + 1, nil })
		require.NoError(t, err)
		nested, err := Define(rt, "nested", func(ctx context.Context, x int) (int, error) {
			tok, err := leaf.Submit(ctx, x)
			if err != nil {
				return 0, err
			}
			return tok.Wait(ctx)
		})
		require.NoError(t, err)
		a, b := &chainAsker{}, &chainAsker{}
		ra, err := Spawn(rt, "a", func() Actor[int, int] { return a }, OnExecutor(0))
		require.NoError(t, err)
		rb, err := Spawn(rt, "b", func() Actor[int, int] { return b }, OnExecutor(last))
		require.NoError(t, err)
		a.peer = rb
		return func(ctx context.Context, r *rand.Rand) error {
			errs := make(chan error, 4)
			for i := range 4 {
				seed := r.Uint64()
				go func() {
					r := rand.New(rand.NewPCG(seed, uint64(i)))
					idlePause(r)
					var err error
					switch i {
					case 0, 1:
						var tok *Token[int]
						if tok, err = nested.Submit(ctx, i); err == nil {
							_, err = tok.Wait(ctx)
						}
					case 2:
						var tok *Token[int]
						if tok, err = ra.Ask(ctx, 1+r.IntN(3)); err == nil {
							_, err = tok.Wait(ctx)
						}
					case 3:
						var tok *Token[int]
						if tok, err = rb.Ask(ctx, 0); err == nil {
							_, err = tok.Wait(ctx)
						}
					}
					errs <- err
				}()
			}
			var first error
			for range 4 {
				if err := <-errs; err != nil && first == nil {
					first = err
				}
			}
			return first
		}
	})
}
