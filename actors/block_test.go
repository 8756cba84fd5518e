package actors

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// pushAwait pushes j onto e and awaits it, from a handler.
func pushAwait(ctx context.Context, e *Executor, j *testJob) error {
	if e.Push(j) != Pushed {
		return errors.New("push refused")
	}
	return j.Task().Await(ctx)
}

// TestAwaitHandsOnTheCallersExecutor: top, on group a's only executor,
// awaits mid, a token of group b, whose handler awaits leaf, queued on a
// behind top. Block must hand a's executor on although the token awaited
// is b's, and count top against a's bound.
func TestAwaitHandsOnTheCallersExecutor(t *testing.T) {
	a, ea := startOneExecutor(t)
	b, eb := startOneExecutor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var blockedA int32
	leaf := newJob(3, func(context.Context) error { blockedA = a.blocked.Load(); return nil })
	mid := newJob(2, func(context.Context) error { return pushAwait(ctx, ea, leaf) })
	top := newJob(1, func(context.Context) error { return pushAwait(ctx, eb, mid) })
	if err := pushAwait(ctx, ea, top); err != nil {
		t.Fatal(err)
	}
	for _, j := range []*testJob{top, mid, leaf} {
		if err := j.Task().Result(); err != nil {
			t.Fatalf("token %d: %v", j.Task().ID(), err)
		}
	}
	if blockedA != 1 {
		t.Fatalf("group a counted %d blocked handlers as leaf ran, want 1 (top)", blockedA)
	}
	if n := a.blocked.Load() + b.blocked.Load(); n != 0 {
		t.Fatalf("%d handlers still counted as blocked", n)
	}
}

// TestReleaseUnlistsGroup: a group is listed for Block from NewGroup to
// Release, and only then.
func TestReleaseUnlistsGroup(t *testing.T) {
	g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(listed(), g) {
		t.Fatal("a new group is not listed")
	}
	g.Release()
	g.Unregister()
	if slices.Contains(listed(), g) {
		t.Fatal("a released group is still listed")
	}
	g.Release() // twice: nothing to take off
}

// fakePool is a DetachedPool none of whose workers ever calls.
type fakePool struct{}

func (fakePool) Running() (*Task, bool)   { return nil, false }
func (fakePool) Blocked() (resume func()) { return func() {} }

// TestBlockOutsideHandlersAllocatesNothing: Block from a goroutine that runs
// no handler (a plain Wait that did not end in its poll, a Tell waiting for
// room) looks through every group and allocates nothing. A closure in the
// lookup's loop once moved its variable to the heap, an allocation per call.
func TestBlockOutsideHandlersAllocatesNothing(t *testing.T) {
	startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 8, Affinity: Off, Detached: fakePool{}}, Hooks{})
	startOneExecutor(t)
	allocs := testing.AllocsPerRun(100, func() {
		resume, err := Block()
		if err != nil {
			t.Fatal(err)
		}
		resume()
	})
	if allocs != 0 {
		t.Fatalf("Block outside handlers allocated %v times a call", allocs)
	}
}

// resolvingCtx is a context whose Done, asked first by Await's select,
// resolves task (as if it ended just then) and reports the context ended
// too: both are ready when the select picks.
type resolvingCtx struct {
	context.Context
	task *Task
	done chan struct{}
}

func (c *resolvingCtx) Done() <-chan struct{} {
	c.task.Resolve(Succeeded, nil)
	return c.done
}
func (c *resolvingCtx) Err() error { return context.Canceled }

// TestAwaitPrefersTheOutcome: a token resolved by the time Await's wait
// ends is its outcome, even when the waiter's context ended too and the
// select picked that (either is picked at random: many tries see both).
func TestAwaitPrefersTheOutcome(t *testing.T) {
	g, err := NewGroup(GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 128, Affinity: Off})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { g.Release(); g.Unregister() }()
	e := g.Executors()[0]
	done := make(chan struct{})
	close(done)
	for i := range 100 {
		j := newJob(uint64(i+1), nil)
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		if err := j.Task().Await(&resolvingCtx{Context: context.Background(), task: j.Task(), done: done}); err != nil {
			t.Fatalf("try %d: Await = %v for a token resolved as the context ended", i, err)
		}
	}
}

// TestNestedBlockCountsOnce: a handler that blocks inside its own block (a
// Request, blocked, whose Tell then waits for room) is one handler held:
// with MaxBlocked 1 the inner Block must not be refused, nor count it
// twice. Found by review: each Block counted, so the inner one failed with
// ErrTooManyBlocked though one handler blocked.
func TestNestedBlockCountsOnce(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, MaxBlocked: 1, Affinity: Off}, Hooks{})
	e := g.Executors()[0]
	var inner error
	var counted [2]int32
	j := newJob(1, func(context.Context) error {
		outer, err := Block()
		if err != nil {
			return err
		}
		defer outer()
		counted[0] = g.blocked.Load()
		resume, err := Block()
		if inner = err; err != nil {
			return nil
		}
		counted[1] = g.blocked.Load()
		resume()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e.Push(j) != Pushed {
		t.Fatal("push refused")
	}
	if err := j.Task().Await(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Task().Result(); err != nil {
		t.Fatal(err)
	}
	if inner != nil {
		t.Fatalf("the nested Block was refused: %v", inner)
	}
	if counted != [2]int32{1, 1} {
		t.Fatalf("blocked handlers counted %v in the outer and inner block, want [1 1]", counted)
	}
	if n := g.blocked.Load(); n != 0 {
		t.Fatalf("%d handlers still counted as blocked", n)
	}
}
