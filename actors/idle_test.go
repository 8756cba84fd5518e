package actors

import (
	"context"
	"math"
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
	if !poll(time.Second, 0, func() bool { looks++; return looks == 100 }, nil) || looks != 100 {
		t.Fatalf("poll stopped after %d looks, want true at the 100th", looks)
	}
	if poll(50*time.Microsecond, 0, func() bool { return false }, nil) {
		t.Fatal("poll of a never-ready condition reported ready")
	}
	looks = 0
	if poll(0, 0, func() bool { looks++; return false }, nil) || looks != 1 {
		t.Fatalf("poll(0) looked %d times, want once", looks)
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if poll(MaxIdleSpin, 0, func() bool { return false }, nil) {
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
	if got, _ := w.read(); got != 1<<40 {
		t.Fatalf("a fresh reading was not shared: got %d", got)
	}
	w.at.Store(0) // long stale
	if got, at := w.read(); got == 1<<40 || at == 0 {
		t.Fatalf("a stale reading was served: got %d, taken at %d", got, at)
	}
}

// TestDemandNeedsTwoReadings: goroutines waiting counts as sustained only
// at two distinct readings in a row, not at two looks at one reading.
func TestDemandNeedsTwoReadings(t *testing.T) {
	var w waitingGauge
	fresh := int64(time.Since(gaugeEpoch)) + int64(time.Hour) // no new reading is taken
	w.n.Store(3)
	w.at.Store(fresh)
	d := demand{gauge: &w, last: -1}
	if d.sustained() || d.sustained() {
		t.Fatal("two looks at one reading counted as sustained demand")
	}
	w.at.Store(fresh + 1) // a second reading, still waiting
	if !d.sustained() {
		t.Fatal("two readings in a row with goroutines waiting were not sustained demand")
	}
	w.n.Store(0)
	w.at.Store(fresh + 2)
	if d.sustained() {
		t.Fatal("a reading with nobody waiting counted as demand")
	}
}

// TestPollSpinsBeforeGivingUp: poll does not ask giveUp during its spin-only
// phase, asks it after, and ends when giveUp says so.
func TestPollSpinsBeforeGivingUp(t *testing.T) {
	const spin = 2 * time.Millisecond
	start := time.Now()
	var asked time.Duration
	if poll(time.Minute, spin, func() bool { return false }, func() bool { asked = time.Since(start); return true }) {
		t.Fatal("poll of a never-ready condition reported ready")
	}
	if asked < spin {
		t.Fatalf("giveUp asked %v into the poll, within its %v spin-only phase", asked, spin)
	}
}

// TestWaitingGaugeOneYieldPerGap: of pollers that see goroutines waiting,
// one gives its P up per giveGap.
func TestWaitingGaugeOneYieldPerGap(t *testing.T) {
	var w waitingGauge
	if !w.yield() {
		t.Fatal("the first poller to see goroutines waiting was refused")
	}
	w.gave.Store(int64(time.Since(gaugeEpoch)) + int64(time.Hour)) // one gave up just now, for an hour
	if w.yield() {
		t.Fatal("a second poller gave up within giveGap of the first")
	}
	w.gave.Store(0) // long ago
	if !w.yield() {
		t.Fatal("a poller was refused long after the last gave up")
	}
}

// TestSignalFireReportsWaiter: fire reports a possible wake-up only when
// somebody asked for the channel first.
func TestSignalFireReportsWaiter(t *testing.T) {
	var quiet, watched signal
	if quiet.fire() {
		t.Fatal("a signal nobody watched reported a wake-up")
	}
	<-quiet.ch() // fired: the shared closed channel
	ch := watched.ch()
	if !watched.fire() {
		t.Fatal("a watched signal did not report its wake-up")
	}
	<-ch
	if watched.fire() {
		t.Fatal("a second fire reported a wake-up")
	}
}

// TestOwnerNotesWokenWaiter: a token whose end wakes a goroutine waiting on
// it marks its executor, read by the next token on it; a token nobody waits
// on does not. (idle clears the mark: both follow-ups are queued before the
// executor can go idle.)
func TestOwnerNotesWokenWaiter(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	e := g.Executors()[0]
	for _, watched := range []bool{false, true} {
		gate := make(chan struct{})
		lead := newJob(1, func(context.Context) error { <-gate; return nil })
		var woke bool
		next := newJob(2, func(context.Context) error { woke = e.woke; return nil })
		if e.Push(lead) != Pushed || e.Push(next) != Pushed {
			t.Fatal("push refused")
		}
		if watched {
			done := lead.Task().Finished() // a waiter's channel, asked for before the end
			close(gate)
			<-done
		} else {
			close(gate)
		}
		<-next.Task().Finished()
		if woke != watched {
			t.Fatalf("waiter watching %v: the executor noted a woken waiter: %v", watched, woke)
		}
	}
}

// TestSpinRoom: a sender that is not a handler polls for room and sees a
// channel closed; one that never closes ends the poll within roomSpin; a
// handler (of any group), or a group that does not poll, does not poll for
// room at all.
func TestSpinRoom(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: 50 * time.Microsecond}, Hooks{})
	closed := make(chan struct{})
	close(closed)
	if !g.SpinRoom(closed) {
		t.Fatal("a closed channel was not seen")
	}
	if g.SpinRoom(make(chan struct{})) {
		t.Fatal("a channel nobody closed was seen closed")
	}
	var inHandler bool
	j := newJob(1, func(context.Context) error { inHandler = g.SpinRoom(closed); return nil })
	if g.Executors()[0].Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
	if inHandler {
		t.Fatal("a handler polled for room instead of handing its executor on")
	}
	off := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: -1}, Hooks{})
	if off.SpinRoom(closed) {
		t.Fatal("a group with IdleSpin -1 polled for room")
	}
	// A handler of another group holds an executor all the same.
	j = newJob(2, func(context.Context) error { inHandler = g.SpinRoom(closed); return nil })
	if off.Executors()[0].Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
	if inHandler {
		t.Fatal("a handler of another group polled for room instead of handing its executor on")
	}
}

// TestMayLinger: a turn may linger on its owner with nothing else queued;
// not off the owner, not with a runnable on the owner's local queue, not
// after waking a waiter, and not where polling is off.
func TestMayLinger(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: DefaultIdleSpin}, Hooks{})
	e := g.Executors()[0]
	var alone, withLocal, afterWake bool
	j := newJob(1, func(context.Context) error {
		alone = e.mayLinger()
		k := &ticker{e: e, limit: 1, done: make(chan struct{})}
		e.Schedule(k) // the owner's local run queue
		withLocal = e.mayLinger()
		return nil
	})
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
	if !alone || withLocal {
		t.Fatalf("on the owner: mayLinger %v alone, %v with a local runnable; want true, false", alone, withLocal)
	}
	if e.mayLinger() {
		t.Fatal("a goroutine that is not the owner may linger")
	}
	k := newJob(2, func(context.Context) error { e.woke = true; afterWake = e.mayLinger(); return nil })
	if e.Push(k) != Pushed {
		t.Fatal("push refused")
	}
	<-k.Task().Finished()
	if afterWake {
		t.Fatal("an owner that woke a waiter may linger")
	}
	off := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: -1}, Hooks{})
	var offOwner bool
	m := newJob(3, func(context.Context) error { offOwner = off.Executors()[0].mayLinger(); return nil })
	if off.Executors()[0].Push(m) != Pushed {
		t.Fatal("push refused")
	}
	<-m.Task().Finished()
	if offOwner {
		t.Fatal("an owner may linger with polling off")
	}
}

// TestGaugeReadingAllocatesNothing: a poller past its spin-only phase reads
// the runnable-goroutine count every few microseconds; a reading must not
// allocate, or idle polling makes garbage (and the collections it brings)
// out of nothing. It did: the runtime/metrics sample escaped to the heap.
func TestGaugeReadingAllocatesNothing(t *testing.T) {
	var w waitingGauge
	w.read()
	allocs := testing.AllocsPerRun(1000, func() {
		w.at.Store(0) // stale: read again
		w.read()
	})
	if allocs != 0 {
		t.Fatalf("a gauge reading allocates %v objects", allocs)
	}
}

// TestSpinnersAboveExecutorsMeansAll: a Spinners bound above the executor
// count lets every executor poll. Found by review: the bound was kept in 32
// bits, so math.MaxInt (meant as "no bound") became -1 and no executor ever
// polled.
func TestSpinnersAboveExecutorsMeansAll(t *testing.T) {
	for _, n := range []int{3, math.MaxInt32, math.MaxInt} {
		g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0, 0, 0}, MailboxSize: 16, Affinity: Off, Spinners: n})
		if err != nil {
			t.Fatal(err)
		}
		if g.spinners.max != 3 {
			t.Errorf("Spinners %d: bound %d, want 3 (every executor)", n, g.spinners.max)
		}
		g.Release()
		g.Unregister()
	}
}
