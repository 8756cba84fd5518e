package coregate

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/require"
)

// sleeper takes a millisecond over each message and answers how many it had.
type sleeper struct{ n int }

func (s *sleeper) Receive(_ *ActorContext, _ int) (int, error) {
	time.Sleep(time.Millisecond)
	s.n++
	return s.n, nil
}

// TestLongStreamIsNoStall: a turn that goes on past Throughput, with
// nothing else waiting on its executor, shows the watchdog a turn begun
// every Throughput messages, as passing the turn did: a stream of ten
// times Throughput messages, 64 ms of Receive a pass and 640 in all, is
// no stall at a threshold of 100 ms. Counted as one turn it was one.
func TestLongStreamIsNoStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		engine, err := actor.NewEngine(actor.NewEngineConfig())
		require.NoError(t, err)
		events, stop := testkit.Subscribe(engine, testkit.Is[supervisor.ExecutorStalled])
		defer stop()
		rt := start(t, Config{Engine: engine, Cores: 1, Affinity: Off, IdleSpin: -1, MailboxSize: 1024, StallAfter: 100 * time.Millisecond})
		bg := context.Background()
		a := must(Spawn(rt, "sleeper", func() Actor[int, int] { return &sleeper{} }))
		const n = 10 * actors.Throughput
		for i := range n - 1 {
			require.NoError(t, a.Tell(bg, i))
		}
		got, err := must(a.Ask(bg, n)).Wait(bg)
		require.NoError(t, err)
		require.Equal(t, n, got)
		synctest.Wait() // the watchdog's events, if any, reached the subscriber
		select {
		case ev := <-events:
			t.Fatalf("a stream whose every %d messages took %v was a stall: %#v", actors.Throughput, actors.Throughput*time.Millisecond, ev)
		default:
		}
	})
}

// eventLog records names in order, from any goroutine.
type eventLog struct {
	mu    sync.Mutex
	names []string
}

func (l *eventLog) add(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

// index returns where name was first recorded, or -1.
func (l *eventLog) index(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.names, name)
}

// logger records its name for each message, after a nap when nap is set.
type logger struct {
	name string
	log  *eventLog
	nap  time.Duration
}

func (l *logger) Receive(_ *ActorContext, _ int) (int, error) {
	time.Sleep(l.nap)
	l.log.add(l.name)
	return 0, nil
}

// TestStreamPassesToAnotherActor: a turn goes on past Throughput only
// while nothing else waits on its executor; another actor's message
// queued behind a long stream runs after at most two Throughputs of it
// (a turn that passes goes on its owner's local queue, which the owner
// takes from in turns with its mailbox, so the stream's next turn may
// come first), as before turns went on.
func TestStreamPassesToAnotherActor(t *testing.T) {
	rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 1024})
	bg := context.Background()
	var log eventLog
	a := must(Spawn(rt, "a", func() Actor[int, int] { return &logger{name: "a", log: &log} }))
	b := must(Spawn(rt, "b", func() Actor[int, int] { return &logger{name: "b", log: &log} }))
	gate, held := make(chan struct{}), make(chan struct{})
	hold := must(Define(rt, "hold", func(context.Context, int) (int, error) { close(held); <-gate; return 0, nil }))
	tok := must(hold.Submit(bg, 0))
	<-held // the executor is busy: what follows queues behind the token
	const n = 4 * actors.Throughput
	for i := range n {
		require.NoError(t, a.Tell(bg, i))
	}
	last := must(b.Ask(bg, 0))
	close(gate)
	must(tok.Wait(bg))
	must(last.Wait(bg))
	must(must(a.Ask(bg, 0)).Wait(bg))
	at := log.index("b")
	require.GreaterOrEqual(t, at, 0)
	require.LessOrEqual(t, at, 2*actors.Throughput, "b's message waited behind %d of a's stream", at)
}

// TestStreamGivesBackItsSlot: a turn that goes on past Throughput gives
// its executor's spent batch back first, the slot the turn's own schedule
// took: a submitter waiting for that room (a mailbox of one) gets in, and
// its token runs while the stream goes on, not after the whole stream.
func TestStreamGivesBackItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, IdleSpin: -1, MailboxSize: 1})
		bg := context.Background()
		var log eventLog
		a := must(Spawn(rt, "a", func() Actor[int, int] { return &logger{name: "a", log: &log, nap: time.Millisecond} }))
		op := must(Define(rt, "tok", func(context.Context, int) (int, error) { log.add("tok"); return 0, nil }))
		const n = 10 * actors.Throughput
		for i := range n {
			require.NoError(t, a.Tell(bg, i))
		}
		synctest.Wait() // the stream's turn sleeps in its first Receive
		tok := must(op.Submit(bg, 0))
		must(tok.Wait(bg))
		must(must(a.Ask(bg, 0)).Wait(bg))
		at := log.index("tok")
		require.Less(t, at, n, "the token waited for the whole stream")
	})
}
