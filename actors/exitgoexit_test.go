package actors

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// idleHost is a test Host whose Idle closes idle, after calling
// runtime.Goexit when goexit is set (as an actor's Stopped may, run by a
// kill as its cell goes idle).
type idleHost struct {
	countHost
	goexit bool
	idle   chan struct{}
}

func (h *idleHost) Idle() {
	close(h.idle)
	if h.goexit {
		runtime.Goexit()
	}
}

// TestExitGoesOnPastAGoexit: an owner that ends as its group aborts hands
// its local run queue on, and a cell there that no executor takes goes idle
// on that goroutine, whose Idle (a killed actor's Stopped) may call
// runtime.Goexit. The owner's end goes on all the same: the next cell on
// the queue is handed on (its Idle called), and the group sees the owner
// end (Wait returns). Found by the lifecycle-across-Stop review: the Goexit
// cut exit short, so the cells behind it were never handed on (their
// envelopes never answered) and the group never saw its owner leave.
func TestExitGoesOnPastAGoexit(t *testing.T) {
	g, err := NewGroup(GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, Engine: newEngine(t), Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(Hooks{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: the failure this test looks for leaves the group
		// waiting for an owner that ended.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Wait(ctx)
		g.Release()
		g.Unregister()
	})
	e := g.Executors()[0]
	first := &idleHost{goexit: true, idle: make(chan struct{})}
	second := &idleHost{idle: make(chan struct{})}
	a, b := NewCell[int](e, 16, first), NewCell[int](e, 16, second)
	j := newJob(1, func(context.Context) error {
		for _, c := range []*Cell[int]{a, b} {
			if !c.putNear(1) {
				t.Error("not queued near")
			}
		}
		g.Abort() // the owner ends after this token: the cells' turns will not run
		return nil
	})
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-first.idle
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-second.idle:
	case <-ctx.Done():
		t.Fatal("the cell behind the one whose Idle called runtime.Goexit was never handed on")
	}
	if err := g.Wait(ctx); err != nil {
		t.Fatal("the group never saw its owner end:", err)
	}
}
