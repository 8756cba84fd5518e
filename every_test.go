package coregate

import (
	"context"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/stretchr/testify/require"
)

// TestEveryEachPanicIsContained: a panic in Every's each is recovered and
// published as CallbackPanicked, as a panic in an op's callback is, and the
// periodic job goes on. Found by review: each ran unguarded on Every's own
// goroutine, so its panic ended the program.
func TestEveryEachPanicIsContained(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	require.NoError(t, err)
	events, unsubscribe := testkit.Subscribe(engine, func(ev any) bool { _, ok := ev.(CallbackPanicked); return ok })
	defer unsubscribe()
	rt := start(t, Config{Engine: engine, Cores: 1, Affinity: Off})
	op := must(Define(rt, "tick", func(context.Context, int) (int, error) { return 7, nil }))
	calls := make(chan int, 16)
	n := 0
	stop := must(op.Every(context.Background(), time.Millisecond, 0, func(r int, err error) {
		if err != nil {
			t.Errorf("run %d: %v", n+1, err)
		}
		if n++; n <= 16 {
			calls <- n
		}
		if n == 1 {
			panic("in each")
		}
	}))
	defer stop()
	for want := 1; want <= 3; want++ {
		require.Equal(t, want, <-calls, "the job goes on after each panicked")
	}
	select {
	case ev := <-events:
		p := ev.(CallbackPanicked)
		require.Equal(t, "tick", p.Op)
		require.Equal(t, "in each", p.Value)
		require.NotZero(t, p.Token, "the run's token")
		require.NotEmpty(t, p.Stack)
	case <-time.After(time.Minute):
		t.Fatal("no CallbackPanicked")
	}
}

// TestEveryCallsEachOnceAfterStop: a run under way as the runtime stops
// gives each its result, and each is not called again. Found by review: the
// loop then met a due tick and Stop's close at once, and the select picked
// the tick in half the rounds, submitted (refused) and called each a second
// time with ErrStopped. Each round gets a new runtime; the interval is so
// short that a tick is always due.
func TestEveryCallsEachOnceAfterStop(t *testing.T) {
	for round := range 20 {
		rt, err := Start(Config{Cores: 1, Affinity: Off})
		require.NoError(t, err)
		started, gate := make(chan struct{}), make(chan struct{})
		first := true
		op := must(Define(rt, "tick", func(context.Context, int) (int, error) {
			if first { // runs never overlap: no race on first
				first = false
				close(started)
				<-gate
			}
			return 7, nil
		}))
		var got []error
		stop := must(op.Every(context.Background(), time.Nanosecond, 0, func(_ int, err error) { got = append(got, err) }))
		<-started
		stopped := make(chan error)
		go func() { stopped <- rt.Stop(context.Background()) }()
		<-rt.delays.done() // Stop began: it drains the run under way
		close(gate)
		require.NoError(t, <-stopped)
		stop() // the loop has ended
		require.Equal(t, []error{nil}, got, "round %d: each after Stop, besides the run under way", round)
		requireBalanced(t, rt)
	}
}
