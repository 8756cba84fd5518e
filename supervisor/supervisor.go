package supervisor

import (
	"context"
	"fmt"

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
}

// Supervisor owns a group of executors.
type Supervisor struct {
	group    *actors.Group
	engine   *actor.Engine
	room     *actors.Room
	finished []chan struct{} // closed when executor i has ended for good
}

// Start creates, registers and launches the executors. Under [actors.Strict] a
// failed pin stops the executors already launched and is returned.
func Start(cfg Config) (*Supervisor, error) {
	s := &Supervisor{engine: cfg.Engine, room: cfg.Room, finished: make([]chan struct{}, len(cfg.CPUs))}
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
		OnExit:      s.onExit,
	})
	if err != nil {
		return nil, err
	}
	s.group = g
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
		pinned, pinErr := e.Pinned()
		s.engine.BroadcastEvent(ExecutorStarted{Index: i, CPU: e.CPU(), PID: e.PID(), Pinned: pinned, PinError: pinErr})
	}
	return s, nil
}

// Executors returns the supervised executors, index order.
func (s *Supervisor) Executors() []*actors.Executor { return s.group.Executors() }

// onExit runs on an executor goroutine as it ends.
func (s *Supervisor) onExit(e *actors.Executor, err error) {
	if err != nil && !s.group.Aborted() {
		if lerr := e.Launch(); lerr == nil {
			s.engine.BroadcastEvent(ExecutorRestarted{Index: e.Index(), CPU: e.CPU(), PID: e.PID(), Reason: err})
			return
		}
	}
	s.engine.BroadcastEvent(ExecutorStopped{Index: e.Index(), CPU: e.CPU(), PID: e.PID()})
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
	for _, e := range s.group.Executors() {
		e.Mailbox().Close()
	}
	s.room.Notify() // submitters waiting for room see the mailboxes closed
	werr := s.wait(ctx)
	if werr != nil {
		s.group.Abort()
		_ = s.wait(context.Background())
	}
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
