package actors

import (
	"runtime"
	"slices"
	"sync"
	"testing"
)

func popIDs(t *testing.T, m *Mailbox, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for range n {
		j, ok := m.Pop()
		if !ok {
			t.Fatalf("mailbox empty after %v", ids)
		}
		ids = append(ids, j.Task().ID())
	}
	return ids
}

// TestPushFront: a job pushed to the head goes ahead of the queue and of the
// rest of the consumer's batch, later ones ahead of earlier ones; the bound
// and the count of jobs held against it stay exact.
func TestPushFront(t *testing.T) {
	m := NewMailbox(6, nil)
	for i := uint64(1); i <= 3; i++ {
		if m.Push(newJob(i, nil)) != Pushed {
			t.Fatal("push refused")
		}
	}
	if got := popIDs(t, m, 1); got[0] != 1 {
		t.Fatalf("first pop %v", got)
	}
	m.Push(newJob(4, nil)) // queued behind the batch [2 3]
	m.pushFront(newJob(10, nil))
	m.pushFront(newJob(11, nil))
	if got := m.Len(); got != 6 {
		t.Fatalf("Len %d, want 6 (3 of the batch, 1 queued, 2 at the head)", got)
	}
	if res := m.pushFront(newJob(12, nil)); res != Full {
		t.Fatalf("pushFront on a full mailbox: %v", res)
	}
	want := []uint64{11, 10, 2, 3, 4}
	got := popIDs(t, m, len(want))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if _, ok := m.Pop(); ok {
		t.Fatal("mailbox not empty")
	}
	if got := m.Len(); got != 0 {
		t.Fatalf("Len %d after draining", got)
	}
	m.pushFront(newJob(20, nil)) // onto an empty mailbox: an ordinary refill takes it
	m.Push(newJob(21, nil))
	if got := popIDs(t, m, 2); got[0] != 20 || got[1] != 21 {
		t.Fatalf("order %v", got)
	}
	m.Close()
	if res := m.pushFront(newJob(22, nil)); res != Closed {
		t.Fatalf("pushFront on a closed mailbox: %v", res)
	}
}

// TestPushFrontConcurrent: producers pushing to the head and the tail while
// the consumer pops lose and repeat nothing, and the count held against the
// bound returns to zero.
func TestPushFrontConcurrent(t *testing.T) {
	m := NewMailbox(64, nil)
	const producers, each = 4, 500
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				j := newJob(uint64(p*each+i), nil)
				for {
					var res PushResult
					if i%3 == 0 {
						res = m.pushFront(j)
					} else {
						res = m.Push(j)
					}
					if res == Pushed {
						break
					}
					runtime.Gosched() // full: let the consumer drain
				}
			}
		})
	}
	seen := make(map[uint64]bool, producers*each)
	for len(seen) < producers*each {
		j, ok := m.Pop()
		if !ok {
			runtime.Gosched()
			continue
		}
		id := j.Task().ID()
		if seen[id] {
			t.Fatalf("job %d popped twice", id)
		}
		seen[id] = true
	}
	wg.Wait()
	if _, ok := m.Pop(); ok {
		t.Fatal("a job left over")
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len %d after draining", n)
	}
}

// TestStealOfHeadJobKeepsFIFO: found by review. A steal that takes a job
// pushed to the head leaves the next ordinary job where it was, behind the
// rest of the batch.
func TestStealOfHeadJobKeepsFIFO(t *testing.T) {
	m := NewMailbox(8, nil)
	m.Push(newJob(1, nil))
	m.Push(newJob(2, nil))
	if got := popIDs(t, m, 1); got[0] != 1 {
		t.Fatalf("first pop %v", got)
	}
	m.pushFront(newJob(10, nil))
	m.Push(newJob(3, nil))
	if len(m.steal(func(j Job) bool { return j.Task().ID() == 10 })) != 1 {
		t.Fatal("the head job was not stolen")
	}
	if got := popIDs(t, m, 2); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("popped %v, want [2 3]", got)
	}
}
