package router

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coregate/coregate/internal/testkit"
)

// TestUpDoesNotSplitAKey: a key pinned on an executor that went down with
// none of its tokens queued there (nothing moved the pin), and two tokens
// of the key placed as the executor comes back up, one with the view from
// before Up, one after. Up changed the view without the lock on moves, so
// the first, already past its view, moved the pin off the executor it
// still saw down, after the second had followed the pin there: the key's
// two tokens on two executors at once. Up now waits for placements under
// way, as Down does, so each sees one view throughout.
func TestUpDoesNotSplitAKey(t *testing.T) {
	r, execs := testRouter(t, 3, 8)
	rule := &Rule{Weight: Heavy, Keyed: true}
	token := func(id uint64) *placedJob {
		return &placedJob{Job: testkit.NewJob(id, nil), rule: rule, tk: &Ticket{Key: 7}}
	}
	first := token(1)
	e := r.Place(rule, first.tk, first)
	r.Release(first.tk) // it ran: the pin stays on e, idle
	r.Down(execs[e])    // nothing of the key queued there: the pin stays on e
	execs[e].Mailbox().Reopen()

	a, b := token(2), token(3)
	gotB := make(chan int, 1)
	var fired atomic.Bool
	viewLoaded = func() {
		if fired.Swap(true) {
			return // b's placement
		}
		// a has loaded the view with e down. e comes back up; b places
		// once Up returned, or, when Up waits for a's placement, after it.
		up := make(chan struct{})
		go func() {
			r.Up(execs[e])
			close(up)
		}()
		for {
			select {
			case <-up:
				gotB <- r.Place(rule, b.tk, b)
				return
			default:
			}
			if !r.moving.TryRLock() { // Up waits for the lock on moves
				go func() { gotB <- r.Place(rule, b.tk, b) }()
				return
			}
			r.moving.RUnlock()
			runtime.Gosched()
		}
	}
	t.Cleanup(func() { viewLoaded = nil })
	ia := r.Place(rule, a.tk, a)
	ib := <-gotB
	if !r.Live(e) {
		t.Fatalf("executor %d not back up", e)
	}
	if ia != ib {
		t.Fatalf("key 7's tokens placed on executors %d and %d as %d came back up: one key on two executors", ia, ib, e)
	}
}
