package actors

import "sync"

// watches counts the tokens that a watch on their submitter's context is
// resolving, on a goroutine of its own, as that context ends: taken (their
// outcome decided), their outcome not yet recorded. A Stop that tries to
// resolve such a token finds it taken and goes on; it must still not
// return before its outcome is recorded, since the context ended before
// Stop was called, so it waits for them ([Group.AwaitWatched]).
type watches struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; made only while one waits
}

func (w *watches) add(d int) {
	w.mu.Lock()
	if w.n += d; w.n == 0 && w.none != nil {
		close(w.none)
		w.none = nil
	}
	w.mu.Unlock()
}

// Watching counts, in t's group, a watch on t's submitter's context that
// resolves t on a goroutine of its own as that context ends (a held
// token's, see [Task.WatchHeld], or a delayed one's), until the func it
// returns is called: call it before the watch takes t out of anywhere a
// Stop looks, and the func once t's outcome is recorded, so that
// [Group.AwaitWatched] waits for it. Any other resolver but Stop's own
// counts itself so too ([Task.Cancel], a cancel of queued tokens); one
// count may cover several tokens of the group.
func (t *Task) Watching() (done func()) {
	w := &t.exec.group.watches
	w.add(1)
	return func() { w.add(-1) }
}

// CancelWatched resolves t as Cancelled with err, the end of a context a
// watch of t's saw, counted as [Task.Watching] says: a Stop that finds t
// taken meanwhile waits for its outcome. It reports whether it resolved t.
func (t *Task) CancelWatched(err error) bool {
	defer t.Watching()()
	return t.Resolve(Cancelled, err)
}

// AwaitWatched returns once no watch is resolving a token of g (see
// [Task.Watching]). A stopping runtime calls it once it tried to
// resolve every token itself: a token a watch took first is then resolved
// when it returns. It does not wait long: a token's resolution calls only
// hooks that must not block (callbacks run on goroutines of their own).
func (g *Group) AwaitWatched() {
	w := &g.watches
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return
	}
	if w.none == nil {
		w.none = make(chan struct{})
	}
	none := w.none
	w.mu.Unlock()
	<-none
}
