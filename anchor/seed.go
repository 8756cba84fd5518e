package anchor

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// Seed anchors a lead token and its children to one executor.
type Seed struct {
	ID      [32]byte
	Class   int // the lead's weight class, for placing the seed again
	exec    atomic.Int32
	pending atomic.Int64
	table   *Seeds
}

// Executor returns the executor the seed's tokens run on.
func (s *Seed) Executor() int { return int(s.exec.Load()) }

// Move moves the seed from executor from (which went down) to executor to, all
// of it: every later token of the seed goes to to. It returns the seed's
// executor after the call, which is another one if someone moved it first.
func (s *Seed) Move(from, to int) int {
	if s.exec.CompareAndSwap(int32(from), int32(to)) {
		return to
	}
	return s.Executor()
}

// Join counts one more pending child, before it is enqueued. It returns false
// when the seed was already released; the child is then placed as an ordinary
// token.
func (s *Seed) Join() bool {
	for {
		n := s.pending.Load()
		if n <= 0 {
			return false
		}
		if s.pending.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Leave counts one terminal outcome; the last one releases the seed.
func (s *Seed) Leave() {
	if s.pending.Add(-1) == 0 {
		s.table.release(s)
	}
}

// Pending returns the number of tokens of the seed not yet resolved.
func (s *Seed) Pending() int64 { return s.pending.Load() }

// Seeds is the bounded seed table; safe for concurrent use.
type Seeds struct {
	mu         sync.Mutex
	live       map[[32]byte]*Seed
	max        int
	released   atomic.Uint64
	unanchored atomic.Uint64
}

// NewSeeds returns a table of at most max live seeds.
func NewSeeds(max int) *Seeds {
	return &Seeds{live: make(map[[32]byte]*Seed), max: max}
}

// CallsEncoding returns the canonical encoding of a lead's external call names:
// sorted, without duplicates, each as an 8-byte length and its bytes.
func CallsEncoding(calls []string) []byte {
	calls = slices.Compact(slices.Sorted(slices.Values(calls)))
	var b []byte
	for _, c := range calls {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// SeedID returns SHA-256 of the lead's token id (decimal), ":" and the encoded
// external call names.
func SeedID(tokenID uint64, calls []byte) [32]byte {
	h := sha256.New()
	var buf [20]byte
	h.Write(strconv.AppendUint(buf[:0], tokenID, 10))
	h.Write([]byte{':'})
	h.Write(calls)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// Lead creates the seed of a lead token of weight class class placed on exec,
// with pending 1 for the lead. It returns nil, counting an unanchored lead, when
// the table is full.
func (t *Seeds) Lead(tokenID uint64, calls []byte, exec, class int) *Seed {
	s := &Seed{ID: SeedID(tokenID, calls), Class: class, table: t}
	s.exec.Store(int32(exec))
	s.pending.Store(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.live) >= t.max {
		t.unanchored.Add(1)
		return nil
	}
	t.live[s.ID] = s
	return s
}

func (t *Seeds) release(s *Seed) {
	t.mu.Lock()
	delete(t.live, s.ID)
	t.mu.Unlock()
	t.released.Add(1)
}

// SeedStats counts the table's state.
type SeedStats struct {
	Live       int    // seeds with tokens pending
	Released   uint64 // seeds whose pending count reached zero
	Unanchored uint64 // leads run without a seed because the table was full
}

// Stats returns the table's counts.
func (t *Seeds) Stats() SeedStats {
	t.mu.Lock()
	n := len(t.live)
	t.mu.Unlock()
	return SeedStats{Live: n, Released: t.released.Load(), Unanchored: t.unanchored.Load()}
}
