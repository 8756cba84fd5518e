package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
)

// lineUp starts n submitters of class w, one at a time, each waiting in
// line (durably blocked) before the next comes, so their order in line is
// their index; each sends its index and Submit's error on got once it
// returns. ctxs, when not nil, gives submitter i its context.
func lineUp(t *testing.T, r *Router, w Weight, n int, ctxs func(i int) context.Context) <-chan submitted {
	t.Helper()
	got := make(chan submitted, n)
	t.Cleanup(func() { // a failed test lets those still waiting go
		for _, e := range r.execs {
			e.Mailbox().Close()
		}
		r.room.Notify()
		synctest.Wait()
	})
	for i := range n {
		ctx := context.Background()
		if ctxs != nil {
			ctx = ctxs(i)
		}
		go func() {
			_, err := r.submitW(ctx, w, newJob())
			got <- submitted{i, err}
		}()
		synctest.Wait()
	}
	return got
}

type submitted struct {
	i   int
	err error
}

// fillHalfTaken fills mb (size jobs) so that its consumer's batch holds k
// of them: using the batch up (one Pop) and refilling (the next Pop) frees
// k slots.
func fillHalfTaken(t *testing.T, r *Router, mb *actors.Mailbox, w Weight, size, k int) {
	t.Helper()
	for range k {
		if _, err := r.submitW(context.Background(), w, newJob()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := mb.Pop(); !ok { // the batch: k jobs, one of them popped
		t.Fatal("nothing to pop")
	}
	for range size - k {
		if _, err := r.submitW(context.Background(), w, newJob()); err != nil {
			t.Fatal(err)
		}
	}
}

// refill pops the rest of mb's batch, k-1 jobs, then refills: k slots free.
func refill(t *testing.T, mb *actors.Mailbox, k int) {
	t.Helper()
	for range k {
		if _, ok := mb.Pop(); !ok {
			t.Fatal("nothing to pop")
		}
	}
}

// drain takes every submitter's result that is ready.
func drain(got <-chan submitted) []submitted {
	var out []submitted
	for {
		select {
		case s := <-got:
			out = append(out, s)
		default:
			return out
		}
	}
}

// TestRefillWakesOnlyTheFirstInLine: n submitters wait in line on a full
// executor; a refill that frees k slots wakes k of them, the first in line,
// and those k get in, so each waiter is woken once and they get in in the
// order they came. A wait list that wakes every waiter on every refill
// woke all of those still waiting each time.
func TestRefillWakesOnlyTheFirstInLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, size, k = 40, 4, 2
		r, execs := testRouter(t, 1, size)
		mb := execs[0].Mailbox()
		fillHalfTaken(t, r, mb, Heavy, size, k)
		got := lineUp(t, r, Heavy, n, nil)
		var order []int
		for len(order) < n {
			before := r.room.Wakes()
			refill(t, mb, k)
			synctest.Wait()
			in := drain(got)
			if woke := r.room.Wakes() - before; woke != uint64(min(k, n-len(order))) {
				t.Fatalf("a refill freeing %d slots with %d waiting woke %d", k, n-len(order), woke)
			}
			if len(in) != min(k, n-len(order)) {
				t.Fatalf("%d got in after a refill freeing %d slots, want %d", len(in), k, min(k, n-len(order)))
			}
			for _, s := range in {
				if s.err != nil {
					t.Fatal(s.err)
				}
				order = append(order, s.i)
			}
			slices.Sort(order[len(order)-len(in):]) // the k woken together race to push
		}
		for i, got := range order {
			if got != i {
				t.Fatalf("submitters got in in the order %v, want the order they came", order)
			}
		}
	})
}

// popRefill pops mb's one job and refills (mailboxes of size 1): one slot
// frees.
func popRefill(t *testing.T, mb *actors.Mailbox) {
	t.Helper()
	if _, ok := mb.Pop(); !ok {
		t.Fatal("nothing to pop")
	}
	if _, ok := mb.Pop(); ok {
		t.Fatal("more than one job queued")
	}
}

// fillAll fills every mailbox (of size 1) with a job.
func fillAll(t *testing.T, execs []*actors.Executor) {
	t.Helper()
	for _, e := range execs {
		if e.Push(newJob()) != actors.Pushed {
			t.Fatal("push refused")
		}
	}
}

// TestWaitersWokenOnlyForExecutorsTheyMayUse: a freed slot wakes the first
// in line that may use its executor: a Light submitter only for its range
// (or, none of it healthy, the Light range over the healthy executors), one
// near an actor only for that actor's executor, even outside its class's
// range, a Heavy one for any.
func TestWaitersWokenOnlyForExecutorsTheyMayUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, execs := testRouter(t, 3, 1)
		fillAll(t, execs)
		got := make(chan string, 4)
		t.Cleanup(func() {
			for _, e := range execs {
				e.Mailbox().Close()
			}
			r.room.Notify()
			synctest.Wait()
		})
		submit := func(name string, rule *Rule, tk *Ticket) {
			go func() {
				if err := r.Submit(context.Background(), rule, tk, newJob()); err != nil {
					name += " " + err.Error()
				}
				got <- name
			}()
			synctest.Wait()
		}
		submit("light", &Rule{Weight: Light}, nil)                   // range {2}
		submit("near 1", &Rule{Weight: Light}, &Ticket{Near: 1 + 1}) // executor 1 alone
		submit("heavy", &Rule{Weight: Heavy}, nil)                   // any
		submit("light again", &Rule{Weight: Light}, nil)
		frees := func(e int, want string) {
			t.Helper()
			before := r.room.Wakes()
			popRefill(t, execs[e].Mailbox())
			synctest.Wait()
			in := ""
			select {
			case in = <-got:
			default:
			}
			if woke := r.room.Wakes() - before; in != want || woke != 1 {
				t.Fatalf("a slot of executor %d let in %q and woke %d, want %q and 1", e, in, woke, want)
			}
		}
		frees(0, "heavy")
		frees(1, "near 1")
		frees(2, "light")
		// Executor 2 restarts: a Light token goes to the Light range over
		// the healthy executors 0 and 1, which is executor 1.
		execs[2].SetHealth(actors.Restarting, true)
		before := r.room.Wakes()
		popRefill(t, execs[0].Mailbox())
		synctest.Wait()
		if woke := r.room.Wakes() - before; woke != 0 {
			t.Fatalf("a slot of executor 0 woke %d Light submitters, whose fallback is executor 1", woke)
		}
		execs[0].Push(newJob())
		frees(1, "light again")
	})
}

// TestCancelledWaiterHandsItsWakeOn: a submitter whose context ends when
// the slot freed for it comes, woken or not yet, returns its context's error
// and the slot goes to the next in line.
func TestCancelledWaiterHandsItsWakeOn(t *testing.T) {
	for range 20 { // the two orders of the wake and the context's end
		synctest.Test(t, func(t *testing.T) {
			r, execs := testRouter(t, 1, 2)
			mb := execs[0].Mailbox()
			fillHalfTaken(t, r, mb, Heavy, 2, 1)
			ctx, cancel := context.WithCancel(context.Background())
			got := lineUp(t, r, Heavy, 3, func(i int) context.Context {
				if i == 0 {
					return ctx
				}
				return context.Background()
			})
			refill(t, mb, 1)
			cancel()
			synctest.Wait()
			in := drain(got)
			slices.SortFunc(in, func(a, b submitted) int { return a.i - b.i })
			if len(in) == 2 && in[0].i == 0 && errors.Is(in[0].err, context.Canceled) && in[1].i == 1 && in[1].err == nil {
				return // the slot went to the next in line
			}
			if len(in) == 1 && in[0].i == 0 && in[0].err == nil {
				return // the first in line pushed before its context ended
			}
			t.Fatalf("after a slot freed and the first in line's context ended: %v", in)
		})
	}
}

// TestMissedWakeGoesOn: a submitter whose push, woken for a slot, did not
// use it (it tried elsewhere) hands it to the next in line, which gets in.
func TestMissedWakeGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, execs := testRouter(t, 1, 1)
		fillAll(t, execs)
		mb := execs[0].Mailbox()
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		tries := 0
		go func() {
			_, err := r.WaitRoom(ctx, Heavy, func() (int, actors.PushResult) {
				if tries++; tries == 3 { // woken: it looks elsewhere, then gives up
					cancel()
				}
				return -1, actors.Full
			})
			first <- err
		}()
		synctest.Wait()
		got := lineUp(t, r, Heavy, 1, nil)
		before := r.room.Wakes()
		popRefill(t, mb)
		synctest.Wait()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("the first in line returned %v, want its context's end", err)
		}
		if s := <-got; s.err != nil {
			t.Fatal(s.err)
		}
		if woke := r.room.Wakes() - before; woke != 2 {
			t.Fatalf("one slot woke %d, want the first in line and then the next", woke)
		}
	})
}

// TestDownAndUpWakeEveryWaiter: an executor going down or coming back up
// changes where every waiter may go: each is woken and places again.
func TestDownAndUpWakeEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 5
		r, execs := testRouter(t, 2, 1)
		fillAll(t, execs)
		got := lineUp(t, r, Heavy, n, nil)
		before := r.room.Wakes()
		r.Down(execs[1]) // its job moves onto executor 0, past the bound
		synctest.Wait()
		if woke := r.room.Wakes() - before; woke != n {
			t.Fatalf("Down woke %d of %d waiters", woke, n)
		}
		if in := drain(got); len(in) != 0 {
			t.Fatalf("%v got in with no room anywhere", in)
		}
		before = r.room.Wakes()
		execs[1].Mailbox().Reopen()
		r.Up(execs[1])
		synctest.Wait()
		if woke := r.room.Wakes() - before; woke != n {
			t.Fatalf("Up woke %d of %d waiters", woke, n)
		}
		if in := drain(got); len(in) != 1 || in[0].err != nil {
			t.Fatalf("%v got in on the executor back up, want one", in)
		}
		for _, e := range execs {
			e.Mailbox().Close()
		}
		r.room.Notify()
		synctest.Wait()
		in := drain(got)
		if len(in) != n-1 {
			t.Fatalf("%d of %d waiters returned once the mailboxes closed", len(in), n-1)
		}
		for _, s := range in {
			if !errors.Is(s.err, actors.ErrStopped) {
				t.Fatalf("waiter %d returned %v, want ErrStopped", s.i, s.err)
			}
		}
	})
}

// TestUnanchoredLeadWaitsForAnyExecutor: a lead the full seed table left
// unanchored is held to no executor; once its push found its executor
// full, it waits for room on any executor of its range, and room freed on
// either lets it in. Staggered afresh at each try, it tried one executor,
// then the other, and woken by room freed on one tried the other, full, and
// waited on with the room unused.
func TestUnanchoredLeadWaitsForAnyExecutor(t *testing.T) {
	for free := range 2 {
		synctest.Test(t, func(t *testing.T) {
			engine, err := actor.NewEngine(actor.NewEngineConfig())
			if err != nil {
				t.Fatal(err)
			}
			room := actors.NewRoom()
			g, err := actors.NewGroup(actors.GroupConfig{Engine: engine, Name: "t", CPUs: make([]int, 2), MailboxSize: 1, Room: room})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Release)
			r, err := New(g, "t", room, anchor.NewSticky(64, time.Minute, nil), anchor.NewSeeds(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Unregister)
			execs := g.Executors()
			fillAll(t, execs)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.Submit(ctx, &Rule{Weight: Heavy, Lead: true}, &Ticket{}, newJob()) }()
			synctest.Wait() // both full: it waits
			popRefill(t, execs[free].Mailbox())
			synctest.Wait()
			requireReturned(t, done, fmt.Sprintf("room freed on executor %d did not let the waiting lead in", free))
		})
	}
}

// TestKeyWaitsWhereItsPinMoved: a keyed token waiting for room on its pin's
// executor, which goes down, follows the pin to another executor, full
// too, and waits for room there: room freed there lets it in.
func TestKeyWaitsWhereItsPinMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, execs := testRouter(t, 2, 1)
		rule := &Rule{Weight: Heavy, Keyed: true}
		first := &Ticket{Key: 7}
		if err := r.Submit(context.Background(), rule, first, newJob()); err != nil {
			t.Fatal(err)
		}
		pinned := r.Place(rule, first, newJob()) // where the pin is now, counting nothing
		other := 1 - pinned
		if res := execs[other].Push(newJob()); res != actors.Pushed {
			t.Fatalf("push: %v", res)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.Submit(ctx, rule, &Ticket{Key: 7}, newJob()) }()
		synctest.Wait() // it waits for room on the pin's executor
		r.Down(execs[pinned])
		synctest.Wait() // it follows the pin to the other, full: it waits there
		mb := execs[other].Mailbox()
		for range 3 { // its two jobs, then the refill that frees their slots
			mb.Pop()
		}
		synctest.Wait()
		requireReturned(t, done, "room freed where the pin moved did not let the key's token in")
	})
}

// requireReturned fails the test with why unless the submit that sends
// its outcome on done has returned, with no error.
func requireReturned(t *testing.T, done <-chan error, why string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal(why)
	}
}
