//go:debug panicnil=1

package actors

import (
	"context"
	"errors"
	"testing"

	"github.com/anthdm/hollywood/actor"
)

// TestPanicNilIsAPanic: under GODEBUG=panicnil=1 recover returns nil for
// panic(nil), which a single deferred recover takes for runtime.Goexit. The
// double defer tells them apart: the token fails once with a *PanicError
// whose Value is nil, the executor goes on (no replacement), and a Goexit is
// still a Goexit.
func TestPanicNilIsAPanic(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	exits := 0
	g, err := NewGroup(GroupConfig{Engine: engine, Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Start(Hooks{OnExit: func(e *Executor, err error) {
		if err != nil {
			exits++
			if err := e.Launch(); err != nil {
				t.Error(err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := g.Executors()[0]
	nilPanic := newJob(1, func(context.Context) error { panic(nil) })
	after := newJob(2, nil)
	e.Push(nilPanic)
	e.Push(after)
	<-after.Task().Finished()
	var pe *PanicError
	if err := nilPanic.Task().Result(); !errors.As(err, &pe) || pe.Value != nil {
		t.Fatalf("panic(nil) resolved with %v, want a *PanicError with a nil Value", err)
	}
	if c := e.Counts(); c.Panicked != 1 || c.Failed != 0 || c.Succeeded != 1 || exits != 0 {
		t.Fatalf("counts %+v, %d goroutine exits", c, exits)
	}
	g.Abort()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Release()
	g.Unregister()
}
