package main

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coregate/coregate"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the program on a real runtime, pinned where it can be.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, 2000))
	require.Equal(t, `2000 events, 20 bad
sensor-0: 500 readings, mean 75.2 F, max 118.4 F
sensor-1: 500 readings, mean 77.0 F, max 120.2 F
sensor-2: 500 readings, mean 75.2 F, max 118.4 F
sensor-3: 480 readings, mean 75.2 F, max 116.6 F
`, out.String())
}

// TestBackpressure holds the sink: the stages fill up to their bounds, the
// source stops reading, and the producer blocks on a full channel, with a
// bounded number of events taken. Released, everything arrives, in full.
// Each stage runs on an executor of its own.
// The fake clock's Wait tells when every goroutine is blocked.
func TestBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			mailbox = 4
			buffer  = 8
			n       = 1000
		)
		// IdleSpin -1: in the bubble the clock stands still while an idle
		// executor polls, so each poll ran its full 64,000 looks before it
		// parked (seconds in all, for nothing the test checks).
		rt, err := coregate.Start(coregate.Config{Cores: 3, Affinity: coregate.Off, IdleSpin: -1})
		require.NoError(t, err)
		ctx := context.Background()
		gate := make(chan struct{})
		p, err := build(rt, mailbox, func() { <-gate })
		require.NoError(t, err)

		events := make(chan string, buffer)
		var sent, taken atomic.Int64
		go func() {
			defer close(events)
			for i := range n {
				events <- "s," + string(rune('0'+i%10))
				sent.Add(1)
			}
		}()
		fed := make(chan error, 1)
		go func() { fed <- p.feed(ctx, events, func() { taken.Add(1) }) }()

		synctest.Wait() // every goroutine is blocked: the sink holds its event
		// Each stage holds at most a full mailbox plus a batch taken from it
		// (at most a mailbox's worth) and the item its Receive is passing on;
		// the source holds one more.
		bound := int64(3*(2*mailbox+1) + 1)
		t.Logf("taken %d of at most %d", taken.Load(), bound)
		require.LessOrEqual(t, taken.Load(), bound, "more taken than the stages can hold")
		// And each stage on its own executor filled its mailbox and holds
		// one more in a Tell waiting for room: the hold came from the sink.
		require.GreaterOrEqual(t, taken.Load(), int64(3*(mailbox+1)+1), "a stage stopped before it was full")
		require.Len(t, events, buffer, "the producer blocks on a full channel")
		require.Equal(t, taken.Load()+buffer, sent.Load(), "the source stopped reading")
		require.Less(t, sent.Load(), int64(n))

		close(gate)
		require.NoError(t, <-fed)
		tot, err := p.totals(ctx)
		require.NoError(t, err)
		require.Equal(t, n, tot.Events)
		require.Zero(t, tot.Bad)
		require.Equal(t, n, tot.Sensors["s"].Count)
		require.InDelta(t, float64(n/10*(0+1+2+3+4+5+6+7+8+9))*9/5+32*n, tot.Sensors["s"].Sum, 1e-6)
		require.NoError(t, rt.Stop(ctx))
	})
}

// TestNotANumberIsBad: a reading that parses as a float but is no number
// (NaN, an infinity) is a bad line, as garbage is: it made its sensor's
// mean and max NaN, or infinite, for good.
func TestNotANumberIsBad(t *testing.T) {
	requireTwoGood(t, "s,NaN", "s,+Inf", "s,-inf")
}

// TestOutOfRangeIsBad: a reading that is a finite float but far past any
// temperature is a bad line too: 1e308 °C is +Inf °F once converted, and
// readings short of that still overflow their sensor's sum, so its mean and
// max were NaN, or infinite, for good. Found by review.
func TestOutOfRangeIsBad(t *testing.T) {
	requireTwoGood(t, "s,1e308", "s,-1e308", "s,1e307", "s,1e307")
}

// requireTwoGood feeds the pipeline s,10, the bad lines and s,20, and
// requires every bad line counted bad and sensor s's figures those of its
// two good readings.
func requireTwoGood(t *testing.T, bad ...string) {
	t.Helper()
	rt, err := coregate.Start(coregate.Config{Cores: 1, Affinity: coregate.Off})
	require.NoError(t, err)
	ctx := context.Background()
	defer func() { require.NoError(t, rt.Stop(ctx)) }()
	p, err := build(rt, 16, nil)
	require.NoError(t, err)
	lines := append(append([]string{"s,10"}, bad...), "s,20")
	events := make(chan string, len(lines))
	for _, line := range lines {
		events <- line
	}
	close(events)
	require.NoError(t, p.feed(ctx, events, nil))
	var out bytes.Buffer
	require.NoError(t, p.print(ctx, &out))
	want := fmt.Sprintf("%d events, %d bad\ns: 2 readings, mean 59.0 F, max 68.0 F\n", len(lines), len(bad))
	require.Equal(t, want, out.String())
}
