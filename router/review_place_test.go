package router

import (
	"context"
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
