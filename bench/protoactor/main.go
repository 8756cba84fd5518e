// Command protoactor is the protoactor child of the actor suite: `go run
// ./bench -suite actors` builds it and runs it once per measurement. It is a
// module of its own because protoactor and hollywood cannot be linked into one
// binary (both register the protobuf file actor.proto), and so protoactor's
// dependencies stay out of the bench's module graph.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coregate/coregate/bench/actorsuite"
	"github.com/coregate/coregate/bench/actorsuite/untyped"
)

// main serves the one measurement its parent asked for.
func main() {
	if !actorsuite.IsChild() {
		fmt.Fprintln(os.Stderr, "protoactor: the actor suite's child; run `go run ./bench -suite actors` from the repository root")
		os.Exit(2)
	}
	actorsuite.ServeChild(map[string]actorsuite.System{"protoactor": protoactorActors})
}

// protoactorActors is every actor case on protoactor-go actors, as its
// README writes them: one ActorSystem (its logger silenced, as a benchmark
// would), Props from a producer with the default unbounded mailbox and
// dispatcher, Receive switching on c.Message(), c.Send between actors,
// Root.Send and RequestFuture from outside, PoisonFuture at the end.
// Protoactor has no placement: its one-core and cross-core ping-pong differ
// only by GOMAXPROCS.
var protoactorActors = untyped.System(func() (untyped.Lib[*actor.PID, actor.Context], error) {
	return &protoactorLib{sys: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))}, nil
})

// protoactorLib is an actor system and every actor a case spawned on it.
type protoactorLib struct {
	sys  *actor.ActorSystem
	pids []*actor.PID
}

// protoactorActor is an actor as protoactor calls it.
type protoactorActor struct {
	h untyped.Handler[actor.Context]
}

func (a protoactorActor) Receive(c actor.Context) { a.h.Handle(c) }

func (l *protoactorLib) Spawn(h untyped.Handler[actor.Context]) *actor.PID {
	a := protoactorActor{h}
	pid := l.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	l.pids = append(l.pids, pid)
	return pid
}

func (l *protoactorLib) Send(to *actor.PID, msg any) { l.sys.Root.Send(to, msg) }

func (l *protoactorLib) Request(to *actor.PID, msg any, timeout time.Duration) (any, error) {
	return l.sys.Root.RequestFuture(to, msg, timeout).Result()
}

// Stop poisons every actor spawned, waits until each stopped and shuts the
// system down.
func (l *protoactorLib) Stop(timeout time.Duration) error {
	defer l.sys.Shutdown()
	futures := make([]*actor.Future, len(l.pids))
	for i, pid := range l.pids {
		futures[i] = l.sys.Root.PoisonFuture(pid)
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			return fmt.Errorf("protoactor: stopping an actor: %w", err)
		}
	}
	return nil
}
