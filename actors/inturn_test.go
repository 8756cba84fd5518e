package actors

import (
	"context"
	"testing"
)

// probeHost is a test Host whose Deliver calls deliver and whose Idle
// signals idle.
type probeHost struct {
	countHost
	deliver func()
	idle    chan struct{}
}

func (h *probeHost) Deliver(context.Context, int) { h.deliver() }
func (h *probeHost) Idle()                        { h.idle <- struct{}{} }

// TestInTurnNotForAnEndedTurn: once a cell's turn ended, its goroutine does
// not run the cell's turn, also while the cell's next turn has begun (the
// cell is active) and not yet noted its own goroutine (see markTurn). The
// ended turn's goroutine was still named: a handler running on it, waiting
// on an Ask to that cell's actor, would be answered ErrAskSelf (found by the
// review of waits inside turns). The next turn's begin is made here by hand,
// on the owner that ran the first (as the compare-and-swap that begins a
// turn on another goroutine leaves the state word): the window lies between
// two lines. The next turn's goroutine is any other, or one whose id
// differs in its lowest bit alone (the owners of a group's executors are
// started one after another, and often have such ids): their tags were
// alike, and turnBy, still the ended turn's, told them apart no better.
func TestInTurnNotForAnEndedTurn(t *testing.T) {
	for _, c := range []struct {
		name  string
		other func(g uint64) uint64
	}{
		{"another goroutine", func(g uint64) uint64 { return g + 8 }},
		{"a goroutine a bit apart", func(g uint64) uint64 { return g ^ 1 }},
	} {
		t.Run(c.name, func(t *testing.T) { testInTurnNotForAnEndedTurn(t, c.other) })
	}
}

func testInTurnNotForAnEndedTurn(t *testing.T, other func(g uint64) uint64) {
	_, e := startOneExecutor(t)
	a := &probeHost{deliver: func() {}, idle: make(chan struct{}, 1)}
	ca := NewCell[int](e, 8, a)
	var inTurn, mine bool
	b := &probeHost{idle: make(chan struct{}, 1)}
	b.deliver = func() {
		s := ca.state.Load()
		ca.state.Store(s&execMask | cellActive | goTag(other(goid()))) // a next turn, begun on another goroutine
		inTurn = ca.InTurn()
		ca.state.Store(s)
	}
	cb := NewCell[int](e, 8, b)
	a.deliver = func() { mine = ca.InTurn() }
	if err := ca.TryPut(0); err != nil {
		t.Fatal(err)
	}
	<-a.idle
	if !mine {
		t.Fatal("InTurn is false in the cell's own turn")
	}
	if err := cb.TryPut(0); err != nil {
		t.Fatal(err)
	}
	<-b.idle
	if inTurn {
		t.Fatal("the goroutine of the cell's ended turn is said to run its next")
	}
}
