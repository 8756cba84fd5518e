package anchor

import (
	"bytes"
	"crypto/sha256"
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type pair struct{ A, B string }

type mixed struct {
	Name  string
	Blob  []byte
	Ok    bool
	N     int64
	Small int8
	U     uint16
	F     float64
	Arr   [2]int32
}

func encoderOf[T any](t testing.TB) *Encoder {
	t.Helper()
	e, err := NewEncoder(reflect.TypeFor[T]())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func encoding[T any](e *Encoder, v T) []byte { return e.appendEncoding(nil, unsafe.Pointer(&v)) }

func TestEncodingIsUnambiguous(t *testing.T) {
	e := encoderOf[pair](t)
	if bytes.Equal(encoding(e, pair{"ab", "c"}), encoding(e, pair{"a", "bc"})) {
		t.Fatal(`("ab","c") and ("a","bc") encode alike`)
	}
	if e.key("op", unsafe.Pointer(&pair{"ab", "c"})) == e.key("op", unsafe.Pointer(&pair{"a", "bc"})) {
		t.Fatal(`("ab","c") and ("a","bc") share a key`)
	}
	// The op name is part of the key, length-prefixed too.
	s := encoderOf[string](t)
	a, b := "b", "c"
	if s.key("a", unsafe.Pointer(&a)) == s.key("ab", unsafe.Pointer(&b)) {
		t.Fatal("op name and argument run together")
	}
}

func TestEncodingOfEveryKind(t *testing.T) {
	e := encoderOf[mixed](t)
	v := mixed{Name: "k", Blob: []byte{7}, Ok: true, N: -1, Small: -2, U: 3, F: 1.5, Arr: [2]int32{4, 5}}
	got := encoding(e, v)
	// name: len 1 + 'k' (9), blob: len 1 + 7 (9), bool (1), int8 (1), three
	// 8-byte numbers, two 8-byte array elements.
	if want := 9 + 9 + 1 + 1 + 8*3 + 8*2; len(got) != want {
		t.Fatalf("encoding is %d bytes, want %d", len(got), want)
	}
	v2 := v
	v2.Arr[1] = 6
	if bytes.Equal(got, encoding(e, v2)) {
		t.Fatal("array element change not encoded")
	}
	if e.key("op", unsafe.Pointer(&v)) != e.key("op", unsafe.Pointer(&v)) {
		t.Fatal("key is not deterministic")
	}
}

// TestUnencodableTypes: the error says what is wrong once, naming the field
// path within the type when the culprit is inside it.
func TestUnencodableTypes(t *testing.T) {
	type inner struct{ P *int }
	type outer struct {
		N  int
		In inner
	}
	const hint = "; use a key function instead"
	for _, tt := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[map[string]int](), "anchor: map[string]int has no canonical encoding (maps have no order)" + hint},
		{reflect.TypeFor[*int](), "anchor: *int has no canonical encoding (a pointer is an address, not a value)" + hint},
		{reflect.TypeFor[unsafe.Pointer](), "anchor: unsafe.Pointer has no canonical encoding (a pointer is an address, not a value)" + hint},
		{reflect.TypeFor[[]int](), "anchor: []int has no canonical encoding (only byte slices encode)" + hint},
		{reflect.TypeFor[any](), "anchor: interface {} has no canonical encoding (an interface may hold any type)" + hint},
		{reflect.TypeFor[func()](), "anchor: func() has no canonical encoding (functions have no value to encode)" + hint},
		{reflect.TypeFor[complex128](), "anchor: complex128 has no canonical encoding (complex128 values are not encoded)" + hint},
		{reflect.TypeFor[struct {
			A string
			C chan int
		}](), "anchor: field C of struct { A string; C chan int } is chan int, which has no canonical encoding (channels have no value to encode)" + hint},
		{reflect.TypeFor[outer](), "anchor: field In.P of anchor.outer is *int, which has no canonical encoding (a pointer is an address, not a value)" + hint},
		{reflect.TypeFor[[3]outer](), "anchor: element [0].In.P of [3]anchor.outer is *int, which has no canonical encoding (a pointer is an address, not a value)" + hint},
		{reflect.TypeFor[struct{ M [2]map[int]int }](), "anchor: field M[0] of struct { M [2]map[int]int } is map[int]int, which has no canonical encoding (maps have no order)" + hint},
		{reflect.TypeFor[[1 << 20]byte](), "anchor: [1048576]uint8 is too large to encode (more than 65536 fields and elements)" + hint},
		{reflect.TypeFor[struct {
			A [1 << 16]bool
			B int
		}](), "anchor: struct { A [65536]bool; B int } is too large to encode (more than 65536 fields and elements)" + hint},
	} {
		_, err := NewEncoder(tt.typ)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewEncoder(%v): error %v\nwant %s", tt.typ, err, tt.want)
		}
	}
}

// TestEncodableEdgeTypes: empty and zero-size arrays encode to nothing, at
// once however long; arrays of structs encode element by element.
func TestEncodableEdgeTypes(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[struct{}](),
		reflect.TypeFor[[0]map[int]int](),
		reflect.TypeFor[[math.MaxInt / 2]struct{}](),
		reflect.TypeFor[[1 << 16]bool](),
	} {
		if _, err := NewEncoder(typ); err != nil {
			t.Errorf("NewEncoder(%v): %v", typ, err)
		}
	}
	type elem struct {
		S string
		B bool
	}
	e := encoderOf[[2]elem](t)
	got := encoding(e, [2]elem{{"a", true}, {"bc", false}})
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 'a', 1, 2, 0, 0, 0, 0, 0, 0, 0, 'b', 'c', 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding %v, want %v", got, want)
	}
}

func TestKeyAllocatesNothing(t *testing.T) {
	e := encoderOf[mixed](t)
	v := mixed{Name: "some key", Blob: []byte("blob"), N: 42}
	if n := testing.AllocsPerRun(1000, func() { e.key("op", unsafe.Pointer(&v)) }); n != 0 {
		t.Fatalf("Key allocated %.1f times", n)
	}
}

// span returns the executors lo..hi, as a router's live set.
func span(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

// TestStickyRepinsOffDownExecutor: executor 2 goes down (the live set loses
// it); the pin moves to the staggered choice once, without counting the token
// again, and stays there; pins elsewhere do not move.
func TestStickyRepinsOffDownExecutor(t *testing.T) {
	s := NewSticky(100, time.Minute, nil)
	if e, _ := s.Place(7, span(0, 3), 2); e != 2 {
		t.Fatal(e)
	}
	if e, _ := s.Place(8, span(0, 3), 1); e != 1 {
		t.Fatal(e)
	}
	live := []int{0, 1, 3}
	if e := s.Repin(7, live, 3); e != 3 {
		t.Fatalf("pin on a down executor re-placed on %d, want 3", e)
	}
	if e := s.Repin(7, live, 0); e != 3 {
		t.Fatalf("re-placed pin moved again to %d", e)
	}
	if e := s.Repin(8, live, 3); e != 1 {
		t.Fatalf("pin on a live executor moved to %d", e)
	}
	// Repin did not count: one Release ends key 7's only token.
	s.Release(7)
	if p := s.pins[7]; p.inflight != 0 {
		t.Fatalf("key 7 has %d in flight after its one token ended", p.inflight)
	}
	// An unknown key (hashed at placement) is hashed over the live set.
	if e := s.Repin(99, live, 0); e != Rendezvous(99, live) {
		t.Fatalf("unpinned key re-placed on %d", e)
	}
}

func TestSeedMove(t *testing.T) {
	s := NewSeeds(4).Lead(1, nil, 2, 1)
	if got := s.Move(2, 0); got != 0 || s.Executor() != 0 {
		t.Fatalf("Move(2, 0) = %d, seed on %d", got, s.Executor())
	}
	// A second mover that saw the old executor finds it moved already.
	if got := s.Move(2, 1); got != 0 {
		t.Fatalf("stale Move moved the seed to %d", got)
	}
}

type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64              { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t += int64(d) }

// sweep evicts every expired pin now, as a full table does at most once per
// quarter TTL.
func sweep(s *Sticky) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(true)
}

func TestStickySameKeySameExecutor(t *testing.T) {
	s := NewSticky(100, time.Minute, nil)
	first, pinned := s.Place(7, span(0, 3), 2)
	if !pinned || first != 2 {
		t.Fatalf("first placement = %d %v, want the staggered choice 2, pinned", first, pinned)
	}
	for next := range 4 {
		if got, _ := s.Place(7, span(0, 3), next); got != first {
			t.Fatalf("key moved to %d", got)
		}
	}
	// Out of the class's range: re-placed on the staggered choice.
	if got, _ := s.Place(7, span(3, 3), 3); got != 3 {
		t.Fatalf("out-of-range pin placed on %d, want 3", got)
	}
	if got, _ := s.Place(7, span(0, 3), 0); got != 3 {
		t.Fatalf("moved pin not kept: %d", got)
	}
}

func TestStickyManyKeysSpread(t *testing.T) {
	s := NewSticky(1<<20, time.Minute, nil)
	count := make([]int, 8)
	for k := range uint64(8000) {
		next := int(k % 6) // what the router's round robin over 2..7 would pass
		e, _ := s.Place(mix64(k), span(2, 7), 2+next)
		count[e]++
	}
	if count[0] != 0 || count[1] != 0 {
		t.Fatalf("keys placed outside the range: %v", count)
	}
	for e := 2; e < 8; e++ {
		if count[e] < 1000 {
			t.Fatalf("executor %d got %d of 8000 keys: %v", e, count[e], count)
		}
	}
}

func TestStickyEvictsOnlyIdlePinsAfterTTL(t *testing.T) {
	clk := &fakeClock{}
	s := NewSticky(2, time.Second, clk.now)
	s.Place(1, span(0, 1), 0)
	s.Place(2, span(0, 1), 1)
	s.Release(1)
	clk.advance(500 * time.Millisecond)
	sweep(s)
	if s.Stats().Pins != 2 {
		t.Fatal("pin evicted before its TTL")
	}
	clk.advance(time.Second)
	sweep(s)
	if st := s.Stats(); st.Pins != 1 || st.Evicted != 1 {
		t.Fatalf("after the TTL: %+v, want key 1 evicted and key 2 (in flight) kept", st)
	}
	// Full table (key 2 in flight, key 3 pinned): a new key is hashed.
	s.Place(3, span(0, 1), 0)
	e, pinned := s.Place(4, span(0, 1), 0)
	if pinned || e != Rendezvous(4, span(0, 1)) || s.Stats().Hashed != 1 {
		t.Fatalf("full table: placed %d pinned %v, stats %+v", e, pinned, s.Stats())
	}
}

// TestStickyBoundedUnderMillionKeys streams a million distinct keys with
// releases and a moving clock, checking the cap and the counts after every step.
func TestStickyBoundedUnderMillionKeys(t *testing.T) {
	const max = 1000
	clk := &fakeClock{}
	s := NewSticky(max, time.Millisecond, clk.now)
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var pinnedKeys []uint64
	for k := range uint64(n) {
		e, pinned := s.Place(k, span(1, 4), 1+int(k%4))
		if e < 1 || e > 4 {
			t.Fatalf("key %d placed on %d, outside 1-4", k, e)
		}
		if pinned {
			pinnedKeys = append(pinnedKeys, k)
		}
		if len(pinnedKeys) > 64 { // keep a few in flight, release the rest
			s.Release(pinnedKeys[0])
			pinnedKeys = pinnedKeys[1:]
		}
		clk.advance(time.Microsecond)
		if p := len(s.pins); p > max {
			t.Fatalf("step %d: %d pins, cap %d", k, p, max)
		}
	}
	st := s.Stats()
	// Each distinct key was either pinned (and is live or was evicted) or hashed.
	if st.Evicted == 0 || st.Hashed == 0 || uint64(st.Pins)+st.Evicted+st.Hashed != uint64(n) {
		t.Fatalf("stats %+v after %d keys", st, n)
	}
}

func TestStickyLookupAllocatesNothing(t *testing.T) {
	s := NewSticky(10, time.Minute, nil)
	set := span(0, 1)
	s.Place(5, set, 0)
	if n := testing.AllocsPerRun(1000, func() {
		s.Place(5, set, 1)
		s.Release(5)
	}); n != 0 {
		t.Fatalf("Place+Release of a pinned key allocated %.1f times", n)
	}
}

func TestRendezvous(t *testing.T) {
	count := make([]int, 6)
	for k := range uint64(6000) {
		e := Rendezvous(k, span(2, 5))
		if e < 2 || e > 5 || Rendezvous(k, span(2, 5)) != e {
			t.Fatalf("key %d: %d, not stable or out of range", k, e)
		}
		count[e]++
		// Removing an executor moves only its keys.
		if e != 5 && Rendezvous(k, span(2, 4)) != e {
			t.Fatalf("key %d moved although its executor stayed", k)
		}
	}
	for e := 2; e <= 5; e++ {
		if count[e] < 1200 {
			t.Fatalf("uneven spread %v", count)
		}
	}
}

func TestSeedLifecycle(t *testing.T) {
	table := NewSeeds(1)
	calls := CallsEncoding([]string{"fetch", "parse", "fetch"})
	if !bytes.Equal(calls, CallsEncoding([]string{"parse", "fetch"})) {
		t.Fatal("call encoding depends on order or duplicates")
	}
	want := sha256.Sum256(append([]byte("42:"), calls...))
	s := table.Lead(42, calls, 1, 0)
	if s == nil || s.ID != want || s.Executor() != 1 || s.pending.Load() != 1 {
		t.Fatalf("lead seed %+v", s)
	}
	if table.Lead(43, calls, 0, 0) != nil || table.Stats().Unanchored != 1 {
		t.Fatal("a lead past the cap must run unanchored and be counted")
	}
	if !s.Join() || !s.Join() || s.pending.Load() != 3 {
		t.Fatal("children must join")
	}
	s.Leave() // lead done
	s.Leave() // first child
	if st := table.Stats(); st.Live != 1 || st.Released != 0 {
		t.Fatalf("released early: %+v", st)
	}
	s.Leave()
	if st := table.Stats(); st.Live != 0 || st.Released != 1 {
		t.Fatalf("not released at zero: %+v", st)
	}
	if s.Join() {
		t.Fatal("joined a released seed")
	}
	s.Leave() // one too many: changes nothing
	if st := table.Stats(); st.Live != 0 || st.Released != 1 || s.pending.Load() != 0 {
		t.Fatalf("a Leave past release counted: %+v, pending %d", st, s.pending.Load())
	}
	if table.Lead(44, calls, 0, 0) == nil {
		t.Fatal("a released seed must free its slot")
	}
}

func TestSeedJoinLeaveAllocateNothing(t *testing.T) {
	s := NewSeeds(1).Lead(1, nil, 0, 0)
	if n := testing.AllocsPerRun(1000, func() {
		s.Join()
		s.Leave()
	}); n != 0 {
		t.Fatalf("Join+Leave allocated %.1f times", n)
	}
}

// TestSeedsBoundedUnderMillionLeads streams a million leads, each with children
// joining and leaving, checking the cap and the counts after every step.
func TestSeedsBoundedUnderMillionLeads(t *testing.T) {
	const max = 100
	table := NewSeeds(max)
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var live []*Seed
	for id := range uint64(n) {
		if s := table.Lead(id, nil, int(id%4), 0); s != nil {
			s.Join() // a child
			live = append(live, s)
		}
		if id%2 == 0 && len(live) > 0 { // the oldest lead and its child resolve, at half the rate leads come
			live[0].Leave()
			live[0].Leave()
			live = live[1:]
		}
		if got := int(table.live.Load()); got > max || got != len(live) {
			t.Fatalf("step %d: %d live seeds, cap %d, %d expected", id, got, max, len(live))
		}
	}
	st := table.Stats()
	if st.Unanchored == 0 || st.Released+uint64(st.Live)+st.Unanchored != uint64(n) {
		t.Fatalf("stats %+v after %d leads", st, n)
	}
}

// BenchmarkStickyPlace measures placing a token of a pinned key and releasing
// it, the sticky hot path; it allocates nothing.
func BenchmarkStickyPlace(b *testing.B) {
	s := NewSticky(1<<16, time.Minute, nil)
	set := span(0, 7)
	for k := range uint64(1024) {
		s.Place(k, set, int(k%8))
		s.Release(k)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k := uint64(i) & 1023
		if e, pinned := s.Place(k, set, 0); !pinned || e != int(k%8) {
			b.Fatalf("key %d on %d, pinned %v", k, e, pinned)
		}
		s.Release(k)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
}

// TestStickyHashedKeyPinnedWhereHashed: a key hashed while the table was
// full and pinned once an idle pin expired, its hashed token still in
// flight, is pinned where it was hashed, not on the staggered choice, so
// its tokens stay on one executor; once no hashed token is in flight, new
// keys are pinned to the staggered choice again.
func TestStickyHashedKeyPinnedWhereHashed(t *testing.T) {
	clk := &fakeClock{}
	s := NewSticky(1, time.Second, clk.now)
	set := span(0, 3)
	s.Place(1, set, 0)
	s.Release(1)
	key := uint64(2)
	for Rendezvous(key, set) == 3 {
		key++
	}
	hashed, pinned := s.Place(key, set, 3)
	if pinned || hashed != Rendezvous(key, set) {
		t.Fatalf("key placed on %d (pinned %v) in a full table, want hashed on %d", hashed, pinned, Rendezvous(key, set))
	}
	clk.advance(2 * time.Second)
	if got, pinned := s.Place(key, set, 3); !pinned || got != hashed {
		t.Fatalf("key pinned on %d (pinned %v) with its hashed token in flight on %d", got, pinned, hashed)
	}
	s.Unhash()
	s.Release(key)
	clk.advance(2 * time.Second)
	if got, _ := s.Place(key+1, set, 3); got != 3 {
		t.Fatalf("with no hashed token in flight a new key was pinned on %d, want the staggered 3", got)
	}
}

// TestStickyUnhashWithNoneInFlight: an Unhash with no hashed token in
// flight does nothing, so it cannot cancel a later hashed token's count: a
// new key pinned while that token is in flight still goes where the key was
// hashed, not to the staggered choice.
func TestStickyUnhashWithNoneInFlight(t *testing.T) {
	clk := &fakeClock{}
	s := NewSticky(1, time.Second, clk.now)
	set := span(0, 3)
	s.Unhash()
	s.Place(1, set, 0)
	key := uint64(2)
	for Rendezvous(key, set) == 3 {
		key++
	}
	if _, pinned := s.Place(key, set, 3); pinned {
		t.Fatal("key pinned in a full table")
	}
	s.Release(1)
	clk.advance(2 * time.Second)
	if got, pinned := s.Place(key, set, 3); !pinned || got != Rendezvous(key, set) {
		t.Fatalf("key pinned on %d (pinned %v) with its hashed token in flight on %d", got, pinned, Rendezvous(key, set))
	}
}

// TestStickyKeepsBusyPinOutsideSet: a pin outside set (its range shrank)
// stays on its live executor while tokens of it are in flight there, and
// moves once they ended; on an executor that is not live it moves at once.
func TestStickyKeepsBusyPinOutsideSet(t *testing.T) {
	s := NewSticky(100, time.Minute, nil)
	if e, _ := s.Place(7, []int{2, 3}, 2); e != 2 {
		t.Fatal(e)
	}
	all := func(int) bool { return true }
	next := func() int { return 3 }
	if e, _ := s.PlaceFunc(7, []int{3}, next, all); e != 2 {
		t.Fatalf("busy pin moved to %d, want 2", e)
	}
	if e := s.RepinFunc(7, []int{3}, next, func(i int) bool { return i != 2 }); e != 3 {
		t.Fatalf("pin on a down executor stayed on %d, want 3", e)
	}
	if e, _ := s.Place(8, []int{2, 3}, 2); e != 2 {
		t.Fatal(e)
	}
	s.Release(8)
	if e, _ := s.PlaceFunc(8, []int{3}, next, all); e != 3 {
		t.Fatalf("idle pin outside set stayed on %d, want 3", e)
	}
}
