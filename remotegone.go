package coregate

// What a peer's message to a runtime's process that left the engine is
// answered: the process is gone, so hollywood makes the message a dead
// letter, which no one answers.

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/wire"
	"google.golang.org/protobuf/proto"
)

// goneID is the ID of the process of an engine with [Remote] that answers
// a peer whose message to a runtime's ops process or actor found none (see
// gone).
const goneID = "coregate/gone"

// gone answers, for the runtimes started on its engine, a peer's message
// with a sender to their ops process or to one of their actors once it
// left the engine (a runtime or actor that stopped): STOPPED or
// ACTOR_STOPPED, at once, where the peer's Request would wait out its
// whole timeout. It sees the engine's dead letters on its event stream,
// from the first runtime's Start on (hollywood starts the remote before
// the stream exists), and keeps no process or goroutine per name, as a
// tombstone would, kept for ever, in the way of a name spawned again: the
// names stay free, and a message that found the name taken again reached
// the new process. It is a process of the engine with no goroutine of its
// own; Remote's Start spawns it (or, on an engine without Remote, the
// first runtime's Start, for [Request] alone), and it lives as long as the
// engine.
//
// A runtime publishes what it refused and answered itself as dead letters
// too, maybe after its process left the engine (a message it took as it
// stopped): so the registry cannot tell them from hollywood's, and the
// runtime counts them in answered as it publishes them. So does Remote,
// for what it keeps off the wire: its target, of another engine, may have
// the ID of a runtime's process here, and g looks at IDs only (see
// answers).
type gone struct {
	e          *actor.Engine
	pid        *actor.PID
	remote     bool // Remote's: it answers peers (else Start's, for Request alone)
	subscribed sync.Once

	mu sync.Mutex
	// runtimes holds the names of the runtimes started on the engine: a
	// dead letter to one of their processes is a runtime's, never one of a
	// process of the user's that happens to have the form.
	runtimes map[string]struct{}
	// answered counts, by message, the dead letters a runtime published
	// for messages it refused and answered itself (see deadLetter): they
	// are not answered again.
	answered map[proto.Message]int
}

// goneOf returns the gone process of engine e, and makes it answer for
// the runtime named name. An engine without Remote gets one too, with no
// subscription (no peer's message reaches it): a local [Request] to a
// process of a runtime that stopped learns from it that it stopped.
func goneOf(e *actor.Engine, name string) *gone {
	goneSpawn.Lock()
	g := goneFor(e)
	if g == nil {
		g = newGone(e, false)
		e.SpawnProc(&proc{pid: g.pid, engine: e, send: g.receive})
	}
	goneSpawn.Unlock()
	g.add(name)
	return g
}

// goneSpawn keeps two runtimes starting on one engine without Remote from
// both spawning its gone process.
var goneSpawn sync.Mutex

// goneFor returns the gone process of engine e, or nil where e has none
// (no Remote, and no runtime started on it yet).
func goneFor(e *actor.Engine) *gone {
	pid := actor.NewPID(e.Address(), goneID)
	if p, _ := registered(e, pid); p == nil {
		return nil
	}
	var g *gone
	e.SendLocal(pid, findGone{to: &g}, nil) // its Send runs here: g is set on return
	return g
}

// findGone asks the gone process for itself.
type findGone struct{ to **gone }

func newGone(e *actor.Engine, remote bool) *gone {
	return &gone{e: e, pid: actor.NewPID(e.Address(), goneID), remote: remote, runtimes: make(map[string]struct{}), answered: make(map[proto.Message]int)}
}

// receive takes what the engine sends the gone process: the events of its
// stream, and findGone. Anything else (a peer's message) is dropped, a
// Request's answered (see takesNone).
func (g *gone) receive(msg any, sender *actor.PID) {
	switch m := msg.(type) {
	case findGone:
		*m.to = g
	case actor.DeadLetterEvent:
		g.deadLetter(m)
	default:
		takesNone(g.e, g.pid, sender)
	}
}

// add makes g answer for the runtime named name. The first time, before
// any of its dead letters, g subscribes to the event stream: it sees every
// event broadcast after that.
func (g *gone) add(name string) {
	if g.remote {
		g.subscribed.Do(func() { g.e.Subscribe(g.pid) })
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.runtimes[name] = struct{}{}
}

// answers returns the answer a dead letter of msg to target from sender
// gets from g, or nil: only one with a sender of another engine (not
// Remote's stand-in for none), a protobuf message that is not an answer
// itself (every message a peer sends is a pointer), to a runtime's ops
// process or actor. Whatever address target has: hollywood's reader
// delivers a peer's message by ID alone, so a peer that names the engine
// otherwise than its listen address (a wildcard ":4000", a host name)
// reaches the live processes, and its dead letter is as much this
// engine's.
func (g *gone) answers(target *actor.PID, msg any, sender *actor.PID) *wire.Error {
	_, ok := msg.(proto.Message)
	_, isAnswer := msg.(*wire.Error)
	if !g.remote || !ok || isAnswer || reflect.TypeOf(msg).Kind() != reflect.Pointer || // counted by it in answered
		sender == nil || target == nil ||
		sender.GetAddress() == g.e.Address() || sender.GetID() == discardID {
		return nil
	}
	id := target.GetID()
	switch g.stopped(target) {
	case ErrStopped:
		name, _, _ := strings.Cut(id, "/")
		return &wire.Error{Code: wire.Code_STOPPED, Message: fmt.Sprintf("coregate: no process %s on %s: runtime %q stopped", quoteSent(id), target.GetAddress(), name)}
	case ErrActorStopped:
		return &wire.Error{Code: wire.Code_ACTOR_STOPPED, Message: fmt.Sprintf("coregate: no process %s on %s: the actor stopped (or was never spawned)", quoteSent(id), target.GetAddress())}
	}
	return nil
}

// stopped returns the error a message to target, a process of g's engine
// that is not there, stands for: ErrStopped for the ops process of a
// runtime started on the engine, ErrActorStopped for one of its actors (or
// a name no actor had), nil for any other.
func (g *gone) stopped(target *actor.PID) error {
	name, rest, _ := strings.Cut(target.GetID(), "/") // a runtime's name has no '/'
	g.mu.Lock()
	_, ran := g.runtimes[name]
	g.mu.Unlock()
	switch {
	case !ran:
		return nil
	case rest == "ops":
		return ErrStopped
	case strings.HasPrefix(rest, "actor/"):
		return ErrActorStopped
	}
	return nil
}

// refused counts msg, which a runtime refused and answered itself (or
// Remote kept off the wire), as its dead letter is published: g does not
// answer it again.
func (g *gone) refused(target *actor.PID, msg any, sender *actor.PID) {
	if g.answers(target, msg, sender) == nil {
		return // g lets it be: nothing to count
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answered[msg.(proto.Message)]++
}

// deadLetter answers ev's sender, unless a runtime did.
func (g *gone) deadLetter(ev actor.DeadLetterEvent) {
	w := g.answers(ev.Target, ev.Message, ev.Sender)
	if w == nil {
		return
	}
	g.mu.Lock()
	m := ev.Message.(proto.Message)
	n := g.answered[m]
	switch {
	case n > 1:
		g.answered[m] = n - 1
	case n == 1:
		delete(g.answered, m)
	}
	g.mu.Unlock()
	if n == 0 {
		g.e.Send(ev.Sender, w)
	}
}

// deadLetter publishes msg, which the runtime refused, as a dead letter to
// target, its process.
func (rt *Runtime) deadLetter(target *actor.PID, msg any, sender *actor.PID) {
	if rt.gone != nil {
		rt.gone.refused(target, msg, sender)
	}
	rt.engine.BroadcastEvent(actor.DeadLetterEvent{Target: target, Message: msg, Sender: sender})
}
