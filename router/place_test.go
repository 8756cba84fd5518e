package router

import (
	"context"
	"slices"
	"testing"

	"github.com/coregate/coregate/actors"
)

// submitW submits a plain token of class w, as an op without options does.
func (r *Router) submitW(ctx context.Context, w Weight, j actors.Job) (int, error) {
	return -1, r.Submit(ctx, &Rule{Weight: w}, nil, j)
}

// TestDecideTable: placement precedence as a pure function, over live sets
// with holes and unhealthy executors.
func TestDecideTable(t *testing.T) {
	all := func(int) bool { return true }
	except := func(bad ...int) func(int) bool {
		return func(i int) bool { return !slices.Contains(bad, i) }
	}
	for _, tt := range []struct {
		name    string
		live    []int
		healthy func(int) bool
		w       Weight
		seed    int
		pos     uint64
		want    int
	}{
		{"nothing live", nil, all, Heavy, -1, 0, -1},
		{"nothing live, even with a seed", nil, all, Heavy, 0, 0, -1},
		{"heavy staggers from pos", []int{0, 1, 2, 3}, all, Heavy, -1, 6, 2},
		{"light starts at the third", []int{0, 1, 2, 3}, all, Light, -1, 0, 2},
		{"light clamped on two", []int{0, 1}, all, Light, -1, 5, 1},
		{"a live seed wins over the class", []int{0, 1, 2, 3}, all, Light, 0, 0, 0},
		{"a live seed wins over health", []int{0, 1, 2, 3}, except(0), Light, 0, 0, 0},
		{"a down seed is placed by its class", []int{1, 2, 3}, all, Heavy, 0, 0, 1},
		{"unhealthy skipped", []int{0, 1, 2}, except(1), Heavy, -1, 1, 2},
		{"range over live positions", []int{0, 2, 3}, all, Medium, -1, 0, 2},
		{"whole range stalled: healthy ones", []int{0, 1}, except(1), Light, -1, 0, 0},
		{"nothing healthy: own range", []int{0, 1}, except(0, 1), Light, -1, 0, 1},
	} {
		if got := Decide(tt.live, tt.healthy, tt.w, tt.seed, tt.pos); got != tt.want {
			t.Errorf("%s: Decide(%v, %v, seed %d, pos %d) = %d, want %d", tt.name, tt.live, tt.w, tt.seed, tt.pos, got, tt.want)
		}
	}
}

// TestAwakeTable: the preference for an awake executor over a sleeping
// staggered choice, as a pure function.
func TestAwakeTable(t *testing.T) {
	in := func(set ...int) func(int) bool { return func(i int) bool { return slices.Contains(set, i) } }
	for _, tt := range []struct {
		name          string
		set           []int
		pos           uint64
		asleep, awake func(int) bool
		want          int
	}{
		{"empty range", nil, 0, in(), in(), -1},
		{"choice busy: kept", []int{0, 1, 2}, 1, in(0, 2), in(0, 2), -1},
		{"choice awake: kept", []int{0, 1, 2}, 1, in(), in(1), -1},
		{"choice asleep, next awake", []int{0, 1, 2}, 1, in(1), in(2), 2},
		{"choice asleep, staggered order wraps", []int{0, 1, 2}, 2, in(2), in(0, 1), 0},
		{"choice asleep, nobody awake: kept", []int{0, 1, 2}, 0, in(0, 1, 2), in(), -1},
		{"only executor asleep", []int{3}, 5, in(3), in(), -1},
		{"range over live positions", []int{0, 2, 3}, 0, in(0), in(3), 3},
	} {
		if got := Awake(tt.set, tt.pos, tt.asleep, tt.awake); got != tt.want {
			t.Errorf("%s: Awake(%v, pos %d) = %d, want %d", tt.name, tt.set, tt.pos, got, tt.want)
		}
	}
}

// TestSharesTable: where a batch's shares go, as a pure function: staggered
// like single tokens, a share whose executor sleeps taken by an awake one
// that no share was given, so a batch that covers the range wakes all of
// it (a batch of CPU-bound tokens all on the one awake executor ran at half
// the efficiency of two).
func TestSharesTable(t *testing.T) {
	in := func(set ...int) func(int) bool { return func(i int) bool { return slices.Contains(set, i) } }
	for _, tt := range []struct {
		name          string
		set           []int
		pos           uint64
		n             int
		asleep, awake func(int) bool
		want          []int
	}{
		{"no executor", nil, 0, 5, in(), in(), []int{}},
		{"no job", []int{0, 1}, 0, 0, in(), in(), []int{}},
		{"staggered from pos", []int{0, 1, 2}, 1, 3, in(), in(), []int{1, 2, 0}},
		{"fewer jobs than executors", []int{0, 1, 2}, 2, 2, in(), in(), []int{2, 0}},
		{"one job, choice asleep, another awake", []int{0, 1}, 0, 1, in(0), in(1), []int{1}},
		{"range covered: the sleeper is woken", []int{0, 1}, 0, 2, in(0), in(1), []int{0, 1}},
		{"range covered, many jobs", []int{0, 1}, 1, 128, in(1), in(0), []int{1, 0}},
		{"sleeper taken by the spare awake one", []int{0, 1, 2, 3}, 0, 2, in(0, 1), in(2, 3), []int{2, 3}},
		{"one spare for two sleepers", []int{0, 1, 2}, 0, 2, in(0, 1), in(2), []int{2, 1}},
		{"nobody awake", []int{0, 1, 2}, 0, 1, in(0, 1, 2), in(), []int{0}},
	} {
		if got := Shares(tt.set, tt.pos, tt.n, tt.asleep, tt.awake); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Shares(%v, pos %d, %d jobs) = %v, want %v", tt.name, tt.set, tt.pos, tt.n, got, tt.want)
		}
	}
}

// FuzzDecide checks Decide's invariants on any live set, health mask, class,
// seed and position: the result is -1 exactly when nothing is live; a live
// seed always wins; otherwise the pick is in the class's range over the live
// executors when one of those is healthy (and healthy itself), else in the
// range over the healthy ones, else in the class's own range.
func FuzzDecide(f *testing.F) {
	f.Add(uint16(0b1111), uint16(0), uint8(0), int8(-1), uint64(0))
	f.Add(uint16(0b1101), uint16(0b0100), uint8(2), int8(1), uint64(7))
	f.Add(uint16(0b0011), uint16(0b0010), uint8(2), int8(-1), uint64(3))
	f.Add(uint16(0), uint16(0), uint8(1), int8(3), uint64(1))
	f.Fuzz(func(t *testing.T, liveMask, sickMask uint16, w uint8, seed int8, pos uint64) {
		var live []int
		for i := range 16 {
			if liveMask&(1<<i) != 0 {
				live = append(live, i)
			}
		}
		healthy := func(i int) bool { return sickMask&(1<<i) == 0 }
		class := Weight(w % NumWeights)
		s := int(seed % 17) // -1 to -16 for none; a negative multiple of 17 is seed 0
		got := Decide(live, healthy, class, s, pos)
		switch {
		case len(live) == 0:
			if got != -1 {
				t.Fatalf("nothing live, got %d", got)
			}
			return
		case s >= 0 && slices.Contains(live, s):
			if got != s {
				t.Fatalf("live seed %d lost to %d", s, got)
			}
			return
		}
		set := Eligible(class, live)
		var healthyLive []int
		for _, i := range live {
			if healthy(i) {
				healthyLive = append(healthyLive, i)
			}
		}
		switch {
		case slices.ContainsFunc(set, healthy):
			if !slices.Contains(set, got) || !healthy(got) {
				t.Fatalf("picked %d, want a healthy one of %v", got, set)
			}
		case len(healthyLive) > 0:
			if !slices.Contains(Eligible(class, healthyLive), got) {
				t.Fatalf("picked %d, want one of %v", got, Eligible(class, healthyLive))
			}
		default:
			if !slices.Contains(set, got) {
				t.Fatalf("picked %d, want one of %v", got, set)
			}
		}
	})
}

// FuzzTryPlace drives placement and push over up to 6 executors, some of
// them full, unhealthy or down, and checks what it chose against a reference
// of the rules: a token lands on a healthy executor of its range with room
// when there is one; when the whole range is unhealthy, on a healthy one of
// the range computed over the healthy executors, if one has room; else on
// an unhealthy one of its range with room; Full only when every candidate is
// full; NoExecutor only when none is live.
func FuzzTryPlace(f *testing.F) {
	f.Add(uint8(3), uint8(0), uint8(0), uint8(0), uint8(0), uint64(0))
	f.Add(uint8(2), uint8(0b10), uint8(0), uint8(0), uint8(2), uint64(1))
	f.Add(uint8(4), uint8(0b0110), uint8(0b0001), uint8(0), uint8(1), uint64(5))
	f.Add(uint8(3), uint8(0), uint8(0b111), uint8(0), uint8(0), uint64(2))
	f.Add(uint8(3), uint8(0), uint8(0), uint8(0b111), uint8(1), uint64(9))
	f.Fuzz(func(t *testing.T, n, sick, full, down, w uint8, pos uint64) {
		n = 1 + n%6
		r, execs := testRouter(t, int(n), 1)
		class := Weight(w % NumWeights)
		for i, e := range execs {
			bit := uint8(1) << i
			if full&bit != 0 {
				if e.Push(newJob()) != actors.Pushed {
					t.Fatal("filling an empty mailbox failed")
				}
			}
			if sick&bit != 0 {
				e.SetHealth(actors.Stalled, true)
			}
		}
		for i, e := range execs {
			if down&(1<<i) != 0 {
				r.setLive(i, false)
				e.Retire()
			}
		}
		v := r.view.Load()
		set := v.eligible(class)
		room := func(i int) bool { return full&(1<<i) == 0 }
		healthy := func(i int) bool { return sick&(1<<i) == 0 }
		got, res := r.tryPlaceAt(class, pos, newJob(), How{})

		if len(set) == 0 {
			if res != actors.NoExecutor {
				t.Fatalf("nothing live: %v", res)
			}
			return
		}
		want := map[int]bool{} // the executors the rules allow, in preference order's first tier
		for _, i := range set {
			if healthy(i) && room(i) {
				want[i] = true
			}
		}
		if len(want) == 0 && !slices.ContainsFunc(set, healthy) {
			if i := healthyRange(v.live, healthy, class, pos); i >= 0 && room(i) {
				want[i] = true
			}
		}
		if len(want) == 0 {
			for _, i := range set {
				if room(i) {
					want[i] = true
				}
			}
		}
		switch {
		case len(want) == 0:
			if res != actors.Full {
				t.Fatalf("every candidate full, got %d %v", got, res)
			}
		case res != actors.Pushed || !want[got]:
			t.Fatalf("placed on %d (%v), want one of %v (range %v)", got, res, want, set)
		}
	})
}
