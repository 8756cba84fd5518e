// Package untyped implements every case of the actor suite once for the
// actor libraries whose actors take messages of any type and address each
// other by PID: hollywood and protoactor, which cannot share a binary. A
// library comes in as a [Lib] (spawn, send and request from outside, stop)
// and a context type C with the methods both libraries' contexts have
// (Message, Send, Respond); the actors call exactly those, so each message
// takes the path a user's Receive would.
package untyped

import (
	"fmt"
	"time"

	"github.com/coregate/coregate/bench/actorsuite"
)

// Ctx is what an actor's Receive gets from the library: its message, and
// sending to a PID of type P, and responding to a request.
type Ctx[P any] interface {
	Message() any
	Send(pid P, msg any)
	Respond(msg any)
}

// Handler is an actor as the library's receiver calls it.
type Handler[C any] interface{ Handle(c C) }

// Lib is one library, set up afresh for one case.
type Lib[P any, C Ctx[P]] interface {
	Spawn(h Handler[C]) P                                      // a new actor, its state h; a restart keeps h
	Send(to P, msg any)                                        // from outside any actor
	Request(to P, msg any, timeout time.Duration) (any, error) // a round trip from outside
	Stop(timeout time.Duration) error                          // stop every actor spawned and wait
}

// System returns every case on the library that open sets up.
func System[P any, C Ctx[P]](open func() (Lib[P, C], error)) actorsuite.System {
	run := func(body func(p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error)) actorsuite.Func {
		return func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
			l, err := open()
			if err != nil {
				return 0, err
			}
			ops, err := body(p, m, l)
			if serr := l.Stop(p.Timeout); serr != nil && err == nil {
				err = serr
			}
			return ops, err
		}
	}
	ring := func(two bool) actorsuite.Func {
		return run(func(p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
			if two {
				return pingRing(p, m, l, 2, 2*p.Rounds)
			}
			return pingRing(p, m, l, p.RingActors, p.RingHops)
		})
	}
	return actorsuite.System{
		actorsuite.PingPongOneCore:   ring(true),
		actorsuite.PingPongCrossCore: ring(true),
		actorsuite.ThreadRing:        ring(false),
		actorsuite.Counting:          run(counting[P, C]),
		actorsuite.ForkJoinThrough:   run(forkJoin[P, C]),
		actorsuite.ForkJoinCreation:  run(creation[P, C]),
		actorsuite.Big:               run(big[P, C]),
		actorsuite.Chameneos:         run(chameneos[P, C]),
		actorsuite.Bank:              run(bank[P, C]),
	}
}

// hop is a ring member.
type hop[P any, C Ctx[P]] struct {
	actorsuite.Hop
	next P
}

func (a *hop[P, C]) Handle(c C) {
	if n, ok := c.Message().(int); ok {
		a.Hop.Receive(n, func(v int) error { c.Send(a.next, v); return nil })
	}
}

// pingRing passes a token hops hops around a ring of k actors; a ring of 2
// is ping-pong, timed per round trip.
func pingRing[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C], k, hops int) (int, error) {
	done := make(chan error, 1)
	ring := make([]*hop[P, C], k)
	pids := make([]P, k)
	for i := range ring {
		ring[i] = &hop[P, C]{Hop: actorsuite.Hop{Done: done}}
		pids[i] = l.Spawn(ring[i])
	}
	for i, h := range ring {
		h.next = pids[(i+1)%k]
	}
	if k == 2 {
		ring[0].Meter = m
		m.Reserve(hops / 2)
	}
	m.Start()
	l.Send(pids[0], hops)
	errs, werr := actorsuite.Await(p, done, 1, "the token's return to 0")
	m.Stop()
	if err := actorsuite.FirstErr(errs, werr); err != nil {
		return 0, err
	}
	recvd := make([]int, k)
	for i, h := range ring {
		recvd[i] = h.Recvd
	}
	return hops, actorsuite.CheckRing(recvd, hops)
}

// countQuery asks a counter for its count.
type countQuery struct{}

// counter adds the ints it gets and responds to a countQuery.
type counter[P any, C Ctx[P]] struct{ n int }

func (a *counter[P, C]) Handle(c C) {
	switch m := c.Message().(type) {
	case int:
		a.n += m
	case countQuery:
		c.Respond(a.n)
	}
}

func counting[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	pid := l.Spawn(&counter[P, C]{})
	m.Start()
	for range p.Count {
		l.Send(pid, 1)
	}
	got, err := l.Request(pid, countQuery{}, p.Timeout)
	m.Stop()
	if err != nil {
		return 0, err
	}
	return p.Count, actorsuite.Equal[any]("counting: the count", got, p.Count)
}

// forkJoiner is a forkjoin-throughput actor.
type forkJoiner[P any, C Ctx[P]] struct{ actorsuite.ForkJoin }

func (a *forkJoiner[P, C]) Handle(c C) {
	if v, ok := c.Message().(int); ok {
		a.ForkJoin.Receive(v)
	}
}

func forkJoin[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	done := make(chan error, p.FJActors)
	pids := make([]P, p.FJActors)
	for i := range pids {
		pids[i] = l.Spawn(&forkJoiner[P, C]{actorsuite.ForkJoin{I: i, Msgs: p.FJMessages, Done: done}})
	}
	m.Start()
	for v := range p.FJMessages {
		for _, pid := range pids {
			l.Send(pid, v)
		}
	}
	errs, werr := actorsuite.Await(p, done, p.FJActors, "forkjoin actors done")
	m.Stop()
	return p.FJActors * p.FJMessages, actorsuite.FirstErr(errs, werr)
}

// once reports the one int it gets.
type once[P any, C Ctx[P]] struct{ done chan<- int }

func (a *once[P, C]) Handle(c C) {
	if id, ok := c.Message().(int); ok {
		a.done <- id
	}
}

func creation[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	done := make(chan int, p.Creations)
	m.Start()
	for i := range p.Creations {
		l.Send(l.Spawn(&once[P, C]{done: done}), i)
	}
	ids, werr := actorsuite.Await(p, done, p.Creations, "created actors' reports")
	m.Stop()
	if werr != nil {
		return 0, werr
	}
	return p.Creations, actorsuite.CheckCreation(ids, p.Creations)
}

// bigActor is one of big's actors.
type bigActor[P any, C Ctx[P]] struct {
	*actorsuite.BigActor
	peers []P
}

func (a *bigActor[P, C]) Handle(c C) {
	if msg, ok := c.Message().(actorsuite.BigMsg); ok {
		a.BigActor.Receive(msg, func(to int, m actorsuite.BigMsg) error { c.Send(a.peers[to], m); return nil })
	}
}

func big[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	done := make(chan error, p.BigActors)
	as := make([]*bigActor[P, C], p.BigActors)
	pids := make([]P, p.BigActors)
	for i := range as {
		as[i] = &bigActor[P, C]{BigActor: actorsuite.NewBigActor(p, i, done), peers: pids}
		pids[i] = l.Spawn(as[i])
	}
	m.Start()
	for _, pid := range pids {
		l.Send(pid, actorsuite.BigMsg{From: -1})
	}
	errs, werr := actorsuite.Await(p, done, p.BigActors, "big actors done")
	m.Stop()
	return 2 * p.BigActors * p.BigPings, actorsuite.CheckBigActors(p, errs, werr, func(i int) *actorsuite.BigActor { return as[i].BigActor })
}

// chameneo is chameneos' mall (mall != nil) or a creature.
type chameneo[P any, C Ctx[P]] struct {
	mall     *actorsuite.Mall
	creature *actorsuite.Creature
	mallPID  P
	peers    []P
}

func (a *chameneo[P, C]) Handle(c C) {
	msg, ok := c.Message().(actorsuite.ChamMsg)
	switch {
	case !ok:
	case a.mall != nil:
		a.mall.Receive(msg, func(to int, m actorsuite.ChamMsg) error { c.Send(a.peers[to], m); return nil })
	default:
		a.creature.Receive(msg, func(to int, m actorsuite.ChamMsg) error {
			c.Send(actorsuite.Route(to, a.peers, a.mallPID), m)
			return nil
		})
	}
}

func chameneos[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	done := make(chan actorsuite.CreatureReport, p.Creatures)
	mallDone := make(chan error, 1)
	pids := make([]P, p.Creatures)
	mall := l.Spawn(&chameneo[P, C]{mall: actorsuite.NewMall(p, mallDone), peers: pids})
	for i := range pids {
		pids[i] = l.Spawn(&chameneo[P, C]{creature: actorsuite.NewCreature(i, done), mallPID: mall, peers: pids})
	}
	m.Start()
	for _, pid := range pids {
		l.Send(pid, actorsuite.ChamMsg{Kind: actorsuite.ChamStart})
	}
	seen, werr := actorsuite.Await(p, done, p.Creatures, "creatures sent home")
	m.Stop()
	return p.Meetings, actorsuite.CheckChameneosRun(p, seen, werr, mallDone)
}

// banker is the bank's teller (teller != nil) or an account, which responds
// to a balance query with its balance.
type banker[P any, C Ctx[P]] struct {
	teller    *actorsuite.Teller
	account   *actorsuite.Account
	tellerPID P
	accounts  []P
}

func (a *banker[P, C]) Handle(c C) {
	msg, ok := c.Message().(actorsuite.BankMsg)
	send := func(to int, m actorsuite.BankMsg) error {
		c.Send(actorsuite.Route(to, a.accounts, a.tellerPID), m)
		return nil
	}
	switch {
	case !ok:
	case a.teller != nil:
		a.teller.Receive(msg, send)
	case msg.Kind == actorsuite.BankBalance:
		c.Respond(a.account.Balance)
	default:
		a.account.Receive(msg, send)
	}
}

func bank[P any, C Ctx[P]](p actorsuite.Params, m *actorsuite.Meter, l Lib[P, C]) (int, error) {
	done := make(chan error, 1)
	pids := make([]P, p.Accounts)
	teller := l.Spawn(&banker[P, C]{teller: actorsuite.NewTeller(p, done), accounts: pids})
	for i := range pids {
		pids[i] = l.Spawn(&banker[P, C]{account: actorsuite.NewAccount(done), tellerPID: teller, accounts: pids})
	}
	m.Start()
	l.Send(teller, actorsuite.BankMsg{Kind: actorsuite.BankStart})
	errs, werr := actorsuite.Await(p, done, 1, "the teller's last transfer")
	m.Stop()
	if err := actorsuite.FirstErr(errs, werr); err != nil {
		return 0, err
	}
	return p.Transactions, actorsuite.CheckBalances(p, func(i int) (int, error) {
		v, err := l.Request(pids[i], actorsuite.BankMsg{Kind: actorsuite.BankBalance}, p.Timeout)
		if b, ok := v.(int); ok || err != nil {
			return b, err
		}
		return 0, fmt.Errorf("answered %T, want int", v)
	})
}
