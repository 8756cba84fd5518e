package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// afterFuncCtx is a context that never ends and counts the
// context.AfterFunc registrations on it that are not stopped.
type afterFuncCtx struct {
	context.Context // for Deadline and Value: Background's
	done            chan struct{}
	live            atomic.Int64
}

func (c *afterFuncCtx) Done() <-chan struct{} { return c.done }
func (c *afterFuncCtx) Err() error            { return nil }

func (c *afterFuncCtx) AfterFunc(func()) func() bool {
	c.live.Add(1)
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() { c.live.Add(-1); stopped = true })
		return stopped
	}
}

// TestWatchRacingWakeIsStopped (found in review): a Done on a handler's
// context (a goroutine the handler left behind, or a child token's watch
// on its parent) installs its watch as the token resolves, and the
// resolver's wake finds the watch before Done registered its AfterFuncs.
// The wake's stop found nothing to stop and marked the watch stopped; the
// AfterFuncs registered then, on the submitter's context and the group's
// abort, were never stopped: each held the token until its context ended.
func TestWatchRacingWakeIsStopped(t *testing.T) {
	_, e := startOneExecutor(t)
	ctx := &afterFuncCtx{Context: context.Background(), done: make(chan struct{})}
	tk := newJob(1, nil).Task()
	tk.parent, tk.exec = ctx, e
	resolved, waits := make(chan struct{}), make(chan struct{})
	// Once: startWatch's own stop, after it, may find the wake's lock too.
	stopWaits = sync.OnceFunc(func() { close(waits) })
	watchInstalled = func() {
		go func() {
			tk.Resolve(Succeeded, nil)
			close(resolved)
		}()
		// The wake has found the watch: it ran to its end, or its stop
		// found the watch locked and waits for the registrations.
		select {
		case <-resolved:
		case <-waits:
		}
	}
	defer func() { watchInstalled, stopWaits = nil, nil }()
	tk.startWatch()
	<-resolved
	if l := ctx.live.Load(); l != 0 {
		t.Fatalf("%d AfterFunc left registered on the submitter's context after the token resolved", l)
	}
	select {
	case <-tk.cancel.ch():
	default:
		t.Fatal("Done's channel stays open after the token resolved")
	}
}
