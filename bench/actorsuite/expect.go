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

// CheckRingAfter checks the count of messages each ring member answers
// once the token returned, after the measured part: recvd[i] is member i's
// answer, as its system returned it.
func CheckRingAfter[T any](recvd []T, hops int) error {
	for i, n := range recvd {
		if err := equalInt(fmt.Sprintf("ring actor %d of %d: messages received, asked once the token returned", i, len(recvd)), n, RingWant(i, len(recvd), hops)); err != nil {
			return err
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

// CheckForkJoinAfter checks the counts the forkjoin-throughput actors
// answer once every actor reported, after the measured part: an actor
// reports when its count reaches msgs, so a message delivered twice after
// that passes CheckForkJoin.
func CheckForkJoinAfter[T any](counts []T, msgs int) error {
	for i, count := range counts {
		if err := Equal(fmt.Sprintf("forkjoin actor %d: messages counted once all reported", i), any(count), any(msgs)); err != nil {
			return err
		}
	}
	return nil
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

// CheckCreationAfter checks the count of messages each forkjoin-creation
// actor answers once every actor reported, after the measured part: its
// one message, so one delivered twice after its actor reported fails.
func CheckCreationAfter[T any](recvd []T) error {
	for i, n := range recvd {
		if err := equalInt(fmt.Sprintf("forkjoin-creation actor %d: messages received, asked once all reported", i), n, 1); err != nil {
			return err
		}
	}
	return nil
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

// BigCount is what a big actor answers when asked after the measured part:
// the pings and the pongs it received.
type BigCount struct{ Pings, Pongs int }

// CheckBigAfter checks the counts each big actor answers once every actor
// reported, after the measured part: counts[i] is actor i's answer, as its
// system returned it. An actor reports at its last pong, so a ping or pong
// delivered twice after that fails here.
func CheckBigAfter[T any](p Params, counts []T) error {
	if err := Equal("big: actors that answered", len(counts), p.BigActors); err != nil {
		return err
	}
	want := BigWant(p)
	for i, v := range counts {
		c, ok := any(v).(BigCount)
		if !ok || c.Pings != want[i] || c.Pongs != p.BigPings {
			return fmt.Errorf("big actor %d: received %+v (%T), asked once all reported, want %+v", i, v, v, BigCount{want[i], p.BigPings})
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

// CheckChameneosAfter checks the counts of messages the creatures and the
// mall answer once every creature was sent home, after the measured part:
// a creature gets its start, one message a meeting and its exit; the mall
// a meet after each start and after each creature's meeting. The creatures
// report at their exit, so a message delivered twice after that fails here.
func CheckChameneosAfter[T any](p Params, creatures []T, mall T) error {
	if err := Equal("chameneos: creatures that answered", len(creatures), p.Creatures); err != nil {
		return err
	}
	total := 0
	for i, v := range creatures {
		n, ok := any(v).(int)
		if !ok || n < 2 {
			return fmt.Errorf("chameneos: creature %d received %v (%T) messages, asked once all were sent home; want an int of at least 2 (its start and exit)", i, v, v)
		}
		total += n
	}
	if err := Equal("chameneos: messages the creatures received, asked once all were sent home", total, 2*(p.Creatures+p.Meetings)); err != nil {
		return err
	}
	return equalInt("chameneos: meets the mall received, asked once all creatures were sent home", mall, p.Creatures+2*p.Meetings)
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

// CheckBankAfter checks the count of ended transfers the teller answers
// once it reported, after the measured part: it reports when the count
// reaches p.Transactions, so an end delivered twice after that fails here.
func CheckBankAfter(p Params, teller any) error {
	return equalInt("bank: transfers the teller saw end, asked once it reported", teller, p.Transactions)
}

// equalInt fails unless got, an answer as its system returned it, is the
// int want.
func equalInt(what string, got any, want int) error {
	if _, ok := got.(int); !ok {
		return fmt.Errorf("%s: got %v (%T), want the int %d", what, got, got, want)
	}
	return Equal(what, got, any(want))
}
