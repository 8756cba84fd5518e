// Command protoactor is the protoactor child of the actor suite: `go run
// ./bench -suite actors` builds it and runs it once per measurement. It is a
// module of its own because protoactor and hollywood cannot be linked into one
// binary (both register the protobuf file actor.proto), and so protoactor's
// dependencies stay out of the bench's module graph.
//
// Its cases mirror the hollywood ones in package main of the bench, line for
// line but for the library's calls. They are not shared through a generic
// layer on purpose: both libraries run each mailbox activation on a fresh
// goroutine, and the few frames such a layer adds per message made those
// goroutines grow their stacks on every activation (runtime.newstack was two
// thirds of protoactor's ring profile; its ring and cross-core ping-pong ran
// 5x slower, hollywood's 2-3x). Each Receive here is what a user writes.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coregate/coregate/bench/actorsuite"
)

// protoactorActors is every actor case on protoactor-go actors, as its
// README writes them: one ActorSystem (its logger silenced, as a benchmark
// would), Props from a producer with the default unbounded mailbox and
// dispatcher, Receive switching on c.Message(), c.Send between actors,
// Root.Send and RequestFuture from outside, PoisonFuture at the end.
// Protoactor has no placement: its one-core and cross-core ping-pong differ
// only by GOMAXPROCS.
var protoactorActors = actorsuite.System{
	actorsuite.PingPongOneCore:   func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paRing(p, m, 2, 2*p.Rounds, 0) },
	actorsuite.PingPongCrossCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paRing(p, m, 2, 2*p.Rounds, 0) },
	actorsuite.ThreadRing: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return paRing(p, m, p.RingActors, p.RingHops, 0)
	},
	actorsuite.Counting:         paCounting,
	actorsuite.Ask:              func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paAsk(p, m, 1) },
	actorsuite.ForkJoinThrough:  func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paForkJoin(p, m, 0) },
	actorsuite.ForkJoinCreation: paCreation,
	actorsuite.Big:              paBig,
	actorsuite.Chameneos:        paChameneos,
	actorsuite.Bank:             func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paBank(p, m, 0) },
}

// main serves the one measurement its parent asked for.
func main() {
	if !actorsuite.IsChild() {
		fmt.Fprintln(os.Stderr, "protoactor: the actor suite's child; run `go run ./bench -suite actors` from the repository root")
		os.Exit(2)
	}
	actorsuite.ServeChild(map[string]actorsuite.System{"protoactor": protoactorActors})
}

// paSystem is an actor system and every actor a case spawned on it.
type paSystem struct {
	sys  *actor.ActorSystem
	pids []*actor.PID
}

// paRun runs body on a fresh actor system, then poisons every actor it
// spawned, waits until each stopped, and shuts the system down.
func paRun(p actorsuite.Params, body func(h *paSystem) (int, error)) (int, error) {
	h := &paSystem{sys: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))}
	defer h.sys.Shutdown()
	ops, err := body(h)
	futures := make([]*actor.Future, len(h.pids))
	for i, pid := range h.pids {
		futures[i] = h.sys.Root.PoisonFuture(pid)
	}
	for _, f := range futures {
		if werr := f.Wait(); werr != nil {
			return ops, errors.Join(err, fmt.Errorf("protoactor: stopping an actor: %w", werr))
		}
	}
	return ops, err
}

// spawn spawns r (its own producer: a restart keeps the value) and keeps its
// PID for the end.
func (h *paSystem) spawn(r actor.Actor) *actor.PID {
	pid := h.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }))
	h.pids = append(h.pids, pid)
	return pid
}

// askEach requests q of each of pids and returns the answers in pids'
// order: the queries after a case's measured part. One at a time, as
// hollywood's askEach.
func (h *paSystem) askEach(p actorsuite.Params, q any, pids ...*actor.PID) ([]any, error) {
	out := make([]any, len(pids))
	for i, pid := range pids {
		v, err := h.sys.Root.RequestFuture(pid, q, p.Timeout).Result()
		if err != nil {
			return nil, fmt.Errorf("asking actor %d after the measured part: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// paHop is cgHop for protoactor: it responds its count to a countQuery.
type paHop struct {
	next  *actor.PID
	recvd int
	m     *actorsuite.Meter
	last  time.Time
	done  chan<- error
	late  int
}

func (a *paHop) Receive(c actor.Context) {
	n, ok := c.Message().(int)
	if !ok {
		if _, ok := c.Message().(countQuery); ok {
			c.Respond(a.recvd)
		}
		return
	}
	a.recvd++
	if a.m != nil {
		now := time.Now()
		if !a.last.IsZero() {
			a.m.Record(now.Sub(a.last))
		}
		a.last = now
	}
	if n == 0 {
		for ; a.late > 0; a.late-- {
			c.Send(c.Self(), 0)
		}
		a.done <- nil
		return
	}
	c.Send(a.next, n-1)
}

// paRing is cgRing for protoactor.
func paRing(p actorsuite.Params, m *actorsuite.Meter, k, hops, late int) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan error, 1)
		hopv := make([]*paHop, k)
		pids := make([]*actor.PID, k)
		for i := range hopv {
			hopv[i] = &paHop{done: done}
			pids[i] = h.spawn(hopv[i])
		}
		for i, hop := range hopv {
			hop.next = pids[(i+1)%k]
		}
		hopv[hops%k].late = late
		if k == 2 {
			hopv[0].m = m
			m.Reserve(hops / 2)
		}
		m.Start()
		h.sys.Root.Send(pids[0], hops)
		errs, werr := actorsuite.Await(p, done, 1, "the token's return to 0")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		recvd, err := h.askEach(p, countQuery{}, pids...)
		if err != nil {
			return 0, err
		}
		return hops, actorsuite.CheckRingAfter(recvd, hops)
	})
}

// countQuery asks a counter for its count.
type countQuery struct{}

// paCounter adds the ints it gets and responds to a countQuery.
type paCounter struct{ n int }

func (a *paCounter) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case int:
		a.n += m
	case countQuery:
		c.Respond(a.n)
	}
}

func paCounting(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		pid := h.spawn(&paCounter{})
		m.Start()
		for range p.Count {
			h.sys.Root.Send(pid, 1)
		}
		got, err := h.sys.Root.RequestFuture(pid, countQuery{}, p.Timeout).Result()
		m.Stop()
		if err != nil {
			return 0, err
		}
		return p.Count, actorsuite.Equal[any]("counting: the count", got, p.Count)
	})
}

// paIncr is cgIncr for protoactor: it responds n+step to an int n.
type paIncr struct{ step int }

func (a *paIncr) Receive(c actor.Context) {
	if n, ok := c.Message().(int); ok {
		c.Respond(n + a.step)
	}
}

// paAsk is cgAsk for protoactor: RequestFuture(i), then Result.
func paAsk(p actorsuite.Params, m *actorsuite.Meter, step int) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		pid := h.spawn(&paIncr{step: step})
		m.Reserve(p.Asks)
		m.Start()
		last := time.Now()
		for i := range p.Asks {
			got, err := h.sys.Root.RequestFuture(pid, i, p.Timeout).Result()
			if err != nil {
				return 0, err
			}
			if err := actorsuite.CheckAskAny(i, got); err != nil {
				return 0, err
			}
			now := time.Now()
			m.Record(now.Sub(last))
			last = now
		}
		m.Stop()
		return p.Asks, nil
	})
}

// paFJ is cgFJ for protoactor: it responds its count to a countQuery.
type paFJ struct {
	i, msgs, count, sum int
	done                chan<- error
}

func (a *paFJ) Receive(c actor.Context) {
	switch v := c.Message().(type) {
	case int:
		a.count++
		a.sum += v
		if a.count == a.msgs {
			a.done <- actorsuite.CheckForkJoin(a.i, a.count, a.sum, a.msgs)
		}
	case countQuery:
		c.Respond(a.count)
	}
}

// paForkJoin is cgForkJoin for protoactor.
func paForkJoin(p actorsuite.Params, m *actorsuite.Meter, dups int) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan error, p.FJActors)
		pids := make([]*actor.PID, p.FJActors)
		for i := range pids {
			pids[i] = h.spawn(&paFJ{i: i, msgs: p.FJMessages, done: done})
		}
		m.Start()
		for v := range p.FJMessages {
			for _, pid := range pids {
				h.sys.Root.Send(pid, v)
			}
		}
		for range dups {
			for _, pid := range pids {
				h.sys.Root.Send(pid, p.FJMessages-1)
			}
		}
		errs, werr := actorsuite.Await(p, done, p.FJActors, "forkjoin actors done")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		counts, err := h.askEach(p, countQuery{}, pids...)
		if err != nil {
			return 0, err
		}
		return p.FJActors * p.FJMessages, actorsuite.CheckForkJoinAfter(counts, p.FJMessages)
	})
}

// paOnce reports the one int it gets and responds its count to a
// countQuery.
type paOnce struct {
	recvd int
	done  chan<- int
}

func (a *paOnce) Receive(c actor.Context) {
	switch id := c.Message().(type) {
	case int:
		a.recvd++
		a.done <- id
	case countQuery:
		c.Respond(a.recvd)
	}
}

func paCreation(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan int, p.Creations)
		h.pids = make([]*actor.PID, 0, p.Creations)
		newOnce := func() actor.Actor { return &paOnce{done: done} }
		m.Start()
		for i := range p.Creations {
			pid := h.sys.Root.Spawn(actor.PropsFromProducer(newOnce))
			h.pids = append(h.pids, pid)
			h.sys.Root.Send(pid, i)
		}
		ids, werr := actorsuite.Await(p, done, p.Creations, "created actors' reports")
		m.Stop()
		if werr != nil {
			return 0, werr
		}
		if err := actorsuite.CheckCreation(ids, p.Creations); err != nil {
			return 0, err
		}
		recvd, err := h.askEach(p, countQuery{}, h.pids...)
		if err != nil {
			return 0, err
		}
		return p.Creations, actorsuite.CheckCreationAfter(recvd)
	})
}

// paBigActor is cgBigActor for protoactor: it responds its counts to a
// countQuery.
type paBigActor struct {
	i, pings, pongs int
	p               actorsuite.Params
	peers           []*actor.PID
	rng             *rand.Rand
	done            chan<- error
}

func (a *paBigActor) Receive(c actor.Context) {
	msg, ok := c.Message().(actorsuite.BigMsg)
	switch {
	case !ok:
		if _, ok := c.Message().(countQuery); ok {
			c.Respond(actorsuite.BigCount{Pings: a.pings, Pongs: a.pongs})
		}
	case msg.From < 0:
		a.ping(c)
	case msg.Ping:
		a.pings++
		c.Send(a.peers[msg.From], actorsuite.BigMsg{From: a.i})
	default:
		if a.pongs++; a.pongs < a.p.BigPings {
			a.ping(c)
		} else {
			a.done <- nil
		}
	}
}

func (a *paBigActor) ping(c actor.Context) {
	c.Send(a.peers[actorsuite.BigTarget(a.rng, a.i, a.p.BigActors)], actorsuite.BigMsg{Ping: true, From: a.i})
}

func paBig(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan error, p.BigActors)
		as := make([]*paBigActor, p.BigActors)
		pids := make([]*actor.PID, p.BigActors)
		for i := range as {
			as[i] = &paBigActor{i: i, p: p, rng: actorsuite.BigRand(p, i), peers: pids, done: done}
			pids[i] = h.spawn(as[i])
		}
		m.Start()
		for _, pid := range pids {
			h.sys.Root.Send(pid, actorsuite.BigMsg{From: actorsuite.BigStart})
		}
		errs, werr := actorsuite.Await(p, done, p.BigActors, "big actors done")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		counts, err := h.askEach(p, countQuery{}, pids...)
		if err != nil {
			return 0, err
		}
		return 2 * p.BigActors * p.BigPings, actorsuite.CheckBigAfter(p, counts)
	})
}

// paMall is cgMall for protoactor: it responds its count of meets to a
// countQuery.
type paMall struct {
	left, waiting, meets int
	color                actorsuite.Color
	creatures            []*actor.PID
}

func (a *paMall) Receive(c actor.Context) {
	msg, ok := c.Message().(actorsuite.ChamMsg)
	if !ok {
		if _, ok := c.Message().(countQuery); ok {
			c.Respond(a.meets)
		}
		return
	}
	a.meets++
	switch {
	case a.left == 0:
		c.Send(a.creatures[msg.From], actorsuite.ChamMsg{Kind: actorsuite.ChamExit})
	case a.waiting < 0:
		a.waiting, a.color = msg.From, msg.Color
	default:
		a.left--
		c.Send(a.creatures[a.waiting], actorsuite.ChamMsg{Kind: actorsuite.ChamMatched, Color: msg.Color, From: msg.From})
		a.waiting = -1
	}
}

// paCreature is cgCreature for protoactor: it responds its count of
// messages to a countQuery.
type paCreature struct {
	i, recvd int
	color    actorsuite.Color
	seen     actorsuite.CreatureReport
	mall     *actor.PID
	peers    []*actor.PID
	done     chan<- actorsuite.CreatureReport
}

func (a *paCreature) Receive(c actor.Context) {
	msg, ok := c.Message().(actorsuite.ChamMsg)
	if !ok {
		if _, ok := c.Message().(countQuery); ok {
			c.Respond(a.recvd)
		}
		return
	}
	a.recvd++
	switch msg.Kind {
	case actorsuite.ChamExit:
		a.done <- a.seen
		return
	case actorsuite.ChamMatched, actorsuite.ChamChange:
		a.seen.Meetings++
		if msg.From == a.i {
			a.seen.Self++
		}
		if msg.Kind == actorsuite.ChamMatched {
			c.Send(a.peers[msg.From], actorsuite.ChamMsg{Kind: actorsuite.ChamChange, Color: a.color, From: a.i})
		}
		a.color = actorsuite.Complement(a.color, msg.Color)
	}
	c.Send(a.mall, actorsuite.ChamMsg{Kind: actorsuite.ChamMeet, Color: a.color, From: a.i})
}

func paChameneos(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan actorsuite.CreatureReport, p.Creatures)
		pids := make([]*actor.PID, p.Creatures)
		mall := h.spawn(&paMall{left: p.Meetings, waiting: -1, creatures: pids})
		for i := range pids {
			pids[i] = h.spawn(&paCreature{i: i, color: actorsuite.Color(i % 3), mall: mall, peers: pids, done: done})
		}
		m.Start()
		for _, pid := range pids {
			h.sys.Root.Send(pid, actorsuite.ChamMsg{Kind: actorsuite.ChamStart})
		}
		seen, werr := actorsuite.Await(p, done, p.Creatures, "creatures sent home")
		m.Stop()
		if werr != nil {
			return 0, werr
		}
		if err := actorsuite.CheckChameneos(p, seen); err != nil {
			return 0, err
		}
		recvd, err := h.askEach(p, countQuery{}, pids...)
		if err != nil {
			return 0, err
		}
		meets, err := h.askEach(p, countQuery{}, mall)
		if err != nil {
			return 0, err
		}
		return p.Meetings, actorsuite.CheckChameneosAfter(p, recvd, meets[0])
	})
}

// paTeller is cgTeller for protoactor: it responds how many transfers
// ended to a countQuery.
type paTeller struct {
	transfers []actorsuite.Transfer
	accounts  []*actor.PID
	finished  int
	done      chan<- error
	late      int
}

func (a *paTeller) Receive(c actor.Context) {
	msg, ok := c.Message().(actorsuite.BankMsg)
	switch {
	case !ok:
		if _, ok := c.Message().(countQuery); ok {
			c.Respond(a.finished)
		}
	case msg.Kind == actorsuite.BankStart:
		for _, t := range a.transfers {
			c.Send(a.accounts[t.From], actorsuite.BankMsg{Kind: actorsuite.BankDebit, Amount: t.Amount, To: t.To})
		}
	default:
		if a.finished++; a.finished == len(a.transfers) {
			for ; a.late > 0; a.late-- {
				c.Send(c.Self(), msg)
			}
			a.done <- nil
		}
	}
}

// paAccount is cgAccount for protoactor.
type paAccount struct {
	balance  int
	accounts []*actor.PID
	teller   *actor.PID
}

func (a *paAccount) Receive(c actor.Context) {
	msg, ok := c.Message().(actorsuite.BankMsg)
	switch {
	case !ok:
	case msg.Kind == actorsuite.BankDebit:
		a.balance -= msg.Amount
		c.Send(a.accounts[msg.To], actorsuite.BankMsg{Kind: actorsuite.BankCredit, Amount: msg.Amount})
	case msg.Kind == actorsuite.BankCredit:
		a.balance += msg.Amount
		c.Send(a.teller, actorsuite.BankMsg{Kind: actorsuite.BankDone})
	case msg.Kind == actorsuite.BankBalance:
		c.Respond(a.balance)
	}
}

// paBank is cgBank for protoactor.
func paBank(p actorsuite.Params, m *actorsuite.Meter, late int) (int, error) {
	return paRun(p, func(h *paSystem) (int, error) {
		done := make(chan error, 1)
		pids := make([]*actor.PID, p.Accounts)
		tellerPID := h.spawn(&paTeller{transfers: actorsuite.Transfers(p), accounts: pids, done: done, late: late})
		for i := range pids {
			pids[i] = h.spawn(&paAccount{balance: actorsuite.InitialBalance, accounts: pids, teller: tellerPID})
		}
		m.Start()
		h.sys.Root.Send(tellerPID, actorsuite.BankMsg{Kind: actorsuite.BankStart})
		errs, werr := actorsuite.Await(p, done, 1, "the teller's last transfer")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		answers, err := h.askEach(p, actorsuite.BankMsg{Kind: actorsuite.BankBalance}, pids...)
		if err != nil {
			return 0, err
		}
		balances := make([]int, p.Accounts)
		for i, v := range answers {
			b, ok := v.(int)
			if !ok {
				return 0, fmt.Errorf("bank: account %d answered %T, want int", i, v)
			}
			balances[i] = b
		}
		if err := actorsuite.CheckBank(p, balances); err != nil {
			return 0, err
		}
		ended, err := h.askEach(p, countQuery{}, tellerPID)
		if err != nil {
			return 0, err
		}
		return p.Transactions, actorsuite.CheckBankAfter(p, ended[0])
	})
}
