package router

import (
	"context"
	"slices"
	"testing"

	"github.com/coregate/coregate/actors"
)

// TestKeyPinnedInRangeWhileRangeUnhealthy: a new sticky key of a Light op
// whose whole range (executor 2 of 3) is stalled is pinned in its range, not
// on the healthy executor staggered selection falls back to: such a pin was
// outside the range, so the key's next token, placed once the range was
// healthy again, moved it while the first token was still queued, and one
// key's tokens ran on two executors (found by review).
func TestKeyPinnedInRangeWhileRangeUnhealthy(t *testing.T) {
	r, execs := testRouter(t, 3, 8)
	rule := &Rule{Weight: Light, Keyed: true}
	bg := context.Background()
	execs[2].SetHealth(actors.Stalled, true)
	if err := r.Submit(bg, rule, &Ticket{Key: 7}, newJob()); err != nil {
		t.Fatal(err)
	}
	execs[2].SetHealth(actors.Stalled, false)
	if err := r.Submit(bg, rule, &Ticket{Key: 7}, newJob()); err != nil {
		t.Fatal(err)
	}
	if n := execs[2].Mailbox().Len(); n != 2 {
		t.Fatalf("executors hold %d, %d and %d tokens of one key, want both on executor 2",
			execs[0].Mailbox().Len(), execs[1].Mailbox().Len(), n)
	}
}

// TestFollowersTakeNoClassPosition: tokens that go where their pin or an
// actor is, not where staggered selection puts them, take no position of
// their class. Found by review: each took one, so a plain op whose tokens
// alternated with a sticky op's of the same class (or with tokens
// submitted near an actor) always found the same executor: on two
// executors every plain token went to executor 1 (100 of 100), none to 0.
func TestFollowersTakeNoClassPosition(t *testing.T) {
	bg := context.Background()
	for _, tt := range []struct {
		name string
		rule *Rule
		tk   func() *Ticket
	}{
		{"pinned key", &Rule{Weight: Heavy, Keyed: true}, func() *Ticket { return &Ticket{Key: 7} }},
		{"near an actor", &Rule{Weight: Heavy}, func() *Ticket { return &Ticket{Near: 2} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, execs := testRouter(t, 2, 256)
			plain := &Rule{Weight: Heavy}
			if err := r.Submit(bg, tt.rule, tt.tk(), newJob()); err != nil { // pins key 7 on executor 0
				t.Fatal(err)
			}
			before := []int{execs[0].Mailbox().Len(), execs[1].Mailbox().Len()}
			for range 100 {
				if err := r.Submit(bg, plain, nil, newJob()); err != nil {
					t.Fatal(err)
				}
				if err := r.Submit(bg, tt.rule, tt.tk(), newJob()); err != nil {
					t.Fatal(err)
				}
			}
			follower := 0
			if tt.rule.Keyed {
				follower = slices.IndexFunc(before, func(n int) bool { return n == 1 })
			} else {
				follower = 1
			}
			for i, e := range execs {
				got := e.Mailbox().Len() - before[i]
				if i == follower {
					got -= 100
				}
				if got != 50 {
					t.Errorf("executor %d got %d of the 100 plain tokens, want 50", i, got)
				}
			}
		})
	}
}
