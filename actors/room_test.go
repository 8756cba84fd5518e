package actors

import (
	"fmt"
	"slices"
	"testing"
)

// roomWith returns mailboxes 0..n-1 of size 2 telling room, each with room
// to spare unless filled.
func roomWith(room *Room, n int) []*Mailbox {
	mbs := make([]*Mailbox, n)
	for i := range mbs {
		mbs[i] = NewMailbox(2, room)
		mbs[i].index = i
	}
	return mbs
}

// fill fills m to its bound.
func fill(t *testing.T, m *Mailbox) {
	t.Helper()
	for m.Len() < m.size {
		if m.Push(newJob(0, nil)) != Pushed {
			t.Fatal("push refused")
		}
	}
}

// popAll pops m until it is empty: the last pop's refill frees every slot
// it held.
func popAll(m *Mailbox) {
	for {
		if _, ok := m.Pop(); !ok {
			return
		}
	}
}

// only fits executor i alone.
func only(i int) func(int) bool { return func(e int) bool { return e == i } }

// checkLine checks room's line: linked both ways in the order the
// waiters came, as long as Waiting says, and idle the first not woken.
func checkLine(room *Room) error {
	room.mu.Lock()
	defer room.mu.Unlock()
	n, idle := 0, (*Waiter)(nil)
	var prev *Waiter
	for w := room.head; w != nil; prev, w = w, w.next {
		n++
		if w.prev != prev || prev != nil && prev.seq >= w.seq {
			return fmt.Errorf("waiter %d out of order", n)
		}
		if idle == nil && !w.woken {
			idle = w
		}
	}
	if room.tail != prev || n != room.Waiting() {
		return fmt.Errorf("%d waiters linked, tail %p, Waiting %d", n, room.tail, room.Waiting())
	}
	if room.idle != idle {
		return fmt.Errorf("idle is %p, the first not woken %p", room.idle, idle)
	}
	return nil
}

// woken returns which of ws have a wake pending, and takes it, after
// checking the line (panicking if it is broken).
func woken(ws ...*Waiter) string {
	if err := checkLine(ws[0].room); err != nil {
		panic(err)
	}
	var out []int
	for i, w := range ws {
		select {
		case <-w.C():
			w.Take()
			out = append(out, i)
		default:
		}
	}
	return fmt.Sprint(out)
}

// TestRoomWakesTheFirstThatFit: k freed slots of a mailbox wake the first k
// waiters in line that fit its executor, skipping those that do not and
// those already woken; a woken waiter that took its wake can be woken again.
func TestRoomWakesTheFirstThatFit(t *testing.T) {
	var room Room // the zero value is an empty Room
	mbs := roomWith(&room, 2)
	a, b, c, d := room.Join(only(1)), room.Join(nil), room.Join(only(0)), room.Join(nil)
	if room.Waiting() != 4 {
		t.Fatalf("Waiting = %d, want 4", room.Waiting())
	}
	room.freed(mbs[0], 2)
	if got := woken(a, b, c, d); got != "[1 2]" {
		t.Fatalf("2 slots of executor 0 woke %s, want b and c [1 2]", got)
	}
	room.freed(mbs[0], 1)
	if got := woken(a, b, c, d); got != "[1]" {
		t.Fatalf("a slot after the wakes were taken woke %s, want b again [1]", got)
	}
	room.freed(mbs[0], 1) // b still holds a wake it has not taken: d is next
	room.freed(mbs[1], 5) // a and d fit: two wakes for five slots
	if got := woken(a, b, c, d); got != "[0 1 3]" {
		t.Fatalf("woke %s, want [0 1 3]", got)
	}
	if room.Wakes() != 6 {
		t.Fatalf("Wakes = %d, want 6", room.Wakes())
	}
	for _, w := range []*Waiter{a, b, c, d} {
		w.Leave(-1)
	}
	if room.Waiting() != 0 || room.head != nil || room.tail != nil || room.idle != nil {
		t.Fatal("the line is not empty after every waiter left")
	}
}

// TestRoomLeaveHandsItsWakeOn: a waiter that leaves with a wake it did not
// use (pending or taken) hands it to the next in line that fits, while its
// mailbox has room; one it used, or one for a mailbox full again, ends
// there.
func TestRoomLeaveHandsItsWakeOn(t *testing.T) {
	room := NewRoom()
	mbs := roomWith(room, 2)
	a, b, c := room.Join(nil), room.Join(only(1)), room.Join(nil)
	room.freed(mbs[0], 1)
	a.Leave(-1) // never took it: its context ended
	if got := woken(b, c); got != "[1]" {
		t.Fatalf("a's pending wake went to %s, want c [1]", got)
	}
	room.freed(mbs[0], 1) // c was woken and took it: the slot is c's again
	if got := woken(b, c); got != "[1]" {
		t.Fatalf("woke %s, want c [1]", got)
	}
	d := room.Join(nil)
	c.Leave(1) // its push went to executor 1: executor 0's slot is d's
	if got := woken(b, d); got != "[1]" {
		t.Fatalf("c's unused wake went to %s, want d [1]", got)
	}
	e := room.Join(nil)
	d.Leave(0) // used it
	if got := woken(b, e); got != "[]" {
		t.Fatalf("a used wake went on to %s", got)
	}
	room.freed(mbs[0], 1)
	fill(t, mbs[0])
	e.Leave(-1) // its slot was taken meanwhile: nothing to hand on
	if got := woken(b); got != "[]" {
		t.Fatalf("a wake for a full mailbox went on to %s", got)
	}
	b.Leave(-1)
}

// TestRoomMissedGoesForwardOnly: a waiter whose push did not use the room
// it was woken for hands the wake to the next waiter behind it that fits,
// and only while the mailbox has room; a wake never goes back to a waiter
// before the one handing it on, so two waiters that cannot use a slot do not
// pass it between them for ever.
func TestRoomMissedGoesForwardOnly(t *testing.T) {
	room := NewRoom()
	mbs := roomWith(room, 1)
	a, b, c := room.Join(nil), room.Join(nil), room.Join(only(1))
	room.freed(mbs[0], 1)
	if got := woken(a, b, c); got != "[0]" {
		t.Fatalf("woke %s, want a [0]", got)
	}
	fill(t, mbs[0])
	a.Missed() // the slot was taken: nobody else could use it
	if got := woken(a, b, c); got != "[]" {
		t.Fatalf("a wake for a full mailbox went on to %s", got)
	}
	popAll(mbs[0]) // two slots free: a and b woken
	if got := woken(a, b, c); got != "[0 1]" {
		t.Fatalf("woke %s, want a and b [0 1]", got)
	}
	b.Missed() // its push did not try executor 0 (c does not fit it)
	a.Missed()
	if got := woken(a, b, c); got != "[1]" {
		t.Fatalf("woke %s, want b [1]: a's wake goes forward only", got)
	}
	b.Missed() // the last that fits: the wake ends
	if got := woken(a, b, c); got != "[]" {
		t.Fatalf("woke %s after the last waiter that fits missed", got)
	}
	if room.Wakes() != 4 {
		t.Fatalf("Wakes = %d, want 4", room.Wakes())
	}
	for _, w := range []*Waiter{b, a, c} {
		w.Leave(-1)
	}
}

// TestRoomNotifyWakesAll: Notify wakes every waiter not woken yet, fit or
// not; one with a wake pending keeps it.
func TestRoomNotifyWakesAll(t *testing.T) {
	room := NewRoom()
	mbs := roomWith(room, 1)
	a, b, c := room.Join(nil), room.Join(only(3)), room.Join(nil)
	room.freed(mbs[0], 1)
	room.Notify()
	if room.Wakes() != 3 {
		t.Fatalf("Wakes = %d, want 3", room.Wakes())
	}
	if got := woken(a, b, c); got != "[0 1 2]" {
		t.Fatalf("Notify woke %s, want all", got)
	}
	a.Leave(0)
	b.Leave(-1) // a wake of everyone: nothing to hand on
	if got := woken(c); got != "[]" {
		t.Fatalf("Notify's wake went on to %s", got)
	}
	c.Leave(-1)
}

// TestRoomRefillTellsHowMuchIsFree: a refill wakes as many waiters as it
// freed slots, fewer when requeued jobs past the bound still hold some, and
// a held retry's slot given back wakes one.
func TestRoomRefillTellsHowMuchIsFree(t *testing.T) {
	room := NewRoom()
	m := NewMailbox(2, room)
	ws := []*Waiter{room.Join(nil), room.Join(nil), room.Join(nil)}
	fill(t, m)
	m.Pop()
	m.requeue(newJob(9, nil)) // past the bound: 3 held of 2
	m.Pop()
	m.Pop() // the refill frees 2 of which 1 is free
	if got := woken(ws...); got != "[0]" {
		t.Fatalf("a refill leaving 1 slot free woke %s, want [0]", got)
	}
	m.Pop() // the refill after the requeued job frees its slot
	if got := woken(ws...); got != "[0]" {
		t.Fatalf("the next refill woke %s, want [0]", got)
	}
	m.hold() // a retry waits out its backoff in a slot
	m.unhold()
	if got := woken(ws...); got != "[0]" {
		t.Fatalf("a held slot given back woke %s, want [0]", got)
	}
	for _, w := range ws {
		w.Leave(-1)
	}
}

// TestRoomWaitingAllocatesNothing: a place in line is kept once left, so a
// wait allocates nothing in steady state.
func TestRoomWaitingAllocatesNothing(t *testing.T) {
	room := NewRoom()
	m := roomWith(room, 1)[0]
	allocs := testing.AllocsPerRun(100, func() {
		w := room.Join(nil)
		room.freed(m, 1)
		<-w.C()
		w.Take()
		w.Leave(0)
	})
	if allocs != 0 {
		t.Fatalf("a wait allocated %.1f times", allocs)
	}
}

// FuzzRoom runs a Room through any sequence of joins, refills, Notify,
// takes, misses and leaves over two mailboxes (one with room, one full),
// checking the line after each step, and that a waiter has a wake on its
// channel exactly when it is woken.
func FuzzRoom(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 3, 3, 4, 5})
	f.Add([]byte{0, 6, 0, 7, 1, 2, 9, 15, 4, 5, 11, 17})
	f.Add([]byte{0, 0, 0, 0, 2, 3, 9, 15, 21, 1, 3, 4, 10, 5, 11})
	f.Fuzz(func(t *testing.T, ops []byte) {
		room := NewRoom()
		mbs := roomWith(room, 2)
		for range 2 {
			mbs[1].Push(newJob(0, nil))
		}
		var line []*Waiter
		for k, op := range ops {
			arg := int(op) / 6
			var w *Waiter
			if len(line) > 0 {
				w = line[arg%len(line)]
			}
			switch op % 6 {
			case 0:
				fits := func(int) bool { return true }
				if arg%3 < 2 {
					fits = only(arg % 3)
				}
				line = append(line, room.Join(fits))
			case 1:
				room.freed(mbs[arg%2], 1+arg%3)
			case 2:
				room.Notify()
			case 3:
				if w != nil {
					select {
					case <-w.C():
						w.Take()
					default:
					}
				}
			case 4:
				if w != nil {
					w.Missed()
				}
			case 5:
				if w != nil {
					w.Leave(arg%3 - 1)
					line = slices.DeleteFunc(line, func(x *Waiter) bool { return x == w })
				}
			}
			if err := checkLine(room); err != nil {
				t.Fatalf("after op %d (%d): %v", k, op, err)
			}
			room.mu.Lock()
			for i, w := range line {
				if w.woken != (len(w.c) == 1) {
					t.Fatalf("after op %d: waiter %d woken %v with %d wakes on its channel", k, i, w.woken, len(w.c))
				}
			}
			room.mu.Unlock()
		}
		for _, w := range line {
			w.Leave(-1)
		}
		if room.Waiting() != 0 || room.idle != nil {
			t.Fatal("the line is not empty once all left")
		}
	})
}
