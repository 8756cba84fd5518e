package actors

import (
	"context"
	"testing"
)

// followAsOwner calls c.Follow(x, v) as x's owner, after before (there
// too, when not nil), and reports what Follow did.
func followAsOwner(t *testing.T, c *Cell[int], x *Executor, v int, before func()) (followed bool) {
	t.Helper()
	runOn(t, x, func() {
		if before != nil {
			before()
		}
		followed = c.Follow(x, v)
	})
	return followed
}

// TestFollowRefuses: a cell follows a hand-off only when it floats, is idle
// on another executor of the sender's group, whose owner the caller is, in
// its range, with nothing else queued there, and takes envelopes; each case
// here misses one, Follow refuses and the cell stays where it is. The last
// case finds the cell idle without the lock, and busy once it has it.
func TestFollowRefuses(t *testing.T) {
	x, y := startTwoExecutors(t)
	w := &where{on: make(chan *Executor, 16)}
	floating := func(on *Executor, lo int) *Cell[int] {
		c := NewCell[int](on, 16, &where{on: w.on, lo: lo})
		c.Float(on)
		return c
	}
	if c := floating(y, 0); !followAsOwner(t, c, x, 0, nil) || c.Executor() != x {
		t.Fatal("an idle floating cell did not follow")
	} else {
		w.wantDelivered(t, 1, x)
	}
	for _, tc := range []struct {
		name   string
		follow func(t *testing.T) (*Cell[int], bool)
	}{
		{"pinned", func(t *testing.T) (*Cell[int], bool) {
			c := NewCell[int](y, 16, w)
			return c, followAsOwner(t, c, x, 0, nil)
		}},
		{"below its range", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 1)
			return c, followAsOwner(t, c, x, 0, nil)
		}},
		{"not from x's owner", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 0)
			return c, c.Follow(x, 0)
		}},
		{"from another group", func(t *testing.T) (*Cell[int], bool) {
			_, z := startOneExecutor(t)
			c := floating(y, 0)
			return c, followAsOwner(t, c, z, 0, nil)
		}},
		{"beside already", func(t *testing.T) (*Cell[int], bool) {
			c := floating(x, 0)
			return c, followAsOwner(t, c, x, 0, nil)
		}},
		{"x has a runnable queued", func(t *testing.T) (*Cell[int], bool) {
			c, d := floating(y, 0), NewCell[int](x, 16, &where{on: make(chan *Executor, 1)})
			return c, followAsOwner(t, c, x, 0, func() {
				if !d.putNear(0) {
					t.Error("the owner's put did not go near")
				}
			})
		}},
		{"x has a token queued", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 0)
			return c, followAsOwner(t, c, x, 0, func() {
				if x.Push(newJob(1, nil)) != Pushed {
					t.Error("push refused")
				}
			})
		}},
		{"closed", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 0)
			c.Close()
			return c, followAsOwner(t, c, x, 0, nil)
		}},
		{"stranded", func(t *testing.T) (*Cell[int], bool) {
			// Idle with an envelope no executor took: one that went
			// near would pass it.
			c := floating(y, 0)
			c.mu.Lock()
			c.q = append(c.q, 0)
			c.stranded.Store(true)
			c.mu.Unlock()
			return c, followAsOwner(t, c, x, 1, nil)
		}},
		{"scheduled", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 0)
			gate := make(chan struct{})
			defer close(gate)
			if y.Push(newJob(1, func(context.Context) error { <-gate; return nil })) != Pushed {
				t.Fatal("push refused")
			}
			if err := c.TryPut(0); err != nil {
				t.Fatal(err)
			}
			return c, followAsOwner(t, c, x, 1, nil)
		}},
		{"scheduled once locked", func(t *testing.T) (*Cell[int], bool) {
			c := floating(y, 0)
			gate := make(chan struct{})
			defer close(gate)
			if y.Push(newJob(1, func(context.Context) error { <-gate; return nil })) != Pushed {
				t.Fatal("push refused")
			}
			var err error
			followLooked = func() { // a sender queues between Follow's look and its lock
				followLooked = nil
				err = c.TryPut(0)
			}
			defer func() { followLooked = nil }()
			followed := followAsOwner(t, c, x, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if followLooked != nil {
				t.Fatal("Follow did not find the cell idle without the lock")
			}
			return c, followed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, followed := tc.follow(t)
			if followed || c.Executor() == x && tc.name != "beside already" {
				t.Fatalf("the cell followed to executor %d (Follow said %v)", c.Executor().Index(), followed)
			}
		})
	}
}

// TestGoHome: an idle floating cell away from home goes home when the
// owner of its executor says so, not when its home is unhealthy (it would
// wait there) or outside its range, nor for a caller that is not the
// owner, nor for the owner of another group's executor of the same index
// (a Tell from an actor of another runtime: found by review).
func TestGoHome(t *testing.T) {
	x, y := startTwoExecutors(t)
	w := &where{on: make(chan *Executor, 1)}
	away := func() *Cell[int] {
		c := NewCell[int](x, 16, w)
		c.Float(y)
		return c
	}
	c := away()
	runOn(t, x, func() { c.GoHome(x) })
	if c.Executor() != y {
		t.Fatal("the cell stayed away from home")
	}
	c = away()
	c.GoHome(x)
	if c.Executor() != x {
		t.Fatal("a caller that does not own the cell's executor sent it home")
	}
	c = away()
	other := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{}).Executors()[0]
	runOn(t, other, func() { c.GoHome(other) })
	if c.Executor() != x {
		t.Fatal("an executor of another group sent the cell home")
	}
	w.lo = 2 // y, its home, left its range (executors went down)
	c = away()
	runOn(t, x, func() { c.GoHome(x) })
	if c.Executor() != x {
		t.Fatal("the cell went home outside its range")
	}
	w.lo = 0
	y.SetHealth(Stalled, true)
	defer y.SetHealth(Stalled, false)
	c = away()
	runOn(t, x, func() { c.GoHome(x) })
	if c.Executor() != x {
		t.Fatal("the cell went home to a stalled executor")
	}
}

// TestFollowerLeavesAStall: an idle floating cell away from home, on an
// executor marked stalled, goes home (healthy) as a put from outside
// schedules it; a pinned cell stays, and so does a floating one whose
// home is not healthy either.
func TestFollowerLeavesAStall(t *testing.T) {
	x, y := startTwoExecutors(t)
	x.SetHealth(Stalled, true)
	defer x.SetHealth(Stalled, false)
	w := &where{on: make(chan *Executor, 1)}
	c := NewCell[int](x, 16, w)
	c.Float(y)
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	w.wantDelivered(t, 1, y)
	if c.Executor() != y {
		t.Fatal("the cell stayed on the stalled executor")
	}

	pinned := NewCell[int](x, 16, w)
	gate := make(chan struct{})
	if x.Push(newJob(1, func(context.Context) error { <-gate; return nil })) != Pushed {
		t.Fatal("push refused")
	}
	if err := pinned.TryPut(0); err != nil {
		t.Fatal(err)
	}
	if pinned.Executor() != x {
		t.Fatal("a pinned cell left its stalled executor")
	}
	y.SetHealth(Stalled, true)
	c = NewCell[int](x, 16, w)
	c.Float(y)
	if err := c.TryPut(0); err != nil {
		t.Fatal(err)
	}
	if c.Executor() != x {
		t.Fatal("the cell went home to a stalled executor")
	}
	y.SetHealth(Stalled, false)
	close(gate)
	w.wantDelivered(t, 2, x)
}
