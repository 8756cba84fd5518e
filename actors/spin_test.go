package actors

import (
	"sync"
	"testing"
)

// TestSpinMutexExcludes has goroutines add to a plain counter under one
// spinMutex: a lost update shows in the sum, and -race flags an access the
// lock does not order.
func TestSpinMutexExcludes(t *testing.T) {
	const workers, adds = 4, 20000
	var (
		mu spinMutex
		n  int
		wg sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range adds {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n != workers*adds {
		t.Fatalf("counted %d under the lock, want %d", n, workers*adds)
	}
}

// TestSpinMutexSpin checks the bounded look on its own: it gives up on a
// mutex held throughout, and takes one that is free.
func TestSpinMutexSpin(t *testing.T) {
	var mu spinMutex
	mu.Lock()
	if mu.spin(8) {
		t.Fatal("spin locked a mutex that was held throughout")
	}
	mu.Unlock()
	if !mu.spin(8) {
		t.Fatal("spin did not lock a free mutex")
	}
	if mu.TryLock() {
		t.Fatal("the mutex spin locked is free")
	}
	mu.Unlock()
}
