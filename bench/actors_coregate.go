package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/bench/actorsuite"
)

// coregateActors is every actor case on coregate actors: typed messages,
// Tell between actors with the ActorContext, Ask from outside, the default
// staggered placement except where a case names executors.
var coregateActors = actorsuite.System{
	actorsuite.PingPongOneCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{}, 2, 2*p.Rounds, func(int) coregate.Option { return coregate.OnExecutor(0) }, 0)
	},
	actorsuite.PingPongCrossCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{Cores: 2}, 2, 2*p.Rounds, coregate.OnExecutor, 0)
	},
	actorsuite.ThreadRing: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{}, p.RingActors, p.RingHops, nil, 0)
	},
	actorsuite.Counting:         cgCounting,
	actorsuite.Ask:              func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return cgAsk(p, m, 1) },
	actorsuite.ForkJoinThrough:  func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return cgForkJoin(p, m, 0) },
	actorsuite.ForkJoinCreation: cgCreation,
	actorsuite.Big:              cgBig,
	actorsuite.Chameneos:        cgChameneos,
	actorsuite.Bank:             func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return cgBank(p, m, 0) },
}

// cgRuntime runs body on a fresh runtime, stops it and checks that every
// Ask's token was resolved.
func cgRuntime(p actorsuite.Params, cfg coregate.Config, body func(ctx context.Context, rt *coregate.Runtime) (int, error)) (int, error) {
	rt, err := coregate.Start(cfg)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	ops, err := body(ctx, rt)
	err = errors.Join(err, rt.Stop(ctx))
	if st := rt.Stats().Total; st.Submitted != st.Resolved() {
		err = errors.Join(err, fmt.Errorf("coregate: unbalanced token counts after Stop: %+v", st))
	}
	return ops, err
}

// cgSpawn spawns n actors named prefix0 to prefix<n-1>, actor i from
// newActor(i) with opts(i) (nil: none).
func cgSpawn[M, R any](rt *coregate.Runtime, prefix string, n int, newActor func(i int) coregate.Actor[M, R], opts func(i int) []coregate.Option) ([]*coregate.Ref[M, R], error) {
	refs := make([]*coregate.Ref[M, R], n)
	for i := range refs {
		a := newActor(i)
		var o []coregate.Option
		if opts != nil {
			o = opts(i)
		}
		ref, err := coregate.Spawn(rt, prefix+strconv.Itoa(i), func() coregate.Actor[M, R] { return a }, o...)
		if err != nil {
			return nil, err
		}
		refs[i] = ref
	}
	return refs, nil
}

// cgAskAll asks every actor of refs q, all before waiting for any answer,
// and returns the answers in refs' order: the queries after a case's
// measured part.
func cgAskAll[M, R any](ctx context.Context, q M, refs ...*coregate.Ref[M, R]) ([]R, error) {
	toks := make([]*coregate.Token[R], len(refs))
	for i, ref := range refs {
		tok, err := ref.Ask(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("asking actor %d after the measured part: %w", i, err)
		}
		toks[i] = tok
	}
	out := make([]R, len(refs))
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		if err != nil {
			return nil, fmt.Errorf("asking actor %d after the measured part: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// cgCount asks an actor of the ring, forkjoin-throughput or
// forkjoin-creation for its count of messages: no value sent to them is
// negative.
const cgCount = -1

// cgHop is a ring member: it passes n-1 to next and reports on done at 0;
// it answers its count to cgCount. The member with a meter records the time
// between its messages: with two members, the round trip.
type cgHop struct {
	next, self *coregate.Ref[int, int]
	recvd      int
	m          *actorsuite.Meter
	last       time.Time
	done       chan<- error
	late       int // copies of 0 it sends itself at 0: the suite's 0, a test's 1 to see the check fail
}

func (a *cgHop) Receive(c *coregate.ActorContext, n int) (int, error) {
	if n == cgCount {
		return a.recvd, nil
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
		// Queued before the report, so before the check's query.
		for ; a.late > 0; a.late-- {
			if err := a.self.Tell(c, 0); err != nil {
				a.done <- err
				return 0, nil
			}
		}
		a.done <- nil
	} else if err := a.next.Tell(c, n-1); err != nil {
		a.done <- err
	}
	return 0, nil
}

// cgRing passes a token hops hops around a ring of k actors placed with
// place(i) (nil: staggered); a ring of 2 is ping-pong, timed per round trip.
// The actor the token ends at sends itself late copies of its last message.
func cgRing(p actorsuite.Params, m *actorsuite.Meter, cfg coregate.Config, k, hops int, place func(int) coregate.Option, late int) (int, error) {
	return cgRuntime(p, cfg, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, 1)
		hopv := make([]*cgHop, k)
		var opts func(int) []coregate.Option
		if place != nil {
			opts = func(i int) []coregate.Option { return []coregate.Option{place(i)} }
		}
		refs, err := cgSpawn(rt, "hop", k, func(i int) coregate.Actor[int, int] {
			hopv[i] = &cgHop{done: done}
			return hopv[i]
		}, opts)
		if err != nil {
			return 0, err
		}
		for i, h := range hopv {
			h.next, h.self = refs[(i+1)%k], refs[i]
		}
		hopv[hops%k].late = late
		if k == 2 {
			hopv[0].m = m
			m.Reserve(hops / 2)
		}
		m.Start()
		if err := refs[0].Tell(ctx, hops); err != nil {
			return 0, err
		}
		errs, werr := actorsuite.Await(p, done, 1, "the token's return to 0")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		// Each actor's count once the token returned: also a hop
		// delivered twice after that.
		recvd, err := cgAskAll(ctx, cgCount, refs...)
		if err != nil {
			return 0, err
		}
		return hops, actorsuite.CheckRingAfter(recvd, hops)
	})
}

// cgCounter adds what it is told and answers the sum.
type cgCounter struct{ n int }

func (a *cgCounter) Receive(_ *coregate.ActorContext, add int) (int, error) {
	a.n += add
	return a.n, nil
}

func cgCounting(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		ref, err := coregate.Spawn(rt, "counter", func() coregate.Actor[int, int] { return &cgCounter{} })
		if err != nil {
			return 0, err
		}
		m.Start()
		for range p.Count {
			if err := ref.Tell(ctx, 1); err != nil {
				return 0, err
			}
		}
		tok, err := ref.Ask(ctx, 0)
		if err != nil {
			return 0, err
		}
		got, err := tok.Wait(ctx)
		m.Stop()
		if err != nil {
			return 0, err
		}
		return p.Count, actorsuite.Equal("counting: the count", got, p.Count)
	})
}

// cgIncr answers n+step for n: the suite's step is 1, a test's another to
// see the check fail.
type cgIncr struct{ step int }

func (a *cgIncr) Receive(_ *coregate.ActorContext, n int) (int, error) {
	return n + a.step, nil
}

// cgAsk makes p.Asks blocking round trips from outside any actor: Ask(i),
// then Wait, each reply checked and each round trip timed.
func cgAsk(p actorsuite.Params, m *actorsuite.Meter, step int) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		ref, err := coregate.Spawn(rt, "incr", func() coregate.Actor[int, int] { return &cgIncr{step: step} })
		if err != nil {
			return 0, err
		}
		m.Reserve(p.Asks)
		m.Start()
		last := time.Now()
		for i := range p.Asks {
			tok, err := ref.Ask(ctx, i)
			if err != nil {
				return 0, err
			}
			got, err := tok.Wait(ctx)
			if err != nil {
				return 0, err
			}
			if err := actorsuite.CheckAsk(i, got); err != nil {
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

// cgFJ counts and sums what it receives and reports once it got msgs; it
// answers its count to cgCount.
type cgFJ struct {
	i, msgs, count, sum int
	done                chan<- error
}

func (a *cgFJ) Receive(_ *coregate.ActorContext, v int) (int, error) {
	if v == cgCount {
		return a.count, nil
	}
	a.count++
	a.sum += v
	if a.count == a.msgs {
		a.done <- actorsuite.CheckForkJoin(a.i, a.count, a.sum, a.msgs)
	}
	return a.count, nil
}

// cgForkJoin tells each actor the values 0 to p.FJMessages-1 and, after
// them, the last one dups more times: the suite's dups is 0, a test's 1
// to see the check fail.
func cgForkJoin(p actorsuite.Params, m *actorsuite.Meter, dups int) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, p.FJActors)
		refs, err := cgSpawn(rt, "fj", p.FJActors, func(i int) coregate.Actor[int, int] {
			return &cgFJ{i: i, msgs: p.FJMessages, done: done}
		}, nil)
		if err != nil {
			return 0, err
		}
		m.Start()
		for v := range p.FJMessages {
			for _, ref := range refs {
				if err := ref.Tell(ctx, v); err != nil {
					return 0, err
				}
			}
		}
		for range dups {
			for _, ref := range refs {
				if err := ref.Tell(ctx, p.FJMessages-1); err != nil {
					return 0, err
				}
			}
		}
		errs, werr := actorsuite.Await(p, done, p.FJActors, "forkjoin actors done")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		// Each actor's count, once every actor reported: a message
		// delivered twice after its actor reported.
		counts, err := cgAskAll(ctx, cgCount, refs...)
		if err != nil {
			return 0, err
		}
		return p.FJActors * p.FJMessages, actorsuite.CheckForkJoinAfter(counts, p.FJMessages)
	})
}

// cgOnce reports the one message it gets; it answers its count to cgCount.
type cgOnce struct {
	recvd int
	done  chan<- int
}

func (a *cgOnce) Receive(_ *coregate.ActorContext, id int) (int, error) {
	if id == cgCount {
		return a.recvd, nil
	}
	a.recvd++
	a.done <- id
	return 0, nil
}

func cgCreation(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan int, p.Creations)
		newOnce := func() coregate.Actor[int, int] { return &cgOnce{done: done} }
		refs := make([]*coregate.Ref[int, int], p.Creations)
		m.Start()
		for i := range refs {
			ref, err := coregate.Spawn(rt, "once"+strconv.Itoa(i), newOnce)
			if err != nil {
				return 0, err
			}
			if err := ref.Tell(ctx, i); err != nil {
				return 0, err
			}
			refs[i] = ref
		}
		ids, werr := actorsuite.Await(p, done, p.Creations, "created actors' reports")
		m.Stop()
		if werr != nil {
			return 0, werr
		}
		if err := actorsuite.CheckCreation(ids, p.Creations); err != nil {
			return 0, err
		}
		recvd, err := cgAskAll(ctx, cgCount, refs...)
		if err != nil {
			return 0, err
		}
		return p.Creations, actorsuite.CheckCreationAfter(recvd)
	})
}

// cgBigActor pings random others one at a time and answers their pings;
// it answers its counts to BigQuery.
type cgBigActor struct {
	i, pings, pongs int
	p               actorsuite.Params
	peers           []*coregate.Ref[actorsuite.BigMsg, actorsuite.BigCount]
	rng             *rand.Rand
	done            chan<- error
}

func (a *cgBigActor) Receive(c *coregate.ActorContext, msg actorsuite.BigMsg) (actorsuite.BigCount, error) {
	var err error
	switch {
	case msg.From < 0:
		if msg.From == actorsuite.BigQuery {
			return actorsuite.BigCount{Pings: a.pings, Pongs: a.pongs}, nil
		}
		err = a.ping(c)
	case msg.Ping:
		a.pings++
		err = a.peers[msg.From].Tell(c, actorsuite.BigMsg{From: a.i})
	default:
		if a.pongs++; a.pongs < a.p.BigPings {
			err = a.ping(c)
		} else {
			a.done <- nil
		}
	}
	if err != nil {
		a.done <- err
	}
	return actorsuite.BigCount{}, nil
}

func (a *cgBigActor) ping(c *coregate.ActorContext) error {
	return a.peers[actorsuite.BigTarget(a.rng, a.i, a.p.BigActors)].Tell(c, actorsuite.BigMsg{Ping: true, From: a.i})
}

func cgBig(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, p.BigActors)
		as := make([]*cgBigActor, p.BigActors)
		refs, err := cgSpawn(rt, "big", p.BigActors, func(i int) coregate.Actor[actorsuite.BigMsg, actorsuite.BigCount] {
			as[i] = &cgBigActor{i: i, p: p, rng: actorsuite.BigRand(p, i), done: done}
			return as[i]
		}, nil)
		if err != nil {
			return 0, err
		}
		for _, a := range as {
			a.peers = refs
		}
		m.Start()
		for _, ref := range refs {
			if err := ref.Tell(ctx, actorsuite.BigMsg{From: actorsuite.BigStart}); err != nil {
				return 0, err
			}
		}
		errs, werr := actorsuite.Await(p, done, p.BigActors, "big actors done")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		counts, err := cgAskAll(ctx, actorsuite.BigMsg{From: actorsuite.BigQuery}, refs...)
		if err != nil {
			return 0, err
		}
		return 2 * p.BigActors * p.BigPings, actorsuite.CheckBigAfter(p, counts)
	})
}

// cgMall pairs the creatures that come to it until no meetings are left;
// it answers its count of meets to ChamCount.
type cgMall struct {
	left, waiting, meets int
	color                actorsuite.Color
	creatures            []*coregate.Ref[actorsuite.ChamMsg, int]
}

func (a *cgMall) Receive(c *coregate.ActorContext, msg actorsuite.ChamMsg) (int, error) {
	if msg.Kind == actorsuite.ChamCount {
		return a.meets, nil
	}
	a.meets++
	switch {
	case a.left == 0:
		return 0, a.creatures[msg.From].Tell(c, actorsuite.ChamMsg{Kind: actorsuite.ChamExit})
	case a.waiting < 0:
		a.waiting, a.color = msg.From, msg.Color
		return 0, nil
	}
	a.left--
	first := a.waiting
	a.waiting = -1
	return 0, a.creatures[first].Tell(c, actorsuite.ChamMsg{Kind: actorsuite.ChamMatched, Color: msg.Color, From: msg.From})
}

// cgCreature goes to the mall, changes colour at each meeting and goes back;
// it answers its count of messages to ChamCount.
type cgCreature struct {
	i, recvd int
	color    actorsuite.Color
	seen     actorsuite.CreatureReport
	mall     *coregate.Ref[actorsuite.ChamMsg, int]
	peers    []*coregate.Ref[actorsuite.ChamMsg, int]
	done     chan<- actorsuite.CreatureReport
}

func (a *cgCreature) Receive(c *coregate.ActorContext, msg actorsuite.ChamMsg) (int, error) {
	if msg.Kind == actorsuite.ChamCount {
		return a.recvd, nil
	}
	a.recvd++
	switch msg.Kind {
	case actorsuite.ChamExit:
		a.done <- a.seen
		return 0, nil
	case actorsuite.ChamMatched, actorsuite.ChamChange:
		a.seen.Meetings++
		if msg.From == a.i {
			a.seen.Self++
		}
		if msg.Kind == actorsuite.ChamMatched {
			if err := a.peers[msg.From].Tell(c, actorsuite.ChamMsg{Kind: actorsuite.ChamChange, Color: a.color, From: a.i}); err != nil {
				return 0, err
			}
		}
		a.color = actorsuite.Complement(a.color, msg.Color)
	}
	return 0, a.mall.Tell(c, actorsuite.ChamMsg{Kind: actorsuite.ChamMeet, Color: a.color, From: a.i})
}

func cgChameneos(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan actorsuite.CreatureReport, p.Creatures)
		mall := &cgMall{left: p.Meetings, waiting: -1}
		mallRef, err := coregate.Spawn(rt, "mall", func() coregate.Actor[actorsuite.ChamMsg, int] { return mall })
		if err != nil {
			return 0, err
		}
		cs := make([]*cgCreature, p.Creatures)
		refs, err := cgSpawn(rt, "creature", p.Creatures, func(i int) coregate.Actor[actorsuite.ChamMsg, int] {
			cs[i] = &cgCreature{i: i, color: actorsuite.Color(i % 3), mall: mallRef, done: done}
			return cs[i]
		}, nil)
		if err != nil {
			return 0, err
		}
		mall.creatures = refs
		for _, c := range cs {
			c.peers = refs
		}
		m.Start()
		for _, ref := range refs {
			if err := ref.Tell(ctx, actorsuite.ChamMsg{Kind: actorsuite.ChamStart}); err != nil {
				return 0, err
			}
		}
		seen, werr := actorsuite.Await(p, done, p.Creatures, "creatures sent home")
		m.Stop()
		if werr != nil {
			return 0, werr
		}
		if err := actorsuite.CheckChameneos(p, seen); err != nil {
			return 0, err
		}
		// Every creature home: nothing more is sent to them or the mall.
		query := actorsuite.ChamMsg{Kind: actorsuite.ChamCount}
		recvd, err := cgAskAll(ctx, query, refs...)
		if err != nil {
			return 0, err
		}
		meets, err := cgAskAll(ctx, query, mallRef)
		if err != nil {
			return 0, err
		}
		return p.Meetings, actorsuite.CheckChameneosAfter(p, recvd, meets[0])
	})
}

// cgTeller sends every transfer at once and reports when all ended; it
// answers how many ended to BankEnded.
type cgTeller struct {
	transfers []actorsuite.Transfer
	accounts  []*coregate.Ref[actorsuite.BankMsg, int]
	self      *coregate.Ref[actorsuite.BankMsg, int]
	finished  int
	done      chan<- error
	late      int // copies of the last end it sends itself: the suite's 0, a test's 1 to see the check fail
}

func (a *cgTeller) Receive(c *coregate.ActorContext, msg actorsuite.BankMsg) (int, error) {
	switch msg.Kind {
	case actorsuite.BankStart:
		for _, t := range a.transfers {
			if err := a.accounts[t.From].Tell(c, actorsuite.BankMsg{Kind: actorsuite.BankDebit, Amount: t.Amount, To: t.To}); err != nil {
				a.done <- err
				return 0, err
			}
		}
		return 0, nil
	case actorsuite.BankEnded:
		return a.finished, nil
	}
	if a.finished++; a.finished == len(a.transfers) {
		// Queued before the report, so before the check's query.
		for ; a.late > 0; a.late-- {
			if err := a.self.Tell(c, msg); err != nil {
				a.done <- err
				return 0, err
			}
		}
		a.done <- nil
	}
	return 0, nil
}

// cgAccount debits and passes the credit on, credits and tells the teller.
type cgAccount struct {
	balance  int
	accounts []*coregate.Ref[actorsuite.BankMsg, int]
	teller   *coregate.Ref[actorsuite.BankMsg, int]
}

func (a *cgAccount) Receive(c *coregate.ActorContext, msg actorsuite.BankMsg) (int, error) {
	switch msg.Kind {
	case actorsuite.BankDebit:
		a.balance -= msg.Amount
		return a.balance, a.accounts[msg.To].Tell(c, actorsuite.BankMsg{Kind: actorsuite.BankCredit, Amount: msg.Amount})
	case actorsuite.BankCredit:
		a.balance += msg.Amount
		return a.balance, a.teller.Tell(c, actorsuite.BankMsg{Kind: actorsuite.BankDone})
	}
	return a.balance, nil
}

// cgBank runs bank; the teller sends itself late copies of the last end.
func cgBank(p actorsuite.Params, m *actorsuite.Meter, late int) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, 1)
		// The teller sends every transfer in one turn: mailboxes that hold
		// the whole burst. With the default bound a Tell to a full mailbox
		// waits, handing its executor to a spare thread each time; the case
		// still completes, at about a sixth of the rate (measured).
		room := coregate.WithMailbox(p.Transactions + 1)
		teller := &cgTeller{transfers: actorsuite.Transfers(p), done: done, late: late}
		tellerRef, err := coregate.Spawn(rt, "teller", func() coregate.Actor[actorsuite.BankMsg, int] { return teller }, room)
		if err != nil {
			return 0, err
		}
		teller.self = tellerRef
		accts := make([]*cgAccount, p.Accounts)
		refs, err := cgSpawn(rt, "account", p.Accounts, func(i int) coregate.Actor[actorsuite.BankMsg, int] {
			accts[i] = &cgAccount{balance: actorsuite.InitialBalance, teller: tellerRef}
			return accts[i]
		}, func(int) []coregate.Option { return []coregate.Option{room} })
		if err != nil {
			return 0, err
		}
		teller.accounts = refs
		for _, a := range accts {
			a.accounts = refs
		}
		m.Start()
		if err := tellerRef.Tell(ctx, actorsuite.BankMsg{Kind: actorsuite.BankStart}); err != nil {
			return 0, err
		}
		errs, werr := actorsuite.Await(p, done, 1, "the teller's last transfer")
		m.Stop()
		if err := actorsuite.FirstErr(errs, werr); err != nil {
			return 0, err
		}
		// Every transfer ended: nothing more is sent to the accounts or
		// the teller.
		balances, err := cgAskAll(ctx, actorsuite.BankMsg{Kind: actorsuite.BankBalance}, refs...)
		if err != nil {
			return 0, err
		}
		if err := actorsuite.CheckBank(p, balances); err != nil {
			return 0, err
		}
		ended, err := cgAskAll(ctx, actorsuite.BankMsg{Kind: actorsuite.BankEnded}, tellerRef)
		if err != nil {
			return 0, err
		}
		return p.Transactions, actorsuite.CheckBankAfter(p, ended[0])
	})
}
