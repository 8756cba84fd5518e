package coregate

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// Regression tests for what a review of the 96 B token, Pause/Resume's
// hold before the claim, and Stop's stranded actors found.

// TestStopRefusesStrandedAskAHandlerWaitsOn: a handler of the blocking lane
// waits on an Ask queued to an actor stranded on the only executor, down
// (its cool-down longer than Stop's ctx). Stop refuses the Ask at once, so
// the handler returns and the lane drains: Stop returns before its ctx ends,
// counting the refused message. Stop's first pass left the stranded actor
// to its kill after the drain, and the drain waited for the handler, which
// waited for that kill: Stop ran until its ctx ended and cancelled it.
func TestStopRefusesStrandedAskAHandlerWaitsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoops(t)
		rt := must(Start(Config{Cores: 1, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}}))
		bg := context.Background()
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
		ref := must(Spawn(rt, "acct", func() Actor[int, int] { return &counter{} }))
		asks := make(chan *Token[int], 1)
		waiter := must(Define(rt, "waiter", func(ctx context.Context, _ int) (int, error) {
			return (<-asks).Wait(ctx)
		}, WithBlocking()))
		must(must(ref.Ask(bg, 0)).Wait(bg)) // started and idle
		must(block.Submit(bg, 0))
		wtok := must(waiter.Submit(bg, 0))
		synctest.Wait()
		asks <- must(ref.Ask(bg, 1)) // the actor is queued behind the blocker
		arms.Store(2)                // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)

		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		err := rt.Stop(ctx)
		require.NoError(t, ctx.Err(), "Stop ran until its ctx ended: %v", err)
		_, werr := wtok.Wait(bg)
		require.ErrorIs(t, werr, ErrActorStopped)
		var se *supervisor.StopError
		require.ErrorAs(t, err, &se, "Stop returned %v with the actor's message refused", err)
		require.Equal(t, 1, se.Refused)
		requireBalanced(t, rt)
	})
}
