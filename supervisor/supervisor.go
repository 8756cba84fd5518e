package supervisor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// Config describes the executors to supervise.
type Config struct {
	Engine      *actor.Engine
	Name        string // PID prefix
	CPUs        []int  // executor i runs on CPUs[i]
	MailboxSize int
	Affinity    actors.Affinity
	Room        *actors.Room
	Restart     Policy // zero fields mean the defaults
	// StallAfter is the stall threshold; 0 turns the watchdog off.
	StallAfter time.Duration
	// OnDown is called when an executor goes down, after it is marked Down
	// and before ExecutorDown is published. It must take the executor's
	// queued tokens ([actors.Executor.Retire]) and place or resolve each; it
	// returns how many it placed elsewhere. nil resolves them with
	// actors.ErrNoExecutor.
	OnDown func(e *actors.Executor) int
	// Redirect places a job whose executor is down; see actors.GroupConfig.
	Redirect func(j actors.Job)
}

// Supervisor owns a group of executors.
type Supervisor struct {
	group    *actors.Group
	engine   *actor.Engine
	room     *actors.Room
	policy   Policy
	onDown   func(*actors.Executor) int
	finished []chan struct{} // closed when executor i has ended for good
	watchdog *watchdog

	mu       sync.Mutex
	slots    []slot
	stopping bool
}

// slot is the supervisor's record of one executor.
type slot struct {
	window   window
	timer    *time.Timer // a relaunch waiting out its backoff
	reason   error       // why the next start is a restart; nil for the first
	restarts int
	backoff  time.Duration
}

// Start creates, registers and launches the executors. Under [actors.Strict] a
// failed pin stops the executors already launched and is returned.
func Start(cfg Config) (*Supervisor, error) {
	policy, err := cfg.Restart.Resolve()
	if err != nil {
		return nil, err
	}
	n := len(cfg.CPUs)
	s := &Supervisor{
		engine:   cfg.Engine,
		room:     cfg.Room,
		policy:   policy,
		onDown:   cfg.OnDown,
		finished: make([]chan struct{}, n),
		slots:    make([]slot, n),
	}
	if s.onDown == nil {
		s.onDown = func(e *actors.Executor) int {
			for _, j := range e.Retire() {
				j.Task().Resolve(actors.Failed, actors.ErrNoExecutor)
			}
			return 0
		}
	}
	for i := range s.finished {
		s.finished[i] = make(chan struct{})
	}
	g, err := actors.NewGroup(actors.GroupConfig{
		Engine:      cfg.Engine,
		Name:        cfg.Name,
		CPUs:        cfg.CPUs,
		MailboxSize: cfg.MailboxSize,
		Affinity:    cfg.Affinity,
		Room:        cfg.Room,
		OnStart:     s.onStart,
		OnExit:      s.onExit,
		Redirect:    cfg.Redirect,
	})
	if err != nil {
		return nil, err
	}
	s.group = g
	if cfg.StallAfter > 0 {
		s.watchdog = newWatchdog(s, n, cfg.StallAfter)
	}
	for i, e := range g.Executors() {
		if err := e.Launch(); err != nil {
			close(s.finished[i]) // its goroutine never ran the loop
			for _, f := range s.finished[i+1:] {
				close(f)
			}
			s.group.Abort()
			s.wait(context.Background())
			s.group.Unregister()
			return nil, err
		}
	}
	if s.watchdog != nil {
		s.watchdog.start()
	}
	return s, nil
}

// Executors returns the supervised executors, index order.
func (s *Supervisor) Executors() []*actors.Executor { return s.group.Executors() }

// onStart runs on an executor goroutine once it is pinned, before its first
// token, so its Started or Restarted event precedes anything it does.
func (s *Supervisor) onStart(e *actors.Executor) {
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	reason, restarts, backoff := sl.reason, sl.restarts, sl.backoff
	sl.reason = nil
	s.mu.Unlock()
	e.SetHealth(actors.Restarting, false)
	pinned, pinErr := e.Pinned()
	if reason == nil {
		s.engine.BroadcastEvent(ExecutorStarted{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Pinned: pinned, PinError: pinErr})
		return
	}
	s.engine.BroadcastEvent(ExecutorRestarted{
		Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Reason: reason,
		Restarts: restarts, Backoff: backoff, Pinned: pinned, PinError: pinErr,
	})
}

// onExit runs on an executor goroutine as it ends.
func (s *Supervisor) onExit(e *actors.Executor, err error) {
	if err == nil || s.group.Aborted() {
		s.engine.BroadcastEvent(ExecutorStopped{Index: e.Index(), CPU: e.CPU(), PID: e.PID()})
		close(s.finished[e.Index()])
		return
	}
	s.crashed(e, err)
}

// crashed decides what follows an unexpected end: a restart now (the first in
// the window, or while stopping), a restart after a backoff, or down. It never
// sleeps: a backoff is a timer, and the executor is marked Restarting meanwhile
// so unpinned work goes elsewhere.
func (s *Supervisor) crashed(e *actors.Executor, reason error) {
	if s.watchdog != nil {
		s.watchdog.poke(e)
	}
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	delay, restarts, down := sl.window.admit(time.Now(), s.policy, jitter)
	if down {
		s.mu.Unlock()
		s.down(e, reason, restarts)
		return
	}
	if s.stopping {
		delay = 0 // drain now: Stop is waiting
	}
	sl.reason, sl.restarts, sl.backoff = reason, restarts, delay
	e.SetHealth(actors.Restarting, true)
	if delay == 0 {
		s.mu.Unlock()
		s.relaunch(e)
		return
	}
	sl.timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		if sl.timer == nil {
			s.mu.Unlock()
			return // Stop relaunched it
		}
		sl.timer = nil
		s.mu.Unlock()
		s.relaunch(e)
	})
	s.mu.Unlock()
}

func (s *Supervisor) relaunch(e *actors.Executor) {
	if err := e.Launch(); err != nil {
		s.crashed(e, fmt.Errorf("coregate: relaunching executor %d: %w", e.Index(), err))
	}
}

// down takes e out of service for good and moves its queued tokens.
func (s *Supervisor) down(e *actors.Executor, reason error, restarts int) {
	e.SetHealth(actors.Down, true)
	moved := s.onDown(e)
	s.engine.BroadcastEvent(ExecutorDown{
		Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Reason: reason,
		Restarts: restarts, Rerouted: moved,
	})
	close(s.finished[e.Index()])
}

// wait blocks until every executor ended for good or ctx ends.
func (s *Supervisor) wait(ctx context.Context) error {
	for _, f := range s.finished {
		select {
		case <-f:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop drains and stops the executors (see the package doc). It returns nil when
// every queue drained before ctx ended, else an error wrapping ctx's error and
// saying how many tokens were resolved with actors.ErrStopped. Call it once.
func (s *Supervisor) Stop(ctx context.Context) error {
	// From here on a crashed executor restarts at once, and one waiting out a
	// backoff is relaunched now, so every queue drains.
	s.mu.Lock()
	s.stopping = true
	var due []*actors.Executor
	for i := range s.slots {
		if sl := &s.slots[i]; sl.timer != nil && sl.timer.Stop() {
			sl.timer = nil
			due = append(due, s.group.Executors()[i])
		}
	}
	s.mu.Unlock()
	for _, e := range due {
		s.relaunch(e)
	}
	for _, e := range s.group.Executors() {
		e.Mailbox().Close()
	}
	s.room.Notify() // submitters waiting for room see the mailboxes closed
	werr := s.wait(ctx)
	if werr != nil {
		s.group.Abort()
		_ = s.wait(context.Background())
	}
	if s.watchdog != nil {
		s.watchdog.stop()
	}
	s.group.StopRetries()
	stopped := 0
	for _, e := range s.group.Executors() {
		stopped += e.StopQueued()
	}
	s.group.Release()
	s.group.Unregister()
	if werr != nil {
		return fmt.Errorf("coregate: stop: %w before the queues drained; %d queued tokens resolved with ErrStopped", werr, stopped)
	}
	return nil
}

// Group returns the supervised executors' group.
func (s *Supervisor) Group() *actors.Group { return s.group }
