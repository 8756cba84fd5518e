package coregate

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStopOfStrandedActorKeepsItsMessages: a Tell accepted by an actor
// whose only executor then goes down is kept, with the actor's mailbox,
// until the executor comes back; a Ref.Stop meanwhile (the runtime not
// stopping) stops the actor after it, as Stop says ("after the messages
// already queued"), not by refusing it unseen: the Tell returned nil.
func TestStopOfStrandedActorKeepsItsMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		stopped := new(atomic.Int32)
		ref := must(Spawn(rt, "acct", func() Actor[int, int] { return &counter{stopped: stopped} }))
		must(must(ref.Ask(bg, 0)).Wait(bg)) // started and idle
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
		must(block.Submit(bg, 0))
		synctest.Wait()
		require.NoError(t, ref.Tell(bg, 1)) // accepted, queued behind the blocker
		arms.Store(2)                       // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		require.ErrorIs(t, ref.Tell(bg, 10), ErrNoExecutor, "no executor is up")
		_, err := ref.Ask(bg, 10)
		require.ErrorIs(t, err, ErrNoExecutor, "no executor is up")
		ctx, cancel := context.WithTimeout(bg, 2*time.Second) // past the cool-down
		defer cancel()
		require.NoError(t, ref.Stop(ctx))
		require.Equal(t, int32(1), stopped.Load())
		require.Equal(t, 1, ref.value.(*counter).n, "the accepted Tell was never delivered")
	})
}

// TestStopOfStrandedFullActorKeepsItsMessages is the same with the actor's
// mailbox full: the stop waits for room, which the actor's first turn on
// the executor back in service makes, rather than kill the actor and drop
// what it had accepted.
func TestStopOfStrandedFullActorKeepsItsMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, arms := startOneDownable(t)
		bg := context.Background()
		defer func() { require.NoError(t, rt.Stop(bg)) }()
		stopped := new(atomic.Int32)
		ref := must(Spawn(rt, "acct", func() Actor[int, int] { return &counter{stopped: stopped} }, WithMailbox(2)))
		must(must(ref.Ask(bg, 0)).Wait(bg)) // started and idle
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
		must(block.Submit(bg, 0))
		synctest.Wait()
		require.NoError(t, ref.Tell(bg, 1))
		require.NoError(t, ref.Tell(bg, 2)) // the mailbox is full
		arms.Store(2)                       // the loop fails twice: restart, then down
		close(gate)
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		ctx, cancel := context.WithTimeout(bg, 2*time.Second) // past the cool-down
		defer cancel()
		require.NoError(t, ref.Stop(ctx))
		require.Equal(t, int32(1), stopped.Load())
		require.Equal(t, 3, ref.value.(*counter).n, "the accepted Tells were never delivered")
	})
}
