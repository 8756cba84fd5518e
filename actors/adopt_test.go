package actors

import (
	"context"
	"testing"
)

// TestAdoptBackHomeIsNotRerouted: a token stolen off its executor and
// adopted back by it (what the router does when the executor it moved the
// token to drained meanwhile) did not move: it is not counted Rerouted, and
// it runs there. Found by review: it was counted as moved once.
func TestAdoptBackHomeIsNotRerouted(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	e := g.Executors()[0]
	started, release := make(chan struct{}), make(chan struct{})
	if e.Push(newJob(1, func(context.Context) error { close(started); <-release; return nil })) != Pushed {
		t.Fatal("push refused")
	}
	<-started
	j := newJob(2, nil)
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	var stolen []Job
	e.Steal(func(j Job) bool { return true }, func(js []Job) { stolen = js })
	if len(stolen) != 1 || stolen[0] != Job(j) {
		t.Fatalf("stole %v, want the queued token", stolen)
	}
	if e.Adopt(j) != Pushed {
		t.Fatal("adopt refused")
	}
	close(release)
	<-j.Task().Finished()
	if got := j.Task().Executor(); got != e {
		t.Fatalf("the token says it is placed on %v", got)
	}
	if c := e.Counts(); c.Rerouted != 0 || c.Succeeded != 2 {
		t.Fatalf("counts %+v, want 2 succeeded and none rerouted", c)
	}
}
