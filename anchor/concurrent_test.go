package anchor

import (
	"sync"
	"testing"
	"time"
)

// TestStickyConcurrent: goroutines place, re-place and release overlapping
// keys on a table smaller than the key space; once all are done nothing is in
// flight and the table held its cap. Run with -race.
func TestStickyConcurrent(t *testing.T) {
	const max, workers, steps = 16, 8, 2000
	s := NewSticky(max, time.Microsecond, nil)
	set := span(0, 3)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range steps {
				key := uint64((i*7 + w) % 40)
				e, pinned := s.Place(key, set, i%4)
				if e < 0 || e > 3 {
					t.Errorf("key %d placed on %d", key, e)
					return
				}
				s.Repin(key, span(1, 3), 1+i%3)
				if pinned {
					s.Release(key)
				}
				s.Stats()
			}
		})
	}
	wg.Wait()
	if len(s.pins) > max {
		t.Fatalf("%d pins, cap %d", len(s.pins), max)
	}
	for k, p := range s.pins {
		if p.inflight != 0 {
			t.Fatalf("key %d has %d in flight after every token ended", k, p.inflight)
		}
	}
}

// TestSeedsConcurrent: goroutines lead seeds whose children join and leave
// from other goroutines, some leaving once too often, while seeds move; once
// all are done no seed is live and every lead is counted once. Run with -race.
func TestSeedsConcurrent(t *testing.T) {
	const max, workers, leads, children = 8, 8, 300, 3
	table := NewSeeds(max)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range leads {
				s := table.Lead(uint64(w*leads+i), nil, w%4, 0)
				if s == nil {
					continue
				}
				var kids sync.WaitGroup
				for range children {
					if s.Join() {
						kids.Go(func() {
							s.Move(s.Executor(), (w+1)%4)
							s.Leave()
						})
					}
				}
				s.Leave() // the lead
				kids.Wait()
				s.Leave() // one too many: no effect
				table.Stats()
			}
		})
	}
	wg.Wait()
	st := table.Stats()
	if st.Live != 0 || st.Released+st.Unanchored != workers*leads {
		t.Fatalf("stats %+v after %d leads", st, workers*leads)
	}
}

// TestZeroValues: the zero Sticky pins nothing and the zero Seeds anchors
// nothing, without panicking; an empty set has no executor.
func TestZeroValues(t *testing.T) {
	var s Sticky
	if e, pinned := s.Place(1, span(0, 3), 2); pinned || e != Rendezvous(1, span(0, 3)) {
		t.Fatalf("zero Sticky placed on %d, pinned %v", e, pinned)
	}
	s.Release(1)
	if e := s.Repin(1, span(0, 3), 2); e != Rendezvous(1, span(0, 3)) {
		t.Fatalf("zero Sticky re-placed on %d", e)
	}
	if st := s.Stats(); st != (StickyStats{Hashed: 1}) {
		t.Fatalf("zero Sticky stats %+v", st)
	}
	var seeds Seeds
	if seeds.Lead(1, nil, 0, 0) != nil || seeds.Stats() != (SeedStats{Unanchored: 1}) {
		t.Fatalf("zero Seeds anchored a lead: %+v", seeds.Stats())
	}
	if Rendezvous(1, nil) != -1 {
		t.Fatal("Rendezvous over no executor")
	}
	p := NewSticky(4, time.Minute, nil)
	p.Place(1, span(0, 3), 2)
	if e, pinned := p.Place(1, nil, -1); e != -1 || pinned {
		t.Fatalf("Place over an empty set: %d %v", e, pinned)
	}
	if e, _ := p.Place(1, span(0, 3), 0); e != 2 {
		t.Fatalf("Place over an empty set moved the pin to %d", e)
	}
}
