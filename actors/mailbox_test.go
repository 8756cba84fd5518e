package actors

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// refMailbox is the naive reference for Mailbox: a plain FIFO slice with the same
// bound, where a job popped from a batch keeps counting against the bound until
// the batch is used up (a batch is everything queued when the previous one ran
// out).
type refMailbox struct {
	q         []Job
	size      int
	held      int // popped from the current batch, still counted
	batchLeft int
}

func (r *refMailbox) push(j Job) PushResult {
	if len(r.q)+r.held >= r.size {
		return Full
	}
	r.q = append(r.q, j)
	return Pushed
}

func (r *refMailbox) pop() (Job, bool) {
	if r.batchLeft == 0 {
		r.held = 0
		if len(r.q) == 0 {
			return nil, false
		}
		r.batchLeft = len(r.q)
	}
	j := r.q[0]
	r.q = r.q[1:]
	r.batchLeft--
	r.held++
	return j, true
}

// chanMailbox is the channel a mailbox is usually compared with, for benchmarks.
type chanMailbox struct{ ch chan Job }

func (c *chanMailbox) push(j Job) PushResult {
	select {
	case c.ch <- j:
		return Pushed
	default:
		return Full
	}
}

func (c *chanMailbox) pop() (Job, bool) {
	select {
	case j := <-c.ch:
		return j, true
	default:
		return nil, false
	}
}

// TestMailboxMatchesReference drives Mailbox and the reference with the same
// random pushes and pops and checks they agree on every result.
func TestMailboxMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		size := 1 + r.IntN(16)
		m := NewMailbox(size, nil)
		ref := &refMailbox{size: size}
		jobs := make([]*testJob, 1000)
		for i := range jobs {
			jobs[i] = newJob(uint64(i), nil)
		}
		next := 0
		for step := 0; step < 2000; step++ {
			if r.IntN(4) == 0 && next < len(jobs) {
				// pushAll takes what the reference takes pushing each in turn.
				js := make([]Job, 0, 5)
				for _, j := range jobs[next:min(next+1+r.IntN(5), len(jobs))] {
					js = append(js, j)
				}
				want, wres := 0, Pushed
				for _, j := range js {
					if wres = ref.push(j); wres != Pushed {
						break
					}
					want++
				}
				got, res := m.pushAll(js)
				if got != want || res != wres {
					t.Fatalf("seed %d step %d: pushAll of %d = %d %v, reference %d %v", seed, step, len(js), got, res, want, wres)
				}
				next += got
				continue
			}
			if r.IntN(2) == 0 && next < len(jobs) {
				got, want := m.Push(jobs[next]), ref.push(jobs[next])
				if got != want {
					t.Fatalf("seed %d step %d: push = %v, reference %v", seed, step, got, want)
				}
				if got == Pushed {
					next++
				}
				continue
			}
			got, gok := m.Pop()
			want, wok := ref.pop()
			if gok != wok || got != want {
				t.Fatalf("seed %d step %d: pop = %v %v, reference %v %v", seed, step, got, gok, want, wok)
			}
		}
	}
}

func TestMailboxBoundCountsBatch(t *testing.T) {
	m := NewMailbox(2, nil)
	a, b, c := newJob(1, nil), newJob(2, nil), newJob(3, nil)
	if m.Push(a) != Pushed || m.Push(b) != Pushed {
		t.Fatal("push into empty mailbox refused")
	}
	if got := m.Push(c); got != Full {
		t.Fatalf("third push into size-2 mailbox = %v, want Full", got)
	}
	if j, _ := m.Pop(); j != a {
		t.Fatal("not FIFO")
	}
	// b is in the consumer's batch: it still counts until the next refill.
	if got := m.Push(c); got != Full {
		t.Fatalf("push while batch in progress = %v, want Full", got)
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
	if j, _ := m.Pop(); j != b {
		t.Fatal("not FIFO")
	}
	if _, ok := m.Pop(); ok {
		t.Fatal("pop from empty mailbox")
	}
	if m.Len() != 0 || m.Push(c) != Pushed {
		t.Fatal("room not freed by refill")
	}
}

func TestMailboxCloseAndAbort(t *testing.T) {
	m := NewMailbox(4, nil)
	m.Push(newJob(1, nil))
	m.Close()
	if got := m.Push(newJob(2, nil)); got != Closed {
		t.Fatalf("push after Close = %v, want Closed", got)
	}
	if got := m.park(); got != Ready {
		t.Fatalf("Park with a queued job = %v, want Ready", got)
	}
	if _, ok := m.Pop(); !ok {
		t.Fatal("closed mailbox must still drain")
	}
	if _, ok := m.Pop(); ok {
		t.Fatal("pop from drained mailbox")
	}
	if got := m.park(); got != Drained {
		t.Fatalf("Park on closed, empty mailbox = %v, want Drained", got)
	}

	m = NewMailbox(8, nil)
	for i := range 4 {
		m.Push(newJob(uint64(i), nil))
	}
	if j, _ := m.Pop(); j.Task().ID() != 0 {
		t.Fatal("not FIFO")
	}
	m.Push(newJob(4, nil))
	// Abort returns the consumer's whole batch (0-3: the caller's Resolve
	// skips a token that ran) and takes the queue (4).
	if got := ids(m.abort()); !slices.Equal(got, []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("Abort took %v, want [0 1 2 3 4]", got)
	}
	// The consumer may still pop the rest of its batch (the executor skips
	// tokens resolved meanwhile), never a new batch.
	for range 3 {
		m.Pop()
	}
	if _, ok := m.Pop(); ok {
		t.Fatal("aborted mailbox handed out a new batch")
	}
	if got := m.park(); got != Aborted {
		t.Fatalf("Park after Abort = %v, want Aborted", got)
	}
	if m.requeue(newJob(5, nil)) != Closed || m.Len() != 0 {
		t.Fatalf("requeue onto an aborted mailbox accepted, Len %d", m.Len())
	}
}

func ids(jobs []Job) []uint64 {
	var out []uint64
	for _, j := range jobs {
		out = append(out, j.Task().ID())
	}
	return out
}

// TestMailboxStealKeepsPinnedInOrder returns the movable jobs (even ids) from
// a batch in progress (they stay in it: the tokens' state decides who runs
// them) and takes them from the queue, where the others stay in order.
func TestMailboxStealKeepsPinnedInOrder(t *testing.T) {
	room := NewRoom()
	m := NewMailbox(8, room)
	for i := range 4 {
		m.Push(newJob(uint64(i), nil))
	}
	m.Pop() // job 0; the batch holds 1-3
	for i := 4; i < 8; i++ {
		m.Push(newJob(uint64(i), nil))
	}
	even := func(j Job) bool { return j.Task().ID()%2 == 0 }
	if got := ids(m.steal(even)); !slices.Equal(got, []uint64{0, 2, 4, 6}) {
		t.Fatalf("stole %v, want [0 2 4 6]", got)
	}
	var left []uint64
	for {
		j, ok := m.Pop()
		if !ok {
			break
		}
		left = append(left, j.Task().ID())
	}
	if !slices.Equal(left, []uint64{1, 2, 3, 5, 7}) {
		t.Fatalf("left %v, want [1 2 3 5 7]", left)
	}
	if m.Len() != 0 {
		t.Fatalf("Len %d after draining, want 0", m.Len())
	}
}

// TestMailboxHoldCountsRetries: a slot held for a retry counts against the
// bound and keeps a closed mailbox from draining until the retry is queued
// and run.
func TestMailboxHoldCountsRetries(t *testing.T) {
	m := NewMailbox(2, nil)
	m.Push(newJob(1, nil))
	m.hold()
	if m.Push(newJob(2, nil)) != Full {
		t.Fatal("a held slot did not count against the bound")
	}
	m.Close()
	m.Pop()
	m.Pop()
	if got := m.park(); got != Parked {
		t.Fatalf("Park with a retry held = %v, want Parked", got)
	}
	if m.requeueHeld(newJob(3, nil)) != Pushed || len(m.wake) != 1 {
		t.Fatal("retry into a closed mailbox refused, or did not wake the consumer")
	}
	if j, ok := m.Pop(); !ok || j.Task().ID() != 3 {
		t.Fatal("retry not popped")
	}
	m.Pop()
	if got := m.park(); got != Drained || m.Len() != 0 {
		t.Fatalf("Park = %v, Len %d; want Drained, 0", got, m.Len())
	}
}

// TestMailboxShrinksAfterBurst: a burst past maxKeep grows the slices; once
// drained the mailbox keeps no more than maxKeep of them.
func TestMailboxShrinksAfterBurst(t *testing.T) {
	m := NewMailbox(4*maxKeep, nil)
	j := newJob(1, nil)
	for range 4 * maxKeep {
		m.Push(j)
	}
	for {
		if _, ok := m.Pop(); !ok {
			break
		}
	}
	if cap(m.q) > maxKeep || cap(m.batch) > maxKeep {
		t.Fatalf("drained mailbox keeps capacities %d and %d, want at most %d", cap(m.q), cap(m.batch), maxKeep)
	}
}

// TestMailboxHugeSizeAllocatesLazily: a mailbox's memory grows with use, so a
// large bound costs nothing up front.
func TestMailboxHugeSizeAllocatesLazily(t *testing.T) {
	m := NewMailbox(MaxMailboxSize, nil)
	if cap(m.q) != 0 || cap(m.batch) != 0 {
		t.Fatal("mailbox allocated its bound up front")
	}
}

// TestMailboxWakesOnlyParked checks the edge-triggered wake-up: pushes to a busy
// consumer never signal, the first push to a parked one signals exactly once.
func TestMailboxWakesOnlyParked(t *testing.T) {
	m := NewMailbox(8, nil)
	m.Push(newJob(1, nil))
	m.Push(newJob(2, nil))
	if len(m.wake) != 0 {
		t.Fatal("push to a consumer that is not parked signalled it")
	}
	m.Pop()
	m.Pop()
	m.Pop()
	if got := m.park(); got != Parked {
		t.Fatalf("Park on empty mailbox = %v", got)
	}
	m.Push(newJob(3, nil))
	m.Push(newJob(4, nil))
	if len(m.wake) != 1 {
		t.Fatalf("wake channel holds %d signals, want 1", len(m.wake))
	}
}

// TestMailboxPushAll: a push of many is refused by a closed or retired
// mailbox as Push is, wakes a parked consumer once, and counts what it took
// as pushed, as Push does each.
func TestMailboxPushAll(t *testing.T) {
	js := []Job{newJob(1, nil), newJob(2, nil), newJob(3, nil)}
	m := NewMailbox(8, nil)
	if got := m.park(); got != Parked {
		t.Fatalf("park on an empty mailbox = %v", got)
	}
	if n, res := m.pushAll(js); n != 3 || res != Pushed {
		t.Fatalf("pushAll = %d %v, want 3 Pushed", n, res)
	}
	if len(m.wake) != 1 {
		t.Fatalf("wake channel holds %d signals, want 1", len(m.wake))
	}
	if pushed, n := m.counts(); pushed != 3 || n != 3 {
		t.Fatalf("after pushAll of 3: pushed %d, queued %d; want 3 and 3 (Stats counts them submitted)", pushed, n)
	}
	for _, want := range js {
		if j, _ := m.Pop(); j != want {
			t.Fatal("pushAll is not FIFO")
		}
	}
	// Past the bound it takes what fits and counts those alone.
	f := NewMailbox(2, nil)
	if n, res := f.pushAll(js); n != 2 || res != Full {
		t.Fatalf("pushAll of 3 into 2 slots = %d %v, want 2 Full", n, res)
	}
	if pushed, n := f.counts(); pushed != 2 || n != 2 {
		t.Fatalf("after a pushAll that took 2: pushed %d, queued %d; want 2 and 2", pushed, n)
	}
	m.Close()
	if n, res := m.pushAll(js); n != 0 || res != Closed {
		t.Fatalf("pushAll to a closed mailbox = %d %v, want 0 Closed", n, res)
	}
	g := NewMailbox(8, nil)
	g.retire()
	if n, res := g.pushAll(js); n != 0 || res != Gone {
		t.Fatalf("pushAll to a retired mailbox = %d %v, want 0 Gone", n, res)
	}
}

// pushWaiting pushes j, waiting in line in room while m is full, as the
// router does.
func pushWaiting(m *Mailbox, room *Room, j Job) {
	if m.Push(j) == Pushed {
		return
	}
	w := room.Join(nil)
	for m.Push(j) != Pushed {
		w.Missed()
		<-w.C()
		w.Take()
	}
	w.Leave(m.index)
}

// TestMailboxConcurrentProducers checks nothing is lost or reordered per producer
// with several producers and a parking consumer.
func TestMailboxConcurrentProducers(t *testing.T) {
	const producers, each = 4, 5000
	room := NewRoom()
	m := NewMailbox(64, room)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				pushWaiting(m, room, newJob(uint64(p*each+i), nil))
			}
		}()
	}
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	for got := 0; got < producers*each; {
		j, ok := m.Pop()
		if !ok {
			if m.park() == Parked {
				<-m.wake
			}
			continue
		}
		id := int(j.Task().ID())
		p, i := id/each, id%each
		if i <= last[p] {
			t.Fatalf("producer %d: job %d after %d", p, i, last[p])
		}
		last[p] = i
		got++
	}
	wg.Wait()
}

func TestMailboxPushPopAllocateNothing(t *testing.T) {
	m := NewMailbox(1024, NewRoom())
	jobs := make([]Job, 512)
	for i := range jobs {
		jobs[i] = newJob(uint64(i), nil)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, j := range jobs {
			if m.Push(j) != Pushed {
				t.Fatal("push refused")
			}
		}
		for range jobs {
			if _, ok := m.Pop(); !ok {
				t.Fatal("pop failed")
			}
		}
		m.Pop() // refill: settles the count
	})
	if allocs != 0 {
		t.Fatalf("push+pop of %d jobs allocated %.1f times", len(jobs), allocs)
	}
}

// BenchmarkMailbox measures a push and a pop; BenchmarkChannelReference the same
// through a buffered channel, the naive reference.
func BenchmarkMailbox(b *testing.B) {
	m := NewMailbox(4096, nil)
	j := newJob(1, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if m.Push(j) != Pushed {
			b.Fatal("full")
		}
		if got, ok := m.pop(); !ok || got != Job(j) {
			b.Fatal("lost")
		}
	}
}

func BenchmarkChannelReference(b *testing.B) {
	ref := &chanMailbox{ch: make(chan Job, 4096)}
	j := newJob(1, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ref.push(j)
		if got, ok := ref.pop(); !ok || got != Job(j) {
			b.Fatal("lost")
		}
	}
}

// TestRoomNotifiedWhenBatchEndsEmpty: a refill that frees room but finds nothing
// new queued must still wake producers waiting for room.
func TestRoomNotifiedWhenBatchEndsEmpty(t *testing.T) {
	room := NewRoom()
	m := NewMailbox(1, room)
	m.Push(newJob(1, nil))
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		pushWaiting(m, room, newJob(2, nil))
	}()
	if _, ok := m.Pop(); !ok {
		t.Fatal("pop failed")
	}
	for {
		if _, ok := m.Pop(); ok {
			break // the producer got in
		}
		select {
		case <-pushed:
		case <-m.wake:
		}
	}
	<-pushed
}
