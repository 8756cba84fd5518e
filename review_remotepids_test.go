package coregate

import (
	"context"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/stretchr/testify/require"
)

// stuckReceive holds its Receive of a negative number until gate closes,
// whatever its context says; in is closed as it begins.
type stuckReceive struct{ in, gate chan struct{} }

func (s stuckReceive) Receive(_ *ActorContext, v int) (int, error) {
	if v < 0 {
		close(s.in)
		<-s.gate
	}
	return v, nil
}

// TestSpawnWhilePIDHeldByStoppedRuntime: a runtime stopped while an actor's
// Receive runs on past its Stop leaves that actor's process on the engine
// until the Receive returns. A runtime started on the engine with the same
// name spawned an actor of the same name there: hollywood kept the old
// process under the PID, so the new actor's PID reached the stopped one
// (ErrActorStopped), then, once it returned, no process at all, for as long
// as the new actor lived (found by the remote review). Spawn now refuses
// the name with ErrNameTaken while the PID is held, and it spawns once it
// is free.
func TestSpawnWhilePIDHeldByStoppedRuntime(t *testing.T) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	old, err := Start(Config{Engine: e, Cores: 1, Affinity: Off})
	require.NoError(t, err)
	stuck := stuckReceive{make(chan struct{}), make(chan struct{})}
	ref := must(Spawn(old, "x", func() Actor[int, int] { return stuck }))
	require.NoError(t, ref.Tell(context.Background(), -1))
	<-stuck.in
	aborted, abort := context.WithCancel(context.Background())
	abort()
	require.ErrorContains(t, old.Stop(aborted), "actor:x", "the Receive runs on past the Stop")

	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	_, err = Spawn(rt, "x", func() Actor[int, int] { return stuckReceive{} })
	require.ErrorIs(t, err, ErrNameTaken)
	require.ErrorContains(t, err, "a process of the engine still")

	events, stop := testkit.Subscribe(e, testkit.Is[ActorStopped])
	defer stop()
	close(stuck.gate)
	require.True(t, (<-events).(ActorStopped).PID.Equals(ref.PID()), "the old actor's process left the engine")
	ref2 := must(Spawn(rt, "x", func() Actor[int, int] { return stuckReceive{} }))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	v, err := Request[int](ctx, e, ref2.PID(), 5)
	require.NoError(t, err, "the new actor's PID reaches it")
	require.Equal(t, 5, v)
}
