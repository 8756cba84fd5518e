package coregate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/faults"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// chaos kinds: what a token's handler does.
const (
	calm = iota
	fail
	panicking
	exiting
	stalling  // holds its executor until the watchdog reports it stalled
	cancelled // the submitter cancels it right away
	flaky     // fails its first run; its op retries once
)

// chaosKinds: every how many tokens each kind is injected, first match wins.
var chaosKinds = []struct{ every, kind int }{
	{2003, exiting}, {20011, stalling}, {97, panicking}, {53, fail}, {41, cancelled}, {37, flaky},
}

type chaosArg struct {
	id   int
	kind int
}

// TestChaos runs over 100,000 tokens from several submitters while handlers fail,
// panic, call runtime.Goexit (restarting their executor), stall until the
// watchdog reports them, get cancelled and get retried, with sticky and
// anchored ops in the mix; then stops the runtime while the submitters are
// still submitting. Every accepted token resolves exactly once with the outcome
// its handler chose, no handler runs more often than it should, the counts add
// up, stalls and restarts were reported, and no hollywood actor was ever
// restarted.
//
// It runs on the real clock, with real concurrency: a fake clock (synctest)
// only advances when every goroutine is blocked, which a flood of submitters
// seldom is. Nothing depends on timing, though: a stalling handler holds its
// executor until the watchdog has reported it (see awaitStall), so no stall
// can be missed however slow the machine (or -race) makes the watchdog, and
// one that is never reported fails the test.
func TestChaos(t *testing.T) {
	t.Run("graceful", func(t *testing.T) { chaos(t, time.Minute) })
	// Stop gives up draining at once: queued tokens resolve with ErrStopped
	// and running ones see their context cancelled, while executors restart.
	t.Run("abort", func(t *testing.T) { chaos(t, 0) })
}

func chaos(t *testing.T, drain time.Duration) {
	const total = 100_000
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	var restarted, stalled atomic.Int64
	// Events reach the subscriber asynchronously: the test waits for the
	// first of each kind rather than sampling the counts.
	sawRestart, sawStall := make(chan struct{}, 1), make(chan struct{}, 1)
	restarts, stop := testkit.Subscribe(engine, func(ev any) bool {
		switch ev.(type) {
		case supervisor.ExecutorRestarted:
			restarted.Add(1)
			notify(sawRestart)
		case supervisor.ExecutorStalled:
			stalled.Add(1)
			notify(sawStall)
		case actor.ActorRestartedEvent:
			return true
		}
		return false
	})
	stop = sync.OnceFunc(stop)
	defer stop()
	rt, err := Start(Config{
		Engine:      engine,
		MailboxSize: 256,
		// Only how long a stalling token holds its executor: calm handlers
		// seen past it (under -race, on a busy machine) are stalls too,
		// which the runtime handles like the injected ones.
		StallAfter: 20 * time.Millisecond,
	})
	require.NoError(t, err)

	// Submitters take ids below 2*total, children the ones above.
	runs := make([]atomic.Int32, 4*total)
	var stallsSeen atomic.Int64 // stalling handlers that saw their stall reported
	body := func(ctx context.Context, a chaosArg) (int, error) {
		n := runs[a.id].Add(1)
		switch a.kind {
		case fail:
			return 0, errFlaky
		case panicking:
			panic(a.id)
		case exiting:
			runtime.Goexit()
		case stalling:
			if err := awaitStall(ctx, rt); err != nil {
				return 0, err
			}
			stallsSeen.Add(1)
		case flaky:
			if n == 1 {
				return 0, errFlaky
			}
		}
		return a.id, nil
	}
	plain := must(Define(rt, "plain", body))
	light := must(Define(rt, "light", body, WithWeight(Light)))
	sticky := must(Define(rt, "sticky", body, WithStickyKey(func(a chaosArg) uint64 { return uint64(a.id % 64) })))
	retried := must(Define(rt, "retried", body, WithRetry(1, 0)))
	var ids atomic.Int64
	ids.Store(2 * total)
	var accepted atomic.Int64
	type child struct {
		tok *Token[int]
		id  int
	}
	var childMu sync.Mutex
	var children []child
	lead := must(Define(rt, "lead", func(ctx context.Context, a chaosArg) (int, error) {
		runs[a.id].Add(1)
		for range 2 {
			id := int(ids.Add(1))
			if id >= len(runs) {
				break
			}
			if tok, err := light.Submit(ctx, chaosArg{id: id}); err == nil {
				accepted.Add(1)
				childMu.Lock()
				children = append(children, child{tok, id})
				childMu.Unlock()
			}
		}
		return a.id, nil
	}, WithAnchor("light")))

	type sent struct {
		tok  *Token[int]
		arg  chaosArg
		lead bool
	}
	const submitters = 4
	sents := make([][]sent, submitters)
	var next atomic.Int64
	var wg sync.WaitGroup
	enough := make(chan struct{})
	var enoughOnce sync.Once
	for s := range submitters {
		wg.Go(func() {
			bg := context.Background()
			for {
				id := int(next.Add(1) - 1)
				if id >= 2*total {
					return
				}
				a := chaosArg{id: id}
				for _, k := range chaosKinds {
					if id%k.every == 0 {
						a.kind = k.kind
						break
					}
				}
				op, isLead := plain, false
				switch {
				case a.kind == flaky:
					op = retried
				case id%11 == 0:
					op = sticky
				case id%13 == 0 && a.kind == calm:
					op, isLead = lead, true
				case id%3 == 0:
					op = light
				}
				var tok *Token[int]
				var err error
				if isLead {
					tok, err = lead.Submit(bg, a)
				} else {
					tok, err = op.Submit(bg, a)
				}
				if err != nil {
					require.ErrorIs(t, err, ErrStopped)
					continue
				}
				if accepted.Add(1) >= total {
					enoughOnce.Do(func() { close(enough) })
				}
				if a.kind == cancelled {
					tok.Cancel()
				}
				sents[s] = append(sents[s], sent{tok, a, isLead})
			}
		})
	}
	<-enough
	// Stop under fire: the submitters are still going.
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := rt.Stop(ctx); drain > 0 {
		require.NoError(t, err)
	} else if err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	wg.Wait()

	bg := context.Background()
	n, stallsDone := 0, 0
	for _, ss := range sents {
		for _, s := range ss {
			n++
			_, err := s.tok.Wait(bg)
			r := runs[s.arg.id].Load()
			if errors.Is(err, ErrStopped) || errors.Is(err, ErrCancelled) {
				// Never ran, or (a retry queued when Stop aborted) ran once.
				require.LessOrEqual(t, r, int32(min(1, s.arg.kind/flaky)), "token %d resolved %v but ran", s.arg.id, err)
				continue
			}
			switch s.arg.kind {
			case calm:
				require.NoError(t, err)
			case stalling:
				if drain == 0 && errors.Is(err, context.Canceled) {
					break // running when Stop aborted: its context was cancelled
				}
				require.NoError(t, err, "stalling token %d", s.arg.id)
				stallsDone++
			case fail:
				require.ErrorIs(t, err, errFlaky)
			case panicking:
				var pe *PanicError
				require.ErrorAs(t, err, &pe)
			case exiting:
				require.ErrorIs(t, err, ErrGoexit)
			case cancelled:
				require.NoError(t, err) // it ran before Cancel reached it
			case flaky:
				if errors.Is(err, errFlaky) { // Stop aborted before its retry
					require.Equal(t, int32(1), r)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, int32(2), r, "retried token %d", s.arg.id)
				continue
			}
			require.Equal(t, int32(1), r, "token %d (kind %d) ran %d times", s.arg.id, s.arg.kind, r)
		}
	}
	for _, c := range children {
		_, err := c.tok.Wait(bg)
		want := int32(1)
		if err != nil {
			// Not run: its lead returned first (its context ended) or Stop.
			require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, ErrStopped), "child %d: %v", c.id, err)
			want = 0
		}
		require.Equal(t, want, runs[c.id].Load(), "child %d ran", c.id)
	}
	require.GreaterOrEqual(t, int(accepted.Load()), total, "tokens accepted before Stop")
	require.Positive(t, n)
	st := rt.Stats()
	require.Equal(t, uint64(accepted.Load()), st.Total.Submitted, "accepted tokens vs the runtime's count")
	requireBalanced(t, rt)
	require.Zero(t, st.Seeds, "seeds left after every lead and child resolved")
	select {
	case ev := <-restarts:
		t.Fatalf("hollywood restarted an actor: %+v", ev)
	default:
	}
	require.Positive(t, stallsDone, "no stalling token ran to its stall")
	require.Equal(t, int64(stallsDone), stallsSeen.Load(), "stalling tokens that succeeded saw their stall reported")
	for _, ev := range []struct {
		name string
		ch   <-chan struct{}
	}{{"ExecutorRestarted", sawRestart}, {"ExecutorStalled", sawStall}} {
		select {
		case <-ev.ch:
		case <-time.After(time.Minute):
			t.Fatalf("no %s event published", ev.name)
		}
	}
	stop()
	t.Logf("%d tokens accepted, %d restarts, %d stalls (%d injected); totals %+v", accepted.Load(), restarted.Load(), stalled.Load(), stallsDone, st.Total)
}

// errNoStall is what a stalling handler returns when its stall is never
// reported.
var errNoStall = errors.New("the watchdog never reported the stalling token's executor stalled")

// awaitStall holds the executor running the handler whose context ctx is
// until the watchdog reports it stalled, which it does once a token has run
// past Config.StallAfter: this one, which runs until then (or, rarely, the
// one before it, whose report the watchdog has not yet cleared: a stall all
// the same). It returns ctx's error if ctx ends first (an aborting Stop
// cancels it), and errNoStall after a minute, so a watchdog that never
// reports fails the test rather than hanging it.
func awaitStall(ctx context.Context, rt *Runtime) error {
	e, _ := CurrentExecutor(ctx)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(time.Minute)
	defer limit.Stop()
	for !rt.Executors()[e].Stalled {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return errNoStall
		case <-tick.C:
		}
	}
	return nil
}

// notify sends on ch, of capacity 1, unless a send is already pending.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// TestEventsInOrder: a subscriber on the runtime's engine sees an executor's
// lifecycle in order: started, restarted after a handler's Goexit (not
// counted), stalled, recovered, restarted after its loop failed, down at the
// second loop failure, revived after its cool-down, stopped.
func TestEventsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		engine, err := actor.NewEngine(actor.NewEngineConfig())
		require.NoError(t, err)
		events, stop := testkit.Subscribe(engine, func(ev any) bool {
			switch ev.(type) {
			case supervisor.ExecutorStarted, supervisor.ExecutorRestarted, supervisor.ExecutorStalled,
				supervisor.ExecutorRecovered, supervisor.ExecutorDown, supervisor.ExecutorRevived, supervisor.ExecutorStopped:
				return true
			}
			return false
		})
		defer stop()
		var armed atomic.Bool
		defer faults.SetLoop(func(int) error {
			if armed.CompareAndSwap(true, false) {
				return errors.New("injected loop failure")
			}
			return nil
		})()
		rt, err := Start(Config{Engine: engine, Cores: 1, Affinity: Off, StallAfter: 10 * time.Millisecond, Restart: RestartPolicy{MaxRestarts: 1}})
		require.NoError(t, err)
		bg := context.Background()
		exit := must(Define(rt, "exit", func(context.Context, int) (int, error) { runtime.Goexit(); return 0, nil }))
		slow := must(Define(rt, "slow", func(context.Context, int) (int, error) { time.Sleep(100 * time.Millisecond); return 0, nil }))
		// arm makes the executor's loop fail right after the token.
		arm := must(Define(rt, "arm", func(context.Context, int) (int, error) { armed.Store(true); return 0, nil }))
		for _, op := range []*Op[int, int]{exit, slow, arm, arm} {
			_, _ = must(op.Submit(bg, 0)).Wait(bg)
			synctest.Wait()
		}
		_, err = exit.Submit(bg, 0)
		require.ErrorIs(t, err, ErrNoExecutor, "Submit with every executor down")
		time.Sleep(supervisor.DefaultCooldown)
		synctest.Wait()
		_, err = must(Define(rt, "ok", where[int])).Submit(bg, 0)
		require.NoError(t, err, "a token after the cool-down")
		require.NoError(t, rt.Stop(bg))
		var got []string
		for len(got) < 8 {
			select {
			case ev := <-events:
				got = append(got, strings.TrimPrefix(fmt.Sprintf("%T", ev), "supervisor."))
			case <-time.After(time.Minute):
				t.Fatalf("events so far: %v", got)
			}
		}
		require.Equal(t, []string{
			"ExecutorStarted", "ExecutorRestarted", "ExecutorStalled", "ExecutorRecovered",
			"ExecutorRestarted", "ExecutorDown", "ExecutorRevived", "ExecutorStopped",
		}, got)
		requireBalanced(t, rt)
	})
}
