package supervisor

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is the restart intensity allowed to each executor, as an Erlang/OTP
// supervisor's: at most MaxRestarts restarts within any Window; the failure
// that would exceed it takes the executor down instead. Within a window the
// first restart is immediate and each later one waits Backoff, doubled per
// restart up to MaxBackoff, with jitter (a uniform draw from the upper half),
// so executors that fail together do not restart in lockstep.
//
// Down is not forever: after Cooldown the executor is tried again, like a
// circuit breaker's half-open state. Each time it goes down again the
// cool-down doubles, up to MaxCooldown; once it stayed up for a whole Window
// the next one starts from Cooldown again.
//
// Only failures of the executor itself count: its loop failing, its thread
// failing to pin under Strict affinity. A handler's panic or runtime.Goexit
// is the user's code failing and never counts. The zero value means the
// defaults; a negative field other than MaxRestarts [NoRestarts] is an error
// ([Policy.Resolve]).
type Policy struct {
	MaxRestarts int           // 0 means DefaultMaxRestarts; NoRestarts: none, the first failure is past it
	Window      time.Duration // 0 means DefaultWindow
	Backoff     time.Duration // 0 means DefaultBackoff
	MaxBackoff  time.Duration // 0 means DefaultMaxBackoff; below Backoff counts as Backoff
	Cooldown    time.Duration // 0 means DefaultCooldown
	MaxCooldown time.Duration // 0 means DefaultMaxCooldown; below Cooldown counts as Cooldown
}

// NoRestarts, as Policy.MaxRestarts, allows no restart at all: an executor's
// first failure takes it down (until its cool-down), an actor's stops it.
const NoRestarts = -1

// Policy defaults.
const (
	DefaultMaxRestarts = 10
	DefaultWindow      = 60 * time.Second
	DefaultBackoff     = 10 * time.Millisecond
	DefaultMaxBackoff  = time.Second
	DefaultCooldown    = time.Second
	DefaultMaxCooldown = time.Minute
)

// Resolve checks p and fills in the defaults; the error names a negative field.
func (p Policy) Resolve() (Policy, error) {
	if p.MaxRestarts < NoRestarts {
		return p, fmt.Errorf("coregate: restart policy MaxRestarts is %d, must be 0 (default) or more, or NoRestarts", p.MaxRestarts)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"Window", p.Window}, {"Backoff", p.Backoff}, {"MaxBackoff", p.MaxBackoff}, {"Cooldown", p.Cooldown}, {"MaxCooldown", p.MaxCooldown}} {
		if f.v < 0 {
			return p, fmt.Errorf("coregate: restart policy %s is %v, must be 0 (default) or more", f.name, f.v)
		}
	}
	if p.MaxRestarts == 0 {
		p.MaxRestarts = DefaultMaxRestarts
	}
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.Backoff == 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.Backoff)
	p.Cooldown = cmp.Or(p.Cooldown, DefaultCooldown)
	p.MaxCooldown = max(cmp.Or(p.MaxCooldown, DefaultMaxCooldown), p.Cooldown)
	return p, nil
}

// delay returns the backoff before a restart when k restarts already happened
// in the window: 0 for the first, else Backoff<<(k-1) capped at MaxBackoff,
// jittered into its upper half by rnd (which returns a value in [0, n)).
func (p Policy) delay(k int, rnd func(n int64) int64) time.Duration {
	if k == 0 {
		return 0
	}
	d := p.MaxBackoff
	if k-1 < 62 && p.Backoff <= p.MaxBackoff>>(k-1) {
		d = p.Backoff << (k - 1)
	}
	half := int64(d / 2)
	return time.Duration(int64(d) - half + rnd(half+1))
}

// window is one executor's restart history: the times of the restarts within
// the policy's window, oldest first.
type window struct {
	times []time.Time
}

// admit records a crash at now. It returns the backoff before the restart and
// how many restarts the window then holds, or down when the crash exceeds the
// policy.
func (w *window) admit(now time.Time, p Policy, rnd func(int64) int64) (delay time.Duration, restarts int, down bool) {
	if w.count(now, p) >= p.MaxRestarts {
		return 0, len(w.times), true
	}
	delay = p.delay(len(w.times), rnd)
	w.times = append(w.times, now)
	return delay, len(w.times), false
}

// count forgets the restarts that left the window by now and returns how
// many it holds.
func (w *window) count(now time.Time, p Policy) int {
	keep := w.times[:0]
	for _, t := range w.times {
		if now.Sub(t) < p.Window {
			keep = append(keep, t)
		}
	}
	w.times = keep
	return len(keep)
}

func jitter(n int64) int64 { return rand.Int64N(n) }

// Window is a restart history for a policy's intensity, for whatever restarts
// under one (an actor). The zero value is an empty history.
type Window struct{ w window }

// Allow records a failure at now and reports whether restarting is within p
// (resolved, see [Policy.Resolve]) and how many restarts the window then
// holds; false means past the intensity.
func (w *Window) Allow(now time.Time, p Policy) (restarts int, ok bool) {
	_, n, down := w.w.admit(now, p, func(int64) int64 { return 0 })
	return n, !down
}
