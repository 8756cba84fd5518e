package anchor

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strconv"
	"testing"
)

// seedModel is the seed table done the obvious way: every seed ever led with
// its pending count, live ones counted by a scan.
type seedModel struct {
	max                  int
	seeds                []*modelSeed
	released, unanchored uint64
}

type modelSeed struct {
	pending int64
	exec    int
}

func (m *seedModel) live() int {
	n := 0
	for _, s := range m.seeds {
		if s.pending > 0 {
			n++
		}
	}
	return n
}

func (m *seedModel) lead(exec int) *modelSeed {
	if m.live() >= m.max {
		m.unanchored++
		return nil
	}
	s := &modelSeed{pending: 1, exec: exec}
	m.seeds = append(m.seeds, s)
	return s
}

func (m *seedModel) join(s *modelSeed) bool {
	if s.pending == 0 {
		return false
	}
	s.pending++
	return true
}

func (m *seedModel) leave(s *modelSeed) {
	if s.pending == 0 {
		return
	}
	if s.pending--; s.pending == 0 {
		m.released++
	}
}

func (m *seedModel) move(s *modelSeed, from, to int) int {
	if s.exec == from {
		s.exec = to
	}
	return s.exec
}

// naiveSeedID is the seed's identity as DESIGN.md states it: SHA-256 of the
// token id, ":" and the call names, sorted and deduplicated, each as an
// 8-byte length and its bytes.
func naiveSeedID(tokenID uint64, calls []string) [32]byte {
	set := map[string]bool{}
	for _, c := range calls {
		set[c] = true
	}
	var sorted []string
	for c := range set {
		sorted = append(sorted, c)
	}
	sort.Strings(sorted)
	b := []byte(strconv.FormatUint(tokenID, 10) + ":")
	for _, c := range sorted {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(c)))
		b = append(b, c...)
	}
	return sha256.Sum256(b)
}

// callLists are the external calls a lead of a FuzzSeeds program names.
var callLists = [][]string{nil, {"fetch"}, {"fetch", "parse"}, {"parse", "fetch", "fetch"}, {"a", "bc"}, {"ab", "c"}}

// seedOp is one operation of a FuzzSeeds program, two bytes: a lead, or a
// join, leave or move of the seed led seedOp.arg leads ago.
type seedOp struct {
	kind byte // leadOp..moveOp
	arg  byte // leadOp: the call list; else which seed, counted back from the last
	x    byte // leadOp: token id, executor and class; moveOp: from and to
}

const (
	leadOp = iota
	joinOp
	leaveOp
	moveOp
	seedOps
)

func seedProgram(ops ...seedOp) []byte {
	var b []byte
	for _, o := range ops {
		b = append(b, o.kind+seedOps*o.arg, o.x)
	}
	return b
}

// FuzzSeeds runs a program of leads, joins, leaves and moves on a small table
// and on seedModel, checking after every step that they agree, that the table
// holds at most its cap, that a seed is released exactly when its last token
// leaves, and that its id is the SHA-256 DESIGN.md gives.
func FuzzSeeds(f *testing.F) {
	// TestSeedLifecycle: cap 1, a lead past it is unanchored; two children
	// join; release at zero frees the slot; a late join and leave do nothing.
	f.Add(uint8(1), seedProgram(
		seedOp{leadOp, 2, 42}, seedOp{leadOp, 2, 43}, seedOp{joinOp, 0, 0}, seedOp{joinOp, 0, 0},
		seedOp{leaveOp, 0, 0}, seedOp{leaveOp, 0, 0}, seedOp{leaveOp, 0, 0}, seedOp{joinOp, 0, 0},
		seedOp{leaveOp, 0, 0}, seedOp{leadOp, 3, 44}))
	// TestSeedMove: a move, then a stale one.
	f.Add(uint8(4), seedProgram(
		seedOp{leadOp, 0, 2}, seedOp{moveOp, 0, 2 | 0<<4}, seedOp{moveOp, 0, 2 | 1<<4}, seedOp{moveOp, 0, 0 | 3<<4}))
	// Several seeds at the cap, released out of order.
	f.Add(uint8(3), seedProgram(
		seedOp{leadOp, 4, 1}, seedOp{leadOp, 5, 2}, seedOp{leadOp, 1, 3}, seedOp{leadOp, 1, 4},
		seedOp{joinOp, 1, 0}, seedOp{leaveOp, 2, 0}, seedOp{leadOp, 0, 5}, seedOp{leaveOp, 2, 0},
		seedOp{leaveOp, 2, 0}, seedOp{leadOp, 0, 6}, seedOp{leadOp, 0, 7}))
	// Cap 0: every lead is unanchored.
	f.Add(uint8(0), seedProgram(seedOp{leadOp, 0, 1}, seedOp{joinOp, 0, 0}, seedOp{leaveOp, 0, 0}))
	f.Fuzz(func(t *testing.T, size uint8, prog []byte) {
		m := &seedModel{max: int(size % 5)}
		table := NewSeeds(m.max)
		var seeds []*Seed
		if len(prog) > 2*maxOps {
			prog = prog[:2*maxOps]
		}
		for len(prog) >= 2 {
			o := seedOp{prog[0] % seedOps, prog[0] / seedOps, prog[1]}
			prog = prog[2:]
			if o.kind == leadOp {
				calls := callLists[int(o.arg)%len(callLists)]
				id, exec, class := uint64(o.x), int(o.x%8), int(o.x%3)
				s := table.Lead(id, CallsEncoding(calls), exec, class)
				ms := m.lead(exec)
				if (s == nil) != (ms == nil) {
					t.Fatalf("lead %d: got %v, model anchored it %v", id, s, ms != nil)
				}
				if s != nil {
					if s.ID != naiveSeedID(id, calls) || s.Executor() != exec || s.Class != class {
						t.Fatalf("lead %d of %q on %d class %d: seed %x on %d class %d", id, calls, exec, class, s.ID, s.Executor(), s.Class)
					}
					seeds = append(seeds, s)
				}
			} else if len(seeds) > 0 {
				i := len(seeds) - 1 - int(o.arg)%len(seeds)
				s, ms := seeds[i], m.seeds[i]
				switch o.kind {
				case joinOp:
					if got, want := s.Join(), m.join(ms); got != want {
						t.Fatalf("join of seed %d: %v, model %v", i, got, want)
					}
				case leaveOp:
					s.Leave()
					m.leave(ms)
				case moveOp:
					from, to := int(o.x%16), int(o.x/16)
					if got, want := s.Move(from, to), m.move(ms, from, to); got != want {
						t.Fatalf("move of seed %d from %d to %d: on %d, model %d", i, from, to, got, want)
					}
				}
			}
			want := SeedStats{Live: m.live(), Released: m.released, Unanchored: m.unanchored}
			st := table.Stats()
			if st != want {
				t.Fatalf("after %+v: stats %+v, model %+v", o, st, want)
			}
			if st.Live > m.max {
				t.Fatalf("%d live seeds, cap %d", st.Live, m.max)
			}
			for i, s := range seeds {
				if ms := m.seeds[i]; s.pending.Load() != ms.pending || s.Executor() != ms.exec {
					t.Fatalf("after %+v: seed %d has %d pending on %d, model %+v", o, i, s.pending.Load(), s.Executor(), *ms)
				}
			}
		}
	})
}
