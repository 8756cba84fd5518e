package actors

import (
	"context"
	"testing"
)

// recorder is a test Host: it counts deliveries, holds the first until gate
// closes, and reports on idle once want envelopes were delivered.
type recorder struct {
	gate      chan struct{}
	delivered int
	want      int
	idle      chan struct{}
}

func (r *recorder) Deliver(_ context.Context, e int) {
	if r.delivered == 0 {
		<-r.gate
	}
	if e != r.delivered {
		panic("out of order")
	}
	r.delivered++
}

func (r *recorder) Home() *Executor { return nil }

func (r *recorder) Idle() {
	if r.delivered == r.want {
		close(r.idle)
	}
}

// TestCellGivesBurstMemoryBack: a burst grows a cell's queue, and once the
// cell is idle again it keeps no more than cellKeep envelopes of capacity.
func TestCellGivesBurstMemoryBack(t *testing.T) {
	_, e := startOneExecutor(t)
	const burst = 20 * cellKeep
	r := &recorder{gate: make(chan struct{}), want: burst + 1, idle: make(chan struct{})}
	c := NewCell[int](e, 2*burst, r)
	for i := range burst + 1 { // the first is delivered (and held) while the rest queue
		if err := c.TryPut(i); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	grown := cap(c.q) + cap(c.batch) // the turn may have taken some before it blocked
	c.mu.Unlock()
	if grown < burst {
		t.Fatalf("the queue held %d envelopes of capacity, want a burst of %d", grown, burst)
	}
	close(r.gate)
	<-r.idle
	c.mu.Lock()
	defer c.mu.Unlock()
	if cap(c.q) > cellKeep || cap(c.batch) > cellKeep {
		t.Fatalf("idle cell keeps capacity %d + %d, want at most %d each", cap(c.q), cap(c.batch), cellKeep)
	}
}

// TestCellMarksEnvelopesForLingeringTurn: an envelope queued while a turn
// lingers sets the flag the turn polls; one queued otherwise does not.
func TestCellMarksEnvelopesForLingeringTurn(t *testing.T) {
	_, e := startOneExecutor(t)
	r := &recorder{gate: make(chan struct{}), want: -1, idle: make(chan struct{})}
	c := NewCell[int](e, 16, r)
	c.mu.Lock()
	c.state = cellActive // a turn runs (held by this test): sends do not schedule
	c.mu.Unlock()
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	if c.fresh.Load() {
		t.Fatal("an envelope marked fresh with no turn lingering")
	}
	c.mu.Lock()
	c.lingering = true
	c.mu.Unlock()
	if err := c.TryPut(1); err != nil {
		t.Fatal(err)
	}
	if !c.fresh.Load() {
		t.Fatal("an envelope queued during a linger was not marked")
	}
}
