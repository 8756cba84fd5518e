package actorsuite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Await waits for n values on ch, or fails once p.Timeout passed: a lost
// message fails the check instead of hanging the suite.
func Await[T any](p Params, ch <-chan T, n int, what string) ([]T, error) {
	out := make([]T, 0, n)
	timeout := time.NewTimer(p.Timeout)
	defer timeout.Stop()
	for len(out) < n {
		select {
		case v := <-ch:
			out = append(out, v)
		case <-timeout.C:
			return out, fmt.Errorf("%s: %d of %d arrived within %v", what, len(out), n, p.Timeout)
		}
	}
	return out, nil
}

// FirstErr joins what actors reported and the wait's error.
func FirstErr(errs []error, wait error) error {
	return errors.Join(errors.Join(errs...), wait)
}

// Equal fails when got differs from want.
func Equal[T comparable](what string, got, want T) error {
	if got != want {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

// CheckAsk checks the reply to ask's round trip i, which sent i: the actor
// answers i+1.
func CheckAsk(i, got int) error {
	if got != i+1 {
		return fmt.Errorf("ask: round trip %d sent %d and got %d, want %d", i, i, got, i+1)
	}
	return nil
}

// CheckAskAny is CheckAsk for a system whose replies are untyped: got must
// hold an int. It takes the interface the system returned, so the check
// allocates nothing.
func CheckAskAny(i int, got any) error {
	n, ok := got.(int)
	if !ok {
		return fmt.Errorf("ask: round trip %d sent %d and got %v (%T), want the int %d", i, i, got, got, i+1)
	}
	return CheckAsk(i, n)
}

// RingWant is how many messages actor i of a ring of k receives when a token
// of value hops starts at actor 0 and each actor passes value-1 on until 0:
// the hops j in [0, hops] with j%k == i.
func RingWant(i, k, hops int) int {
	if i > hops {
		return 0
	}
	return (hops-i)/k + 1
}

// CheckRing checks every ring member's count of received messages.
func CheckRing(recvd []int, hops int) error {
	for i, n := range recvd {
		if want := RingWant(i, len(recvd), hops); n != want {
			return fmt.Errorf("ring actor %d of %d received %d messages, want %d", i, len(recvd), n, want)
		}
	}
	return nil
}

// CheckForkJoin checks one forkjoin-throughput actor: it got the values 0 to
// msgs-1 once each, so their count and sum.
func CheckForkJoin(i, count, sum, msgs int) error {
	if count != msgs || sum != msgs*(msgs-1)/2 {
		return fmt.Errorf("forkjoin actor %d counted %d messages summing to %d, want %d summing to %d",
			i, count, sum, msgs, msgs*(msgs-1)/2)
	}
	return nil
}

// CheckForkJoinAfter checks the count a forkjoin-throughput actor answers
// once every actor reported, after the measured part: an actor reports
// when its count reaches msgs, so a message delivered twice after that
// passes CheckForkJoin.
func CheckForkJoinAfter(i int, count any, msgs int) error {
	return Equal(fmt.Sprintf("forkjoin actor %d: messages counted once all reported", i), count, any(msgs))
}

// CheckCreation checks the ids that forkjoin-creation's actors reported:
// each of 0 to n-1 once.
func CheckCreation(ids []int, n int) error {
	seen := make([]bool, n)
	for _, id := range ids {
		if id < 0 || id >= n || seen[id] {
			return fmt.Errorf("forkjoin-creation: actor id %d reported twice or out of range [0, %d)", id, n)
		}
		seen[id] = true
	}
	return Equal("forkjoin-creation: actors that reported", len(ids), n)
}

// BigRand is the sequence of ping targets of big's actor i.
func BigRand(p Params, i int) *rand.Rand {
	return rand.New(rand.NewPCG(p.Seed, uint64(i)))
}

// BigTarget is the next target of the actor self: any other actor, uniformly.
func BigTarget(r *rand.Rand, self, actors int) int {
	t := r.IntN(actors - 1)
	if t >= self {
		t++
	}
	return t
}

// BigWant is how many pings each of big's actors receives: the actors' target
// sequences are fixed by the seed, whatever the order of delivery.
func BigWant(p Params) []int {
	want := make([]int, p.BigActors)
	for i := range p.BigActors {
		r := BigRand(p, i)
		for range p.BigPings {
			want[BigTarget(r, i, p.BigActors)]++
		}
	}
	return want
}

// CheckBig checks the pings each big actor received and the pongs each got,
// as counts(i) gives them.
func CheckBig(p Params, counts func(i int) (pings, pongs int)) error {
	for i, want := range BigWant(p) {
		if pings, pongs := counts(i); pings != want || pongs != p.BigPings {
			return fmt.Errorf("big actor %d received %d pings and %d pongs, want %d and %d", i, pings, pongs, want, p.BigPings)
		}
	}
	return nil
}

// Color is a chameneos creature's colour: 0, 1 or 2.
type Color uint8

// Complement is the colour a creature of colour a takes after meeting one of
// colour b.
func Complement(a, b Color) Color {
	if a == b {
		return a
	}
	return 3 - a - b
}

// CreatureReport is what a chameneos creature reports when the mall sends
// it home.
type CreatureReport struct {
	Meetings, Self int // meetings, and those with itself (must be none)
}

// CheckChameneos checks that the creatures met p.Meetings times in pairs and
// never met themselves.
func CheckChameneos(p Params, cs []CreatureReport) error {
	total := 0
	for i, c := range cs {
		if c.Self != 0 {
			return fmt.Errorf("chameneos: creature %d met itself %d times", i, c.Self)
		}
		total += c.Meetings
	}
	return Equal("chameneos: meetings counted by the creatures", total, 2*p.Meetings)
}

// Transfer is one bank transaction: Amount moves From one account To another.
type Transfer struct{ From, To, Amount int }

// InitialBalance is every account's balance before the transactions.
const InitialBalance = 1_000_000

// Transfers is the bank's seeded list of transactions.
func Transfers(p Params) []Transfer {
	r := rand.New(rand.NewPCG(p.Seed, 0xba2c))
	ts := make([]Transfer, p.Transactions)
	for i := range ts {
		from := r.IntN(p.Accounts)
		to := BigTarget(r, from, p.Accounts)
		ts[i] = Transfer{From: from, To: to, Amount: 1 + r.IntN(1000)}
	}
	return ts
}

// CheckBank checks every final balance against the transactions, whatever
// their order, and the total against the initial one.
func CheckBank(p Params, balances []int) error {
	want := make([]int, p.Accounts)
	for i := range want {
		want[i] = InitialBalance
	}
	for _, t := range Transfers(p) {
		want[t.From] -= t.Amount
		want[t.To] += t.Amount
	}
	total := 0
	for i, b := range balances {
		if b != want[i] {
			return fmt.Errorf("bank: account %d holds %d, want %d", i, b, want[i])
		}
		total += b
	}
	return Equal("bank: total balance", total, p.Accounts*InitialBalance)
}
