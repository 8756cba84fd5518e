package coregate

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blocker is an op whose tokens signal started and then hold their executor
// until gate is closed (or their context ends).
type blocker struct {
	op      *Op[int, int]
	started chan int
	gate    chan struct{}
}

func newBlocker(t *testing.T, rt *Runtime, name string) *blocker {
	t.Helper()
	b := &blocker{started: make(chan int, 64), gate: make(chan struct{})}
	b.op = must(Define(rt, name, func(ctx context.Context, x int) (int, error) {
		b.started <- x
		select {
		case <-b.gate:
			return x, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	return b
}

// runLog is an op that appends its argument to a list, in run order.
type runLog struct {
	mu  sync.Mutex
	ran []int
	op  *Op[int, int]
}

func newRunLog(t *testing.T, rt *Runtime, name string, opts ...Option) *runLog {
	t.Helper()
	r := &runLog{}
	r.op = must(Define(rt, name, func(_ context.Context, x int) (int, error) {
		r.mu.Lock()
		r.ran = append(r.ran, x)
		r.mu.Unlock()
		return x, nil
	}, opts...))
	return r
}

func (r *runLog) order() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.ran...)
}

// TestSubmitFirstRunsAheadOfTheQueue: on a one-core runtime busy with a
// token, tokens submitted first run before those queued, the latest first.
func TestSubmitFirstRunsAheadOfTheQueue(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	rec := newRunLog(t, rt, "rec")
	must(b.op.Submit(ctx, 0))
	<-b.started
	var toks []*Token[int]
	for i := 1; i <= 3; i++ {
		toks = append(toks, must(rec.op.Submit(ctx, i)))
	}
	toks = append(toks, must(rec.op.SubmitFirst(ctx, 10)), must(rec.op.SubmitFirst(ctx, 11)))
	close(b.gate)
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	require.Equal(t, []int{11, 10, 1, 2, 3}, rec.order())
}

// TestSubmitFirstRunsAheadOfTheBatchInProgress: a token submitted first
// goes ahead of the rest of the batch its executor is working through, not
// only of what is still queued (README, "submit first"): the batch
// [b2 1 2 3] is taken once b1 returns, and 10, submitted first while b2
// runs, runs before 1, 2 and 3.
func TestSubmitFirstRunsAheadOfTheBatchInProgress(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	b1 := newBlocker(t, rt, "b1")
	b2 := newBlocker(t, rt, "b2")
	rec := newRunLog(t, rt, "rec")
	must(b1.op.Submit(ctx, 0))
	<-b1.started
	toks := []*Token[int]{must(b2.op.Submit(ctx, 0))}
	for i := 1; i <= 3; i++ {
		toks = append(toks, must(rec.op.Submit(ctx, i)))
	}
	close(b1.gate)
	<-b2.started
	toks = append(toks, must(rec.op.SubmitFirst(ctx, 10)))
	close(b2.gate)
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	require.Equal(t, []int{10, 1, 2, 3}, rec.order())
}

// TestTrySubmitFullFailsAtOnce: with every mailbox of the range full,
// TrySubmit fails at once with ErrFull naming the op, where Submit would
// wait; once there is room it succeeds. Nothing refused is counted.
func TestTrySubmitFullFailsAtOnce(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off, MailboxSize: 2, IdleSpin: -1})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	rec := newRunLog(t, rt, "rec", WithWeight(Medium)) // executor 1 only
	must(b.op.Submit(ctx, 0))                          // Heavy position 0: executor 0
	must(b.op.Submit(ctx, 1))                          // executor 1
	<-b.started
	<-b.started
	// Executor 1 holds its running token (in its batch until the next refill)
	// and one more.
	queued := must(rec.op.TrySubmit(5))
	require.Equal(t, 1, queued.Executor())
	before := rt.Stats().Total.Submitted
	_, err := rec.op.TrySubmit(6)
	require.ErrorIs(t, err, ErrFull)
	require.ErrorContains(t, err, `op "rec"`)
	require.Equal(t, before, rt.Stats().Total.Submitted, "a refused token is not accepted")
	close(b.gate)
	require.Equal(t, 5, must(queued.Wait(ctx)))
	require.Equal(t, 6, must(must(rec.op.TrySubmit(6)).Wait(ctx)))
}

// TestNilOpIsAnError: every method of a nil *Op answers ErrNilOp or a zero
// value, as a nil *Token's do; they panicked (Map and Add reported a nil
// op already).
func TestNilOpIsAnError(t *testing.T) {
	var op *Op[int, int]
	requireNilOpAnswers(t, op)
	require.Empty(t, op.Name())
	require.Equal(t, Heavy, op.Weight())
}

// requireNilOpAnswers checks that op, nil or not made by Define, answers
// every method that submits with ErrNilOp, and the rest with zero values.
func requireNilOpAnswers(t *testing.T, op *Op[int, int]) {
	t.Helper()
	ctx := context.Background()
	_, err := op.Submit(ctx, 1)
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.SubmitFirst(ctx, 1)
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.TrySubmit(1)
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.SubmitAll(ctx, []int{1, 2})
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.SubmitAfter(ctx, time.Second, 1)
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.SubmitAfter(ctx, -time.Second, 1)
	require.ErrorIs(t, err, ErrNilOp)
	_, err = op.Every(ctx, time.Second, 1, func(int, error) {})
	require.ErrorIs(t, err, ErrNilOp)
	for _, err := range Map(ctx, op, func(yield func(int) bool) { yield(1) }) {
		require.ErrorIs(t, err, ErrNilOp)
	}
	for _, err := range MapUnordered(ctx, op, func(yield func(int) bool) { yield(1) }) {
		require.ErrorIs(t, err, ErrNilOp)
	}
	require.Zero(t, op.CancelQueued())
	op.Pause()
	require.False(t, op.Paused())
	op.Resume()
}
