package supervisor

import (
	"sync"
	"time"

	"github.com/coregate/coregate/actors"
)

// watchdog samples every executor's progress a few times per stall threshold.
// An executor whose progress number stays odd (a token running) and unchanged
// for the threshold is stalled: it is marked so, unpinned work avoids it, its
// queued unpinned work moves to healthy executors, and ExecutorStalled is
// published. Its next progress publishes ExecutorRecovered.
// It costs the executors nothing but the progress number they keep anyway.
type watchdog struct {
	s     *Supervisor
	after time.Duration
	quit  chan struct{}
	done  sync.WaitGroup

	mu   sync.Mutex
	seen []progress
}

type progress struct {
	seq     uint64
	since   time.Time // when seq was first seen
	stalled bool
}

func newWatchdog(s *Supervisor, n int, after time.Duration) *watchdog {
	return &watchdog{s: s, after: after, seen: make([]progress, n), quit: make(chan struct{})}
}

func (w *watchdog) start() {
	now := time.Now()
	w.mu.Lock()
	for i, e := range w.s.Executors() {
		w.seen[i] = progress{seq: e.Progress(), since: now}
	}
	w.mu.Unlock()
	w.done.Add(1)
	go w.run()
}

func (w *watchdog) run() {
	defer w.done.Done()
	tick := time.NewTicker(max(w.after/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-w.quit:
			return
		case now := <-tick.C:
			w.checkAll(now)
		}
	}
}

func (w *watchdog) checkAll(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, e := range w.s.Executors() {
		w.check(e, &w.seen[i], now)
	}
}

// poke checks e now, out of turn: the supervisor calls it when e's goroutine
// ends, so a stalled executor that made progress is reported recovered before
// its restart or its going down is.
func (w *watchdog) poke(e *actors.Executor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.check(e, &w.seen[e.Index()], time.Now())
}

func (w *watchdog) check(e *actors.Executor, p *progress, now time.Time) {
	seq := e.Progress()
	engine := w.s.engine
	if seq != p.seq {
		if p.stalled {
			e.SetHealth(actors.Stalled, false)
			engine.BroadcastEvent(ExecutorRecovered{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Stalled: now.Sub(p.since)})
		}
		*p = progress{seq: seq, since: now}
		return
	}
	// A restarting or down executor runs nothing: its odd number is the token
	// that ended its last goroutine.
	if p.stalled || seq&1 == 0 || e.Health()&(actors.Restarting|actors.Down) != 0 {
		return
	}
	if running := now.Sub(p.since); running >= w.after {
		p.stalled = true
		e.SetHealth(actors.Stalled, true)
		moved := w.s.reroute.Stalled(e)
		engine.BroadcastEvent(ExecutorStalled{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Running: running, Moved: moved})
	}
}

// stop ends the watchdog after a last look, so progress made since the last
// tick is reported.
func (w *watchdog) stop() {
	close(w.quit)
	w.done.Wait()
	w.checkAll(time.Now())
}
