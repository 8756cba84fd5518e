package router

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/coregate/coregate/actors"
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
