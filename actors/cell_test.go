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
