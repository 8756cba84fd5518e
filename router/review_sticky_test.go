package router

import (
	"context"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
)

// stickyRouter is testRouter with a pin table of cap pins, idle ttl, read on
// clock (nanoseconds).
func stickyRouter(t *testing.T, n, cap int, ttl time.Duration, clock *int64) *Router {
	t.Helper()
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	room := actors.NewRoom()
	g, err := actors.NewGroup(actors.GroupConfig{Engine: engine, Name: "t", CPUs: make([]int, n), MailboxSize: 8, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Release)
	sticky := anchor.NewSticky(cap, ttl, func() int64 { return *clock })
	r, err := New(g, "t", room, sticky, anchor.NewSeeds(8))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHashedKeyPinnedWhereItsTokensRun: a key placed by rendezvous hashing
// while the pin table was full, and then pinned once an idle pin expired,
// is pinned where its hashed token still waits, not on the staggered
// choice: that put the key's second token on another executor than its
// first, queued, so one key's tokens ran on two executors at once.
func TestHashedKeyPinnedWhereItsTokensRun(t *testing.T) {
	var clock int64
	r, rule := fullPinTable(t, &clock)
	bg := context.Background()
	set := r.Eligible(Heavy)
	// A key whose hash and the staggered choice for its second token differ
	// (the second placement takes position pos+1).
	pos := r.pos[Heavy].n.Load()
	key := uint64(2)
	for anchor.Rendezvous(key, set) == Candidate(set, pos+1, 0) {
		key++
	}
	first, j1 := &Ticket{Key: key}, newJob()
	if err := r.Submit(bg, rule, first, j1); err != nil {
		t.Fatal(err)
	}
	if first.Pinned {
		t.Fatal("the table had room for a second pin")
	}
	clock += int64(2 * time.Second) // the idle pin expires
	second, j2 := &Ticket{Key: key}, newJob()
	if err := r.Submit(bg, rule, second, j2); err != nil {
		t.Fatal(err)
	}
	if !second.Pinned {
		t.Fatal("the expired pin was not evicted for the key")
	}
	if a, b := j1.Task().Executor().Index(), j2.Task().Executor().Index(); a != b {
		t.Fatalf("one key's tokens queued on executors %d (hashed, still queued) and %d (pinned)", a, b)
	}
}

// TestResolvedHashedTokenEndsHashing: a token placed by rendezvous hashing
// while the pin table was full counts as hashed until it is released;
// once it is, a new key is pinned to the staggered choice again, not
// hashed for ever.
func TestResolvedHashedTokenEndsHashing(t *testing.T) {
	var clock int64
	r, rule := fullPinTable(t, &clock)
	bg := context.Background()
	hashed := &Ticket{Key: 2}
	if err := r.Submit(bg, rule, hashed, newJob()); err != nil {
		t.Fatal(err)
	}
	if hashed.Pinned || !hashed.Hashed {
		t.Fatalf("key placed in a full table: pinned %v, hashed %v", hashed.Pinned, hashed.Hashed)
	}
	r.Release(hashed)
	clock += int64(2 * time.Second) // the idle pin expires
	set := r.Eligible(Heavy)
	want := Candidate(set, r.pos[Heavy].n.Load(), 0)
	key := uint64(3)
	for anchor.Rendezvous(key, set) == want {
		key++
	}
	tk, j := &Ticket{Key: key}, newJob()
	if err := r.Submit(bg, rule, tk, j); err != nil {
		t.Fatal(err)
	}
	if got := j.Task().Executor().Index(); !tk.Pinned || got != want {
		t.Fatalf("new key pinned %v on %d, want the staggered %d: the hashed token was released", tk.Pinned, got, want)
	}
}

// fullPinTable is a router of 3 executors whose pin table, of one pin
// idle for a second at most (on clock), holds key 1's idle pin, not yet
// expired; rule is a keyed Heavy op's.
func fullPinTable(t *testing.T, clock *int64) (*Router, *Rule) {
	t.Helper()
	r := stickyRouter(t, 3, 1, time.Second, clock)
	rule := &Rule{Weight: Heavy, Keyed: true}
	full := &Ticket{Key: 1}
	if err := r.Submit(context.Background(), rule, full, newJob()); err != nil {
		t.Fatal(err)
	}
	r.Release(full)
	return r, rule
}
