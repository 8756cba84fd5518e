package router

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRefusedKeyedLeadGivesBackItsPinAndSeed: a keyed lead whose Submit
// gives up waiting for room (its context ended) will never resolve, so
// Submit itself gives back what placing it took: its key's in-flight count,
// so the pin may expire, and its seed, so the seed table does not keep it
// live for ever.
func TestRefusedKeyedLeadGivesBackItsPinAndSeed(t *testing.T) {
	var clock int64
	r := stickyRouter(t, 1, 1, time.Second, &clock)
	bg := context.Background()
	if err := r.Submit(bg, &Rule{Weight: Heavy}, nil, newJob()); err != nil {
		t.Fatal(err)
	}
	for range 7 { // the mailbox (8) is full
		if err := r.Submit(bg, &Rule{Weight: Heavy}, nil, newJob()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	lead := &Rule{Weight: Heavy, Keyed: true, Lead: true}
	tk := &Ticket{Key: 1}
	if err := r.Submit(ctx, lead, tk, newJob()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit into a full range with an ended context = %v, want context.Canceled", err)
	}
	if !tk.Pinned || tk.Seed == nil {
		t.Fatalf("the refused lead was pinned %v, seed %v: placing it took neither", tk.Pinned, tk.Seed)
	}
	if live := r.seeds.Stats().Live; live != 0 {
		t.Fatalf("%d seeds live after their lead was refused, want 0", live)
	}
	// Its pin idles past the TTL: a new key takes its place in the table,
	// which it can only if the refused token no longer counts in flight.
	clock += int64(2 * time.Second)
	other := &Ticket{Key: 2}
	if r.Place(&Rule{Weight: Heavy, Keyed: true}, other, newJob()) < 0 {
		t.Fatal("no executor live")
	}
	if !other.Pinned {
		t.Fatal("a new key was hashed, the table full: the refused token's pin still counts it in flight")
	}
}
