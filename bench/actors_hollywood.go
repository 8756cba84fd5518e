package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/bench/actorsuite"
)

// hollywoodActors is every actor case on plain hollywood v1.0.5 actors, as
// its README writes them: one engine with the default config, Spawn with
// the default options, Receive switching on c.Message(), c.Send between
// actors, engine.Send and Request from outside, Poison at the end. Hollywood
// has no placement: its one-core and cross-core ping-pong differ only by
// GOMAXPROCS. bench/protoactor mirrors these cases; why they are not shared
// is in its package doc (a shared layer slowed both libraries down).
var hollywoodActors = actorsuite.System{
	actorsuite.PingPongOneCore:   func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwRing(p, m, 2, 2*p.Rounds, 0) },
	actorsuite.PingPongCrossCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwRing(p, m, 2, 2*p.Rounds, 0) },
	actorsuite.ThreadRing: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return hwRing(p, m, p.RingActors, p.RingHops, 0)
	},
	actorsuite.Counting:         hwCounting,
	actorsuite.Ask:              func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwAsk(p, m, 1) },
	actorsuite.ForkJoinThrough:  func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwForkJoin(p, m, 0) },
	actorsuite.ForkJoinCreation: hwCreation,
	actorsuite.Big:              hwBig,
	actorsuite.Chameneos:        hwChameneos,
	actorsuite.Bank:             func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwBank(p, m, 0) },
}

// hwEngine is an engine and every actor a case spawned on it.
type hwEngine struct {
	e    *actor.Engine
	pids []*actor.PID
}

// hwRun runs body on a fresh engine, then poisons every actor it spawned and
// waits until each stopped.
func hwRun(p actorsuite.Params, body func(h *hwEngine) (int, error)) (int, error) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return 0, err
	}
	h := &hwEngine{e: e}
	ops, err := body(h)
	stopped := make(chan struct{}, len(h.pids))
	for _, pid := range h.pids {
		ctx := e.Poison(pid)
		go func() { <-ctx.Done(); stopped <- struct{}{} }()
	}
	_, werr := actorsuite.Await(p, stopped, len(h.pids), "hollywood actors stopped")
	return ops, errors.Join(err, werr)
}

// spawn spawns r (its own producer: a restart keeps the value) and keeps its
// PID for the end.
func (h *hwEngine) spawn(r actor.Receiver, kind string) *actor.PID {
	pid := h.e.Spawn(func() actor.Receiver { return r }, kind)
	h.pids = append(h.pids, pid)
	return pid
}

// askEach requests q of each of pids and returns the answers in pids'
// order: the queries after a case's measured part. One at a time:
// hollywood names a Response by a random 31-bit number, and of many
// pending at once two may share one.
func (h *hwEngine) askEach(p actorsuite.Params, q any, pids ...*actor.PID) ([]any, error) {
	out := make([]any, len(pids))
	for i, pid := range pids {
		v, err := h.e.Request(pid, q, p.Timeout).Result()
		if err != nil {
			return nil, fmt.Errorf("asking actor %d after the measured part: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// hwHop is cgHop for hollywood: it responds its count to a countQuery.
type hwHop struct {
	next  *actor.PID
	recvd int
	m     *actorsuite.Meter
	last  time.Time
	done  chan<- error
	late  int
}

func (a *hwHop) Receive(c *actor.Context) {
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
			c.Send(c.PID(), 0)
		}
		a.done <- nil
		return
	}
	c.Send(a.next, n-1)
}

// hwRing is cgRing for hollywood.
func hwRing(p actorsuite.Params, m *actorsuite.Meter, k, hops, late int) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan error, 1)
		hopv := make([]*hwHop, k)
		pids := make([]*actor.PID, k)
		for i := range hopv {
			hopv[i] = &hwHop{done: done}
			pids[i] = h.spawn(hopv[i], "hop")
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
		h.e.Send(pids[0], hops)
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

// hwCounter adds the ints it gets and responds to a countQuery.
type hwCounter struct{ n int }

func (a *hwCounter) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case int:
		a.n += m
	case countQuery:
		c.Respond(a.n)
	}
}

func hwCounting(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		pid := h.spawn(&hwCounter{}, "counter")
		m.Start()
		for range p.Count {
			h.e.Send(pid, 1)
		}
		got, err := h.e.Request(pid, countQuery{}, p.Timeout).Result()
		m.Stop()
		if err != nil {
			return 0, err
		}
		return p.Count, actorsuite.Equal[any]("counting: the count", got, p.Count)
	})
}

// hwIncr is cgIncr for hollywood: it responds n+step to an int n.
type hwIncr struct{ step int }

func (a *hwIncr) Receive(c *actor.Context) {
	if n, ok := c.Message().(int); ok {
		c.Respond(n + a.step)
	}
}

// hwAsk is cgAsk for hollywood: Request(i), then Result.
func hwAsk(p actorsuite.Params, m *actorsuite.Meter, step int) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		pid := h.spawn(&hwIncr{step: step}, "incr")
		m.Reserve(p.Asks)
		m.Start()
		last := time.Now()
		for i := range p.Asks {
			got, err := h.e.Request(pid, i, p.Timeout).Result()
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

// hwFJ is cgFJ for hollywood: it responds its count to a countQuery.
type hwFJ struct {
	i, msgs, count, sum int
	done                chan<- error
}

func (a *hwFJ) Receive(c *actor.Context) {
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

// hwForkJoin is cgForkJoin for hollywood.
func hwForkJoin(p actorsuite.Params, m *actorsuite.Meter, dups int) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan error, p.FJActors)
		pids := make([]*actor.PID, p.FJActors)
		for i := range pids {
			pids[i] = h.spawn(&hwFJ{i: i, msgs: p.FJMessages, done: done}, "fj")
		}
		m.Start()
		for v := range p.FJMessages {
			for _, pid := range pids {
				h.e.Send(pid, v)
			}
		}
		for range dups {
			for _, pid := range pids {
				h.e.Send(pid, p.FJMessages-1)
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

// hwOnce reports the one int it gets and responds its count to a
// countQuery.
type hwOnce struct {
	recvd int
	done  chan<- int
}

func (a *hwOnce) Receive(c *actor.Context) {
	switch id := c.Message().(type) {
	case int:
		a.recvd++
		a.done <- id
	case countQuery:
		c.Respond(a.recvd)
	}
}

func hwCreation(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan int, p.Creations)
		h.pids = make([]*actor.PID, 0, p.Creations)
		newOnce := func() actor.Receiver { return &hwOnce{done: done} }
		m.Start()
		for i := range p.Creations {
			pid := h.e.Spawn(newOnce, "once")
			h.pids = append(h.pids, pid)
			h.e.Send(pid, i)
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

// hwBigActor is cgBigActor for hollywood: it responds its counts to a
// countQuery.
type hwBigActor struct {
	i, pings, pongs int
	p               actorsuite.Params
	peers           []*actor.PID
	rng             *rand.Rand
	done            chan<- error
}

func (a *hwBigActor) Receive(c *actor.Context) {
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

func (a *hwBigActor) ping(c *actor.Context) {
	c.Send(a.peers[actorsuite.BigTarget(a.rng, a.i, a.p.BigActors)], actorsuite.BigMsg{Ping: true, From: a.i})
}

func hwBig(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan error, p.BigActors)
		as := make([]*hwBigActor, p.BigActors)
		pids := make([]*actor.PID, p.BigActors)
		for i := range as {
			as[i] = &hwBigActor{i: i, p: p, rng: actorsuite.BigRand(p, i), peers: pids, done: done}
			pids[i] = h.spawn(as[i], "big")
		}
		m.Start()
		for _, pid := range pids {
			h.e.Send(pid, actorsuite.BigMsg{From: actorsuite.BigStart})
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

// hwMall is cgMall for hollywood: it responds its count of meets to a
// countQuery.
type hwMall struct {
	left, waiting, meets int
	color                actorsuite.Color
	creatures            []*actor.PID
}

func (a *hwMall) Receive(c *actor.Context) {
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

// hwCreature is cgCreature for hollywood: it responds its count of
// messages to a countQuery.
type hwCreature struct {
	i, recvd int
	color    actorsuite.Color
	seen     actorsuite.CreatureReport
	mall     *actor.PID
	peers    []*actor.PID
	done     chan<- actorsuite.CreatureReport
}

func (a *hwCreature) Receive(c *actor.Context) {
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

func hwChameneos(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan actorsuite.CreatureReport, p.Creatures)
		pids := make([]*actor.PID, p.Creatures)
		mall := h.spawn(&hwMall{left: p.Meetings, waiting: -1, creatures: pids}, "mall")
		for i := range pids {
			pids[i] = h.spawn(&hwCreature{i: i, color: actorsuite.Color(i % 3), mall: mall, peers: pids, done: done}, "creature")
		}
		m.Start()
		for _, pid := range pids {
			h.e.Send(pid, actorsuite.ChamMsg{Kind: actorsuite.ChamStart})
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

// hwTeller is cgTeller for hollywood: it responds how many transfers
// ended to a countQuery.
type hwTeller struct {
	transfers []actorsuite.Transfer
	accounts  []*actor.PID
	finished  int
	done      chan<- error
	late      int
}

func (a *hwTeller) Receive(c *actor.Context) {
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
				c.Send(c.PID(), msg)
			}
			a.done <- nil
		}
	}
}

// hwAccount is cgAccount for hollywood.
type hwAccount struct {
	balance  int
	accounts []*actor.PID
	teller   *actor.PID
}

func (a *hwAccount) Receive(c *actor.Context) {
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

// hwBank is cgBank for hollywood.
func hwBank(p actorsuite.Params, m *actorsuite.Meter, late int) (int, error) {
	return hwRun(p, func(h *hwEngine) (int, error) {
		done := make(chan error, 1)
		pids := make([]*actor.PID, p.Accounts)
		tellerPID := h.spawn(&hwTeller{transfers: actorsuite.Transfers(p), accounts: pids, done: done, late: late}, "teller")
		for i := range pids {
			pids[i] = h.spawn(&hwAccount{balance: actorsuite.InitialBalance, accounts: pids, teller: tellerPID}, "account")
		}
		m.Start()
		h.e.Send(tellerPID, actorsuite.BankMsg{Kind: actorsuite.BankStart})
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
