package main

import (
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/bench/actorsuite"
	"github.com/coregate/coregate/bench/actorsuite/untyped"
)

// hollywoodActors is every actor case on plain hollywood v1.0.5 actors, as
// its README writes them: one engine with the default config, Spawn with a
// producer and the default options, Receive switching on c.Message(),
// c.Send between actors, engine.Send and Request from outside, Poison at the
// end. Hollywood has no placement: its one-core and cross-core ping-pong
// differ only by GOMAXPROCS.
var hollywoodActors = untyped.System(func() (untyped.Lib[*actor.PID, *actor.Context], error) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	return &hollywoodLib{e: e}, err
})

// hollywoodLib is an engine and every actor a case spawned on it.
type hollywoodLib struct {
	e    *actor.Engine
	pids []*actor.PID
}

// hollywoodReceiver is an actor as hollywood calls it.
type hollywoodReceiver struct {
	h untyped.Handler[*actor.Context]
}

func (r hollywoodReceiver) Receive(c *actor.Context) { r.h.Handle(c) }

func (l *hollywoodLib) Spawn(h untyped.Handler[*actor.Context]) *actor.PID {
	r := hollywoodReceiver{h}
	pid := l.e.Spawn(func() actor.Receiver { return r }, "bench")
	l.pids = append(l.pids, pid)
	return pid
}

func (l *hollywoodLib) Send(to *actor.PID, msg any) { l.e.Send(to, msg) }

func (l *hollywoodLib) Request(to *actor.PID, msg any, timeout time.Duration) (any, error) {
	return l.e.Request(to, msg, timeout).Result()
}

// Stop poisons every actor spawned and waits until each stopped.
func (l *hollywoodLib) Stop(timeout time.Duration) error {
	stopped := make(chan struct{}, len(l.pids))
	for _, pid := range l.pids {
		ctx := l.e.Poison(pid)
		go func() { <-ctx.Done(); stopped <- struct{}{} }()
	}
	_, err := actorsuite.Await(actorsuite.Params{Timeout: timeout}, stopped, len(l.pids), "hollywood actors stopped")
	return err
}
