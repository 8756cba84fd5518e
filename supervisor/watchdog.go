package supervisor

import (
	"sync"
	"time"

	"github.com/coregate/coregate/actors"
)

// watchdog samples every executor's progress a few times per stall threshold.
// An executor whose progress number stays odd (a token running) and unchanged
// for the threshold is stalled: it is marked so, unpinned work avoids it, and
// ExecutorStalled is published. Its next progress publishes ExecutorRecovered.
// It costs the executors nothing but the progress number they keep anyway.
type watchdog struct {
	s     *Supervisor
	after time.Duration
	seen  []progress
	quit  chan struct{}
	done  sync.WaitGroup
}

type progress struct {
	seq     uint64
	since   time.Time // when seq was first seen
	stalled bool
}

func startWatchdog(s *Supervisor, after time.Duration) *watchdog {
	w := &watchdog{s: s, after: after, seen: make([]progress, len(s.Executors())), quit: make(chan struct{})}
	now := time.Now()
	for i, e := range s.Executors() {
		w.seen[i] = progress{seq: e.Progress(), since: now}
	}
	w.done.Add(1)
	go w.run()
	return w
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
			for i, e := range w.s.Executors() {
				w.check(e, &w.seen[i], now)
			}
		}
	}
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
		engine.BroadcastEvent(ExecutorStalled{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Running: running})
	}
}

func (w *watchdog) stop() {
	close(w.quit)
	w.done.Wait()
}
