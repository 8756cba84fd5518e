package actors

import (
	"sync"
	"testing"
)

// TestGoidIdentifiesGoroutines: goid is non-zero, the same on every call from
// one goroutine, and different for goroutines alive at the same time, which is
// what Await relies on to tell an executor's goroutine from any other.
func TestGoidIdentifiesGoroutines(t *testing.T) {
	const n = 64
	ids := make([]uint64, n)
	var ready, release sync.WaitGroup
	ready.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	for i := range n {
		done.Go(func() {
			ids[i] = goid()
			ready.Done()
			release.Wait() // stay alive until every id is taken
			if again := goid(); again != ids[i] {
				t.Errorf("goroutine %d: goid changed from %d to %d", i, ids[i], again)
			}
		})
	}
	ready.Wait()
	release.Done()
	done.Wait()
	seen := map[uint64]int{goid(): -1}
	for i, id := range ids {
		if id == 0 {
			t.Fatalf("goroutine %d: goid 0", i)
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("goroutines %d and %d share goid %d", i, j, id)
		}
		seen[id] = i
	}
}

// BenchmarkGoid measures one read of the goroutine id; every read must give
// the benchmark goroutine's id, non-zero.
func BenchmarkGoid(b *testing.B) {
	want := goid()
	if want == 0 {
		b.Fatal("goid 0")
	}
	b.ReportAllocs()
	for b.Loop() {
		if goid() != want {
			b.Fatalf("goid changed from %d on one goroutine", want)
		}
	}
}
