// Package testkit holds helpers shared by coregate's tests.
package testkit

import (
	"time"

	"github.com/anthdm/hollywood/actor"
)

// Is reports whether ev is a T: the keep of a Subscribe for one event type.
func Is[T any](ev any) bool { _, ok := ev.(T); return ok }

// Subscribe spawns an actor that forwards every event matching keep to the
// returned channel (buffered, events beyond its capacity are dropped) and
// subscribes it. stop unsubscribes it before poisoning it: hollywood forwards
// events to a subscriber that is gone as dead letters, which are events too, so
// poisoning first would loop forever.
func Subscribe(engine *actor.Engine, keep func(any) bool) (events <-chan any, stop func()) {
	ch := make(chan any, 1024)
	ready := make(chan struct{})
	pid := engine.SpawnFunc(func(c *actor.Context) {
		switch msg := c.Message().(type) {
		case actor.Initialized, actor.Started, actor.Stopped:
		case probe:
			close(ready)
		default:
			if keep(msg) {
				select {
				case ch <- msg:
				default:
				}
			}
		}
	}, "testkit")
	engine.Subscribe(pid)
	// Events broadcast before the subscription was processed would be missed:
	// wait until a message sent through the stream comes back.
	engine.BroadcastEvent(probe{})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		panic("testkit: subscription did not take effect")
	}
	return ch, func() {
		engine.Unsubscribe(pid)
		<-engine.Poison(pid).Done()
	}
}

type probe struct{}
