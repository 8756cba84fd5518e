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
