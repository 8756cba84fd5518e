package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
)

// Rerouter moves queued work off executors that cannot run it; the runtime's
// router implements it. Its methods run on the supervisor's goroutines (an
// ending executor's, a timer's, the watchdog's).
type Rerouter interface {
	// Redirect places an accepted job whose executor is down (sent to its
	// PID, or a retry due on it) elsewhere, or resolves it.
	Redirect(j actors.Job)
	// Follow returns the executor a retried job due now goes to when its
	// placement moved off the executor that ran it, or nil to keep it there.
	Follow(j actors.Job) *actors.Executor
	// Down is called once e went down: take its queued tokens
	// ([actors.Executor.Retire]) and place or resolve each; return how many
	// moved to other executors.
	Down(e *actors.Executor) int
	// Up is called once e, back from down, runs again.
	Up(e *actors.Executor)
	// Stalled is called when e stalls, and again at each watchdog look while
	// it stays stalled: move the queued tokens that need not stay on e
	// ([actors.Executor.Steal]) to healthy executors; return how many moved.
	Stalled(e *actors.Executor) int
}

// Config describes what to supervise and how.
type Config struct {
	Group   *actors.Group // the executors, not started yet
	Room    *actors.Room  // the Room the executors' mailboxes notify
	Restart Policy        // zero fields mean the defaults
	// StallAfter is the stall threshold; 0 turns the watchdog off.
	StallAfter time.Duration
	// Grace is how long Stop waits, once its context ended and running
	// handlers saw theirs cancelled, for them to return before it reports
	// them as still running. 0 means DefaultGrace.
	Grace time.Duration
	// Reroute moves work off down and stalled executors; nil resolves a down
	// executor's tokens with actors.ErrNoExecutor and leaves a stalled
	// executor's queue in place.
	Reroute Rerouter
}

// DefaultGrace is the grace Stop gives cancelled handlers to return.
const DefaultGrace = 100 * time.Millisecond

// Supervisor owns a group of executors. Make one with [Start]; the zero value
// is not usable.
type Supervisor struct {
	group    *actors.Group
	engine   *actor.Engine
	room     *actors.Room
	policy   Policy
	grace    time.Duration
	reroute  Rerouter
	watchdog *watchdog

	mu       sync.Mutex
	slots    []slot
	stopping bool
	firing   sync.WaitGroup // timers relaunching an executor
	downing  sync.WaitGroup // executors that went down before Stop, moving their queues
}

// slot is the supervisor's record of one executor.
type slot struct {
	window   window
	timer    *time.Timer // a relaunch waiting out its backoff, or a cool-down
	down     bool        // out of service; timer, if set, is its cool-down
	reason   error       // why the next start is a restart; nil for the first
	restarts int
	backoff  time.Duration
	due      time.Time     // when the backoff's timer fires
	cooldown time.Duration // the next cool-down; 0 until the first down
	upSince  time.Time     // when it last came back from down
	// restarts past the policy while stopping (see crashed)
	stopRestarts int
}

// noReroute is the Rerouter used when Config.Reroute is nil.
type noReroute struct{}

func (noReroute) Down(e *actors.Executor) int {
	for _, j := range e.Retire() {
		actors.Drop(j, actors.Failed, actors.ErrNoExecutor)
	}
	return 0
}
func (noReroute) Redirect(j actors.Job)              { actors.Drop(j, actors.Failed, actors.ErrNoExecutor) }
func (noReroute) Follow(actors.Job) *actors.Executor { return nil }
func (noReroute) Up(*actors.Executor)                {}
func (noReroute) Stalled(*actors.Executor) int       { return 0 }

// Start launches and supervises cfg.Group's executors. Under
// [actors.Strict] a failed pin stops the executors already launched and is
// returned; the group is then released and unregistered.
func Start(cfg Config) (*Supervisor, error) {
	policy, err := cfg.Restart.Resolve()
	if err != nil {
		return nil, err
	}
	g := cfg.Group
	s := &Supervisor{
		group:   g,
		engine:  g.Engine(),
		room:    cfg.Room,
		policy:  policy,
		grace:   cmp.Or(cfg.Grace, DefaultGrace),
		reroute: cfg.Reroute,
		slots:   make([]slot, len(g.Executors())),
	}
	if s.reroute == nil {
		s.reroute = noReroute{}
	}
	if cfg.StallAfter > 0 {
		s.watchdog = newWatchdog(s, len(s.slots), cfg.StallAfter)
	}
	if err := g.Start(actors.Hooks{OnStart: s.onStart, OnExit: s.onExit, Redirect: s.reroute.Redirect, Follow: s.reroute.Follow}); err != nil {
		g.Release()
		g.Unregister()
		return nil, err
	}
	if s.watchdog != nil {
		s.watchdog.start()
	}
	return s, nil
}

// Executors returns the supervised executors, index order.
func (s *Supervisor) Executors() []*actors.Executor { return s.group.Executors() }

// onStart runs on an executor goroutine once it is pinned, before its first
// token, so its Started, Restarted or Revived event precedes anything it does.
func (s *Supervisor) onStart(e *actors.Executor) {
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	reason, restarts, backoff, revived := sl.reason, sl.restarts, sl.backoff, sl.down
	sl.reason, sl.down = nil, false
	if revived {
		sl.upSince = time.Now()
	}
	s.mu.Unlock()
	if s.watchdog != nil {
		// Until its start is announced: its owner has run nothing yet, and
		// a stall seen now would be published ahead of the announcement.
		s.watchdog.announce(e, true)
		defer s.watchdog.announce(e, false)
	}
	e.SetHealth(actors.Restarting|actors.Down, false)
	pinned, pinErr := e.Pinned()
	switch {
	case revived:
		s.reroute.Up(e)
		s.engine.BroadcastEvent(ExecutorRevived{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Pinned: pinned, PinError: pinErr})
	case reason == nil:
		s.engine.BroadcastEvent(ExecutorStarted{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Pinned: pinned, PinError: pinErr})
	default:
		s.engine.BroadcastEvent(ExecutorRestarted{
			Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Reason: reason,
			Restarts: restarts, Backoff: backoff, Pinned: pinned, PinError: pinErr,
		})
	}
}

// onExit runs on an executor's owner goroutine as it ends, before it leaves
// the group.
func (s *Supervisor) onExit(e *actors.Executor, err error) {
	switch {
	case err == nil || s.group.Aborted():
		if s.watchdog != nil {
			s.watchdog.poke(e) // a stalled handler that returned recovers before the executor stops
		}
		s.engine.BroadcastEvent(ExecutorStopped{Index: e.Index(), CPU: e.CPU(), PID: e.PID()})
	case errors.Is(err, actors.ErrGoexit):
		s.userExit(e)
	default:
		s.crashed(e, err, false)
	}
}

// userExit replaces an owner that a handler's runtime.Goexit ended: at once,
// on the same CPU and mailbox, outside the restart intensity, since the
// executor did not fail.
func (s *Supervisor) userExit(e *actors.Executor) {
	if s.watchdog != nil {
		s.watchdog.poke(e) // a stalled handler that ended so recovers before the restart
	}
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	sl.reason, sl.restarts, sl.backoff = actors.ErrGoexit, sl.window.count(time.Now(), s.policy), 0
	s.mu.Unlock()
	e.SetHealth(actors.Restarting, true)
	s.relaunch(e)
}

// crashed decides what follows a failure of the executor itself: a restart
// now (the first in the window, or while stopping), a restart after a
// backoff, or down. It never sleeps: a backoff is a timer, and the executor is
// marked Restarting meanwhile so unpinned work goes elsewhere. launch says
// the failure was a relaunch that never ran (its thread could not be pinned).
func (s *Supervisor) crashed(e *actors.Executor, reason error, launch bool) {
	if s.watchdog != nil {
		s.watchdog.poke(e)
	}
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	// A revival that failed to launch (sl.down: the half-open try failed)
	// is down again, its cool-down doubled, with no restart counted since
	// it came back. Restarting it instead would leave it recorded down,
	// which Stop does not relaunch, with a reopened mailbox nothing drains.
	delay, restarts, down := time.Duration(0), 0, true
	if !sl.down {
		delay, restarts, down = sl.window.admit(time.Now(), s.policy, jitter)
	}
	if !sl.down && down && s.stopping && !launch && sl.stopRestarts < s.policy.MaxRestarts {
		// Restarted at once instead, as any failure while stopping: its
		// queue, moved, could only reach executors that drained and
		// refuse it, and Stop would cut those tokens short. Not a launch
		// that keeps failing: relaunched at once from inside the last
		// try, it would never end, and nothing would run its queue. Nor a
		// loop that keeps failing: past another MaxRestarts it goes down,
		// or Stop would wait for its restarts for ever.
		sl.stopRestarts++
		down = false
	}
	if down {
		// Before Stop: Stop waits for its queue to move before it closes
		// the mailboxes, or the executors it goes to could drain and
		// exit first, and it would be cut short.
		early := !s.stopping
		if early {
			s.downing.Add(1)
		}
		s.mu.Unlock()
		s.down(e, reason, restarts)
		if early {
			s.downing.Done()
		}
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
	sl.due = time.Now().Add(delay)
	sl.timer = time.AfterFunc(delay, func() { s.fire(e) })
	s.mu.Unlock()
	// Restarting for a while: unpinned work goes elsewhere, and a
	// submitter waiting for room on e (the only executor of its class's
	// range, say) may now use another executor that has room, which no
	// refill there would tell it of.
	s.room.Notify()
}

// fire runs a relaunch or a cool-down whose timer is due, unless Stop took it.
func (s *Supervisor) fire(e *actors.Executor) {
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	if sl.timer == nil {
		s.mu.Unlock()
		return // Stop took it (and relaunches it, unless it is down)
	}
	sl.timer = nil
	if sl.down {
		e.Mailbox().Reopen() // under mu: Stop's Close comes after
	}
	s.firing.Add(1)
	s.mu.Unlock()
	defer s.firing.Done()
	s.relaunch(e)
}

func (s *Supervisor) relaunch(e *actors.Executor) {
	if err := e.Launch(); err != nil {
		s.crashed(e, fmt.Errorf("coregate: relaunching executor %d: %w", e.Index(), err), true)
	}
}

// down takes e out of service, moves its queued tokens, and sets the
// cool-down after which it is tried again: doubling from the policy's
// Cooldown to MaxCooldown, back to Cooldown once it stayed up a whole Window.
func (s *Supervisor) down(e *actors.Executor, reason error, restarts int) {
	// Out of service (Restarting) while its queue moves, and Down only once
	// its mailbox refuses: work a caller sends it after seeing Down (an
	// actor spawned OnExecutor) goes elsewhere at once, not by the move.
	e.SetHealth(actors.Restarting, true)
	moved := s.reroute.Down(e)
	e.SetHealth(actors.Down, true)
	e.SetHealth(actors.Restarting, false)
	s.mu.Lock()
	sl := &s.slots[e.Index()]
	now := time.Now()
	switch {
	case sl.cooldown == 0 || !sl.down && now.Sub(sl.upSince) >= s.policy.Window: // not a failed revival
		sl.cooldown = s.policy.Cooldown
	default:
		// min(2*cooldown, MaxCooldown), without doubling past the largest
		// Duration: wrapped, a huge cool-down would revive at once.
		sl.cooldown += min(sl.cooldown, s.policy.MaxCooldown-sl.cooldown)
	}
	cool := sl.cooldown
	sl.down, sl.reason, sl.window = true, reason, window{}
	// Announced before the cool-down's timer is set, under mu, which the
	// revival's onStart takes before its ExecutorRevived: however short the
	// cool-down, Down comes first.
	s.engine.BroadcastEvent(ExecutorDown{
		Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Reason: reason,
		Restarts: restarts, Rerouted: moved, Cooldown: cool,
	})
	if !s.stopping {
		sl.timer = time.AfterFunc(cool, func() { s.fire(e) })
	}
	s.mu.Unlock()
}

// Stop drains and stops the executors (see the package doc). It returns nil
// when every accepted token reached its own outcome, else a [*StopError] saying
// what was cut short: tokens resolved with actors.ErrStopped, retries resolved
// with their last error (also a retry waiting on an executor that is down,
// which no drain waits for), handlers whose contexts it cancelled that
// returned within the grace, and handlers still running (by op), whose
// goroutines exit when they return. Call it once.
func (s *Supervisor) Stop(ctx context.Context) error {
	// From here on a crashed executor restarts at once, one waiting out a
	// backoff is relaunched now, and one down stays down; one going down
	// moves its queue before the mailboxes close.
	s.mu.Lock()
	s.stopping = true
	var due []*actors.Executor
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.timer != nil {
			// Taken from its timer even when the timer fired meanwhile: fire
			// then finds it taken, so exactly one of them relaunches it.
			sl.timer.Stop()
			if !sl.down {
				due = append(due, s.group.Executors()[i])
				sl.backoff -= max(time.Until(sl.due), 0) // cut short: its Restarted says what it waited
			}
		}
		sl.timer = nil
	}
	s.mu.Unlock()
	s.firing.Wait()
	s.downing.Wait()
	for _, e := range due {
		s.relaunch(e)
	}
	for _, e := range s.group.Executors() {
		e.Mailbox().Close()
	}
	s.group.DropSpares()
	s.room.Notify() // submitters waiting for room see the mailboxes closed
	werr := s.group.Wait(ctx)
	var stop *StopError
	if werr != nil {
		stopped, retries := s.group.Abort()
		stop = &StopError{Cause: werr, Stopped: stopped, Retries: retries + s.group.StopRetries()}
		grace, cancel := context.WithTimeout(context.Background(), s.grace)
		_ = s.group.Wait(grace)
		cancel()
		stop.Running = byOp(s.group.Running())
		// Read after Running: one returning in between is counted in both
		// rather than in neither.
		stop.Cancelled = s.group.Cancelled()
	}
	if s.watchdog != nil {
		s.watchdog.stop()
	}
	// After a drain the only retries left wait on an executor that is down:
	// no draining owner waited for the slot they hold. They never ran again.
	// After an abort, this also counts the retries whose runners the abort
	// cut short on their way to their backoff, done by the grace's end.
	if n := s.group.StopRetries(); n > 0 {
		if stop == nil {
			stop = &StopError{Cause: ErrDownWhileDraining}
		}
		stop.Retries += n
	}
	s.group.Release()
	s.group.Unregister()
	if stop == nil || stop.Stopped == 0 && stop.Retries == 0 && stop.Cancelled == 0 && len(stop.Running) == 0 {
		return nil // nothing was cut short
	}
	return stop
}

// StopError is what Stop returns when work was cut short: its context ended
// before every token reached its own outcome, or (Cause
// [ErrDownWhileDraining]) an executor that was down as the runtime drained
// left tokens that no draining executor ran. Get it with errors.As; errors.Is
// sees its Cause.
type StopError struct {
	Cause   error // the context's error, or ErrDownWhileDraining when it did not end
	Stopped int   // queued tokens resolved with actors.ErrStopped
	Retries int   // tokens in a retry backoff, resolved with their last error
	Refused int   // from a runtime: messages queued to actors and never delivered, refused with ErrActorStopped (an Ask's token with it)
	// Cancelled counts handlers (and actors' Receives) running when the
	// context ended, whose contexts were cancelled, that returned (or
	// called runtime.Goexit) within the grace: each resolved with what it
	// returned, likely the context's error (ErrGoexit for a Goexit). One
	// returning just as the grace ended may be in Running too.
	Cancelled int
	Running   map[string]int // handlers still running, by op ("actor:" and its name for an actor's); their goroutines exit when they return
}

// Error says what Stop cut short.
func (e *StopError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "coregate: stop: %v before the runtime drained", e.Cause)
	if e.Stopped > 0 {
		fmt.Fprintf(&b, "; %d queued tokens resolved with ErrStopped", e.Stopped)
	}
	if e.Retries > 0 {
		fmt.Fprintf(&b, "; %d tokens waiting to retry resolved with their last error", e.Retries)
	}
	if e.Refused > 0 {
		fmt.Fprintf(&b, "; %d messages queued to actors refused with ErrActorStopped", e.Refused)
	}
	if e.Cancelled > 0 {
		fmt.Fprintf(&b, "; %d running handlers cancelled (returned within the grace)", e.Cancelled)
	}
	if n := sum(e.Running); n > 0 {
		fmt.Fprintf(&b, "; %d handlers still running, their contexts cancelled (", n)
		for k, op := range slices.Sorted(maps.Keys(e.Running)) {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q x%d", op, e.Running[op])
		}
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns Cause: the context's error, or [ErrDownWhileDraining].
func (e *StopError) Unwrap() error { return e.Cause }

func byOp(ts []*actors.Task) map[string]int {
	if len(ts) == 0 {
		return nil
	}
	m := make(map[string]int)
	for _, t := range ts {
		m[t.OpName()]++
	}
	return m
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (s *Supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// Group returns the supervised executors' group.
func (s *Supervisor) Group() *actors.Group { return s.group }
