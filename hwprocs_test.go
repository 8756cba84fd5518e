package coregate

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestPoisonRefusedByRemoteProcesses: hollywood's Poison or Stop sent to
// the processes Remote adds to an engine (coregate/gone, coregate/discard)
// is refused as the runtime's own processes refuse it: PoisonRefused, the
// context it returned done, and the process still doing its job (gone
// answers a peer's Request to a stopped runtime). Before, both dropped the
// pill: the context never ended, and a wait on it hung.
func TestPoisonRefusedByRemoteProcesses(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := must(Start(Config{Engine: ea, Cores: 1, Name: "poisoned"}))
	ops := rt.OpsPID()
	require.NoError(t, rt.Stop(context.Background()))
	refused, stop := testkit.Subscribe(ea, testkit.Is[actors.PoisonRefused])
	defer stop()
	for _, id := range []string{goneID, discardID} {
		for _, graceful := range []bool{true, false} {
			pid := actor.NewPID(ea.Address(), id)
			stopIt := ea.Stop
			if graceful {
				stopIt = ea.Poison
			}
			done := stopIt(pid)
			select {
			case <-done.Done():
			case <-time.After(pidsTimeout):
				t.Fatalf("Poison (graceful %v) of %v: its context never ended", graceful, pid)
			}
			select {
			case ev := <-refused:
				require.Equal(t, actors.PoisonRefused{PID: pid, Graceful: graceful}, ev)
			case <-time.After(pidsTimeout):
				t.Fatalf("no PoisonRefused for %v", pid)
			}
			require.NotNil(t, ea.Registry.GetPID("coregate", id[len("coregate/"):]), "%v left the engine", pid)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	_, err := Request[*wrapperspb.Int64Value](ctx, eb, ops, &wire.Call{Op: "x"})
	var w *wire.Error
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_STOPPED, w.GetCode())
}

// TestPoisonOfARequestIsNotItsAnswer: Poison sent to the process a
// Request waits on for its answer is refused, not taken for the answer:
// the Request gets what the actor answers.
func TestPoisonOfARequestIsNotItsAnswer(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	e := rt.Engine()
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // a failed test must not leave Stop waiting on Receive
	entered := make(chan struct{}, 1)
	ref := must(Spawn(rt, "slow", func() Actor[int, int] {
		return funcActor(func(_ *ActorContext, x int) (int, error) {
			entered <- struct{}{}
			<-release
			return x + 1, nil
		})
	}))
	refused, stop := testkit.Subscribe(e, testkit.Is[actors.PoisonRefused])
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout)
	defer cancel()
	type answer struct {
		v   any
		err error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := Request[any](ctx, e, ref.PID(), 41)
		got <- answer{v, err}
	}()
	<-entered // the Request's process is registered: the actor has its message
	pid := actor.NewPID(e.Address(), requestPrefix+strconv.FormatUint(requestIDs.Load(), 10))
	require.NotNil(t, e.Registry.GetPID("coregate", pid.GetID()[len("coregate/"):]))
	select {
	case <-e.Poison(pid).Done():
	case <-time.After(pidsTimeout):
		t.Fatal("Poison of the Request's process: its context never ended")
	}
	select {
	case ev := <-refused:
		require.Equal(t, actors.PoisonRefused{PID: pid, Graceful: true}, ev)
	case <-time.After(pidsTimeout):
		t.Fatal("no PoisonRefused for the Request's process")
	}
	unblock()
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, 42, a.v)
}

// idle is a hollywood actor that takes every message and does nothing.
type idle struct{}

func (idle) Receive(*actor.Context) {}

// TestStartRefusesAHeldOpsPID: a name whose ops PID (<name>/ops) is a
// process of the engine already is refused, as one whose executors' or
// router's PIDs are: hollywood keeps the first process of an ID, so the
// runtime's OpsPID reached the other process, and its Stop removed that
// process from the engine. The refused Start leaves the engine as it was,
// and the name starts once the PID is free.
func TestStartRefusesAHeldOpsPID(t *testing.T) {
	e := must(actor.NewEngine(actor.NewEngineConfig()))
	held := e.Spawn(func() actor.Receiver { return idle{} }, "held", actor.WithID("ops"))
	_, err := Start(Config{Engine: e, Cores: 1, Name: "held"})
	require.ErrorContains(t, err, "held/ops is already registered")
	require.Same(t, held, e.Registry.GetPID("held", "ops"), "the refused Start took the process's PID")
	for _, id := range []string{"router", "exec/0"} {
		require.Nil(t, e.Registry.GetPID("held", id), "the refused Start left %s registered", id)
	}
	select {
	case <-e.Poison(held).Done():
	case <-time.After(pidsTimeout):
		t.Fatal("the held process did not stop")
	}
	rt := start(t, Config{Engine: e, Cores: 1, Name: "held"})
	require.NotNil(t, e.Registry.GetPID("held", "ops"))
	require.NoError(t, rt.Stop(context.Background()))
	require.Nil(t, e.Registry.GetPID("held", "ops"))
}
