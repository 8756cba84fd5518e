package actorsuite

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRingWant(t *testing.T) {
	// A token of 5 around 2 actors: hops 0, 2, 4 reach actor 0; 1, 3, 5 actor 1.
	if err := CheckRingAfter([]int{3, 3}, 5); err != nil {
		t.Fatal(err)
	}
	if err := CheckRingAfter([]any{3, 3}, 5); err != nil {
		t.Fatal(err)
	}
	if err := CheckRingAfter([]int{3, 2}, 5); err == nil {
		t.Fatal("a lost message passed the ring's check")
	}
	if err := CheckRingAfter([]int{3, 4}, 5); err == nil || !strings.Contains(err.Error(), "ring actor 1 of 2: messages received, asked once the token returned: got 4, want 3") {
		t.Fatalf("a message delivered twice: %v", err)
	}
	if err := CheckRingAfter([]any{3, int64(3)}, 5); err == nil || !strings.Contains(err.Error(), "got 3 (int64), want the int 3") {
		t.Fatalf("an answer not an int: %v", err)
	}
	// Fewer hops than actors: the last ones get nothing.
	if got := []int{RingWant(0, 5, 2), RingWant(2, 5, 2), RingWant(3, 5, 2)}; got[0] != 1 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("RingWant: %v", got)
	}
}

func TestChecks(t *testing.T) {
	p := Tiny()
	for _, c := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"forkjoin right", CheckForkJoin(0, 4, 6, 4), true},
		{"forkjoin a value twice", CheckForkJoin(0, 4, 7, 4), false},
		{"creation right", CheckCreation([]int{2, 0, 1}, 3), true},
		{"creation an id twice", CheckCreation([]int{2, 2, 1}, 3), false},
		{"creation one missing", CheckCreation([]int{0, 1}, 3), false},
		{"creation after right", CheckCreationAfter([]int{1, 1, 1}), true},
		{"creation after untyped right", CheckCreationAfter([]any{1, 1}), true},
		{"creation after one twice", CheckCreationAfter([]int{1, 2, 1}), false},
		{"creation after untyped not an int", CheckCreationAfter([]any{1, nil}), false},
		{"chameneos right", CheckChameneos(Params{Meetings: 3}, []CreatureReport{{Meetings: 4}, {Meetings: 2}}), true},
		{"chameneos a meeting lost", CheckChameneos(Params{Meetings: 3}, []CreatureReport{{Meetings: 4}, {Meetings: 1}}), false},
		{"chameneos met itself", CheckChameneos(Params{Meetings: 1}, []CreatureReport{{Meetings: 2, Self: 1}}), false},
		// 3 meetings among 2 creatures: each got a start, 3 meetings and
		// an exit; the mall 2 starts' meets and 6 meetings' meets.
		{"chameneos after right", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []int{5, 5}, 8), true},
		{"chameneos after untyped right", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []any{6, 4}, any(8)), true},
		{"chameneos after a creature's message twice", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []int{5, 6}, 8), false},
		{"chameneos after a meet twice", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []int{5, 5}, 9), false},
		{"chameneos after a creature missing", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []int{10}, 8), false},
		{"chameneos after no start or exit", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []int{9, 1}, 8), false},
		{"chameneos after not an int", CheckChameneosAfter(Params{Creatures: 2, Meetings: 3}, []any{5, int64(5)}, any(8)), false},
		{"bank after right", CheckBankAfter(Params{Transactions: 100}, 100), true},
		{"bank after an end twice", CheckBankAfter(Params{Transactions: 100}, 101), false},
		{"bank after not an int", CheckBankAfter(Params{Transactions: 100}, "100"), false},
		{"ask right", CheckAsk(7, 8), true},
		{"ask wrong", CheckAsk(7, 7), false},
		{"ask untyped right", CheckAskAny(300, any(301)), true},
		{"ask untyped wrong", CheckAskAny(300, any(300)), false},
		{"ask untyped not an int", CheckAskAny(0, any(int64(1))), false},
		{"ask untyped missing", CheckAskAny(0, nil), false},
		{"equal", Equal("x", 1, 1), true},
		{"not equal", Equal("x", 1, 2), false},
	} {
		if (c.err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	want := BigWant(p)
	total := 0
	for _, n := range want {
		total += n
	}
	if total != p.BigActors*p.BigPings {
		t.Fatalf("big: %d pings expected in all, want %d", total, p.BigActors*p.BigPings)
	}
	counts := make([]BigCount, p.BigActors)
	untyped := make([]any, p.BigActors)
	for i := range counts {
		counts[i] = BigCount{Pings: want[i], Pongs: p.BigPings}
		untyped[i] = counts[i]
	}
	if err := CheckBigAfter(p, counts); err != nil {
		t.Fatal(err)
	}
	if err := CheckBigAfter(p, untyped); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		counts []any
		want   string
	}{
		{"a ping twice", append([]any{BigCount{want[0] + 1, p.BigPings}}, untyped[1:]...), "big actor 0"},
		{"a pong twice", append(untyped[:len(untyped)-1:len(untyped)-1], BigCount{want[p.BigActors-1], p.BigPings + 1}), "big actor 5"},
		{"not a BigCount", append([]any{[2]int{want[0], p.BigPings}}, untyped[1:]...), "[2]int"},
		{"an actor missing", untyped[1:], "actors that answered: got 5, want 6"},
	} {
		if err := CheckBigAfter(p, c.counts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

func TestBank(t *testing.T) {
	p := Tiny()
	balances := make([]int, p.Accounts)
	for i := range balances {
		balances[i] = InitialBalance
	}
	for _, tr := range Transfers(p) {
		if tr.From == tr.To || tr.Amount < 1 {
			t.Fatalf("transfer %+v", tr)
		}
		balances[tr.From] -= tr.Amount
		balances[tr.To] += tr.Amount
	}
	if err := CheckBank(p, balances); err != nil {
		t.Fatal(err)
	}
	balances[0]++
	balances[1]-- // the total holds, one account does not
	if err := CheckBank(p, balances); err == nil || !strings.Contains(err.Error(), "account 0") {
		t.Fatalf("CheckBank = %v, want account 0 reported", err)
	}
}

func TestComplement(t *testing.T) {
	for a := range Color(3) {
		for b := range Color(3) {
			c := Complement(a, b)
			if a == b && c != a || a != b && (c == a || c == b) {
				t.Errorf("Complement(%d, %d) = %d", a, b, c)
			}
		}
	}
}

func TestAwaitTimesOut(t *testing.T) {
	p := Tiny()
	p.Timeout = time.Millisecond
	ch := make(chan int, 1)
	ch <- 7
	got, err := Await(p, ch, 2, "replies")
	if err == nil || len(got) != 1 || !strings.Contains(err.Error(), "replies: 1 of 2") {
		t.Fatalf("Await = %v, %v", got, err)
	}
}

func TestRunFailures(t *testing.T) {
	p := Tiny()
	p.Case = Counting
	for _, c := range []struct {
		name string
		sys  System
		want string
	}{
		{"missing case", System{}, "implements no case"},
		{"check failed", System{Counting: func(_ Params, m *Meter) (int, error) { m.Start(); m.Stop(); return 1, errors.New("off by one") }}, "off by one"},
		{"never measured", System{Counting: func(Params, *Meter) (int, error) { return 1, nil }}, "never started"},
		{"panic", System{Counting: func(Params, *Meter) (int, error) { panic("boom") }}, "panic: boom"},
	} {
		if r := Run("x", c.sys, p, ""); !strings.Contains(r.Failure, c.want) || r.Rate() != 0 {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	ok := System{Counting: func(_ Params, m *Meter) (int, error) {
		m.Reserve(3)
		m.Start()
		for _, d := range []time.Duration{3, 1, 2} {
			m.Record(d)
		}
		m.Stop()
		return 10, nil
	}}
	r := Run("x", ok, p, t.TempDir()+"/cpu.pprof")
	if r.Failure != "" || r.Ops != 10 || r.P50Ns != 2 || r.WallNs <= 0 {
		t.Fatalf("%+v", r)
	}
}

func TestValidate(t *testing.T) {
	// Each error names what the user gave: the flag, or the unknown case.
	for _, c := range []struct {
		mod  func(*Params)
		name string
	}{
		{func(p *Params) { p.Case = "nope" }, `"nope"`},
		{func(p *Params) { p.Rounds = 0 }, "-rounds"},
		{func(p *Params) { p.Asks = 0 }, "-asks"},
		{func(p *Params) { p.Asks = maxHeld + 1 }, "-asks"},
		{func(p *Params) { p.Transactions = -1 }, "-transactions"},
		{func(p *Params) { p.BigActors = 1 }, "-big-actors"},
		{func(p *Params) { p.Creatures = 1 }, "-creatures"},
		{func(p *Params) { p.Accounts = 1 }, "-accounts"},
		{func(p *Params) { p.Timeout = 0 }, "-actor-timeout"},
		{func(p *Params) { p.Timeout = 1_000_000 * time.Hour }, "-actor-timeout"}, // the parent's limit, 3x, overflowed
		{func(p *Params) { p.Count = maxHeld + 1 }, "-count"},
		{func(p *Params) { p.FJActors, p.FJMessages = 1000, 1_000_000 }, "-fj-messages"},
	} {
		p := Tiny()
		c.mod(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%+v: %v, want an error naming %s", p, err, c.name)
		}
	}
	for _, quick := range []bool{false, true} {
		if err := Defaults(quick).Validate(); err != nil {
			t.Error(err)
		}
	}
}

// TestP50: a case's p50 is the nearest-rank median of its samples, the
// ceil(n/2)-th of n: of an even count the lower middle one, never the
// maximum of two.
func TestP50(t *testing.T) {
	p := Tiny()
	p.Case = PingPongOneCore
	for _, c := range []struct {
		samples []time.Duration
		want    int64
	}{
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1}, 1},
		{[]time.Duration{3, 1, 2}, 2},
		{[]time.Duration{4, 1, 3, 2}, 2},
		{[]time.Duration{6, 5, 4, 3, 2, 1}, 3},
	} {
		sys := System{PingPongOneCore: func(_ Params, m *Meter) (int, error) {
			m.Reserve(len(c.samples))
			m.Start()
			for _, d := range c.samples {
				m.Record(d)
			}
			m.Stop()
			return 1, nil
		}}
		if r := Run("x", sys, p, ""); r.Failure != "" || r.P50Ns != c.want {
			t.Errorf("p50 of %v: %d (%s), want %d", c.samples, r.P50Ns, r.Failure, c.want)
		}
	}
}

// TestPingPongGOMAXPROCS: each ping-pong case runs every system on the
// CPUs its name says, whatever the child's GOMAXPROCS: one for one-core,
// two for cross-core. Cross-core once kept the machine's GOMAXPROCS, so on
// a machine of more than two CPUs hollywood and protoactor had all of
// them while coregate ran on two executors.
func TestPingPongGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for c, want := range map[string]int{PingPongOneCore: 1, PingPongCrossCore: 2} {
		p := Tiny()
		p.Case = c
		got := 0
		sys := System{c: func(_ Params, m *Meter) (int, error) {
			got = runtime.GOMAXPROCS(0)
			m.Start()
			m.Stop()
			return 1, nil
		}}
		if r := Run("x", sys, p, ""); r.Failure != "" || got != want {
			t.Errorf("%s ran with GOMAXPROCS %d (%s), want %d", c, got, r.Failure, want)
		}
		if n := runtime.GOMAXPROCS(0); n != 4 {
			t.Errorf("after %s, GOMAXPROCS %d, want 4 back", c, n)
		}
	}
}
