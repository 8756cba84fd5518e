package anchor

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sticky is the bounded pin table. Its methods are safe for concurrent use and
// allocate nothing once a key has an entry. The zero Sticky has a cap of 0:
// every key is placed by [Rendezvous].
type Sticky struct {
	mu        sync.Mutex
	pins      map[uint64]pin
	max       int
	ttl       int64 // nanoseconds
	now       func() int64
	nextSweep int64
	hashing   int // tokens placed by Rendezvous (the table full) and not yet Unhashed

	evicted atomic.Uint64
	hashed  atomic.Uint64
}

type pin struct {
	exec      int32
	inflight  int32
	idleSince int64 // when inflight last dropped to 0
}

// NewSticky returns a table of at most max pins, each evictable once idle for
// ttl. now is a monotonic clock in nanoseconds; nil means the process clock.
func NewSticky(max int, ttl time.Duration, now func() int64) *Sticky {
	if now == nil {
		start := time.Now()
		now = func() int64 { return int64(time.Since(start)) }
	}
	return &Sticky{pins: make(map[uint64]pin), max: max, ttl: int64(ttl), now: now}
}

// Place decides the executor for a token with key whose class may use the
// executors in set; next is the executor staggered selection would pick. A pin
// on an executor in set wins; a key without a pin is pinned to next; a pin
// outside set (its executor went down, or the class range does not include it)
// is moved to next. When the table is full even after evicting expired pins,
// the key gets no entry and Place returns Rendezvous(key, set) with pinned
// false. When pinned is true the token counts as in flight until
// [Sticky.Release]; when it is false, as hashed until [Sticky.Unhash]. While
// a hashed token is in flight a new key is pinned to Rendezvous(key, set),
// not to next: the key may be one of those hashed, its tokens still queued
// there, and a pin elsewhere would run its next tokens beside them. With set
// empty there is nowhere to place: Place returns -1, false and changes
// nothing.
func (s *Sticky) Place(key uint64, set []int, next int) (exec int, pinned bool) {
	return s.place(key, set, func() int { return next }, nil, true)
}

// PlaceFunc is [Sticky.Place] with next called, under the table's lock,
// only when the key needs it: for a new pin, or to move a pin outside set.
// A caller that takes a staggered position to pick next takes one only for
// a token that staggering places, not for one that follows its pin. A pin
// outside set with tokens in flight stays where it is when live (if not
// nil) reports its executor live: those tokens are queued or running
// there (set shrank as a range recomputed over fewer executors), and a pin
// moved elsewhere would run the key's next tokens beside them.
func (s *Sticky) PlaceFunc(key uint64, set []int, next func() int, live func(exec int) bool) (exec int, pinned bool) {
	return s.place(key, set, next, live, true)
}

// Repin returns the executor for a token of key placed before that must be
// placed again (its executor went down, or its push found no room): as Place,
// moving the key's pin if it is outside set, but it counts nothing and pins no
// new key (a key without a pin is placed by Rendezvous).
func (s *Sticky) Repin(key uint64, set []int, next int) int {
	return s.RepinFunc(key, set, func() int { return next }, nil)
}

// RepinFunc is [Sticky.Repin] with next called only when the key's pin
// moves, and a pin with tokens in flight on a live executor kept, as for
// [Sticky.PlaceFunc].
func (s *Sticky) RepinFunc(key uint64, set []int, next func() int, live func(exec int) bool) int {
	exec, _ := s.place(key, set, next, live, false)
	return exec
}

func (s *Sticky) place(key uint64, set []int, next func() int, live func(int) bool, count bool) (int, bool) {
	if len(set) == 0 {
		return -1, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pins[key]
	if ok {
		if !slices.Contains(set, int(p.exec)) && (p.inflight == 0 || live == nil || !live(int(p.exec))) {
			p.exec = int32(next())
		}
		if count {
			p.inflight++
		}
		s.pins[key] = p
		return int(p.exec), true
	}
	if !count {
		return Rendezvous(key, set), false
	}
	if len(s.pins) >= s.max {
		s.sweepLocked(false)
	}
	if len(s.pins) >= s.max {
		s.hashed.Add(1)
		s.hashing++
		return Rendezvous(key, set), false
	}
	var exec int
	if s.hashing > 0 {
		exec = Rendezvous(key, set)
	} else {
		exec = next()
	}
	s.pins[key] = pin{exec: int32(exec), inflight: 1}
	return exec, true
}

// Unhash ends one token that Place placed by Rendezvous (pinned false). With
// none in flight it does nothing.
func (s *Sticky) Unhash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hashing > 0 {
		s.hashing--
	}
}

// Release ends one in-flight token of key, one that Place counted (pinned
// true); the pin becomes evictable when none is left. With nothing in flight
// for key it does nothing.
func (s *Sticky) Release(key uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pins[key]
	if !ok || p.inflight == 0 {
		return
	}
	p.inflight--
	if p.inflight == 0 {
		p.idleSince = s.now()
	}
	s.pins[key] = p
}

// sweepLocked evicts every pin with nothing in flight that has been idle past
// the TTL. Unless forced it scans at most once per quarter TTL, so a full table
// of busy pins costs a scan now and then, not per key.
func (s *Sticky) sweepLocked(force bool) {
	if len(s.pins) == 0 {
		return // nothing to evict (and a zero Sticky has no clock)
	}
	now := s.now()
	if !force && now < s.nextSweep {
		return
	}
	s.nextSweep = now + s.ttl/4
	for k, p := range s.pins {
		if p.inflight == 0 && now-p.idleSince > s.ttl {
			delete(s.pins, k)
			s.evicted.Add(1)
		}
	}
}

// StickyStats counts the table's state.
type StickyStats struct {
	Pins    int    // live pins
	Evicted uint64 // pins evicted after idling past the TTL
	Hashed  uint64 // placements by rendezvous hashing because the table was full
}

// Stats returns the table's counts.
func (s *Sticky) Stats() StickyStats {
	s.mu.Lock()
	n := len(s.pins)
	s.mu.Unlock()
	return StickyStats{Pins: n, Evicted: s.evicted.Load(), Hashed: s.hashed.Load()}
}

// Rendezvous returns the executor in set with the highest hash score for key
// (highest random weight): stable for a key while the set is, and when the set
// changes only the keys of the executors that left move. It returns -1 for an
// empty set.
func Rendezvous(key uint64, set []int) int {
	best, bestScore := -1, uint64(0)
	for _, i := range set {
		if score := mix64(key ^ (uint64(i)+1)*0x9e3779b97f4a7c15); score >= bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// mix64 is splitmix64's finalizer: a cheap, well-spread 64-bit mix.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// MixKey combines the hash of an op name with a key from a user's key function,
// so two ops' keys do not collide by construction.
func MixKey(opHash, key uint64) uint64 { return mix64(opHash ^ mix64(key)) }
