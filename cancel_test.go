package coregate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCancelQueued: every queued token of the op (in the mailbox, delayed)
// resolves with ErrCancelled and never runs, the count says how many; the
// running token and other ops' tokens are untouched.
func TestCancelQueued(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off})
	ctx := context.Background()
	b := newBlocker(t, rt, "block")
	rec := newRunLog(t, rt, "rec")
	others := newRunLog(t, rt, "other")
	running := must(b.op.Submit(ctx, 0))
	<-b.started
	var queued []*Token[int]
	for i := range 5 {
		queued = append(queued, must(rec.op.Submit(ctx, i)))
	}
	queued = append(queued, must(rec.op.SubmitAfter(ctx, time.Hour, 9)))
	kept := []*Token[int]{must(others.op.Submit(ctx, 1)), must(others.op.Submit(ctx, 2))}
	queuedBlock := must(b.op.Submit(ctx, 1))

	require.Equal(t, 6, rec.op.CancelQueued())
	require.Zero(t, rec.op.CancelQueued(), "nothing left to cancel")
	for _, tok := range queued {
		_, err := tok.Wait(ctx)
		require.ErrorIs(t, err, ErrCancelled)
	}
	require.Equal(t, 1, b.op.CancelQueued(), "the queued one, not the running one")
	_, err := queuedBlock.Wait(ctx)
	require.ErrorIs(t, err, ErrCancelled)
	close(b.gate)
	require.Equal(t, 0, must(running.Wait(ctx)))
	for _, tok := range kept {
		must(tok.Wait(ctx))
	}
	require.Empty(t, rec.order())
	require.Equal(t, []int{1, 2}, others.order())
	require.Equal(t, uint64(7), rt.Stats().Total.Cancelled)
}
