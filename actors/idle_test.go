package actors

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// TestPollEnds: poll looks until ready says so, gives up after its time, and
// ends even where the clock stands still (in a synctest bubble), so an idle
// executor in a bubble parks and lets the bubble block.
func TestPollEnds(t *testing.T) {
	looks := 0
	if !poll(time.Second, func() bool { looks++; return looks == 100 }, nil) || looks != 100 {
		t.Fatalf("poll stopped after %d looks, want true at the 100th", looks)
	}
	if poll(50*time.Microsecond, func() bool { return false }, nil) {
		t.Fatal("poll of a never-ready condition reported ready")
	}
	looks = 0
	if poll(0, func() bool { looks++; return false }, nil) || looks != 1 {
		t.Fatalf("poll(0) looked %d times, want once", looks)
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if poll(MaxIdleSpin, func() bool { return false }, nil) {
			t.Fatal("poll reported ready")
		}
		if time.Since(start) != 0 {
			t.Fatal("the bubble's clock moved while nothing blocked")
		}
	})
}

// TestSpinnersBound: at most max executors poll at once.
func TestSpinnersBound(t *testing.T) {
	s := spinners{max: 2}
	if !s.enter() || !s.enter() {
		t.Fatal("the first two pollers were refused")
	}
	if s.enter() {
		t.Fatal("a third poller entered a bound of two")
	}
	s.leave()
	if !s.enter() {
		t.Fatal("a poller was refused after one left")
	}
}

// TestIdleExecutorsPollWithinBound: executors that go idle poll their
// mailboxes, never more of them at once than Spinners, and a push to a
// polling executor runs. The test goes on until it has seen an executor
// polling, so the bound is checked while it matters. (Executors are read one
// at a time, so the bound is read from the count they enter, not from their
// states: one may leave and another enter between two reads.)
func TestIdleExecutorsPollWithinBound(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: a polling executor holds the only one, so the test could never look at it")
	}
	g := startGroup(t, GroupConfig{CPUs: []int{0, 0, 0}, MailboxSize: 16, Affinity: Off, IdleSpin: MaxIdleSpin, Spinners: 1}, Hooks{})
	seen := false
	for round := uint64(0); !seen; round++ {
		for _, e := range g.Executors() {
			j := newJob(round, nil)
			if e.Push(j) != Pushed {
				t.Fatal("push refused")
			}
			<-j.Task().Finished()
		}
		for range 1000 {
			if n := g.spinners.n.Load(); n > 1 {
				t.Fatalf("%d executors polling, bound 1", n)
			}
			for _, e := range g.Executors() {
				seen = seen || e.Awake()
			}
		}
	}
}

// TestWaitingGaugeSharesReadings: within gaugeFresh one reading serves every
// poller, and a stale one is read again. Time is faked by moving the stamp.
func TestWaitingGaugeSharesReadings(t *testing.T) {
	var w waitingGauge
	w.n.Store(1 << 40)
	w.at.Store(int64(time.Since(gaugeEpoch)) + int64(time.Hour)) // fresh for an hour
	if got := w.read(); got != 1<<40 {
		t.Fatalf("a fresh reading was not shared: got %d", got)
	}
	w.at.Store(0) // long stale
	if got := w.read(); got == 1<<40 {
		t.Fatalf("a stale reading was served: got %d", got)
	}
}
