package actors

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

func (r *recorder) Home() *Executor     { return nil }
func (r *recorder) Fits(*Executor) bool { return true }

func (r *recorder) Drop(int) {}

func (r *recorder) Idle() {
	if r.delivered == r.want {
		close(r.idle)
	}
}

// TestCellGivesBurstMemoryBack: a burst grows a cell's queue, and once the
// cell is idle and its executor parks it keeps no more than cellKeep
// envelopes of capacity.
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
	// The executor (IdleSpin 0) parks once the cell is idle, and trims it
	// first.
	for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
		c.mu.Lock()
		q, b, listed := cap(c.q), cap(c.batch), c.trimOn != nil
		c.mu.Unlock()
		if !listed && q <= cellKeep && b <= cellKeep {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle cell keeps capacity %d + %d (listed: %v), want at most %d each", q, b, listed, cellKeep)
		}
	}
}

// TestCellKeepsQueueUntilExecutorParks: a cell that goes idle keeps its
// grown queue (a stream that pauses reuses it) and is listed on its
// executor, whose next park trims it; a cell at work again is not trimmed.
func TestCellKeepsQueueUntilExecutorParks(t *testing.T) {
	_, e := startOneExecutor(t)
	c := NewCell[int](e, 1024, &recorder{})
	grow := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.setPhase(cellActive) // as a turn that just drained its batch
		c.batch, c.bpos = make([]int, 4*cellKeep), 4*cellKeep
		if idle, _, _ := c.endTurnLocked(); !idle {
			t.Fatal("a drained cell did not go idle")
		}
		if cap(c.batch) != 4*cellKeep || c.trimOn != e {
			t.Fatalf("idle cell kept %d of capacity, listed on %p; want %d, on %p", cap(c.batch), c.trimOn, 4*cellKeep, e)
		}
	}
	grow()
	c.mu.Lock()
	c.setPhase(cellActive) // at work again before the park
	c.mu.Unlock()
	c.trim(e, true)
	if cap(c.batch) != 4*cellKeep || c.trimOn != nil {
		t.Fatalf("a busy cell was trimmed: capacity %d, listed on %p", cap(c.batch), c.trimOn)
	}
	grow()
	c.trim(e, true)
	if cap(c.batch) > cellKeep || c.trimOn != nil {
		t.Fatalf("an idle cell kept %d of capacity after its executor parked (listed on %p)", cap(c.batch), c.trimOn)
	}
}

// TestCellMarksEnvelopesForActiveTurn: an envelope queued while a turn is
// active sets the flag a dry turn reads (and lingers on) before it takes
// the lock, until the turn takes the queue; one queued to a cell whose
// turn has not begun does not, since the turn takes the queue as it begins.
func TestCellMarksEnvelopesForActiveTurn(t *testing.T) {
	_, e := startOneExecutor(t)
	c := NewCell[int](e, 16, &recorder{})
	c.setPhase(cellScheduled) // queued on its executor (as far as sends can tell)
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	if c.fresh.Load() {
		t.Fatal("an envelope marked fresh with no turn active")
	}
	c.setPhase(cellActive) // a turn runs (held by this test)
	if err := c.TryPut(1); err != nil {
		t.Fatal(err)
	}
	if !c.fresh.Load() {
		t.Fatal("an envelope queued during a turn was not marked")
	}
	c.mu.Lock()
	c.takeLocked()
	c.mu.Unlock()
	if c.fresh.Load() || len(c.batch) != 2 {
		t.Fatalf("after the turn took %v, fresh is %v: want both envelopes and fresh cleared", c.batch, c.fresh.Load())
	}
}

// log is a test Host that records what it delivered and dropped, in order,
// and reports each on a channel.
type log struct {
	mu                 sync.Mutex
	delivered, dropped []int
	seen               chan int
}

func newLog() *log { return &log{seen: make(chan int, 1024)} }

func (l *log) Deliver(_ context.Context, e int) {
	l.mu.Lock()
	l.delivered = append(l.delivered, e)
	l.mu.Unlock()
	l.seen <- e
}

func (l *log) Drop(e int) {
	l.mu.Lock()
	l.dropped = append(l.dropped, e)
	l.mu.Unlock()
	l.seen <- e
}

func (l *log) Home() *Executor     { return nil }
func (l *log) Fits(*Executor) bool { return true }
func (l *log) Idle()               {}

func (l *log) lists() (delivered, dropped []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.delivered...), append([]int(nil), l.dropped...)
}

// TestNearPutTakesNoLock: an envelope put by the cell's own executor (a
// handler on it) is queued while the test holds the cell's lock, so it took
// no lock; the turn it scheduled delivers it once the lock is free.
func TestNearPutTakesNoLock(t *testing.T) {
	_, e := startOneExecutor(t)
	l := newLog()
	c := NewCell[int](e, 16, l)
	c.mu.Lock()
	var err error
	j := newJob(1, func(context.Context) error { err = c.TryPut(7); return nil })
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	select {
	case <-j.Task().Finished():
	case <-time.After(10 * time.Second):
		t.Fatal("a put from the cell's own executor waited for the cell's lock")
	}
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := <-l.seen; got != 7 {
		t.Fatalf("delivered %d, want 7", got)
	}
}

// TestNearPutKeepsOrder: a handler on the cell's executor puts more
// envelopes than the near queue holds, so later ones take the locked queue,
// which fills too and makes the handler wait for room (handing its executor
// on to a helper that runs the cell's turns): every envelope arrives once,
// in order.
func TestNearPutKeepsOrder(t *testing.T) {
	_, e := startOneExecutor(t)
	l := newLog()
	c := NewCell[int](e, 4, l)
	const n = 40
	j := newJob(1, func(ctx context.Context) error {
		for i := range n {
			if err := c.Put(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
	if err := j.Task().Result(); err != nil {
		t.Fatal(err)
	}
	for range n {
		<-l.seen
	}
	delivered, _ := l.lists()
	for i, v := range delivered {
		if v != i {
			t.Fatalf("delivered %v, want 0 to %d in order", delivered, n-1)
		}
	}
}

// TestNearPutDroppedWhenNoTurnRuns: envelopes put near a cell that is then
// closed, on an executor that aborts before the cell's turn runs, are
// dropped (resolved by the host), not lost.
func TestNearPutDroppedWhenNoTurnRuns(t *testing.T) {
	g, e := startOneExecutor(t)
	l := newLog()
	c := NewCell[int](e, 16, l)
	var left []int
	j := newJob(1, func(context.Context) error {
		for i := range 3 {
			if err := c.TryPut(i); err != nil {
				return err
			}
		}
		left = c.Close() // the near envelopes are not Close's
		g.Abort()        // the cell's turn, queued behind this token, will not run
		return nil
	})
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	for range 3 {
		<-l.seen
	}
	delivered, dropped := l.lists()
	if len(left) != 0 || len(delivered) != 0 || !slices.Equal(dropped, []int{0, 1, 2}) {
		t.Fatalf("Close returned %v, delivered %v, dropped %v; want none, none, [0 1 2]", left, delivered, dropped)
	}
}

// countHost counts what a cell delivered and dropped.
type countHost struct {
	mu                 sync.Mutex
	delivered, dropped int
}

func (h *countHost) Deliver(context.Context, int) { h.mu.Lock(); h.delivered++; h.mu.Unlock() }
func (h *countHost) Drop(int)                     { h.mu.Lock(); h.dropped++; h.mu.Unlock() }
func (h *countHost) Home() *Executor              { return nil }
func (h *countHost) Fits(*Executor) bool          { return true }
func (h *countHost) Idle()                        {}

// TestAbortLeavesNearToTheOwner (found in review): Group.Abort returns the
// consumer's whole batch, including runnables already popped from it, and
// unschedules them on its own goroutine; a cell that ran from that batch,
// went idle and was then queued near by a handler still running must not
// have its near envelopes touched there (a race on the slice that lost an
// envelope in half the runs). Every accepted put is delivered, dropped or
// returned by Close.
func TestAbortLeavesNearToTheOwner(t *testing.T) {
	g, e := startOneExecutor(t)
	h := &countHost{}
	c := NewCell[int](e, 1<<30, h)
	gate, running := make(chan struct{}), make(chan struct{})
	blocker := newJob(1, func(context.Context) error { close(running); <-gate; return nil })
	if e.Push(blocker) != Pushed {
		t.Fatal("push refused")
	}
	<-running
	if err := c.TryPut(-1); err != nil { // from outside: the cell goes on the mailbox
		t.Fatal(err)
	}
	var stop atomic.Bool
	puts := 0
	sender := newJob(2, func(context.Context) error {
		for i := 0; !stop.Load(); i++ {
			if c.TryPut(i) == nil {
				puts++
			}
		}
		return nil
	})
	if e.Push(sender) != Pushed {
		t.Fatal("push refused")
	}
	close(gate) // the owner's next batch is [cell, sender]: the cell runs, goes idle, then is queued near
	for c.phase() != cellNear {
		runtime.Gosched()
	}
	g.Abort()
	stop.Store(true)
	<-sender.Task().Finished()
	_ = g.Wait(context.Background())
	left := c.Close()
	h.mu.Lock()
	got := h.delivered - 1 + h.dropped + len(left)
	h.mu.Unlock()
	if got != puts {
		t.Fatalf("%d puts accepted, %d delivered, dropped or returned by Close", puts, got)
	}
}

// TestIdleWhileNothingIsQueued (found in review): puts that fail to place
// the cell (an aborted group) never show it busy to Idle, which a kill
// reads to decide whether to finish the actor now or wait for a turn that
// will never come.
func TestIdleWhileNothingIsQueued(t *testing.T) {
	g, e := startOneExecutor(t)
	c := NewCell[int](e, 16, &countHost{})
	g.Abort()
	var stop atomic.Bool
	var tries atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			tries.Add(1)
			if c.TryPut(1) == nil {
				panic("put accepted by an aborted group")
			}
		}
	}()
	for tries.Load() == 0 {
		runtime.Gosched()
	}
	busy := 0
	for range 100000 {
		if !c.Idle() {
			busy++
		}
	}
	stop.Store(true)
	<-done
	if busy > 0 {
		t.Fatalf("Idle() was false %d times in 100000 looks, with no turn running or queued", busy)
	}
}

// TestTrimKeepsStrandedEnvelopes: a cell idle with envelopes that no
// executor could take (stranded) keeps them when its executor trims it;
// they are Close's, or the next turn's. From a review: trim dropped them.
func TestTrimKeepsStrandedEnvelopes(t *testing.T) {
	_, e := startOneExecutor(t)
	c := NewCell[int](e, 1024, &recorder{})
	c.mu.Lock()
	c.q = append(make([]int, 0, 4*cellKeep), 1, 2, 3)
	c.trimOn = e
	c.setPhase(cellScheduled)
	c.unplacedLocked() // no executor took it: idle, stranded
	c.mu.Unlock()
	c.trim(e, true)
	if left := c.Close(); !slices.Equal(left, []int{1, 2, 3}) {
		t.Fatalf("a trimmed stranded cell gave Close %v, want [1 2 3]", left)
	}
}

// TestCloseTakesTheRestOfAPassedBatch: a turn that reached Throughput
// passes the turn with the rest of its batch left, the cell queued again;
// a Close before that next turn runs returns those envelopes too, in
// order, ahead of the queue, for the caller to resolve: no turn is active
// to deliver them, and an Ask among them would wait for good.
func TestCloseTakesTheRestOfAPassedBatch(t *testing.T) {
	g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unregister()
	e := g.Executors()[0] // not launched: the test plays its owner
	h := newSeqHost(Throughput + 3)
	c := NewCell[int](e, Throughput+3, h)
	for v := range Throughput + 2 {
		if err := c.TryPut(v); err != nil {
			t.Fatal(err)
		}
	}
	if j, ok := e.mb.Pop(); !ok || j != Job(c) {
		t.Fatalf("popped %v, %v; want the cell scheduled", j, ok)
	}
	c.Turn(context.Background()) // Throughput delivered, the turn passed
	if err := c.TryPut(Throughput + 2); err != nil {
		t.Fatal(err)
	}
	if c.Active() {
		t.Fatal("the cell is still active after its turn")
	}
	want := []int{Throughput, Throughput + 1, Throughput + 2}
	if left := c.Close(); !slices.Equal(left, want) {
		t.Fatalf("Close returned %v, want %v (the passed batch's rest, then the queue)", left, want)
	}
	if len(h.got) != Throughput {
		t.Fatalf("delivered %d, want %d", len(h.got), Throughput)
	}
}

// TestTrimWithoutPark: an executor that keeps finding work, and so never
// parks, trims the cells listed on it once the first is trimAge old, as it
// runs out of work; before that it keeps them. From a review: the list,
// and every grown queue on it, lived as long as the executor never parked.
func TestTrimWithoutPark(t *testing.T) {
	_, e := startOneExecutor(t)
	c := NewCell[int](e, 1024, &recorder{})
	c.mu.Lock()
	c.batch = make([]int, 0, 4*cellKeep)
	c.trimOn = e
	c.mu.Unlock()
	e.addTrim(c)
	from := e.trimFrom.Load()
	e.trimDue(func() int64 { return from + int64(trimAge) - 1 })
	if cap(c.batch) != 4*cellKeep {
		t.Fatal("trimmed before trimAge")
	}
	e.trimDue(func() int64 { return from + int64(trimAge) })
	e.trimMu.Lock()
	listed := len(e.trims)
	e.trimMu.Unlock()
	if cap(c.batch) > cellKeep || listed != 0 || e.trimFrom.Load() != 0 {
		t.Fatalf("after trimAge: capacity %d, %d listed, listed from %d; want trimmed, none, 0", cap(c.batch), listed, e.trimFrom.Load())
	}
}

// TestTrimKeepsAStreamThatPauses: a cell listed on an executor that keeps
// finding work, and that had a turn since it was listed (a stream with
// pauses), keeps its queues at trimAge and stays listed; the executor's
// park trims it. Before, a stream to a counter
// regrew its queues (250 KB, 60 page faults) every trimAge.
func TestTrimKeepsAStreamThatPauses(t *testing.T) {
	e := parkedExecutor(t)
	c := NewCell[int](e, 1024, &recorder{})
	idleAfterATurn(t, c, e)
	from := e.trimFrom.Load()
	c.mu.Lock()
	c.takeLocked() // a turn since it was listed
	c.mu.Unlock()
	e.trimDue(func() int64 { return from + int64(trimAge) })
	if cap(c.batch) != 4*cellKeep && cap(c.q) != 4*cellKeep {
		t.Fatalf("a stream that paused was trimmed at trimAge: capacities %d and %d", cap(c.batch), cap(c.q))
	}
	e.trimMu.Lock()
	listed := slices.Contains(e.trims, trimmer(c))
	e.trimMu.Unlock()
	if c.trimOn != e || !listed {
		t.Fatalf("a cell kept at trimAge: marked listed on %p, on e's list %v; want both (see TestTrimAStreamThatStopped)", c.trimOn, listed)
	}
	idleAfterATurn(t, c, e)
	e.trimListed(true)
	if cap(c.batch) > cellKeep || cap(c.q) > cellKeep {
		t.Fatalf("the executor parked and the cell kept capacities %d and %d", cap(c.batch), cap(c.q))
	}
}

// TestTrimKeepingAStreamAllocatesNothing: an executor that keeps finding
// work, with a stream's cell listed on it that had a turn since, keeps the
// cell listed at each trimAge without allocating. Before, trimListed
// dropped the list and the cell listed again allocated it afresh: one
// allocation for every pause of the stream past trimAge, which failed
// TestActorStreamKeepsItsQueue on a loaded machine (bursts 10 ms apart).
func TestTrimKeepingAStreamAllocatesNothing(t *testing.T) {
	e := parkedExecutor(t)
	c := NewCell[int](e, 1024, &recorder{})
	idleAfterATurn(t, c, e) // listed
	pause := func() {
		c.mu.Lock()
		c.takeLocked() // a turn since it was listed
		c.mu.Unlock()
		from := e.trimFrom.Load()
		e.trimDue(func() int64 { return from + int64(trimAge) }) // kept, listed again
	}
	pause()
	pause()
	if n := testing.AllocsPerRun(100, pause); n != 0 {
		t.Fatalf("keeping a listed stream at trimAge allocated %v times, want 0", n)
	}
	if cap(c.batch) != 4*cellKeep && cap(c.q) != 4*cellKeep || c.trimOn != e {
		t.Fatalf("the stream's cell: capacities %d and %d, listed on %p; want kept, listed on %p", cap(c.batch), cap(c.q), c.trimOn, e)
	}
}

// TestTrimAStreamThatStopped: a cell kept at trimAge because it had a turn
// since it was listed, whose turn had ended by then (a stream that paused,
// ran on and stopped), stays listed: its executor's park trims it, or, on
// an executor that never parks, the next trimAge. From a review: the
// cell was taken off the list, and with no next idle to list it again it
// kept its grown queues for as long as no message came.
func TestTrimAStreamThatStopped(t *testing.T) {
	for _, parks := range []bool{true, false} {
		e := parkedExecutor(t)
		c := NewCell[int](e, 1024, &recorder{})
		idleAfterATurn(t, c, e) // listed
		idleAfterATurn(t, c, e) // the stream went on, and stopped
		from := e.trimFrom.Load()
		e.trimDue(func() int64 { return from + int64(trimAge) })
		if cap(c.batch) != 4*cellKeep {
			t.Fatalf("a cell with a turn since it was listed was trimmed at trimAge: capacity %d", cap(c.batch))
		}
		if parks {
			e.trimListed(true)
		} else {
			from = e.trimFrom.Load()
			e.trimDue(func() int64 { return from + int64(trimAge) })
		}
		if cap(c.batch) > cellKeep {
			t.Fatalf("parks %v: the stopped stream's cell kept capacity %d", parks, cap(c.batch))
		}
	}
}

// parkedExecutor starts an executor and waits until it parked: its owner
// then trims nothing but what the test asks.
func parkedExecutor(t *testing.T) *Executor {
	t.Helper()
	_, e := startOneExecutor(t)
	for e.idleState.Load() != idleParked {
		runtime.Gosched()
	}
	return e
}

// idleAfterATurn makes c, on e, go idle as a turn that took its queue and
// drained a grown batch does, which lists it for a trim on e.
func idleAfterATurn(t *testing.T, c *Cell[int], e *Executor) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPhase(cellActive)
	c.takeLocked() // the turn's take
	c.batch, c.bpos = make([]int, 4*cellKeep), 4*cellKeep
	if idle, _, _ := c.endTurnLocked(); !idle || c.trimOn != e {
		t.Fatalf("a drained cell: idle %v, listed on %p; want idle, on %p", idle, c.trimOn, e)
	}
}

// lingerHost records, for each envelope, how many turns of its executor had
// lingered when it was delivered.
type lingerHost struct {
	e  *Executor
	at map[int]int
}

func (h *lingerHost) Deliver(_ context.Context, v int) { h.at[v] = h.e.lingers }
func (h *lingerHost) Home() *Executor                  { return nil }
func (h *lingerHost) Fits(*Executor) bool              { return true }
func (h *lingerHost) Drop(int)                         {}
func (h *lingerHost) Idle()                            {}

// TestTurnTakesQueueBeforeLingering: a turn that began on a batch left from
// the last turn (which reached Throughput) has not taken the queue, so an
// envelope queued meanwhile, while the cell was scheduled, set no fresh:
// the turn takes it once the batch runs dry, before it lingers. From a
// review: the turn lingered with it queued.
func TestTurnTakesQueueBeforeLingering(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: DefaultIdleSpin}, Hooks{})
	e := g.Executors()[0]
	h := &lingerHost{e: e, at: map[int]int{}}
	c := NewCell[int](e, 16, h)
	var before int
	ownerTurn(t, c, func() {
		c.batch, c.bpos = []int{0}, 0 // left from the last turn
		c.q = append(c.q, 1)          // queued while the cell was scheduled
		before = e.lingers
	})
	if len(h.at) != 2 {
		t.Fatalf("delivered %v, want 0 and 1", h.at)
	}
	if h.at[1] != before {
		t.Fatalf("the turn lingered %d times before delivering the envelope queued before it began", h.at[1]-before)
	}
	if e.lingers != before+1 {
		t.Fatalf("the turn lingered %d times in all, want once (dry after both)", e.lingers-before)
	}
}

// ownerTurn runs a turn of c on its executor's goroutine, as its mailbox
// would, once setup (under c's lock) left envelopes to take; the owner woke
// nobody, so the turn may linger and gather.
func ownerTurn(t *testing.T, c *Cell[int], setup func()) {
	t.Helper()
	e := c.Executor()
	j := newJob(1, func(ctx context.Context) error {
		c.mu.Lock()
		setup()
		c.setPhase(cellScheduled)
		c.mu.Unlock()
		e.woke = false
		c.Turn(ctx)
		return nil
	})
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
}

// gatherHost records, for each envelope, how many turns of its executor had
// gathered when it was delivered, and queues envelope next as it delivers
// envelope last (a sender keeping the stream going).
type gatherHost struct {
	e          *Executor
	c          *Cell[int]
	last, next int
	at         map[int]int
}

func (h *gatherHost) Deliver(ctx context.Context, v int) {
	h.at[v] = h.e.gathers
	if v == h.last {
		if err := h.c.TryPut(h.next); err != nil {
			panic(err)
		}
	}
}
func (h *gatherHost) Home() *Executor     { return nil }
func (h *gatherHost) Fits(*Executor) bool { return true }
func (h *gatherHost) Drop(int)            {}
func (h *gatherHost) Idle()               {}

// TestTurnGathersAStream: a turn whose last take found a stream (two
// envelopes or more) and whose next envelope is there gathers before it
// takes the queue again; after a take of one (a conversation), or of half
// the mailbox (its sender would wait for room), it takes at once.
func TestTurnGathersAStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queued []int // taken by the turn's first take
		size   int
		gather bool
	}{
		{"stream", []int{0, 1}, 16, true},
		{"one at a time", []int{1}, 16, false},
		{"half full", []int{0, 1}, 4, true},
		{"past half full", []int{0, 1, 2}, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: DefaultIdleSpin}, Hooks{})
			e := g.Executors()[0]
			last := tc.queued[len(tc.queued)-1]
			h := &gatherHost{e: e, last: last, next: last + 1, at: map[int]int{}}
			c := NewCell[int](e, tc.size, h)
			h.c = c
			var before int
			ownerTurn(t, c, func() {
				c.q = append(c.q, tc.queued...)
				before = e.gathers
			})
			if len(h.at) != len(tc.queued)+1 {
				t.Fatalf("delivered %v, want %v and %d", h.at, tc.queued, h.next)
			}
			want := before
			if tc.gather {
				want++
			}
			if h.at[h.next] != want || e.gathers != want {
				t.Fatalf("gathered %d times before the next envelope, %d in all; want %d", h.at[h.next]-before, e.gathers-before, want-before)
			}
		})
	}
}

// TestGatherTimeAdapts: a cell's gather starts at gatherMin, doubles up to
// gatherMax while its takes find fewer than gatherBatch envelopes (a
// quarter of a small mailbox), and halves, down to gatherMin, once they
// find that many, and starts from gatherMin again after a take of one or
// none (a conversation, not a stream).
func TestGatherTimeAdapts(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name   string
		size   int
		target int
	}{
		{"default mailbox", 1024, gatherBatch},
		{"small mailbox", 64, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cell[int]{size: tc.size}
			var got []time.Duration
			gather := func(n, last int) {
				c.last = int32(last)
				for range n {
					got = append(got, c.gatherTime())
				}
			}
			gather(7, tc.target-1) // small takes: doubling to the top
			gather(6, tc.target)   // full takes: halving to the floor
			c.mu.Lock()
			c.takeLocked() // a take of none: from gatherMin again
			c.mu.Unlock()
			gather(2, 2)
			want := []time.Duration{2 * us, 4 * us, 8 * us, 16 * us, 32 * us, 32 * us, 32 * us,
				32 * us, 16 * us, 8 * us, 4 * us, 2 * us, 2 * us,
				2 * us, 4 * us}
			if !slices.Equal(got, want) {
				t.Fatalf("gathers %v, want %v", got, want)
			}
		})
	}
}

// where is a test Host that reports the executor each delivery ran on;
// a floating cell fits the executors from lo up.
type where struct {
	on chan *Executor
	lo int
}

func (w *where) Deliver(ctx context.Context, _ int) { w.on <- ExecutorOf(ctx) }
func (w *where) Home() *Executor                    { return nil }
func (w *where) Fits(x *Executor) bool              { return x.index >= w.lo }
func (w *where) Drop(int)                           {}
func (w *where) Idle()                              {}

// startTwoExecutors starts a group of two unpinned executors, x and y.
func startTwoExecutors(t *testing.T) (x, y *Executor) {
	t.Helper()
	ex := startGroup(t, GroupConfig{CPUs: []int{0, 0}, MailboxSize: 16, Affinity: Off}, Hooks{}).Executors()
	return ex[0], ex[1]
}

// runOn runs fn as a token on e, as its owner, and waits for it.
func runOn(t *testing.T, e *Executor, fn func()) {
	t.Helper()
	j := newJob(1, func(context.Context) error { fn(); return nil })
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	<-j.Task().Finished()
}

// wantDelivered reads n deliveries and fails unless each ran on e.
func (w *where) wantDelivered(t *testing.T, n int, e *Executor) {
	t.Helper()
	for range n {
		if got := <-w.on; got != e {
			t.Fatalf("delivered on executor %d, want %d (the cell's)", got.Index(), e.Index())
		}
	}
}

// TestNearPutOnStaleExecutor: a handler on x that read the cell's executor
// as x, while a turn elsewhere moved the cell to y and it went idle there,
// must not queue near on x (the turn would run on x, the cell's old
// executor): it finds the cell moved and takes the locked path, and the
// envelope is delivered on y.
func TestNearPutOnStaleExecutor(t *testing.T) {
	x, y := startTwoExecutors(t)
	w := &where{on: make(chan *Executor, 2)}
	c := NewCell[int](y, 16, w)
	var near bool
	runOn(t, x, func() { near = c.putNearOn(x, 1) })
	if near {
		t.Fatal("queued near on x, which the cell had left")
	}
	if err := c.TryPut(2); err != nil { // the locked path, as the caller then takes
		t.Fatal(err)
	}
	w.wantDelivered(t, 1, y)
}

// TestNearPutOnStaleExecutorWhileNear: a handler on x that read the cell's
// executor as x must not add to the near queue that y's owner holds for the
// cell (a write beside that owner's): it takes the locked path, and every
// envelope is delivered on y.
func TestNearPutOnStaleExecutorWhileNear(t *testing.T) {
	x, y := startTwoExecutors(t)
	w := &where{on: make(chan *Executor, 3)}
	c := NewCell[int](y, 16, w)
	onX := make(chan bool)
	var putErr error
	runOn(t, y, func() {
		if putErr = c.TryPut(1); putErr != nil { // near: y's owner holds the cell until this returns
			return
		}
		jx := newJob(2, func(context.Context) error { onX <- c.putNearOn(x, 2); return nil })
		if x.Push(jx) != Pushed {
			putErr = errors.New("push to x refused")
		} else if <-onX {
			putErr = errors.New("queued near on x, in the near queue y's owner holds")
		}
	})
	if putErr != nil {
		t.Fatal(putErr)
	}
	if err := c.TryPut(3); err != nil { // the locked path, as the caller then takes
		t.Fatal(err)
	}
	w.wantDelivered(t, 2, y)
}

// TestNearPutFollowsMove: a turn that runs on another executor (the cell's
// went down) moves the cell there; from then on only that executor's owner
// puts near, and the old one's owner takes the locked path.
func TestNearPutFollowsMove(t *testing.T) {
	x, y := startTwoExecutors(t)
	w := &where{on: make(chan *Executor, 3)}
	c := NewCell[int](x, 16, w)
	c.mu.Lock()
	c.q = append(c.q, 1)
	c.setPhase(cellScheduled)
	c.mu.Unlock()
	if y.Schedule(c) != Pushed { // as placeLocked does once x is gone
		t.Fatal("schedule refused")
	}
	w.wantDelivered(t, 1, y)
	for _, tc := range []struct {
		on   *Executor
		near bool
	}{{x, false}, {y, true}} {
		var near bool
		var err error
		runOn(t, tc.on, func() {
			if near = c.putNearOn(tc.on, 2); !near { // tc.on: as read before the move, for x
				err = c.TryPut(2)
			}
		})
		if near != tc.near || err != nil {
			t.Fatalf("put from executor %d's owner: near %v (err %v), want near %v", tc.on.Index(), near, err, tc.near)
		}
		w.wantDelivered(t, 1, y)
	}
}

// seqHost records what it is delivered, in order, and what it is given to
// drop.
type seqHost struct {
	first   func() // if set, called as the first envelope is delivered
	mu      sync.Mutex
	got     []int
	dropped []int
	done    chan struct{} // closed once want envelopes were delivered or dropped
	want    int
}

func newSeqHost(want int) *seqHost { return &seqHost{done: make(chan struct{}), want: want} }

func (h *seqHost) note(into *[]int, v int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*into = append(*into, v)
	if len(h.got)+len(h.dropped) == h.want {
		close(h.done)
	}
}

func (h *seqHost) Deliver(_ context.Context, v int) {
	if h.first != nil && v == 0 {
		h.first()
	}
	h.note(&h.got, v)
}
func (h *seqHost) Home() *Executor     { return nil }
func (h *seqHost) Fits(*Executor) bool { return true }
func (h *seqHost) Drop(v int)          { h.note(&h.dropped, v) }
func (h *seqHost) Idle()               {}

// TestNearDoesNotPassLocked: one sender's envelopes keep their order when
// it sends first as the owner of the cell's executor (near), then from a
// goroutine that is not (a handler that handed the executor on: the locked
// queue), then as the owner again. The third went near, ahead of the
// second, whose locked queue the turn takes after near (found by review).
func TestNearDoesNotPassLocked(t *testing.T) {
	_, e := startOneExecutor(t)
	h := newSeqHost(3)
	c := NewCell[int](e, 16, h)
	var err error
	runOn(t, e, func() {
		if !c.putNear(0) {
			err = errors.New("the owner's first put did not go near")
			return
		}
		off := make(chan error)
		go func() { off <- c.TryPut(1) }() // not the owner: the locked queue
		if err = <-off; err == nil {
			err = c.TryPut(2) // the owner again
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	<-h.done
	if !slices.Equal(h.got, []int{0, 1, 2}) {
		t.Fatalf("delivered %v, want [0 1 2]", h.got)
	}
}

// TestClosedTurnDropsWhatItCannotPlace: a cell closed while its turn runs
// (its actor stopped mid-batch) leaves the rest of the batch to that turn;
// when the turn ends with envelopes left, past Throughput, and cannot be
// placed again (its executor refuses it), they are dropped, so each is
// resolved. They stayed in the idle, stranded cell, and their Asks never
// resolved: Close had run already (found by review).
func TestClosedTurnDropsWhatItCannotPlace(t *testing.T) {
	g, e := startOneExecutor(t)
	const n = Throughput + 8
	h := newSeqHost(n)
	c := NewCell[int](e, 2*n, h)
	h.first = func() {
		if left := c.Close(); len(left) != 0 { // as a stopping actor's finish does
			panic("Close took the active turn's batch")
		}
		g.Abort() // the turn's next placement is refused
	}
	gate := make(chan struct{})
	hold := newJob(1, func(context.Context) error { <-gate; return nil })
	if e.Push(hold) != Pushed {
		t.Fatal("push refused")
	}
	for v := range n { // all queued before the turn: one batch
		if err := c.TryPut(v); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("delivered %d, dropped %d of %d: the rest stranded", len(h.got), len(h.dropped), n)
	}
	if len(h.got) != Throughput || len(h.dropped) != n-Throughput {
		t.Fatalf("delivered %d, dropped %d; want %d and %d", len(h.got), len(h.dropped), Throughput, n-Throughput)
	}
}

// TestStrandedFullCellPlacedAgain (found in review): a cell whose
// executor went down with its queue full, when no other could take it, is
// idle with its envelopes (stranded). Once an executor is back, a sender
// that finds the queue full must get the cell placed: only a turn frees
// room, and before, nothing scheduled it, so the actor took no message
// ever again (TryPut full, Put waiting until its context ended).
func TestStrandedFullCellPlacedAgain(t *testing.T) {
	retired := make(chan []Job, 1)
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(e *Executor, err error) { retired <- e.Retire() }})
	e := g.Executors()[0]
	h := newSeqHost(3)
	c := NewCell[int](e, 2, h)
	gate := make(chan struct{})
	end := newJob(1, func(context.Context) error { <-gate; runtime.Goexit(); return nil })
	if e.Push(end) != Pushed {
		t.Fatal("push refused")
	}
	for v := range 2 { // the queue is full, the cell queued behind the token
		if err := c.TryPut(v); err != nil {
			t.Fatal(err)
		}
	}
	strandAndRevive(t, e, c, gate, retired)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Put(ctx, 2); err != nil {
		t.Fatalf("put to the full stranded cell: %v", err)
	}
	<-h.done
	if !slices.Equal(h.got, []int{0, 1, 2}) {
		t.Fatalf("delivered %v, want [0 1 2]", h.got)
	}
}

// strandAndRevive opens gate for the token queued on e ahead of c, which
// ends e's owner with runtime.Goexit: e is retired (down) with c queued,
// what the retire took is dropped as the router does when no executor is
// live, c must be stranded, and e comes back after its cool-down.
func strandAndRevive(t *testing.T, e *Executor, c *Cell[int], gate chan struct{}, retired <-chan []Job) {
	t.Helper()
	close(gate)
	for _, j := range <-retired {
		Drop(j, Failed, ErrNoExecutor)
	}
	if !c.stranded.Load() || c.phase() != cellIdle {
		t.Fatal("the cell is not stranded")
	}
	e.mb.Reopen()
	if err := e.Launch(); err != nil {
		t.Fatal(err)
	}
}

// TestPlaceStrandedPlacesAnIdleCell: a cell left stranded (its executor
// went down with the cell queued, when no other could take it) is placed
// again by Group.PlaceStranded once an executor is back, with no sender to
// come: its envelope, an Ask maybe, would otherwise wait for good.
func TestPlaceStrandedPlacesAnIdleCell(t *testing.T) {
	retired := make(chan []Job, 1)
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(e *Executor, err error) { retired <- e.Retire() }})
	e := g.Executors()[0]
	h := newSeqHost(1)
	c := NewCell[int](e, 4, h)
	gate := make(chan struct{})
	if e.Push(newJob(1, func(context.Context) error { <-gate; runtime.Goexit(); return nil })) != Pushed {
		t.Fatal("push refused")
	}
	if err := c.TryPut(0); err != nil { // the cell queued behind the token
		t.Fatal(err)
	}
	strandAndRevive(t, e, c, gate, retired)
	g.PlaceStranded()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stranded cell's envelope was not delivered once its executor was back")
	}
	if !slices.Equal(h.got, []int{0}) {
		t.Fatalf("delivered %v, want [0]", h.got)
	}
}

// TestNearBurstMemoryGivenBack (found in review): the near queue trades
// slices with the locked one (mergeNearLocked), so a burst's slice can end
// up as near's: here a near burst past Throughput, merged into a queue a
// locked burst left grown, leaves that queue's slice to near. Once the cell
// is idle and its executor parks, near keeps no more than cellKeep
// envelopes of capacity either; before, trim freed the queue and the batch
// only, and near kept the burst's memory for the actor's life.
func TestNearBurstMemoryGivenBack(t *testing.T) {
	_, e := startOneExecutor(t)
	const n = Throughput + 8
	h := newSeqHost(n)
	c := NewCell[int](e, 4*cellKeep, h)
	var err error
	runOn(t, e, func() {
		c.mu.Lock()
		c.q = make([]int, 0, 4*cellKeep) // as a locked burst left it: drained, its slice kept
		c.mu.Unlock()
		for v := range n {
			if !c.putNear(v) {
				err = errors.New("a put from the owner did not go near")
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	<-h.done
	// The executor (IdleSpin 0) parks once the cell is idle, and trims it
	// first; near is the owner's to look at.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var near int
		var listed bool
		runOn(t, e, func() {
			c.mu.Lock()
			near, listed = cap(c.near), c.trimOn != nil
			c.mu.Unlock()
		})
		if !listed && near <= cellKeep {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle cell keeps a near queue of capacity %d (listed: %v), want at most %d", near, listed, cellKeep)
		}
	}
}

// TestTurnOutlivingDrainDeliversTheRest (found in review): a turn whose
// Receive blocked (handing the executor on) while a graceful stop drained
// the executor delivers the rest of its mailbox. Before, the new owner
// drained and exited at once, and the turn's attempt to place the cell
// again was refused, so the rest stayed stranded, for the stop to refuse
// (ErrActorStopped) though its context had not ended. The owner now waits
// for the turn beside it (Mailbox.holdDrain), then runs the cell again.
func TestTurnOutlivingDrainDeliversTheRest(t *testing.T) {
	_, e := startOneExecutor(t)
	const n = Throughput + 8
	h := newSeqHost(n)
	c := NewCell[int](e, 2*n, h)
	blocked, release := h.blockFirst()
	for v := range n {
		if err := c.TryPut(v); err != nil {
			t.Fatal(err)
		}
	}
	<-blocked
	e.mb.Close() // a graceful stop: the new owner drains, then waits for the turn
	parked := func() bool {
		e.mb.mu.Lock()
		defer e.mb.mu.Unlock()
		return e.mb.parked
	}
	for !parked() {
		runtime.Gosched()
	}
	if e.owner.Load() == nil {
		t.Fatal("the owner exited while a turn it was handed from still runs")
	}
	close(release)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.mu.Lock()
		defer h.mu.Unlock()
		t.Fatalf("delivered %d of %d", len(h.got), n)
	}
	for e.owner.Load() != nil { // drained once the turn ended
		runtime.Gosched()
	}
}

// TestTurnReadsNearBeforeIdle (found in review): a turn whose handler
// handed the executor on ends on a goroutine that is no longer the owner.
// Once it marks the cell idle, near is the new owner's, whose putNear may
// append to it at once; the turn read cap(near) after that, for trim, a
// data race (run with -race).
func TestTurnReadsNearBeforeIdle(t *testing.T) {
	_, e := startOneExecutor(t)
	h := newSeqHost(2)
	c := NewCell[int](e, 4, h)
	blocked, release := h.blockFirst()
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	<-blocked
	// The new owner waits for the idle cell without taking its lock (no
	// ordering with what the old turn does after its store), then puts.
	var near bool
	runOn(t, e, func() {
		close(release)
		for c.phase() != cellIdle {
			runtime.Gosched()
		}
		near = c.putNear(1)
	})
	if !near {
		t.Fatal("the owner's put to the idle cell did not go near")
	}
	<-h.done
	if !slices.Equal(h.got, []int{0, 1}) {
		t.Fatalf("delivered %v, want [0 1]", h.got)
	}
}

// blockFirst makes h's first delivery hand its executor on (Block), close
// blocked and wait for release before it goes on.
func (h *seqHost) blockFirst() (blocked, release chan struct{}) {
	blocked, release = make(chan struct{}), make(chan struct{})
	h.first = func() {
		resume, err := Block()
		if err != nil {
			panic(err)
		}
		close(blocked)
		<-release
		resume()
	}
	return blocked, release
}

// TestTrimLeavesAMovedCell: an executor trims only the cells still its
// own. A cell listed on x that floated to another executor since (see
// Follow), whose owner may make it near and run it without the lock, keeps
// its queues: x's trim would write them under the lock while that turn
// reads them without it.
func TestTrimLeavesAMovedCell(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0, 0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	x, y := g.Executors()[0], g.Executors()[1]
	c := NewCell[int](y, 1024, &recorder{})
	c.mu.Lock()
	c.batch = make([]int, 0, 4*cellKeep)
	c.trimOn = x // listed on x, then moved to y
	c.mu.Unlock()
	c.trim(x, true)
	if cap(c.batch) != 4*cellKeep {
		t.Fatal("x trimmed a cell that is y's")
	}
	c.mu.Lock()
	c.trimOn = y
	c.mu.Unlock()
	c.trim(y, true)
	if cap(c.batch) > cellKeep {
		t.Fatal("y kept the grown queue of its own idle cell")
	}
}

// endingHost records, for each envelope, whether its cell's turn reported
// it as the last envelope it knows of (Ending) as it was delivered.
type endingHost struct {
	c      *Cell[int]
	ending map[int]bool
}

func (h *endingHost) Deliver(_ context.Context, v int) { h.ending[v] = h.c.Ending() }
func (h *endingHost) Home() *Executor                  { return nil }
func (h *endingHost) Fits(*Executor) bool              { return true }
func (h *endingHost) Drop(int)                         {}
func (h *endingHost) Idle()                            {}

// TestLeftoverTurnEndsOnlyAfterTheQueue: a turn that began on a batch left
// from the last turn (which reached Throughput) has not taken the queue,
// where an envelope queued while the cell was scheduled set no fresh: the
// last envelope of that batch is not the last the turn knows of. Reported
// as Ending, it had a send from it bring an idle floating actor to the
// executor (see Follow) while the turn still had the queue to work
// through, rather than send it home (found by review).
func TestLeftoverTurnEndsOnlyAfterTheQueue(t *testing.T) {
	_, e := startOneExecutor(t)
	h := &endingHost{ending: map[int]bool{}}
	c := NewCell[int](e, 16, h)
	h.c = c
	ownerTurn(t, c, func() {
		c.batch, c.bpos = []int{0}, 0 // left from the last turn
		c.q = append(c.q, 1)          // queued while the cell was scheduled
	})
	if len(h.ending) != 2 || h.ending[0] || !h.ending[1] {
		t.Fatalf("Ending as each envelope was delivered: %v; want 0: false (1 queued), 1: true", h.ending)
	}
}

// homeHost is a seqHost whose Home is the executor stored in home: nil
// while no executor is live, as the router answers.
type homeHost struct {
	*seqHost
	home atomic.Pointer[Executor]
}

func (h *homeHost) Home() *Executor     { return h.home.Load() }
func (h *homeHost) Fits(*Executor) bool { return true }

// TestStrandedAsAnExecutorComesBack: the router found no live executor
// for a cell queued on an executor that went down (Home nil), and before
// it dropped the cell (Unschedule, which lists it stranded), another
// executor came back and placed the cells listed then, this one not among
// them. The cell was left idle with its envelope, and its Ask, for good
// (until a sender came, or the runtime's Stop): the executor back in
// service had placed the stranded cells already.
func TestStrandedAsAnExecutorComesBack(t *testing.T) {
	retired := make(chan []Job, 1)
	g := startGroup(t, GroupConfig{CPUs: []int{0, 0}, MailboxSize: 16, Affinity: Off},
		Hooks{OnExit: func(e *Executor, err error) { retired <- e.Retire() }})
	x, y := g.Executors()[0], g.Executors()[1]
	down := func(e *Executor, before func()) []Job {
		gate := make(chan struct{})
		if e.Push(newJob(1, func(context.Context) error { <-gate; runtime.Goexit(); return nil })) != Pushed {
			t.Fatal("push refused")
		}
		if before != nil {
			before()
		}
		close(gate)
		return <-retired
	}
	down(y, nil)
	h := &homeHost{seqHost: newSeqHost(1)}
	c := NewCell[int](x, 16, h)
	jobs := down(x, func() {
		if err := c.TryPut(0); err != nil { // queued behind the token that ends x's owner
			t.Fatal(err)
		}
	})
	// y comes back: reopened, launched, live, and the cells stranded so
	// far placed (none).
	y.mb.Reopen()
	if err := y.Launch(); err != nil {
		t.Fatal(err)
	}
	h.home.Store(y)
	g.PlaceStranded()
	for _, j := range jobs {
		Drop(j, Failed, ErrNoExecutor) // as the router does, having found none live before y came back
	}
	c.mu.Lock()
	left := c.stranded.Load() && c.phase() == cellIdle
	c.mu.Unlock()
	if left {
		t.Fatal("the cell is left stranded, idle with its envelope, with y back in service")
	}
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the envelope was not delivered")
	}
	if !slices.Equal(h.got, []int{0}) {
		t.Fatalf("delivered %v, dropped %v; want [0] delivered", h.got, h.dropped)
	}
}

// overlapHost is a test Host whose first delivery waits for gate (entered
// closed as it begins); it notes a delivery that begins while another runs.
type overlapHost struct {
	entered, gate chan struct{}
	idle          chan struct{} // a value each time the cell goes idle
	running       atomic.Int32
	overlap       atomic.Bool
	first         atomic.Bool
}

func (h *overlapHost) Deliver(context.Context, int) {
	if h.running.Add(1) > 1 {
		h.overlap.Store(true)
	} else if h.first.CompareAndSwap(false, true) {
		close(h.entered)
		<-h.gate
	}
	h.running.Add(-1)
}
func (h *overlapHost) Home() *Executor     { return nil }
func (h *overlapHost) Fits(*Executor) bool { return true }
func (h *overlapHost) Drop(int)            {}
func (h *overlapHost) Idle() {
	select {
	case h.idle <- struct{}{}:
	default:
	}
}

// TestTurnOfActiveCellReturns: a turn run for a cell whose turn is active
// (an entry for it found on a queue) delivers nothing and leaves what is
// queued to the active turn, so deliver never runs twice at once for one
// cell.
func TestTurnOfActiveCellReturns(t *testing.T) {
	_, e := startOneExecutor(t)
	h := &overlapHost{entered: make(chan struct{}), gate: make(chan struct{}), idle: make(chan struct{}, 1)}
	c := NewCell[int](e, 8, h)
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	<-h.entered // the executor's turn delivers 0 and waits
	if err := c.TryPut(1); err != nil {
		t.Fatal(err)
	}
	c.Turn(context.Background())
	overlapped := h.overlap.Load()
	close(h.gate)
	if overlapped {
		t.Fatal("a second turn delivered while the active one did")
	}
	<-h.idle // the active turn delivered 1, and the cell is idle
}

// TestPrefetchAheadStaysInCapacity: a sender's append asks for a line
// ahead of the queue's end, for envelopes of every size, at every length
// up to a full backing array, and never reaches past its capacity.
func TestPrefetchAheadStaysInCapacity(t *testing.T) {
	prefetchEvery[struct{}](t)
	prefetchEvery[byte](t)
	prefetchEvery[[8]byte](t)
	prefetchEvery[[40]byte](t)
	prefetchEvery[[prefetchBytes - 1]byte](t)
	prefetchEvery[[prefetchBytes]byte](t)
	prefetchEvery[[prefetchBytes + 8]byte](t)
}

func prefetchEvery[E any](t *testing.T) {
	t.Helper()
	for _, c := range []int{0, 1, 2, 3, 7, 8, 9, 64, 65} {
		for n := 0; n <= c; n++ {
			func() {
				defer func() {
					if p := recover(); p != nil {
						var e E
						t.Fatalf("%T: len %d, cap %d: %v", e, n, c, p)
					}
				}()
				prefetchAhead(make([]E, n, c))
			}()
		}
	}
}
