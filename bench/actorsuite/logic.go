package actorsuite

import (
	"math/rand/v2"
	"time"
)

// The actors' state and behaviour, written once for every system. A
// system's actor holds one of these and hands each message to its Receive
// with a send function that delivers through the library (coregate's
// Ref.Tell, hollywood's and protoactor's Context.Send); send's error, if
// any, ends the case through the actor's Done channel. The functions passed
// do not escape, so a send allocates only what the library allocates.

// Hop is a ring member: it passes n-1 on until n is 0, then reports on Done.
// A Hop with a Meter records the time between its messages: in a ring of
// two, the round trip.
type Hop struct {
	Recvd int
	Meter *Meter
	Done  chan<- error
	last  time.Time
}

// Receive handles the token n.
func (a *Hop) Receive(n int, pass func(int) error) {
	a.Recvd++
	if a.Meter != nil {
		now := time.Now()
		if !a.last.IsZero() {
			a.Meter.Record(now.Sub(a.last))
		}
		a.last = now
	}
	if n == 0 {
		a.Done <- nil
	} else if err := pass(n - 1); err != nil {
		report(a.Done, err)
	}
}

// ForkJoin counts and sums what it receives and reports its check on Done
// once it got Msgs messages.
type ForkJoin struct {
	I, Msgs, count, sum int
	Done                chan<- error
}

// Receive handles one value.
func (a *ForkJoin) Receive(v int) {
	a.count++
	a.sum += v
	if a.count == a.Msgs {
		a.Done <- CheckForkJoin(a.I, a.count, a.sum, a.Msgs)
	}
}

// BigActor is big's actor I: it pings random others one at a time and
// answers their pings; it reports on Done once its last ping was answered.
type BigActor struct {
	I, Pings, Pongs int
	p               Params
	rng             *rand.Rand
	Done            chan<- error
}

// NewBigActor returns big's actor i.
func NewBigActor(p Params, i int, done chan<- error) *BigActor {
	return &BigActor{I: i, p: p, rng: BigRand(p, i), Done: done}
}

// Receive handles a start, a ping or a pong; send delivers to actor to.
func (a *BigActor) Receive(msg BigMsg, send func(to int, msg BigMsg) error) {
	var err error
	switch {
	case msg.From < 0:
		err = a.ping(send)
	case msg.Ping:
		a.Pings++
		err = send(msg.From, BigMsg{From: a.I})
	default:
		if a.Pongs++; a.Pongs < a.p.BigPings {
			err = a.ping(send)
		} else {
			a.Done <- nil
		}
	}
	if err != nil {
		report(a.Done, err)
	}
}

func (a *BigActor) ping(send func(int, BigMsg) error) error {
	return send(BigTarget(a.rng, a.I, a.p.BigActors), BigMsg{Ping: true, From: a.I})
}

// Mall pairs the creatures that come to it until no meetings are left, then
// sends each one home.
type Mall struct {
	left, waiting int
	color         Color
	Done          chan<- error
}

// NewMall returns a mall for p.Meetings meetings.
func NewMall(p Params, done chan<- error) *Mall {
	return &Mall{left: p.Meetings, waiting: -1, Done: done}
}

// Receive handles a creature's request; send delivers to creature to.
func (a *Mall) Receive(msg ChamMsg, send func(to int, msg ChamMsg) error) {
	var err error
	switch {
	case a.left == 0:
		err = send(msg.From, ChamMsg{Kind: ChamExit})
	case a.waiting < 0:
		a.waiting, a.color = msg.From, msg.Color
	default:
		a.left--
		first := a.waiting
		a.waiting = -1
		err = send(first, ChamMsg{Kind: ChamMatched, Color: msg.Color, From: msg.From})
	}
	if err != nil {
		report(a.Done, err)
	}
}

// ToMall is the address of the mall in a creature's sends.
const ToMall = -1

// Creature goes to the mall, changes colour at each meeting and goes back;
// sent home, it reports what it saw on Done.
type Creature struct {
	I     int
	color Color
	seen  CreatureReport
	Done  chan<- CreatureReport
}

// NewCreature returns creature i.
func NewCreature(i int, done chan<- CreatureReport) *Creature {
	return &Creature{I: i, color: Color(i % 3), Done: done}
}

// Receive handles a start, a meeting or going home; send delivers to
// creature to, or to the mall when to is ToMall.
func (a *Creature) Receive(msg ChamMsg, send func(to int, msg ChamMsg) error) {
	switch msg.Kind {
	case ChamExit:
		a.Done <- a.seen
		return
	case ChamMatched, ChamChange:
		a.seen.Meetings++
		if msg.From == a.I {
			a.seen.Self++
		}
		if msg.Kind == ChamMatched {
			if err := send(msg.From, ChamMsg{Kind: ChamChange, Color: a.color, From: a.I}); err != nil {
				a.seen.Err = err
			}
		}
		a.color = Complement(a.color, msg.Color)
	}
	if err := send(ToMall, ChamMsg{Kind: ChamMeet, Color: a.color, From: a.I}); err != nil {
		a.seen.Err = err
		report(a.Done, a.seen)
	}
}

// report sends a failure without waiting: the first one ends the case, and
// an actor must not block on a full channel after it.
func report[T any](done chan<- T, v T) {
	select {
	case done <- v:
	default:
	}
}

// Teller sends every transfer at once and reports on Done when all are done.
type Teller struct {
	transfers []Transfer
	finished  int
	Done      chan<- error
}

// NewTeller returns the bank's teller.
func NewTeller(p Params, done chan<- error) *Teller {
	return &Teller{transfers: Transfers(p), Done: done}
}

// Receive handles the start or a transfer's end; send delivers to account to.
func (a *Teller) Receive(msg BankMsg, send func(to int, msg BankMsg) error) {
	if msg.Kind != BankStart {
		if a.finished++; a.finished == len(a.transfers) {
			a.Done <- nil
		}
		return
	}
	for _, t := range a.transfers {
		if err := send(t.From, BankMsg{Kind: BankDebit, Amount: t.Amount, To: t.To}); err != nil {
			report(a.Done, err)
			return
		}
	}
}

// ToTeller is the address of the teller in an account's sends.
const ToTeller = -1

// Account debits and passes the credit on, or credits and tells the teller.
type Account struct {
	Balance int
	Done    chan<- error // a failed send
}

// NewAccount returns an account holding InitialBalance.
func NewAccount(done chan<- error) *Account { return &Account{Balance: InitialBalance, Done: done} }

// Receive handles a debit, a credit or a balance query (which changes
// nothing: the system answers it with Balance); send delivers to account to,
// or to the teller when to is ToTeller.
func (a *Account) Receive(msg BankMsg, send func(to int, msg BankMsg) error) {
	var err error
	switch msg.Kind {
	case BankDebit:
		a.Balance -= msg.Amount
		err = send(msg.To, BankMsg{Kind: BankCredit, Amount: msg.Amount})
	case BankCredit:
		a.Balance += msg.Amount
		err = send(ToTeller, BankMsg{Kind: BankDone})
	}
	if err != nil {
		report(a.Done, err)
	}
}

// Route is the address of to among peers, or other when to is negative
// (ToMall, ToTeller).
func Route[P any](to int, peers []P, other P) P {
	if to < 0 {
		return other
	}
	return peers[to]
}
