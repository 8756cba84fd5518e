package supervisor

import (
	"sync"
	"time"

	"github.com/coregate/coregate/actors"
)

// watchdog samples each executor a few times per stall threshold. An
// executor whose owner stays at one piece of work for the threshold is
// stalled: the same token running (pointer and ID, and no retry of it in
// between), or the owner busy with no token running and no new actor turn
// begun (an actor's Receive that does not return). It is marked so, unpinned
// work avoids it, its queued unpinned work moves to healthy executors, and
// ExecutorStalled is published. At each later look while it stays stuck,
// its queued unpinned work moves again (what no healthy executor could take
// at the stall, or what was queued since). Its next progress publishes
// ExecutorRecovered. It costs the executors nothing but the running token
// they record anyway, a count on the retry path and a flag read per turn.
type watchdog struct {
	s     *Supervisor
	after time.Duration
	quit  chan struct{}
	done  sync.WaitGroup

	mu   sync.Mutex
	seen []progress
}

// progress is what the watchdog last saw of an executor, since when.
type progress struct {
	sight
	since      time.Time // when this sight was first seen
	stalled    bool
	announcing bool // its owner announces its start: not judged (see announce)
}

// sight is what one sample of an executor sees; any change between two
// samples is progress.
type sight struct {
	task    *actors.Task // the running token; nil when none runs
	last    *actors.Task // the last token started, running or not
	id      uint64       // last's ID: a token at a reused address is another
	retried uint32       // the executor's Retried: a retry runs the token again
	turns   uint64       // the executor's Turns
	busy    bool         // the owner is at work, not polling or parked
}

func sample(e *actors.Executor) sight {
	s := sight{retried: e.Retried(), turns: e.Turns(), busy: e.Busy(), task: e.Running()}
	if t := e.Started(); t != nil {
		s.last, s.id = t, t.ID()
	}
	return s
}

// working reports whether the owner was at one piece of work when sampled:
// a token, or a turn (busy with no token running).
func (s sight) working() bool { return s.task != nil || s.busy }

func newWatchdog(s *Supervisor, n int, after time.Duration) *watchdog {
	return &watchdog{s: s, after: after, seen: make([]progress, n), quit: make(chan struct{})}
}

func (w *watchdog) start() {
	now := time.Now()
	w.mu.Lock()
	for i, e := range w.s.Executors() {
		w.seen[i] = progress{sight: sample(e), since: now}
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

// announce keeps the watchdog off e while its new owner announces its
// start (on), then starts e's stall clock at the announcement (off): the
// time its launch took, or a router putting it back in the ranges, is not
// a token running.
func (w *watchdog) announce(e *actors.Executor, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := &w.seen[e.Index()]
	if on {
		p.announcing = true
		return
	}
	*p = progress{sight: sample(e), since: time.Now(), stalled: p.stalled}
}

func (w *watchdog) check(e *actors.Executor, p *progress, now time.Time) {
	if p.announcing {
		return
	}
	cur := sample(e)
	engine := w.s.engine
	if cur != p.sight {
		if p.stalled {
			e.SetHealth(actors.Stalled, false)
			engine.BroadcastEvent(ExecutorRecovered{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Stalled: now.Sub(p.since)})
		}
		*p = progress{sight: cur, since: now}
		return
	}
	if e.Health()&(actors.Restarting|actors.Down) != 0 || !cur.working() {
		return
	}
	if p.stalled {
		// Still stuck: move what could not move at the stall (no executor
		// was healthy then) or was queued here since, now that one may be.
		if !w.s.isStopping() {
			w.s.reroute.Stalled(e)
		}
		return
	}
	if running := now.Sub(p.since); running >= w.after {
		p.stalled = true
		e.SetHealth(actors.Stalled, true)
		moved := 0
		if !w.s.isStopping() { // a draining runtime waits for the stall: its other executors may have exited
			moved = w.s.reroute.Stalled(e)
		}
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
