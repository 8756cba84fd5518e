package anchor

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"sync/atomic"
)

// Seed anchors a lead token and its children to one executor. Its methods are
// safe for concurrent use; Join and Leave allocate nothing.
type Seed struct {
	// ID is the seed's identity: SHA-256 of the lead's token id (decimal), ":"
	// and the canonical encoding of its external call names ([CallsEncoding]).
	// Set by [Seeds.Lead]; the table does not depend on it.
	ID [32]byte
	// Class is the lead's weight class, for placing the seed again when its
	// executor goes down. Set by [Seeds.Lead].
	Class   int
	exec    atomic.Int32
	pending atomic.Int64 // tokens not yet resolved; 0 once released, never below
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

// Leave counts one terminal outcome of the lead or of a child that joined; the
// last one releases the seed. Once the seed is released Leave does nothing, so
// the table's count of live seeds stays exact whatever the calls.
func (s *Seed) Leave() {
	for {
		n := s.pending.Load()
		if n <= 0 {
			return
		}
		if s.pending.CompareAndSwap(n, n-1) {
			if n == 1 {
				s.table.release()
			}
			return
		}
	}
}

// Seeds is the bounded seed table; safe for concurrent use. It needs no entry
// per seed: a seed is reached through the tokens that carry it, never looked
// up, so the table only counts the live ones against its cap. The zero Seeds
// has a cap of 0: every lead runs unanchored.
type Seeds struct {
	max        int64
	live       atomic.Int64
	released   atomic.Uint64
	unanchored atomic.Uint64
}

// NewSeeds returns a table of at most max live seeds.
func NewSeeds(max int) *Seeds { return &Seeds{max: int64(max)} }

// CallsEncoding returns the canonical encoding of a lead's external call names:
// sorted, without duplicates, each as an 8-byte little-endian length and its bytes.
func CallsEncoding(calls []string) []byte {
	calls = slices.Compact(slices.Sorted(slices.Values(calls)))
	var b []byte
	for _, c := range calls {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// seedID returns SHA-256 of the lead's token id (decimal), ":" and the encoded
// external call names.
func seedID(tokenID uint64, calls []byte) [32]byte {
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
	for {
		n := t.live.Load()
		if n >= t.max {
			t.unanchored.Add(1)
			return nil
		}
		if t.live.CompareAndSwap(n, n+1) {
			break
		}
	}
	s := &Seed{ID: seedID(tokenID, calls), Class: class, table: t}
	s.exec.Store(int32(exec))
	s.pending.Store(1)
	return s
}

// release frees a seed's slot; Leave calls it once per seed, at zero.
func (t *Seeds) release() {
	t.released.Add(1)
	t.live.Add(-1)
}

// SeedStats counts the table's state.
type SeedStats struct {
	Live       int    // seeds with tokens pending
	Released   uint64 // seeds whose pending count reached zero
	Unanchored uint64 // leads run without a seed because the table was full
}

// Stats returns the table's counts. Each is exact; taken while leads come and
// go they are not one snapshot.
func (t *Seeds) Stats() SeedStats {
	return SeedStats{Live: int(t.live.Load()), Released: t.released.Load(), Unanchored: t.unanchored.Load()}
}
