package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/bench/actorsuite"
)

// coregateActors is every actor case on coregate actors: typed messages,
// Tell between actors with the ActorContext, Ask from outside, the default
// staggered placement except where a case names executors.
var coregateActors = actorsuite.System{
	actorsuite.PingPongOneCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{}, 2, 2*p.Rounds, func(int) coregate.Option { return coregate.OnExecutor(0) })
	},
	actorsuite.PingPongCrossCore: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{Cores: 2}, 2, 2*p.Rounds, coregate.OnExecutor)
	},
	actorsuite.ThreadRing: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		return cgRing(p, m, coregate.Config{}, p.RingActors, p.RingHops, nil)
	},
	actorsuite.Counting:         cgCounting,
	actorsuite.ForkJoinThrough:  cgForkJoin,
	actorsuite.ForkJoinCreation: cgCreation,
	actorsuite.Big:              cgBig,
	actorsuite.Chameneos:        cgChameneos,
	actorsuite.Bank:             cgBank,
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

// cgHop is a ring member.
type cgHop struct {
	actorsuite.Hop
	next *coregate.Ref[int, struct{}]
}

func (a *cgHop) Receive(c *coregate.ActorContext, n int) (struct{}, error) {
	a.Hop.Receive(n, func(v int) error { return a.next.Tell(c, v) })
	return struct{}{}, nil
}

// cgRing passes a token hops hops around a ring of k actors placed with
// place(i) (nil: staggered); a ring of 2 is ping-pong, timed per round trip.
func cgRing(p actorsuite.Params, m *actorsuite.Meter, cfg coregate.Config, k, hops int, place func(int) coregate.Option) (int, error) {
	return cgRuntime(p, cfg, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, 1)
		hopv := make([]*cgHop, k)
		var opts func(int) []coregate.Option
		if place != nil {
			opts = func(i int) []coregate.Option { return []coregate.Option{place(i)} }
		}
		refs, err := cgSpawn(rt, "hop", k, func(i int) coregate.Actor[int, struct{}] {
			hopv[i] = &cgHop{Hop: actorsuite.Hop{Done: done}}
			return hopv[i]
		}, opts)
		if err != nil {
			return 0, err
		}
		for i, h := range hopv {
			h.next = refs[(i+1)%k]
		}
		if k == 2 {
			hopv[0].Meter = m
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
		recvd := make([]int, k)
		for i, h := range hopv {
			recvd[i] = h.Recvd
		}
		return hops, actorsuite.CheckRing(recvd, hops)
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

// cgFJ is a forkjoin-throughput actor.
type cgFJ struct{ actorsuite.ForkJoin }

func (a *cgFJ) Receive(_ *coregate.ActorContext, v int) (struct{}, error) {
	a.ForkJoin.Receive(v)
	return struct{}{}, nil
}

func cgForkJoin(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, p.FJActors)
		refs, err := cgSpawn(rt, "fj", p.FJActors, func(i int) coregate.Actor[int, struct{}] {
			return &cgFJ{actorsuite.ForkJoin{I: i, Msgs: p.FJMessages, Done: done}}
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
		errs, werr := actorsuite.Await(p, done, p.FJActors, "forkjoin actors done")
		m.Stop()
		return p.FJActors * p.FJMessages, actorsuite.FirstErr(errs, werr)
	})
}

// cgOnce reports the one message it gets.
type cgOnce struct{ done chan<- int }

func (a *cgOnce) Receive(_ *coregate.ActorContext, id int) (struct{}, error) {
	a.done <- id
	return struct{}{}, nil
}

func cgCreation(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan int, p.Creations)
		newOnce := func() coregate.Actor[int, struct{}] { return &cgOnce{done: done} }
		m.Start()
		for i := range p.Creations {
			ref, err := coregate.Spawn(rt, "once"+strconv.Itoa(i), newOnce)
			if err != nil {
				return 0, err
			}
			if err := ref.Tell(ctx, i); err != nil {
				return 0, err
			}
		}
		ids, werr := actorsuite.Await(p, done, p.Creations, "created actors' reports")
		m.Stop()
		if werr != nil {
			return 0, werr
		}
		return p.Creations, actorsuite.CheckCreation(ids, p.Creations)
	})
}

// cgBigActor is one of big's actors.
type cgBigActor struct {
	*actorsuite.BigActor
	peers []*coregate.Ref[actorsuite.BigMsg, struct{}]
}

func (a *cgBigActor) Receive(c *coregate.ActorContext, msg actorsuite.BigMsg) (struct{}, error) {
	a.BigActor.Receive(msg, func(to int, m actorsuite.BigMsg) error { return a.peers[to].Tell(c, m) })
	return struct{}{}, nil
}

func cgBig(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, p.BigActors)
		as := make([]*cgBigActor, p.BigActors)
		refs, err := cgSpawn(rt, "big", p.BigActors, func(i int) coregate.Actor[actorsuite.BigMsg, struct{}] {
			as[i] = &cgBigActor{BigActor: actorsuite.NewBigActor(p, i, done)}
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
			if err := ref.Tell(ctx, actorsuite.BigMsg{From: -1}); err != nil {
				return 0, err
			}
		}
		errs, werr := actorsuite.Await(p, done, p.BigActors, "big actors done")
		m.Stop()
		return 2 * p.BigActors * p.BigPings, actorsuite.CheckBigActors(p, errs, werr, func(i int) *actorsuite.BigActor { return as[i].BigActor })
	})
}

// cgMall is chameneos' meeting place.
type cgMall struct {
	*actorsuite.Mall
	creatures []*coregate.Ref[actorsuite.ChamMsg, struct{}]
}

func (a *cgMall) Receive(c *coregate.ActorContext, msg actorsuite.ChamMsg) (struct{}, error) {
	a.Mall.Receive(msg, func(to int, m actorsuite.ChamMsg) error { return a.creatures[to].Tell(c, m) })
	return struct{}{}, nil
}

// cgCreature is a chameneos creature.
type cgCreature struct {
	*actorsuite.Creature
	mall  *coregate.Ref[actorsuite.ChamMsg, struct{}]
	peers []*coregate.Ref[actorsuite.ChamMsg, struct{}]
}

func (a *cgCreature) Receive(c *coregate.ActorContext, msg actorsuite.ChamMsg) (struct{}, error) {
	a.Creature.Receive(msg, func(to int, m actorsuite.ChamMsg) error { return actorsuite.Route(to, a.peers, a.mall).Tell(c, m) })
	return struct{}{}, nil
}

func cgChameneos(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan actorsuite.CreatureReport, p.Creatures)
		mallDone := make(chan error, 1)
		mall := &cgMall{Mall: actorsuite.NewMall(p, mallDone)}
		mallRef, err := coregate.Spawn(rt, "mall", func() coregate.Actor[actorsuite.ChamMsg, struct{}] { return mall })
		if err != nil {
			return 0, err
		}
		cs := make([]*cgCreature, p.Creatures)
		refs, err := cgSpawn(rt, "creature", p.Creatures, func(i int) coregate.Actor[actorsuite.ChamMsg, struct{}] {
			cs[i] = &cgCreature{Creature: actorsuite.NewCreature(i, done), mall: mallRef}
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
		return p.Meetings, actorsuite.CheckChameneosRun(p, seen, werr, mallDone)
	})
}

// cgTeller is the bank's teller.
type cgTeller struct {
	*actorsuite.Teller
	accounts []*coregate.Ref[actorsuite.BankMsg, int]
}

func (a *cgTeller) Receive(c *coregate.ActorContext, msg actorsuite.BankMsg) (struct{}, error) {
	a.Teller.Receive(msg, func(to int, m actorsuite.BankMsg) error { return a.accounts[to].Tell(c, m) })
	return struct{}{}, nil
}

// cgAccount is a bank account; it answers a balance query with its balance.
type cgAccount struct {
	*actorsuite.Account
	accounts []*coregate.Ref[actorsuite.BankMsg, int]
	teller   *coregate.Ref[actorsuite.BankMsg, struct{}]
}

func (a *cgAccount) Receive(c *coregate.ActorContext, msg actorsuite.BankMsg) (int, error) {
	a.Account.Receive(msg, func(to int, m actorsuite.BankMsg) error {
		if to == actorsuite.ToTeller {
			return a.teller.Tell(c, m)
		}
		return a.accounts[to].Tell(c, m)
	})
	return a.Balance, nil
}

func cgBank(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
	return cgRuntime(p, coregate.Config{}, func(ctx context.Context, rt *coregate.Runtime) (int, error) {
		done := make(chan error, 1)
		// The teller sends every transfer in one turn: mailboxes that hold
		// the whole burst, or it and the accounts could wait on each other.
		room := coregate.WithMailbox(p.Transactions + 1)
		teller := &cgTeller{Teller: actorsuite.NewTeller(p, done)}
		tellerRef, err := coregate.Spawn(rt, "teller", func() coregate.Actor[actorsuite.BankMsg, struct{}] { return teller }, room)
		if err != nil {
			return 0, err
		}
		accts := make([]*cgAccount, p.Accounts)
		refs, err := cgSpawn(rt, "account", p.Accounts, func(i int) coregate.Actor[actorsuite.BankMsg, int] {
			accts[i] = &cgAccount{Account: actorsuite.NewAccount(done), teller: tellerRef}
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
		return p.Transactions, actorsuite.CheckBalances(p, func(i int) (int, error) {
			tok, err := refs[i].Ask(ctx, actorsuite.BankMsg{Kind: actorsuite.BankBalance})
			if err != nil {
				return 0, err
			}
			return tok.Wait(ctx)
		})
	})
}
