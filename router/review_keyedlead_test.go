package router

import (
	"context"
	"testing"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
)

// placedJob is a job that the router places again by rule and tk.
type placedJob struct {
	*testkit.Job
	rule *Rule
	tk   *Ticket
}

func (p *placedJob) Placement() (*Rule, *Ticket) { return p.rule, p.tk }

// TestKeyedLeadFollowsItsPinWhenAChildMovedItsSeed: a keyed lead queued
// behind its own child (a retry of the lead, queued again after the child it
// submitted) on an executor that goes down. The child, moved first, moved
// the lead's seed by staggered selection; the lead then followed its seed
// instead of its key's pin, and the key's next token, repinned by
// staggered selection too, went to the other executor: one key's tokens on
// two executors at once.
func TestKeyedLeadFollowsItsPinWhenAChildMovedItsSeed(t *testing.T) {
	r, execs := testRouter(t, 3, 8)
	bg := context.Background()
	leadRule := &Rule{Weight: Heavy, Keyed: true, Lead: true, Retry: true}
	keyRule := &Rule{Weight: Heavy, Keyed: true}
	lead := &placedJob{Job: testkit.NewJob(1, nil), rule: leadRule, tk: &Ticket{Key: 7}}
	at := r.Place(leadRule, lead.tk, lead)
	if at < 0 || lead.tk.Seed == nil || !lead.tk.Pinned {
		t.Fatalf("lead placed on %d, seed %v, pinned %v", at, lead.tk.Seed, lead.tk.Pinned)
	}
	seed := lead.tk.Seed
	if !seed.Join() {
		t.Fatal("seed released")
	}
	child := &placedJob{Job: testkit.NewJob(2, nil), rule: &Rule{Weight: Heavy}, tk: &Ticket{Seed: seed}}
	if err := r.Submit(bg, child.rule, child.tk, child); err != nil {
		t.Fatal(err)
	}
	if got := child.Task().Executor().Index(); got != at {
		t.Fatalf("child on %d, want its seed's %d", got, at)
	}
	if res := execs[at].Push(lead); res != actors.Pushed { // the lead's retry, behind its child
		t.Fatalf("push: %v", res)
	}
	r.Down(execs[at])
	next := &placedJob{Job: testkit.NewJob(3, nil), rule: keyRule, tk: &Ticket{Key: 7}}
	if err := r.Submit(bg, keyRule, next.tk, next); err != nil {
		t.Fatal(err)
	}
	l, n := lead.Task().Executor().Index(), next.Task().Executor().Index()
	if l == at || n == at {
		t.Fatalf("placed on the down executor %d: lead %d, next %d", at, l, n)
	}
	if l != n {
		t.Fatalf("key 7's lead moved to executor %d, its next token to %d: one key on two executors", l, n)
	}
	if c := child.Task().Executor().Index(); l != c {
		t.Fatalf("the lead's pin moved to executor %d, away from its child on %d (its seed's executor)", l, c)
	}
}
