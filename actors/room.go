package actors

import (
	"sync"
	"sync/atomic"
)

// Room is the line of producers that found every mailbox they may use full
// and wait for room: first come, first served. A consumer that frees k slots
// of its mailbox wakes at most k waiters, the first in line that fit its
// executor (may push there), as x/sync's semaphore wakes only the waiters
// that fit; [Room.Notify], for a change that concerns every waiter (an
// executor down, up, stalled or waiting out a restart backoff, the
// mailboxes closed), wakes them all. A refill used to wake every waiter,
// so that with a thousand producers waiting each batch a consumer took
// woke a thousand goroutines, of which all but a few found the mailbox
// full again.
//
// A woken waiter keeps its place in line while it tries its push again, so
// one that finds the room taken (a producer that did not wait got there
// first) is still first in line for the next. A wake that its waiter does
// not use (its push went to another mailbox or did not try this one, or it
// left: its context ended, the runtime stopped) goes on to the next waiter
// behind it that fits, while the mailbox still has room: no room is left
// unused while a waiter that fits it waits, and a wake goes only forward, so
// it never circles between waiters that cannot use it.
//
// The push path reads one atomic count and touches nothing else while no one
// waits. A [Waiter] and its channel are kept for the next once it leaves, so
// waiting allocates nothing in steady state. The zero value is an empty
// Room.
//
// Lock order: a Room's lock, then a mailbox's (a wake passed on asks the
// mailbox whether it still has room); a mailbox tells its Room of a refill
// after it unlocks.
type Room struct {
	waiters atomic.Int32 // the line's length: all a push path reads
	wakes   atomic.Uint64
	mu      sync.Mutex
	head    *Waiter
	tail    *Waiter
	// idle is the first waiter in line not woken (nil: none), so that a
	// refill does not walk past the woken ones at the head, which wait
	// for a thread to try their push
	idle   *Waiter
	joined uint64    // waiters that joined: a waiter's place is its number
	spare  sync.Pool // of *Waiter, out of line, c empty
}

// Waiter is one producer's place in a [Room]'s line, from [Room.Join] to
// [Waiter.Leave]. Its methods are for its producer's goroutine alone.
type Waiter struct {
	room *Room
	c    chan struct{} // a wake; capacity 1: at most one is pending
	held *Mailbox      // the wake taken (Take) and not yet used or passed on

	// under room.mu
	fits       func(exec int) bool // nil: every executor
	seq        uint64              // its place: before those with a larger one
	prev, next *Waiter
	woken      bool     // a wake is pending on c
	pending    *Mailbox // its mailbox; nil for Notify's
}

// NewRoom returns an empty Room.
func NewRoom() *Room { return &Room{} }

// Join puts the caller at the end of the line: it is woken when a mailbox
// whose executor fits (fits(index) is true; nil fits every executor) frees
// room. Push again after Join and before waiting on [Waiter.C], so that room
// freed between the failed push and Join is not missed.
func (r *Room) Join(fits func(exec int) bool) *Waiter {
	w, _ := r.spare.Get().(*Waiter)
	if w == nil {
		w = &Waiter{room: r, c: make(chan struct{}, 1)}
	}
	r.mu.Lock()
	w.fits = fits
	r.joined++
	w.seq = r.joined
	w.prev = r.tail
	if r.tail != nil {
		r.tail.next = w
	} else {
		r.head = w
	}
	r.tail = w
	if r.idle == nil {
		r.idle = w
	}
	r.waiters.Add(1)
	r.mu.Unlock()
	return w
}

// Waiting returns how many producers wait in line.
func (r *Room) Waiting() int { return int(r.waiters.Load()) }

// Wakes returns how many wakes it has sent, passed on ones included.
func (r *Room) Wakes() uint64 { return r.wakes.Load() }

// Notify wakes every waiter: what they may use changed.
func (r *Room) Notify() {
	r.mu.Lock()
	for w := r.head; w != nil; w = w.next {
		if !w.woken {
			r.wakeLocked(w, nil)
		}
	}
	r.mu.Unlock()
}

// freed wakes up to k waiters that fit m's executor, first in line first:
// m's consumer freed k slots.
func (r *Room) freed(m *Mailbox, k int) {
	if r.waiters.Load() == 0 {
		return
	}
	r.mu.Lock()
	r.wakeFromLocked(r.idle, m, k)
	r.mu.Unlock()
}

// wakeFromLocked wakes up to k waiters that fit m's executor, from w on.
func (r *Room) wakeFromLocked(w *Waiter, m *Mailbox, k int) {
	for ; w != nil && k > 0; w = w.next {
		if !w.woken && (w.fits == nil || w.fits(m.index)) {
			r.wakeLocked(w, m)
			k--
		}
	}
}

func (r *Room) wakeLocked(w *Waiter, m *Mailbox) {
	w.woken, w.pending = true, m
	r.wakes.Add(1)
	w.c <- struct{}{} // never blocks: an empty channel is what !woken means
	if w == r.idle {
		r.idleFromLocked(w.next)
	}
}

// idleFromLocked makes the first waiter not woken from w on idle.
func (r *Room) idleFromLocked(w *Waiter) {
	for w != nil && w.woken {
		w = w.next
	}
	r.idle = w
}

// C returns the channel a wake comes on. Once a value is received from it,
// call [Waiter.Take] before the next push.
func (w *Waiter) C() <-chan struct{} { return w.c }

// Take takes the wake received from C: the waiter can be woken again
// (while it tries its push, so that room freed meanwhile is not missed), and
// the wake is held until the push uses it, [Waiter.Missed] or
// [Waiter.Leave].
func (w *Waiter) Take() {
	r := w.room
	r.mu.Lock()
	w.woken = false
	w.held, w.pending = w.pending, nil
	if r.idle == nil || w.seq < r.idle.seq {
		r.idle = w
	}
	r.mu.Unlock()
}

// Fit replaces the executors the waiter fits (nil: every executor). A push
// that may try an executor the waiter did not fit while it tried must be
// tried again after Fit, before waiting.
func (w *Waiter) Fit(fits func(exec int) bool) {
	r := w.room
	r.mu.Lock()
	w.fits = fits
	r.mu.Unlock()
}

// Missed says that the pushes since the wake taken last found no room: if
// the mailbox it was for has room now, the wake goes to the next waiter
// behind this one that fits. Call it before waiting again.
func (w *Waiter) Missed() {
	m := w.held
	w.held = nil
	if m == nil || !m.hasRoom() {
		return
	}
	r := w.room
	r.mu.Lock()
	r.wakeFromLocked(w.next, m, 1)
	r.mu.Unlock()
}

// Leave takes the waiter out of line; used is the executor its push went to,
// or -1. A wake it holds or has pending for another executor's mailbox that
// still has room goes to the next waiter behind it that fits. The waiter
// may not be used after.
func (w *Waiter) Leave(used int) {
	r := w.room
	r.mu.Lock()
	for _, m := range [2]*Mailbox{w.held, w.pending} {
		if m == nil {
			continue
		}
		if m.index == used {
			used = -1 // one wake used
			continue
		}
		if m.hasRoom() {
			r.wakeFromLocked(w.next, m, 1)
		}
	}
	if w == r.idle {
		r.idleFromLocked(w.next)
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		r.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		r.tail = w.prev
	}
	r.waiters.Add(-1)
	r.mu.Unlock()
	// Out of line, it gets no more wakes: emptied, it is as new.
	select {
	case <-w.c:
	default:
	}
	w.fits, w.prev, w.next, w.woken, w.pending, w.held = nil, nil, nil, false, nil, nil
	r.spare.Put(w)
}
