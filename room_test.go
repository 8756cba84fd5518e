package coregate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// waitInLine waits until n submitters wait in rt's line for room.
func waitInLine(t *testing.T, rt *Runtime, n int) {
	t.Helper()
	for rt.room.Waiting() < n {
		runtime.Gosched()
	}
}

// TestStopWakesEverySubmitterWaitingForRoom: submitters waiting for room on
// a full runtime all return ErrStopped once Stop closes the mailboxes, while
// the executor is still busy; what was accepted before still runs.
func TestStopWakesEverySubmitterWaitingForRoom(t *testing.T) {
	const n = 50
	rt := start(t, Config{Cores: 1, MailboxSize: 2, IdleSpin: -1})
	gate, started := make(chan struct{}), make(chan struct{})
	op := must(Define(rt, "gated", func(_ context.Context, x int) (int, error) {
		if x == 0 {
			close(started)
			<-gate
		}
		return x, nil
	}))
	bg := context.Background()
	toks := []*Token[int]{must(op.Submit(bg, 0))}
	<-started
	for x := 1; ; x++ {
		tok, err := op.TrySubmit(x)
		if errors.Is(err, ErrFull) {
			break
		}
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := op.Submit(bg, 100+i)
			errs <- err
		}()
	}
	waitInLine(t, rt, n)
	stopped := make(chan error, 1)
	go func() { stopped <- rt.Stop(bg) }()
	for range n {
		require.ErrorIs(t, <-errs, ErrStopped)
	}
	require.Zero(t, rt.room.Waiting(), "waiters left in line")
	close(gate)
	require.NoError(t, <-stopped)
	for x, tok := range toks {
		require.Equal(t, x, must(tok.Wait(bg)))
	}
}

// TestRoomStress: many submitters of every class and sticky keys through
// mailboxes of 2, a quarter of them cancelled part way (often while they
// wait for room): every Submit that returns nil is counted and resolves,
// with its result or, its submitter's context ended, context.Canceled; no
// other Submit fails; the line is empty at the end and the accounting
// balances (checked by start at Stop).
func TestRoomStress(t *testing.T) {
	const submitters, each = 128, 40
	rt := start(t, Config{MailboxSize: 2})
	double := func(_ context.Context, x int) (int, error) {
		if x%7 == 0 {
			runtime.Gosched() // a slower token now and then lets queues build up
		}
		return 2 * x, nil
	}
	ops := []*Op[int, int]{
		must(Define(rt, "heavy", double)),
		must(Define(rt, "medium", double, WithWeight(Medium))),
		must(Define(rt, "light", double, WithWeight(Light))),
		must(Define(rt, "sticky", double, WithStickyKey(func(x int) uint64 { return uint64(x % 5) }))),
	}
	type sent struct {
		tok       *Token[int]
		x         int
		cancelled bool
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []sent
		refused  atomic.Int64
		problems = make(chan error, submitters)
	)
	for s := range submitters {
		rng := rand.New(rand.NewPCG(uint64(s), 42))
		cancellable := s%4 == 0
		ctx := context.Background()
		at := rng.IntN(each) // a cancellable submitter's context ends once it has sent this many
		reached := make(chan struct{})
		if cancellable {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			go func() {
				<-reached
				cancel()
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sent
			for i := range each {
				if i == at {
					close(reached)
				}
				x := s*each + i
				tok, err := ops[rng.IntN(len(ops))].Submit(ctx, x)
				if err != nil {
					if !cancellable || !errors.Is(err, context.Canceled) {
						problems <- fmt.Errorf("submitter %d, token %d: %w", s, i, err)
					}
					refused.Add(1)
					break
				}
				mine = append(mine, sent{tok, x, cancellable})
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(problems)
	for err := range problems {
		t.Error(err)
	}
	bg := context.Background()
	succeeded := 0
	for _, s := range all {
		v, err := s.tok.Wait(bg)
		switch {
		case err == nil:
			require.Equal(t, 2*s.x, v, "token %d", s.x)
			succeeded++
		case s.cancelled && errors.Is(err, context.Canceled):
		default:
			t.Fatalf("token %d: %v", s.x, err)
		}
	}
	st := rt.Stats().Total
	require.Equal(t, uint64(len(all)), st.Submitted, "accepted")
	require.Equal(t, uint64(succeeded), st.Succeeded, "succeeded")
	require.Zero(t, rt.room.Waiting(), "waiters left in line")
	require.Less(t, refused.Load(), int64(submitters/4+1))
	t.Logf("%d accepted, %d succeeded, %d submitters cancelled while submitting, %d wakes",
		len(all), succeeded, refused.Load(), rt.room.Wakes())
}

// laneLine returns how many submitters wait in rt's blocking lane for room.
func laneLine(rt *Runtime) int {
	rt.lane.mu.Lock()
	defer rt.lane.mu.Unlock()
	return len(rt.lane.line)
}

// laneNext returns the argument of the token first in rt's lane queue.
func laneNext(rt *Runtime) int {
	rt.lane.mu.Lock()
	defer rt.lane.mu.Unlock()
	return rt.lane.q[rt.lane.head].(*job[int, int]).arg
}

// TestLaneSubmittersWaitInLine: submitters waiting for room in a full
// blocking lane get it first come, first served, as those waiting on the
// executors do (the README's "wait in line"); one that leaves gives up its
// place, and Stop wakes those left. Found by review: a freed slot woke
// every waiter, and the last to wait got in first (the goroutine woken last
// runs next), in every round.
func TestLaneSubmittersWaitInLine(t *testing.T) {
	for round := range 10 {
		rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1, MailboxSize: 1})
		gates := map[int]chan struct{}{0: make(chan struct{}), 1: make(chan struct{}), 10: make(chan struct{})}
		var once [3]sync.Once
		release := func(i, x int) { once[i].Do(func() { close(gates[x]) }) }
		t.Cleanup(func() { release(0, 0); release(1, 1); release(2, 10) }) // before start's Stop, on a failure
		started := make(chan int, 8)
		op := must(Define(rt, "lane", func(_ context.Context, x int) (int, error) {
			started <- x
			if g, ok := gates[x]; ok {
				<-g
			}
			return x, nil
		}, WithBlocking()))
		bg := context.Background()
		must(op.Submit(bg, 0))
		require.Equal(t, 0, <-started)
		must(op.Submit(bg, 1)) // the lane is full
		leaving, leave := context.WithCancel(bg)
		errs := make(chan error, 4)
		for i, x := range []int{9, 10, 11, 12} {
			ctx := bg
			if x == 9 {
				ctx = leaving
			}
			go func() {
				_, err := op.Submit(ctx, x)
				errs <- err
			}()
			for laneLine(rt) < i+1 {
				runtime.Gosched()
			}
		}
		leave()
		require.ErrorIs(t, <-errs, context.Canceled)
		require.Equal(t, 3, laneLine(rt))

		release(0, 0) // the worker takes 1: one slot is free
		require.Equal(t, 1, <-started)
		require.NoError(t, <-errs)
		require.Equal(t, 10, laneNext(rt), "round %d: the first in line gets the slot", round)
		require.Equal(t, 2, laneLine(rt), "the others still wait")
		release(1, 1) // the worker takes 10: the next slot
		require.Equal(t, 10, <-started)
		require.NoError(t, <-errs)
		require.Equal(t, 11, laneNext(rt), "round %d: then the next", round)

		stopped := make(chan error, 1)
		go func() { stopped <- rt.Stop(bg) }()
		require.ErrorIs(t, <-errs, ErrStopped, "Stop wakes the last waiter")
		require.Zero(t, laneLine(rt))
		release(2, 10)
		require.NoError(t, <-stopped)
	}
}

// TestLaneWaiterPassesOnItsWake: a submitter waiting for room in a full
// blocking lane, woken for a freed slot, that does not take it leaves no
// slot free while another waits: one whose context ended as the wake came
// wakes the next in line as it leaves, and one that found the slot taken
// first (by a submitter that did not wait) is woken again by the next.
func TestLaneWaiterPassesOnItsWake(t *testing.T) {
	defer func() { laneWaited = nil }()
	for _, leaves := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			rt := start(t, Config{Cores: 1, Affinity: Off, BlockingWorkers: 1, MailboxSize: 1})
			gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
			release := func(x int) {
				select {
				case <-gates[x]:
				default:
					close(gates[x])
				}
			}
			t.Cleanup(func() { release(0); release(1) }) // before start's Stop, on a failure
			started := make(chan int, 8)
			op := must(Define(rt, "lane", func(_ context.Context, x int) (int, error) {
				started <- x
				if x < len(gates) {
					<-gates[x]
				}
				return x, nil
			}, WithBlocking()))
			bg := context.Background()
			must(op.Submit(bg, 0))
			require.Equal(t, 0, <-started)
			must(op.Submit(bg, 1)) // the lane is full
			submit := func(ctx context.Context, x int) <-chan error {
				errs := make(chan error, 1)
				go func() {
					_, err := op.Submit(ctx, x)
					errs <- err
				}()
				synctest.Wait() // it waits in line
				return errs
			}
			admitted := func(errs <-chan error) {
				t.Helper()
				select {
				case err := <-errs:
					require.NoError(t, err)
				case <-time.After(time.Minute):
					t.Fatal("a slot was free, and the submitter waiting for it was never woken")
				}
			}
			if leaves {
				leaving, leave := context.WithCancel(bg)
				first, next := submit(leaving, 9), submit(bg, 10)
				laneWaited = func(bool) { // its context ended: the worker takes 1, which wakes it
					laneWaited = nil
					release(0)
					<-started
				}
				leave()
				require.ErrorIs(t, <-first, context.Canceled)
				admitted(next)
				return
			}
			first := submit(bg, 9)
			laneWaited = func(bool) { // woken: the slot goes to one that does not wait
				laneWaited = nil
				must(op.TrySubmit(11))
			}
			release(0)
			require.Equal(t, 1, <-started)
			synctest.Wait() // it found no room and waits again
			release(1)      // the worker takes 11
			admitted(first)
		})
	}
}
