package supervisor

import (
	"strings"
	"testing"
	"time"
)

// TestPolicyDelayTable: no wait for the first restart in a window, then
// Backoff doubling up to MaxBackoff, each jittered into its upper half.
func TestPolicyDelayTable(t *testing.T) {
	p, err := Policy{Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		k        int
		min, max time.Duration
	}{
		{0, 0, 0},
		{1, 5 * time.Millisecond, 10 * time.Millisecond},
		{2, 10 * time.Millisecond, 20 * time.Millisecond},
		{3, 20 * time.Millisecond, 40 * time.Millisecond},
		{4, 25 * time.Millisecond, 50 * time.Millisecond},
		{100, 25 * time.Millisecond, 50 * time.Millisecond}, // no overflow
	}
	for _, tt := range tests {
		if lo, hi := p.delay(tt.k, lowest), p.delay(tt.k, highest); lo != tt.min || hi != tt.max {
			t.Errorf("delay(%d) spans %v-%v, want %v-%v", tt.k, lo, hi, tt.min, tt.max)
		}
	}
}

// TestWindowSlides: MaxRestarts within Window are admitted, the next is down;
// once the oldest restart leaves the window a crash is admitted again.
func TestWindowSlides(t *testing.T) {
	p := Policy{MaxRestarts: 3, Window: time.Minute, Backoff: time.Second, MaxBackoff: time.Second}
	var w window
	t0 := time.Unix(1000, 0)
	rnd := func(int64) int64 { return 0 }
	for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		_, n, down := w.admit(t0.Add(at), p, rnd)
		if down || n != i+1 {
			t.Fatalf("crash %d: down %v, %d restarts in window", i, down, n)
		}
	}
	if _, n, down := w.admit(t0.Add(30*time.Second), p, rnd); !down || n != 3 {
		t.Fatalf("fourth crash within the window: down %v, n %d", down, n)
	}
	// At 61 s the restart at 0 s has left the window.
	if d, n, down := w.admit(t0.Add(61*time.Second), p, rnd); down || n != 3 || d == 0 {
		t.Fatalf("crash after the oldest left the window: down %v, n %d, delay %v", down, n, d)
	}
	// Long after, the window is empty: the next restart is immediate.
	if d, n, down := w.admit(t0.Add(time.Hour), p, rnd); down || n != 1 || d != 0 {
		t.Fatalf("crash after an idle hour: down %v, n %d, delay %v", down, n, d)
	}
}

func TestPolicyRejectsNegatives(t *testing.T) {
	for _, p := range []Policy{{MaxRestarts: NoRestarts - 1}, {Window: -1}, {Backoff: -1}, {MaxBackoff: -1}} {
		if _, err := p.Resolve(); err == nil || !strings.Contains(err.Error(), "must be 0 (default) or more") {
			t.Errorf("%+v: %v", p, err)
		}
	}
	// NoRestarts is kept: the first failure is past it.
	if p, err := (Policy{MaxRestarts: NoRestarts}).Resolve(); err != nil || p.MaxRestarts != NoRestarts {
		t.Fatalf("NoRestarts: %+v, %v", p, err)
	}
	var w window
	if _, n, down := w.admit(time.Now(), Policy{MaxRestarts: NoRestarts, Window: time.Minute}, func(int64) int64 { return 0 }); !down || n != 0 {
		t.Fatalf("NoRestarts' first failure: down %v, n %d", down, n)
	}
	p, _ := Policy{}.Resolve()
	if p.MaxRestarts != DefaultMaxRestarts || p.Window != DefaultWindow || p.Backoff != DefaultBackoff || p.MaxBackoff != DefaultMaxBackoff {
		t.Fatalf("defaults: %+v", p)
	}
}

// TestPolicyMaxBelowMinCounts: a MaxBackoff below Backoff counts as
// Backoff, and a MaxCooldown below Cooldown as Cooldown, so no backoff or
// cool-down is shorter than its floor.
func TestPolicyMaxBelowMinCounts(t *testing.T) {
	p, err := Policy{Backoff: time.Second, MaxBackoff: time.Millisecond, Cooldown: time.Minute, MaxCooldown: time.Second}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxBackoff != time.Second || p.MaxCooldown != time.Minute {
		t.Fatalf("resolved %+v, want MaxBackoff 1s and MaxCooldown 1m", p)
	}
	if d := p.delay(3, func(n int64) int64 { return n - 1 }); d != time.Second {
		t.Fatalf("third backoff %v, want 1s", d)
	}
}
