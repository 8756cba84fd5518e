package anchor

import (
	"slices"
	"testing"
	"time"
)

// stickyModel is the pin table done the obvious way: a slice searched
// linearly, every rule spelled out. FuzzSticky runs both on the same
// operations and wants the same answers.
type stickyModel struct {
	max, ttl        int64
	pins            []modelPin
	nextSweep       int64
	evicted, hashed uint64
	hashing         int64 // hashed tokens in flight
}

type modelPin struct {
	key                 uint64
	exec                int
	inflight, idleSince int64
}

func (m *stickyModel) find(key uint64) *modelPin {
	for i := range m.pins {
		if m.pins[i].key == key {
			return &m.pins[i]
		}
	}
	return nil
}

// rendezvous picks the executor with the highest score, the last of equals.
func (m *stickyModel) rendezvous(key uint64, set []int) int {
	best := -1
	var bestScore uint64
	for _, i := range set {
		score := mix64(key ^ (uint64(i)+1)*0x9e3779b97f4a7c15)
		if best == -1 || score >= bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

func (m *stickyModel) place(key uint64, set []int, next int, count bool, now int64) (int, bool) {
	if len(set) == 0 {
		return -1, false
	}
	if p := m.find(key); p != nil {
		if !slices.Contains(set, p.exec) {
			p.exec = next
		}
		if count {
			p.inflight++
		}
		return p.exec, true
	}
	if !count {
		return m.rendezvous(key, set), false
	}
	if int64(len(m.pins)) >= m.max {
		m.sweep(false, now)
	}
	if int64(len(m.pins)) >= m.max {
		m.hashed++
		m.hashing++
		return m.rendezvous(key, set), false
	}
	if m.hashing > 0 {
		next = m.rendezvous(key, set) // where the key's hashed tokens may be
	}
	m.pins = append(m.pins, modelPin{key: key, exec: next, inflight: 1})
	return next, true
}

func (m *stickyModel) unhash() {
	if m.hashing > 0 {
		m.hashing--
	}
}

func (m *stickyModel) release(key uint64, now int64) {
	if p := m.find(key); p != nil && p.inflight > 0 {
		p.inflight--
		if p.inflight == 0 {
			p.idleSince = now
		}
	}
}

func (m *stickyModel) sweep(force bool, now int64) {
	if len(m.pins) == 0 || !force && now < m.nextSweep {
		return
	}
	m.nextSweep = now + m.ttl/4
	var kept []modelPin
	for _, p := range m.pins {
		if p.inflight == 0 && now-p.idleSince > m.ttl {
			m.evicted++
		} else {
			kept = append(kept, p)
		}
	}
	m.pins = kept
}

// stickyOp is one operation of a FuzzSticky program, three bytes.
type stickyOp struct {
	kind byte // placeOp..unhashOp
	key  byte // 0-7
	set  byte // executors 0-7 as bits; for advanceOp, the nanoseconds (0-15)
	pick byte // index of next in the set
}

const (
	placeOp = iota
	releaseOp
	repinOp
	advanceOp
	sweepOp
	unhashOp
	stickyOps
)

func stickyProgram(ops ...stickyOp) []byte {
	var b []byte
	for _, o := range ops {
		b = append(b, o.kind+stickyOps*o.key, o.set, o.pick)
	}
	return b
}

// maxOps bounds a fuzz input's operations, so each input runs in microseconds.
const maxOps = 96

// FuzzSticky runs a program of placements, releases, re-placements, clock
// steps and sweeps on a small table and on stickyModel, checking after every
// step that they agree, that the table holds at most its cap, that placements
// land in the set, and that a key with a token in flight keeps its pin.
func FuzzSticky(f *testing.F) {
	const (
		all  = 0b1111 // executors 0-3
		down = 0b1011 // executor 2 went down
	)
	// TestStickySameKeySameExecutor: first placement pins, later ones follow.
	f.Add(uint8(4), uint8(8), stickyProgram(
		stickyOp{placeOp, 7, all, 2}, stickyOp{placeOp, 7, all, 0}, stickyOp{placeOp, 7, 0b1000, 0},
		stickyOp{placeOp, 7, all, 1}))
	// TestStickyRepinsOffDownExecutor.
	f.Add(uint8(4), uint8(8), stickyProgram(
		stickyOp{placeOp, 7, all, 2}, stickyOp{placeOp, 1, all, 1}, stickyOp{repinOp, 7, down, 2},
		stickyOp{repinOp, 7, down, 0}, stickyOp{repinOp, 1, down, 2}, stickyOp{releaseOp, 7, 0, 0},
		stickyOp{releaseOp, 7, 0, 0}, stickyOp{repinOp, 5, down, 0}))
	// TestStickyEvictsOnlyIdlePinsAfterTTL: cap 2, key 2 stays in flight.
	f.Add(uint8(2), uint8(8), stickyProgram(
		stickyOp{placeOp, 1, 0b11, 0}, stickyOp{placeOp, 2, 0b11, 1}, stickyOp{releaseOp, 1, 0, 0},
		stickyOp{advanceOp, 0, 4, 0}, stickyOp{sweepOp, 0, 0, 0}, stickyOp{advanceOp, 0, 8, 0},
		stickyOp{sweepOp, 0, 0, 0}, stickyOp{placeOp, 3, 0b11, 0}, stickyOp{placeOp, 4, 0b11, 0}))
	// A full table sweeps on its own, at most once per quarter TTL.
	f.Add(uint8(1), uint8(16), stickyProgram(
		stickyOp{placeOp, 1, all, 0}, stickyOp{releaseOp, 1, 0, 0}, stickyOp{placeOp, 2, all, 1},
		stickyOp{advanceOp, 0, 15, 0}, stickyOp{advanceOp, 0, 2, 0}, stickyOp{placeOp, 2, all, 1},
		stickyOp{placeOp, 3, all, 3}, stickyOp{advanceOp, 0, 4, 0}, stickyOp{placeOp, 3, all, 3}))
	// The boundaries: a pin idle exactly the TTL stays; a full table sweeps
	// again only a quarter TTL later, and then evicts.
	f.Add(uint8(1), uint8(8), stickyProgram(
		stickyOp{placeOp, 1, all, 0}, stickyOp{releaseOp, 1, 0, 0}, stickyOp{advanceOp, 0, 8, 0},
		stickyOp{placeOp, 2, all, 1}, stickyOp{advanceOp, 0, 1, 0}, stickyOp{placeOp, 3, all, 2},
		stickyOp{advanceOp, 0, 1, 0}, stickyOp{placeOp, 3, all, 2}))
	// A key hashed while the table was full is pinned where it was hashed
	// once an idle pin expires, while its hashed token is in flight; after
	// Unhash, a new key is pinned to the staggered choice again.
	f.Add(uint8(1), uint8(8), stickyProgram(
		stickyOp{placeOp, 1, all, 0}, stickyOp{releaseOp, 1, 0, 0}, stickyOp{placeOp, 2, all, 1},
		stickyOp{advanceOp, 0, 9, 0}, stickyOp{placeOp, 2, all, 1}, stickyOp{unhashOp, 0, 0, 0},
		stickyOp{releaseOp, 2, 0, 0}, stickyOp{advanceOp, 0, 9, 0}, stickyOp{placeOp, 3, all, 2}))
	// Cap 0 and an empty set: nothing is pinned, nowhere to place.
	f.Add(uint8(0), uint8(0), stickyProgram(
		stickyOp{placeOp, 1, all, 0}, stickyOp{placeOp, 1, 0, 0}, stickyOp{repinOp, 1, 0, 0},
		stickyOp{releaseOp, 1, 0, 0}, stickyOp{sweepOp, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, size, ttl uint8, prog []byte) {
		clk := &fakeClock{}
		m := &stickyModel{max: int64(size % 6), ttl: int64(ttl % 32)}
		s := NewSticky(int(m.max), time.Duration(m.ttl), clk.now)
		inflight := map[uint64]int32{} // tokens placed pinned and not released
		if len(prog) > 3*maxOps {
			prog = prog[:3*maxOps]
		}
		for len(prog) >= 3 {
			o := stickyOp{prog[0] % stickyOps, prog[0] / stickyOps % 8, prog[1], prog[2]}
			prog = prog[3:]
			key := uint64(o.key)
			var set []int
			for i := range 8 {
				if o.set&(1<<i) != 0 {
					set = append(set, i)
				}
			}
			next := -1
			if len(set) > 0 {
				next = set[int(o.pick)%len(set)]
			}
			switch o.kind {
			case placeOp, repinOp:
				count := o.kind == placeOp
				var got int
				pinned := true
				if count {
					got, pinned = s.Place(key, set, next)
				} else {
					got = s.Repin(key, set, next)
				}
				want, wantPinned := m.place(key, set, next, count, clk.t)
				if got != want || count && pinned != wantPinned {
					t.Fatalf("%+v on %v, next %d: got %d %v, model %d %v", o, set, next, got, pinned, want, wantPinned)
				}
				if len(set) > 0 && !slices.Contains(set, got) {
					t.Fatalf("%+v: placed on %d, outside %v", o, got, set)
				}
				if count && pinned {
					inflight[key]++
				}

			case releaseOp:
				s.Release(key)
				m.release(key, clk.t)
				if inflight[key] > 0 {
					inflight[key]--
				}
			case advanceOp:
				clk.advance(time.Duration(o.set % 16))
			case sweepOp:
				sweep(s)
				m.sweep(true, clk.t)
			case unhashOp:
				s.Unhash()
				m.unhash()
			}
			if st := s.Stats(); st != (StickyStats{len(m.pins), m.evicted, m.hashed}) {
				t.Fatalf("after %+v: stats %+v, model %d pins, %d evicted, %d hashed", o, st, len(m.pins), m.evicted, m.hashed)
			}
			if int64(len(s.pins)) > max(m.max, 0) {
				t.Fatalf("%d pins, cap %d", len(s.pins), m.max)
			}
			for _, p := range m.pins {
				if got := s.pins[p.key]; int(got.exec) != p.exec || int64(got.inflight) != p.inflight || got.idleSince != p.idleSince {
					t.Fatalf("after %+v: key %d pinned %+v, model %+v", o, p.key, got, p)
				}
			}
			for k, n := range inflight {
				if p, ok := s.pins[k]; n > 0 && (!ok || p.inflight != n) {
					t.Fatalf("key %d has %d tokens in flight, pin %+v (present %v)", k, n, p, ok)
				}
			}
		}
	})
}
